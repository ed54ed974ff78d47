package localdev

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/jingtong/backend/shared/obs"
)

// BenchmarkAPIPageCached measures a cached page read through localdev's
// public /api route in process: routing, prefix stripping, request ids,
// metrics and the zones cache hit, without the network.
func BenchmarkAPIPageCached(b *testing.B) {
	srv := newTestServer(b)
	h := srv.Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/zones/zones/life-marriage/page?channel=wechat", nil)

	warm := httptest.NewRecorder()
	h.ServeHTTP(warm, req)
	if warm.Code != http.StatusOK {
		b.Fatalf("warm-up status = %d, want 200", warm.Code)
	}

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine has its own request, because the gateway deletes
		// credential headers from the request it serves.
		req := req.Clone(context.Background())
		w := &discardWriter{header: http.Header{}}
		for pb.Next() {
			clear(w.header)
			w.status = 0
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Errorf("status = %d, want 200", w.status)
				return
			}
		}
	})
}

// BenchmarkAPIPageTracedUnsampled is BenchmarkAPIPageCached with tracing on
// and every new trace unsampled (OTEL_TRACES_SAMPLER=always_off): each
// request gets trace and span ids, which the gateway forwards and the logs
// would carry, but no span is recorded or exported.
func BenchmarkAPIPageTracedUnsampled(b *testing.B) {
	tracing := obs.TracingConfig{Exporters: []string{obs.ExporterConsole}, Console: io.Discard, Sampler: sdktrace.NeverSample()}
	benchmarkPage(b, tracing, "")
}

// BenchmarkAPIPageTraceparentUntraced is BenchmarkAPIPageCached with a
// client that sends traceparent to localdev without an exporter: the trace
// context only passes through the gateway to the function.
func BenchmarkAPIPageTraceparentUntraced(b *testing.B) {
	benchmarkPage(b, obs.TracingConfig{}, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
}

// benchmarkPage runs BenchmarkAPIPageCached's loop on a server with
// tracing, sending traceparent when it is not empty.
func benchmarkPage(b *testing.B, tracing obs.TracingConfig, traceparent string) {
	cfg := Config{Addr: "127.0.0.1:0", DataDir: b.TempDir(), DrainTimeout: DefaultDrainTimeout, Tracing: tracing}
	srv, err := New(context.Background(), cfg, func(string) (string, bool) { return "", false }, discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	h := srv.Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/zones/zones/life-marriage/page?channel=wechat", nil)
	if traceparent != "" {
		req.Header.Set("Traceparent", traceparent)
	}

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine has its own request, because the gateway deletes
		// credential headers from the request it serves.
		req := req.Clone(context.Background())
		w := &discardWriter{header: http.Header{}}
		for pb.Next() {
			clear(w.header)
			w.status = 0
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Errorf("status = %d, want 200", w.status)
				return
			}
		}
	})
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body, so the benchmark measures the server side, not a recorder's copy.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.header }

func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
	}
}

func (d *discardWriter) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}

// BenchmarkAPIPageLimited is BenchmarkAPIPageCached with the gateway's
// per-IP, per-route and per-zone limits on, raised so the loop is never
// throttled, as `make bench` runs it.
func BenchmarkAPIPageLimited(b *testing.B) {
	routes := filepath.Join(b.TempDir(), "routes.json")
	if err := os.WriteFile(routes, raisedRouteTable(b), 0o600); err != nil {
		b.Fatal(err)
	}
	env := map[string]string{
		"JT_GATEWAY_RATE_LIMITS": "true",
		"JT_GATEWAY_ROUTES":      routes,
		"JT_GATEWAY_IP_RATE":     "10000000/1s burst 10000000",
	}
	dataDir := b.TempDir()
	cfg := Config{Addr: "127.0.0.1:0", DataDir: dataDir, DrainTimeout: DefaultDrainTimeout,
		OperatorTokenFile: filepath.Join(dataDir, OperatorTokenFile)}
	srv, err := New(context.Background(), cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)

	h := srv.Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/zones/zones/life-marriage/page?channel=wechat", nil)
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.header)
		w.status = 0
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status = %d, want 200", w.status)
		}
	}
}

// raisedRouteTable returns the default route table with every route limit
// raised to ten million requests a second.
func raisedRouteTable(tb testing.TB) []byte {
	tb.Helper()
	data, err := os.ReadFile("../functions/gateway/route/default.json")
	if err != nil {
		tb.Fatal(err)
	}
	var table map[string]any
	if err := json.Unmarshal(data, &table); err != nil {
		tb.Fatal(err)
	}
	for _, r := range table["routes"].([]any) {
		limits, _ := r.(map[string]any)["rate_limits"].([]any)
		for _, l := range limits {
			l.(map[string]any)["rate"] = 10_000_000
			l.(map[string]any)["burst"] = 10_000_000
		}
	}
	out, err := json.Marshal(table)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestIsEdgePath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/api/zones/zones/life-marriage/page", true},
		{"/api/", true},
		{"/api/zones/healthz", false},
		{"/api/zones/readyz", false},
		{"/api/zones/zones/healthz", true},
		{"/api//zones", true},
		{"/api/zones/../function/zones/x", true},
		{"/function/zones/zones", false},
		{"/apix/zones", false},
		{"/api", false},
	}
	for _, tt := range tests {
		if got := isEdgePath(tt.path); got != tt.want {
			t.Errorf("isEdgePath(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestDotSegmentsGetJSONError(t *testing.T) {
	srv := newTestServer(t)
	for _, raw := range []string{
		"/api/../function/zones/admin/zones",
		"/api//zones/zones",
		"/function/zones%2f..%2fgateway/keys",
		"/function/%2e%2e/system/functions",
		"/function/zones/./zones",
	} {
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+raw, nil)
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"ROUTE_INVALID_PATH"`) {
			t.Errorf("GET %s = %d %s, want 400 ROUTE_INVALID_PATH", raw, w.Code, w.Body)
		}
	}
}

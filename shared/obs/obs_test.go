package obs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/obs"
)

const panicText = "nil map write in secret ledger"

// newFunction returns a function named demo with routes that succeed, fail
// and panic, and the given readiness check.
func newFunction(ready func(context.Context) error) *fn.Function {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /silent", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, nil, errors.New("database is down"))
	})
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) {
		panic(panicText)
	})
	mux.HandleFunc("/any", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	return &fn.Function{Name: "demo", Handler: mux, Ready: ready}
}

func TestHealthz_ok(t *testing.T) {
	t.Parallel()

	rec := serve(t, obs.Handler(newFunction(nil), nil), http.MethodGet, "/healthz")

	if rec.Code != http.StatusOK {
		t.Errorf("status = %d, want %d", rec.Code, http.StatusOK)
	}
	if got, want := rec.Body.String(), `{"status":"ok"}`+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

func TestReadyz_readiness(t *testing.T) {
	t.Parallel()

	const secret = "dial tcp 10.1.2.3:5432: connection refused"
	tests := []struct {
		name       string
		ready      func(context.Context) error
		wantStatus int
	}{
		{name: "nil check is ready", ready: nil, wantStatus: http.StatusOK},
		{name: "passing check is ready", ready: func(context.Context) error { return nil }, wantStatus: http.StatusOK},
		{name: "failing check gives 503", ready: func(context.Context) error { return errors.New(secret) }, wantStatus: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := serve(t, obs.Handler(newFunction(tt.ready), nil), http.MethodGet, "/readyz?lang=en")

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			body := rec.Body.String()
			if tt.wantStatus == http.StatusOK {
				if want := `{"status":"ready"}` + "\n"; body != want {
					t.Errorf("body = %q, want %q", body, want)
				}
				return
			}
			for _, leak := range []string{"10.1.2.3", "connection refused", "dial tcp"} {
				if strings.Contains(body, leak) {
					t.Errorf("body %q contains the readiness error text %q", body, leak)
				}
			}
			if code := errorCode(t, rec); code != "NOT_READY" {
				t.Errorf("code = %q, want NOT_READY", code)
			}
		})
	}
}

func TestReadyz_timeout(t *testing.T) {
	t.Parallel()

	synctest.Test(t, func(t *testing.T) {
		var waited time.Duration
		f := newFunction(func(ctx context.Context) error {
			start := time.Now()
			<-ctx.Done()
			waited = time.Since(start)
			return ctx.Err()
		})

		rec := serve(t, obs.Readyz(f), http.MethodGet, "/readyz")

		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("status = %d, want %d", rec.Code, http.StatusServiceUnavailable)
		}
		if waited != 2*time.Second {
			t.Errorf("check cancelled after %v, want 2s", waited)
		}
	})
}

func TestHandler_requestIDHeader(t *testing.T) {
	t.Parallel()

	h := obs.Handler(newFunction(nil), nil)
	tests := []struct {
		name     string
		path     string
		incoming string
	}{
		{name: "successful route", path: "/ok"},
		{name: "failing route", path: "/fail"},
		{name: "panicking route", path: "/panic"},
		{name: "unknown route", path: "/nowhere"},
		{name: "incoming id kept", path: "/ok", incoming: "gw-req-7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.incoming != "" {
				r.Header.Set(httpx.RequestIDHeader, tt.incoming)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			got := rec.Header().Get(httpx.RequestIDHeader)
			if got == "" {
				t.Fatalf("X-Request-Id missing on %s response", tt.path)
			}
			if tt.incoming != "" && got != tt.incoming {
				t.Errorf("X-Request-Id = %q, want %q", got, tt.incoming)
			}
		})
	}
}

func TestHandler_panicGives500(t *testing.T) {
	t.Parallel()

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	rec := serve(t, obs.Handler(newFunction(nil), logger), http.MethodGet, "/panic")

	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want %d", rec.Code, http.StatusInternalServerError)
	}
	if strings.Contains(rec.Body.String(), "secret ledger") {
		t.Errorf("body %q contains the panic text", rec.Body.String())
	}
	if code := errorCode(t, rec); code != "INTERNAL" {
		t.Errorf("code = %q, want INTERNAL", code)
	}
	if !strings.Contains(rec.Body.String(), rec.Header().Get(httpx.RequestIDHeader)) {
		t.Errorf("body %q, want the request id %q", rec.Body.String(), rec.Header().Get(httpx.RequestIDHeader))
	}
	if !strings.Contains(logs.String(), "secret ledger") {
		t.Errorf("log = %q, want the panic value", logs.String())
	}
	if !strings.Contains(logs.String(), `"function":"demo"`) {
		t.Errorf("log = %q, want the function name", logs.String())
	}
}

func TestHandler_metrics(t *testing.T) {
	t.Parallel()

	metrics := obs.NewMetrics()
	h := obs.HandlerWith(newFunction(nil), nil, obs.Options{Metrics: metrics, Endpoints: true})
	for _, req := range []struct{ method, path string }{
		{http.MethodGet, "/ok"},
		{http.MethodGet, "/ok"},
		{http.MethodGet, "/silent"},
		{http.MethodGet, "/fail"},
		{http.MethodGet, "/panic"},
		{http.MethodPost, "/ok"},
		{"BREW", "/any"},
	} {
		serve(t, h, req.method, req.path)
	}
	families := scrape(t, h)

	tests := []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{name: "GET 200 requests", metric: "jt_http_requests_total", labels: map[string]string{"function": "demo", "method": "GET", "code": "200"}, want: 3},
		{name: "GET 500 requests", metric: "jt_http_requests_total", labels: map[string]string{"function": "demo", "method": "GET", "code": "500"}, want: 2},
		{name: "POST 405 requests", metric: "jt_http_requests_total", labels: map[string]string{"function": "demo", "method": "POST", "code": "405"}, want: 1},
		{name: "unknown method as OTHER", metric: "jt_http_requests_total", labels: map[string]string{"function": "demo", "method": "OTHER", "code": "204"}, want: 1},
		{name: "5xx error counter", metric: "jt_http_request_errors_total", labels: map[string]string{"function": "demo"}, want: 2},
		{name: "GET duration observations", metric: "jt_http_request_duration_seconds", labels: map[string]string{"function": "demo", "method": "GET"}, want: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := metricValue(t, families, tt.metric, tt.labels); got != tt.want {
				t.Errorf("%s %v = %v, want %v", tt.metric, tt.labels, got, tt.want)
			}
		})
	}
	if _, ok := families["go_goroutines"]; !ok {
		t.Errorf("metrics lack go_goroutines, want the Go runtime collector")
	}
}

func TestHandlerWith_withoutEndpoints(t *testing.T) {
	t.Parallel()

	h := obs.HandlerWith(newFunction(nil), nil, obs.Options{Endpoints: false})
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		rec := serve(t, h, http.MethodGet, path)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s status = %d, want %d from the function's own mux", path, rec.Code, http.StatusNotFound)
		}
	}
	if rec := serve(t, h, http.MethodGet, "/ok"); rec.Header().Get(httpx.RequestIDHeader) == "" {
		t.Errorf("X-Request-Id missing, want it without endpoints too")
	}
}

func TestHandler_accessLog(t *testing.T) {
	t.Parallel()

	var logs bytes.Buffer
	logger := obs.NewLogger(&logs, slog.LevelDebug)
	r := httptest.NewRequest(http.MethodGet, "/ok", nil)
	r.Header.Set(httpx.RequestIDHeader, "req-log-1")
	obs.Handler(newFunction(nil), logger).ServeHTTP(httptest.NewRecorder(), r)

	var record map[string]any
	if err := json.Unmarshal(logs.Bytes(), &record); err != nil {
		t.Fatalf("decode log %q: %v", logs.String(), err)
	}
	want := map[string]any{"level": "DEBUG", "msg": "request served", "function": "demo", "request_id": "req-log-1", "method": "GET", "path": "/ok", "status": float64(200)}
	for key, w := range want {
		if record[key] != w {
			t.Errorf("log %s = %v, want %v", key, record[key], w)
		}
	}
}

func TestParseLevel_names(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in   string
		want slog.Level
	}{
		{in: "debug", want: slog.LevelDebug},
		{in: "info", want: slog.LevelInfo},
		{in: "warn", want: slog.LevelWarn},
		{in: "error", want: slog.LevelError},
		{in: "DEBUG", want: slog.LevelDebug},
		{in: "Warn", want: slog.LevelWarn},
		{in: "warn+2", want: slog.LevelWarn + 2},
		{in: "warning", want: slog.LevelInfo},
		{in: "verbose", want: slog.LevelInfo},
		{in: " debug", want: slog.LevelInfo},
		{in: "", want: slog.LevelInfo},
	}
	for _, tt := range tests {
		t.Run("level "+tt.in, func(t *testing.T) {
			t.Parallel()
			if got := obs.ParseLevel(tt.in); got != tt.want {
				t.Errorf("ParseLevel(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// serve sends a request without a body through h and returns the recorder.
func serve(t testing.TB, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// errorCode returns the code of a JSON error response.
func errorCode(t testing.TB, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode error body %q: %v", rec.Body.String(), err)
	}
	return body.Error.Code
}

// scrape fetches /metrics from h and parses the text exposition format.
func scrape(t testing.TB, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := serve(t, h, http.MethodGet, "/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics status = %d, want %d", rec.Code, http.StatusOK)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// metricValue returns the value of the counter, or the sample count of the
// histogram, whose labels equal labels. It fails the test when none does.
func metricValue(t testing.TB, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	family, ok := families[name]
	if !ok {
		t.Fatalf("metric %s not exposed", name)
	}
	for _, m := range family.GetMetric() {
		if !labelsEqual(m.GetLabel(), labels) {
			continue
		}
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount())
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("metric %s has no series with labels %v", name, labels)
	return 0
}

func labelsEqual(pairs []*dto.LabelPair, want map[string]string) bool {
	if len(pairs) != len(want) {
		return false
	}
	for _, p := range pairs {
		if want[p.GetName()] != p.GetValue() {
			return false
		}
	}
	return true
}

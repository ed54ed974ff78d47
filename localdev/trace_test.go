package localdev

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/obs"
	"github.com/jingtong/backend/shared/obs/obstest"
)

// consoleSpan is the part of a console exporter line that the tests read.
type consoleSpan struct {
	Name        string
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct{ TraceID, SpanID string }
	Links       []struct {
		SpanContext struct{ TraceID, SpanID string }
	}
}

func decodeSpans(t *testing.T, out string) map[string]consoleSpan {
	t.Helper()
	spans := map[string]consoleSpan{}
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var s consoleSpan
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("console line %q is not JSON: %v", line, err)
		}
		spans[s.Name] = s
	}
	return spans
}

func TestTrace_gatewayToFunction(t *testing.T) {
	var spansOut, logs obstest.Buffer
	dataDir := t.TempDir()
	cfg := Config{
		Addr: "127.0.0.1:0", DataDir: dataDir, DrainTimeout: DefaultDrainTimeout,
		Tracing: obs.TracingConfig{Exporters: []string{obs.ExporterConsole}, ServiceName: DefaultServiceName, Console: &spansOut},
	}
	srv, err := New(context.Background(), cfg, func(string) (string, bool) { return "", false }, obs.NewLogger(&logs, slog.LevelDebug))
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const clientSpan = "00f067aa0ba902b7"
	req := httptest.NewRequest(http.MethodGet, "/api/zones/zones/life-marriage/page?channel=wechat", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+clientSpan+"-01")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", rec.Code, rec.Body)
	}
	// Close shuts the tracer provider down, which writes the spans.
	srv.Close()

	spans := decodeSpans(t, spansOut.String())
	gw, ok := spans["GET gateway"]
	if !ok {
		t.Fatalf("no gateway server span in:\n%s", spansOut.String())
	}
	fn, ok := spans["GET zones"]
	if !ok {
		t.Fatalf("no zones server span in:\n%s", spansOut.String())
	}
	// The gateway is the public edge: the client's traceparent is only
	// linked, so a client cannot choose the trace id or force sampling.
	if gw.SpanContext.TraceID == traceID || gw.Parent.SpanID != "0000000000000000" {
		t.Errorf("gateway span trace %s parent %s, want a new root, not the client's trace %s", gw.SpanContext.TraceID, gw.Parent.SpanID, traceID)
	}
	if len(gw.Links) != 1 || gw.Links[0].SpanContext.TraceID != traceID || gw.Links[0].SpanContext.SpanID != clientSpan {
		t.Errorf("gateway span links = %+v, want one link to the client's span %s-%s", gw.Links, traceID, clientSpan)
	}
	if fn.SpanContext.TraceID != gw.SpanContext.TraceID {
		t.Errorf("zones span trace id = %s, want %s: the function must see the gateway's trace", fn.SpanContext.TraceID, gw.SpanContext.TraceID)
	}
	if fn.Parent.SpanID != gw.SpanContext.SpanID {
		t.Errorf("zones span parent = %s, want the gateway span %s from the forwarded traceparent", fn.Parent.SpanID, gw.SpanContext.SpanID)
	}

	// Each function's access log line carries its own span.
	found := map[string]bool{}
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil || record["msg"] != "request served" {
			continue
		}
		function, _ := record["function"].(string)
		want := map[string]consoleSpan{"gateway": gw, "zones": fn}[function]
		if record["trace_id"] != gw.SpanContext.TraceID || record["span_id"] != want.SpanContext.SpanID {
			t.Errorf("%s access log trace_id %v span_id %v, want %s %s", function, record["trace_id"], record["span_id"], gw.SpanContext.TraceID, want.SpanContext.SpanID)
		}
		if record["request_id"] == "" || record["request_id"] == nil {
			t.Errorf("%s access log has no request_id", function)
		}
		found[function] = true
	}
	if !found["gateway"] || !found["zones"] {
		t.Errorf("access log lines for %v, want gateway and zones:\n%s", found, logs.String())
	}
}

func TestTrace_withoutExporterDropsClientTraceparent(t *testing.T) {
	var logs obstest.Buffer
	cfg := Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DrainTimeout: DefaultDrainTimeout}
	srv, err := New(context.Background(), cfg, func(string) (string, bool) { return "", false }, obs.NewLogger(&logs, slog.LevelDebug))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(srv.Close)

	// Without a tracer the gateway starts no trace, and a client's
	// traceparent must not reach the functions either, where a
	// parent-based sampler would obey its sampled flag.
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	req := httptest.NewRequest(http.MethodGet, "/api/zones/zones?kind=life", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-b7ad6b7169203331-01")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}

	zonesLogged := false
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil || record["msg"] != "request served" {
			continue
		}
		if _, ok := record["trace_id"]; ok {
			t.Errorf("%v access log trace_id %v, want none: the client's trace must stop at the gateway", record["function"], record["trace_id"])
		}
		zonesLogged = zonesLogged || record["function"] == "zones"
	}
	if !zonesLogged {
		t.Errorf("no zones access log line in:\n%s", logs.String())
	}
}

func TestTrace_openFaaSLogLines(t *testing.T) {
	var spansOut, logs obstest.Buffer
	dataDir := t.TempDir()
	cfg := Config{
		Addr: "127.0.0.1:0", DataDir: dataDir, DrainTimeout: DefaultDrainTimeout,
		Tracing: obs.TracingConfig{Exporters: []string{obs.ExporterConsole}, ServiceName: DefaultServiceName, Console: &spansOut},
	}
	srv, err := New(context.Background(), cfg, func(string) (string, bool) { return "", false }, obs.NewLogger(&logs, slog.LevelInfo))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(srv.Close)
	password, err := os.ReadFile(filepath.Join(dataDir, FaaSDir, BasicAuthPasswordFile))
	if err != nil {
		t.Fatal(err)
	}

	req := httptest.NewRequest(http.MethodPost, "/system/scale-function/zones", strings.NewReader(`{"serviceName":"zones","replicas":2}`))
	req.SetBasicAuth(BasicAuthUser, strings.TrimSpace(string(password)))
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("scale = %d %s, want 202", rec.Code, rec.Body)
	}

	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil || record["msg"] != "changed a function through the OpenFaaS API" {
			continue
		}
		if id, _ := record["trace_id"].(string); len(id) != 32 {
			t.Errorf("OpenFaaS API log line trace_id = %v, want a trace id", record["trace_id"])
		}
		return
	}
	t.Errorf("no OpenFaaS API log line in:\n%s", logs.String())
}

// The copy of a function's log that /system/logs serves, and faas-cli logs
// shows, carries the ids of the span in the record's context.
func TestTrace_functionLogCopy(t *testing.T) {
	var base obstest.Buffer
	h := newHostedFunction("zones", false, nil, obs.NewLogger(&base, slog.LevelInfo))
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 1},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 2},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	h.logger.InfoContext(ctx, "page published", "zone", "life-marriage")

	msgs, _, _ := h.logs.after(0)
	if len(msgs) != 1 {
		t.Fatalf("log copy holds %d lines, want 1", len(msgs))
	}
	for _, want := range []string{"trace_id=" + sc.TraceID().String(), "span_id=" + sc.SpanID().String(), `msg="page published"`} {
		if !strings.Contains(msgs[0].Text, want) {
			t.Errorf("log copy line %q lacks %s", msgs[0].Text, want)
		}
	}
	if !strings.Contains(base.String(), `"trace_id":"`+sc.TraceID().String()+`"`) {
		t.Errorf("host log %q lacks the trace id", base.String())
	}
}

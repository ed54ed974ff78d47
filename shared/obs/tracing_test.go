package obs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/obs"
)

const (
	incomingTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	incomingSpanID  = "00f067aa0ba902b7"
	incomingParent  = "00-" + incomingTraceID + "-" + incomingSpanID + "-01"
)

func TestTracingConfigFromEnv_exporters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		env          map[string]string
		fallback     string
		wantExporter []string
		wantEndpoint string
	}{
		{name: "nothing set uses fallback none", env: nil, fallback: obs.ExporterNone},
		{name: "nothing set uses fallback console", env: nil, fallback: obs.ExporterConsole, wantExporter: []string{"console"}},
		{
			name:         "base endpoint selects otlp",
			env:          map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			fallback:     obs.ExporterConsole,
			wantExporter: []string{"otlp"}, wantEndpoint: "http://collector:4318/v1/traces",
		},
		{
			name:         "base endpoint with slash",
			env:          map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector.example/otlp/"},
			fallback:     obs.ExporterNone,
			wantExporter: []string{"otlp"}, wantEndpoint: "https://collector.example/otlp/v1/traces",
		},
		{
			name: "traces endpoint used as is",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://ignored:4318",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/custom",
			},
			fallback:     obs.ExporterNone,
			wantExporter: []string{"otlp"}, wantEndpoint: "http://collector:4318/custom",
		},
		{
			name:         "explicit otlp without endpoint",
			env:          map[string]string{"OTEL_TRACES_EXPORTER": "otlp"},
			fallback:     obs.ExporterNone,
			wantExporter: []string{"otlp"}, wantEndpoint: obs.DefaultOTLPEndpoint,
		},
		{
			name:         "explicit none beats endpoint",
			env:          map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			fallback:     obs.ExporterConsole,
			wantExporter: nil,
		},
		{
			name:         "console and otlp",
			env:          map[string]string{"OTEL_TRACES_EXPORTER": " Console , otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			fallback:     obs.ExporterNone,
			wantExporter: []string{"console", "otlp"}, wantEndpoint: "http://collector:4318/v1/traces",
		},
		{
			name:         "sdk disabled",
			env:          map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			fallback:     obs.ExporterConsole,
			wantExporter: nil,
		},
		{
			name:         "sdk disabled false",
			env:          map[string]string{"OTEL_SDK_DISABLED": "false"},
			fallback:     obs.ExporterConsole,
			wantExporter: []string{"console"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := obs.TracingConfigFromEnv(lookupMap(tt.env), tt.fallback)
			if err != nil {
				t.Fatalf("TracingConfigFromEnv: %v", err)
			}
			if !slices.Equal(cfg.Exporters, tt.wantExporter) {
				t.Errorf("exporters = %q, want %q", cfg.Exporters, tt.wantExporter)
			}
			if cfg.Endpoint != tt.wantEndpoint {
				t.Errorf("endpoint = %q, want %q", cfg.Endpoint, tt.wantEndpoint)
			}
		})
	}
}

func TestTracingConfigFromEnv_invalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "unknown exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, wantErr: "OTEL_TRACES_EXPORTER"},
		{name: "none with exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "none,console"}, wantErr: "none cannot be combined"},
		{name: "grpc protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantErr: "only http/protobuf"},
		{name: "json traces protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, wantErr: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{name: "endpoint without scheme", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, wantErr: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "unknown sampler", env: map[string]string{"OTEL_TRACES_SAMPLER": "jaeger_remote"}, wantErr: "OTEL_TRACES_SAMPLER"},
		{name: "ratio above one", env: map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}, wantErr: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "ratio NaN", env: map[string]string{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "NaN"}, wantErr: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "disabled not a bool", env: map[string]string{"OTEL_SDK_DISABLED": "yes please"}, wantErr: "OTEL_SDK_DISABLED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := obs.TracingConfigFromEnv(lookupMap(tt.env), obs.ExporterNone)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestTracingConfigFromEnv_hidesEndpointPassword(t *testing.T) {
	t.Parallel()
	_, err := obs.TracingConfigFromEnv(lookupMap(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "ftp://user:s3cret@collector"}), obs.ExporterNone)
	if err == nil {
		t.Fatal("want an error for an ftp endpoint")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q contains the endpoint's password", err)
	}
}

func TestTracingConfigFromEnv_samplers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, arg, want string
	}{
		{name: "", want: ""},
		{name: "always_off", want: "AlwaysOffSampler"},
		{name: "always_on", want: "AlwaysOnSampler"},
		{name: "traceidratio", arg: "0.25", want: "TraceIDRatioBased{0.25}"},
		{name: "parentbased_traceidratio", arg: "0.5", want: "ParentBased{root:TraceIDRatioBased{0.5}"},
		{name: "parentbased_always_off", want: "ParentBased{root:AlwaysOffSampler"},
	}
	for _, tt := range tests {
		t.Run("sampler "+tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := obs.TracingConfigFromEnv(lookupMap(map[string]string{"OTEL_TRACES_SAMPLER": tt.name, "OTEL_TRACES_SAMPLER_ARG": tt.arg}), obs.ExporterNone)
			if err != nil {
				t.Fatalf("TracingConfigFromEnv: %v", err)
			}
			got := ""
			if cfg.Sampler != nil {
				got = cfg.Sampler.Description()
			}
			if !strings.HasPrefix(got, tt.want) || (tt.want == "" && got != "") {
				t.Errorf("sampler = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewTracing_consoleWritesSpanLines(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	tracing, err := obs.NewTracing(context.Background(), obs.TracingConfig{
		Exporters: []string{obs.ExporterConsole}, ServiceName: "demo", Console: &out,
	})
	if err != nil {
		t.Fatalf("NewTracing: %v", err)
	}
	h := obs.HandlerWith(newFunction(nil), nil, obs.Options{TracerProvider: tracing.TracerProvider()})
	r := httptest.NewRequest(http.MethodGet, "/ok", nil)
	r.Header.Set("Traceparent", incomingParent)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if err := tracing.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("console output has %d lines, want one span per line:\n%s", len(lines), out.String())
	}
	var span struct {
		Name        string
		SpanContext struct{ TraceID string }
		Resource    []struct {
			Key   string
			Value struct{ Value any }
		}
	}
	if err := json.Unmarshal([]byte(lines[0]), &span); err != nil {
		t.Fatalf("decode span %q: %v", lines[0], err)
	}
	if span.Name != "GET demo" {
		t.Errorf("span name = %q, want %q", span.Name, "GET demo")
	}
	if span.SpanContext.TraceID != incomingTraceID {
		t.Errorf("span trace id = %q, want %q", span.SpanContext.TraceID, incomingTraceID)
	}
	var service any
	for _, kv := range span.Resource {
		if kv.Key == "service.name" {
			service = kv.Value.Value
		}
	}
	if service != "demo" {
		t.Errorf("service.name = %v, want demo", service)
	}
}

func TestNewTracing_resourceAttributesNameService(t *testing.T) {
	// OTEL_RESOURCE_ATTRIBUTES is read from the process environment, so
	// this test cannot run in parallel.
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attributes,team=zones")
	var out bytes.Buffer
	tracing, err := obs.NewTracing(context.Background(), obs.TracingConfig{
		Exporters: []string{obs.ExporterConsole}, ServiceName: "default-name", Console: &out,
	})
	if err != nil {
		t.Fatalf("NewTracing: %v", err)
	}
	h := obs.HandlerWith(newFunction(nil), nil, obs.Options{TracerProvider: tracing.TracerProvider()})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/ok", nil))
	if err := tracing.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if !strings.Contains(out.String(), `"Key":"service.name","Value":{"Type":"STRING","Value":"from-attributes"}`) {
		t.Errorf("span resource does not name service from-attributes:\n%s", out.String())
	}
}

func TestNewTracing_sdkErrorsReachLogger(t *testing.T) {
	// The SDK's error handler is process-wide, so this test cannot run in
	// parallel.
	var logs bytes.Buffer
	tracing, err := obs.NewTracing(context.Background(), obs.TracingConfig{
		Exporters: []string{obs.ExporterConsole}, ServiceName: "demo", Console: io.Discard,
		Logger: obs.NewLogger(&logs, slog.LevelInfo),
	})
	if err != nil {
		t.Fatalf("NewTracing: %v", err)
	}
	t.Cleanup(func() { _ = tracing.Shutdown(context.Background()) })

	otel.Handle(errors.New("export failed: connection refused"))
	var line struct {
		Msg string `json:"msg"`
		Err string `json:"err"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &line); err != nil {
		t.Fatalf("SDK error logged as %q, want one JSON line: %v", logs.String(), err)
	}
	if line.Msg != "opentelemetry error" || !strings.Contains(line.Err, "connection refused") {
		t.Errorf("SDK error line = %+v, want msg \"opentelemetry error\" with the error", line)
	}
}

func TestNewTracing_noExporterIsNoop(t *testing.T) {
	t.Parallel()
	tracing, err := obs.NewTracing(context.Background(), obs.TracingConfig{})
	if err != nil {
		t.Fatalf("NewTracing: %v", err)
	}
	if obs.TracingEnabled(tracing.TracerProvider()) {
		t.Errorf("TracingEnabled = true, want false without an exporter")
	}
	if err := tracing.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// tracedHandler returns obs's handler around a function whose routes record
// the span context they see, with an in-memory exporter.
func tracedHandler(t *testing.T, logger *slog.Logger) (http.Handler, *tracetest.InMemoryExporter, *trace.SpanContext) {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	seen := new(trace.SpanContext)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /seen", func(w http.ResponseWriter, r *http.Request) {
		*seen = trace.SpanContextFromContext(r.Context())
		logger.InfoContext(r.Context(), "handler ran")
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		*seen = trace.SpanContextFromContext(r.Context())
		httpx.WriteError(w, r, logger, context.DeadlineExceeded)
	})
	f := &fn.Function{Name: "demo", Handler: mux}
	return obs.HandlerWith(f, logger, obs.Options{TracerProvider: tp}), exporter, seen
}

func TestHandler_continuesIncomingTrace(t *testing.T) {
	t.Parallel()
	h, exporter, seen := tracedHandler(t, nil)
	r := httptest.NewRequest(http.MethodGet, "/seen", nil)
	r.Header.Set("Traceparent", incomingParent)
	r.Header.Set("Tracestate", "congo=t61rcWkgMzE")
	h.ServeHTTP(httptest.NewRecorder(), r)

	if got := seen.TraceID().String(); got != incomingTraceID {
		t.Errorf("handler trace id = %s, want %s", got, incomingTraceID)
	}
	if got := seen.TraceState().Get("congo"); got != "t61rcWkgMzE" {
		t.Errorf("handler tracestate congo = %q, want t61rcWkgMzE", got)
	}
	spans := exporter.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("spans = %d, want 1", len(spans))
	}
	span := spans[0]
	if span.SpanContext.SpanID() != seen.SpanID() {
		t.Errorf("handler span id = %s, want the server span's %s", seen.SpanID(), span.SpanContext.SpanID())
	}
	if got := span.Parent.SpanID().String(); got != incomingSpanID {
		t.Errorf("server span parent = %s, want %s", got, incomingSpanID)
	}
	if span.SpanKind != trace.SpanKindServer {
		t.Errorf("span kind = %v, want server", span.SpanKind)
	}
	attrs := map[string]any{}
	for _, kv := range span.Attributes {
		attrs[string(kv.Key)] = kv.Value.AsInterface()
	}
	if attrs["http.response.status_code"] != int64(http.StatusNoContent) {
		t.Errorf("http.response.status_code = %v, want 204", attrs["http.response.status_code"])
	}
	if attrs["url.path"] != "/seen" {
		t.Errorf("url.path = %v, want /seen", attrs["url.path"])
	}
	if attrs["jt.request_id"] == "" || attrs["jt.request_id"] == nil {
		t.Errorf("jt.request_id missing, want the request id")
	}
}

func TestHandler_rejectsMalformedTraceparent(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
		"00-" + incomingTraceID + "-0000000000000000-01",          // zero span id
		"ff-" + incomingTraceID + "-" + incomingSpanID + "-01",    // forbidden version
		"00-" + incomingTraceID + "-" + incomingSpanID + "-01-extra",
		"00-" + strings.ToUpper(incomingTraceID) + "-" + incomingSpanID + "-01",
		"garbage",
	} {
		h, exporter, seen := tracedHandler(t, nil)
		r := httptest.NewRequest(http.MethodGet, "/seen", nil)
		r.Header.Set("Traceparent", bad)
		h.ServeHTTP(httptest.NewRecorder(), r)

		spans := exporter.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("traceparent %q: spans = %d, want 1", bad, len(spans))
		}
		if spans[0].Parent.IsValid() {
			t.Errorf("traceparent %q: server span has parent %s, want a new root", bad, spans[0].Parent.SpanID())
		}
		if seen.TraceID().String() == incomingTraceID {
			t.Errorf("traceparent %q: handler continued trace %s, want a new one", bad, incomingTraceID)
		}
	}
}

func TestHandler_repeatedTraceparentIgnored(t *testing.T) {
	t.Parallel()
	h, exporter, _ := tracedHandler(t, nil)
	r := httptest.NewRequest(http.MethodGet, "/seen", nil)
	r.Header.Add("Traceparent", incomingParent)
	r.Header.Add("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if spans := exporter.GetSpans(); len(spans) != 1 || spans[0].Parent.IsValid() {
		t.Errorf("spans = %+v, want one root span for an ambiguous traceparent", spans)
	}
}

func TestHandler_withoutTracerKeepsIncomingContext(t *testing.T) {
	t.Parallel()
	var seen trace.SpanContext
	f := &fn.Function{Name: "demo", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = trace.SpanContextFromContext(r.Context())
	})}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Traceparent", incomingParent)
	obs.HandlerWith(f, nil, obs.Options{}).ServeHTTP(httptest.NewRecorder(), r)

	if seen.TraceID().String() != incomingTraceID || seen.SpanID().String() != incomingSpanID {
		t.Errorf("handler span context = %s/%s, want the incoming %s/%s", seen.TraceID(), seen.SpanID(), incomingTraceID, incomingSpanID)
	}
}

func TestHandler_logLinesCarryTraceIDs(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	logger := obs.NewLogger(&logs, slog.LevelDebug)
	h, _, seen := tracedHandler(t, logger)
	for _, path := range []string{"/seen", "/fail"} {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Traceparent", incomingParent)
		r.Header.Set(httpx.RequestIDHeader, "req-trace-1")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	wantMessages := []string{"handler ran", "request served", "request failed", "request served"}
	if len(lines) != len(wantMessages) {
		t.Fatalf("log has %d lines, want %d:\n%s", len(lines), len(wantMessages), logs.String())
	}
	for i, line := range lines {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			t.Fatalf("decode log line %q: %v", line, err)
		}
		if record["msg"] != wantMessages[i] {
			t.Errorf("line %d msg = %v, want %q", i, record["msg"], wantMessages[i])
		}
		if record["trace_id"] != incomingTraceID {
			t.Errorf("line %d (%v) trace_id = %v, want %s", i, record["msg"], record["trace_id"], incomingTraceID)
		}
		if sid, _ := record["span_id"].(string); len(sid) != 16 || sid == incomingSpanID {
			t.Errorf("line %d (%v) span_id = %v, want the server span's id", i, record["msg"], record["span_id"])
		}
		if record["msg"] != "handler ran" && record["request_id"] != "req-trace-1" {
			t.Errorf("line %d (%v) request_id = %v, want req-trace-1", i, record["msg"], record["request_id"])
		}
	}
	var last map[string]any
	_ = json.Unmarshal([]byte(lines[len(lines)-1]), &last)
	if last["span_id"] != seen.SpanID().String() {
		t.Errorf("access log span_id = %v, want the handler's %s", last["span_id"], seen.SpanID())
	}
}

func TestTraceHandler_noSpanNoAttributes(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	obs.NewLogger(&logs, slog.LevelInfo).InfoContext(context.Background(), "outside a request")
	if strings.Contains(logs.String(), "trace_id") {
		t.Errorf("log %q has trace_id, want none without a span", logs.String())
	}
}

func TestInjectHTTP_replacesClientValues(t *testing.T) {
	t.Parallel()
	tid, _ := trace.TraceIDFromHex(incomingTraceID)
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))

	h := http.Header{}
	h.Set("Traceparent", "00-11111111111111111111111111111111-2222222222222222-01")
	h.Set("Tracestate", "client=forged")
	obs.InjectHTTP(ctx, h)
	if got, want := h.Get("Traceparent"), "00-"+incomingTraceID+"-b7ad6b7169203331-01"; got != want {
		t.Errorf("traceparent = %q, want %q", got, want)
	}
	if got := h.Values("Tracestate"); len(got) != 0 {
		t.Errorf("tracestate = %q, want none: the span context has none", got)
	}

	obs.InjectHTTP(context.Background(), h)
	if got := h.Values("Traceparent"); len(got) != 0 {
		t.Errorf("traceparent without a span = %q, want it removed", got)
	}
}

// FuzzExtractHTTP feeds untrusted traceparent and tracestate values through
// the extraction path and checks that a span context it accepts survives a
// round trip through InjectHTTP.
func FuzzExtractHTTP(f *testing.F) {
	f.Add(incomingParent, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
	f.Add("00-"+incomingTraceID+"-"+incomingSpanID+"-00", "")
	f.Add("01-"+incomingTraceID+"-"+incomingSpanID+"-09-future", "a=b")
	f.Add("ff-"+incomingTraceID+"-"+incomingSpanID+"-01", "")
	f.Add("00-00000000000000000000000000000000-"+incomingSpanID+"-01", "")
	f.Add("", "k=v")
	f.Add("00--"+incomingSpanID+"-01", strings.Repeat("k=v,", 40))
	f.Fuzz(func(t *testing.T, traceparent, tracestate string) {
		h := http.Header{}
		h.Set("Traceparent", traceparent)
		h.Set("Tracestate", tracestate)
		ctx := obs.ExtractHTTP(context.Background(), h)
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() {
			return
		}
		if !sc.IsRemote() {
			t.Fatalf("extracted span context is not remote")
		}

		out := http.Header{}
		obs.InjectHTTP(ctx, out)
		again := trace.SpanContextFromContext(obs.ExtractHTTP(context.Background(), out))
		if again.TraceID() != sc.TraceID() || again.SpanID() != sc.SpanID() {
			t.Fatalf("round trip of %q gave %s/%s, want %s/%s", traceparent, again.TraceID(), again.SpanID(), sc.TraceID(), sc.SpanID())
		}
		if again.TraceState().Len() != sc.TraceState().Len() {
			t.Fatalf("round trip of tracestate %q kept %d members, want %d", tracestate, again.TraceState().Len(), sc.TraceState().Len())
		}

		// WithTraceHeaders keeps a header only when it is what InjectHTTP
		// writes.
		if _, changed := obs.WithTraceHeaders(ctx, out); changed {
			t.Fatalf("WithTraceHeaders changed the injected %q", out.Get("Traceparent"))
		}
		if _, changed := obs.WithTraceHeaders(ctx, h); !changed && h.Get("Traceparent") != out.Get("Traceparent") {
			t.Fatalf("WithTraceHeaders kept %q, want it replaced by %q", h.Get("Traceparent"), out.Get("Traceparent"))
		}
	})
}

func lookupMap(env map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := env[key]
		return v, ok
	}
}

func TestWithTraceHeaders_leavesInputUnchanged(t *testing.T) {
	t.Parallel()
	tid, _ := trace.TraceIDFromHex(incomingTraceID)
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	in := http.Header{"Traceparent": {incomingParent}, "Tracestate": {"client=forged"}, "Accept": {"*/*"}}

	out, changed := obs.WithTraceHeaders(ctx, in)
	if !changed {
		t.Fatal("changed = false, want a copy with the span's traceparent")
	}
	if got, want := out.Get("Traceparent"), "00-"+incomingTraceID+"-b7ad6b7169203331-01"; got != want {
		t.Errorf("copy traceparent = %q, want %q", got, want)
	}
	if got := out.Values("Tracestate"); len(got) != 0 {
		t.Errorf("copy tracestate = %q, want none", got)
	}
	if out.Get("Accept") != "*/*" {
		t.Errorf("copy Accept = %q, want the input's */*", out.Get("Accept"))
	}
	if in.Get("Traceparent") != incomingParent || in.Get("Tracestate") != "client=forged" {
		t.Errorf("input changed to %v, want it left as it was", in)
	}

	_, changed = obs.WithTraceHeaders(context.Background(), http.Header{"Accept": {"*/*"}})
	if changed {
		t.Errorf("changed = true for a header without trace fields and a context without a span, want false")
	}
}

package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/obs"
)

const clientTraceparent = "00-11111111111111111111111111111111-2222222222222222-01"

// serverSpan returns a context with a recording server span of a new
// trace, as the gateway's obs middleware makes, and the exporter of tp.
func serverSpan(t *testing.T) (context.Context, trace.Span, *tracetest.InMemoryExporter) {
	t.Helper()
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	ctx, span := tp.Tracer("test").Start(context.Background(), "GET gateway", trace.WithSpanKind(trace.SpanKindServer))
	return ctx, span, exporter
}

func TestTracingTransport_clientSpanPerAttempt(t *testing.T) {
	t.Parallel()
	received := make(chan http.Header, 2)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- r.Header.Clone()
		w.WriteHeader(http.StatusBadGateway)
	}))
	t.Cleanup(upstream.Close)
	ctx, server, exporter := serverSpan(t)
	transport := &tracingTransport{next: http.DefaultTransport}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, upstream.URL+"/items", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Traceparent", clientTraceparent)
	req.Header.Set("Tracestate", "client=forged")
	resp, err := transport.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	_ = resp.Body.Close()
	server.End()

	header := <-received
	got := obs.ExtractHTTP(context.Background(), header)
	sc := trace.SpanContextFromContext(got)
	if sc.TraceID() != server.SpanContext().TraceID() {
		t.Errorf("upstream trace id = %s, want the gateway's %s", sc.TraceID(), server.SpanContext().TraceID())
	}
	if header.Get("Tracestate") != "" {
		t.Errorf("upstream tracestate = %q, want the client's value dropped", header.Get("Tracestate"))
	}
	spans := exporter.GetSpans()
	var client *tracetest.SpanStub
	for i := range spans {
		if spans[i].SpanKind == trace.SpanKindClient {
			client = &spans[i]
		}
	}
	if client == nil {
		t.Fatalf("no client span among %d spans", len(spans))
	}
	if sc.SpanID() != client.SpanContext.SpanID() {
		t.Errorf("upstream parent span = %s, want the client span %s", sc.SpanID(), client.SpanContext.SpanID())
	}
	if client.Parent.SpanID() != server.SpanContext().SpanID() {
		t.Errorf("client span parent = %s, want the server span %s", client.Parent.SpanID(), server.SpanContext().SpanID())
	}
	if client.Status.Code.String() != "Error" {
		t.Errorf("client span status = %s, want Error for a 502", client.Status.Code)
	}
}

func TestTracingTransport_noSpanDropsClientHeaders(t *testing.T) {
	t.Parallel()
	received := make(chan http.Header, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		received <- r.Header.Clone()
	}))
	t.Cleanup(upstream.Close)

	req, err := http.NewRequest(http.MethodGet, upstream.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Traceparent", "not a traceparent")
	resp, err := (&tracingTransport{next: http.DefaultTransport}).RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	_ = resp.Body.Close()
	if got := (<-received).Get("Traceparent"); got != "" {
		t.Errorf("upstream traceparent = %q, want none without a span", got)
	}
}

func TestForwardTrace_functionGetsGatewaySpan(t *testing.T) {
	t.Parallel()
	ctx, server, _ := serverSpan(t)
	defer server.End()
	var header http.Header
	h := forwardTrace(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { header = r.Header.Clone() }))

	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/zones", nil)
	r.Header.Set("Traceparent", clientTraceparent)
	h.ServeHTTP(httptest.NewRecorder(), r)

	sc := trace.SpanContextFromContext(obs.ExtractHTTP(context.Background(), header))
	if sc.TraceID() != server.SpanContext().TraceID() || sc.SpanID() != server.SpanContext().SpanID() {
		t.Errorf("function got traceparent %q, want the gateway span %s/%s", header.Get("Traceparent"), server.SpanContext().TraceID(), server.SpanContext().SpanID())
	}
}

// cannedTransport returns one response for every request without a
// network, so a benchmark measures only the wrapping transport.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}}, nil
}

// BenchmarkTracingTransport measures what tracingTransport adds to one
// upstream attempt: without trace context, passing a client's unsampled
// traceparent on with tracing off, and with an unsampled span of the SDK.
func BenchmarkTracingTransport(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	unsampled, _ := tp.Tracer("bench").Start(context.Background(), "GET gateway")
	remote := obs.ExtractHTTP(context.Background(), http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}})
	cases := []struct {
		name string
		ctx  context.Context
	}{
		{name: "no trace context", ctx: context.Background()},
		{name: "remote passthrough", ctx: remote},
		{name: "unsampled span", ctx: unsampled},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			transport := &tracingTransport{next: cannedTransport{}}
			req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, "http://upstream.internal/items", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := transport.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
			}
		})
	}
}

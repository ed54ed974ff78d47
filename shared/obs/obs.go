// Package obs wraps a function's handler with what every deployment needs
// from day one: request ids, W3C trace context and OpenTelemetry spans,
// structured logs that carry both ids, Prometheus metrics, panic recovery,
// and the /healthz, /readyz and /metrics endpoints.
package obs

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
)

// Metrics are the per-function HTTP metrics. One Metrics serves every
// function in a process; the function label tells them apart.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics, plus the Go runtime and process
// collectors, in a new registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jt_http_requests_total",
			Help: "HTTP requests served, by function, method and status code.",
		}, []string{"function", "method", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jt_http_request_errors_total",
			Help: "HTTP requests answered with a 5xx status, by function.",
		}, []string{"function"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jt_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by function and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"function", "method"}),
	}
	reg.MustRegister(m.requests, m.errors, m.duration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler returns the registry's /metrics handler.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registerer returns the registry, for functions that add their own metrics.
func (m *Metrics) Registerer() prometheus.Registerer { return m.registry }

// Options change what Handler builds.
type Options struct {
	// Metrics to record into; nil creates a new registry served at /metrics.
	Metrics *Metrics
	// Endpoints adds /healthz, /readyz and /metrics in front of the
	// function's own routes. Hosts that serve them elsewhere turn it off.
	Endpoints bool
	// TracerProvider makes a server span for each request, as a child of
	// the request's traceparent when it has a valid one. Nil or a no-op
	// provider makes none, and an incoming traceparent still reaches the
	// handler's context, its log lines and what it forwards, unless the
	// function is a public edge (fn.Function.PublicEdge).
	TracerProvider trace.TracerProvider
}

// Handler wraps f.Handler with request ids, trace context, panic recovery,
// access logs at Debug level, errors at Error level and HTTP metrics, and
// serves /healthz, /readyz and /metrics beside it. It makes no spans,
// because spans need Options.TracerProvider of HandlerWith.
func Handler(f *fn.Function, logger *slog.Logger) http.Handler {
	return HandlerWith(f, logger, Options{Endpoints: true})
}

// HandlerWith is Handler with options.
func HandlerWith(f *fn.Function, logger *slog.Logger, opts Options) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("function", f.Name)
	m := opts.Metrics
	if m == nil {
		m = NewMetrics()
	}

	// Recover sits inside instrument so that a panic still ends in a 500
	// that is logged, counted and recorded on the span. instrument assigns
	// the request id too, so that one r.WithContext carries both ids.
	h := f.Handler
	h = httpx.Recover(logger)(h)
	h = instrument(h, f.Name, logger, m, opts.TracerProvider, f.PublicEdge)
	if !opts.Endpoints {
		return h
	}

	mux := http.NewServeMux()
	mux.Handle("GET /healthz", http.HandlerFunc(Healthz))
	mux.Handle("GET /readyz", Readyz(f))
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("/", h)
	return mux
}

// Healthz answers that the process is alive.
func Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// Readyz answers 200 when f.Ready succeeds within two seconds, else 503.
func Readyz(f *fn.Function) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.Ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := f.Ready(ctx); err != nil {
				httpx.WriteError(w, r, nil, httpx.Wrap(httpx.CodeNotReady, err))
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// instrumentedMethods get pre-resolved metric children; other methods are
// counted as OTHER so clients cannot grow the label set.
var instrumentedMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"}

// requestCounters caches the request counter of each method and status code
// so the hot path skips label hashing and number formatting.
type requestCounters struct {
	vec      *prometheus.CounterVec
	function string
	byCode   [8][600]atomic.Pointer[prometheus.Counter]
}

func (c *requestCounters) get(method int, code int) prometheus.Counter {
	if code < 100 || code >= 600 {
		return c.vec.WithLabelValues(c.function, instrumentedMethods[method], strconv.Itoa(code))
	}
	slot := &c.byCode[method][code]
	if p := slot.Load(); p != nil {
		return *p
	}
	counter := c.vec.WithLabelValues(c.function, instrumentedMethods[method], strconv.Itoa(code))
	slot.Store(&counter)
	return counter
}

func methodIndex(method string) int {
	for i, m := range instrumentedMethods[:len(instrumentedMethods)-1] {
		if m == method {
			return i
		}
	}
	return len(instrumentedMethods) - 1
}

// instrumentScope is the instrumentation scope of the server spans.
const instrumentScope = "github.com/jingtong/backend/shared/obs"

// serverSpanOptions are the start options of every server span, built once
// so that starting a span does not allocate them.
var serverSpanOptions = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

func instrument(next http.Handler, name string, logger *slog.Logger, m *Metrics, tp trace.TracerProvider, publicEdge bool) http.Handler {
	errs := m.errors.WithLabelValues(name)
	durations := make([]prometheus.Observer, len(instrumentedMethods))
	spanNames := make([]string, len(instrumentedMethods))
	for i, method := range instrumentedMethods {
		durations[i] = m.duration.WithLabelValues(name, method)
		spanNames[i] = method + " " + name
	}
	requests := &requestCounters{vec: m.requests, function: name}
	var tracer trace.Tracer
	if TracingEnabled(tp) {
		tracer = tp.Tracer(instrumentScope)
	}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		method := methodIndex(r.Method)
		ctx := httpx.EnsureRequestID(w, r)
		var span trace.Span
		switch {
		case !publicEdge:
			ctx = ExtractHTTP(ctx, r.Header)
			if tracer != nil {
				ctx, span = tracer.Start(ctx, spanNames[method], serverSpanOptions...)
			}
		case tracer != nil:
			// A client's trace context only links to the new trace.
			// Without a tracer it is dropped, so it is never forwarded.
			ctx, span = tracer.Start(ctx, spanNames[method], edgeSpanOptions(r.Header)...)
		}
		if ctx != r.Context() {
			r = r.WithContext(ctx)
		}

		rec := &statusRecorder{ResponseWriter: w}
		if span != nil {
			defer func() { endServerSpan(span, r, rec.status) }()
		}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		elapsed := time.Since(start)
		durations[method].Observe(elapsed.Seconds())
		requests.get(method, rec.status).Inc()
		if rec.status >= 500 {
			errs.Inc()
		}
		if logger.Enabled(ctx, slog.LevelDebug) {
			logger.DebugContext(ctx, "request served", "request_id", httpx.RequestID(ctx),
				"method", r.Method, "path", r.URL.Path, "status", rec.status,
				"duration_ms", float64(elapsed.Microseconds())/1000)
		}
	})
}

// edgeSpanOptions returns the start options of a public edge's server
// span: a new root, linked to the span context in h when it has a valid
// one.
func edgeSpanOptions(h http.Header) []trace.SpanStartOption {
	if len(h[traceparentHeader]) == 0 {
		return edgeRootOptions
	}
	client := trace.SpanContextFromContext(propagator.Extract(context.Background(), headerCarrier(h)))
	if !client.IsValid() {
		return edgeRootOptions
	}
	// The full slice expression makes append copy rather than write into
	// the shared edgeRootOptions.
	n := len(edgeRootOptions)
	return append(edgeRootOptions[:n:n], trace.WithLinks(trace.Link{SpanContext: client}))
}

// edgeRootOptions are the start options of a public edge's server span
// when the client sent no valid trace context, built once like
// serverSpanOptions.
var edgeRootOptions = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer), trace.WithNewRoot()}

// endServerSpan records the request on span, when it is recording, and
// ends it. A handler that panicked past Recover, such as with
// http.ErrAbortHandler, leaves status 0, recorded as an error.
func endServerSpan(span trace.Span, r *http.Request, status int) {
	if span.IsRecording() {
		span.SetAttributes(
			semconv.HTTPRequestMethodKey.String(r.Method),
			semconv.URLPath(r.URL.Path),
			attrRequestID.String(httpx.RequestID(r.Context())),
		)
		if status != 0 {
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		}
		if status == 0 || status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
	span.End()
}

// ParseLevel maps debug, info, warn and error to slog levels, in any letter
// case and with an optional offset such as warn+2. Anything else is info.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Package obs wraps a function's handler with what every deployment needs
// from day one: request ids, structured logs, Prometheus metrics, panic
// recovery, and the /healthz, /readyz and /metrics endpoints.
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
}

// Handler wraps f.Handler with request ids, panic recovery, access logs at
// Debug level, errors at Error level and HTTP metrics, and serves /healthz,
// /readyz and /metrics beside it.
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
	// that is logged and counted.
	h := f.Handler
	h = httpx.Recover(logger)(h)
	h = instrument(h, f.Name, logger, m)
	h = httpx.RequestIDs(h)
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

func instrument(next http.Handler, name string, logger *slog.Logger, m *Metrics) http.Handler {
	errs := m.errors.WithLabelValues(name)
	durations := make([]prometheus.Observer, len(instrumentedMethods))
	for i, method := range instrumentedMethods {
		durations[i] = m.duration.WithLabelValues(name, method)
	}
	requests := &requestCounters{vec: m.requests, function: name}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		elapsed := time.Since(start)

		method := methodIndex(r.Method)
		durations[method].Observe(elapsed.Seconds())
		requests.get(method, rec.status).Inc()
		if rec.status >= 500 {
			errs.Inc()
		}

		if logger.Enabled(r.Context(), slog.LevelDebug) {
			logger.Debug("request served", "request_id", httpx.RequestID(r.Context()),
				"method", r.Method, "path", r.URL.Path, "status", rec.status,
				"duration_ms", float64(elapsed.Microseconds())/1000)
		}
	})
}

// NewLogger returns a JSON logger writing to w at level, for hosts.
func NewLogger(w interface{ Write([]byte) (int, error) }, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
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

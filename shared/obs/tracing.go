package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Trace exporters, named as OTEL_TRACES_EXPORTER names them.
const (
	// ExporterOTLP sends spans over OTLP/HTTP with protobuf bodies.
	ExporterOTLP = "otlp"
	// ExporterConsole writes each span as one line of JSON, to stdout
	// unless TracingConfig.Console sets another writer.
	ExporterConsole = "console"
	// ExporterNone exports nothing.
	ExporterNone = "none"
)

// DefaultOTLPEndpoint is the OTLP/HTTP traces URL used when
// OTEL_TRACES_EXPORTER is otlp and no endpoint variable is set. It is the
// default of the OpenTelemetry specification.
const DefaultOTLPEndpoint = "http://localhost:4318/v1/traces"

// consoleBatchTimeout is how long the console exporter collects spans
// before it writes them, unless OTEL_BSP_SCHEDULE_DELAY sets a delay.
// The SDK's default of 5 s would show a request's trace long after its
// logs.
const consoleBatchTimeout = 500 * time.Millisecond

// TracingConfig selects where a process sends its spans. The zero value
// exports nothing, and incoming trace context still reaches logs and
// outgoing requests.
type TracingConfig struct {
	// Exporters lists ExporterOTLP, ExporterConsole or both. Empty means
	// no exporter, so no spans are made.
	Exporters []string
	// Endpoint is the OTLP/HTTP traces URL, such as
	// http://otel-collector:4318/v1/traces, for ExporterOTLP.
	Endpoint string
	// ServiceName is the service.name resource attribute of every span.
	ServiceName string
	// Sampler decides which spans are recorded and exported. Nil means
	// ParentBased(AlwaysSample()), the OpenTelemetry default.
	Sampler sdktrace.Sampler
	// Console receives the spans of ExporterConsole. Nil means os.Stdout.
	Console io.Writer
	// ConsoleBatchTimeout is how long the console exporter collects spans
	// before writing them. Zero means the SDK's default, which
	// OTEL_BSP_SCHEDULE_DELAY sets.
	ConsoleBatchTimeout time.Duration
	// Logger receives the OpenTelemetry SDK's own errors and messages, such
	// as failed exports and malformed OTEL_* values, as log lines. Nil
	// leaves the SDK's default: plain text on stderr.
	Logger *slog.Logger
}

// TracingConfigFromEnv reads the standard OpenTelemetry variables through
// lookup:
//
//   - OTEL_SDK_DISABLED=true turns every exporter off.
//   - OTEL_TRACES_EXPORTER: otlp, console, both comma-separated, or none.
//     When it is unset, the exporter is otlp if an endpoint variable is
//     set, and fallback otherwise. The specification's default is otlp,
//     but a function without a collector should not send to
//     localhost:4318.
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, the traces URL as it is, or
//     OTEL_EXPORTER_OTLP_ENDPOINT, a base URL that /v1/traces is appended
//     to.
//   - OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL:
//     only http/protobuf is built in.
//   - OTEL_SERVICE_NAME, left empty for the host to fill in.
//   - OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG: always_on,
//     always_off, traceidratio, parentbased_always_on (the default),
//     parentbased_always_off or parentbased_traceidratio, with a ratio from
//     0 to 1 (default 1).
//
// The OTLP exporter reads its other variables (headers, timeout,
// compression, certificates) from the process environment itself, and the
// SDK reads OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_* and OTEL_SPAN_* the same
// way. TracingConfigFromEnv reports every invalid value at once.
func TracingConfigFromEnv(lookup func(string) (string, bool), fallback string) (TracingConfig, error) {
	get := func(key string) string {
		v, _ := lookup(key)
		return strings.TrimSpace(v)
	}
	var cfg TracingConfig
	var problems []error

	disabled := false
	if v := get("OTEL_SDK_DISABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("OTEL_SDK_DISABLED %q: want true or false", v))
		}
		disabled = b
	}

	endpoint, err := otlpEndpoint(get)
	if err != nil {
		problems = append(problems, err)
	}
	for _, key := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if v := get(key); v != "" {
			if v != "http/protobuf" {
				problems = append(problems, fmt.Errorf("%s %q: only http/protobuf is supported; point it at the collector's OTLP/HTTP port, usually 4318", key, v))
			}
			break
		}
	}

	names := get("OTEL_TRACES_EXPORTER")
	switch {
	case names != "":
	case endpoint != "":
		names = ExporterOTLP
	default:
		names = fallback
	}
	exporters, err := parseExporters(names)
	if err != nil {
		problems = append(problems, err)
	}
	if !disabled {
		cfg.Exporters = exporters
	}
	if slices.Contains(cfg.Exporters, ExporterOTLP) {
		if endpoint == "" {
			endpoint = DefaultOTLPEndpoint
		}
		cfg.Endpoint = endpoint
	}

	cfg.ServiceName = get("OTEL_SERVICE_NAME")
	if cfg.Sampler, err = samplerFromEnv(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG")); err != nil {
		problems = append(problems, err)
	}
	if v := get("OTEL_BSP_SCHEDULE_DELAY"); v == "" {
		cfg.ConsoleBatchTimeout = consoleBatchTimeout
	}

	if len(problems) > 0 {
		return TracingConfig{}, fmt.Errorf("obs: invalid tracing configuration: %w", errors.Join(problems...))
	}
	return cfg, nil
}

// otlpEndpoint returns the traces URL that the endpoint variables name, or
// "" when neither is set.
func otlpEndpoint(get func(string) string) (string, error) {
	key, raw := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	signalSpecific := raw != ""
	if !signalSpecific {
		key, raw = "OTEL_EXPORTER_OTLP_ENDPOINT", get("OTEL_EXPORTER_OTLP_ENDPOINT")
	}
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The value may carry credentials, so the error names only the
		// variable.
		return "", fmt.Errorf("%s: want an http or https URL such as http://otel-collector:4318", key)
	}
	if !signalSpecific {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
		u.RawPath = ""
	}
	return u.String(), nil
}

func parseExporters(names string) ([]string, error) {
	var out []string
	none := false
	for name := range strings.SplitSeq(names, ",") {
		switch name = strings.ToLower(strings.TrimSpace(name)); name {
		case ExporterNone:
			none = true
		case ExporterOTLP, ExporterConsole:
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		case "":
		default:
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER %q: want otlp, console, both comma-separated, or none", names)
		}
	}
	if none && len(out) > 0 {
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER %q: none cannot be combined with an exporter", names)
	}
	return out, nil
}

// samplerFromEnv returns the sampler that OTEL_TRACES_SAMPLER names, or
// nil for the default.
func samplerFromEnv(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || !(r >= 0 && r <= 1) { // also rejects NaN
			return 0, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG %q: want a ratio from 0 to 1", arg)
		}
		return r, nil
	}
	switch strings.ToLower(name) {
	case "":
		return nil, nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		r, err := ratio()
		return sdktrace.TraceIDRatioBased(r), err
	case "parentbased_traceidratio":
		r, err := ratio()
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), err
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER %q: want always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", name)
}

// Tracing is a process's tracer provider. A nil *Tracing is valid and
// makes no spans.
type Tracing struct {
	cfg TracingConfig
	sdk *sdktrace.TracerProvider
}

// NewTracing builds the tracer provider that cfg describes. With no
// exporter it builds none: TracerProvider then returns a no-op provider,
// which costs a request nothing unless a traceparent arrives with it.
func NewTracing(ctx context.Context, cfg TracingConfig) (*Tracing, error) {
	t := &Tracing{cfg: cfg}
	if len(cfg.Exporters) == 0 {
		return t, nil
	}
	if cfg.Logger != nil {
		routeSDKLogs(cfg.Logger)
	}

	// The service name given comes first, so that OTEL_RESOURCE_ATTRIBUTES
	// and OTEL_SERVICE_NAME override it, as the OpenTelemetry
	// specification orders them.
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(cfg.ServiceName)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
	)
	if err != nil && res == nil {
		return nil, fmt.Errorf("obs: building the trace resource: %w", err)
	}
	if name, ok := res.Set().Value(semconv.ServiceNameKey); ok {
		t.cfg.ServiceName = name.AsString()
	}
	// A partial resource, such as one with a malformed
	// OTEL_RESOURCE_ATTRIBUTES entry, still names the service.

	sampler := cfg.Sampler
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	for _, name := range cfg.Exporters {
		exp, batch, err := newExporter(ctx, name, cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithBatcher(exp, batch...))
	}
	t.sdk = sdktrace.NewTracerProvider(opts...)
	return t, nil
}

func newExporter(ctx context.Context, name string, cfg TracingConfig) (sdktrace.SpanExporter, []sdktrace.BatchSpanProcessorOption, error) {
	switch name {
	case ExporterOTLP:
		exp, err := newOTLPExporter(ctx, cfg.Endpoint)
		if err != nil {
			return nil, nil, fmt.Errorf("obs: creating the OTLP trace exporter: %w", err)
		}
		return exp, nil, nil
	case ExporterConsole:
		w := cfg.Console
		if w == nil {
			w = os.Stdout
		}
		// One JSON object per line keeps spans greppable and readable with
		// jq, and one Write per span keeps lines whole.
		exp, err := stdouttrace.New(stdouttrace.WithWriter(&lockedWriter{w: w}))
		if err != nil {
			return nil, nil, fmt.Errorf("obs: creating the console trace exporter: %w", err)
		}
		var batch []sdktrace.BatchSpanProcessorOption
		if cfg.ConsoleBatchTimeout > 0 {
			batch = append(batch, sdktrace.WithBatchTimeout(cfg.ConsoleBatchTimeout))
		}
		return exp, batch, nil
	}
	return nil, nil, fmt.Errorf("obs: unknown trace exporter %q", name)
}

// lockedWriter serializes writes, so that spans and other output sharing
// a stream are not interleaved mid-line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TracerProvider returns the provider that makes the process's spans: a
// no-op one when tracing exports nothing.
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if t == nil || t.sdk == nil {
		return noop.NewTracerProvider()
	}
	return t.sdk
}

// Shutdown exports the spans still queued and stops the exporters. It
// bounds the wait by ctx.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("obs: shutting down tracing: %w", err)
	}
	return nil
}

// LogAttrs describes the configuration for a start-up log line. The
// endpoint is shown without user information or query, which may carry
// credentials.
func (t *Tracing) LogAttrs() []any {
	if t == nil || len(t.cfg.Exporters) == 0 {
		return []any{"exporters", ExporterNone}
	}
	attrs := []any{"exporters", strings.Join(t.cfg.Exporters, ","), "service", t.cfg.ServiceName}
	if t.cfg.Endpoint != "" {
		if u, err := url.Parse(t.cfg.Endpoint); err == nil {
			u.User, u.RawQuery = nil, ""
			attrs = append(attrs, "endpoint", u.String())
		}
	}
	sampler := "ParentBased{root:AlwaysOnSampler}"
	if t.cfg.Sampler != nil {
		sampler = t.cfg.Sampler.Description()
	}
	return append(attrs, "sampler", sampler)
}

// attrRequestID is the span attribute with the request id, which finds a
// span's log lines.
var attrRequestID = attribute.Key("jt.request_id")

// TracingEnabled reports whether tp makes spans of its own. Nil and the
// no-op provider make none, so incoming trace context only passes through.
func TracingEnabled(tp trace.TracerProvider) bool {
	switch tp.(type) {
	case nil, noop.TracerProvider:
		return false
	}
	return true
}

// routeSDKLogs sends the OpenTelemetry SDK's errors and log messages, which
// are process-wide, to logger.
func routeSDKLogs(logger *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry error", "err", err)
	}))
	otel.SetLogger(logr.FromSlogHandler(logger.Handler()))
}

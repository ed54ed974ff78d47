package obs

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// propagator reads and writes W3C Trace Context: the traceparent and
// tracestate fields. Baggage is not propagated.
var propagator = propagation.TraceContext{}

// Propagator returns the W3C Trace Context propagator that every host and
// function shares, for carriers other than HTTP headers, such as queue
// messages.
func Propagator() propagation.TextMapPropagator { return propagator }

// Canonical header names of the W3C Trace Context fields.
const (
	traceparentHeader = "Traceparent"
	tracestateHeader  = "Tracestate"
)

// ExtractHTTP returns ctx with the remote span context that h's
// traceparent and tracestate headers carry. The library's propagator
// validates the fields, and a missing, repeated or malformed traceparent
// leaves ctx as it is.
func ExtractHTTP(ctx context.Context, h http.Header) context.Context {
	if len(h[traceparentHeader]) == 0 {
		return ctx
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && traceHeadersMatch(sc, h) {
		// An in-process caller, such as the gateway in localdev, left in
		// ctx the span context that h carries, so extracting it again
		// would only allocate an equal context.
		return ctx
	}
	return propagator.Extract(ctx, headerCarrier(h))
}

// InjectHTTP sets h's traceparent and tracestate to the span context of
// ctx. Without a valid one it removes them, so that a caller's malformed
// or stale values are not passed on as if they were this process's.
func InjectHTTP(ctx context.Context, h http.Header) {
	delete(h, tracestateHeader)
	if !trace.SpanContextFromContext(ctx).IsValid() {
		delete(h, traceparentHeader)
		return
	}
	propagator.Inject(ctx, headerCarrier(h))
}

// headerCarrier is propagation.HeaderCarrier with the two fields' names
// canonical already, which saves http.Header's canonicalization and its
// allocation on every request.
type headerCarrier http.Header

// Get returns the field named key. A traceparent sent more than once is
// ambiguous and treated as missing. Several tracestate lines are joined
// with commas into one list, as HTTP combines repeated list fields.
func (c headerCarrier) Get(key string) string {
	switch key {
	case "traceparent":
		if v := c[traceparentHeader]; len(v) == 1 {
			return v[0]
		}
		return ""
	case "tracestate":
		v := c[tracestateHeader]
		if len(v) == 1 {
			return v[0]
		}
		return strings.Join(v, ",")
	}
	return http.Header(c).Get(key)
}

// Set stores value as the only value of key, in place when the header
// has exactly one value already.
func (c headerCarrier) Set(key, value string) {
	var name string
	switch key {
	case "traceparent":
		name = traceparentHeader
	case "tracestate":
		name = tracestateHeader
	default:
		name = http.CanonicalHeaderKey(key)
	}
	if v := c[name]; len(v) == 1 {
		v[0] = value
		return
	}
	c[name] = []string{value}
}

// Keys returns the header names.
func (c headerCarrier) Keys() []string {
	return propagation.HeaderCarrier(c).Keys()
}

// WithTraceHeaders returns h with traceparent and tracestate set to the
// span context of ctx, or removed when ctx has none, as InjectHTTP does,
// but without changing h: a handler must not change its request's header
// map. When the fields are right already, such as when ctx carries the
// trace context that h's traceparent brought in, it returns h and false.
// Otherwise it returns a copy, whose values share h's slices except for
// the two fields, and true.
func WithTraceHeaders(ctx context.Context, h http.Header) (http.Header, bool) {
	sc := trace.SpanContextFromContext(ctx)
	if traceHeadersMatch(sc, h) {
		return h, false
	}
	out := make(http.Header, len(h)+1)
	for k, v := range h {
		if k != traceparentHeader && k != tracestateHeader {
			out[k] = v
		}
	}
	if sc.IsValid() {
		propagator.Inject(ctx, headerCarrier(out))
	}
	return out, true
}

// traceHeadersMatch reports whether h's traceparent and tracestate are
// what InjectHTTP would write for sc. It formats into a stack buffer, so
// the check allocates nothing.
func traceHeadersMatch(sc trace.SpanContext, h http.Header) bool {
	parent, state := h[traceparentHeader], h[tracestateHeader]
	if !sc.IsValid() {
		return len(parent) == 0 && len(state) == 0
	}
	if len(parent) != 1 {
		return false
	}
	if ts := sc.TraceState(); ts.Len() > 0 {
		if len(state) != 1 || state[0] != ts.String() {
			return false
		}
	} else if len(state) != 0 {
		return false
	}

	// version "00", trace id, span id and the two flags that W3C defines,
	// as propagation.TraceContext writes them.
	var buf [55]byte
	const hexDigits = "0123456789abcdef"
	put := func(at int, b []byte) {
		for i, c := range b {
			buf[at+2*i] = hexDigits[c>>4]
			buf[at+2*i+1] = hexDigits[c&0x0f]
		}
	}
	tid, sid := sc.TraceID(), sc.SpanID()
	flags := [1]byte{byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))}
	buf[0], buf[1], buf[2], buf[35], buf[52] = '0', '0', '-', '-', '-'
	put(3, tid[:])
	put(36, sid[:])
	put(53, flags[:])
	return parent[0] == string(buf[:])
}

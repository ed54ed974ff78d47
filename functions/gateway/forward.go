package gateway

import (
	"net/http"
	"time"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/obs"
)

// The identity headers cover the method and the path that the function
// receives. The router settles that path only when it rewrites it and, for
// upstreams, puts the upstream URL's own path in front. So the gateway
// signs at the last moment: in a wrapper around each in-process function,
// and in the transport that sends upstream requests.

// signFunction wraps an in-process function so that it receives the
// verified identity as signed headers, as it would over HTTP. The request
// it gets has RequestURI set to the rewritten path and query, which
// auth.VerifyIdentity checks, and a context whose identity is cleared, so
// that the function trusts the signed headers alone.
func (g *Gateway) signFunction(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := auth.FromContext(r.Context())
		if id == nil {
			next.ServeHTTP(w, r)
			return
		}

		out := r.WithContext(auth.WithIdentity(r.Context(), nil))
		out.RequestURI = r.URL.RequestURI()
		if err := auth.SignIdentity(g.cfg.IdentitySecret, out, id, g.now()); err != nil {
			httpx.WriteError(w, r, g.logger, httpx.Wrap(httpx.CodeInternal, err))
			return
		}
		next.ServeHTTP(w, out)
	})
}

// signingTransport signs the verified identity onto each upstream request
// that carries one in its context.
type signingTransport struct {
	next   http.RoundTripper
	secret auth.Secret
	now    func() time.Time
}

// RoundTrip signs a copy of req and sends it. It leaves requests without
// an identity, such as health probes, unchanged.
func (t *signingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	id := auth.FromContext(req.Context())
	if id == nil {
		return t.next.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	if err := auth.SignIdentity(t.secret, out, id, t.now()); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	return t.next.RoundTrip(out)
}

// CloseIdleConnections closes the idle connections of the wrapped
// transport.
func (t *signingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// forwardTrace wraps an in-process function so that it receives the
// gateway's span context as traceparent and tracestate headers, as it
// would over HTTP, in place of the values the client sent. The function's
// obs middleware reads them back, so a function hosted in process takes
// the same path as one behind an upstream URL. A request whose headers are
// right already, such as one without trace context when tracing is off,
// is passed on as it is.
func forwardTrace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, changed := obs.WithTraceHeaders(r.Context(), r.Header)
		if !changed {
			next.ServeHTTP(w, r)
			return
		}
		out := *r
		out.Header = h
		next.ServeHTTP(w, &out)
	})
}

// traceScope is the instrumentation scope of the gateway's client spans.
const traceScope = "github.com/jingtong/backend/functions/gateway"

var clientSpanOptions = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// tracingTransport makes a client span for each upstream attempt, as a
// child of the gateway's server span, and sends that span's context as
// traceparent and tracestate. The span ends when the response headers
// arrive, so it does not cover the body's transfer.
type tracingTransport struct {
	next http.RoundTripper
}

// RoundTrip sets the trace headers on req and sends it. It changes req's
// header map in place, against the usual RoundTripper rule. That is safe
// because the router builds each attempt from the incoming request's
// header map, which it rewrites in place itself, and signingTransport
// sends a copy. A request without a span context, such as a health probe,
// goes out without trace headers.
func (t *tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	parent := trace.SpanFromContext(ctx)
	if !parent.SpanContext().IsValid() {
		obs.InjectHTTP(ctx, req.Header)
		return t.next.RoundTrip(req)
	}

	ctx, span := parent.TracerProvider().Tracer(traceScope).Start(ctx, req.Method, clientSpanOptions...)
	obs.InjectHTTP(ctx, req.Header)
	resp, err := t.next.RoundTrip(req)
	if span.IsRecording() {
		span.SetAttributes(
			semconv.HTTPRequestMethodKey.String(req.Method),
			semconv.ServerAddress(req.URL.Hostname()),
			semconv.URLPath(req.URL.Path),
		)
		switch {
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, "upstream request failed")
		case resp.StatusCode >= 400:
			span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
			span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
		default:
			span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
		}
	}
	span.End()
	return resp, err
}

// CloseIdleConnections closes the idle connections of the wrapped
// transport.
func (t *tracingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

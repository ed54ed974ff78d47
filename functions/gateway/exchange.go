package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/ratelimit"
)

// exchange is the state of one request in the edge chain. The logger step
// creates it, inner steps fill in the route and the caller, and the access
// log and the audit record read it once the response is written. It is
// also the ResponseWriter that records the status sent to the client, and
// the request's context: it returns itself for exchangeKey and looks every
// other key up in the context it wraps, which saves a context.WithValue
// per request.
type exchange struct {
	http.ResponseWriter
	context.Context
	status int

	start     time.Time
	remote    string // r.RemoteAddr
	forwarded []string
	proxies   *trustedProxies
	ip        netip.Addr
	ipKey     string
	ipDone    bool

	route     string
	subject   string
	enveloped bool

	// decisions are the rate-limit results so far, so that the response
	// carries RateLimit headers for every policy checked. They start in
	// decisionsBuf, which holds the per-IP, per-caller and route limits of
	// a typical request without an allocation.
	decisions    []ratelimit.Decision
	decisionsBuf [4]ratelimit.Decision
}

type exchangeKey struct{}

// exchangeFrom returns the exchange of a request that passed
// Gateway.track. Handlers outside the edge chain (tests, the internal
// path) get a fresh one.
func exchangeFrom(r *http.Request) *exchange {
	ctx := r.Context()
	if ex, ok := ctx.(*exchange); ok {
		return ex
	}
	if ex, ok := ctx.Value(exchangeKey{}).(*exchange); ok {
		return ex
	}
	return &exchange{start: time.Now(), remote: r.RemoteAddr, proxies: &trustedProxies{}}
}

// Value returns the exchange for exchangeKey and looks other keys up in
// the wrapped context.
func (e *exchange) Value(key any) any {
	if _, ok := key.(exchangeKey); ok {
		return e
	}
	return e.Context.Value(key)
}

// WriteHeader records the first final status and sets the RateLimit
// headers for it.
func (e *exchange) WriteHeader(code int) {
	if e.status == 0 && code >= 200 {
		e.status = code
		e.setLimitHeaders()
	}
	e.ResponseWriter.WriteHeader(code)
}

// Write records status 200, and sets the RateLimit headers, when no
// status was written.
func (e *exchange) Write(b []byte) (int, error) {
	if e.status == 0 {
		e.status = http.StatusOK
		e.setLimitHeaders()
	}
	return e.ResponseWriter.Write(b)
}

// setLimitHeaders sets RateLimit and RateLimit-Policy for every limit
// checked so far. The limit steps leave this to the response, so that a
// request that passes several of them gets the headers built once, and a
// request that a later step rejects still gets them.
func (e *exchange) setLimitHeaders() {
	if len(e.decisions) > 0 {
		ratelimit.SetHeaders(e.Header(), e.decisions...)
	}
}

// Unwrap lets http.ResponseController reach the underlying writer, so that
// streamed upstream responses can still be flushed.
func (e *exchange) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// statusCode returns the status sent, 200 when the handler wrote nothing.
func (e *exchange) statusCode() int {
	if e.status == 0 {
		return http.StatusOK
	}
	return e.status
}

// clientIP returns the client address and its rate-limit key, resolving
// them on first use so that requests that need neither pay nothing.
func (e *exchange) clientIP() (netip.Addr, string) {
	if !e.ipDone {
		e.ip = e.proxies.clientIP(e.remote, e.forwarded)
		e.ipKey = ratelimit.IPKey(e.ip)
		e.ipDone = true
	}
	return e.ip, e.ipKey
}

// track is the logger step. It starts the exchange of each request and
// logs the outcome at Debug once the response is written. Errors are
// logged where they are handled, by httpx.WriteError.
func (g *Gateway) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := &exchange{
			ResponseWriter: w,
			start:          g.now(),
			remote:         r.RemoteAddr,
			forwarded:      r.Header["X-Forwarded-For"],
			proxies:        &g.proxies,
			Context:        r.Context(),
		}
		ex.decisions = ex.decisionsBuf[:0]
		next.ServeHTTP(ex, r.WithContext(ex))

		// The client address stays out of the log because it is personal
		// data.
		if !g.logger.Enabled(r.Context(), slog.LevelDebug) {
			return
		}
		g.logger.DebugContext(r.Context(), "gateway request",
			"request_id", httpx.RequestID(r.Context()), "method", r.Method, "path", r.URL.Path,
			"route", ex.route, "enveloped", ex.enveloped, "subject", ex.subject, "status", ex.statusCode(),
			"duration_ms", float64(g.now().Sub(ex.start).Microseconds())/1000)
	})
}

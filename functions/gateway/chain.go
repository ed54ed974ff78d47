package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jingtong/backend/functions/gateway/audit"
	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/functions/gateway/route"
	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/ratelimit"
)

// edgeHandler builds the public edge. The steps run in this order, so that
// the cheap rejections (size, per-IP rate, overload, unknown routes) come
// before any SM2 or SM4 work:
//
//	request ID → logger → recoverer → header limit → body limit →
//	per-IP rate limit → concurrency shedding → route match, CORS (404,
//	405, 403) → [per route: audit → SM envelope → auth → per-caller and
//	per-route rate limits → identity headers → forwarding]
//
// The steps in brackets are built once per route by routeChain.
func (g *Gateway) edgeHandler() http.Handler {
	h := g.router.Handler(g.routeChain)
	h = g.concurrency.Middleware(h)
	if g.cfg.RateLimits && g.cfg.IPRate != nil {
		h = g.limitIP(h)
	}
	h = g.limitBody(h)
	h = httpx.LimitHeaders(httpx.MaxHeaderBytes)(h)
	h = httpx.Recover(g.logger)(h)
	h = g.track(h)
	return httpx.RequestIDs(h)
}

// routeChain builds the per-route steps around forward, the router's
// forwarder for rt.
func (g *Gateway) routeChain(rt *route.Route, forward http.Handler) http.Handler {
	h := stripCredentials(forward)
	if g.cfg.RateLimits {
		h = g.limitCaller(rt, h)
	}
	h = g.authenticate(rt, h)
	h = g.protect(rt, h)
	return g.record(rt, h)
}

// limitBody rejects a request whose Content-Length exceeds MaxBody with
// 413 before reading it, and caps the bytes read from a body of unknown
// length.
func (g *Gateway) limitBody(next http.Handler) http.Handler {
	limit := g.cfg.MaxBody
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			httpx.WriteError(w, r, g.logger, httpx.E(httpx.CodeBodyTooLarge, g.bodyLimit(r)))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// bodyLimit returns the body limit to name in a 413 for r: the route's
// when it is below the edge's, so that a client that trims its body to
// the limit named is not rejected again by the route.
func (g *Gateway) bodyLimit(r *http.Request) int64 {
	if rt, ok := g.router.Match(r); ok && rt.MaxBodyBytes < g.cfg.MaxBody {
		return rt.MaxBodyBytes
	}
	return g.cfg.MaxBody
}

// ipPolicy names the per-IP limit in RateLimit headers.
const ipPolicy = "ip"

// limitIP applies the per-IP limit with the in-process limiter, which
// costs no network round trip. Each instance counts its own share.
func (g *Gateway) limitIP(next http.Handler) http.Handler {
	policy := ratelimit.Policy{Name: ipPolicy, Limit: *g.cfg.IPRate, Parts: ratelimit.PartIP}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeFrom(r)
		_, ipKey := ex.clientIP()
		key, ok := policy.Key(ratelimit.Key{IP: ipKey})
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		res, err := g.ipLimiter.Allow(r.Context(), key, policy.Limit, 1)
		if err != nil {
			httpx.WriteError(w, r, g.logger, err)
			return
		}
		ex.decisions = append(ex.decisions, ratelimit.Decision{Name: ipPolicy, Result: res})
		if !res.Allowed {
			ratelimit.WriteTooManyRequests(w, r, g.logger, ex.decisions...)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// record is the outermost per-route step. It names the route for the
// access log and, for protected requests, writes an audit record once the
// response is sent. A request is protected when its route is identified
// or it carries X-JT-Session. Rejected protected requests (a bad
// signature, a replay, a missing token) are recorded too.
func (g *Gateway) record(rt *route.Route, next http.Handler) http.Handler {
	identified := rt.Class == route.ClassIdentified
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeFrom(r)
		ex.route = rt.Name
		// Unwrap deletes X-JT-Session from the shared header map, so look
		// before the envelope step runs.
		if !identified && len(r.Header[envelope.HeaderSession]) == 0 {
			next.ServeHTTP(w, r)
			return
		}

		next.ServeHTTP(w, r)
		g.audit.Log(audit.Record{
			Subject:   ex.subject,
			Route:     rt.Name,
			Method:    r.Method,
			Path:      r.URL.Path,
			Status:    ex.statusCode(),
			LatencyMS: g.now().Sub(ex.start).Milliseconds(),
			RequestID: httpx.RequestID(r.Context()),
			Time:      ex.start,
		})
	})
}

// protect applies the SM envelope. Identified routes require it: a
// plaintext request gets 401 ENVELOPE_REQUIRED. On public routes it is
// optional: a request with X-JT-Session is unwrapped and its response
// protected, and a plaintext request passes as it is, so that catalogue
// reads stay cacheable with ETag.
func (g *Gateway) protect(rt *route.Route, next http.Handler) http.Handler {
	required := rt.Class == route.ClassIdentified
	enveloped := g.envelope.Middleware(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header[envelope.HeaderSession]) > 0 {
			exchangeFrom(r).enveloped = true
			enveloped.ServeHTTP(w, r)
			return
		}
		if required {
			httpx.WriteError(w, r, g.logger, httpx.E(CodeEnvelopeRequired))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate verifies the bearer token with the identity verifier. A
// request with an invalid or expired token gets 401 on every route. A
// request without one gets 401 UNAUTHORIZED on identified routes and
// passes anonymous on public ones. A verified user is bound to the
// request's session on first use, and a token for another user than the
// session's gets 401 SESSION_SUBJECT_MISMATCH.
func (g *Gateway) authenticate(rt *route.Route, next http.Handler) http.Handler {
	required := rt.Class == route.ClassIdentified
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := auth.FromContext(r.Context())
		if id == nil {
			if required {
				w.Header().Set("WWW-Authenticate", bearerChallenge)
				httpx.WriteError(w, r, g.logger, httpx.E(httpx.CodeUnauthorized))
				return
			}
			next.ServeHTTP(w, r)
			return
		}

		exchangeFrom(r).subject = id.Subject
		if sess := envelope.SessionFromContext(r.Context()); sess != nil {
			if err := g.bindSubject(r, sess, id.Subject); err != nil {
				httpx.WriteError(w, r, g.logger, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
	return g.verifier.Middleware(g.logger)(inner)
}

// bindSubject binds subject to sess on the session's first authenticated
// request and rejects a later request for another subject.
//
// NOTE: two concurrent first requests for different subjects can both
// bind; the later write wins. A client uses one session for one user, so
// this needs a client that shares a session between users.
func (g *Gateway) bindSubject(r *http.Request, sess *envelope.Session, subject string) error {
	switch sess.Subject {
	case subject:
		return nil
	case "":
		if _, err := g.envelope.BindSubject(r.Context(), sess, subject); err != nil {
			return httpx.Wrap(httpx.CodeNotReady, err)
		}
		return nil
	}
	return httpx.E(CodeSessionSubjectMismatch)
}

// limitCaller applies the per-caller policies (per user, per app) and the
// route's own limits in one pass. The exchange sets RateLimit headers
// listing every policy checked, the per-IP one included, when the
// response is written. The per-caller policies and
// the route limits share the limiter, which is Redis when configured. The
// first denial gets 429 RATE_LIMITED with Retry-After.
func (g *Gateway) limitCaller(rt *route.Route, next http.Handler) http.Handler {
	if len(g.callerPolicies) == 0 && len(rt.RateLimits) == 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeFrom(r)
		key := g.limitKey(r, ex)
		for _, p := range g.callerPolicies {
			k, ok := p.Key(key)
			if ok && !g.allow(w, r, ex, k, p.Name, p.Limit) {
				return
			}
		}
		for _, l := range rt.RateLimits {
			k, ok := l.Key(r.URL.Path, key)
			if ok && !g.allow(w, r, ex, k, l.Name, l.Limit) {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// allow checks one limit and writes the response when the request may not
// go on.
func (g *Gateway) allow(w http.ResponseWriter, r *http.Request, ex *exchange, key, name string, limit ratelimit.Limit) bool {
	res, err := g.limiter.Allow(r.Context(), key, limit, 1)
	if err != nil {
		if errors.Is(err, ratelimit.ErrUnavailable) {
			w.Header().Set(ratelimit.HeaderRetryAfter, strconv.Itoa(1))
			err = httpx.Wrap(httpx.CodeNotReady, err)
		}
		httpx.WriteError(w, r, g.logger, err)
		return false
	}
	ex.decisions = append(ex.decisions, ratelimit.Decision{Name: name, Result: res})
	if !res.Allowed {
		ratelimit.WriteTooManyRequests(w, r, g.logger, ex.decisions...)
		return false
	}
	return true
}

// Headers that name the caller's channel and app when its token does not.
const (
	channelHeader = "X-Jt-Channel"
	appHeader     = "X-Jt-App"
)

// limitKey returns the caller's rate-limit key parts. The channel and app
// come from the verified token, or else from the X-JT-Channel and
// X-JT-App headers when those hold a valid value. Headers are the
// client's claim, so they only split quotas and grant nothing.
func (g *Gateway) limitKey(r *http.Request, ex *exchange) ratelimit.Key {
	_, ipKey := ex.clientIP()
	key := ratelimit.Key{IP: ipKey}
	if id := auth.FromContext(r.Context()); id != nil {
		key.User, key.Channel, key.App = id.Subject, id.Channel, id.App
	}
	if key.Channel == "" {
		key.Channel = headerToken(r, channelHeader, auth.MaxChannelSize)
	}
	if key.App == "" {
		key.App = headerToken(r, appHeader, auth.MaxAppSize)
	}
	return key
}

// headerToken returns the value of header when it has 1 to maxLen
// characters of A-Z, a-z, 0-9, '.', '_' and '-', and "" otherwise.
func headerToken(r *http.Request, header string, maxLen int) string {
	v := r.Header.Get(header)
	if v == "" || len(v) > maxLen {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if !isTokenByte(v[i]) {
			return ""
		}
	}
	return v
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// stripCredentials deletes Authorization and every X-JT-Identity* and
// X-JT-Platform* header that the client sent, so that only the identity
// the gateway verified and signs reaches the function, and user tokens
// end at the gateway.
func stripCredentials(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delete(r.Header, "Authorization")
		for name := range r.Header {
			if hasPrefixFold(name, "X-Jt-Identity") || hasPrefixFold(name, "X-Jt-Platform") {
				delete(r.Header, name)
			}
		}
		next.ServeHTTP(w, r)
	})
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

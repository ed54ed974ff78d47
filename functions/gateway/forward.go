package gateway

import (
	"net/http"
	"time"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/httpx"
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

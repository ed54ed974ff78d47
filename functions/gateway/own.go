package gateway

import (
	_ "embed"
	"net/http"
	"strconv"
	"strings"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/functions/gateway/identity"
	"github.com/jingtong/backend/shared/httpx"
)

// openAPIDocument describes the gateway's own routes.
//
//go:embed openapi.json
var openAPIDocument []byte

// ownHandler returns the handler of the gateway's own routes, relative to
// its function root. The route table reaches it as the function
// "gateway", and localdev also serves it at /function/gateway/.
func (g *Gateway) ownHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /keys", g.handleKeys)
	mux.HandleFunc("POST /session", g.envelope.OpenSession)
	mux.HandleFunc("DELETE /session", g.handleCloseSession)
	mux.Handle("POST /login", identity.NewLoginHandler(g.login, g.logger))
	if g.cfg.Identity.DevLogin {
		dev := identity.NewDevLoginHandler(g.issuer, g.logger)
		mux.Handle("POST /dev/login", dev)
		mux.Handle("GET /dev/users", dev)
	}
	mux.HandleFunc("GET /openapi.json", handleOpenAPI)
	mux.Handle("/", unmatched(mux))
	return mux
}

// handleKeys returns the gateway's public keys, the listing that clients
// check their pinned keys against. Browsers and CDNs may cache it for five
// minutes.
func (g *Gateway) handleKeys(w http.ResponseWriter, r *http.Request) {
	list, err := g.keys.PublicKeys(r.Context())
	if err != nil {
		httpx.WriteError(w, r, g.logger, httpx.Wrap(httpx.CodeNotReady, err))
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	httpx.WriteJSON(w, http.StatusOK, list)
}

// handleCloseSession closes the session that the request was sent in, so
// that a client can end it before it expires. Only the session's holder
// can sign such a request.
func (g *Gateway) handleCloseSession(w http.ResponseWriter, r *http.Request) {
	sess := envelope.SessionFromContext(r.Context())
	if sess == nil {
		httpx.WriteError(w, r, g.logger, httpx.E(CodeEnvelopeRequired))
		return
	}
	if err := g.envelope.CloseSession(r.Context(), sess.ID); err != nil {
		httpx.WriteError(w, r, g.logger, httpx.Wrap(httpx.CodeNotReady, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	h.Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openAPIDocument)
}

// unmatched responds to requests that no route of mux matched: 405 with
// an Allow header when the path exists for another method, else 404, both
// with the JSON error body.
func unmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			probe := &http.Request{Method: method, URL: r.URL, Host: r.Host, Header: http.Header{}}
			if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
				allowed = append(allowed, method)
				if method == http.MethodGet {
					allowed = append(allowed, http.MethodHead)
				}
			}
		}
		if len(allowed) == 0 {
			httpx.WriteError(w, r, nil, httpx.E(httpx.CodeNotFound))
			return
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		httpx.WriteError(w, r, nil, httpx.E(httpx.CodeMethodNotAllowed, r.Method))
	})
}

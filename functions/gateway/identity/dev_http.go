package identity

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/jingtong/backend/shared/httpx"
)

// maxLoginBody is the request body limit of the login handlers in bytes.
const maxLoginBody = 4 << 10

// DevChannel is the channel claim of tokens for development test users.
const DevChannel = "dev"

type devLoginRequest struct {
	User string `json:"user"`
}

// tokenResponse is the body of a successful login.
type tokenResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	Subject   string    `json:"subject"`
	Roles     []string  `json:"roles"`
	// Created reports whether this login created the account link.
	Created bool `json:"created,omitempty"`
}

// NewDevLoginHandler returns the development login handler, which issues a
// token for a test user without any platform:
//
//	POST {"user": "citizen"} → 200 {"token": "...", "expires_at": "RFC 3339", "subject": "dev-citizen", "roles": ["citizen"]}
//	GET                      → 200 {"users": [DevUser, ...]}
//
// Anyone who can reach it can act as any test user, the operator included,
// so the gateway mounts it only in development (such as at /dev/login). A
// nil logger discards the log.
func NewDevLoginHandler(issuer *Issuer, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			httpx.WriteJSON(w, http.StatusOK, map[string]any{"users": DevUsers()})
			return
		case http.MethodPost:
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			httpx.WriteError(w, r, logger, httpx.E(httpx.CodeMethodNotAllowed, r.Method))
			return
		}

		var req devLoginRequest
		if err := httpx.DecodeJSON(r, &req, maxLoginBody); err != nil {
			httpx.WriteError(w, r, logger, err)
			return
		}
		user, ok := LookupDevUser(req.User)
		if !ok {
			httpx.WriteError(w, r, logger, httpx.E(CodeDevUserUnknown, req.User, devUserKeys()))
			return
		}

		issued, err := issuer.Issue(r.Context(), user.identity(DevChannel, ""))
		if err != nil {
			httpx.WriteError(w, r, logger, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, newTokenResponse(issued, false))
	})
}

func newTokenResponse(t *IssuedToken, created bool) tokenResponse {
	roles := make([]string, len(t.Claims.Roles))
	for i, role := range t.Claims.Roles {
		roles[i] = string(role)
	}
	return tokenResponse{Token: t.Token, ExpiresAt: t.ExpiresAt(), Subject: t.Claims.Subject, Roles: roles, Created: created}
}

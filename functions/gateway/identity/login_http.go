package identity

import (
	"log/slog"
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

// NewLoginHandler returns the mini-program login handler:
//
//	POST {"platform": "wechat", "app_id": "wx...", "code": "<code from wx.login>"}
//	→ 200 {"token": "...", "expires_at": "RFC 3339", "subject": "...", "roles": ["citizen"], "created": true}
//
// Errors are those of Login.Login, plus the httpx request errors. A nil
// logger discards the log; 5xx errors are logged at Error with their cause,
// which never contains the code or an app secret.
func NewLoginHandler(login *Login, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			httpx.WriteError(w, r, logger, httpx.E(httpx.CodeMethodNotAllowed, r.Method))
			return
		}

		var req LoginRequest
		if err := httpx.DecodeJSON(r, &req, maxLoginBody); err != nil {
			httpx.WriteError(w, r, logger, err)
			return
		}
		result, err := login.Login(r.Context(), req)
		if err != nil {
			httpx.WriteError(w, r, logger, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, newTokenResponse(result.Token, result.Created))
	})
}

package zones

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store/storetest"
)

// identityTestSecret is the identity secret of the gateway tests.
const identityTestSecret = "0123456789abcdef0123456789abcdef"

// signedRequest returns a GET for path that carries id in identity headers
// signed with secret at now, as the gateway forwards it.
func signedRequest(t *testing.T, path string, id *auth.Identity, secret string, now time.Time) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if err := auth.SignIdentity(auth.Secret(secret), req, id, now); err != nil {
		t.Fatalf("SignIdentity: %v", err)
	}
	return req
}

func TestAdminAcceptsGatewayIdentity(t *testing.T) {
	e := newSeededEnv(t, storetest.OpenSQLite(t), withVar(auth.IdentitySecretVar, identityTestSecret))
	operator := &auth.Identity{Subject: "u-1", Roles: []auth.Role{auth.RoleOperator}, Channel: "wechat"}
	citizen := &auth.Identity{Subject: "u-2", Roles: []auth.Role{auth.RoleCitizen}}
	now := e.clock.Now()

	tests := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"operator identity", signedRequest(t, "/admin/zones", operator, identityTestSecret, now), http.StatusOK},
		{"citizen identity", signedRequest(t, "/admin/zones", citizen, identityTestSecret, now), http.StatusForbidden},
		{"wrong secret", signedRequest(t, "/admin/zones", operator, strings.Repeat("x", 32), now), http.StatusUnauthorized},
		{"signed for another path", moved(signedRequest(t, "/admin/templates", operator, identityTestSecret, now), "/admin/zones"), http.StatusUnauthorized},
		{"stale signature", signedRequest(t, "/admin/zones", operator, identityTestSecret, now.Add(-time.Hour)), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, tt.req)
		if w.Code != tt.status {
			t.Errorf("%s: GET /admin/zones = %d, want %d: %s", tt.name, w.Code, tt.status, w.Body)
		}
	}
}

// moved returns a request for path with the headers of req.
func moved(req *http.Request, path string) *http.Request {
	out := httptest.NewRequest(req.Method, path, nil)
	out.Header = req.Header.Clone()
	return out
}

func TestAdminRejectsIdentityWithoutSecret(t *testing.T) {
	e := newSeededEnv(t, storetest.OpenSQLite(t))
	operator := &auth.Identity{Subject: "u-1", Roles: []auth.Role{auth.RoleOperator}}

	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, signedRequest(t, "/admin/zones", operator, identityTestSecret, e.clock.Now()))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("identity headers without JT_IDENTITY_SECRET = %d, want 401", w.Code)
	}
}

func TestNewRejectsBadIdentitySecret(t *testing.T) {
	db := storetest.OpenSQLite(t)
	env := &fn.Env{
		Lookup: lookupMap(map[string]string{auth.IdentitySecretVar: "short"}),
		OpenDB: func(context.Context) (*bun.DB, error) { return db, nil },
	}
	if _, err := New(context.Background(), env); err == nil || !strings.Contains(err.Error(), auth.IdentitySecretVar) {
		t.Errorf("New with a short identity secret: err = %v, want one naming %s", err, auth.IdentitySecretVar)
	}
}

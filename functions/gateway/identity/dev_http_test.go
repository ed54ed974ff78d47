package identity_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/jingtong/backend/functions/gateway/identity"
	"github.com/jingtong/backend/shared/auth"
)

func postJSON(t testing.TB, h http.Handler, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

type tokenBody struct {
	Token     string   `json:"token"`
	ExpiresAt string   `json:"expires_at"`
	Subject   string   `json:"subject"`
	Roles     []string `json:"roles"`
	Created   bool     `json:"created"`
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeBody[T any](t testing.TB, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("response %q is not JSON: %v", rec.Body.String(), err)
	}
	return v
}

func TestDevLoginHandler_everyUser(t *testing.T) {
	t.Parallel()
	env := newTokenEnv(t)
	h := identity.NewDevLoginHandler(env.issuer, nil)

	wantRoles := map[string][]auth.Role{
		"citizen":              {auth.RoleCitizen},
		"elderly":              {auth.RoleCitizen, auth.RoleElderly},
		"enterprise_legal_rep": {auth.RoleCitizen, auth.RoleEnterpriseLegalRep},
		"enterprise_employee":  {auth.RoleCitizen, auth.RoleEnterpriseEmployee},
		"operator":             {auth.RoleOperator},
		"tech_reviewer":        {auth.RoleTechReviewer},
		"biz_reviewer":         {auth.RoleBizReviewer},
	}
	if n := len(identity.DevUsers()); n != len(wantRoles) {
		t.Errorf("DevUsers has %d users, want %d", n, len(wantRoles))
	}
	for key, roles := range wantRoles {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			rec := postJSON(t, h, `{"user":"`+key+`"}`)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			body := decodeBody[tokenBody](t, rec)
			id, err := env.verifier.Identity(body.Token)
			if err != nil {
				t.Fatalf("issued token does not verify: %v", err)
			}
			user, _ := identity.LookupDevUser(key)
			if id.Subject != user.Subject || body.Subject != user.Subject {
				t.Errorf("subject = %q (body %q), want %q", id.Subject, body.Subject, user.Subject)
			}
			if !slices.Equal(id.Roles, roles) {
				t.Errorf("roles = %v, want %v", id.Roles, roles)
			}
			if body.ExpiresAt != testNow.Add(identity.DefaultTTL).Format("2006-01-02T15:04:05Z07:00") {
				t.Errorf("expires_at = %q, want %s", body.ExpiresAt, testNow.Add(identity.DefaultTTL))
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

func TestDevLoginHandler_operatorMatchesDevToken(t *testing.T) {
	t.Parallel()
	user, ok := identity.LookupDevUser("operator")
	if !ok || user.Subject != auth.DevOperatorSubject {
		t.Errorf("operator test user = %+v, want subject %q like the operator token", user, auth.DevOperatorSubject)
	}
}

func TestDevLoginHandler_errors(t *testing.T) {
	t.Parallel()
	env := newTokenEnv(t)
	h := identity.NewDevLoginHandler(env.issuer, nil)

	rec := postJSON(t, h, `{"user":"root"}`)
	if rec.Code != http.StatusBadRequest || decodeBody[errorBody](t, rec).Error.Code != "DEV_USER_UNKNOWN" {
		t.Errorf("unknown user: %d %s, want 400 DEV_USER_UNKNOWN", rec.Code, rec.Body)
	}
	rec = postJSON(t, h, `{"user":"citizen","admin":true}`)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("unknown field: status %d, want 400", rec.Code)
	}

	r := httptest.NewRequest(http.MethodDelete, "/", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: status %d, want 405", rec.Code)
	}

	r = httptest.NewRequest(http.MethodGet, "/", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	list := decodeBody[struct{ Users []identity.DevUser }](t, rec)
	if rec.Code != http.StatusOK || len(list.Users) != len(identity.DevUsers()) {
		t.Errorf("GET: status %d with %d users, want 200 with %d", rec.Code, len(list.Users), len(identity.DevUsers()))
	}
}

func TestVerifierMiddleware_bearerToken(t *testing.T) {
	t.Parallel()
	env := newTokenEnv(t)
	issued, err := env.issuer.Issue(context.Background(), &auth.Identity{Subject: "dev-citizen", Roles: []auth.Role{auth.RoleCitizen}})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	expired := forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"iat": testNow.Unix() - 7200, "nbf": testNow.Unix() - 7200, "exp": testNow.Unix() - 3600}))

	tests := []struct {
		name        string
		header      string
		wantStatus  int
		wantCode    string
		wantSubject string
	}{
		{name: "valid token", header: "Bearer " + issued.Token, wantStatus: http.StatusNoContent, wantSubject: "dev-citizen"},
		{name: "lower-case scheme", header: "bearer " + issued.Token, wantStatus: http.StatusNoContent, wantSubject: "dev-citizen"},
		{name: "no header", header: "", wantStatus: http.StatusNoContent},
		{name: "basic scheme passes anonymous", header: "Basic dXNlcjpwYXNz", wantStatus: http.StatusNoContent},
		{name: "expired token", header: "Bearer " + expired, wantStatus: http.StatusUnauthorized, wantCode: "TOKEN_EXPIRED"},
		{name: "garbage token", header: "Bearer abc.def.ghi", wantStatus: http.StatusUnauthorized, wantCode: "TOKEN_INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var subject string
			h := env.verifier.Middleware(nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if id := auth.FromContext(r.Context()); id != nil {
					subject = id.Subject
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if subject != tt.wantSubject {
				t.Errorf("subject = %q, want %q", subject, tt.wantSubject)
			}
			if tt.wantCode != "" {
				if got := decodeBody[errorBody](t, rec).Error.Code; got != tt.wantCode {
					t.Errorf("code = %s, want %s", got, tt.wantCode)
				}
				if rec.Header().Get("WWW-Authenticate") == "" {
					t.Errorf("no WWW-Authenticate header on 401")
				}
			}
		})
	}
}

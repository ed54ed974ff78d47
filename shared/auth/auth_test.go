package auth_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jingtong/backend/shared/auth"
)

func TestTokenVerifier_authorizationHeader(t *testing.T) {
	t.Parallel()

	const token = "jtdev_0123456789abcdef"
	tests := []struct {
		name         string
		token        string // the verifier's token
		header       string
		wantOperator bool
	}{
		{name: "right bearer token", token: token, header: "Bearer " + token, wantOperator: true},
		{name: "lower-case bearer scheme", token: token, header: "bearer " + token, wantOperator: true},
		{name: "upper-case bearer scheme", token: token, header: "BEARER " + token, wantOperator: true},
		{name: "wrong token", token: token, header: "Bearer jtdev_wrong"},
		{name: "token prefix only", token: token, header: "Bearer " + token[:len(token)-1]},
		{name: "token with extra suffix", token: token, header: "Bearer " + token + "0"},
		{name: "trailing space after token", token: token, header: "Bearer " + token + " "},
		{name: "two spaces after scheme", token: token, header: "Bearer  " + token},
		{name: "empty header", token: token, header: ""},
		{name: "scheme only with space", token: token, header: "Bearer "},
		{name: "scheme only", token: token, header: "Bearer"},
		{name: "missing space after scheme", token: token, header: "Bearer" + token},
		{name: "basic scheme", token: token, header: "Basic " + token},
		{name: "bare token", token: token, header: token},
		{name: "empty verifier rejects token", token: "", header: "Bearer " + token},
		{name: "empty verifier rejects scheme", token: "", header: "Bearer "},
		{name: "empty verifier without header", token: "", header: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			called := false
			var id *auth.Identity
			h := auth.NewTokenVerifier(tt.token).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				id = auth.FromContext(r.Context())
				w.WriteHeader(http.StatusNoContent)
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}

			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			if !called {
				t.Fatalf("handler not called, want every request passed on")
			}
			if rec.Code != http.StatusNoContent {
				t.Errorf("status = %d, want %d from the handler", rec.Code, http.StatusNoContent)
			}
			if got := id.Has(auth.RoleOperator); got != tt.wantOperator {
				t.Errorf("operator role = %t, want %t", got, tt.wantOperator)
			}
			if tt.wantOperator && id.Subject != auth.DevOperatorSubject {
				t.Errorf("subject = %q, want %q", id.Subject, auth.DevOperatorSubject)
			}
			if !tt.wantOperator && id != nil {
				t.Errorf("identity = %+v, want nil for an anonymous caller", id)
			}
		})
	}
}

func TestIdentity_has(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		id   *auth.Identity
		want bool
	}{
		{name: "nil identity", id: nil, want: false},
		{name: "identity without roles", id: &auth.Identity{Subject: "u1"}, want: false},
		{name: "identity with other role", id: &auth.Identity{Subject: "u1", Roles: []auth.Role{"viewer"}}, want: false},
		{name: "identity with operator role", id: &auth.Identity{Subject: "u1", Roles: []auth.Role{"viewer", auth.RoleOperator}}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.id.Has(auth.RoleOperator); got != tt.want {
				t.Errorf("Has(operator) = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestFromContext_roundTrip(t *testing.T) {
	t.Parallel()

	if got := auth.FromContext(context.Background()); got != nil {
		t.Errorf("FromContext(empty) = %+v, want nil", got)
	}
	id := &auth.Identity{Subject: "u1"}
	if got := auth.FromContext(auth.WithIdentity(context.Background(), id)); got != id {
		t.Errorf("FromContext(WithIdentity(id)) = %p, want %p", got, id)
	}
}

var tokenFormat = regexp.MustCompile(`^jtdev_[0-9a-f]{64}$`)

func TestEnsureTokenFile_createsOnce(t *testing.T) {
	t.Parallel()

	dir := filepath.Join(t.TempDir(), "missing", "data")
	path := filepath.Join(dir, "operator-token")

	token, created, err := auth.EnsureTokenFile(path)
	if err != nil {
		t.Fatalf("first EnsureTokenFile: %v", err)
	}
	if !created {
		t.Errorf("first call created = false, want true")
	}
	if !tokenFormat.MatchString(token) {
		t.Errorf("token = %q, want jtdev_ and 64 hex digits", token)
	}
	if mode := fileMode(t, path); mode != 0o600 {
		t.Errorf("token file mode = %v, want 0600", mode)
	}
	if mode := fileMode(t, dir); mode != 0o700 {
		t.Errorf("token directory mode = %v, want 0700", mode)
	}

	again, created, err := auth.EnsureTokenFile(path)
	if err != nil {
		t.Fatalf("second EnsureTokenFile: %v", err)
	}
	if created {
		t.Errorf("second call created = true, want false")
	}
	if again != token {
		t.Errorf("second call token = %q, want %q", again, token)
	}

	read, err := auth.ReadTokenFile(path)
	if err != nil {
		t.Fatalf("ReadTokenFile: %v", err)
	}
	if read != token {
		t.Errorf("ReadTokenFile = %q, want %q", read, token)
	}
}

func TestEnsureTokenFile_newTokenEachFile(t *testing.T) {
	t.Parallel()

	dir := t.TempDir()
	first, _, err := auth.EnsureTokenFile(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatalf("EnsureTokenFile a: %v", err)
	}
	second, _, err := auth.EnsureTokenFile(filepath.Join(dir, "b"))
	if err != nil {
		t.Fatalf("EnsureTokenFile b: %v", err)
	}
	if first == second {
		t.Errorf("two new token files share token %q, want different tokens", first)
	}
}

func TestEnsureTokenFile_keepsEmptyFile(t *testing.T) {
	t.Parallel()

	path := writeFile(t, "")
	if _, _, err := auth.EnsureTokenFile(path); err == nil {
		t.Fatalf("EnsureTokenFile(empty file) error = nil, want an error")
	}
	if data, _ := os.ReadFile(path); len(data) != 0 {
		t.Errorf("file content = %q, want it left empty", data)
	}
}

func TestReadTokenFile_contents(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		content string
		want    string
		wantErr string
	}{
		{name: "token with newline", content: "jtdev_abc\n", want: "jtdev_abc"},
		{name: "token with surrounding spaces", content: "  jtdev_abc \r\n", want: "jtdev_abc"},
		{name: "empty file rejected", content: "", wantErr: "is empty"},
		{name: "blank file rejected", content: " \n\t\n", wantErr: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tt.content)
			got, err := auth.ReadTokenFile(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadTokenFile error = %v, want one containing %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "auth: ") {
					t.Errorf("error %q, want the auth: prefix", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadTokenFile: %v", err)
			}
			if got != tt.want {
				t.Errorf("ReadTokenFile = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadTokenFile_missingFile(t *testing.T) {
	t.Parallel()

	_, err := auth.ReadTokenFile(filepath.Join(t.TempDir(), "absent"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadTokenFile(missing) error = %v, want fs.ErrNotExist", err)
	}
}

// writeFile writes content to a new file and returns its path.
func writeFile(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	return path
}

// fileMode returns the permission bits of path.
func fileMode(t testing.TB, path string) fs.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return info.Mode().Perm()
}

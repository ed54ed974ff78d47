// Package auth identifies the caller of a function.
//
// Until the gateway forwards signed identity headers, the only identity a
// function recognises is the operator holding the development operator
// token: a random bearer token that localdev writes to its data directory at
// first start. Every other request is anonymous. Token comparison runs in
// constant time over SHA-256 digests, so neither the token's content nor its
// length leaks through timing.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// Role is what an identity may do.
type Role string

// Roles.
const (
	RoleOperator Role = "operator"
)

// Identity is a verified caller.
type Identity struct {
	Subject string
	Roles   []Role
}

// Has reports whether the identity holds role.
func (id *Identity) Has(role Role) bool {
	if id == nil {
		return false
	}
	for _, r := range id.Roles {
		if r == role {
			return true
		}
	}
	return false
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the caller's identity, or nil for an anonymous caller.
func FromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

// DevOperatorSubject is the subject of the development operator.
const DevOperatorSubject = "dev-operator"

// TokenVerifier recognises the development operator token.
type TokenVerifier struct {
	digest [sha256.Size]byte
	set    bool
}

// NewTokenVerifier returns a verifier for token. An empty token yields a
// verifier that accepts nothing.
func NewTokenVerifier(token string) *TokenVerifier {
	if token == "" {
		return &TokenVerifier{}
	}
	return &TokenVerifier{digest: sha256.Sum256([]byte(token)), set: true}
}

// Middleware attaches the operator identity to requests that carry the
// token as "Authorization: Bearer <token>". It never rejects a request:
// handlers decide what an anonymous caller may do.
func (v *TokenVerifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := v.verify(r.Header.Get("Authorization")); id != nil {
			r = r.WithContext(WithIdentity(r.Context(), id))
		}
		next.ServeHTTP(w, r)
	})
}

func (v *TokenVerifier) verify(header string) *Identity {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return nil
	}
	got := sha256.Sum256([]byte(header[len(prefix):]))
	if subtle.ConstantTimeCompare(got[:], v.digest[:]) != 1 || !v.set {
		return nil
	}
	return &Identity{Subject: DevOperatorSubject, Roles: []Role{RoleOperator}}
}

// ReadTokenFile reads a token from path, trimming surrounding white space.
func ReadTokenFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("auth: reading token file: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("auth: token file %q is empty", path)
	}
	return token, nil
}

// EnsureTokenFile returns the token stored at path, first writing a new
// random 32-byte token there (mode 0600) when the file does not exist.
// created reports whether it wrote one.
func EnsureTokenFile(path string) (token string, created bool, err error) {
	token, err = ReadTokenFile(path)
	if err == nil {
		return token, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", false, err
	}

	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, fmt.Errorf("auth: generating a token: %w", err)
	}
	token = "jtdev_" + hex.EncodeToString(b[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("auth: creating the token directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("auth: creating token file: %w", err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		_ = f.Close()
		return "", false, fmt.Errorf("auth: writing token file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("auth: writing token file: %w", err)
	}
	return token, true, nil
}

// Package auth identifies the caller of a function.
//
// A function recognises three kinds of caller, and treats every other
// request as anonymous:
//
//   - a user, from the identity headers that the gateway signs with
//     HMAC-SM3 after it has verified the user's token (see [SignIdentity]);
//   - the platform itself, from the platform token that cron ticks, queue
//     deliveries and other internal calls carry (see [SignPlatform]);
//   - the development operator, from a random bearer token that localdev
//     writes to its data directory at first start ([TokenVerifier]).
//
// [Middleware] checks all three. It never rejects a request: handlers decide
// what an anonymous caller may do. Every comparison of a MAC or a token runs
// in constant time: MACs through crypto/hmac.Equal, and the operator token
// over SHA-256 digests, so neither its content nor its length leaks through
// timing.
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

// Role is a permission set granted to an identity, such as "operator".
type Role string

// Roles.
const (
	// RoleCitizen is an individual user who logged in through a
	// mini-program, the app or H5.
	RoleCitizen Role = "citizen"
	// RoleElderly marks a citizen whose account a family member may be
	// bound to for delegated handling.
	RoleElderly Role = "elderly"
	// RoleEnterpriseLegalRep is the legal representative of an enterprise,
	// who binds employees' accounts to the enterprise.
	RoleEnterpriseLegalRep Role = "enterprise_legal_rep"
	// RoleEnterpriseEmployee is an employee acting for an enterprise.
	RoleEnterpriseEmployee Role = "enterprise_employee"
	// RoleOperator administers zones, services and other content.
	RoleOperator Role = "operator"
	// RoleTechReviewer performs the technical review of a registered
	// resource, the first of its two reviews.
	RoleTechReviewer Role = "tech_reviewer"
	// RoleBizReviewer performs the business review of a registered resource,
	// after the technical review.
	RoleBizReviewer Role = "biz_reviewer"
	// RolePlatform marks a call from the platform itself: a cron tick, a
	// queue delivery or another internal call with a valid platform token.
	// Only the platform token grants it; identity headers and user tokens
	// that name it are rejected.
	RolePlatform Role = "platform"
)

// Identity is a verified caller.
type Identity struct {
	// Subject is the stable user ID, such as "dev-operator" or a UUID.
	Subject string
	// Roles are the caller's roles.
	Roles []Role
	// Channel is the front end the user came through, such as "wechat",
	// "alipay" or "baidu"; empty when unknown.
	Channel string
	// App is the mini-program or app ID the user logged in to; empty when
	// unknown.
	App string
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

package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/jingtong/backend/shared/httpx"
)

// Options configures [Middleware]. The zero value accepts no credential,
// so every request is anonymous.
type Options struct {
	// OperatorToken is the development operator bearer token. Empty means
	// no operator token is accepted.
	OperatorToken string
	// IdentitySecret is the HMAC-SM3 key of the identity headers
	// (JT_IDENTITY_SECRET). Empty means identity headers are never
	// accepted.
	IdentitySecret Secret
	// PlatformSecret is the HMAC-SM3 key of the platform token
	// (JT_PLATFORM_SECRET). Empty means platform tokens are never accepted.
	PlatformSecret Secret
	// MaxSkew is how far a signing time may be from Now, in either
	// direction. Zero means DefaultMaxSkew (60 s).
	MaxSkew time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// Logger receives a Debug line for each rejected credential. Nil
	// discards them.
	Logger *slog.Logger
}

// Middleware returns middleware that identifies the caller of each request
// and stores the identity in the request context, where [FromContext] finds
// it. It never rejects a request, and it checks, in this order:
//
//  1. identity headers signed by the gateway, giving the user's identity;
//  2. a platform token, giving the identity with subject "platform" and
//     role [RolePlatform];
//  3. the operator bearer token, giving the development operator.
//
// The first valid credential wins. A request with none is anonymous, and so
// is a request whose identity headers or platform token are invalid. The
// identity and platform headers are removed from every request before it
// reaches next, valid or not, so handlers can trust only the context.
//
// It returns an error when a secret is set but shorter than MinSecretSize,
// or when the identity and platform secrets are equal.
func Middleware(opts Options) (func(http.Handler) http.Handler, error) {
	if len(opts.IdentitySecret) > 0 {
		if err := checkSecret(opts.IdentitySecret); err != nil {
			return nil, errors.New("auth: identity secret is shorter than 32 bytes")
		}
	}
	if len(opts.PlatformSecret) > 0 {
		if err := checkSecret(opts.PlatformSecret); err != nil {
			return nil, errors.New("auth: platform secret is shorter than 32 bytes")
		}
	}
	if len(opts.IdentitySecret) > 0 && bytes.Equal(opts.IdentitySecret, opts.PlatformSecret) {
		return nil, errors.New("auth: identity and platform secrets are equal; use two different secrets")
	}

	m := &identifier{
		operator:       NewTokenVerifier(opts.OperatorToken),
		identitySecret: opts.IdentitySecret,
		platformSecret: opts.PlatformSecret,
		maxSkew:        opts.MaxSkew,
		now:            opts.Now,
		logger:         opts.Logger,
	}
	if m.maxSkew <= 0 {
		m.maxSkew = DefaultMaxSkew
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id := m.identify(r); id != nil {
				r = r.WithContext(WithIdentity(r.Context(), id))
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

type identifier struct {
	operator       *TokenVerifier
	identitySecret Secret
	platformSecret Secret
	maxSkew        time.Duration
	now            func() time.Time
	logger         *slog.Logger
}

// identify returns the caller of r, or nil for an anonymous caller, and
// strips the identity and platform headers from r.
func (m *identifier) identify(r *http.Request) *Identity {
	// Most requests, such as public catalogue reads, carry no credential at
	// all; answer them without any verification work.
	if !hasCredentialHeaders(r.Header) {
		return nil
	}
	now := m.now()
	user, userErr := VerifyIdentity(m.identitySecret, r, now, m.maxSkew)
	platformErr := VerifyPlatform(m.platformSecret, r, now, m.maxSkew)
	stripHeaders(r.Header)

	if userErr != nil && !errors.Is(userErr, ErrNoIdentity) {
		m.logger.DebugContext(r.Context(), "identity headers rejected", "request_id", httpx.RequestID(r.Context()), "err", userErr)
	}
	if platformErr != nil && !errors.Is(platformErr, ErrNoPlatformToken) {
		m.logger.DebugContext(r.Context(), "platform token rejected", "request_id", httpx.RequestID(r.Context()), "err", platformErr)
	}

	switch {
	case userErr == nil:
		return user
	case platformErr == nil:
		return &Identity{Subject: PlatformSubject, Roles: []Role{RolePlatform}}
	}
	return m.operator.verify(r.Header.Get("Authorization"))
}

// IsPlatform reports whether the caller stored in ctx is the platform
// itself, identified by a valid platform token.
func IsPlatform(ctx context.Context) bool {
	return FromContext(ctx).Has(RolePlatform)
}

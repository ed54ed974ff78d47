package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/smcrypto"
)

// Verifier defaults.
const (
	// DefaultLeeway is the clock skew allowed when checking exp, nbf and iat.
	DefaultLeeway = 60 * time.Second
	// MaxLeeway is the largest leeway a Verifier accepts.
	MaxLeeway = 5 * time.Minute
)

// Errors that Verify wraps, for callers that branch with errors.Is. Verify
// returns them inside an *httpx.Error with CodeTokenInvalid or
// CodeTokenExpired.
var (
	ErrTokenInvalid = errors.New("identity: invalid token")
	ErrTokenExpired = errors.New("identity: token expired")
)

// VerifierConfig configures a Verifier. Zero fields other than Keys take the
// defaults.
type VerifierConfig struct {
	// Keys are the trusted SM2 public keys by key ID. A token whose kid is
	// not here is rejected. Required.
	Keys map[string]*smcrypto.PublicKey
	// Issuer is the only accepted iss (default DefaultIssuer).
	Issuer string
	// Audience is the only accepted aud (default DefaultAudience).
	Audience string
	// Leeway is the allowed clock skew, at most MaxLeeway (default
	// DefaultLeeway, 60 s).
	Leeway time.Duration
	// MaxLifetime is the longest accepted exp − iat (default MaxTTL, 24 h).
	MaxLifetime time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	cfg VerifierConfig
}

// NewVerifier returns a Verifier that trusts cfg.Keys. The map is copied,
// so rotating keys means building a new Verifier.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("identity: the verifier has no trusted keys")
	}
	for kid, key := range cfg.Keys {
		if err := smcrypto.ValidateKeyID(kid); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		if key == nil {
			return nil, fmt.Errorf("identity: trusted key %q is nil", kid)
		}
	}
	cfg.Keys = maps.Clone(cfg.Keys)
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.MaxLifetime == 0 {
		cfg.MaxLifetime = MaxTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Leeway < 0 || cfg.Leeway > MaxLeeway {
		return nil, fmt.Errorf("identity: leeway %s is out of range; use 0s to %s", cfg.Leeway, MaxLeeway)
	}
	if cfg.MaxLifetime < 0 {
		return nil, fmt.Errorf("identity: negative maximum token lifetime %s", cfg.MaxLifetime)
	}
	return &Verifier{cfg: cfg}, nil
}

// KeysFromList returns the public keys of a key listing by key ID, for
// VerifierConfig.Keys. The gateway builds it from its key provider's
// PublicKeys.
func KeysFromList(list *smcrypto.KeyList) (map[string]*smcrypto.PublicKey, error) {
	if list == nil {
		return nil, errors.New("identity: key list is nil")
	}
	keys := make(map[string]*smcrypto.PublicKey, len(list.Keys))
	for _, info := range list.Keys {
		if info.Alg != smcrypto.AlgorithmSM2 {
			return nil, fmt.Errorf("identity: key %q has algorithm %q; expected %q", info.KID, info.Alg, smcrypto.AlgorithmSM2)
		}
		pub, err := smcrypto.ParsePublicKeyHex(info.PublicKeyHex)
		if err != nil {
			return nil, fmt.Errorf("identity: key %q: %w", info.KID, err)
		}
		keys[info.KID] = pub
	}
	return keys, nil
}

// Verify checks token and returns its claims. The steps run from cheapest to
// dearest, so malformed tokens never reach SM2: size and shape, header
// (algorithm, type, key ID), signature, then claims (issuer, audience,
// times). Every error is an *httpx.Error with CodeTokenExpired for a token
// past exp, wrapping ErrTokenExpired, and CodeTokenInvalid for anything
// else, wrapping ErrTokenInvalid.
func (v *Verifier) Verify(token string) (*Claims, error) {
	parsed, err := parseToken(token)
	if err != nil {
		return nil, invalid("%w", err)
	}
	key, ok := v.cfg.Keys[parsed.header.KID]
	if !ok {
		return nil, invalid("unknown key ID %q", parsed.header.KID)
	}
	if !smcrypto.VerifyASN1(key, []byte(parsed.signingInput), parsed.signature, nil) {
		return nil, invalid("signature does not verify with key %q", parsed.header.KID)
	}

	claims, err := parseClaims(parsed.claims)
	if err != nil {
		return nil, invalid("%w", err)
	}
	if err := v.checkClaims(claims); err != nil {
		return nil, err
	}
	return claims, nil
}

// Identity checks token and returns the identity it carries. Errors are
// those of Verify.
func (v *Verifier) Identity(token string) (*auth.Identity, error) {
	claims, err := v.Verify(token)
	if err != nil {
		return nil, err
	}
	return claims.Identity(), nil
}

func (v *Verifier) checkClaims(c *Claims) error {
	if c.Issuer != v.cfg.Issuer {
		return invalid("issuer %q is not %q", c.Issuer, v.cfg.Issuer)
	}
	if c.Audience != v.cfg.Audience {
		return invalid("audience %q is not %q", c.Audience, v.cfg.Audience)
	}

	now := v.cfg.Now().Unix()
	leeway := int64(v.cfg.Leeway / time.Second)
	switch {
	case c.NotBefore > now+leeway:
		return invalid("token is not valid before %d; the time is %d", c.NotBefore, now)
	case c.IssuedAt > now+leeway:
		return invalid("token was issued at %d, in the future; the time is %d", c.IssuedAt, now)
	case c.ExpiresAt-c.IssuedAt > int64(v.cfg.MaxLifetime/time.Second):
		return invalid("token lifetime %ds exceeds %s", c.ExpiresAt-c.IssuedAt, v.cfg.MaxLifetime)
	case now-leeway >= c.ExpiresAt:
		return httpx.Wrap(CodeTokenExpired, fmt.Errorf("%w at %d; the time is %d", ErrTokenExpired, c.ExpiresAt, now))
	}
	return nil
}

func invalid(format string, args ...any) *httpx.Error {
	return httpx.Wrap(CodeTokenInvalid, fmt.Errorf("%w: "+format, append([]any{ErrTokenInvalid}, args...)...))
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header, with the scheme matched in any case, and false when r has no such
// header.
func BearerToken(r *http.Request) (string, bool) {
	const prefix = "Bearer "
	header := r.Header.Get("Authorization")
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return "", false
	}
	return header[len(prefix):], true
}

// Middleware returns middleware for the gateway's identified routes. A
// request with a valid bearer token gets the token's identity in its
// context. A request with an invalid or expired one gets 401 with
// TOKEN_INVALID or TOKEN_EXPIRED and a WWW-Authenticate header (RFC 6750).
// A request without a bearer token passes on anonymous, for the route to
// decide. A nil logger discards the Debug lines of rejected tokens.
func (v *Verifier) Middleware(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := BearerToken(r)
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			id, err := v.Identity(token)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				httpx.WriteError(w, r, logger, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
		})
	}
}

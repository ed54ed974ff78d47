package identity

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/smcrypto"
)

// Token defaults.
const (
	// DefaultIssuer is the iss claim of tokens the gateway issues.
	DefaultIssuer = "jingtong-gateway"
	// DefaultAudience is the aud claim of tokens the gateway issues and
	// accepts.
	DefaultAudience = "jingtong"
	// DefaultTTL is how long an issued token is valid.
	DefaultTTL = 2 * time.Hour
	// MaxTTL is the longest token lifetime an Issuer accepts and the
	// longest exp − iat a Verifier accepts by default.
	MaxTTL = 24 * time.Hour
)

// IssuerConfig configures an Issuer. Zero fields take the defaults.
type IssuerConfig struct {
	// Issuer is the iss claim (default DefaultIssuer).
	Issuer string
	// Audience is the aud claim (default DefaultAudience).
	Audience string
	// TTL is the token lifetime, at most MaxTTL (default DefaultTTL, 2 h).
	TTL time.Duration
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// Rand is the source of token IDs (default crypto/rand.Reader).
	Rand io.Reader
}

// Issuer signs tokens with the signing key of a key provider.
type Issuer struct {
	keys smcrypto.KeyProvider
	cfg  IssuerConfig
}

// NewIssuer returns an Issuer that signs with keys.SigningKey.
func NewIssuer(keys smcrypto.KeyProvider, cfg IssuerConfig) (*Issuer, error) {
	if keys == nil {
		return nil, errors.New("identity: the issuer has no key provider")
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.TTL < time.Second || cfg.TTL > MaxTTL {
		return nil, fmt.Errorf("identity: token TTL %s is out of range; use 1s to %s", cfg.TTL, MaxTTL)
	}
	if len(cfg.Issuer) > MaxIssuerSize || len(cfg.Audience) > MaxAudienceSize {
		return nil, fmt.Errorf("identity: issuer and audience must have at most %d bytes", MaxIssuerSize)
	}
	return &Issuer{keys: keys, cfg: cfg}, nil
}

// IssuedToken is a signed token with its claims.
type IssuedToken struct {
	Token  string
	Claims *Claims
}

// ExpiresAt returns the expiry of the token.
func (t *IssuedToken) ExpiresAt() time.Time {
	return time.Unix(t.Claims.ExpiresAt, 0).UTC()
}

// Issue signs a token for id, valid from now for the configured TTL. It
// fails when id does not pass [auth.Identity.Validate] or the signing key is
// unavailable.
func (i *Issuer) Issue(ctx context.Context, id *auth.Identity) (*IssuedToken, error) {
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("identity: issuing a token: %w", err)
	}
	key, err := i.keys.SigningKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("identity: getting the signing key: %w", err)
	}

	var nonce [16]byte
	if _, err := io.ReadFull(i.cfg.Rand, nonce[:]); err != nil {
		return nil, fmt.Errorf("identity: generating a token ID: %w", err)
	}
	now := i.cfg.Now().Unix()
	roles := id.Roles
	if roles == nil {
		roles = []auth.Role{}
	}
	claims := &Claims{
		Issuer:    i.cfg.Issuer,
		Subject:   id.Subject,
		Audience:  i.cfg.Audience,
		Roles:     roles,
		ExpiresAt: now + int64(i.cfg.TTL/time.Second),
		NotBefore: now,
		IssuedAt:  now,
		ID:        b64.EncodeToString(nonce[:]),
		Channel:   id.Channel,
		App:       id.App,
	}

	token, err := sign(ctx, key, claims)
	if err != nil {
		return nil, err
	}
	return &IssuedToken{Token: token, Claims: claims}, nil
}

// sign encodes claims under a header naming key and appends the signature.
func sign(ctx context.Context, key smcrypto.Key, claims *Claims) (string, error) {
	header, err := json.Marshal(Header{Alg: Algorithm, KID: key.ID(), Typ: TokenType})
	if err != nil {
		return "", fmt.Errorf("identity: encoding the token header: %w", err)
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("identity: encoding the token claims: %w", err)
	}

	input := b64.EncodeToString(header) + "." + b64.EncodeToString(body)
	sig, err := key.SignMessage(ctx, []byte(input), nil)
	if err != nil {
		return "", fmt.Errorf("identity: signing a token with key %q: %w", key.ID(), err)
	}
	token := input + "." + b64.EncodeToString(sig)
	if len(token) > MaxTokenSize {
		return "", fmt.Errorf("identity: token has %d bytes; the maximum is %d", len(token), MaxTokenSize)
	}
	return token, nil
}

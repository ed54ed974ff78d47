package identity_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/identity"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/smcrypto"
)

// testNow is the clock of every token test.
var testNow = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testNow }

// newKey generates an SM2 key pair.
func newKey(t testing.TB) *smcrypto.PrivateKey {
	t.Helper()
	key, err := smcrypto.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return key
}

// newKeySet returns a key set that signs with priv under kid.
func newKeySet(t testing.TB, kid string, priv *smcrypto.PrivateKey) *smcrypto.KeySet {
	t.Helper()
	set, err := smcrypto.NewKeySet(kid, map[string]*smcrypto.PrivateKey{kid: priv})
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}
	return set
}

// tokenEnv is an issuer and a verifier that trust one key, "k1".
type tokenEnv struct {
	priv     *smcrypto.PrivateKey
	issuer   *identity.Issuer
	verifier *identity.Verifier
}

func newTokenEnv(t testing.TB) *tokenEnv {
	t.Helper()
	priv := newKey(t)
	issuer, err := identity.NewIssuer(newKeySet(t, "k1", priv), identity.IssuerConfig{Now: fixedNow})
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	verifier, err := identity.NewVerifier(identity.VerifierConfig{
		Keys: map[string]*smcrypto.PublicKey{"k1": priv.PublicKey()},
		Now:  fixedNow,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return &tokenEnv{priv: priv, issuer: issuer, verifier: verifier}
}

// seg encodes a token segment.
func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// forge returns a token with the given header and claims JSON, signed by
// priv in the documented way, so that a rejection can only come from the
// content.
func forge(t testing.TB, priv *smcrypto.PrivateKey, header, claims string) string {
	t.Helper()
	input := seg(header) + "." + seg(claims)
	sig, err := priv.SignMessage(rand.Reader, []byte(input), nil)
	if err != nil {
		t.Fatalf("SignMessage: %v", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// assertCode checks that err is an *httpx.Error with code.
func assertCode(t testing.TB, err error, code httpx.Code) {
	t.Helper()
	var he *httpx.Error
	if !errors.As(err, &he) {
		t.Fatalf("error = %v (%T), want *httpx.Error with %s", err, err, code.ID)
	}
	if he.Code.ID != code.ID {
		t.Errorf("error code = %s, want %s (error: %v)", he.Code.ID, code.ID, err)
	}
}

// asHTTPError returns err as an *httpx.Error, or nil.
func asHTTPError(err error) *httpx.Error {
	var he *httpx.Error
	if errors.As(err, &he) {
		return he
	}
	return nil
}

package identity

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/smcrypto"
)

// FuzzParseToken checks that splitting and decoding untrusted tokens never
// panics, that accepted headers name the one algorithm, and that accepted
// claims pass their own validation.
func FuzzParseToken(f *testing.F) {
	seeds := []string{
		"eyJhbGciOiJTTTItU00zIiwia2lkIjoiazEiLCJ0eXAiOiJKVCJ9.e30.MEQCIA",
		"eyJhbGciOiJub25lIn0.e30.",
		"a.b.c", "..", "a.b.c.d", "",
		`eyJhbGciOiJTTTItU00zIiwiYWxnIjoibm9uZSJ9.e30.AA`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		parsed, err := parseToken(token)
		if err != nil {
			return
		}
		if parsed.header.Alg != Algorithm || parsed.header.Typ != TokenType {
			t.Fatalf("parseToken accepted header %+v", parsed.header)
		}
		if len(token) > MaxTokenSize || strings.Count(token, ".") != 2 {
			t.Fatalf("parseToken accepted a token of %d bytes with %d dots", len(token), strings.Count(token, "."))
		}
		if claims, err := parseClaims(parsed.claims); err == nil {
			if err := claims.validate(); err != nil {
				t.Fatalf("parseClaims accepted invalid claims: %v", err)
			}
		}
	})
}

// FuzzVerify checks that the Verifier never panics and never accepts a
// token that its key did not sign.
func FuzzVerify(f *testing.F) {
	key, err := smcrypto.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatalf("GenerateKey: %v", err)
	}
	v, err := NewVerifier(VerifierConfig{
		Keys: map[string]*smcrypto.PublicKey{"k1": key.PublicKey()},
		Now:  func() time.Time { return time.Unix(1_800_000_000, 0) },
	})
	if err != nil {
		f.Fatalf("NewVerifier: %v", err)
	}
	f.Add("eyJhbGciOiJTTTItU00zIiwia2lkIjoiazEiLCJ0eXAiOiJKVCJ9.e30.MEQCIA")
	f.Add("eyJhbGciOiJTTTItU00zIiwia2lkIjoiazEiLCJ0eXAiOiJKVCJ9.eyJzdWIiOiJhIn0.AA")
	f.Fuzz(func(t *testing.T, token string) {
		if claims, err := v.Verify(token); err == nil {
			t.Fatalf("Verify accepted a token that no key signed: %+v", claims)
		}
	})
}

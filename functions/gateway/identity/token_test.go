package identity_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/identity"
	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/smcrypto"
)

const goodHeader = `{"alg":"SM2-SM3","kid":"k1","typ":"JT"}`

// claimsJSON returns claims valid at testNow, with the given members
// replaced or, for a nil value, removed.
func claimsJSON(t testing.TB, changes map[string]any) string {
	t.Helper()
	now := testNow.Unix()
	c := map[string]any{
		"iss": identity.DefaultIssuer, "sub": "dev-citizen", "aud": identity.DefaultAudience,
		"roles": []string{"citizen"}, "exp": now + 3600, "nbf": now, "iat": now, "jti": "abc123",
	}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return string(data)
}

func TestIssuer_roundTrip(t *testing.T) {
	t.Parallel()
	env := newTokenEnv(t)
	id := &auth.Identity{Subject: "dev-elderly", Roles: []auth.Role{auth.RoleCitizen, auth.RoleElderly}, Channel: "alipay", App: "2021000000000001"}

	issued, err := env.issuer.Issue(context.Background(), id)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	got, err := env.verifier.Identity(issued.Token)
	if err != nil {
		t.Fatalf("Identity: %v", err)
	}

	if got.Subject != id.Subject || got.Channel != id.Channel || got.App != id.App || !slices.Equal(got.Roles, id.Roles) {
		t.Errorf("identity = %+v, want %+v", got, id)
	}
	c := issued.Claims
	if c.Issuer != identity.DefaultIssuer || c.Audience != identity.DefaultAudience {
		t.Errorf("iss, aud = %q, %q; want the defaults", c.Issuer, c.Audience)
	}
	if c.IssuedAt != testNow.Unix() || c.NotBefore != testNow.Unix() || c.ExpiresAt != testNow.Add(identity.DefaultTTL).Unix() {
		t.Errorf("iat, nbf, exp = %d, %d, %d; want now, now, now+2h", c.IssuedAt, c.NotBefore, c.ExpiresAt)
	}
	if !issued.ExpiresAt().Equal(testNow.Add(identity.DefaultTTL)) {
		t.Errorf("ExpiresAt = %s, want %s", issued.ExpiresAt(), testNow.Add(identity.DefaultTTL))
	}
	if len(c.ID) != 22 {
		t.Errorf("jti = %q, want 22 base64url characters", c.ID)
	}
}

func TestIssuer_tokenFormat(t *testing.T) {
	t.Parallel()
	env := newTokenEnv(t)

	issued, err := env.issuer.Issue(context.Background(), &auth.Identity{Subject: "u1", Roles: []auth.Role{auth.RoleCitizen}})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	parts := strings.Split(issued.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatalf("header segment: %v", err)
	}
	if string(header) != goodHeader {
		t.Errorf("header = %s, want %s", header, goodHeader)
	}

	// The signature is DER with the default user ID over "header.claims".
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatalf("signature segment: %v", err)
	}
	if !smcrypto.VerifyASN1(env.priv.PublicKey(), []byte(parts[0]+"."+parts[1]), sig, &smcrypto.SignerOpts{UID: []byte("1234567812345678")}) {
		t.Errorf("signature does not verify as SM2-SM3 DER with user ID 1234567812345678")
	}
	if _, err := smcrypto.SignatureToRaw(sig); err != nil {
		t.Errorf("signature is not canonical DER: %v", err)
	}
}

func TestIssuer_rejectsInvalidIdentity(t *testing.T) {
	t.Parallel()
	env := newTokenEnv(t)

	for _, id := range []*auth.Identity{
		nil,
		{Subject: ""},
		{Subject: "u1", Roles: []auth.Role{auth.RolePlatform}},
	} {
		if _, err := env.issuer.Issue(context.Background(), id); err == nil {
			t.Errorf("Issue(%+v) error = nil, want an error", id)
		}
	}
}

func TestVerifier_rejects(t *testing.T) {
	t.Parallel()
	env := newTokenEnv(t)
	other := newKey(t)
	now := testNow.Unix()

	valid, err := env.issuer.Issue(context.Background(), &auth.Identity{Subject: "dev-citizen", Roles: []auth.Role{auth.RoleCitizen}})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	parts := strings.Split(valid.Token, ".")

	hs256 := func() string {
		input := seg(`{"alg":"HS256","kid":"k1","typ":"JT"}`) + "." + seg(claimsJSON(t, nil))
		mac := hmac.New(sha256.New, []byte(env.priv.PublicKey().Hex()))
		mac.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}

	tests := []struct {
		name  string
		token string
	}{
		{name: "alg none without signature", token: seg(`{"alg":"none","kid":"k1","typ":"JT"}`) + "." + seg(claimsJSON(t, nil)) + "."},
		{name: "alg none with signature", token: forge(t, env.priv, `{"alg":"none","kid":"k1","typ":"JT"}`, claimsJSON(t, nil))},
		{name: "alg HS256 keyed with public key", token: hs256()},
		{name: "alg SM2 only", token: forge(t, env.priv, `{"alg":"SM2","kid":"k1","typ":"JT"}`, claimsJSON(t, nil))},
		{name: "alg in upper-case key", token: forge(t, env.priv, `{"ALG":"SM2-SM3","kid":"k1","typ":"JT"}`, claimsJSON(t, nil))},
		{name: "alg twice", token: forge(t, env.priv, `{"alg":"none","alg":"SM2-SM3","kid":"k1","typ":"JT"}`, claimsJSON(t, nil))},
		{name: "unknown header member", token: forge(t, env.priv, `{"alg":"SM2-SM3","kid":"k1","typ":"JT","jku":"https://127.0.0.1/keys"}`, claimsJSON(t, nil))},
		{name: "wrong typ", token: forge(t, env.priv, `{"alg":"SM2-SM3","kid":"k1","typ":"JWT"}`, claimsJSON(t, nil))},
		{name: "missing kid", token: forge(t, env.priv, `{"alg":"SM2-SM3","typ":"JT"}`, claimsJSON(t, nil))},
		{name: "unknown kid", token: forge(t, env.priv, `{"alg":"SM2-SM3","kid":"k2","typ":"JT"}`, claimsJSON(t, nil))},
		{name: "signed by another key", token: forge(t, other, goodHeader, claimsJSON(t, nil))},
		{name: "tampered claims", token: parts[0] + "." + seg(claimsJSON(t, map[string]any{"roles": []string{"operator"}})) + "." + parts[2]},
		{name: "tampered header", token: seg(`{"alg":"SM2-SM3","kid":"k1","typ":"JT"} `) + "." + parts[1] + "." + parts[2]},
		{name: "signature of another token", token: parts[0] + "." + parts[1] + "." + strings.Split(forge(t, env.priv, goodHeader, claimsJSON(t, nil)), ".")[2]},
		{name: "signature with trailing byte", token: parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(append(mustDecode(t, parts[2]), 0))},
		{name: "raw r and s signature", token: parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mustRaw(t, mustDecode(t, parts[2])))},
		{name: "wrong audience", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"aud": "another-service"}))},
		{name: "audience array", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"aud": []string{identity.DefaultAudience}}))},
		{name: "wrong issuer", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"iss": "someone-else"}))},
		{name: "not yet valid", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"nbf": now + 120, "iat": now + 120, "exp": now + 3600}))},
		{name: "issued in the future", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"iat": now + 3000}))},
		{name: "lifetime over 24 hours", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"exp": now + 25*3600}))},
		{name: "exp not after nbf", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"exp": now, "nbf": now}))},
		{name: "exp as float", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"exp": float64(now) + 0.5}))},
		{name: "exp as string", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"exp": fmt.Sprint(now + 60)}))},
		{name: "missing jti", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"jti": nil}))},
		{name: "missing roles", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"roles": nil}))},
		{name: "null subject", token: forge(t, env.priv, goodHeader, strings.Replace(claimsJSON(t, nil), `"sub":"dev-citizen"`, `"sub":null`, 1))},
		{name: "subject twice", token: forge(t, env.priv, goodHeader, strings.Replace(claimsJSON(t, nil), `"sub":"dev-citizen"`, `"sub":"dev-citizen","sub":"dev-operator"`, 1))},
		{name: "platform role", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"roles": []string{"platform"}}))},
		{name: "oversized subject", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"sub": strings.Repeat("a", auth.MaxSubjectSize+1)}))},
		{name: "claims not an object", token: forge(t, env.priv, goodHeader, `["dev-citizen"]`)},
		{name: "claims not JSON", token: forge(t, env.priv, goodHeader, `{"sub":`)},
		{name: "claims with trailing data", token: forge(t, env.priv, goodHeader, claimsJSON(t, nil)+`{}`)},
		{name: "header not JSON", token: seg(`alg=SM2-SM3`) + "." + parts[1] + "." + parts[2]},
		{name: "padded base64", token: parts[0] + "=." + parts[1] + "." + parts[2]},
		{name: "standard base64 alphabet", token: strings.NewReplacer("-", "+", "_", "/").Replace(parts[0]+"."+parts[1]+"."+parts[2]) + "+/"},
		{name: "non-canonical base64 bits", token: nonCanonicalToken(t, env.priv)},
		{name: "empty signature", token: parts[0] + "." + parts[1] + "."},
		{name: "two segments", token: parts[0] + "." + parts[1]},
		{name: "four segments", token: valid.Token + "." + parts[2]},
		{name: "empty token", token: ""},
		{name: "oversized token", token: strings.Repeat("a", identity.MaxTokenSize+1)},
		{name: "oversized claims", token: forge(t, env.priv, goodHeader, claimsJSON(t, map[string]any{"pad": strings.Repeat("x", 2100)}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			claims, err := env.verifier.Verify(tt.token)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", claims)
			}
			if !errors.Is(err, identity.ErrTokenInvalid) {
				t.Errorf("error = %v, want ErrTokenInvalid", err)
			}
			assertCode(t, err, identity.CodeTokenInvalid)
		})
	}
}

func mustDecode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return b
}

func mustRaw(t testing.TB, der []byte) []byte {
	t.Helper()
	raw, err := smcrypto.SignatureToRaw(der)
	if err != nil {
		t.Fatalf("SignatureToRaw: %v", err)
	}
	return raw
}

// nonCanonicalToken returns a correctly signed token whose claims segment
// has non-zero unused trailing bits, which a lenient decoder maps to the
// same bytes as the canonical segment.
func nonCanonicalToken(t testing.TB, priv *smcrypto.PrivateKey) string {
	t.Helper()
	jti := "a"
	for len(claimsJSON(t, map[string]any{"jti": jti}))%3 == 0 {
		jti += "a"
	}
	claims := seg(claimsJSON(t, map[string]any{"jti": jti}))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, claims[len(claims)-1])
	claims = claims[:len(claims)-1] + string(alphabet[last|1])

	input := seg(goodHeader) + "." + claims
	sig, err := priv.SignMessage(rand.Reader, []byte(input), nil)
	if err != nil {
		t.Fatalf("SignMessage: %v", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifier_timeChecks(t *testing.T) {
	t.Parallel()
	env := newTokenEnv(t)
	now := testNow.Unix()

	tests := []struct {
		name     string
		changes  map[string]any
		wantCode string // "" means accepted
	}{
		{name: "valid now", changes: nil},
		{name: "expired beyond leeway", changes: map[string]any{"iat": now - 7200, "nbf": now - 7200, "exp": now - 61}, wantCode: identity.CodeTokenExpired.ID},
		{name: "expired exactly at leeway", changes: map[string]any{"iat": now - 7200, "nbf": now - 7200, "exp": now - 60}, wantCode: identity.CodeTokenExpired.ID},
		{name: "expired within leeway", changes: map[string]any{"iat": now - 7200, "nbf": now - 7200, "exp": now - 59}},
		{name: "not yet valid within leeway", changes: map[string]any{"iat": now + 60, "nbf": now + 60, "exp": now + 3600}},
		{name: "not yet valid beyond leeway", changes: map[string]any{"iat": now + 61, "nbf": now + 61, "exp": now + 3600}, wantCode: identity.CodeTokenInvalid.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := env.verifier.Verify(forge(t, env.priv, goodHeader, claimsJSON(t, tt.changes)))
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify: %v, want accepted", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token, want %s", tt.wantCode)
			}
			if tt.wantCode == identity.CodeTokenExpired.ID {
				assertCode(t, err, identity.CodeTokenExpired)
				if !errors.Is(err, identity.ErrTokenExpired) {
					t.Errorf("error = %v, want ErrTokenExpired", err)
				}
				return
			}
			assertCode(t, err, identity.CodeTokenInvalid)
		})
	}
}

func TestVerifier_configuredLeewayAndAudience(t *testing.T) {
	t.Parallel()
	priv := newKey(t)
	v, err := identity.NewVerifier(identity.VerifierConfig{
		Keys:     map[string]*smcrypto.PublicKey{"k1": priv.PublicKey()},
		Issuer:   "iss-x",
		Audience: "aud-x",
		Leeway:   5 * time.Second,
		Now:      fixedNow,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	now := testNow.Unix()

	ok := forge(t, priv, goodHeader, claimsJSON(t, map[string]any{"iss": "iss-x", "aud": "aud-x"}))
	if _, err := v.Verify(ok); err != nil {
		t.Errorf("Verify with configured iss and aud: %v", err)
	}
	late := forge(t, priv, goodHeader, claimsJSON(t, map[string]any{"iss": "iss-x", "aud": "aud-x", "iat": now - 100, "nbf": now - 100, "exp": now - 6}))
	if _, err := v.Verify(late); !errors.Is(err, identity.ErrTokenExpired) {
		t.Errorf("expired 6s ago with 5s leeway: error = %v, want ErrTokenExpired", err)
	}
	defaults := forge(t, priv, goodHeader, claimsJSON(t, nil))
	if _, err := v.Verify(defaults); err == nil {
		t.Errorf("Verify accepted the default iss and aud, want them rejected")
	}
}

func TestNewVerifier_invalidConfig(t *testing.T) {
	t.Parallel()
	pub := newKey(t).PublicKey()

	tests := []struct {
		name string
		cfg  identity.VerifierConfig
	}{
		{name: "no keys", cfg: identity.VerifierConfig{}},
		{name: "nil key", cfg: identity.VerifierConfig{Keys: map[string]*smcrypto.PublicKey{"k1": nil}}},
		{name: "bad key ID", cfg: identity.VerifierConfig{Keys: map[string]*smcrypto.PublicKey{"k/1": pub}}},
		{name: "leeway too large", cfg: identity.VerifierConfig{Keys: map[string]*smcrypto.PublicKey{"k1": pub}, Leeway: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := identity.NewVerifier(tt.cfg); err == nil {
				t.Errorf("NewVerifier error = nil, want an error")
			}
		})
	}
}

func TestKeysFromList_verifiesIssuedTokens(t *testing.T) {
	t.Parallel()
	priv := newKey(t)
	set := newKeySet(t, "k9", priv)
	list, err := set.PublicKeys(context.Background())
	if err != nil {
		t.Fatalf("PublicKeys: %v", err)
	}
	keys, err := identity.KeysFromList(list)
	if err != nil {
		t.Fatalf("KeysFromList: %v", err)
	}
	issuer, err := identity.NewIssuer(set, identity.IssuerConfig{Now: fixedNow})
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	verifier, err := identity.NewVerifier(identity.VerifierConfig{Keys: keys, Now: fixedNow})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}

	issued, err := issuer.Issue(context.Background(), &auth.Identity{Subject: "u1"})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if _, err := verifier.Verify(issued.Token); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// smCryptoFixture is testdata/smcrypto-token.json; see testdata/README.md.
type smCryptoFixture struct {
	Library      string          `json:"library"`
	KID          string          `json:"kid"`
	PublicKeyHex string          `json:"public_key_hex"`
	Token        string          `json:"token"`
	Claims       identity.Claims `json:"claims"`
}

func TestVerifier_smCryptoFixture(t *testing.T) {
	t.Parallel()

	data, err := os.ReadFile("testdata/smcrypto-token.json")
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var fx smCryptoFixture
	if err := json.Unmarshal(data, &fx); err != nil {
		t.Fatalf("parse fixture: %v", err)
	}
	pub, err := smcrypto.ParsePublicKeyHex(fx.PublicKeyHex)
	if err != nil {
		t.Fatalf("fixture public key: %v", err)
	}
	at := time.Unix(fx.Claims.IssuedAt+60, 0)
	v, err := identity.NewVerifier(identity.VerifierConfig{
		Keys: map[string]*smcrypto.PublicKey{fx.KID: pub},
		Now:  func() time.Time { return at },
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}

	got, err := v.Verify(fx.Token)
	if err != nil {
		t.Fatalf("Verify(token signed by %s): %v", fx.Library, err)
	}
	if got.Subject != fx.Claims.Subject || got.ID != fx.Claims.ID || got.App != fx.Claims.App || !slices.Equal(got.Roles, fx.Claims.Roles) {
		t.Errorf("claims = %+v, want %+v", got, fx.Claims)
	}

	// One changed claim character must break the signature.
	parts := strings.Split(fx.Token, ".")
	claims := []byte(parts[1])
	claims[10] ^= 1
	if _, err := v.Verify(parts[0] + "." + string(claims) + "." + parts[2]); err == nil {
		t.Errorf("Verify accepted the fixture with a changed claims segment")
	}
}

package auth

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// FuzzParseIdentity checks that parsing an X-JT-Identity value never
// panics, and that whatever it accepts is a valid identity that encodes
// back to an accepted value.
func FuzzParseIdentity(f *testing.F) {
	for _, seed := range []string{
		`{"sub":"dev-citizen","roles":["citizen"],"channel":"wechat","app":"wx1"}`,
		`{"sub":"u1","roles":[]}`,
		`{"sub":"u1","roles":["platform"]}`,
		`{"sub":"u1","roles":null}`,
		`{"sub":"u1","roles":["a"],"x":1}`,
		`[]`,
		``,
	} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(seed)))
	}
	f.Add("!!!")

	secret := Secret("fuzz-secret-0123456789abcdef0123456789")
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, encoded string) {
		id, err := parseIdentity(encoded)
		if err != nil {
			return
		}
		if err := id.Validate(); err != nil {
			t.Fatalf("parseIdentity accepted an invalid identity: %v", err)
		}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if err := SignIdentity(secret, r, id, now); err != nil {
			t.Fatalf("SignIdentity of a parsed identity: %v", err)
		}
		again, err := VerifyIdentity(secret, r, now, time.Minute)
		if err != nil {
			t.Fatalf("VerifyIdentity of a re-signed identity: %v", err)
		}
		if again.Subject != id.Subject || len(again.Roles) != len(id.Roles) {
			t.Fatalf("round trip changed the identity: %+v, want %+v", again, id)
		}
	})
}

// FuzzVerifyHeaders checks that arbitrary header values never panic the
// verifiers and are never accepted without the right MAC.
func FuzzVerifyHeaders(f *testing.F) {
	f.Add("eyJzdWIiOiJhIiwicm9sZXMiOltdfQ", "1800000000", "00", "/x")
	f.Add("", "", "", "/")
	f.Add("e30", "-1", "zz", "/%zz")

	secret := Secret("fuzz-secret-0123456789abcdef0123456789")
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, identity, ts, sig, path string) {
		r := &http.Request{Method: http.MethodGet, Header: http.Header{}, URL: &url.URL{Path: "/"}, RequestURI: path}
		r.Header.Set(IdentityHeader, identity)
		r.Header.Set(IdentityTimeHeader, ts)
		r.Header.Set(IdentitySignatureHeader, sig)
		r.Header.Set(PlatformTimeHeader, ts)
		r.Header.Set(PlatformSignatureHeader, sig)
		if id, err := VerifyIdentity(secret, r, now, time.Minute); err == nil {
			t.Fatalf("random identity headers accepted: %+v", id)
		}
		if err := VerifyPlatform(secret, r, now, time.Minute); err == nil {
			t.Fatalf("random platform token accepted")
		}
	})
}

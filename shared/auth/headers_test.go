package auth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/smcrypto"
)

var (
	identitySecret = auth.Secret("identity-secret-0123456789abcdef0123456789")
	platformSecret = auth.Secret("platform-secret-0123456789abcdef0123456789")
	testNow        = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	citizen        = &auth.Identity{Subject: "dev-citizen", Roles: []auth.Role{auth.RoleCitizen}, Channel: "wechat", App: "wx0123456789"}
)

var allSignedHeaders = []string{
	auth.IdentityHeader, auth.IdentityTimeHeader, auth.IdentitySignatureHeader,
	auth.PlatformTimeHeader, auth.PlatformSignatureHeader,
}

// capture runs r through the middleware built from opts and returns the
// identity and the headers that the handler saw.
func capture(t *testing.T, opts auth.Options, r *http.Request) (*auth.Identity, http.Header) {
	t.Helper()
	mw, err := auth.Middleware(opts)
	if err != nil {
		t.Fatalf("Middleware: %v", err)
	}
	var (
		called bool
		id     *auth.Identity
		header http.Header
	)
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called = true
		id = auth.FromContext(r.Context())
		header = r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if !called {
		t.Fatalf("handler not called, want every request passed on")
	}
	if rec.Code != http.StatusNoContent {
		t.Errorf("status = %d, want %d from the handler", rec.Code, http.StatusNoContent)
	}
	return id, header
}

func defaultOptions() auth.Options {
	return auth.Options{
		IdentitySecret: identitySecret,
		PlatformSecret: platformSecret,
		Now:            func() time.Time { return testNow },
	}
}

// signedRequest returns an incoming request for method and target with
// identity headers for id signed at signedAt.
func signedRequest(t *testing.T, method, target string, id *auth.Identity, signedAt time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if err := auth.SignIdentity(identitySecret, r, id, signedAt); err != nil {
		t.Fatalf("SignIdentity: %v", err)
	}
	return r
}

// rawIdentityMAC computes the identity signature independently of the
// package, for headers that SignIdentity refuses to produce.
func rawIdentityMAC(secret []byte, method, path, ts, identity string) string {
	tag := smcrypto.SumHMAC(secret, []byte(method+"\n"+path+"\n"+ts+"\n"+identity))
	return hex.EncodeToString(tag[:])
}

func assertStripped(t *testing.T, header http.Header) {
	t.Helper()
	for _, name := range allSignedHeaders {
		if v := header.Values(name); len(v) != 0 {
			t.Errorf("handler saw %s = %q, want the header stripped", name, v)
		}
	}
}

func TestSignIdentity_roundTrip(t *testing.T) {
	t.Parallel()

	r := signedRequest(t, http.MethodPost, "/zones/z1/page?lang=en", citizen, testNow)
	id, header := capture(t, defaultOptions(), r)

	if id == nil {
		t.Fatalf("identity = nil, want %+v", citizen)
	}
	if id.Subject != citizen.Subject || id.Channel != citizen.Channel || id.App != citizen.App {
		t.Errorf("identity = %+v, want %+v", id, citizen)
	}
	if len(id.Roles) != 1 || id.Roles[0] != auth.RoleCitizen {
		t.Errorf("roles = %v, want [citizen]", id.Roles)
	}
	assertStripped(t, header)
}

func TestSignIdentity_headerFormat(t *testing.T) {
	t.Parallel()

	r := signedRequest(t, http.MethodGet, "/a%20b/c?x=1", citizen, testNow)

	if got, want := r.Header.Get(auth.IdentityTimeHeader), strconv.FormatInt(testNow.Unix(), 10); got != want {
		t.Errorf("time header = %q, want %q", got, want)
	}
	encoded := r.Header.Get(auth.IdentityHeader)
	payload, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		t.Fatalf("identity header is not unpadded base64url: %v", err)
	}
	var fields map[string]any
	if err := json.Unmarshal(payload, &fields); err != nil {
		t.Fatalf("identity payload is not JSON: %v", err)
	}
	for _, key := range []string{"sub", "roles", "channel", "app"} {
		if _, ok := fields[key]; !ok {
			t.Errorf("identity payload %s has no %q", payload, key)
		}
	}
	want := rawIdentityMAC(identitySecret, "GET", "/a%20b/c", r.Header.Get(auth.IdentityTimeHeader), encoded)
	if got := r.Header.Get(auth.IdentitySignatureHeader); got != want {
		t.Errorf("signature = %s, want %s (HMAC-SM3 over method, escaped path, time and identity)", got, want)
	}
}

func TestVerifyIdentity_rejected(t *testing.T) {
	t.Parallel()

	forge := func(r *http.Request, identity string) {
		ts := r.Header.Get(auth.IdentityTimeHeader)
		r.Header.Set(auth.IdentityHeader, identity)
		r.Header.Set(auth.IdentitySignatureHeader, rawIdentityMAC(identitySecret, r.Method, r.URL.EscapedPath(), ts, identity))
	}
	encode := func(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }

	tests := []struct {
		name   string
		mutate func(r *http.Request)
		opts   func(o *auth.Options)
		when   time.Time
	}{
		{name: "tampered identity", mutate: func(r *http.Request) {
			r.Header.Set(auth.IdentityHeader, encode(`{"sub":"dev-citizen","roles":["operator"]}`))
		}},
		{name: "tampered signature", mutate: func(r *http.Request) {
			sig := []byte(r.Header.Get(auth.IdentitySignatureHeader))
			sig[0] ^= 1
			r.Header.Set(auth.IdentitySignatureHeader, string(sig))
		}},
		{name: "truncated signature", mutate: func(r *http.Request) {
			r.Header.Set(auth.IdentitySignatureHeader, r.Header.Get(auth.IdentitySignatureHeader)[:62])
		}},
		{name: "signature not hex", mutate: func(r *http.Request) {
			r.Header.Set(auth.IdentitySignatureHeader, strings.Repeat("zz", 32))
		}},
		{name: "tampered time", mutate: func(r *http.Request) {
			r.Header.Set(auth.IdentityTimeHeader, strconv.FormatInt(testNow.Unix()+1, 10))
		}},
		{name: "signed too long ago", when: testNow.Add(-auth.DefaultMaxSkew - time.Second)},
		{name: "signed in the future", when: testNow.Add(auth.DefaultMaxSkew + time.Second)},
		{name: "missing identity", mutate: func(r *http.Request) { r.Header.Del(auth.IdentityHeader) }},
		{name: "missing time", mutate: func(r *http.Request) { r.Header.Del(auth.IdentityTimeHeader) }},
		{name: "missing signature", mutate: func(r *http.Request) { r.Header.Del(auth.IdentitySignatureHeader) }},
		{name: "repeated identity", mutate: func(r *http.Request) {
			r.Header.Add(auth.IdentityHeader, r.Header.Get(auth.IdentityHeader))
		}},
		{name: "replayed on another path", mutate: func(r *http.Request) {
			other := httptest.NewRequest(r.Method, "/admin/zones", nil)
			other.Header = r.Header
			*r = *other
		}},
		{name: "replayed with another method", mutate: func(r *http.Request) { r.Method = http.MethodDelete }},
		{name: "wrong secret", opts: func(o *auth.Options) {
			o.IdentitySecret = auth.Secret("another-identity-secret-0123456789abcdef")
		}},
		{name: "no identity secret configured", opts: func(o *auth.Options) { o.IdentitySecret = nil }},
		{name: "time with leading zero", mutate: func(r *http.Request) {
			r.Header.Set(auth.IdentityTimeHeader, "0"+r.Header.Get(auth.IdentityTimeHeader))
			forge(r, r.Header.Get(auth.IdentityHeader))
		}},
		{name: "time with plus sign", mutate: func(r *http.Request) {
			r.Header.Set(auth.IdentityTimeHeader, "+"+r.Header.Get(auth.IdentityTimeHeader))
			forge(r, r.Header.Get(auth.IdentityHeader))
		}},
		{name: "signed platform role", mutate: func(r *http.Request) {
			forge(r, encode(`{"sub":"dev-citizen","roles":["platform"]}`))
		}},
		{name: "signed unknown field", mutate: func(r *http.Request) {
			forge(r, encode(`{"sub":"dev-citizen","roles":[],"admin":true}`))
		}},
		{name: "signed empty subject", mutate: func(r *http.Request) {
			forge(r, encode(`{"sub":"","roles":["citizen"]}`))
		}},
		{name: "signed padded base64", mutate: func(r *http.Request) {
			forge(r, base64.URLEncoding.EncodeToString([]byte(`{"sub":"a","roles":[]}`)))
		}},
		{name: "signed trailing JSON", mutate: func(r *http.Request) {
			forge(r, encode(`{"sub":"a","roles":[]}{"sub":"b","roles":[]}`))
		}},
		{name: "signed oversized identity", mutate: func(r *http.Request) {
			forge(r, encode(`{"sub":"a","roles":[],"app":"`+strings.Repeat("a", auth.MaxIdentityHeaderSize)+`"}`))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			when := testNow
			if !tt.when.IsZero() {
				when = tt.when
			}
			r := signedRequest(t, http.MethodGet, "/zones/z1", citizen, when)
			if tt.mutate != nil {
				tt.mutate(r)
			}
			opts := defaultOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}

			id, header := capture(t, opts, r)

			if id != nil {
				t.Errorf("identity = %+v, want nil for rejected headers", id)
			}
			assertStripped(t, header)
		})
	}
}

func TestVerifyIdentity_errors(t *testing.T) {
	t.Parallel()

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if _, err := auth.VerifyIdentity(identitySecret, r, testNow, time.Minute); !errors.Is(err, auth.ErrNoIdentity) {
		t.Errorf("no headers: error = %v, want ErrNoIdentity", err)
	}

	r = signedRequest(t, http.MethodGet, "/", citizen, testNow)
	r.Header.Set(auth.IdentitySignatureHeader, strings.Repeat("0", 64))
	if _, err := auth.VerifyIdentity(identitySecret, r, testNow, time.Minute); !errors.Is(err, auth.ErrInvalidIdentity) {
		t.Errorf("bad signature: error = %v, want ErrInvalidIdentity", err)
	}
}

func TestVerifyIdentity_skewBoundary(t *testing.T) {
	t.Parallel()

	for _, offset := range []time.Duration{-auth.DefaultMaxSkew, auth.DefaultMaxSkew} {
		r := signedRequest(t, http.MethodGet, "/", citizen, testNow.Add(offset))
		if id, _ := capture(t, defaultOptions(), r); id == nil {
			t.Errorf("signed %s from now: identity = nil, want accepted at the window edge", offset)
		}
	}

	opts := defaultOptions()
	opts.MaxSkew = 5 * time.Second
	r := signedRequest(t, http.MethodGet, "/", citizen, testNow.Add(-6*time.Second))
	if id, _ := capture(t, opts, r); id != nil {
		t.Errorf("signed 6s ago with MaxSkew 5s: identity = %+v, want nil", id)
	}
}

func TestSignIdentity_invalidInput(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		secret auth.Secret
		id     *auth.Identity
	}{
		{name: "short secret", secret: auth.Secret("short"), id: citizen},
		{name: "nil identity", secret: identitySecret, id: nil},
		{name: "platform role", secret: identitySecret, id: &auth.Identity{Subject: "x", Roles: []auth.Role{auth.RolePlatform}}},
		{name: "subject with space", secret: identitySecret, id: &auth.Identity{Subject: "a b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if err := auth.SignIdentity(tt.secret, r, tt.id, testNow); err == nil {
				t.Errorf("SignIdentity error = nil, want an error")
			}
			if r.Header.Get(auth.IdentityHeader) != "" {
				t.Errorf("identity header set after a failed SignIdentity")
			}
		})
	}
}

// TestIdentityHeaders_behindStripPrefix sends a signed request over a real
// loopback connection to a function mounted under a prefix, as localdev
// mounts functions under /function/<name>.
func TestIdentityHeaders_behindStripPrefix(t *testing.T) {
	t.Parallel()

	mw, err := auth.Middleware(defaultOptions())
	if err != nil {
		t.Fatalf("Middleware: %v", err)
	}
	got := make(chan *auth.Identity, 1)
	fn := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- auth.FromContext(r.Context())
	}))
	mux := http.NewServeMux()
	mux.Handle("/function/zones/", http.StripPrefix("/function/zones", fn))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/function/zones/admin/zones?page=2", nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if err := auth.SignIdentity(identitySecret, req, citizen, testNow); err != nil {
		t.Fatalf("SignIdentity: %v", err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	resp.Body.Close()

	if id := <-got; id == nil || id.Subject != citizen.Subject {
		t.Errorf("identity behind StripPrefix = %+v, want subject %q", id, citizen.Subject)
	}
}

func TestVerifyPlatform_middleware(t *testing.T) {
	t.Parallel()

	sign := func(t *testing.T, method, target string, at time.Time) *http.Request {
		r := httptest.NewRequest(method, target, nil)
		if err := auth.SignPlatform(platformSecret, r, at); err != nil {
			t.Fatalf("SignPlatform: %v", err)
		}
		return r
	}

	t.Run("valid token", func(t *testing.T) {
		t.Parallel()
		id, header := capture(t, defaultOptions(), sign(t, http.MethodPost, "/jobs/refresh-search-index", testNow))
		if id == nil || id.Subject != auth.PlatformSubject || !id.Has(auth.RolePlatform) {
			t.Errorf("identity = %+v, want the platform identity", id)
		}
		assertStripped(t, header)
	})

	t.Run("signature format", func(t *testing.T) {
		t.Parallel()
		r := sign(t, http.MethodPost, "/jobs/x?run=1", testNow)
		ts := r.Header.Get(auth.PlatformTimeHeader)
		tag := smcrypto.SumHMAC(platformSecret, []byte("POST\n/jobs/x\n"+ts))
		if got := r.Header.Get(auth.PlatformSignatureHeader); got != hex.EncodeToString(tag[:]) {
			t.Errorf("signature = %s, want HMAC-SM3 over method, path and time", got)
		}
	})

	rejected := []struct {
		name   string
		r      func(t *testing.T) *http.Request
		secret auth.Secret
	}{
		{name: "tampered signature", r: func(t *testing.T) *http.Request {
			r := sign(t, http.MethodPost, "/jobs/a", testNow)
			r.Header.Set(auth.PlatformSignatureHeader, strings.Repeat("ab", 32))
			return r
		}},
		{name: "signed too long ago", r: func(t *testing.T) *http.Request {
			return sign(t, http.MethodPost, "/jobs/a", testNow.Add(-2*auth.DefaultMaxSkew))
		}},
		{name: "signed in the future", r: func(t *testing.T) *http.Request {
			return sign(t, http.MethodPost, "/jobs/a", testNow.Add(2*auth.DefaultMaxSkew))
		}},
		{name: "replayed on another path", r: func(t *testing.T) *http.Request {
			signed := sign(t, http.MethodPost, "/jobs/a", testNow)
			r := httptest.NewRequest(http.MethodPost, "/admin/zones", nil)
			r.Header = signed.Header
			return r
		}},
		{name: "missing time", r: func(t *testing.T) *http.Request {
			r := sign(t, http.MethodPost, "/jobs/a", testNow)
			r.Header.Del(auth.PlatformTimeHeader)
			return r
		}},
		{name: "missing signature", r: func(t *testing.T) *http.Request {
			r := sign(t, http.MethodPost, "/jobs/a", testNow)
			r.Header.Del(auth.PlatformSignatureHeader)
			return r
		}},
		{name: "identity secret used", r: func(t *testing.T) *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/jobs/a", nil)
			if err := auth.SignPlatform(identitySecret, r, testNow); err != nil {
				t.Fatalf("SignPlatform: %v", err)
			}
			return r
		}},
		{name: "no platform secret configured", secret: auth.Secret{}, r: func(t *testing.T) *http.Request {
			return sign(t, http.MethodPost, "/jobs/a", testNow)
		}},
	}
	for _, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := defaultOptions()
			if tt.secret != nil {
				opts.PlatformSecret = tt.secret
			}
			id, header := capture(t, opts, tt.r(t))
			if id != nil {
				t.Errorf("identity = %+v, want nil for a rejected platform token", id)
			}
			assertStripped(t, header)
		})
	}
}

func TestVerifyPlatform_errors(t *testing.T) {
	t.Parallel()

	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if err := auth.VerifyPlatform(platformSecret, r, testNow, time.Minute); !errors.Is(err, auth.ErrNoPlatformToken) {
		t.Errorf("no headers: error = %v, want ErrNoPlatformToken", err)
	}
	r.Header.Set(auth.PlatformTimeHeader, "1")
	if err := auth.VerifyPlatform(platformSecret, r, testNow, time.Minute); !errors.Is(err, auth.ErrInvalidPlatformToken) {
		t.Errorf("time only: error = %v, want ErrInvalidPlatformToken", err)
	}
}

func TestMiddleware_precedence(t *testing.T) {
	t.Parallel()

	const operatorToken = "jtdev_operator_token_for_tests"
	opts := defaultOptions()
	opts.OperatorToken = operatorToken

	t.Run("identity before platform", func(t *testing.T) {
		t.Parallel()
		r := signedRequest(t, http.MethodGet, "/x", citizen, testNow)
		if err := auth.SignPlatform(platformSecret, r, testNow); err != nil {
			t.Fatalf("SignPlatform: %v", err)
		}
		id, _ := capture(t, opts, r)
		if id == nil || id.Subject != citizen.Subject || id.Has(auth.RolePlatform) {
			t.Errorf("identity = %+v, want the user without the platform role", id)
		}
	})

	t.Run("platform before operator token", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set("Authorization", "Bearer "+operatorToken)
		if err := auth.SignPlatform(platformSecret, r, testNow); err != nil {
			t.Fatalf("SignPlatform: %v", err)
		}
		id, _ := capture(t, opts, r)
		if id == nil || id.Subject != auth.PlatformSubject {
			t.Errorf("identity = %+v, want the platform", id)
		}
	})

	t.Run("operator token after invalid headers", func(t *testing.T) {
		t.Parallel()
		r := signedRequest(t, http.MethodGet, "/x", citizen, testNow.Add(-time.Hour))
		r.Header.Set("Authorization", "Bearer "+operatorToken)
		id, header := capture(t, opts, r)
		if id == nil || id.Subject != auth.DevOperatorSubject || !id.Has(auth.RoleOperator) {
			t.Errorf("identity = %+v, want the development operator", id)
		}
		assertStripped(t, header)
	})

	t.Run("operator token alone", func(t *testing.T) {
		t.Parallel()
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header.Set("Authorization", "Bearer "+operatorToken)
		id, _ := capture(t, auth.Options{OperatorToken: operatorToken}, r)
		if !id.Has(auth.RoleOperator) {
			t.Errorf("identity = %+v, want the development operator", id)
		}
	})

	t.Run("zero options leave every request anonymous", func(t *testing.T) {
		t.Parallel()
		r := signedRequest(t, http.MethodGet, "/x", citizen, time.Now())
		r.Header.Set("Authorization", "Bearer ")
		if id, _ := capture(t, auth.Options{}, r); id != nil {
			t.Errorf("identity = %+v, want nil", id)
		}
	})
}

func TestMiddleware_invalidOptions(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		opts auth.Options
	}{
		{name: "short identity secret", opts: auth.Options{IdentitySecret: auth.Secret("0123456789")}},
		{name: "short platform secret", opts: auth.Options{PlatformSecret: auth.Secret("0123456789")}},
		{name: "equal secrets", opts: auth.Options{IdentitySecret: identitySecret, PlatformSecret: identitySecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := auth.Middleware(tt.opts); err == nil {
				t.Errorf("Middleware error = nil, want an error")
			}
		})
	}
}

func TestMiddleware_logsRejectionAtDebug(t *testing.T) {
	t.Parallel()

	var buf bytes.Buffer
	opts := defaultOptions()
	opts.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))

	r := signedRequest(t, http.MethodGet, "/x", citizen, testNow)
	r.Header.Set(auth.IdentitySignatureHeader, strings.Repeat("0", 64))
	capture(t, opts, r)

	out := buf.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "identity headers rejected") {
		t.Errorf("log = %q, want a Debug line about the rejected headers", out)
	}
	for _, secret := range []auth.Secret{identitySecret, platformSecret} {
		if strings.Contains(out, string(secret)) {
			t.Errorf("log contains a secret: %q", out)
		}
	}
}

func TestIsPlatform_context(t *testing.T) {
	t.Parallel()

	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	if auth.IsPlatform(r.Context()) {
		t.Errorf("IsPlatform(anonymous) = true, want false")
	}
	ctx := auth.WithIdentity(r.Context(), &auth.Identity{Subject: auth.PlatformSubject, Roles: []auth.Role{auth.RolePlatform}})
	if !auth.IsPlatform(ctx) {
		t.Errorf("IsPlatform(platform) = false, want true")
	}
}

func TestSecret_redacted(t *testing.T) {
	t.Parallel()

	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("config", "secret", identitySecret)
	data, err := json.Marshal(struct{ S auth.Secret }{identitySecret})
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}

	for name, out := range map[string]string{
		"%v":     fmt.Sprintf("%v", identitySecret),
		"String": identitySecret.String(),
		"%#v":    fmt.Sprintf("%#v", identitySecret),
		"json":   string(data),
		"slog":   buf.String(),
	} {
		if strings.Contains(out, string(identitySecret)) || strings.Contains(out, "identity-secret") {
			t.Errorf("%s output %q contains the secret", name, out)
		}
	}
}

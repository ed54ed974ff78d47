package localdev

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway"
	"github.com/jingtong/backend/functions/gateway/audit"
	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/functions/gateway/envelope/client"
	"github.com/jingtong/backend/functions/gateway/identity"
	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/smcrypto"
)

// gatewayKey returns the development gateway key that localdev generated.
func gatewayKey(t *testing.T, dataDir string) *smcrypto.PrivateKey {
	t.Helper()
	key, err := smcrypto.LoadKeyFile(filepath.Join(dataDir, GatewayKeyDir, gateway.DefaultSigningKID+smcrypto.KeyFileExt))
	if err != nil {
		t.Fatalf("load the gateway key: %v", err)
	}
	return key
}

// newEnvelopeClient returns a client that pins the gateway key and reads
// its clock from now.
func newEnvelopeClient(t *testing.T, base string, key *smcrypto.PrivateKey, now func() time.Time) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{
		OpenURL:    base + "/api/gateway/session",
		KeyID:      gateway.DefaultSigningKID,
		PublicKeys: map[string]*smcrypto.PublicKey{gateway.DefaultSigningKID: key.PublicKey()},
		Now:        now,
	})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return c
}

// send sends a request through hc and reads the response. A gateway error
// that no session protects comes back as the error.
func send(t *testing.T, hc *http.Client, method, url string, header http.Header, body string) (response, error) {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

func errorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

// sendPrepared sends a precomputed protected request, after mutate
// changes it, without the client's verification.
func sendPrepared(t *testing.T, p *client.PreparedRequest, mutate func(*http.Request)) response {
	t.Helper()
	req, err := p.NewRequest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req.Header = req.Header.Clone()
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// TestGatewayEndToEnd drives localdev's gateway over a loopback listener
// with the Go envelope client: session, development login, an identified
// zones admin call, the rejections, a plaintext public read and the audit
// chain.
func TestGatewayEndToEnd(t *testing.T) {
	run := startServerWith(t, nil)
	base := run.base
	key := gatewayKey(t, run.dataDir)
	var offset atomic.Int64 // added to the client's clock
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	c := newEnvelopeClient(t, base, key, now)
	hc := c.HTTPClient()
	adminURL := base + "/api/zones/admin/zones?status=published&page_size=5"

	// The development operator logs in inside the session.
	login, err := send(t, hc, http.MethodPost, base+"/api/gateway/dev/login", nil, `{"user": "operator"}`)
	if err != nil || login.status != http.StatusOK {
		t.Fatalf("dev login = %+v, %v", login.status, err)
	}
	var token struct {
		Token   string `json:"token"`
		Subject string `json:"subject"`
	}
	if err := json.Unmarshal(login.body, &token); err != nil || token.Subject != auth.DevOperatorSubject {
		t.Fatalf("dev login body %s: %v", login.body, err)
	}
	withToken := http.Header{"Authorization": {"Bearer " + token.Token}}

	// An identified zones admin call: verified, decrypted and served by
	// zones from the identity the gateway signed.
	admin, err := send(t, hc, http.MethodGet, adminURL, withToken, "")
	if err != nil || admin.status != http.StatusOK {
		t.Fatalf("admin call = %d, %v: %s", admin.status, err, admin.body)
	}
	var zones struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(admin.body, &zones); err != nil || len(zones.Data) == 0 {
		t.Errorf("admin call body %s: %v", admin.body, err)
	}
	if admin.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("decrypted Content-Type = %q", admin.header.Get("Content-Type"))
	}

	// Anonymous identified requests get 401, protected or not.
	anonymous, err := send(t, hc, http.MethodGet, adminURL, nil, "")
	if err != nil || anonymous.status != http.StatusUnauthorized || errorCode(anonymous.body) != "UNAUTHORIZED" {
		t.Errorf("anonymous enveloped admin call = %d %s, %v; want 401 UNAUTHORIZED", anonymous.status, anonymous.body, err)
	}
	plaintext := get(t, adminURL, map[string]string{"Authorization": "Bearer " + token.Token})
	if plaintext.status != http.StatusUnauthorized || errorCode(plaintext.body) != gateway.CodeEnvelopeRequired.ID {
		t.Errorf("plaintext admin call = %d %s, want 401 ENVELOPE_REQUIRED", plaintext.status, plaintext.body)
	}

	// Tampered and replayed requests.
	prepared, err := c.PrecomputeRequests(context.Background(), 2, http.MethodGet, adminURL, withToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	tampered := sendPrepared(t, prepared[0], func(r *http.Request) { r.URL.RawQuery = "status=draft&page_size=5" })
	if tampered.status != http.StatusBadRequest || errorCode(tampered.body) != envelope.CodeEnvelopeInvalid.ID {
		t.Errorf("tampered query = %d %s, want 400 ENVELOPE_INVALID", tampered.status, tampered.body)
	}
	if first := sendPrepared(t, prepared[1], nil); first.status != http.StatusOK {
		t.Errorf("prepared request = %d %s", first.status, first.body)
	}
	if again := sendPrepared(t, prepared[1], nil); again.status != http.StatusConflict || errorCode(again.body) != envelope.CodeNonceReplayed.ID {
		t.Errorf("replayed request = %d %s, want 409 NONCE_REPLAYED", again.status, again.body)
	}

	// Expired: a timestamp outside the skew window, and a token past its
	// expiry.
	offset.Store(int64(-10 * time.Minute))
	_, err = send(t, hc, http.MethodGet, adminURL, withToken, "")
	if gwErr := (*client.GatewayError)(nil); !errors.As(err, &gwErr) || gwErr.Code != envelope.CodeTimestampSkew.ID {
		t.Errorf("request with a stale timestamp: %v, want TIMESTAMP_SKEW", err)
	}
	offset.Store(0)
	expired := issueToken(t, key, time.Now().Add(-3*time.Hour))
	late, err := send(t, hc, http.MethodGet, adminURL, http.Header{"Authorization": {"Bearer " + expired}}, "")
	if err != nil || late.status != http.StatusUnauthorized || errorCode(late.body) != "TOKEN_EXPIRED" {
		t.Errorf("expired token = %d %s, %v; want 401 TOKEN_EXPIRED", late.status, late.body, err)
	}

	// The benchmark's public page read stays plaintext and cacheable.
	page := get(t, base+"/api/zones/zones/life-marriage/page?channel=wechat", nil)
	if page.status != http.StatusOK || page.header.Get("ETag") == "" || page.header.Get(envelope.HeaderSignature) != "" {
		t.Errorf("public page = %d, ETag %q, X-JT-Signature %q; want a plaintext 200 with ETag",
			page.status, page.header.Get("ETag"), page.header.Get(envelope.HeaderSignature))
	}
	if r := get(t, base+"/api/zones/zones/life-marriage/page?channel=wechat", map[string]string{"If-None-Match": page.header.Get("ETag")}); r.status != http.StatusNotModified {
		t.Errorf("public page with If-None-Match = %d, want 304", r.status)
	}

	checkAudit(t, run)
}

// checkAudit waits for the operator's admin call to reach the audit chain
// and verifies the chain with the key localdev generated.
func checkAudit(t *testing.T, run running) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := run.srv.db.NewSelect().Table("gateway_audit").
			Where("subject = ? AND route = ? AND status = ?", auth.DevOperatorSubject, "zones-admin", http.StatusOK).Count(ctx)
		if err != nil {
			t.Fatalf("count audit records: %v", err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no audit record of the operator's admin call within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	key, err := audit.LoadKeyFile(filepath.Join(run.dataDir, AuditKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, run.srv.db, key)
	if err != nil || !rep.OK() || rep.Records == 0 {
		t.Errorf("audit.Verify = %+v, %v; want an intact chain", rep, err)
	}
}

// issueToken signs an operator token with the gateway key as of issued.
func issueToken(t *testing.T, key *smcrypto.PrivateKey, issued time.Time) string {
	t.Helper()
	keys, err := smcrypto.NewKeySet(gateway.DefaultSigningKID, map[string]*smcrypto.PrivateKey{gateway.DefaultSigningKID: key})
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := identity.NewIssuer(keys, identity.IssuerConfig{Now: func() time.Time { return issued }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := issuer.Issue(context.Background(), &auth.Identity{Subject: auth.DevOperatorSubject, Roles: []auth.Role{auth.RoleOperator}})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

func TestGatewayPerIPLimit(t *testing.T) {
	run := startServerWith(t, map[string]string{
		"JT_GATEWAY_RATE_LIMITS": "true",
		"JT_GATEWAY_IP_RATE":     "3/1m",
	})

	var last response
	for range 4 {
		last = get(t, run.base+"/api/zones/zones?kind=life", nil)
	}
	if last.status != http.StatusTooManyRequests || errorCode(last.body) != "RATE_LIMITED" {
		t.Fatalf("4th request over a limit of 3 = %d %s, want 429 RATE_LIMITED", last.status, last.body)
	}
	if got := last.header.Get("Retry-After"); got == "" || got == "0" {
		t.Errorf("Retry-After = %q, want a positive number of seconds", got)
	}
	if got := last.header.Get("RateLimit-Policy"); got != `"ip";q=3;w=60` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	if got := last.header.Get("RateLimit"); !strings.HasPrefix(got, `"ip";r=0;t=`) {
		t.Errorf("RateLimit = %q", got)
	}
}

func TestGatewaySecretsWritten(t *testing.T) {
	_, dataDir := startServer(t)

	for _, name := range []string{
		filepath.Join(GatewayKeyDir, gateway.DefaultSigningKID+smcrypto.KeyFileExt),
		IdentitySecretFile,
		AuditKeyFile,
	} {
		info, err := os.Stat(filepath.Join(dataDir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode = %o, want 600", name, perm)
		}
	}
	if _, err := audit.LoadKeyFile(filepath.Join(dataDir, AuditKeyFile)); err != nil {
		t.Errorf("audit key: %v", err)
	}
	secretFile := map[string]string{"JT_IDENTITY_SECRET_FILE": filepath.Join(dataDir, IdentitySecretFile)}
	secret, err := auth.LoadSecret(func(k string) (string, bool) { v, ok := secretFile[k]; return v, ok }, auth.IdentitySecretVar)
	if err != nil || len(secret) < auth.MinSecretSize {
		t.Errorf("identity secret: %d bytes, %v", len(secret), err)
	}
}

func TestGatewaySecretsKeptAcrossRestarts(t *testing.T) {
	dataDir := t.TempDir()
	lookup := func(string) (string, bool) { return "", false }
	first, err := gatewayDefaults(dataDir, lookup, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(first["JT_AUDIT_KEY_FILE"])
	second, err := gatewayDefaults(dataDir, lookup, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(second["JT_AUDIT_KEY_FILE"])
	if len(before) == 0 || string(before) != string(after) {
		t.Error("the audit key changed on the second start")
	}

	set := map[string]string{"JT_IDENTITY_SECRET": strings.Repeat("k", 32), "JT_GATEWAY_REMOTE_KEYS_URL": "https://keys.example.cn"}
	vars, err := gatewayDefaults(t.TempDir(), func(k string) (string, bool) { v, ok := set[k]; return v, ok }, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := vars["JT_IDENTITY_SECRET_FILE"]; ok {
		t.Error("a default identity secret file overrides JT_IDENTITY_SECRET")
	}
	if _, ok := vars["JT_GATEWAY_KEY_DIR"]; ok {
		t.Error("a default key directory overrides the key service")
	}
}

// TestCatalogueCORS checks every public zones route through the gateway
// from an allowed H5 origin. A preflight passes, and the response names the
// origin. Vary keeps Origin beside the Accept-Language that zones adds, so
// a shared cache never serves one origin's response to another.
func TestCatalogueCORS(t *testing.T) {
	base, _ := startServer(t)
	const origin = "http://localhost:8080"

	paths := []string{
		"/api/zones/zones?kind=life",
		"/api/zones/zones/life-marriage/page?channel=h5",
		"/api/zones/services/search?q=hy",
		"/api/zones/services/marriage-registration-booking",
		"/api/zones/items/one-thing-newborn",
		"/api/zones/openapi.json",
	}
	for _, path := range paths {
		req, err := http.NewRequest(http.MethodOptions, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", http.MethodGet)
		req.Header.Set("Access-Control-Request-Headers", "accept-language")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("preflight %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("preflight %s = %d, Access-Control-Allow-Origin %q; want 204 naming the origin",
				path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}

		r := get(t, base+path, map[string]string{"Origin": origin})
		if r.status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, r.status)
			continue
		}
		if got := r.header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("GET %s: Access-Control-Allow-Origin = %q, want %q", path, got, origin)
		}
		vary := strings.Join(r.header.Values("Vary"), ", ")
		if !strings.Contains(vary, "Origin") {
			t.Errorf("GET %s: Vary = %q, want Origin in it", path, vary)
		}
		if strings.Contains(path, "/zones/zones") && !strings.Contains(vary, "Accept-Language") {
			t.Errorf("GET %s: Vary = %q, want Accept-Language in it", path, vary)
		}

		// A response to a request without Origin may be cached and served
		// to a cross-origin page, so it varies on Origin too.
		plain := get(t, base+path, nil)
		if got := strings.Join(plain.header.Values("Vary"), ", "); !strings.Contains(got, "Origin") {
			t.Errorf("GET %s without Origin: Vary = %q, want Origin in it", path, got)
		}
	}
}

package gateway_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/gateway"
	"github.com/jingtong/backend/functions/gateway/envelope/client"
	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/obs/obstest"
	"github.com/jingtong/backend/shared/smcrypto"
	"github.com/jingtong/backend/shared/store/storetest"
)

// Test secrets. They are only ever used against test servers.
var (
	testIdentitySecret = auth.Secret(strings.Repeat("3f", 32))
	testAuditKey       = strings.Repeat("a5", 32)
)

const redisURLVar = "JT_TEST_REDIS_URL"

// testClock is a settable clock shared by the gateway and its clients.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Now().Truncate(time.Millisecond)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testGateway is a gateway on a loopback listener with a fake zones
// function behind it.
type testGateway struct {
	t      testing.TB
	gw     *gateway.Gateway
	db     *bun.DB
	server *httptest.Server
	clock  *testClock
	key    *smcrypto.PrivateKey
	logs   *obstest.Buffer
}

// gatewaySetup is what a test gateway is built with.
type gatewaySetup struct {
	vars      map[string]string
	functions map[string]http.Handler
}

// gatewayOption changes the setup of a test gateway.
type gatewayOption func(*gatewaySetup)

func withVar(key, value string) gatewayOption {
	return func(s *gatewaySetup) { s.vars[key] = value }
}

// withFunction replaces or adds the in-process function name.
func withFunction(name string, h http.Handler) gatewayOption {
	return func(s *gatewaySetup) { s.functions[name] = h }
}

// newTestGateway builds and migrates a gateway over a fresh SQLite
// database (or db, when given), serves its edge on a loopback listener
// and closes both when the test ends. The fake zones function verifies
// the identity headers with testIdentitySecret.
func newTestGateway(t testing.TB, db *bun.DB, opts ...gatewayOption) *testGateway {
	t.Helper()
	if db == nil {
		db = storetest.OpenSQLite(t)
	}
	keyDir := t.TempDir()
	key, err := smcrypto.EnsureKeyFile(keyDir, gateway.DefaultSigningKID, nil)
	if err != nil {
		t.Fatalf("EnsureKeyFile: %v", err)
	}
	clock := newTestClock()
	setup := gatewaySetup{
		vars: map[string]string{
			"JT_GATEWAY_KEY_DIR": keyDir,
			"JT_IDENTITY_SECRET": string(testIdentitySecret),
			"JT_AUDIT_KEY":       testAuditKey,
			"JT_AUDIT_REPLICA":   "test",
			"JT_DEV_LOGIN":       "true",
		},
		functions: map[string]http.Handler{"zones": fakeZones(t, testIdentitySecret, clock.Now)},
	}
	for _, o := range opts {
		o(&setup)
	}
	vars := setup.vars

	logs := &obstest.Buffer{}
	env := &fn.Env{
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clock.Now,
		OpenDB: func(context.Context) (*bun.DB, error) { return db, nil },
	}
	gw, err := gateway.Build(context.Background(), env, setup.functions)
	if err != nil {
		t.Fatalf("gateway.Build: %v", err)
	}
	if err := gw.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	server := httptest.NewServer(gw.Function().Handler)
	t.Cleanup(func() {
		server.Close()
		if err := gw.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testGateway{t: t, gw: gw, db: db, server: server, clock: clock, key: key, logs: logs}
}

// url returns the absolute URL of path on the gateway.
func (tg *testGateway) url(path string) string {
	return tg.server.URL + path
}

// newClient returns an envelope client that pins the gateway's key and
// shares its clock.
func (tg *testGateway) newClient() *client.Client {
	tg.t.Helper()
	c, err := client.New(client.Config{
		OpenURL:    tg.url("/api/gateway/session"),
		KeyID:      gateway.DefaultSigningKID,
		PublicKeys: map[string]*smcrypto.PublicKey{gateway.DefaultSigningKID: tg.key.PublicKey()},
		Now:        tg.clock.Now,
	})
	if err != nil {
		tg.t.Fatalf("client.New: %v", err)
	}
	return c
}

// response is a response with its body read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// code returns the error code of a JSON error body, or "".
func (r response) code() string {
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &body)
	return body.Error.Code
}

// do sends a request through hc, which may be an envelope client's, and
// reads the response.
func do(t testing.TB, hc *http.Client, method, url string, header http.Header, body any) (response, error) {
	t.Helper()
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("encode body: %v", err)
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// mustDo is do for requests that must get a response.
func mustDo(t testing.TB, hc *http.Client, method, url string, header http.Header, body any) response {
	t.Helper()
	r, err := do(t, hc, method, url, header, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// devLogin logs in as the test user through c, inside its session, and
// returns the token.
func (tg *testGateway) devLogin(c *client.Client, user string) string {
	tg.t.Helper()
	r := mustDo(tg.t, c.HTTPClient(), http.MethodPost, tg.url("/api/gateway/dev/login"), nil, map[string]string{"user": user})
	if r.status != http.StatusOK {
		tg.t.Fatalf("dev login as %s = %d: %s", user, r.status, r.body)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.Token == "" {
		tg.t.Fatalf("dev login body %s: %v", r.body, err)
	}
	return out.Token
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// seen is what the fake zones function reports about a request.
type seen struct {
	Subject       string   `json:"subject"`
	Roles         []string `json:"roles"`
	Channel       string   `json:"channel"`
	Path          string   `json:"path"`
	Authorization string   `json:"authorization"`
	Identity      string   `json:"identity_header"`
	Platform      string   `json:"platform_header"`
}

// fakeZones replaces the zones function in these tests. It identifies
// callers with auth.Middleware and secret, as zones does, and reports what
// it received. Its page carries an ETag and returns 304 for a matching
// If-None-Match.
func fakeZones(t testing.TB, secret auth.Secret, now func() time.Time) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /zones/{id}/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"page-v1"`)
		w.Header().Set("Cache-Control", "public, max-age=60")
		if r.Header.Get("If-None-Match") == `"page-v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		writeSeen(w, r)
	})
	mux.HandleFunc("/", writeSeen)
	identify, err := auth.Middleware(auth.Options{IdentitySecret: secret, Now: now})
	if err != nil {
		t.Fatalf("auth.Middleware: %v", err)
	}
	// The raw headers are captured before auth.Middleware strips them.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := r.Header.Get(auth.IdentityHeader)
		platform := r.Header.Get(auth.PlatformSignatureHeader)
		identify(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Set("X-Test-Identity-Header", raw)
			r.Header.Set("X-Test-Platform-Header", platform)
			mux.ServeHTTP(w, r)
		})).ServeHTTP(w, r)
	})
}

func writeSeen(w http.ResponseWriter, r *http.Request) {
	out := seen{
		Path:          r.URL.Path,
		Authorization: r.Header.Get("Authorization"),
		Identity:      r.Header.Get("X-Test-Identity-Header"),
		Platform:      r.Header.Get("X-Test-Platform-Header"),
	}
	if id := auth.FromContext(r.Context()); id != nil {
		out.Subject, out.Channel = id.Subject, id.Channel
		for _, role := range id.Roles {
			out.Roles = append(out.Roles, string(role))
		}
	}
	if strings.HasPrefix(r.URL.Path, "/admin") && !auth.FromContext(r.Context()).Has(auth.RoleOperator) {
		w.WriteHeader(http.StatusForbidden)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func decodeSeen(t testing.TB, r response) seen {
	t.Helper()
	var s seen
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return s
}

// auditRow is one stored audit record.
type auditRow struct {
	Subject string `bun:"subject"`
	Route   string `bun:"route"`
	Method  string `bun:"method"`
	Path    string `bun:"path"`
	Status  int    `bun:"status"`
}

// auditRows closes the gateway, which flushes the audit writer, and
// returns the stored records in order.
func (tg *testGateway) auditRows() []auditRow {
	tg.t.Helper()
	tg.server.Close()
	if err := tg.gw.Close(); err != nil {
		tg.t.Fatalf("Close: %v", err)
	}
	var rows []auditRow
	err := tg.db.NewSelect().Table("gateway_audit").Column("subject", "route", "method", "path", "status").
		Order("seq").Scan(context.Background(), &rows)
	if err != nil {
		tg.t.Fatalf("read audit rows: %v", err)
	}
	return rows
}

func auditKeyBytes(t testing.TB) []byte {
	t.Helper()
	key, err := hex.DecodeString(testAuditKey)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// redisURL returns JT_TEST_REDIS_URL, skipping the test when it is unset.
func redisURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(redisURLVar)
	if url == "" {
		t.Skipf("%s is not set; skipping the Redis run", redisURLVar)
	}
	return url
}

package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/gateway"
	"github.com/jingtong/backend/functions/gateway/audit"
	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/smcrypto"
	"github.com/jingtong/backend/shared/store/storetest"
)

func TestPublicReadStaysPlaintext(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)

	spoofed := http.Header{
		"Authorization":              {"Basic dXNlcjpwYXNz"},
		auth.IdentityHeader:          {"eyJzdWIiOiJhZG1pbiJ9"},
		auth.IdentityTimeHeader:      {"1"},
		auth.PlatformSignatureHeader: {"00"},
	}
	r := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/zones/zones/life-marriage/page?channel=wechat"), spoofed, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET page = %d: %s", r.status, r.body)
	}
	if r.header.Get("ETag") != `"page-v1"` || r.header.Get(envelope.HeaderSignature) != "" {
		t.Errorf("headers ETag %q, X-JT-Signature %q; want the ETag and no signature", r.header.Get("ETag"), r.header.Get(envelope.HeaderSignature))
	}
	got := decodeSeen(t, r)
	if got.Path != "/zones/life-marriage/page" || got.Subject != "" {
		t.Errorf("function saw path %q, subject %q; want the rewritten path and no caller", got.Path, got.Subject)
	}
	if got.Identity != "" || got.Platform != "" || got.Authorization != "" {
		t.Errorf("function saw identity %q, platform %q, Authorization %q; want none of the client's", got.Identity, got.Platform, got.Authorization)
	}

	notModified := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/zones/zones/life-marriage/page?channel=wechat"),
		http.Header{"If-None-Match": {`"page-v1"`}}, nil)
	if notModified.status != http.StatusNotModified {
		t.Errorf("GET page with If-None-Match = %d, want 304", notModified.status)
	}
}

func TestIdentifiedRouteRejectsPlaintext(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)

	r := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/zones/admin/zones"), nil, nil)
	if r.status != http.StatusUnauthorized || r.code() != gateway.CodeEnvelopeRequired.ID {
		t.Errorf("plaintext admin request = %d %s, want 401 %s", r.status, r.code(), gateway.CodeEnvelopeRequired.ID)
	}
}

func TestOperatorReachesAdminThroughEnvelope(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)
	c := tg.newClient()
	hc := c.HTTPClient()

	anonymous := mustDo(t, hc, http.MethodGet, tg.url("/api/zones/admin/zones"), nil, nil)
	if anonymous.status != http.StatusUnauthorized || anonymous.code() != "UNAUTHORIZED" {
		t.Errorf("anonymous admin request = %d %s, want a protected 401 UNAUTHORIZED", anonymous.status, anonymous.code())
	}
	if got := anonymous.header.Get("WWW-Authenticate"); got == "" {
		t.Error("anonymous 401 has no WWW-Authenticate")
	}

	token := tg.devLogin(c, "operator")
	r := mustDo(t, hc, http.MethodGet, tg.url("/api/zones/admin/zones?status=draft"), bearer(token), nil)
	if r.status != http.StatusOK {
		t.Fatalf("operator admin request = %d: %s", r.status, r.body)
	}
	got := decodeSeen(t, r)
	if got.Subject != auth.DevOperatorSubject || !slices.Contains(got.Roles, "operator") || got.Channel != "dev" {
		t.Errorf("function saw identity %+v, want the dev operator on channel dev", got)
	}
	if got.Path != "/admin/zones" || got.Authorization != "" || got.Identity == "" {
		t.Errorf("function saw path %q, Authorization %q, identity header %q; want /admin/zones, no token and signed headers",
			got.Path, got.Authorization, got.Identity)
	}
	if strings.Contains(tg.logs.String(), token) {
		t.Error("the logs contain the bearer token")
	}

	citizen := tg.newClient()
	citizenToken := tg.devLogin(citizen, "citizen")
	forbidden := mustDo(t, citizen.HTTPClient(), http.MethodGet, tg.url("/api/zones/admin/zones"), bearer(citizenToken), nil)
	if forbidden.status != http.StatusForbidden {
		t.Errorf("citizen admin request = %d, want the function's 403", forbidden.status)
	}
}

func TestFunctionTrustsOnlySignedHeaders(t *testing.T) {
	t.Parallel()
	otherSecret := auth.Secret(strings.Repeat("7c", 32))
	tg := newTestGateway(t, nil, withFunction("zones", fakeZones(t, otherSecret, time.Now)))
	c := tg.newClient()
	token := tg.devLogin(c, "operator")

	r := mustDo(t, c.HTTPClient(), http.MethodGet, tg.url("/api/zones/admin/zones"), bearer(token), nil)
	if got := decodeSeen(t, r); r.status != http.StatusForbidden || got.Subject != "" {
		t.Errorf("function with another identity secret = %d, subject %q; want an anonymous caller", r.status, got.Subject)
	}
}

func TestEnvelopeRejectsTamperedReplayedAndStale(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)
	c := tg.newClient()
	token := tg.devLogin(c, "operator")
	ctx := context.Background()

	prepared, err := c.PrecomputeRequests(ctx, 2, http.MethodGet, tg.url("/api/zones/admin/zones"), bearer(token), nil)
	if err != nil {
		t.Fatalf("PrecomputeRequests: %v", err)
	}
	sendPrepared := func(i int, mutate func(*http.Request)) response {
		t.Helper()
		req, err := prepared[i].NewRequest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = req.Header.Clone()
		if mutate != nil {
			mutate(req)
		}
		return mustDo(t, http.DefaultClient, req.Method, req.URL.String(), req.Header, nil)
	}

	tampered := sendPrepared(0, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token+"x") })
	if tampered.status != http.StatusBadRequest || tampered.code() != envelope.CodeEnvelopeInvalid.ID {
		t.Errorf("tampered request = %d %s, want 400 %s", tampered.status, tampered.code(), envelope.CodeEnvelopeInvalid.ID)
	}

	if first := sendPrepared(1, nil); first.status != http.StatusOK {
		t.Fatalf("prepared request = %d: %s", first.status, first.body)
	}
	replayed := sendPrepared(1, nil)
	if replayed.status != http.StatusConflict || replayed.code() != envelope.CodeNonceReplayed.ID {
		t.Errorf("replayed request = %d %s, want 409 %s", replayed.status, replayed.code(), envelope.CodeNonceReplayed.ID)
	}

	stale, err := c.PrecomputeRequests(ctx, 1, http.MethodGet, tg.url("/api/zones/admin/zones"), bearer(token), nil)
	if err != nil {
		t.Fatal(err)
	}
	tg.clock.Advance(envelope.DefaultSkew + time.Second)
	req, _ := stale[0].NewRequest(ctx)
	late := mustDo(t, http.DefaultClient, req.Method, req.URL.String(), req.Header, nil)
	if late.status != http.StatusBadRequest || late.code() != envelope.CodeTimestampSkew.ID {
		t.Errorf("stale request = %d %s, want 400 %s", late.status, late.code(), envelope.CodeTimestampSkew.ID)
	}
}

func TestExpiredTokenRejected(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)
	c := tg.newClient()
	token := tg.devLogin(c, "operator")

	// Past the token's 2 h lifetime the session has expired too, so the
	// client opens a new one and the token check decides.
	tg.clock.Advance(3 * time.Hour)
	r := mustDo(t, c.HTTPClient(), http.MethodGet, tg.url("/api/zones/admin/zones"), bearer(token), nil)
	if r.status != http.StatusUnauthorized || r.code() != "TOKEN_EXPIRED" {
		t.Errorf("request with an expired token = %d %s, want 401 TOKEN_EXPIRED", r.status, r.code())
	}
}

func TestSessionBoundToFirstUser(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)
	c := tg.newClient()
	citizen := tg.devLogin(c, "citizen")
	operator := tg.devLogin(c, "operator")
	hc := c.HTTPClient()

	if r := mustDo(t, hc, http.MethodGet, tg.url("/api/zones/zones/x/page"), bearer(citizen), nil); r.status != http.StatusOK {
		t.Fatalf("citizen request = %d: %s", r.status, r.body)
	}
	r := mustDo(t, hc, http.MethodGet, tg.url("/api/zones/admin/zones"), bearer(operator), nil)
	if r.status != http.StatusUnauthorized || r.code() != gateway.CodeSessionSubjectMismatch.ID {
		t.Errorf("operator token in the citizen's session = %d %s, want 401 %s", r.status, r.code(), gateway.CodeSessionSubjectMismatch.ID)
	}
}

func TestEnvelopedPublicReadIsProtected(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)
	c := tg.newClient()

	r := mustDo(t, c.HTTPClient(), http.MethodGet, tg.url("/api/zones/zones/life-marriage/page"), nil, nil)
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("enveloped public read = %d, Cache-Control %q; want 200 no-store", r.status, r.header.Get("Cache-Control"))
	}
	if got := decodeSeen(t, r); got.Path != "/zones/life-marriage/page" {
		t.Errorf("function saw path %q", got.Path)
	}
}

func TestCheapRejectionsComeFirst(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil,
		withVar("JT_GATEWAY_MAX_BODY", "2048"),
		withVar("JT_GATEWAY_IP_RATE", "2/1m burst 2"))

	// Malformed envelope headers, so that only the checks before the
	// envelope may respond with anything but MALFORMED_HEADER.
	bogus := http.Header{envelope.HeaderSession: {"not-a-session"}}
	big := strings.Repeat("x", 4096)
	req, _ := http.NewRequest(http.MethodPost, tg.url("/api/zones/admin/zones"), strings.NewReader(big))
	req.Header = bogus.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized request = %d, want 413 before the envelope", resp.StatusCode)
	}

	unknown := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/nowhere"), bogus, nil)
	if unknown.status != http.StatusNotFound || unknown.code() != "ROUTE_NOT_FOUND" {
		t.Errorf("unknown route = %d %s, want 404 ROUTE_NOT_FOUND before the envelope", unknown.status, unknown.code())
	}
	if got := unknown.header.Get("RateLimit-Policy"); got != `"ip";q=2;w=60` {
		t.Errorf("404 after the per-IP limit: RateLimit-Policy = %q, want the ip policy", got)
	}
	internal := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/function/zones/zones"), nil, nil)
	if internal.status != http.StatusNotFound || internal.code() != "ROUTE_NOT_FOUND" {
		t.Errorf("internal route = %d %s, want 404 ROUTE_NOT_FOUND", internal.status, internal.code())
	}

	limited := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/zones/admin/zones"), bogus, nil)
	if limited.status != http.StatusTooManyRequests {
		t.Fatalf("request over the per-IP limit = %d %s, want 429 before the envelope", limited.status, limited.code())
	}
	for _, h := range []string{"Retry-After", "RateLimit", "RateLimit-Policy"} {
		if limited.header.Get(h) == "" {
			t.Errorf("429 lacks %s", h)
		}
	}
	if got := limited.header.Get("RateLimit-Policy"); got != `"ip";q=2;w=60` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
}

func TestOversizedBodyNamesRouteLimit(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil, withVar("JT_GATEWAY_MAX_BODY", "8192"))
	english := http.Header{"Accept-Language": {"en"}}

	// 10,000 bytes exceed the edge limit (8,192) and the session route's
	// (4,096). 5,000 bytes exceed only the route's. Both 413 responses
	// name the route's limit, the one a client must stay under.
	for _, size := range []int{10000, 5000} {
		resp := mustDo(t, http.DefaultClient, http.MethodPost, tg.url("/api/gateway/session"), english, strings.Repeat("x", size))
		if resp.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("%d-byte session open = %d, want 413", size, resp.status)
		}
		if !strings.Contains(string(resp.body), "4096 bytes") {
			t.Errorf("%d-byte session open: body %s does not name the route's limit of 4096 bytes", size, resp.body)
		}
	}
}

func TestPerUserLimitIsProtected(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil, withVar("JT_GATEWAY_USER_RATE", "2/1m"))
	c := tg.newClient()
	token := tg.devLogin(c, "operator")
	hc := c.HTTPClient()

	for i := range 2 {
		if r := mustDo(t, hc, http.MethodGet, tg.url("/api/zones/admin/zones"), bearer(token), nil); r.status != http.StatusOK {
			t.Fatalf("request %d = %d: %s", i, r.status, r.body)
		}
	}
	r := mustDo(t, hc, http.MethodGet, tg.url("/api/zones/admin/zones"), bearer(token), nil)
	if r.status != http.StatusTooManyRequests || r.code() != "RATE_LIMITED" {
		t.Fatalf("third request = %d %s, want a protected 429 RATE_LIMITED", r.status, r.code())
	}
	if got := r.header.Get("RateLimit-Policy"); !strings.Contains(got, `"user"`) || !strings.Contains(got, `"ip"`) {
		t.Errorf("RateLimit-Policy = %q, want the ip and user policies", got)
	}
}

func TestRouteZoneLimit(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)

	// The default table limits each zone page to 40 requests in a burst
	// from one address.
	var last response
	for range 41 {
		last = mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/zones/zones/life-marriage/page"), nil, nil)
	}
	if last.status != http.StatusTooManyRequests || !strings.Contains(last.header.Get("RateLimit-Policy"), `"zone-page-ip"`) {
		t.Errorf("41st page read = %d, policy %q; want 429 from zone-page-ip", last.status, last.header.Get("RateLimit-Policy"))
	}
	if other := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/zones/zones/life-elderly/page"), nil, nil); other.status != http.StatusOK {
		t.Errorf("another zone's page = %d, want 200 from its own quota", other.status)
	}
}

func TestRateLimitsOff(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil, withVar("JT_GATEWAY_RATE_LIMITS", "false"), withVar("JT_GATEWAY_IP_RATE", "1/1m"))

	for i := range 50 {
		r := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/zones/zones/life-marriage/page"), nil, nil)
		if r.status != http.StatusOK || r.header.Get("RateLimit") != "" {
			t.Fatalf("request %d = %d, RateLimit %q; want 200 without limits", i, r.status, r.header.Get("RateLimit"))
		}
	}
}

func TestAuditRecordsProtectedRequests(t *testing.T) {
	t.Parallel()
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		tg := newTestGateway(t, db)
		c := tg.newClient()
		token := tg.devLogin(c, "operator")
		hc := c.HTTPClient()
		mustDo(t, hc, http.MethodGet, tg.url("/api/zones/admin/zones"), bearer(token), nil)
		mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/zones/zones/life-marriage/page"), nil, nil)
		mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/zones/admin/zones"), nil, nil)

		rows := tg.auditRows()
		want := []auditRow{
			{Subject: "", Route: "gateway-dev", Method: "POST", Path: "/api/gateway/dev/login", Status: 200},
			{Subject: auth.DevOperatorSubject, Route: "zones-admin", Method: "GET", Path: "/api/zones/admin/zones", Status: 200},
			{Subject: "", Route: "zones-admin", Method: "GET", Path: "/api/zones/admin/zones", Status: 401},
		}
		if !slices.Equal(rows, want) {
			t.Errorf("audit rows = %+v, want %+v", rows, want)
		}
		rep, err := audit.Verify(context.Background(), db, auditKeyBytes(t))
		if err != nil || !rep.OK() || rep.Records != 3 {
			t.Errorf("audit.Verify = %+v, %v; want 3 records verified", rep, err)
		}
	})
}

func TestCloseSession(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)
	c := tg.newClient()
	ctx := context.Background()
	first, err := c.Session(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if r := mustDo(t, http.DefaultClient, http.MethodDelete, tg.url("/api/gateway/session"), nil, nil); r.code() != gateway.CodeEnvelopeRequired.ID {
		t.Errorf("plaintext DELETE /session = %d %s, want %s", r.status, r.code(), gateway.CodeEnvelopeRequired.ID)
	}
	if r := mustDo(t, c.HTTPClient(), http.MethodDelete, tg.url("/api/gateway/session"), nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE /session = %d: %s", r.status, r.body)
	}
	// The client learns of the closed session from SESSION_NOT_FOUND and
	// opens another.
	if r := mustDo(t, c.HTTPClient(), http.MethodGet, tg.url("/api/zones/zones/x/page"), nil, nil); r.status != http.StatusOK {
		t.Fatalf("request after close = %d", r.status)
	}
	second, err := c.Session(ctx)
	if err != nil || second.ID == first.ID {
		t.Errorf("session after close = %v, %v; want a new session", second, err)
	}
}

func TestKeysAndOwnRoutes(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)

	for _, path := range []string{"/api/gateway/keys", "/.well-known/jingtong-keys.json"} {
		r := mustDo(t, http.DefaultClient, http.MethodGet, tg.url(path), nil, nil)
		var list smcrypto.KeyList
		if r.status != http.StatusOK || json.Unmarshal(r.body, &list) != nil {
			t.Fatalf("GET %s = %d: %s", path, r.status, r.body)
		}
		if len(list.Keys) != 1 || list.Keys[0].KID != gateway.DefaultSigningKID || list.Keys[0].PublicKeyHex != tg.key.PublicKey().Hex() {
			t.Errorf("GET %s = %+v, want the one test key", path, list)
		}
	}

	users := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/gateway/dev/users"), nil, nil)
	if users.status != http.StatusOK || !strings.Contains(string(users.body), `"operator"`) {
		t.Errorf("GET /dev/users = %d: %s", users.status, users.body)
	}
	if r := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/gateway/openapi.json"), nil, nil); r.status != http.StatusOK {
		t.Errorf("GET /openapi.json = %d", r.status)
	}
	login := mustDo(t, http.DefaultClient, http.MethodPost, tg.url("/api/gateway/login"), nil,
		map[string]string{"platform": "dev", "code": "dev-citizen"})
	if login.status != http.StatusOK || !strings.Contains(string(login.body), `"subject":"dev-citizen"`) {
		t.Errorf("POST /login with a dev code = %d: %s", login.status, login.body)
	}

	own := httptest.NewRecorder()
	tg.gw.Handler().ServeHTTP(own, httptest.NewRequest(http.MethodGet, "/session", nil))
	if own.Code != http.StatusMethodNotAllowed || own.Header().Get("Allow") == "" {
		t.Errorf("GET /session on the own handler = %d, Allow %q; want 405 with Allow", own.Code, own.Header().Get("Allow"))
	}
}

func TestDevLoginOff(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil, withVar("JT_DEV_LOGIN", "false"))

	r := mustDo(t, http.DefaultClient, http.MethodPost, tg.url("/api/gateway/dev/login"), nil, map[string]string{"user": "operator"})
	if r.status != http.StatusNotFound {
		t.Errorf("dev login with JT_DEV_LOGIN=false = %d, want 404", r.status)
	}
}

func TestUpstreamGetsSignedIdentity(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := auth.VerifyIdentity(testIdentitySecret, r, time.Now(), time.Hour)
		out := map[string]any{"path": r.URL.Path, "authorization": r.Header.Get("Authorization"), "verified": err == nil}
		if id != nil {
			out["subject"] = id.Subject
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(upstream.Close)

	table := `{"routes": [
	  {"name": "si", "prefix": "/api/si", "class": "identified", "methods": ["GET"],
	   "target": {"upstreams": [{"url": "` + upstream.URL + `/base"}]}, "rewrite": {"strip_prefix": true}},
	  {"name": "gateway-session", "prefix": "/api/gateway/session", "class": "public", "methods": ["POST"],
	   "target": {"function": "gateway"}, "rewrite": {"replace_prefix": "/session"}},
	  {"name": "gateway-dev", "prefix": "/api/gateway/dev", "class": "public", "methods": ["POST"],
	   "target": {"function": "gateway"}, "rewrite": {"replace_prefix": "/dev"}}
	]}`
	tg := newTestGateway(t, nil, withVar("JT_GATEWAY_ROUTES", table))
	c := tg.newClient()
	token := tg.devLogin(c, "citizen")

	r := mustDo(t, c.HTTPClient(), http.MethodGet, tg.url("/api/si/records/%E4%BA%AC?x=1"), bearer(token), nil)
	var got map[string]any
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
		t.Fatalf("upstream request = %d: %s", r.status, r.body)
	}
	if got["verified"] != true || got["subject"] != "dev-citizen" || got["authorization"] != "" || got["path"] != "/base/records/京" {
		t.Errorf("upstream saw %v; want a verified dev-citizen identity at /base/records/京 without the token", got)
	}
}

func TestLoadConfigFromBuild(t *testing.T) {
	t.Parallel()
	env := &fn.Env{
		Lookup: func(string) (string, bool) { return "", false },
		OpenDB: func(context.Context) (*bun.DB, error) { return storetest.OpenSQLite(t), nil },
	}
	_, err := gateway.New(context.Background(), env)
	for _, name := range []string{"JT_GATEWAY_KEY_DIR", "JT_IDENTITY_SECRET", "JT_AUDIT_KEY"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("New without configuration: error %v does not name %s", err, name)
		}
	}
}

func TestNewRejectsInProcessTargets(t *testing.T) {
	t.Parallel()
	keyDir := t.TempDir()
	if _, err := smcrypto.EnsureKeyFile(keyDir, gateway.DefaultSigningKID, nil); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"JT_GATEWAY_KEY_DIR": keyDir, "JT_IDENTITY_SECRET": string(testIdentitySecret), "JT_AUDIT_KEY": testAuditKey}
	env := &fn.Env{
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		OpenDB: func(context.Context) (*bun.DB, error) { return storetest.OpenSQLite(t), nil },
	}
	_, err := gateway.New(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), `function "zones"`) || !strings.Contains(err.Error(), "upstream URL") {
		t.Errorf("New with the localdev table = %v, want an error naming zones and upstream URLs", err)
	}
}

func TestReadyAndRedis(t *testing.T) {
	t.Parallel()
	url := redisURL(t)
	tg := newTestGateway(t, nil, withVar("JT_REDIS_URL", url))
	if err := tg.gw.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}

	c := tg.newClient()
	token := tg.devLogin(c, "operator")
	r := mustDo(t, c.HTTPClient(), http.MethodGet, tg.url("/api/zones/admin/zones"), bearer(token), nil)
	if r.status != http.StatusOK || !strings.Contains(r.header.Get("RateLimit-Policy"), `"user"`) {
		t.Errorf("admin request with Redis stores = %d, RateLimit-Policy %q", r.status, r.header.Get("RateLimit-Policy"))
	}

	// A second gateway on the same Redis finds the session.
	other := newTestGateway(t, nil, withVar("JT_REDIS_URL", url))
	req, err := c.PrecomputeRequests(context.Background(), 1, http.MethodGet, other.url("/api/zones/zones/x/page"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	httpReq, _ := req[0].NewRequest(context.Background())
	shared := mustDo(t, http.DefaultClient, httpReq.Method, httpReq.URL.String(), httpReq.Header, nil)
	if shared.status != http.StatusOK {
		t.Errorf("request to a second gateway in the same session = %d %s, want 200", shared.status, shared.code())
	}
}

// TestEdgeHeaderLimit checks that the edge rejects a request line and
// headers over httpx.MaxHeaderBytes itself, with the JSON 431, because the
// functions behind it allow more to leave room for the headers it adds.
func TestEdgeHeaderLimit(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)
	english := http.Header{"Accept-Language": {"en"}}

	long := mustDo(t, http.DefaultClient, http.MethodGet, tg.url("/api/zones/zones?q="+strings.Repeat("a", httpx.MaxHeaderBytes)), english, nil)
	if long.status != http.StatusRequestHeaderFieldsTooLarge || long.code() != "HEADERS_TOO_LARGE" {
		t.Fatalf("long request = %d %s, want 431 HEADERS_TOO_LARGE", long.status, long.code())
	}
	if !strings.Contains(string(long.body), "65536 bytes") {
		t.Errorf("body %s does not name the edge's limit of 65536 bytes", long.body)
	}
	if long.header.Get("X-Request-Id") == "" {
		t.Error("431 lacks X-Request-Id")
	}
}

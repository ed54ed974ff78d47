package envelope_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/functions/gateway/envelope/client"
	"github.com/jingtong/backend/shared/smcrypto"
	"github.com/jingtong/backend/shared/store/storetest"
)

// Test gateway keys. gatewayKeyHex is the key of the test vectors.
const (
	gatewayKID    = "gw-test-1"
	gatewayKeyHex = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
	otherKID      = "gw-test-2"
	otherKeyHex   = "59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21"
	openPath      = "/api/gateway/session"
)

// stores is one backend under test: a session store and a nonce store.
type stores struct {
	name     string
	sessions envelope.SessionStore
	nonces   envelope.NonceStore
}

// eachStore runs fn as a subtest with memory stores and, when
// JT_TEST_REDIS_URL is set, with Redis stores under a key prefix of their
// own, whose keys are deleted when the test ends. Without the variable the
// Redis subtest is skipped with the reason printed.
func eachStore(t *testing.T, fn func(t *testing.T, st stores)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		fn(t, memoryStores())
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		fn(t, redisStores(t))
	})
}

func memoryStores() stores {
	return stores{
		name:     "memory",
		sessions: envelope.NewMemorySessionStore(),
		nonces:   envelope.NewMemoryNonceStore(),
	}
}

func redisStores(t testing.TB) stores {
	t.Helper()
	rdb := storetest.OpenRedis(t)
	prefix := storetest.RedisPrefix(t, rdb)
	return stores{
		name:     "redis",
		sessions: envelope.NewRedisSessionStore(rdb, prefix),
		nonces:   envelope.NewRedisNonceStore(rdb, prefix),
	}
}

// fakeClock is a clock that moves only when Advance is called.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(start time.Time) *fakeClock {
	return &fakeClock{now: start}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func mustPrivateKey(t testing.TB, hexKey string) *smcrypto.PrivateKey {
	t.Helper()
	key, err := smcrypto.ParsePrivateKeyHex(hexKey)
	if err != nil {
		t.Fatalf("parse test key: %v", err)
	}
	return key
}

// gateway is a gateway under test: the envelope server in front of an echo
// upstream, served by httptest.
type gateway struct {
	server  *envelope.Server
	stores  stores
	clock   *fakeClock
	keys    *smcrypto.KeySet
	pub     *smcrypto.PublicKey
	handler http.Handler
	http    *httptest.Server
}

// newGateway starts a gateway with keys gatewayKID (signing) and otherKID,
// the stores st and a fake clock at the current time. edit may change the
// config before the server is built.
func newGateway(t testing.TB, st stores, edit func(*envelope.Config)) *gateway {
	t.Helper()
	priv := mustPrivateKey(t, gatewayKeyHex)
	keys, err := smcrypto.NewKeySet(gatewayKID, map[string]*smcrypto.PrivateKey{
		gatewayKID: priv,
		otherKID:   mustPrivateKey(t, otherKeyHex),
	})
	if err != nil {
		t.Fatalf("NewKeySet: %v", err)
	}

	clock := newFakeClock(time.UnixMilli(time.Now().UnixMilli()))
	cfg := envelope.Config{Keys: keys, Sessions: st.sessions, Nonces: st.nonces, Now: clock.Now}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := envelope.New(cfg)
	if err != nil {
		t.Fatalf("envelope.New: %v", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST "+openPath, srv.OpenSession)
	mux.Handle("/", srv.Middleware(http.HandlerFunc(echo)))
	g := &gateway{server: srv, stores: st, clock: clock, keys: keys, pub: priv.PublicKey(), handler: mux}
	g.http = httptest.NewServer(mux)
	t.Cleanup(g.http.Close)
	return g
}

// echoReply is the JSON that the echo upstream returns for a request with a
// query or without a body. A request with a body gets its body back.
type echoReply struct {
	Method        string `json:"method"`
	Path          string `json:"path"`
	Query         string `json:"query"`
	ContentType   string `json:"content_type"`
	Authorization string `json:"authorization"`
	Subject       string `json:"subject"`
	EnvelopeSeen  bool   `json:"envelope_seen"`
}

// echo is the plaintext upstream. It returns a request body with the same
// content type, and otherwise describes the request in JSON. The path
// /status/NNN responds with that status and no body.
func echo(w http.ResponseWriter, r *http.Request) {
	if code, ok := bytes.CutPrefix([]byte(r.URL.Path), []byte("/status/")); ok {
		status, _ := strconv.Atoi(string(code))
		w.WriteHeader(status)
		return
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Upstream", "echo")
	if len(body) > 0 && r.URL.RawQuery == "" {
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		_, _ = w.Write(body)
		return
	}
	reply := echoReply{
		Method:        r.Method,
		Path:          r.URL.Path,
		Query:         r.URL.RawQuery,
		ContentType:   r.Header.Get("Content-Type"),
		Authorization: r.Header.Get("Authorization"),
		EnvelopeSeen:  r.Header.Get(envelope.HeaderSignature) != "" || r.Header.Get(envelope.HeaderSession) != "",
	}
	if sess := envelope.SessionFromContext(r.Context()); sess != nil {
		reply.Subject = sess.Subject
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply)
}

// newClient returns a Go client of g offering modes.
func (g *gateway) newClient(t testing.TB, modes ...envelope.Mode) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{
		OpenURL:    g.http.URL + openPath,
		KeyID:      gatewayKID,
		PublicKeys: map[string]*smcrypto.PublicKey{gatewayKID: g.pub},
		Modes:      modes,
		Transport:  g.http.Client().Transport,
		Now:        g.clock.Now,
	})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return c
}

// rawSession is a session opened by hand, whose keys the test holds.
type rawSession struct {
	id   string
	keys *envelope.Keys
}

// openRaw opens a session in mode with fresh key material by posting the
// session-open request itself.
func (g *gateway) openRaw(t testing.TB, mode envelope.Mode) rawSession {
	t.Helper()
	secret := make([]byte, envelope.SecretSize)
	_, _ = rand.Read(secret)
	ciphertext, err := smcrypto.Encrypt(rand.Reader, g.pub, secret, &smcrypto.EncrypterOpts{OmitPrefix: true})
	if err != nil {
		t.Fatalf("encrypt key material: %v", err)
	}
	req := envelope.OpenRequest{
		KID: gatewayKID, Key: hex.EncodeToString(ciphertext), Modes: []envelope.Mode{mode},
		TS: g.clock.Now().UnixMilli(), Nonce: randomNonce(),
	}
	rec := g.serve(t, jsonRequest(t, openPath, req))
	if rec.Code != http.StatusOK {
		t.Fatalf("open session: status %d, body %s", rec.Code, rec.Body)
	}
	var answer envelope.OpenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
		t.Fatalf("decode session-open response: %v", err)
	}
	id, err := envelope.ParseSessionID(answer.SessionID)
	if err != nil {
		t.Fatalf("parse session ID: %v", err)
	}
	keys, err := envelope.DeriveKeys(secret, id, answer.Mode)
	if err != nil {
		t.Fatalf("DeriveKeys: %v", err)
	}
	return rawSession{id: answer.SessionID, keys: keys}
}

func jsonRequest(t testing.TB, path string, v any) *http.Request {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode JSON: %v", err)
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// serve runs req through the gateway's handler in process.
func (g *gateway) serve(t testing.TB, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	g.handler.ServeHTTP(rec, req)
	return rec
}

func randomNonce() string {
	var n envelope.Nonce
	_, _ = rand.Read(n[:])
	return n.String()
}

// protectedRequest is a protected request built by hand, field by field,
// so that a test can break any one of them.
type protectedRequest struct {
	method        string
	target        string // path and query
	session       string
	timestamp     string
	nonce         string
	contentType   string // X-JT-Content-Type
	authorization string
	plaintext     []byte

	// sealed, when set, replaces the sealed body; wire, when set, replaces
	// the body as sent. The signature covers whatever is sent.
	sealed []byte
	wire   []byte
	// bodyType is the Content-Type; the envelope type when empty and the
	// body is not.
	bodyType string
	// signWith signs in place of the request keys when set.
	signWith *envelope.DirectionKeys
}

// newProtected returns a valid POST of plaintext in sess at the clock's
// time.
func (g *gateway) newProtected(sess rawSession, plaintext []byte) *protectedRequest {
	return &protectedRequest{
		method:      http.MethodPost,
		target:      "/api/zones/items?b=2&a=1",
		session:     sess.id,
		timestamp:   envelope.FormatTimestamp(g.clock.Now()),
		nonce:       randomNonce(),
		contentType: "application/json",
		plaintext:   plaintext,
	}
}

// build seals, signs and returns p as an *http.Request, and the signature.
func (p *protectedRequest) build(t testing.TB, keys *envelope.Keys) *http.Request {
	t.Helper()
	wire := p.wire
	if wire == nil && (len(p.plaintext) > 0 || p.sealed != nil) {
		sealed := p.sealed
		if sealed == nil {
			var err error
			sealed, err = keys.Request.Seal(nil, rand.Reader, p.plaintext, []byte(p.nonce))
			if err != nil {
				t.Fatalf("seal: %v", err)
			}
		}
		wire = envelope.EncodeBody(nil, sealed)
	}

	req := httptest.NewRequest(p.method, p.target, bytes.NewReader(wire))
	query, err := envelope.CanonicalQuery(req.URL.RawQuery)
	if err != nil {
		t.Fatalf("CanonicalQuery: %v", err)
	}
	fields := envelope.RequestFields{
		SessionID: p.session, Method: p.method, Path: req.URL.EscapedPath(), Query: query,
		Timestamp: p.timestamp, Nonce: p.nonce, ContentType: p.contentType,
		Authorization: p.authorization, BodySM3: smcrypto.SumSM3(wire),
	}
	signer := keys.Request
	if p.signWith != nil {
		signer = p.signWith
	}
	sig := signer.MAC(envelope.AppendRequestString(nil, &fields))

	req.Header.Set(envelope.HeaderSession, p.session)
	req.Header.Set(envelope.HeaderTimestamp, p.timestamp)
	req.Header.Set(envelope.HeaderNonce, p.nonce)
	req.Header.Set(envelope.HeaderSignature, hex.EncodeToString(sig[:]))
	if p.contentType != "" {
		req.Header.Set(envelope.HeaderContentType, p.contentType)
	}
	if p.authorization != "" {
		req.Header.Set("Authorization", p.authorization)
	}
	switch {
	case p.bodyType != "":
		req.Header.Set("Content-Type", p.bodyType)
	case len(wire) > 0:
		req.Header.Set("Content-Type", envelope.ContentType)
	}
	return req
}

// errorCode returns the error code of an httpx error body.
func errorCode(t testing.TB, body []byte) string {
	t.Helper()
	var parsed struct {
		Error struct {
			Code    string `json:"code"`
			Details []struct {
				Path   string `json:"path"`
				Reason string `json:"reason"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &parsed); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	return parsed.Error.Code
}

package smcrypto

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const standInToken = "stand-in-token-9f2c"

// standIn is a local key service that speaks the remote protocol with
// software keys, as a crypto device or cloud service would.
type standIn struct {
	tokenDigest [sha256.Size]byte

	mu            sync.Mutex
	keys          *KeySet
	forgeWith     *PrivateKey // when set, signs with this key instead
	delay         time.Duration
	hugeResponses bool

	listRequests    atomic.Int32
	decryptRequests atomic.Int32
}

func newStandIn(tb testing.TB, keys *KeySet) (*standIn, *httptest.Server) {
	tb.Helper()
	s := &standIn{keys: keys, tokenDigest: sha256.Sum256([]byte(standInToken))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/keys", s.list)
	mux.HandleFunc("POST /v1/keys/{kid}/sign", s.sign)
	mux.HandleFunc("POST /v1/keys/{kid}/decrypt", s.decrypt)
	srv := httptest.NewServer(s.authenticate(mux))
	tb.Cleanup(srv.Close)
	return s, srv
}

func (s *standIn) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(got[:], s.tokenDigest[:]) != 1 {
			writeStandInError(w, http.StatusUnauthorized, "UNAUTHORIZED")
			return
		}

		s.mu.Lock()
		delay, huge := s.delay, s.hugeResponses
		s.mu.Unlock()
		if huge {
			w.WriteHeader(http.StatusOK)
			w.Write(bytes.Repeat([]byte(" "), maxRemoteResponseSize+10))
			return
		}
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *standIn) keySet() *KeySet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys
}

func writeStandInError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error": {"code": %q, "message": "stand-in error"}}`, code)
}

func writeStandInJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *standIn) list(w http.ResponseWriter, r *http.Request) {
	s.listRequests.Add(1)
	list, err := s.keySet().PublicKeys(r.Context())
	if err != nil {
		writeStandInError(w, http.StatusInternalServerError, "INTERNAL")
		return
	}
	writeStandInJSON(w, list)
}

func (s *standIn) sign(w http.ResponseWriter, r *http.Request) {
	key, err := s.keySet().Key(r.Context(), r.PathValue("kid"))
	if err != nil {
		writeStandInError(w, http.StatusNotFound, "KEY_NOT_FOUND")
		return
	}
	var req struct {
		Message *[]byte `json:"message"`
		UserID  []byte  `json:"user_id"`
		Digest  *[]byte `json:"digest"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || (req.Message == nil) == (req.Digest == nil) {
		writeStandInError(w, http.StatusBadRequest, "INVALID_REQUEST")
		return
	}
	// The protocol requires the client to name the user ID, default included.
	if req.Message != nil && len(req.UserID) == 0 {
		writeStandInError(w, http.StatusBadRequest, "INVALID_REQUEST")
		return
	}

	digest := []byte(nil)
	if req.Digest != nil {
		digest = *req.Digest
	} else if digest, err = Digest(key.PublicKey(), *req.Message, &SignerOpts{UID: req.UserID}); err != nil {
		writeStandInError(w, http.StatusBadRequest, "INVALID_REQUEST")
		return
	}

	s.mu.Lock()
	forge := s.forgeWith
	s.mu.Unlock()
	var sig []byte
	if forge != nil {
		sig, err = forge.Sign(rand.Reader, digest, nil)
	} else {
		sig, err = key.SignDigest(r.Context(), digest)
	}
	if err != nil {
		writeStandInError(w, http.StatusBadRequest, "INVALID_REQUEST")
		return
	}
	writeStandInJSON(w, map[string][]byte{"signature": sig})
}

func (s *standIn) decrypt(w http.ResponseWriter, r *http.Request) {
	s.decryptRequests.Add(1)
	key, err := s.keySet().Key(r.Context(), r.PathValue("kid"))
	if err != nil {
		writeStandInError(w, http.StatusNotFound, "KEY_NOT_FOUND")
		return
	}
	var req struct {
		Ciphertext []byte `json:"ciphertext"`
	}
	// The protocol sends only the standard form 04‖C1‖C3‖C2.
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Ciphertext) < 98 || req.Ciphertext[0] != 0x04 {
		writeStandInError(w, http.StatusBadRequest, "INVALID_REQUEST")
		return
	}
	plaintext, err := key.Decrypt(r.Context(), req.Ciphertext, nil)
	if errors.Is(err, ErrDecrypt) {
		writeStandInError(w, http.StatusUnprocessableEntity, "DECRYPTION_FAILED")
		return
	}
	if err != nil {
		writeStandInError(w, http.StatusInternalServerError, "INTERNAL")
		return
	}
	writeStandInJSON(w, map[string][]byte{"plaintext": plaintext})
}

func newTestRemote(tb testing.TB, opts ...RemoteOption) (*RemoteProvider, *standIn, map[string]*PrivateKey) {
	tb.Helper()
	set, keys := newTestKeySet(tb, "gw-2", "gw-1", "gw-2")
	s, srv := newStandIn(tb, set)
	p, err := NewRemoteProvider(srv.URL+"/", standInToken, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return p, s, keys
}

func TestRemoteProviderSignsAndDecrypts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, s, keys := newTestRemote(t)

	signing, err := p.SigningKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if signing.ID() != "gw-2" || !signing.PublicKey().Equal(keys["gw-2"].PublicKey()) {
		t.Fatalf("SigningKey = %s", signing.ID())
	}

	msg := []byte("会话 s-1 过期时间 2026-12-04T10:00:00Z")
	for _, opts := range []*SignerOpts{nil, {UID: []byte("gateway@jingtong")}} {
		sig, err := signing.SignMessage(ctx, msg, opts)
		if err != nil {
			t.Fatalf("SignMessage(%v): %v", opts, err)
		}
		if !VerifyASN1(keys["gw-2"].PublicKey(), msg, sig, opts) {
			t.Errorf("remote signature with options %v does not verify", opts)
		}
	}
	if sig, err := signing.SignMessage(ctx, nil, nil); err != nil || !VerifyASN1(signing.PublicKey(), nil, sig, nil) {
		t.Errorf("SignMessage of an empty message: %v", err)
	}

	digest, _ := Digest(signing.PublicKey(), msg, nil)
	sig, err := signing.SignDigest(ctx, digest)
	if err != nil || !VerifyASN1(signing.PublicKey(), msg, sig, nil) {
		t.Errorf("SignDigest: %v", err)
	}

	other, err := p.Key(ctx, "gw-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []*EncrypterOpts{
		{OmitPrefix: true},
		{},
		{Format: C1C2C3, OmitPrefix: true},
		{Format: CiphertextASN1},
	} {
		ct, err := Encrypt(rand.Reader, keys["gw-1"].PublicKey(), msg, enc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := other.Decrypt(ctx, ct, &DecrypterOpts{Format: enc.Format})
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("remote Decrypt %+v = %q, %v", enc, got, err)
		}
	}

	list, err := p.PublicKeys(ctx)
	if err != nil || len(list.Keys) != 2 {
		t.Fatalf("PublicKeys = %v, %v", list, err)
	}
	if n := s.listRequests.Load(); n != 1 {
		t.Errorf("key listing fetched %d times, want once within the refresh interval", n)
	}
}

func TestRemoteProviderErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, s, keys := newTestRemote(t)
	key, err := p.Key(ctx, "gw-1")
	if err != nil {
		t.Fatal(err)
	}

	if _, err := p.Key(ctx, "gw-9"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("unknown key ID: err = %v, want ErrKeyNotFound", err)
	}
	if _, err := p.Key(ctx, "../v1/keys"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("invalid key ID: err = %v, want ErrKeyNotFound", err)
	}

	// A C3 mismatch is only detectable with the private key, so the service
	// reports it.
	ct, _ := Encrypt(rand.Reader, keys["gw-1"].PublicKey(), []byte("m"), nil)
	ct[len(ct)-1] ^= 1
	if _, err := key.Decrypt(ctx, ct, nil); !errors.Is(err, ErrDecrypt) {
		t.Errorf("tampered ciphertext: err = %v, want ErrDecrypt", err)
	}
	// A malformed ciphertext never leaves the process.
	before := s.decryptRequests.Load()
	if _, err := key.Decrypt(ctx, []byte("not a ciphertext"), nil); !errors.Is(err, ErrDecrypt) {
		t.Errorf("malformed ciphertext: err = %v, want ErrDecrypt", err)
	}
	if s.decryptRequests.Load() != before {
		t.Error("malformed ciphertext was sent to the service")
	}

	// A key that the service no longer has.
	ghost := &remoteKey{provider: p, id: "gw-gone", pub: keys["gw-1"].PublicKey()}
	if _, err := ghost.SignMessage(ctx, []byte("m"), nil); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("key removed from the service: err = %v, want ErrKeyNotFound", err)
	}
	if _, err := key.SignDigest(ctx, make([]byte, 31)); err == nil {
		t.Error("SignDigest accepted a 31-byte digest")
	}

	// A service that signs with the wrong key.
	forger, _ := GenerateKey(rand.Reader)
	s.mu.Lock()
	s.forgeWith = forger
	s.mu.Unlock()
	if sig, err := key.SignMessage(ctx, []byte("m"), nil); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("forged signature: got %x, %v; want a verification error", sig, err)
	}
}

func TestRemoteProviderRejectsWrongToken(t *testing.T) {
	t.Parallel()
	set, _ := newTestKeySet(t, "k", "k")
	_, srv := newStandIn(t, set)
	p, err := NewRemoteProvider(srv.URL, "wrong-token")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.SigningKey(context.Background())
	var remoteErr *RemoteError
	if !errors.As(err, &remoteErr) || remoteErr.StatusCode != http.StatusUnauthorized || remoteErr.Code != "UNAUTHORIZED" {
		t.Fatalf("err = %v, want a RemoteError with 401 UNAUTHORIZED", err)
	}
	if strings.Contains(err.Error(), "wrong-token") {
		t.Errorf("error %q contains the token", err)
	}
}

func TestRemoteProviderTimeout(t *testing.T) {
	t.Parallel()
	p, s, _ := newTestRemote(t, WithTimeout(50*time.Millisecond))
	s.mu.Lock()
	s.delay = 2 * time.Second
	s.mu.Unlock()

	start := time.Now()
	_, err := p.SigningKey(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("request took %v with a 50ms timeout", elapsed)
	}
}

func TestRemoteProviderOversizedResponse(t *testing.T) {
	t.Parallel()
	p, s, _ := newTestRemote(t)
	s.mu.Lock()
	s.hugeResponses = true
	s.mu.Unlock()
	if _, err := p.SigningKey(context.Background()); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("err = %v, want a size error", err)
	}
}

func TestRemoteProviderRefreshesListing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var nowMu sync.Mutex
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		nowMu.Lock()
		defer nowMu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		nowMu.Lock()
		now = now.Add(d)
		nowMu.Unlock()
	}

	p, s, keys := newTestRemote(t, WithNow(clock), WithRefreshInterval(time.Minute))
	if _, err := p.Key(ctx, "gw-1"); err != nil {
		t.Fatal(err)
	}

	// Rotate: the service gains gw-3 and signs with it.
	k3, _ := GenerateKey(rand.Reader)
	keys["gw-3"] = k3
	rotated, err := NewKeySet("gw-3", keys)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.keys = rotated
	s.mu.Unlock()

	if _, err := p.Key(ctx, "gw-3"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("new key before the refresh interval: err = %v, want ErrKeyNotFound", err)
	}
	if n := s.listRequests.Load(); n != 1 {
		t.Errorf("listing fetched %d times before the interval passed, want 1", n)
	}

	advance(time.Minute)
	key, err := p.SigningKey(ctx)
	if err != nil || key.ID() != "gw-3" {
		t.Fatalf("SigningKey after refresh = %v, %v; want gw-3", key, err)
	}
	if n := s.listRequests.Load(); n != 2 {
		t.Errorf("listing fetched %d times, want 2", n)
	}
}

func TestNewRemoteProviderValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url   string
		token string
		opts  []RemoteOption
		valid bool
	}{
		{"https://kms.example.gov.cn/gm/", "t", nil, true},
		{"http://127.0.0.1:8443", "t", nil, true},
		{"http://[::1]:8443", "t", nil, true},
		{"http://localhost:8443", "t", nil, true},
		{"http://kms.example.gov.cn", "t", nil, false},
		{"http://10.0.0.5:8443", "t", nil, false},
		{"ftp://127.0.0.1", "t", nil, false},
		{"https://", "t", nil, false},
		{"https://user:pw@kms.example", "t", nil, false},
		{"https://kms.example/?a=1", "t", nil, false},
		{"https://kms.example", "", nil, false},
		{"https://kms.example", "t", []RemoteOption{WithTimeout(0)}, false},
		{"https://kms.example", "t", []RemoteOption{WithHTTPClient(nil)}, false},
		{"::", "t", nil, false},
	}
	for _, tc := range cases {
		_, err := NewRemoteProvider(tc.url, tc.token, tc.opts...)
		if (err == nil) != tc.valid {
			t.Errorf("NewRemoteProvider(%q) err = %v, want valid %v", tc.url, err, tc.valid)
		}
	}
}

func TestRemoteProviderNeverPrintsToken(t *testing.T) {
	t.Parallel()
	p, _, _ := newTestRemote(t)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("provider", "provider", p)

	for name, out := range map[string]string{
		"%v":   fmt.Sprintf("%v", p),
		"%+v":  fmt.Sprintf("%+v", p),
		"%#v":  fmt.Sprintf("%#v", p),
		"slog": logged.String(),
	} {
		if strings.Contains(out, standInToken) {
			t.Errorf("%s output contains the token: %s", name, out)
		}
	}
}

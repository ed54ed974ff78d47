package envelope_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/shared/smcrypto"
)

// openRequest returns a valid session-open request with fresh key material
// encrypted to pub, and the key material.
func openRequest(t *testing.T, g *gateway, pub *smcrypto.PublicKey, opts *smcrypto.EncrypterOpts) (envelope.OpenRequest, []byte) {
	t.Helper()
	secret := make([]byte, envelope.SecretSize)
	_, _ = rand.Read(secret)
	ciphertext, err := smcrypto.Encrypt(rand.Reader, pub, secret, opts)
	if err != nil {
		t.Fatal(err)
	}
	return envelope.OpenRequest{
		KID: gatewayKID, Key: hex.EncodeToString(ciphertext),
		Modes: []envelope.Mode{envelope.ModeGCM, envelope.ModeCBCHMAC},
		TS:    g.clock.Now().UnixMilli(), Nonce: randomNonce(),
	}, secret
}

func decodeAnswer(t *testing.T, rec *httptest.ResponseRecorder) envelope.OpenResponse {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, body %s; want 200", rec.Code, rec.Body)
	}
	var answer envelope.OpenResponse
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&answer); err != nil {
		t.Fatalf("decode session-open response: %v", err)
	}
	return answer
}

func TestOpenSession_Accepts(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		g := newGateway(t, st, nil)
		tests := []struct {
			name  string
			opts  *smcrypto.EncrypterOpts
			edit  func(*envelope.OpenRequest)
			kid   string
			mode  envelope.Mode
			check func(t *testing.T, sess *envelope.Session)
		}{
			{name: "without 04 prefix", opts: &smcrypto.EncrypterOpts{OmitPrefix: true}, mode: envelope.ModeGCM},
			{name: "with 04 prefix", opts: nil, mode: envelope.ModeGCM},
			{name: "uppercase hex", edit: func(r *envelope.OpenRequest) { r.Key = strings.ToUpper(r.Key) }, mode: envelope.ModeGCM},
			{
				name: "client prefers cbc-hmac",
				edit: func(r *envelope.OpenRequest) { r.Modes = []envelope.Mode{envelope.ModeCBCHMAC, envelope.ModeGCM} },
				mode: envelope.ModeCBCHMAC,
			},
			{
				name: "unknown modes skipped",
				edit: func(r *envelope.OpenRequest) { r.Modes = []envelope.Mode{"sm4-xts", "cbc-hmac"} },
				mode: envelope.ModeCBCHMAC,
			},
			{name: "other key", kid: otherKID, mode: envelope.ModeGCM},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				pub := g.pub
				if tt.kid == otherKID {
					pub = mustPrivateKey(t, otherKeyHex).PublicKey()
				}
				req, secret := openRequest(t, g, pub, tt.opts)
				if tt.kid != "" {
					req.KID = tt.kid
				}
				if tt.edit != nil {
					tt.edit(&req)
				}
				answer := decodeAnswer(t, g.serve(t, jsonRequest(t, openPath, req)))

				if answer.Mode != tt.mode || answer.KID != gatewayKID {
					t.Errorf("mode %q, kid %q; want %q signed by %q", answer.Mode, answer.KID, tt.mode, gatewayKID)
				}
				wantExpiry := g.clock.Now().Add(envelope.DefaultSessionTTL).UnixMilli()
				if answer.ExpiresAt != wantExpiry {
					t.Errorf("expires_at = %d, want %d", answer.ExpiresAt, wantExpiry)
				}
				fields := envelope.SessionFields{
					SessionID: answer.SessionID, ExpiresAt: answer.ExpiresAt, Mode: answer.Mode, KID: answer.KID,
					Timestamp: req.TS, Nonce: req.Nonce, KeySM3: smcrypto.SumSM3([]byte(req.Key)),
				}
				sig, _ := hex.DecodeString(answer.Sig)
				if !smcrypto.VerifyASN1(g.pub, envelope.AppendSessionString(nil, &fields), sig, nil) {
					t.Error("response signature does not verify with the default user ID")
				}

				id, err := envelope.ParseSessionID(answer.SessionID)
				if err != nil {
					t.Fatal(err)
				}
				sess, err := st.sessions.Get(context.Background(), id)
				if err != nil {
					t.Fatalf("stored session: %v", err)
				}
				wantKID := gatewayKID
				if tt.kid != "" {
					wantKID = tt.kid
				}
				if sess.KID != wantKID || sess.Mode != tt.mode {
					t.Errorf("stored session kid %q, mode %q; want %q, %q", sess.KID, sess.Mode, wantKID, tt.mode)
				}
				keys, _ := envelope.DeriveKeys(secret, id, tt.mode)
				if !bytes.Equal(envelope.KeyBlock(keys), envelope.KeyBlock(sess.Keys())) {
					t.Error("stored keys differ from the keys derived from the client's key material")
				}
			})
		}
	})
}

func TestOpenSession_Rejections(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		g := newGateway(t, st, func(c *envelope.Config) { c.Modes = []envelope.Mode{envelope.ModeGCM} })
		other := mustPrivateKey(t, otherKeyHex).PublicKey()

		tests := []struct {
			name       string
			pub        *smcrypto.PublicKey
			secretSize int
			prefixed   bool
			edit       func(*envelope.OpenRequest)
			raw        string // body to send in place of the request
			rawType    string
			wantStatus int
			wantCode   string
			wantDetail string
		}{
			{name: "unknown key ID", edit: func(r *envelope.OpenRequest) { r.KID = "gw-retired" },
				wantStatus: 400, wantCode: "UNKNOWN_KEY_ID"},
			{name: "invalid key ID", edit: func(r *envelope.OpenRequest) { r.KID = "../k" },
				wantStatus: 400, wantCode: "INVALID_REQUEST", wantDetail: "/kid invalid"},
			{name: "key not hex", edit: func(r *envelope.OpenRequest) { r.Key = strings.Repeat("zz", 128) },
				wantStatus: 400, wantCode: "INVALID_REQUEST", wantDetail: "/key invalid"},
			{name: "key too short", edit: func(r *envelope.OpenRequest) { r.Key = r.Key[:254] },
				wantStatus: 400, wantCode: "INVALID_REQUEST", wantDetail: "/key invalid"},
			// 04‖C1‖C3‖C2 of 31 bytes and C1‖C3‖C2 of 33 bytes have the
			// lengths of a 32-byte ciphertext and decrypt.
			{name: "key material of 31 bytes", secretSize: 31, prefixed: true,
				wantStatus: 400, wantCode: "ENVELOPE_INVALID"},
			{name: "key material of 33 bytes", secretSize: 33,
				wantStatus: 400, wantCode: "ENVELOPE_INVALID"},
			{name: "key encrypted to another key", pub: other,
				wantStatus: 400, wantCode: "ENVELOPE_INVALID"},
			{name: "key with tampered C3", edit: func(r *envelope.OpenRequest) { r.Key = flipHexDigit(r.Key, 140) },
				wantStatus: 400, wantCode: "ENVELOPE_INVALID"},
			{name: "modes empty", edit: func(r *envelope.OpenRequest) { r.Modes = nil },
				wantStatus: 400, wantCode: "INVALID_REQUEST", wantDetail: "/modes unsupported"},
			{name: "mode not accepted", edit: func(r *envelope.OpenRequest) { r.Modes = []envelope.Mode{envelope.ModeCBCHMAC} },
				wantStatus: 400, wantCode: "INVALID_REQUEST", wantDetail: "/modes unsupported"},
			{name: "too many modes", edit: func(r *envelope.OpenRequest) { r.Modes = make([]envelope.Mode, 9); r.Modes[8] = "gcm" },
				wantStatus: 400, wantCode: "INVALID_REQUEST", wantDetail: "/modes unsupported"},
			{name: "nonce uppercase", edit: func(r *envelope.OpenRequest) { r.Nonce = strings.ToUpper(r.Nonce) },
				wantStatus: 400, wantCode: "INVALID_REQUEST", wantDetail: "/nonce invalid"},
			{name: "timestamp missing", edit: func(r *envelope.OpenRequest) { r.TS = 0 },
				wantStatus: 400, wantCode: "INVALID_REQUEST", wantDetail: "/ts invalid"},
			{name: "timestamp skewed", edit: func(r *envelope.OpenRequest) { r.TS -= int64(envelope.DefaultSkew/time.Millisecond) + 1 },
				wantStatus: 400, wantCode: "TIMESTAMP_SKEW"},
			{name: "not JSON", raw: "kid=gw-test-1", rawType: "application/json",
				wantStatus: 400, wantCode: "INVALID_JSON"},
			// httpx decides the code of an unknown field; only the status
			// is this package's.
			{name: "unknown field", raw: `{"kid":"gw-test-1","key":"","modes":["gcm"],"ts":1,"nonce":"","extra":1}`, rawType: "application/json",
				wantStatus: 400},
			{name: "form content type", raw: `{}`, rawType: "application/x-www-form-urlencoded",
				wantStatus: 415, wantCode: "UNSUPPORTED_MEDIA_TYPE"},
			{name: "body too large", raw: `{"kid":"` + strings.Repeat("a", 5000) + `"}`, rawType: "application/json",
				wantStatus: 413, wantCode: "BODY_TOO_LARGE"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				pub := g.pub
				if tt.pub != nil {
					pub = tt.pub
				}
				req, _ := openRequest(t, g, pub, &smcrypto.EncrypterOpts{OmitPrefix: true})
				if tt.secretSize != 0 {
					secret := make([]byte, tt.secretSize)
					ct, _ := smcrypto.Encrypt(rand.Reader, pub, secret, &smcrypto.EncrypterOpts{OmitPrefix: !tt.prefixed})
					req.Key = hex.EncodeToString(ct)
				}
				if tt.edit != nil {
					tt.edit(&req)
				}
				httpReq := jsonRequest(t, openPath, req)
				if tt.raw != "" {
					httpReq = httptest.NewRequest(http.MethodPost, openPath, strings.NewReader(tt.raw))
					httpReq.Header.Set("Content-Type", tt.rawType)
				}
				checkRejection(t, g.serve(t, httpReq), rejection{wantStatus: tt.wantStatus, wantCode: tt.wantCode, wantDetail: tt.wantDetail})
			})
		}
	})
}

func TestOpenSession_ReplayedRequest(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		g := newGateway(t, st, nil)
		req, _ := openRequest(t, g, g.pub, nil)
		decodeAnswer(t, g.serve(t, jsonRequest(t, openPath, req)))

		rec := g.serve(t, jsonRequest(t, openPath, req))
		checkRejection(t, rec, rejection{wantStatus: http.StatusConflict, wantCode: "NONCE_REPLAYED"})
	})
}

func TestOpenSession_DecryptFailuresIdentical(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	other := mustPrivateKey(t, otherKeyHex).PublicKey()

	wrongKey, _ := openRequest(t, g, other, nil)
	shortSecret, _ := openRequest(t, g, g.pub, nil)
	ct, _ := smcrypto.Encrypt(rand.Reader, g.pub, make([]byte, 31), nil)
	shortSecret.Key = hex.EncodeToString(ct)

	a := g.serve(t, jsonRequest(t, openPath, wrongKey))
	b := g.serve(t, jsonRequest(t, openPath, shortSecret))
	if a.Code != http.StatusBadRequest || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
		t.Errorf("decryption failures differ:\n%d %s\n%d %s", a.Code, a.Body, b.Code, b.Body)
	}
}

func TestNew_InvalidConfig(t *testing.T) {
	_, err := envelope.New(envelope.Config{Skew: time.Millisecond, Modes: []envelope.Mode{"ecb"}})
	if err == nil {
		t.Fatal("New accepted an empty config")
	}
	for _, want := range []string{"missing Keys", "missing Sessions", "missing Nonces", "skew 1ms", `unknown mode "ecb"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

package client

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/shared/smcrypto"
)

func testSession(t testing.TB, mode envelope.Mode) *Session {
	t.Helper()
	var id envelope.SessionID
	_, _ = rand.Read(id[:])
	secret := make([]byte, envelope.SecretSize)
	_, _ = rand.Read(secret)
	keys, err := envelope.DeriveKeys(secret, id, mode)
	if err != nil {
		t.Fatal(err)
	}
	return &Session{ID: id, Mode: mode, ExpiresAt: time.Now().Add(time.Hour), keys: keys}
}

func testClient(t testing.TB, now time.Time) *Client {
	t.Helper()
	priv, err := smcrypto.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{
		OpenURL: "http://127.0.0.1:1/session", KeyID: "k1",
		PublicKeys: map[string]*smcrypto.PublicKey{"k1": priv.PublicKey()},
		Now:        func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// protectedResponse builds the response that a gateway sends for a request
// with requestNonce in sess.
func protectedResponse(t testing.TB, sess *Session, requestNonce string, now time.Time, status int, plaintext []byte) *http.Response {
	t.Helper()
	var n envelope.Nonce
	_, _ = rand.Read(n[:])
	nonce := n.String()
	var wire []byte
	if len(plaintext) > 0 {
		sealed, err := sess.keys.Response.Seal(nil, rand.Reader, plaintext, []byte(nonce))
		if err != nil {
			t.Fatal(err)
		}
		wire = envelope.EncodeBody(nil, sealed)
	}
	fields := envelope.ResponseFields{
		SessionID: sess.ID.String(), Status: status, RequestNonce: requestNonce,
		Timestamp: envelope.FormatTimestamp(now), Nonce: nonce, ContentType: "application/json",
		BodySM3: smcrypto.SumSM3(wire),
	}
	sig := sess.keys.Response.MAC(envelope.AppendResponseString(nil, &fields))
	h := http.Header{}
	h.Set(envelope.HeaderTimestamp, fields.Timestamp)
	h.Set(envelope.HeaderNonce, nonce)
	h.Set(envelope.HeaderSignature, hex.EncodeToString(sig[:]))
	h.Set(envelope.HeaderContentType, "application/json")
	h.Set("Content-Type", envelope.ContentType)
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(bytes.NewReader(wire))}
}

func TestVerifyResponse(t *testing.T) {
	now := time.UnixMilli(1796342400000)
	c := testClient(t, now)
	sess := testSession(t, envelope.ModeGCM)
	requestNonce := strings.Repeat("ab", 16)

	tests := []struct {
		name    string
		edit    func(*http.Response)
		wantErr bool
	}{
		{name: "valid"},
		{name: "other request nonce", edit: func(r *http.Response) {}, wantErr: true},
		{name: "status changed", edit: func(r *http.Response) { r.StatusCode = http.StatusCreated }, wantErr: true},
		{name: "content type changed", edit: func(r *http.Response) { r.Header.Set(envelope.HeaderContentType, "text/html") }, wantErr: true},
		{name: "signature missing, success status", edit: func(r *http.Response) { r.Header.Del(envelope.HeaderSignature) }, wantErr: true},
		{name: "signature duplicated", edit: func(r *http.Response) {
			r.Header.Add(envelope.HeaderSignature, r.Header.Get(envelope.HeaderSignature))
		}, wantErr: true},
		{name: "stale timestamp", edit: nil, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := now
			if tt.name == "stale timestamp" {
				sent = now.Add(-envelope.DefaultSkew - time.Second)
			}
			resp := protectedResponse(t, sess, requestNonce, sent, http.StatusOK, []byte(`{"ok":true}`))
			if tt.edit != nil {
				tt.edit(resp)
			}
			nonce := requestNonce
			if tt.name == "other request nonce" {
				nonce = strings.Repeat("cd", 16)
			}
			plain, err := c.verifyResponse(resp, sess, nonce)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidResponse) {
					t.Fatalf("err = %v, want ErrInvalidResponse", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(plain.Body)
			if string(body) != `{"ok":true}` || plain.Header.Get("Content-Type") != "application/json" {
				t.Errorf("plaintext %q with type %q", body, plain.Header.Get("Content-Type"))
			}
			if plain.Header.Get(envelope.HeaderSignature) != "" {
				t.Error("plaintext response kept X-JT-Signature")
			}
		})
	}
}

func TestVerifyResponse_UnprotectedError(t *testing.T) {
	c := testClient(t, time.Now())
	resp := &http.Response{
		StatusCode: http.StatusUnauthorized,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(`{"error":{"code":"SESSION_NOT_FOUND","message":"m","request_id":"r-1"}}`)),
	}
	_, err := c.verifyResponse(resp, testSession(t, envelope.ModeGCM), strings.Repeat("0", 32))
	var gwErr *GatewayError
	if !errors.As(err, &gwErr) || gwErr.Code != "SESSION_NOT_FOUND" || gwErr.RequestID != "r-1" || gwErr.StatusCode != 401 {
		t.Errorf("err = %#v, want a GatewayError with the body's code", err)
	}
}

func TestNew_RequiresPinnedKey(t *testing.T) {
	if _, err := New(Config{OpenURL: "http://127.0.0.1/s", KeyID: "k1"}); err == nil {
		t.Error("New accepted a key ID without a pinned key")
	}
	if _, err := New(Config{KeyID: "k1"}); err == nil {
		t.Error("New accepted an empty OpenURL")
	}
}

// FuzzVerifyResponse feeds arbitrary response headers and bodies to the
// client and checks that it never panics and never accepts a response
// without a valid signature.
func FuzzVerifyResponse(f *testing.F) {
	now := time.UnixMilli(1796342400000)
	c := testClient(f, now)
	sess := testSession(f, envelope.ModeCBCHMAC)
	requestNonce := strings.Repeat("ab", 16)
	valid := protectedResponse(f, sess, requestNonce, now, 200, []byte("{}"))
	body, _ := io.ReadAll(valid.Body)
	h := valid.Header

	f.Add(200, h.Get(envelope.HeaderTimestamp), h.Get(envelope.HeaderNonce), h.Get(envelope.HeaderSignature), h.Get("Content-Type"), body)
	f.Add(401, "", "", "", "application/json", []byte(`{"error":{"code":"X"}}`))
	f.Add(200, "1", "zz", "00", "", []byte("===="))

	f.Fuzz(func(t *testing.T, status int, ts, nonce, sig, contentType string, wire []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(wire))}
		for key, value := range map[string]string{
			envelope.HeaderTimestamp: ts, envelope.HeaderNonce: nonce, envelope.HeaderSignature: sig,
			"Content-Type": contentType, envelope.HeaderContentType: "application/json",
		} {
			if value != "" {
				resp.Header.Set(key, value)
			}
		}
		plain, err := c.verifyResponse(resp, sess, requestNonce)
		if err != nil {
			return
		}
		// Only the genuine response verifies.
		if status != 200 || sig != h.Get(envelope.HeaderSignature) || !bytes.Equal(wire, body) {
			t.Fatalf("accepted a response that the gateway did not sign: status %d, sig %q", status, sig)
		}
		_ = plain.Body.Close()
	})
}

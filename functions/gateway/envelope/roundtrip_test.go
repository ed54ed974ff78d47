package envelope_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/functions/gateway/envelope/client"
	"github.com/jingtong/backend/shared/smcrypto"
)

var modes = []envelope.Mode{envelope.ModeGCM, envelope.ModeCBCHMAC}

// kilobyteJSON returns a JSON document of about 1 KB with Chinese text.
func kilobyteJSON() []byte {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < 1000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":"item-` + string(rune('a'+i%26)) + `","title":"居住证办理 一件事"}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func TestClient_RoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		g := newGateway(t, st, nil)
		for _, mode := range modes {
			t.Run(string(mode), func(t *testing.T) {
				c := g.newClient(t, mode)
				hc := c.HTTPClient()
				body := kilobyteJSON()

				resp, err := hc.Post(g.http.URL+"/api/zones/echo", "application/json; charset=utf-8", bytes.NewReader(body))
				if err != nil {
					t.Fatalf("POST: %v", err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, got)
				}
				if !bytes.Equal(got, body) {
					t.Errorf("echoed body differs:\n got %q\nwant %q", got, body)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q, want the upstream's", ct)
				}
				if resp.Header.Get("X-Upstream") != "echo" {
					t.Errorf("upstream header X-Upstream missing from %v", resp.Header)
				}
				for _, h := range []string{envelope.HeaderSignature, envelope.HeaderNonce, envelope.HeaderTimestamp, envelope.HeaderContentType} {
					if resp.Header.Get(h) != "" {
						t.Errorf("plaintext response still has %s", h)
					}
				}

				sess, err := c.Session(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if sess.Mode != mode {
					t.Errorf("session mode = %q, want %q", sess.Mode, mode)
				}
			})
		}
	})
}

func TestClient_RequestDetailsReachUpstream(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		g := newGateway(t, st, nil)
		for _, mode := range modes {
			t.Run(string(mode), func(t *testing.T) {
				hc := g.newClient(t, mode).HTTPClient()
				req, _ := http.NewRequest(http.MethodPut, g.http.URL+"/api/zones/items/%E4%BA%AC?q=%E4%BA%AC%E9%80%9A&b=x+y&a=1&a=0", strings.NewReader(`{"ok":true}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer token-123")

				reply := doJSON[echoReply](t, hc, req)
				want := echoReply{
					Method: http.MethodPut, Path: "/api/zones/items/京",
					Query:         "q=%E4%BA%AC%E9%80%9A&b=x+y&a=1&a=0",
					ContentType:   "application/json",
					Authorization: "Bearer token-123",
				}
				if reply != want {
					t.Errorf("upstream saw %+v, want %+v", reply, want)
				}
			})
		}
	})
}

func TestClient_GetWithoutBody(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	hc := g.newClient(t).HTTPClient()
	req, _ := http.NewRequest(http.MethodGet, g.http.URL+"/api/zones/zones?kind=life", nil)

	reply := doJSON[echoReply](t, hc, req)
	if reply.Method != http.MethodGet || reply.ContentType != "" || reply.EnvelopeSeen {
		t.Errorf("upstream saw %+v; want a GET with no content type and no envelope headers", reply)
	}
}

func TestClient_EmptyResponses(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	hc := g.newClient(t).HTTPClient()
	for _, status := range []int{http.StatusNoContent, http.StatusNotModified, http.StatusAccepted, http.StatusNotFound} {
		req, _ := http.NewRequest(http.MethodGet, g.http.URL+"/status/"+strconv.Itoa(status), nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("status %d: %v", status, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status || len(body) != 0 {
			t.Errorf("got status %d with %d body bytes, want %d with none", resp.StatusCode, len(body), status)
		}
	}
}

func TestClient_ReopensExpiredSession(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		g := newGateway(t, st, func(c *envelope.Config) { c.SessionTTL = 10 * time.Minute })
		c := g.newClient(t)
		hc := c.HTTPClient()

		first, err := c.Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// The gateway deletes the session while the client still uses it.
		if err := g.server.CloseSession(context.Background(), first.ID); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, g.http.URL+"/api/x", nil)
		doJSON[echoReply](t, hc, req)

		second, err := c.Session(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if second.ID == first.ID {
			t.Error("client kept the closed session instead of opening a new one")
		}

		// Past the expiry, the client renews before it sends.
		g.clock.Advance(10 * time.Minute)
		req, _ = http.NewRequest(http.MethodGet, g.http.URL+"/api/x", nil)
		doJSON[echoReply](t, hc, req)
		third, _ := c.Session(context.Background())
		if third.ID == second.ID {
			t.Error("client kept the expired session")
		}
	})
}

func TestServer_BindSubject(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		g := newGateway(t, st, nil)
		c := g.newClient(t)
		sess, err := c.Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		stored, err := st.sessions.Get(context.Background(), sess.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.server.BindSubject(context.Background(), stored, "user-42"); err != nil {
			t.Fatal(err)
		}

		req, _ := http.NewRequest(http.MethodGet, g.http.URL+"/api/me", nil)
		reply := doJSON[echoReply](t, c.HTTPClient(), req)
		if reply.Subject != "user-42" {
			t.Errorf("upstream saw subject %q, want %q", reply.Subject, "user-42")
		}
	})
}

func TestClient_RejectsForgedSessionAnswer(t *testing.T) {
	tests := []struct {
		name string
		// signWithOther makes the gateway sign with otherKID, which the
		// client does not pin.
		signWithOther bool
		edit          func(*envelope.OpenResponse)
	}{
		{name: "signer not pinned", signWithOther: true},
		{name: "expiry extended", edit: func(a *envelope.OpenResponse) { a.ExpiresAt += 3600_000 }},
		{name: "mode changed", edit: func(a *envelope.OpenResponse) { a.Mode = envelope.ModeCBCHMAC }},
		{name: "session ID replaced", edit: func(a *envelope.OpenResponse) { a.SessionID = "AAAAAAAAAAAAAAAAAAAAAA" }},
		{name: "signature truncated", edit: func(a *envelope.OpenResponse) { a.Sig = a.Sig[:len(a.Sig)-2] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, memoryStores(), func(cfg *envelope.Config) {
				if !tt.signWithOther {
					return
				}
				keys, err := smcrypto.NewKeySet(otherKID, map[string]*smcrypto.PrivateKey{
					gatewayKID: mustPrivateKey(t, gatewayKeyHex),
					otherKID:   mustPrivateKey(t, otherKeyHex),
				})
				if err != nil {
					t.Fatal(err)
				}
				cfg.Keys = keys
			})
			rewrite := roundTripFunc(func(req *http.Request) (*http.Response, error) {
				resp, err := g.http.Client().Transport.RoundTrip(req)
				if err != nil || tt.edit == nil {
					return resp, err
				}
				var answer envelope.OpenResponse
				_ = json.NewDecoder(resp.Body).Decode(&answer)
				resp.Body.Close()
				tt.edit(&answer)
				body, _ := json.Marshal(answer)
				resp.Body = io.NopCloser(bytes.NewReader(body))
				return resp, nil
			})
			c, err := client.New(client.Config{
				OpenURL: g.http.URL + openPath, KeyID: gatewayKID,
				PublicKeys: map[string]*smcrypto.PublicKey{gatewayKID: g.pub},
				Modes:      []envelope.Mode{envelope.ModeGCM},
				Transport:  rewrite, Now: g.clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Open(context.Background()); !errors.Is(err, client.ErrInvalidSession) {
				t.Errorf("Open: err = %v, want ErrInvalidSession", err)
			}
		})
	}
}

func TestClient_RejectsTamperedResponse(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	// A proxy between gateway and client that flips one byte of the body.
	tamper := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := g.http.Client().Transport.RoundTrip(req)
		if err != nil || req.URL.Path == openPath {
			return resp, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body[len(body)/2] ^= 'A' ^ 'B'
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	})
	c, err := client.New(client.Config{
		OpenURL: g.http.URL + openPath, KeyID: gatewayKID,
		PublicKeys: map[string]*smcrypto.PublicKey{gatewayKID: g.pub},
		Transport:  tamper, Now: g.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.HTTPClient().Post(g.http.URL+"/api/x", "text/plain", strings.NewReader("hello"))
	if !errors.Is(err, client.ErrInvalidResponse) {
		t.Errorf("tampered response: err = %v, want ErrInvalidResponse", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestClient_PrecomputeRequests(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	c := g.newClient(t, envelope.ModeGCM)
	body := kilobyteJSON()
	header := http.Header{"Content-Type": {"application/json"}}
	prepared, err := c.PrecomputeRequests(context.Background(), 3, http.MethodPost, g.http.URL+"/api/echo", header, body)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, p := range prepared {
		nonce := p.Header.Get(envelope.HeaderNonce)
		if seen[nonce] {
			t.Fatalf("request %d reuses nonce %s", i, nonce)
		}
		seen[nonce] = true

		req, err := p.NewRequest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := g.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := p.VerifyResponse(resp)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, _ := io.ReadAll(plain.Body)
		if !bytes.Equal(got, body) {
			t.Errorf("request %d: echoed body differs", i)
		}
	}

	// Sending a prepared request twice is a replay.
	req, _ := prepared[0].NewRequest(context.Background())
	resp, err := g.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prepared[0].VerifyResponse(resp); !isGatewayCode(err, "NONCE_REPLAYED") {
		t.Errorf("replayed prepared request: err = %v, want NONCE_REPLAYED", err)
	}
}

func isGatewayCode(err error, code string) bool {
	var gwErr *client.GatewayError
	return errors.As(err, &gwErr) && gwErr.Code == code
}

// doJSON sends req through hc and decodes a 200 JSON response.
func doJSON[T any](t testing.TB, hc *http.Client, req *http.Request) T {
	t.Helper()
	var out T
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d, body %s", req.Method, req.URL, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return out
}

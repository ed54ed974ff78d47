package envelope_test

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/shared/smcrypto"
)

// rejection is one request that the gateway must reject.
type rejection struct {
	name string
	// mode limits the case to one mode; empty means both.
	mode envelope.Mode
	// edit changes the request before it is signed; after changes the
	// built request after signing.
	edit  func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest)
	after func(t *testing.T, req *http.Request)

	wantStatus int
	wantCode   string
	// wantDetail is "path reason" of the first detail, when set.
	wantDetail string
}

func flipHexDigit(s string, i int) string {
	b := []byte(s)
	if b[i] == '0' {
		b[i] = '1'
	} else {
		b[i] = '0'
	}
	return string(b)
}

// replaceBody sets the body of req as sent, keeping the signed headers.
func replaceBody(req *http.Request, body []byte) {
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
}

func readAllBody(t *testing.T, req *http.Request) []byte {
	t.Helper()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// sealCBCUnpadded seals plaintext, a multiple of the block size, in the
// cbc-hmac layout without adding padding: a body that decrypts to bad
// padding behind a valid tag.
func sealCBCUnpadded(t *testing.T, keys *envelope.Keys, plaintext, aad []byte) []byte {
	t.Helper()
	block := envelope.KeyBlock(keys)
	encKey, macKey := block[64:80], block[80:112]
	sm4, err := smcrypto.NewSM4(encKey)
	if err != nil {
		t.Fatal(err)
	}
	iv := make([]byte, 16)
	_, _ = rand.Read(iv)
	c := make([]byte, len(plaintext))
	cipher.NewCBCEncrypter(sm4, iv).CryptBlocks(c, plaintext)

	mac := smcrypto.NewHMAC(macKey)
	mac.Write(aad)
	mac.Write(iv)
	mac.Write(c)
	var al [8]byte
	binary.BigEndian.PutUint64(al[:], uint64(len(aad))*8)
	mac.Write(al[:])

	out := append(append([]byte(nil), iv...), c...)
	return mac.Sum(out)
}

var envelopeInvalid = []rejection{
	{
		name: "tampered signature",
		after: func(t *testing.T, req *http.Request) {
			req.Header.Set(envelope.HeaderSignature, flipHexDigit(req.Header.Get(envelope.HeaderSignature), 10))
		},
	},
	{
		name: "tampered ciphertext",
		after: func(t *testing.T, req *http.Request) {
			body := readAllBody(t, req)
			body[20] ^= 'A' ^ 'B'
			replaceBody(req, body)
		},
	},
	{
		name: "truncated body",
		after: func(t *testing.T, req *http.Request) {
			body := readAllBody(t, req)
			replaceBody(req, body[:len(body)-4])
		},
	},
	{
		name: "signed truncated sealed body",
		edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
			sealed, _ := sess.keys.Request.Seal(nil, rand.Reader, p.plaintext, []byte(p.nonce))
			p.sealed = sealed[:len(sealed)-1]
		},
	},
	{
		name: "signed tampered ciphertext",
		edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
			sealed, _ := sess.keys.Request.Seal(nil, rand.Reader, p.plaintext, []byte(p.nonce))
			sealed[len(sealed)/2] ^= 1
			p.sealed = sealed
		},
	},
	{
		name: "signed body sealed for another nonce",
		edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
			p.sealed, _ = sess.keys.Request.Seal(nil, rand.Reader, p.plaintext, []byte(randomNonce()))
		},
	},
	{
		name: "signed body with wrong padding",
		mode: envelope.ModeCBCHMAC,
		edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
			plaintext := bytes.Repeat([]byte{'x'}, 32)
			plaintext[31] = 0 // padding length 0 is never valid
			p.sealed = sealCBCUnpadded(t, sess.keys, plaintext, []byte(p.nonce))
		},
	},
	{
		name: "signed body with padding longer than a block",
		mode: envelope.ModeCBCHMAC,
		edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
			plaintext := bytes.Repeat([]byte{17}, 32)
			p.sealed = sealCBCUnpadded(t, sess.keys, plaintext, []byte(p.nonce))
		},
	},
	{
		name: "signed body that is not base64",
		edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
			p.wire = []byte("this is not base64!!")
		},
	},
	{
		name: "signed body with a line break",
		edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
			sealed, _ := sess.keys.Request.Seal(nil, rand.Reader, p.plaintext, []byte(p.nonce))
			wire := envelope.EncodeBody(nil, sealed)
			p.wire = append(append(append([]byte(nil), wire[:8]...), '\n'), wire[8:len(wire)-1]...)
		},
	},
	{
		name: "Authorization swapped",
		edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
			p.authorization = "Bearer alice"
		},
		after: func(t *testing.T, req *http.Request) { req.Header.Set("Authorization", "Bearer mallory") },
	},
	{
		name:  "Authorization added",
		after: func(t *testing.T, req *http.Request) { req.Header.Set("Authorization", "Bearer mallory") },
	},
	{
		name:  "path changed",
		after: func(t *testing.T, req *http.Request) { req.URL.Path = "/api/zones/admin" },
	},
	{
		name:  "method changed",
		after: func(t *testing.T, req *http.Request) { req.Method = http.MethodPut },
	},
	{
		name:  "query value changed",
		after: func(t *testing.T, req *http.Request) { req.URL.RawQuery = "b=2&a=2" },
	},
	{
		name: "content type changed",
		after: func(t *testing.T, req *http.Request) {
			req.Header.Set(envelope.HeaderContentType, "application/x-www-form-urlencoded")
		},
	},
	{
		name: "timestamp changed within the window",
		after: func(t *testing.T, req *http.Request) {
			ts, _ := envelope.ParseTimestamp(req.Header.Get(envelope.HeaderTimestamp))
			req.Header.Set(envelope.HeaderTimestamp, envelope.FormatTimestamp(ts.Add(time.Second)))
		},
	},
	{
		name: "signed with the response key",
		edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
			p.signWith = sess.keys.Response
		},
	},
}

func TestUnwrap_EnvelopeInvalid(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		g := newGateway(t, st, nil)
		for _, mode := range modes {
			t.Run(string(mode), func(t *testing.T) {
				sess := g.openRaw(t, mode)
				var bodies [][]byte
				var names []string
				for _, tt := range envelopeInvalid {
					if tt.mode != "" && tt.mode != mode {
						continue
					}
					p := g.newProtected(sess, kilobyteJSON())
					if tt.edit != nil {
						tt.edit(t, g, sess, p)
					}
					req := p.build(t, sess.keys)
					if tt.after != nil {
						tt.after(t, req)
					}
					rec := g.serve(t, req)
					if rec.Code != http.StatusBadRequest || errorCode(t, rec.Body.Bytes()) != "ENVELOPE_INVALID" {
						t.Errorf("%s: status %d, body %s; want 400 ENVELOPE_INVALID", tt.name, rec.Code, rec.Body)
						continue
					}
					bodies = append(bodies, rec.Body.Bytes())
					names = append(names, tt.name)
				}

				// Signature, tag, padding and encoding failures must be
				// indistinguishable.
				for i := 1; i < len(bodies); i++ {
					if !bytes.Equal(bodies[i], bodies[0]) {
						t.Errorf("error body of %q differs from %q:\n%s\n%s", names[i], names[0], bodies[i], bodies[0])
					}
				}
			})
		}
	})
}

func TestUnwrap_ErrorBodiesIdenticalInEnglish(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	sess := g.openRaw(t, envelope.ModeCBCHMAC)

	send := func(p *protectedRequest, after func(*http.Request)) []byte {
		req := p.build(t, sess.keys)
		req.Header.Set("Accept-Language", "en")
		if after != nil {
			after(req)
		}
		rec := g.serve(t, req)
		return append([]byte(rec.Header().Get("Content-Type")+"|"+rec.Header().Get("Content-Length")+"|"), rec.Body.Bytes()...)
	}

	badMAC := send(g.newProtected(sess, []byte("{}")), func(r *http.Request) {
		r.Header.Set(envelope.HeaderSignature, strings.Repeat("0", 64))
	})
	padding := g.newProtected(sess, nil)
	padding.sealed = sealCBCUnpadded(t, sess.keys, make([]byte, 16), []byte(padding.nonce))
	badPadding := send(padding, nil)
	tag := g.newProtected(sess, nil)
	tag.sealed = sealCBCUnpadded(t, sess.keys, bytes.Repeat([]byte{16}, 16), []byte(tag.nonce))
	tag.sealed[len(tag.sealed)-1] ^= 1
	badTag := send(tag, nil)

	if !bytes.Equal(badMAC, badPadding) || !bytes.Equal(badMAC, badTag) {
		t.Errorf("responses differ:\nsignature: %s\npadding:   %s\ntag:       %s", badMAC, badPadding, badTag)
	}
	if !bytes.Contains(badMAC, []byte("failed signature verification or decryption")) {
		t.Errorf("English message missing from %s", badMAC)
	}
}

func TestUnwrap_BadSignatureDoesNotUseNonce(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	sess := g.openRaw(t, envelope.ModeGCM)
	p := g.newProtected(sess, []byte(`{"a":1}`))

	forged := p.build(t, sess.keys)
	forged.Header.Set(envelope.HeaderSignature, strings.Repeat("ab", 32))
	if rec := g.serve(t, forged); rec.Code != http.StatusBadRequest {
		t.Fatalf("forged request: status %d, want 400", rec.Code)
	}
	if rec := g.serve(t, p.build(t, sess.keys)); rec.Code != http.StatusOK {
		t.Errorf("genuine request after a forged one with its nonce: status %d, body %s; want 200", rec.Code, rec.Body)
	}
}

func TestUnwrap_Rejections(t *testing.T) {
	tests := []rejection{
		{
			name: "unknown session",
			edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
				p.session = envelope.SessionID{1, 2, 3}.String()
			},
			wantStatus: http.StatusUnauthorized, wantCode: "SESSION_NOT_FOUND",
		},
		{
			name: "expired session",
			edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
				g.clock.Advance(envelope.DefaultSessionTTL)
				p.timestamp = envelope.FormatTimestamp(g.clock.Now())
			},
			wantStatus: http.StatusUnauthorized, wantCode: "SESSION_NOT_FOUND",
		},
		{
			name: "timestamp too old",
			edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
				p.timestamp = envelope.FormatTimestamp(g.clock.Now().Add(-envelope.DefaultSkew - time.Millisecond))
			},
			wantStatus: http.StatusBadRequest, wantCode: "TIMESTAMP_SKEW",
		},
		{
			name: "timestamp in the future",
			edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
				p.timestamp = envelope.FormatTimestamp(g.clock.Now().Add(envelope.DefaultSkew + time.Millisecond))
			},
			wantStatus: http.StatusBadRequest, wantCode: "TIMESTAMP_SKEW",
		},
		{
			name: "timestamp at the edge of the window",
			edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
				p.timestamp = envelope.FormatTimestamp(g.clock.Now().Add(-envelope.DefaultSkew))
			},
			wantStatus: http.StatusOK,
		},
		{
			name: "wrong body content type",
			edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
				p.bodyType = "application/json"
			},
			wantStatus: http.StatusBadRequest, wantCode: "MALFORMED_HEADER", wantDetail: "Content-Type invalid",
		},
		{
			name: "envelope content type with parameters",
			edit: func(t *testing.T, g *gateway, sess rawSession, p *protectedRequest) {
				p.bodyType = "Application/Vnd.Jingtong.Envelope; charset=us-ascii"
			},
			wantStatus: http.StatusOK,
		},
		{
			// The query check comes before the signature check, so the
			// signature over another query does not matter.
			name:       "invalid query escape",
			after:      func(t *testing.T, req *http.Request) { req.URL.RawQuery = "a=%zz" },
			wantStatus: http.StatusBadRequest, wantCode: "INVALID_REQUEST", wantDetail: "query invalid",
		},
	}
	tests = append(tests, malformedHeaderCases()...)

	eachStore(t, func(t *testing.T, st stores) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				g := newGateway(t, st, nil)
				sess := g.openRaw(t, envelope.ModeGCM)
				p := g.newProtected(sess, []byte(`{"a":1}`))
				if tt.edit != nil {
					tt.edit(t, g, sess, p)
				}
				req := p.build(t, sess.keys)
				if tt.after != nil {
					tt.after(t, req)
				}
				checkRejection(t, g.serve(t, req), tt)
			})
		}
	})
}

func checkRejection(t *testing.T, rec *httptest.ResponseRecorder, tt rejection) {
	t.Helper()
	if rec.Code != tt.wantStatus {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
	}
	if tt.wantCode == "" {
		return
	}
	var parsed struct {
		Error struct {
			Code    string `json:"code"`
			Details []struct {
				Path   string `json:"path"`
				Reason string `json:"reason"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &parsed); err != nil {
		t.Fatalf("error body %s: %v", rec.Body, err)
	}
	if parsed.Error.Code != tt.wantCode {
		t.Errorf("code = %q, want %q; body %s", parsed.Error.Code, tt.wantCode, rec.Body)
	}
	if tt.wantDetail != "" {
		got := ""
		if len(parsed.Error.Details) > 0 {
			got = parsed.Error.Details[0].Path + " " + parsed.Error.Details[0].Reason
		}
		if got != tt.wantDetail {
			t.Errorf("detail = %q, want %q", got, tt.wantDetail)
		}
	}
}

// malformedHeaderCases returns one case per header fault.
func malformedHeaderCases() []rejection {
	set := func(header, value string) func(*testing.T, *http.Request) {
		return func(t *testing.T, req *http.Request) { req.Header.Set(header, value) }
	}
	del := func(header string) func(*testing.T, *http.Request) {
		return func(t *testing.T, req *http.Request) { req.Header.Del(header) }
	}
	dup := func(header string) func(*testing.T, *http.Request) {
		return func(t *testing.T, req *http.Request) {
			value := req.Header.Get(header)
			if value == "" {
				value = "x"
				req.Header.Add(header, value)
			}
			req.Header.Add(header, value)
		}
	}
	giant := strings.Repeat("a", 1<<16)

	faults := []struct {
		name, detail string
		after        func(*testing.T, *http.Request)
	}{
		{"session missing", "X-JT-Session missing", del(envelope.HeaderSession)},
		{"session empty", "X-JT-Session missing", set(envelope.HeaderSession, "")},
		{"session too short", "X-JT-Session invalid", set(envelope.HeaderSession, "AAAAAAAAAAAAAAAAAAAAA")},
		{"session too long", "X-JT-Session too_long", set(envelope.HeaderSession, "AAAAAAAAAAAAAAAAAAAAAAA")},
		{"session with padding", "X-JT-Session too_long", set(envelope.HeaderSession, "AAAAAAAAAAAAAAAAAAAAAA==")},
		{"session standard base64", "X-JT-Session invalid", set(envelope.HeaderSession, "AAAAAAAAAAAAAAAAAAAA+/")},
		{"session non-canonical", "X-JT-Session invalid", set(envelope.HeaderSession, "AAAAAAAAAAAAAAAAAAAAAB")},
		{"session duplicated", "X-JT-Session duplicated", dup(envelope.HeaderSession)},
		{"session giant", "X-JT-Session too_long", set(envelope.HeaderSession, giant)},
		{"timestamp missing", "X-JT-Timestamp missing", del(envelope.HeaderTimestamp)},
		{"timestamp not a number", "X-JT-Timestamp invalid", set(envelope.HeaderTimestamp, "17648064OOOOO")},
		{"timestamp negative", "X-JT-Timestamp invalid", set(envelope.HeaderTimestamp, "-1764806400000")},
		{"timestamp leading zero", "X-JT-Timestamp invalid", set(envelope.HeaderTimestamp, "01764806400000")},
		{"timestamp in seconds with fraction", "X-JT-Timestamp invalid", set(envelope.HeaderTimestamp, "1764806400.5")},
		{"timestamp too long", "X-JT-Timestamp too_long", set(envelope.HeaderTimestamp, "17648064000000000")},
		{"timestamp duplicated", "X-JT-Timestamp duplicated", dup(envelope.HeaderTimestamp)},
		{"nonce missing", "X-JT-Nonce missing", del(envelope.HeaderNonce)},
		{"nonce too short", "X-JT-Nonce invalid", set(envelope.HeaderNonce, strings.Repeat("a", 31))},
		{"nonce too long", "X-JT-Nonce too_long", set(envelope.HeaderNonce, strings.Repeat("a", 33))},
		{"nonce uppercase", "X-JT-Nonce invalid", set(envelope.HeaderNonce, strings.Repeat("A", 32))},
		{"nonce not hex", "X-JT-Nonce invalid", set(envelope.HeaderNonce, strings.Repeat("g", 32))},
		{"nonce duplicated", "X-JT-Nonce duplicated", dup(envelope.HeaderNonce)},
		{"signature missing", "X-JT-Signature missing", del(envelope.HeaderSignature)},
		{"signature too short", "X-JT-Signature invalid", set(envelope.HeaderSignature, strings.Repeat("0", 63))},
		{"signature too long", "X-JT-Signature too_long", set(envelope.HeaderSignature, strings.Repeat("0", 65))},
		{"signature uppercase", "X-JT-Signature invalid", set(envelope.HeaderSignature, strings.Repeat("AB", 32))},
		{"signature base64", "X-JT-Signature invalid", set(envelope.HeaderSignature, strings.Repeat("A", 43)+"=")},
		{"signature duplicated", "X-JT-Signature duplicated", dup(envelope.HeaderSignature)},
		{"content type giant", "X-JT-Content-Type too_long", set(envelope.HeaderContentType, giant)},
		{"content type with control character", "X-JT-Content-Type invalid", set(envelope.HeaderContentType, "application/json\x00")},
		{"content type duplicated", "X-JT-Content-Type duplicated", dup(envelope.HeaderContentType)},
		{"authorization giant", "Authorization too_long", set("Authorization", "Bearer "+giant)},
		{"authorization duplicated", "Authorization duplicated", dup("Authorization")},
	}

	cases := make([]rejection, 0, len(faults))
	for _, f := range faults {
		cases = append(cases, rejection{
			name: f.name, after: f.after,
			wantStatus: http.StatusBadRequest, wantCode: "MALFORMED_HEADER", wantDetail: f.detail,
		})
	}
	return cases
}

func TestUnwrap_ReplayedNonce(t *testing.T) {
	eachStore(t, func(t *testing.T, st stores) {
		g := newGateway(t, st, nil)
		for _, mode := range modes {
			t.Run(string(mode), func(t *testing.T) {
				sess := g.openRaw(t, mode)
				p := g.newProtected(sess, []byte(`{"a":1}`))
				if rec := g.serve(t, p.build(t, sess.keys)); rec.Code != http.StatusOK {
					t.Fatalf("first request: status %d, body %s", rec.Code, rec.Body)
				}
				rec := g.serve(t, p.build(t, sess.keys))
				checkRejection(t, rec, rejection{wantStatus: http.StatusConflict, wantCode: "NONCE_REPLAYED"})

				// The same nonce with a new timestamp and a new signature is
				// still a replay.
				p.timestamp = envelope.FormatTimestamp(g.clock.Now().Add(time.Second))
				rec = g.serve(t, p.build(t, sess.keys))
				checkRejection(t, rec, rejection{wantStatus: http.StatusConflict, wantCode: "NONCE_REPLAYED"})

				// Another session may use the same nonce.
				other := g.openRaw(t, mode)
				p.session = other.id
				if rec := g.serve(t, p.build(t, other.keys)); rec.Code != http.StatusOK {
					t.Errorf("same nonce in another session: status %d, body %s", rec.Code, rec.Body)
				}
			})
		}
	})
}

func TestUnwrap_BodyTooLarge(t *testing.T) {
	g := newGateway(t, memoryStores(), func(c *envelope.Config) { c.MaxBody = 4096 })
	sess := g.openRaw(t, envelope.ModeGCM)

	tests := []struct {
		name      string
		plaintext int
		chunked   bool
		want      int
	}{
		{"fits", 2048, false, http.StatusOK},
		{"declared length over the limit", 4000, false, http.StatusRequestEntityTooLarge},
		{"chunked over the limit", 4000, true, http.StatusRequestEntityTooLarge},
		{"chunked within the limit", 2048, true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := g.newProtected(sess, bytes.Repeat([]byte("a"), tt.plaintext))
			req := p.build(t, sess.keys)
			if tt.chunked {
				req.ContentLength = -1
			}
			rec := g.serve(t, req)
			if rec.Code != tt.want {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == http.StatusRequestEntityTooLarge && errorCode(t, rec.Body.Bytes()) != "BODY_TOO_LARGE" {
				t.Errorf("body %s; want code BODY_TOO_LARGE", rec.Body)
			}
		})
	}
}

func TestUnwrap_ResponseProtected(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			sess := g.openRaw(t, mode)
			p := g.newProtected(sess, []byte(`{"a":1}`))
			p.target = "/api/echo" // no query: the echo returns the body
			rec := g.serve(t, p.build(t, sess.keys))
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}

			h := rec.Header()
			fields := envelope.ResponseFields{
				SessionID: sess.id, Status: rec.Code, RequestNonce: p.nonce,
				Timestamp: h.Get(envelope.HeaderTimestamp), Nonce: h.Get(envelope.HeaderNonce),
				ContentType: h.Get(envelope.HeaderContentType), BodySM3: smcrypto.SumSM3(rec.Body.Bytes()),
			}
			sig, err := hex.DecodeString(h.Get(envelope.HeaderSignature))
			if err != nil {
				t.Fatal(err)
			}
			if !sess.keys.Response.VerifyMAC(envelope.AppendResponseString(nil, &fields), sig) {
				t.Fatal("response signature does not verify")
			}
			if sess.keys.Request.VerifyMAC(envelope.AppendResponseString(nil, &fields), sig) {
				t.Error("response signature verifies under the request key")
			}
			if h.Get("Content-Type") != envelope.ContentType || h.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v; want the envelope type and no-store", h)
			}
			sealed, err := envelope.DecodeBody(nil, rec.Body.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			plain, err := sess.keys.Response.Open(nil, sealed, []byte(fields.Nonce))
			if err != nil {
				t.Fatal(err)
			}
			if string(plain) != `{"a":1}` {
				t.Errorf("response plaintext %q, want the echoed body", plain)
			}
		})
	}
}

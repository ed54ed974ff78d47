package envelope_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/shared/httpx"
)

// preUnwrapCodes are the codes Unwrap may return for a request whose
// signature the fuzzer cannot forge.
var preUnwrapCodes = map[string]bool{
	"MALFORMED_HEADER": true, "TIMESTAMP_SKEW": true, "SESSION_NOT_FOUND": true,
	"ENVELOPE_INVALID": true, "INVALID_REQUEST": true, "BODY_TOO_LARGE": true,
}

// FuzzUnwrapHeaders sends requests with arbitrary protocol headers and
// checks that Unwrap never panics and returns a client error.
func FuzzUnwrapHeaders(f *testing.F) {
	g := newGateway(f, memoryStores(), nil)
	sess := g.openRaw(f, envelope.ModeGCM)
	valid := g.newProtected(sess, []byte(`{}`)).build(f, sess.keys)
	h := valid.Header

	f.Add(h.Get(envelope.HeaderSession), h.Get(envelope.HeaderTimestamp), h.Get(envelope.HeaderNonce),
		h.Get(envelope.HeaderSignature), h.Get(envelope.HeaderContentType), "Bearer x", "a=1&b=%E4")
	f.Add("", "", "", "", "", "", "")
	f.Add("AAAAAAAAAAAAAAAAAAAAAA", "0", strings.Repeat("g", 32), strings.Repeat("0", 64), "\x00", "\n", "%")
	f.Add(sess.id+"=", "99999999999999999", strings.Repeat("A", 32), strings.Repeat("f", 63), "x", "", "a=%zz")

	f.Fuzz(func(t *testing.T, session, timestamp, nonce, sig, contentType, auth, query string) {
		req := httptest.NewRequest(http.MethodPost, "/api/x", strings.NewReader("AAAAAAAA"))
		req.Header.Set("Content-Type", envelope.ContentType)
		req.URL.RawQuery = query
		for key, value := range map[string]string{
			envelope.HeaderSession: session, envelope.HeaderTimestamp: timestamp, envelope.HeaderNonce: nonce,
			envelope.HeaderSignature: sig, envelope.HeaderContentType: contentType, "Authorization": auth,
		} {
			if value != "" {
				req.Header[key] = []string{value}
			}
		}

		_, _, err := g.server.Unwrap(req)
		if err == nil {
			return // a valid signature by chance
		}
		var e *httpx.Error
		if !errors.As(err, &e) || !preUnwrapCodes[e.Code.ID] {
			t.Fatalf("Unwrap error %v, want one of the client error codes", err)
		}
	})
}

// FuzzUnwrapBody signs arbitrary bodies correctly, so that they reach
// decoding and decryption, and checks that Unwrap never panics and
// rejects every body it cannot open with ENVELOPE_INVALID.
func FuzzUnwrapBody(f *testing.F) {
	g := newGateway(f, memoryStores(), nil)
	sessions := map[envelope.Mode]rawSession{}
	for _, mode := range modes {
		sessions[mode] = g.openRaw(f, mode)
	}

	for _, mode := range modes {
		sess := sessions[mode]
		sealed, _ := sess.keys.Request.Seal(nil, rand.Reader, []byte(`{"a":1}`), []byte(strings.Repeat("0", 32)))
		f.Add(mode == envelope.ModeGCM, envelope.EncodeBody(nil, sealed))
		f.Add(mode == envelope.ModeGCM, envelope.EncodeBody(nil, sealed[:len(sealed)-1]))
	}
	f.Add(true, []byte("===="))
	f.Add(false, []byte("AAAA\nAAAA"))
	f.Add(false, bytes.Repeat([]byte("A"), 64))

	f.Fuzz(func(t *testing.T, gcm bool, wire []byte) {
		mode := envelope.ModeCBCHMAC
		if gcm {
			mode = envelope.ModeGCM
		}
		sess := sessions[mode]
		p := g.newProtected(sess, nil)
		p.wire = wire
		p.bodyType = envelope.ContentType
		req := p.build(t, sess.keys)

		plain, _, err := g.server.Unwrap(req)
		if err == nil {
			if len(wire) > 0 {
				sealed, derr := envelope.DecodeBody(nil, wire)
				if derr != nil {
					t.Fatalf("Unwrap accepted a body that DecodeBody rejects: %v", derr)
				}
				if _, oerr := sess.keys.Request.Open(nil, sealed, []byte(p.nonce)); oerr != nil {
					t.Fatalf("Unwrap accepted a body that does not open: %v", oerr)
				}
			}
			if plain.Header.Get(envelope.HeaderSignature) != "" {
				t.Fatal("plaintext request kept X-JT-Signature")
			}
			return
		}
		var e *httpx.Error
		if !errors.As(err, &e) || e.Code.ID != "ENVELOPE_INVALID" {
			t.Fatalf("Unwrap error %v, want ENVELOPE_INVALID", err)
		}
	})
}

// FuzzCanonicalQuery checks that canonical queries are stable and contain
// only unreserved characters, "%XX", "=" and "&".
func FuzzCanonicalQuery(f *testing.F) {
	for _, q := range queryInputs {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		canonical, err := envelope.CanonicalQuery(raw)
		if err != nil {
			var qe *envelope.QueryError
			if !errors.As(err, &qe) || qe.Offset < 0 || qe.Offset >= len(raw) || raw[qe.Offset] != '%' {
				t.Fatalf("CanonicalQuery(%q) error %v does not point at a %%", raw, err)
			}
			return
		}
		again, err := envelope.CanonicalQuery(canonical)
		if err != nil || again != canonical {
			t.Fatalf("CanonicalQuery(%q) = %q, but again = %q, %v", raw, canonical, again, err)
		}
		for i := 0; i < len(canonical); i++ {
			c := canonical[i]
			ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~%=&", c) >= 0
			if !ok {
				t.Fatalf("CanonicalQuery(%q) = %q contains %q", raw, canonical, c)
			}
		}
	})
}

// FuzzParseValues checks that the header value parsers accept only the one
// encoding of each value.
func FuzzParseValues(f *testing.F) {
	f.Add("EBESExQVFhcYGRobHB0eHw")
	f.Add("303132333435363738393a3b3c3d3e3f")
	f.Add("1796342401234")
	f.Add(strings.Repeat("ab", 32))
	f.Fuzz(func(t *testing.T, s string) {
		if id, err := envelope.ParseSessionID(s); err == nil && id.String() != s {
			t.Errorf("ParseSessionID(%q) = %s", s, id)
		}
		if n, err := envelope.ParseNonce(s); err == nil && n.String() != s {
			t.Errorf("ParseNonce(%q) = %s", s, n)
		}
		if ts, err := envelope.ParseTimestamp(s); err == nil && envelope.FormatTimestamp(ts) != s {
			t.Errorf("ParseTimestamp(%q) = %s", s, envelope.FormatTimestamp(ts))
		}
		if sig, err := envelope.ParseSignature(s); err == nil && hex.EncodeToString(sig[:]) != s {
			t.Errorf("ParseSignature(%q) = %x", s, sig)
		}
		_ = envelope.IsEnvelopeType(s)
	})
}

// FuzzOpenSession posts arbitrary bodies to the session-open handler and
// checks that it never panics and responds with 200 or a client error.
func FuzzOpenSession(f *testing.F) {
	g := newGateway(f, memoryStores(), nil)
	req, _ := json.Marshal(envelope.OpenRequest{KID: gatewayKID, Key: strings.Repeat("ab", 128), Modes: []envelope.Mode{"gcm"}, TS: 1, Nonce: strings.Repeat("0", 32)})
	f.Add(req)
	f.Add([]byte(`{"kid":"gw-test-1","key":null,"modes":"gcm"}`))
	f.Add([]byte(`{"modes":[` + strings.Repeat(`"gcm",`, 100) + `"gcm"]}`))
	f.Add([]byte(`[]`))

	f.Fuzz(func(t *testing.T, body []byte) {
		httpReq := httptest.NewRequest(http.MethodPost, openPath, bytes.NewReader(body))
		httpReq.Header.Set("Content-Type", "application/json")
		rec := g.serve(t, httpReq)
		if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("status %d for %q, body %s", rec.Code, body, rec.Body)
		}
	})
}

// FuzzSessionUnmarshal checks that decoding a stored session never panics
// and that what decodes encodes back to the same bytes.
func FuzzSessionUnmarshal(f *testing.F) {
	for _, mode := range modes {
		sess := newSession(f, mode, time.UnixMilli(vectorNowMS), time.Hour)
		data, _ := sess.MarshalBinary()
		f.Add(data)
	}
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var sess envelope.Session
		if err := sess.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := sess.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip of %x = %x, %v", data, again, err)
		}
	})
}

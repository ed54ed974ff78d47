package envelope_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/shared/smcrypto"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the vector inputs")

const vectorsPath = "testdata/vectors.json"

// The test vector file. Everything in it follows from the inputs in
// vectorInputs, except the two values that take randomness: the SM2
// ciphertext of the key material and the gateway's SM2 signature, which
// -update keeps while they still verify.
type vectorFile struct {
	Comment                  string        `json:"comment"`
	Gateway                  vectorGateway `json:"gateway"`
	KeyMaterialHex           string        `json:"key_material_hex"`
	KeyCiphertextHex         string        `json:"key_ciphertext_hex"`
	KeyCiphertextPrefixedHex string        `json:"key_ciphertext_prefixed_hex"`
	NowMS                    int64         `json:"now_ms"`
	SessionTTLMS             int64         `json:"session_ttl_ms"`
	Cases                    []vectorCase  `json:"cases"`
	Queries                  []vectorQuery `json:"queries"`
}

type vectorGateway struct {
	KID           string `json:"kid"`
	PrivateKeyHex string `json:"private_key_hex"`
	PublicKeyHex  string `json:"public_key_hex"`
	UserID        string `json:"user_id"`
}

type vectorCase struct {
	Mode     envelope.Mode  `json:"mode"`
	Open     vectorOpen     `json:"open"`
	Keys     vectorKeys     `json:"keys"`
	Request  vectorRequest  `json:"request"`
	Response vectorResponse `json:"response"`
}

type vectorOpen struct {
	RequestJSON  string `json:"request_json"`
	SessionIDHex string `json:"session_id_hex"`
	SessionID    string `json:"session_id"`
	ExpiresAt    int64  `json:"expires_at"`
	KeySM3Hex    string `json:"key_sm3_hex"`
	StringToSign string `json:"string_to_sign"`
	DigestHex    string `json:"sm2_digest_hex"`
	SignatureHex string `json:"signature_der_hex"`
	ResponseJSON string `json:"response_json"`
}

type vectorKeys struct {
	SaltHex               string `json:"hkdf_salt_hex"`
	Info                  string `json:"hkdf_info"`
	Length                int    `json:"hkdf_length"`
	BlockHex              string `json:"block_hex"`
	RequestMACKeyHex      string `json:"request_mac_key_hex"`
	ResponseMACKeyHex     string `json:"response_mac_key_hex"`
	RequestEncKeyHex      string `json:"request_enc_key_hex"`
	RequestBodyMACKeyHex  string `json:"request_body_mac_key_hex,omitempty"`
	ResponseEncKeyHex     string `json:"response_enc_key_hex"`
	ResponseBodyMACKeyHex string `json:"response_body_mac_key_hex,omitempty"`
}

type vectorRequest struct {
	Method         string `json:"method"`
	Path           string `json:"path"`
	RawQuery       string `json:"raw_query"`
	CanonicalQuery string `json:"canonical_query"`
	Timestamp      string `json:"timestamp"`
	Nonce          string `json:"nonce"`
	ContentType    string `json:"content_type"`
	Authorization  string `json:"authorization"`
	Plaintext      string `json:"plaintext"`
	IVHex          string `json:"iv_hex"`
	SealedHex      string `json:"sealed_hex"`
	Body           string `json:"body"`
	BodySM3Hex     string `json:"body_sm3_hex"`
	StringToSign   string `json:"string_to_sign"`
	SignatureHex   string `json:"signature_hex"`
}

type vectorResponse struct {
	Status       int    `json:"status"`
	Timestamp    string `json:"timestamp"`
	Nonce        string `json:"nonce"`
	ContentType  string `json:"content_type"`
	Plaintext    string `json:"plaintext"`
	IVHex        string `json:"iv_hex"`
	SealedHex    string `json:"sealed_hex"`
	Body         string `json:"body"`
	BodySM3Hex   string `json:"body_sm3_hex"`
	StringToSign string `json:"string_to_sign"`
	SignatureHex string `json:"signature_hex"`
}

type vectorQuery struct {
	Raw       string `json:"raw"`
	Canonical string `json:"canonical,omitempty"`
	Invalid   bool   `json:"invalid,omitempty"`
}

// caseInput holds the fixed inputs of one vector case. Byte values are
// runs: seq(0x10, 16) is 10 11 … 1f.
type caseInput struct {
	mode          envelope.Mode
	openModes     []envelope.Mode
	openTSOffset  int64
	openNonce     []byte
	sessionID     []byte
	requestTSOff  int64
	requestNonce  []byte
	requestIV     []byte
	responseNonce []byte
	responseIV    []byte
}

func seq(start byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = start + byte(i)
	}
	return out
}

const (
	vectorNowMS      = 1796342400000 // 2026-12-04T00:00:00Z
	vectorTTL        = 30 * time.Minute
	vectorMethod     = http.MethodPost
	vectorPath       = "/api/zones/items/%E4%BA%AC%E9%80%9A"
	vectorRawQuery   = "q=%E4%BA%AC%E9%80%9A&b=x+y&a=1&a=0&flag"
	vectorReqType    = "application/json; charset=utf-8"
	vectorAuth       = "Bearer eyJhbGciOiJTTTIifQ.eyJzdWIiOiJ1LTQyIn0.c2lnbmF0dXJl"
	vectorReqBody    = `{"zone":"京通","page":1}`
	vectorRespStatus = http.StatusOK
	vectorRespType   = "application/json"
	vectorRespBody   = `{"ok":true,"name":"居住证"}`
)

var vectorInputs = []caseInput{
	{
		mode:         envelope.ModeGCM,
		openModes:    []envelope.Mode{envelope.ModeGCM, envelope.ModeCBCHMAC},
		openTSOffset: -1000, openNonce: seq(0x20, 16), sessionID: seq(0x10, 16),
		requestTSOff: 1234, requestNonce: seq(0x30, 16), requestIV: seq(0x40, 12),
		responseNonce: seq(0x50, 16), responseIV: seq(0x60, 12),
	},
	{
		mode:         envelope.ModeCBCHMAC,
		openModes:    []envelope.Mode{envelope.ModeCBCHMAC},
		openTSOffset: -2000, openNonce: seq(0x80, 16), sessionID: seq(0x70, 16),
		requestTSOff: 1234, requestNonce: seq(0x90, 16), requestIV: seq(0xa0, 16),
		responseNonce: seq(0xb0, 16), responseIV: seq(0xc0, 16),
	},
}

var queryInputs = []string{
	"",
	"a=1",
	"b=2&a=1",
	"a=2&a=10&a=1",
	"Z=1&a=1&_=1",
	"q=%e4%ba%ac",
	"q=京",
	"x=a+b&y=a%20b&z=a%2Bb",
	"flag&empty=&&",
	"k=%7E%2D%2E%5F",
	"k=!*'();:@$,/?",
	"a=b=c",
	"%41=1",
	"a;b=1",
	"a=%zz",
	"a=%4",
	"a=%",
}

// queueReader returns its bytes in order and fails when they run out, so
// that a test learns when code reads more randomness than expected.
type queueReader struct {
	data []byte
}

func (q *queueReader) Read(p []byte) (int, error) {
	if len(q.data) < len(p) {
		return 0, errors.New("queueReader: out of bytes")
	}
	n := copy(p, q.data)
	q.data = q.data[n:]
	return n, nil
}

// computeVectors computes the vector file from the inputs. It keeps the
// key ciphertext and signatures of old while they still verify, and makes
// new ones otherwise.
func computeVectors(t *testing.T, old *vectorFile) *vectorFile {
	t.Helper()
	priv := mustPrivateKey(t, gatewayKeyHex)
	pub := priv.PublicKey()
	secret := seq(0x00, 32)

	out := &vectorFile{
		Comment: "Test vectors of the Jingtong transport envelope, protocol version 1. Generated by " +
			"go test ./functions/gateway/envelope -run TestVectors -update; documented in docs/protocol.md.",
		Gateway:        vectorGateway{KID: gatewayKID, PrivateKeyHex: gatewayKeyHex, PublicKeyHex: pub.Hex(), UserID: smcrypto.DefaultUID},
		KeyMaterialHex: hex.EncodeToString(secret),
		NowMS:          vectorNowMS,
		SessionTTLMS:   vectorTTL.Milliseconds(),
	}

	// The key ciphertext.
	if old != nil && decryptsTo(priv, old.KeyCiphertextHex, secret) {
		out.KeyCiphertextHex = old.KeyCiphertextHex
	} else {
		ct, err := smcrypto.Encrypt(&queueReader{data: bytes.Repeat(seq(0x01, 255), 4)}, pub, secret, &smcrypto.EncrypterOpts{OmitPrefix: true})
		if err != nil {
			t.Fatal(err)
		}
		out.KeyCiphertextHex = hex.EncodeToString(ct)
	}
	out.KeyCiphertextPrefixedHex = "04" + out.KeyCiphertextHex

	for i, in := range vectorInputs {
		var oldCase *vectorCase
		if old != nil && i < len(old.Cases) {
			oldCase = &old.Cases[i]
		}
		out.Cases = append(out.Cases, computeCase(t, priv, secret, out.KeyCiphertextHex, in, oldCase))
	}

	for _, raw := range queryInputs {
		canonical, err := envelope.CanonicalQuery(raw)
		out.Queries = append(out.Queries, vectorQuery{Raw: raw, Canonical: canonical, Invalid: err != nil})
	}
	return out
}

func decryptsTo(priv *smcrypto.PrivateKey, ciphertextHex string, want []byte) bool {
	ct, err := hex.DecodeString(ciphertextHex)
	if err != nil {
		return false
	}
	got, err := priv.Decrypt(nil, ct, nil)
	return err == nil && bytes.Equal(got, want)
}

func computeCase(t *testing.T, priv *smcrypto.PrivateKey, secret []byte, keyHex string, in caseInput, old *vectorCase) vectorCase {
	t.Helper()
	now := time.UnixMilli(vectorNowMS)
	var id envelope.SessionID
	copy(id[:], in.sessionID)
	c := vectorCase{Mode: in.mode}

	// Session open.
	openReq := envelope.OpenRequest{
		KID: gatewayKID, Key: keyHex, Modes: in.openModes,
		TS: vectorNowMS + in.openTSOffset, Nonce: hex.EncodeToString(in.openNonce),
	}
	reqJSON, _ := json.Marshal(openReq)
	fields := envelope.SessionFields{
		SessionID: id.String(), ExpiresAt: now.Add(vectorTTL).UnixMilli(), Mode: in.mode, KID: gatewayKID,
		Timestamp: openReq.TS, Nonce: openReq.Nonce, KeySM3: smcrypto.SumSM3([]byte(keyHex)),
	}
	toSign := envelope.AppendSessionString(nil, &fields)
	digest, err := smcrypto.Digest(priv.PublicKey(), toSign, nil)
	if err != nil {
		t.Fatal(err)
	}
	sigHex := ""
	if old != nil {
		if sig, err := hex.DecodeString(old.Open.SignatureHex); err == nil && smcrypto.VerifyASN1(priv.PublicKey(), toSign, sig, nil) {
			sigHex = old.Open.SignatureHex
		}
	}
	if sigHex == "" {
		sig, err := priv.SignMessage(&queueReader{data: seq(0x01, 255)}, toSign, nil)
		if err != nil {
			t.Fatal(err)
		}
		sigHex = hex.EncodeToString(sig)
	}
	answer := envelope.OpenResponse{SessionID: fields.SessionID, ExpiresAt: fields.ExpiresAt, Mode: in.mode, KID: gatewayKID, Sig: sigHex}
	answerJSON, _ := json.Marshal(answer)
	c.Open = vectorOpen{
		RequestJSON: string(reqJSON), SessionIDHex: hex.EncodeToString(id[:]), SessionID: fields.SessionID,
		ExpiresAt: fields.ExpiresAt, KeySM3Hex: hex.EncodeToString(fields.KeySM3[:]), StringToSign: string(toSign),
		DigestHex: hex.EncodeToString(digest), SignatureHex: sigHex, ResponseJSON: string(answerJSON),
	}

	// Keys.
	keys, err := envelope.DeriveKeys(secret, id, in.mode)
	if err != nil {
		t.Fatal(err)
	}
	block := envelope.KeyBlock(keys)
	c.Keys = vectorKeys{
		SaltHex: hex.EncodeToString(id[:]), Info: "JT-KEYS-V1:" + string(in.mode), Length: len(block),
		BlockHex:          hex.EncodeToString(block),
		RequestMACKeyHex:  hex.EncodeToString(block[0:32]),
		ResponseMACKeyHex: hex.EncodeToString(block[32:64]),
	}
	if in.mode == envelope.ModeGCM {
		c.Keys.RequestEncKeyHex = hex.EncodeToString(block[64:80])
		c.Keys.ResponseEncKeyHex = hex.EncodeToString(block[80:96])
	} else {
		c.Keys.RequestEncKeyHex = hex.EncodeToString(block[64:80])
		c.Keys.RequestBodyMACKeyHex = hex.EncodeToString(block[80:112])
		c.Keys.ResponseEncKeyHex = hex.EncodeToString(block[112:128])
		c.Keys.ResponseBodyMACKeyHex = hex.EncodeToString(block[128:160])
	}

	// Request.
	r := vectorRequest{
		Method: vectorMethod, Path: vectorPath, RawQuery: vectorRawQuery,
		Timestamp: envelope.FormatTimestamp(now.Add(time.Duration(in.requestTSOff) * time.Millisecond)),
		Nonce:     hex.EncodeToString(in.requestNonce), ContentType: vectorReqType, Authorization: vectorAuth,
		Plaintext: vectorReqBody, IVHex: hex.EncodeToString(in.requestIV),
	}
	r.CanonicalQuery, _ = envelope.CanonicalQuery(r.RawQuery)
	sealed, err := keys.Request.Seal(nil, &queueReader{data: in.requestIV}, []byte(r.Plaintext), []byte(r.Nonce))
	if err != nil {
		t.Fatal(err)
	}
	wire := envelope.EncodeBody(nil, sealed)
	bodySum := smcrypto.SumSM3(wire)
	reqString := envelope.AppendRequestString(nil, &envelope.RequestFields{
		SessionID: id.String(), Method: r.Method, Path: r.Path, Query: r.CanonicalQuery, Timestamp: r.Timestamp,
		Nonce: r.Nonce, ContentType: r.ContentType, Authorization: r.Authorization, BodySM3: bodySum,
	})
	reqSig := keys.Request.MAC(reqString)
	r.SealedHex, r.Body, r.BodySM3Hex = hex.EncodeToString(sealed), string(wire), hex.EncodeToString(bodySum[:])
	r.StringToSign, r.SignatureHex = string(reqString), hex.EncodeToString(reqSig[:])
	c.Request = r

	// Response.
	resp := vectorResponse{
		Status: vectorRespStatus, Timestamp: envelope.FormatTimestamp(now), Nonce: hex.EncodeToString(in.responseNonce),
		ContentType: vectorRespType, Plaintext: vectorRespBody, IVHex: hex.EncodeToString(in.responseIV),
	}
	sealed, err = keys.Response.Seal(nil, &queueReader{data: in.responseIV}, []byte(resp.Plaintext), []byte(resp.Nonce))
	if err != nil {
		t.Fatal(err)
	}
	wire = envelope.EncodeBody(nil, sealed)
	bodySum = smcrypto.SumSM3(wire)
	respString := envelope.AppendResponseString(nil, &envelope.ResponseFields{
		SessionID: id.String(), Status: resp.Status, RequestNonce: r.Nonce, Timestamp: resp.Timestamp,
		Nonce: resp.Nonce, ContentType: resp.ContentType, BodySM3: bodySum,
	})
	respSig := keys.Response.MAC(respString)
	resp.SealedHex, resp.Body, resp.BodySM3Hex = hex.EncodeToString(sealed), string(wire), hex.EncodeToString(bodySum[:])
	resp.StringToSign, resp.SignatureHex = string(respString), hex.EncodeToString(respSig[:])
	c.Response = resp
	return c
}

func readVectors(t *testing.T) *vectorFile {
	t.Helper()
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("read vectors (run with -update to create them): %v", err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", vectorsPath, err)
	}
	return &v
}

func TestVectors_Golden(t *testing.T) {
	var old *vectorFile
	if data, err := os.ReadFile(vectorsPath); err == nil {
		old = new(vectorFile)
		if err := json.Unmarshal(data, old); err != nil {
			t.Fatalf("decode %s: %v", vectorsPath, err)
		}
	}
	computed := computeVectors(t, old)

	if *update {
		data, err := json.MarshalIndent(computed, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		data = bytes.ReplaceAll(data, []byte(`\u0026`), []byte("&"))
		if err := os.WriteFile(vectorsPath, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if old == nil {
		t.Fatalf("%s is missing; run with -update", vectorsPath)
	}
	if !reflect.DeepEqual(computed, old) {
		got, _ := json.MarshalIndent(computed, "", "  ")
		want, _ := json.MarshalIndent(old, "", "  ")
		t.Errorf("computed vectors differ from %s (rerun with -update only if the protocol changed on purpose)\n%s",
			vectorsPath, firstDifference(string(got), string(want)))
	}
}

// firstDifference returns the first line where got and want differ.
func firstDifference(got, want string) string {
	gotLines, wantLines := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(gotLines) && i < len(wantLines); i++ {
		if gotLines[i] != wantLines[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got " + gotLines[i] + "\nwant " + wantLines[i]
		}
	}
	return "lengths differ"
}

// TestVectors_EndToEnd runs the vectors through a real Server with the
// vectors' clock and randomness, and compares what it sends byte for byte.
func TestVectors_EndToEnd(t *testing.T) {
	v := readVectors(t)
	for i, vc := range v.Cases {
		in := vectorInputs[i]
		t.Run(string(vc.Mode), func(t *testing.T) {
			keys, err := smcrypto.NewKeySet(gatewayKID, map[string]*smcrypto.PrivateKey{gatewayKID: mustPrivateKey(t, gatewayKeyHex)})
			if err != nil {
				t.Fatal(err)
			}
			random := &queueReader{data: bytes.Join([][]byte{in.sessionID, in.responseNonce, in.responseIV}, nil)}
			now := func() time.Time { return time.UnixMilli(v.NowMS) }
			srv, err := envelope.New(envelope.Config{
				Keys:     keys,
				Sessions: envelope.NewMemorySessionStore(envelope.WithClock(now)),
				Nonces:   envelope.NewMemoryNonceStore(envelope.WithClock(now)),
				Now:      now, Rand: random, SessionTTL: vectorTTL,
			})
			if err != nil {
				t.Fatal(err)
			}

			// Open the session with the vector's request.
			openReq := httptest.NewRequest(http.MethodPost, openPath, strings.NewReader(vc.Open.RequestJSON))
			openReq.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			srv.OpenSession(rec, openReq)
			answer := decodeAnswer(t, rec)
			want := envelope.OpenResponse{SessionID: vc.Open.SessionID, ExpiresAt: vc.Open.ExpiresAt, Mode: vc.Mode, KID: gatewayKID, Sig: answer.Sig}
			if answer != want {
				t.Errorf("open answer %+v, want %+v", answer, want)
			}
			sig, _ := hex.DecodeString(answer.Sig)
			if !smcrypto.VerifyASN1(mustPrivateKey(t, gatewayKeyHex).PublicKey(), []byte(vc.Open.StringToSign), sig, nil) {
				t.Error("the session-open response signature does not verify over the vector's string to sign")
			}

			// Send the vector's protected request to an upstream that
			// responds with the vector's response.
			var upstreamSaw []byte
			upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				upstreamSaw, _ = io.ReadAll(r.Body)
				if r.Header.Get("Content-Type") != vc.Request.ContentType || r.Header.Get("Authorization") != vc.Request.Authorization {
					t.Errorf("upstream headers %v", r.Header)
				}
				w.Header().Set("Content-Type", vc.Response.ContentType)
				w.WriteHeader(vc.Response.Status)
				_, _ = io.WriteString(w, vc.Response.Plaintext)
			})
			req := httptest.NewRequest(vc.Request.Method, vc.Request.Path+"?"+vc.Request.RawQuery, strings.NewReader(vc.Request.Body))
			req.Header.Set("Content-Type", envelope.ContentType)
			req.Header.Set("X-JT-Session", vc.Open.SessionID)
			req.Header.Set("X-JT-Timestamp", vc.Request.Timestamp)
			req.Header.Set("X-JT-Nonce", vc.Request.Nonce)
			req.Header.Set("X-JT-Signature", vc.Request.SignatureHex)
			req.Header.Set("X-JT-Content-Type", vc.Request.ContentType)
			req.Header.Set("Authorization", vc.Request.Authorization)
			rec = httptest.NewRecorder()
			srv.Middleware(upstream).ServeHTTP(rec, req)

			if rec.Code != vc.Response.Status {
				t.Fatalf("status %d, body %s", rec.Code, rec.Body)
			}
			if string(upstreamSaw) != vc.Request.Plaintext {
				t.Errorf("upstream saw body %q, want %q", upstreamSaw, vc.Request.Plaintext)
			}
			gotHeaders := map[string]string{
				"X-JT-Timestamp":    rec.Header().Get("X-JT-Timestamp"),
				"X-JT-Nonce":        rec.Header().Get("X-JT-Nonce"),
				"X-JT-Signature":    rec.Header().Get("X-JT-Signature"),
				"X-JT-Content-Type": rec.Header().Get("X-JT-Content-Type"),
				"Content-Type":      rec.Header().Get("Content-Type"),
			}
			wantHeaders := map[string]string{
				"X-JT-Timestamp":    vc.Response.Timestamp,
				"X-JT-Nonce":        vc.Response.Nonce,
				"X-JT-Signature":    vc.Response.SignatureHex,
				"X-JT-Content-Type": vc.Response.ContentType,
				"Content-Type":      envelope.ContentType,
			}
			if !reflect.DeepEqual(gotHeaders, wantHeaders) {
				t.Errorf("response headers %v, want %v", gotHeaders, wantHeaders)
			}
			if rec.Body.String() != vc.Response.Body {
				t.Errorf("response body %q, want %q", rec.Body, vc.Response.Body)
			}
			if len(random.data) != 0 {
				t.Errorf("%d random bytes left unread", len(random.data))
			}
		})
	}
}

// TestVectors_QuotedInDocs checks that both protocol documents quote every
// value of the vector file, so the documents cannot fall behind it.
func TestVectors_QuotedInDocs(t *testing.T) {
	v := readVectors(t)
	var values []string
	add := func(s ...string) {
		for _, x := range s {
			if x != "" {
				values = append(values, x)
			}
		}
	}
	add(v.Gateway.PrivateKeyHex, v.Gateway.PublicKeyHex, v.KeyMaterialHex, v.KeyCiphertextHex)
	for _, c := range v.Cases {
		add(c.Open.RequestJSON, c.Open.SessionIDHex, c.Open.SessionID, c.Open.KeySM3Hex, c.Open.StringToSign,
			c.Open.DigestHex, c.Open.SignatureHex)
		add(c.Keys.Info, c.Keys.BlockHex, c.Keys.RequestMACKeyHex, c.Keys.ResponseMACKeyHex, c.Keys.RequestEncKeyHex,
			c.Keys.RequestBodyMACKeyHex, c.Keys.ResponseEncKeyHex, c.Keys.ResponseBodyMACKeyHex)
		add(c.Request.CanonicalQuery, c.Request.Timestamp, c.Request.Nonce, c.Request.IVHex, c.Request.SealedHex,
			c.Request.Body, c.Request.BodySM3Hex, c.Request.StringToSign, c.Request.SignatureHex)
		add(c.Response.Nonce, c.Response.IVHex, c.Response.SealedHex, c.Response.Body, c.Response.BodySM3Hex,
			c.Response.StringToSign, c.Response.SignatureHex)
	}
	for _, q := range v.Queries {
		if !q.Invalid {
			add(q.Canonical)
		}
	}

	for _, doc := range []string{"protocol.md", "protocol.zh-CN.md"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", doc))
		if err != nil {
			t.Fatalf("read docs/%s: %v", doc, err)
		}
		text := string(data)
		for _, value := range values {
			if !strings.Contains(text, value) {
				t.Errorf("docs/%s does not quote %q", doc, value)
			}
		}
	}
}

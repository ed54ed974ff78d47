package envelope

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/smcrypto"
)

// Header names as the protocol document and error messages write them.
const (
	nameSession       = "X-JT-Session"
	nameTimestamp     = "X-JT-Timestamp"
	nameNonce         = "X-JT-Nonce"
	nameSignature     = "X-JT-Signature"
	nameContentType   = "X-JT-Content-Type"
	nameAuthorization = "Authorization"
	nameBodyType      = "Content-Type"
)

// requestHeaders are the parsed protocol headers of a request.
type requestHeaders struct {
	sessionRaw    string
	sessionID     SessionID
	timestampRaw  string
	timestamp     time.Time
	nonceRaw      string
	nonce         Nonce
	signature     [MACSize]byte
	contentType   string
	authorization string
}

// parseRequestHeaders reads and checks the protocol headers of h. Each
// failure is a MALFORMED_HEADER error naming the header.
func parseRequestHeaders(h http.Header) (requestHeaders, error) {
	var out requestHeaders
	var err error

	if out.sessionRaw, err = singleHeader(h, HeaderSession, nameSession, sessionIDLen, true); err != nil {
		return out, err
	}
	if out.sessionID, err = ParseSessionID(out.sessionRaw); err != nil {
		return out, malformedHeader(nameSession, reasonInvalid)
	}

	if out.timestampRaw, err = singleHeader(h, HeaderTimestamp, nameTimestamp, MaxTimestampLen, true); err != nil {
		return out, err
	}
	if out.timestamp, err = ParseTimestamp(out.timestampRaw); err != nil {
		return out, malformedHeader(nameTimestamp, reasonInvalid)
	}

	if out.nonceRaw, err = singleHeader(h, HeaderNonce, nameNonce, 2*NonceSize, true); err != nil {
		return out, err
	}
	if out.nonce, err = ParseNonce(out.nonceRaw); err != nil {
		return out, malformedHeader(nameNonce, reasonInvalid)
	}

	sig, err := singleHeader(h, HeaderSignature, nameSignature, 2*MACSize, true)
	if err != nil {
		return out, err
	}
	if out.signature, err = ParseSignature(sig); err != nil {
		return out, malformedHeader(nameSignature, reasonInvalid)
	}

	if out.contentType, err = singleHeader(h, HeaderContentType, nameContentType, MaxContentTypeLen, false); err != nil {
		return out, err
	}
	if out.authorization, err = singleHeader(h, "Authorization", nameAuthorization, MaxAuthorizationLen, false); err != nil {
		return out, err
	}
	return out, nil
}

// singleHeader returns the one value of header key. It rejects a repeated
// header, a value longer than maxLen, control characters and, when
// required, a missing or empty header. name is the header's name in
// errors.
func singleHeader(h http.Header, key, name string, maxLen int, required bool) (string, error) {
	values := h[key]
	switch {
	case len(values) > 1:
		return "", malformedHeader(name, reasonDuplicated)
	case len(values) == 0 || values[0] == "":
		if required {
			return "", malformedHeader(name, reasonMissing)
		}
		return "", nil
	case len(values[0]) > maxLen:
		return "", malformedHeader(name, reasonTooLong)
	case !validHeaderText(values[0]):
		return "", malformedHeader(name, reasonInvalid)
	}
	return values[0], nil
}

var errSignatureFormat = errors.New("envelope: signature must be 64 lowercase hex characters")

// ParseSignature parses an X-JT-Signature value: 64 lowercase hex
// characters.
func ParseSignature(s string) ([MACSize]byte, error) {
	var sig [MACSize]byte
	if len(s) != 2*MACSize || !isLowerHex(s) {
		return sig, errSignatureFormat
	}
	_, _ = hex.Decode(sig[:], []byte(s))
	return sig, nil
}

// IsEnvelopeType reports whether a Content-Type value names the envelope
// media type, with or without parameters.
func IsEnvelopeType(contentType string) bool {
	rest, ok := cutPrefixFold(contentType, ContentType)
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	return rest == "" || rest[0] == ';'
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

var errBodyEncoding = errors.New("envelope: body is not base64 with padding and without line breaks")

// DecodeBody decodes an enveloped body: standard base64 with padding and
// no line breaks or other characters. It appends to dst and returns the
// updated slice.
func DecodeBody(dst, wire []byte) ([]byte, error) {
	if len(wire)%4 != 0 || bytes.IndexByte(wire, '\n') >= 0 || bytes.IndexByte(wire, '\r') >= 0 {
		return nil, errBodyEncoding
	}
	n := base64.StdEncoding.DecodedLen(len(wire))
	out := sliceForAppend(dst, n)
	written, err := base64.StdEncoding.Strict().Decode(out[len(dst):], wire)
	if err != nil {
		return nil, errBodyEncoding
	}
	return out[:len(dst)+written], nil
}

// EncodeBody appends the base64 form of a sealed body to dst.
func EncodeBody(dst, sealed []byte) []byte {
	return base64.StdEncoding.AppendEncode(dst, sealed)
}

// sliceForAppend returns in extended by n bytes, reallocating when its
// capacity is too small.
func sliceForAppend(in []byte, n int) []byte {
	if total := len(in) + n; cap(in) >= total {
		return in[:total]
	}
	out := make([]byte, len(in)+n)
	copy(out, in)
	return out
}

// Unwrap checks a protected request and returns its plaintext form and
// session. The checks run cheapest first, each with its own error: the
// protocol headers (MALFORMED_HEADER), the query (INVALID_REQUEST), the
// timestamp (TIMESTAMP_SKEW), the body size (BODY_TOO_LARGE) and media
// type (MALFORMED_HEADER), and the session (SESSION_NOT_FOUND). From then
// on, a wrong X-JT-Signature and a body that does not decode or decrypt
// all return the same ENVELOPE_INVALID error. Between those two steps the
// nonce is claimed (NONCE_REPLAYED), so only a correctly signed request
// can use up a nonce. A failing store yields NOT_READY. Errors are
// *httpx.Error values for httpx.WriteError.
//
// The plaintext request shares r's header map, from which Unwrap deletes
// the X-JT-* headers, Content-Length and Accept-Encoding, and in which it
// sets Content-Type to the X-JT-Content-Type value or deletes it. Its body
// is the plaintext, its ContentLength the plaintext length, and its context
// carries the session for SessionFromContext and the request nonce for
// WrapResponse.
//
// Unwrap must see the path and query that the client signed, so call it
// before any handler that rewrites the URL, such as http.StripPrefix.
func (s *Server) Unwrap(r *http.Request) (*http.Request, *Session, error) {
	ctx := r.Context()
	hdr, err := parseRequestHeaders(r.Header)
	if err != nil {
		return nil, nil, err
	}
	query, err := CanonicalQuery(r.URL.RawQuery)
	if err != nil {
		return nil, nil, httpx.E(httpx.CodeInvalidRequest).WithDetails(httpx.Detail{
			Path: "query", Reason: "invalid",
			ZH: "查询字符串含有无效的百分号编码", EN: "the query string has an invalid percent escape",
		})
	}
	now := s.now()
	if err := s.checkTimestamp(hdr.timestamp, now); err != nil {
		return nil, nil, err
	}

	buf := getBuffer()
	defer putBuffer(buf)
	body, err := readBody(buf.body[:0], r, s.maxBody)
	buf.body = body
	if err != nil {
		return nil, nil, err
	}
	if len(body) > 0 && !IsEnvelopeType(r.Header.Get(nameBodyType)) {
		return nil, nil, malformedHeader(nameBodyType, reasonInvalid)
	}

	sess, err := s.sessions.Get(ctx, hdr.sessionID)
	if errors.Is(err, ErrSessionNotFound) || (err == nil && !sess.ExpiresAt.After(now)) {
		return nil, nil, httpx.E(CodeSessionNotFound)
	}
	if err != nil {
		return nil, nil, s.dependencyError(ctx, "get session", err)
	}

	// From here on every failure is ENVELOPE_INVALID.
	fields := RequestFields{
		SessionID:     hdr.sessionRaw,
		Method:        r.Method,
		Path:          r.URL.EscapedPath(),
		Query:         query,
		Timestamp:     hdr.timestampRaw,
		Nonce:         hdr.nonceRaw,
		ContentType:   hdr.contentType,
		Authorization: hdr.authorization,
		BodySM3:       smcrypto.SumSM3(body),
	}
	buf.text = AppendRequestString(buf.text[:0], &fields)
	if !sess.keys.Request.VerifyMAC(buf.text, hdr.signature[:]) {
		return nil, nil, httpx.E(CodeEnvelopeInvalid)
	}

	fresh, err := s.nonces.Claim(ctx, hdr.sessionID, hdr.nonce, s.nonceTTL())
	if err != nil {
		return nil, nil, s.dependencyError(ctx, "claim nonce", err)
	}
	if !fresh {
		return nil, nil, httpx.E(CodeNonceReplayed)
	}

	st := &requestState{session: sess, sessionID: hdr.sessionRaw, nonce: hdr.nonceRaw}
	copy(st.nonceHex[:], hdr.nonceRaw)
	var plaintext []byte
	if len(body) > 0 {
		buf.sealed, err = DecodeBody(buf.sealed[:0], body)
		if err != nil {
			return nil, nil, httpx.E(CodeEnvelopeInvalid)
		}
		plaintext, err = sess.keys.Request.Open(nil, buf.sealed, st.nonceHex[:])
		if err != nil {
			return nil, nil, httpx.E(CodeEnvelopeInvalid)
		}
	}
	st.Reset(plaintext)
	return plaintextRequest(r, context.WithValue(ctx, contextKey{}, st), st, hdr.contentType, len(plaintext)), sess, nil
}

// plaintextRequest returns a shallow copy of r with ctx and the plaintext
// body, and removes the envelope headers from the shared header map.
func plaintextRequest(r *http.Request, ctx context.Context, body *requestState, contentType string, size int) *http.Request {
	out := r.WithContext(ctx)
	h := out.Header
	delete(h, HeaderSession)
	delete(h, HeaderTimestamp)
	delete(h, HeaderNonce)
	delete(h, HeaderSignature)
	delete(h, HeaderContentType)
	delete(h, "Content-Length")
	// The response body is sealed, so the upstream must send it without a
	// content coding that the client's HTTP stack would try to undo.
	delete(h, "Accept-Encoding")
	if contentType != "" {
		h["Content-Type"] = []string{contentType}
	} else {
		delete(h, "Content-Type")
	}

	out.ContentLength = int64(size)
	out.TransferEncoding = nil
	out.GetBody = nil
	out.Body = body
	if size == 0 {
		out.Body = http.NoBody
	}
	return out
}

// readBody appends r's body to dst, failing with BODY_TOO_LARGE past
// maxBody bytes.
func readBody(dst []byte, r *http.Request, maxBody int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return dst, nil
	}
	if r.ContentLength > maxBody {
		return dst, httpx.E(httpx.CodeBodyTooLarge, maxBody)
	}
	if r.ContentLength > 0 && int64(cap(dst)) < r.ContentLength+1 {
		dst = make([]byte, 0, r.ContentLength+1)
	}

	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > maxBody {
			return dst, httpx.E(httpx.CodeBodyTooLarge, maxBody)
		}
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return dst, httpx.E(httpx.CodeBodyTooLarge, min(maxBody, tooLarge.Limit))
		}
		if err != nil {
			return dst, httpx.Wrap(httpx.CodeInvalidRequest, err)
		}
	}
}

// buffers are the scratch space of one Unwrap or one response.
type buffers struct {
	body   []byte          // the body as sent
	sealed []byte          // the decoded or sealed body, then the signed string
	text   []byte          // the signed string, or header values
	nonce  [NonceSize]byte // a response nonce
}

// maxPooledBuffer is the largest buffer kept for reuse, so that one huge
// body does not pin its memory in the pool.
const maxPooledBuffer = 64 << 10

var bufferPool = sync.Pool{New: func() any { return new(buffers) }}

func getBuffer() *buffers {
	return bufferPool.Get().(*buffers)
}

func putBuffer(b *buffers) {
	if cap(b.body) > maxPooledBuffer || cap(b.sealed) > maxPooledBuffer {
		return
	}
	bufferPool.Put(b)
}

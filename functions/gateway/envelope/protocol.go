package envelope

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Header names of the protocol, in Go's canonical form. HTTP header names
// are case-insensitive: the protocol document writes X-JT-Session, and Go
// sends X-Jt-Session.
const (
	HeaderSession     = "X-Jt-Session"
	HeaderTimestamp   = "X-Jt-Timestamp"
	HeaderNonce       = "X-Jt-Nonce"
	HeaderSignature   = "X-Jt-Signature"
	HeaderContentType = "X-Jt-Content-Type"
)

// ContentType is the media type of an enveloped body: the sealed body in
// standard base64 with padding (RFC 4648, section 4), without line breaks.
const ContentType = "application/vnd.jingtong.envelope"

// Sizes of protocol values in bytes.
const (
	// SessionIDSize is the size of a session ID, sent as 22 base64url
	// characters without padding.
	SessionIDSize = 16
	// sessionIDLen is the length of a session ID in base64url.
	sessionIDLen = 22
	// NonceSize is the size of a request or response nonce, sent as 32
	// lowercase hex characters.
	NonceSize = 16
	// SecretSize is the size of the key material that the client encrypts to
	// the gateway when it opens a session.
	SecretSize = 32
	// MACSize is the size of an HMAC-SM3 signature, sent as 64 lowercase hex
	// characters.
	MACSize = 32
)

// Limits on header values, checked before any other work.
const (
	// MaxTimestampLen is the longest X-JT-Timestamp value: 16 decimal digits
	// of Unix milliseconds, enough until the year 318857.
	MaxTimestampLen = 16
	// MaxContentTypeLen is the longest X-JT-Content-Type value.
	MaxContentTypeLen = 256
	// MaxAuthorizationLen is the longest Authorization value that a protected
	// request may carry, room for a bearer JWT with many claims.
	MaxAuthorizationLen = 8192
)

// Labels on the first line of each string that is signed, which keep the
// three kinds of signed strings apart.
const (
	requestLabel  = "JT-REQUEST-V1"
	responseLabel = "JT-RESPONSE-V1"
	sessionLabel  = "JT-SESSION-V1"
)

// Mode is the symmetric scheme of a session's bodies.
type Mode string

// Session modes.
const (
	// ModeGCM seals bodies with SM4-GCM as nonce‖C‖tag (12-byte nonce,
	// 16-byte tag). sm-crypto-v2 supports it.
	ModeGCM Mode = "gcm"
	// ModeCBCHMAC seals bodies with SM4-CBC, PKCS #7 padding and HMAC-SM3 as
	// IV‖C‖T (16-byte IV, 32-byte tag). sm-crypto 0.5 supports it.
	ModeCBCHMAC Mode = "cbc-hmac"
)

// Valid reports whether m is a mode of this protocol version.
func (m Mode) Valid() bool {
	return m == ModeGCM || m == ModeCBCHMAC
}

// SessionID identifies a session: 16 random bytes.
type SessionID [SessionIDSize]byte

// String returns the ID in base64url without padding (22 characters), the
// form of the X-JT-Session header.
func (id SessionID) String() string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

var errSessionIDFormat = errors.New("envelope: session ID must be 22 base64url characters without padding")

// ParseSessionID parses the 22-character base64url form of a session ID.
// It rejects every other encoding of the same bytes.
func ParseSessionID(s string) (SessionID, error) {
	var id SessionID
	if len(s) != sessionIDLen {
		return id, errSessionIDFormat
	}
	n, err := base64.RawURLEncoding.Strict().Decode(id[:], []byte(s))
	if err != nil || n != SessionIDSize {
		return SessionID{}, errSessionIDFormat
	}
	return id, nil
}

// Nonce is a request or response nonce: 16 random bytes.
type Nonce [NonceSize]byte

// String returns the nonce in 32 lowercase hex characters.
func (n Nonce) String() string {
	return hex.EncodeToString(n[:])
}

var errNonceFormat = errors.New("envelope: nonce must be 32 lowercase hex characters")

// ParseNonce parses 32 lowercase hex characters.
func ParseNonce(s string) (Nonce, error) {
	var n Nonce
	if len(s) != 2*NonceSize || !isLowerHex(s) {
		return n, errNonceFormat
	}
	_, _ = hex.Decode(n[:], []byte(s))
	return n, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

var errTimestampFormat = errors.New("envelope: timestamp must be Unix milliseconds in decimal, without sign or leading zeros")

// ParseTimestamp parses Unix milliseconds written as 1 to 16 decimal digits
// with no sign and no leading zero.
func ParseTimestamp(s string) (time.Time, error) {
	if len(s) == 0 || len(s) > MaxTimestampLen || s[0] == '0' {
		return time.Time{}, errTimestampFormat
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, errTimestampFormat
		}
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, errTimestampFormat
	}
	return time.UnixMilli(ms), nil
}

// FormatTimestamp returns t as Unix milliseconds in decimal, the form of
// X-JT-Timestamp and of the ts and expires_at fields.
func FormatTimestamp(t time.Time) string {
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// RequestFields are the parts of a request that its X-JT-Signature covers.
type RequestFields struct {
	// SessionID is the X-JT-Session value.
	SessionID string
	// Method is the HTTP method, such as "POST".
	Method string
	// Path is the percent-encoded path as the request line carries it, such
	// as "/api/zones/items/%E4%BA%AC" (Go: URL.EscapedPath).
	Path string
	// Query is the canonical query that [CanonicalQuery] returns.
	Query string
	// Timestamp and Nonce are the X-JT-Timestamp and X-JT-Nonce values.
	Timestamp string
	Nonce     string
	// ContentType is the X-JT-Content-Type value, empty when absent.
	ContentType string
	// Authorization is the Authorization value, empty when absent.
	Authorization string
	// BodySM3 is the SM3 digest of the body bytes as sent: the base64 text
	// of the sealed body, or nothing.
	BodySM3 [MACSize]byte
}

// AppendRequestString appends the string that a request's X-JT-Signature
// signs to dst: the label JT-REQUEST-V1 and the fields of f, in the order
// of RequestFields, joined with "\n", with BodySM3 in lowercase hex and no
// newline at the end.
func AppendRequestString(dst []byte, f *RequestFields) []byte {
	dst = append(dst, requestLabel...)
	dst = appendLine(dst, f.SessionID)
	dst = appendLine(dst, f.Method)
	dst = appendLine(dst, f.Path)
	dst = appendLine(dst, f.Query)
	dst = appendLine(dst, f.Timestamp)
	dst = appendLine(dst, f.Nonce)
	dst = appendLine(dst, f.ContentType)
	dst = appendLine(dst, f.Authorization)
	dst = append(dst, '\n')
	return hex.AppendEncode(dst, f.BodySM3[:])
}

// ResponseFields are the parts of a response that its X-JT-Signature
// covers.
type ResponseFields struct {
	// SessionID is the session of the request.
	SessionID string
	// Status is the HTTP status code.
	Status int
	// RequestNonce is the X-JT-Nonce of the request, which binds the
	// response to it.
	RequestNonce string
	// Timestamp and Nonce are the response's X-JT-Timestamp and X-JT-Nonce.
	Timestamp string
	Nonce     string
	// ContentType is the response's X-JT-Content-Type, empty when absent.
	ContentType string
	// BodySM3 is the SM3 digest of the response body bytes as sent.
	BodySM3 [MACSize]byte
}

// AppendResponseString appends the string that a response's X-JT-Signature
// signs to dst. Its lines are the label JT-RESPONSE-V1 and the fields of f
// in the order of ResponseFields, joined with "\n" and without a newline at
// the end. Status is in decimal and BodySM3 in lowercase hex.
func AppendResponseString(dst []byte, f *ResponseFields) []byte {
	dst = append(dst, responseLabel...)
	dst = appendLine(dst, f.SessionID)
	dst = append(dst, '\n')
	dst = strconv.AppendInt(dst, int64(f.Status), 10)
	dst = appendLine(dst, f.RequestNonce)
	dst = appendLine(dst, f.Timestamp)
	dst = appendLine(dst, f.Nonce)
	dst = appendLine(dst, f.ContentType)
	dst = append(dst, '\n')
	return hex.AppendEncode(dst, f.BodySM3[:])
}

// SessionFields are the parts of a session-open exchange that the
// gateway's SM2 signature covers.
type SessionFields struct {
	// SessionID, ExpiresAt, Mode and KID are the session_id, expires_at,
	// mode and kid fields of the session-open response. KID names the key that signs.
	SessionID string
	ExpiresAt int64
	Mode      Mode
	KID       string
	// Timestamp and Nonce are the ts and nonce fields of the request.
	Timestamp int64
	Nonce     string
	// KeySM3 is the SM3 digest of the request's key field: the hex string
	// exactly as sent.
	KeySM3 [MACSize]byte
}

// AppendSessionString appends the string that the gateway signs with SM2
// when it opens a session. Its lines are the label JT-SESSION-V1 and the
// fields of f in the order of SessionFields, joined with "\n" and without a
// newline at the end. Numbers are in decimal and KeySM3 in lowercase hex.
func AppendSessionString(dst []byte, f *SessionFields) []byte {
	dst = append(dst, sessionLabel...)
	dst = appendLine(dst, f.SessionID)
	dst = append(dst, '\n')
	dst = strconv.AppendInt(dst, f.ExpiresAt, 10)
	dst = appendLine(dst, string(f.Mode))
	dst = appendLine(dst, f.KID)
	dst = append(dst, '\n')
	dst = strconv.AppendInt(dst, f.Timestamp, 10)
	dst = appendLine(dst, f.Nonce)
	dst = append(dst, '\n')
	return hex.AppendEncode(dst, f.KeySM3[:])
}

func appendLine(dst []byte, s string) []byte {
	dst = append(dst, '\n')
	return append(dst, s...)
}

// validHeaderText reports whether s contains only visible ASCII, spaces and
// tabs, so that it cannot add a line to a signed string.
func validHeaderText(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// QueryError reports a query string that cannot be put in canonical form.
type QueryError struct {
	// Offset is the byte offset of the bad percent escape.
	Offset int
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("envelope: invalid percent escape at byte %d of the query", e.Offset)
}

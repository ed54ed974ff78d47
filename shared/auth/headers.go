package auth

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/emmansun/gmsm/sm3"
)

// Headers of the signed identity that the gateway forwards to functions.
//
//	X-JT-Identity:           base64url, without padding, of the JSON object
//	                         {"sub": "...", "roles": ["..."], "channel": "...", "app": "..."}
//	X-JT-Identity-Time:      the signing time in Unix seconds, decimal
//	X-JT-Identity-Signature: lowercase hex of HMAC-SM3(identity secret,
//	                         method "\n" path "\n" time "\n" identity)
//
// method is the request method in upper case and path is the escaped URL
// path without the query, as it appears in the request line. time and
// identity are the header values exactly as sent.
const (
	IdentityHeader          = "X-JT-Identity"
	IdentityTimeHeader      = "X-JT-Identity-Time"
	IdentitySignatureHeader = "X-JT-Identity-Signature"
)

// Headers of the platform token that cron ticks, queue deliveries and other
// internal calls carry.
//
//	X-JT-Platform-Time:      the signing time in Unix seconds, decimal
//	X-JT-Platform-Signature: lowercase hex of HMAC-SM3(platform secret,
//	                         method "\n" path "\n" time)
const (
	PlatformTimeHeader      = "X-JT-Platform-Time"
	PlatformSignatureHeader = "X-JT-Platform-Signature"
)

// PlatformSubject is the subject of a caller with a valid platform token.
const PlatformSubject = "platform"

// MaxIdentityHeaderSize is the longest X-JT-Identity value in bytes.
const MaxIdentityHeaderSize = 2048

// DefaultMaxSkew is how far the signing time of identity headers and
// platform tokens may be from the verifier's clock, in either direction.
const DefaultMaxSkew = 60 * time.Second

// Errors of the verification functions. Middleware turns each of them into
// an anonymous request.
var (
	// ErrNoIdentity means the request carries none of the identity headers.
	ErrNoIdentity = errors.New("auth: no identity headers")
	// ErrInvalidIdentity wraps every reason to reject identity headers.
	ErrInvalidIdentity = errors.New("auth: invalid identity headers")
	// ErrNoPlatformToken means the request carries neither platform header.
	ErrNoPlatformToken = errors.New("auth: no platform token")
	// ErrInvalidPlatformToken wraps every reason to reject a platform token.
	ErrInvalidPlatformToken = errors.New("auth: invalid platform token")
)

// identityPayload is the JSON inside X-JT-Identity.
type identityPayload struct {
	Subject string `json:"sub"`
	Roles   []Role `json:"roles"`
	Channel string `json:"channel,omitempty"`
	App     string `json:"app,omitempty"`
}

// SignIdentity sets the identity headers on r, an outgoing request that the
// gateway forwards to a function, replacing any that r carries. It signs
// r.Method and r.URL's escaped path, so set both first. now is the signing
// time.
func SignIdentity(secret Secret, r *http.Request, id *Identity, now time.Time) error {
	if err := checkSecret(secret); err != nil {
		return err
	}
	if err := id.Validate(); err != nil {
		return err
	}

	roles := id.Roles
	if roles == nil {
		roles = []Role{}
	}
	payload, err := json.Marshal(identityPayload{Subject: id.Subject, Roles: roles, Channel: id.Channel, App: id.App})
	if err != nil {
		return fmt.Errorf("auth: encoding identity: %w", err)
	}
	encoded := base64.RawURLEncoding.EncodeToString(payload)
	if len(encoded) > MaxIdentityHeaderSize {
		return fmt.Errorf("auth: identity header has %d bytes; the maximum is %d", len(encoded), MaxIdentityHeaderSize)
	}

	ts := strconv.FormatInt(now.Unix(), 10)
	mac := identityMAC(secret, requestMethod(r), outgoingPath(r), ts, encoded)
	r.Header.Set(IdentityHeader, encoded)
	r.Header.Set(IdentityTimeHeader, ts)
	r.Header.Set(IdentitySignatureHeader, hex.EncodeToString(mac))
	return nil
}

// VerifyIdentity checks the identity headers of r, an incoming request, and
// returns the identity they carry. The signing time must be within maxSkew
// of now. It returns ErrNoIdentity when r carries none of the headers. It
// returns an error wrapping ErrInvalidIdentity for a missing or repeated
// header, a bad signature, a time outside the window, or an identity that
// does not decode or fails [Identity.Validate].
func VerifyIdentity(secret Secret, r *http.Request, now time.Time, maxSkew time.Duration) (*Identity, error) {
	if !hasAny(r.Header, identityHeaders...) {
		return nil, ErrNoIdentity
	}
	encoded, okID := singleHeader(r.Header, IdentityHeader)
	ts, okTime := singleHeader(r.Header, IdentityTimeHeader)
	sig, okSig := singleHeader(r.Header, IdentitySignatureHeader)
	if !okID || !okTime || !okSig {
		return nil, fmt.Errorf("%w: each of %s, %s and %s must appear once", ErrInvalidIdentity, IdentityHeader, IdentityTimeHeader, IdentitySignatureHeader)
	}
	if err := checkSecret(secret); err != nil {
		return nil, fmt.Errorf("%w: no identity secret is configured", ErrInvalidIdentity)
	}
	if len(encoded) > MaxIdentityHeaderSize {
		return nil, fmt.Errorf("%w: %s has %d bytes; the maximum is %d", ErrInvalidIdentity, IdentityHeader, len(encoded), MaxIdentityHeaderSize)
	}

	// Check the MAC before parsing anything else, so that only the
	// gateway's own output reaches the JSON decoder.
	want := identityMAC(secret, requestMethod(r), incomingPath(r), ts, encoded)
	if !equalHexMAC(sig, want) {
		return nil, fmt.Errorf("%w: signature does not match", ErrInvalidIdentity)
	}
	if err := checkTime(ts, now, maxSkew); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidIdentity, err)
	}
	id, err := parseIdentity(encoded)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidIdentity, err)
	}
	return id, nil
}

// SignPlatform sets the platform token headers on r, an outgoing internal
// request, replacing any that r carries. It signs r.Method and r.URL's
// escaped path, so set both first. now is the signing time.
func SignPlatform(secret Secret, r *http.Request, now time.Time) error {
	if err := checkSecret(secret); err != nil {
		return err
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	mac := platformMAC(secret, requestMethod(r), outgoingPath(r), ts)
	r.Header.Set(PlatformTimeHeader, ts)
	r.Header.Set(PlatformSignatureHeader, hex.EncodeToString(mac))
	return nil
}

// VerifyPlatform checks the platform token of r, an incoming request. The
// signing time must be within maxSkew of now. It returns ErrNoPlatformToken
// when r carries neither header, and an error wrapping
// ErrInvalidPlatformToken for anything else that is wrong.
func VerifyPlatform(secret Secret, r *http.Request, now time.Time, maxSkew time.Duration) error {
	if !hasAny(r.Header, platformHeaders...) {
		return ErrNoPlatformToken
	}
	ts, okTime := singleHeader(r.Header, PlatformTimeHeader)
	sig, okSig := singleHeader(r.Header, PlatformSignatureHeader)
	if !okTime || !okSig {
		return fmt.Errorf("%w: each of %s and %s must appear once", ErrInvalidPlatformToken, PlatformTimeHeader, PlatformSignatureHeader)
	}
	if err := checkSecret(secret); err != nil {
		return fmt.Errorf("%w: no platform secret is configured", ErrInvalidPlatformToken)
	}

	want := platformMAC(secret, requestMethod(r), incomingPath(r), ts)
	if !equalHexMAC(sig, want) {
		return fmt.Errorf("%w: signature does not match", ErrInvalidPlatformToken)
	}
	if err := checkTime(ts, now, maxSkew); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPlatformToken, err)
	}
	return nil
}

// identityHeaders and platformHeaders are removed from every request that
// Middleware passes on, so handlers can only learn the caller from the
// request context.
var (
	identityHeaders = []string{IdentityHeader, IdentityTimeHeader, IdentitySignatureHeader}
	platformHeaders = []string{PlatformTimeHeader, PlatformSignatureHeader}
)

// credentialHeaders lists, in canonical form, every header that can carry a
// credential: the signed identity, the platform token and Authorization.
var credentialHeaders = func() []string {
	var names []string
	for _, n := range append(append([]string{"Authorization"}, identityHeaders...), platformHeaders...) {
		names = append(names, textproto.CanonicalMIMEHeaderKey(n))
	}
	return names
}()

func hasCredentialHeaders(h http.Header) bool {
	for _, name := range credentialHeaders {
		if _, ok := h[name]; ok {
			return true
		}
	}
	return false
}

func stripHeaders(h http.Header) {
	for _, name := range identityHeaders {
		h.Del(name)
	}
	for _, name := range platformHeaders {
		h.Del(name)
	}
}

// newHMAC returns an HMAC-SM3 hash keyed with secret, the same as
// smcrypto.NewHMAC. It uses gmsm's sm3 directly, so functions that only
// verify these headers, such as zones, do not link smcrypto's SM2, SM4 and
// X.509 code.
func newHMAC(secret Secret) hash.Hash {
	return hmac.New(sm3.New, secret)
}

func identityMAC(secret Secret, method, path, ts, identity string) []byte {
	h := newHMAC(secret)
	h.Write([]byte(method + "\n" + path + "\n" + ts + "\n" + identity))
	return h.Sum(nil)
}

func platformMAC(secret Secret, method, path, ts string) []byte {
	h := newHMAC(secret)
	h.Write([]byte(method + "\n" + path + "\n" + ts))
	return h.Sum(nil)
}

// equalHexMAC reports whether sig is the hex encoding of want. The
// comparison of the decoded bytes runs in constant time.
func equalHexMAC(sig string, want []byte) bool {
	if len(sig) != 2*len(want) {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	return hmac.Equal(got, want)
}

// maxTimeDigits bounds the time header: 10 digits cover Unix seconds until
// the year 2286.
const maxTimeDigits = 12

// checkTime parses ts, decimal Unix seconds without sign or leading zeros,
// and checks that it is within maxSkew of now.
func checkTime(ts string, now time.Time, maxSkew time.Duration) error {
	if ts == "" || len(ts) > maxTimeDigits || (len(ts) > 1 && ts[0] == '0') || !allBytes(ts, func(c byte) bool { return c >= '0' && c <= '9' }) {
		return fmt.Errorf("time %q is not decimal Unix seconds", ts)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("time %q is not decimal Unix seconds", ts)
	}
	skew := now.Sub(time.Unix(sec, 0))
	if skew > maxSkew || skew < -maxSkew {
		return fmt.Errorf("signing time %d is %s from the verifier's clock; the maximum is %s", sec, skew.Round(time.Second), maxSkew)
	}
	return nil
}

// parseIdentity decodes the X-JT-Identity value and validates the identity.
func parseIdentity(encoded string) (*Identity, error) {
	if len(encoded) > MaxIdentityHeaderSize {
		return nil, fmt.Errorf("identity has %d bytes; the maximum is %d", len(encoded), MaxIdentityHeaderSize)
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(encoded)
	if err != nil {
		return nil, errors.New("identity is not unpadded base64url")
	}

	var p identityPayload
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("identity is not the expected JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("identity has data after the JSON object")
	}

	id := &Identity{Subject: p.Subject, Roles: p.Roles, Channel: p.Channel, App: p.App}
	if err := id.Validate(); err != nil {
		return nil, err
	}
	return id, nil
}

// singleHeader returns the only value of the header name, and false when it
// is absent or repeated.
func singleHeader(h http.Header, name string) (string, bool) {
	values := h.Values(name)
	if len(values) != 1 {
		return "", false
	}
	return values[0], true
}

func hasAny(h http.Header, names ...string) bool {
	for _, name := range names {
		if len(h.Values(name)) > 0 {
			return true
		}
	}
	return false
}

func requestMethod(r *http.Request) string {
	if r.Method == "" {
		return http.MethodGet
	}
	return r.Method
}

// outgoingPath returns the path that an HTTP client sends for r.
func outgoingPath(r *http.Request) string {
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// incomingPath returns the path of the request line of r, an incoming
// request. It reads RequestURI, which the server and the trigger adapters
// set and http.StripPrefix leaves alone, so a function mounted under a
// prefix (/function/<name> in localdev) verifies the path the sender
// signed. Requests built without RequestURI fall back to r.URL.
func incomingPath(r *http.Request) string {
	uri := r.RequestURI
	if uri == "" {
		return outgoingPath(r)
	}
	if strings.HasPrefix(uri, "/") {
		path, _, _ := strings.Cut(uri, "?")
		return path
	}
	// An absolute-form request target, as sent to a proxy.
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return uri
	}
	return outgoingPath(&http.Request{URL: u})
}

// Package client is a Go client of the Jingtong transport envelope: it
// opens a session with the gateway, verifying the gateway's SM2 signature
// against a pinned public key, then signs and encrypts each request and
// verifies and decrypts each response. A Client is an http.RoundTripper, so
// callers use it through http.Client:
//
//	c, err := client.New(client.Config{
//		OpenURL:    "https://gw.example.cn/api/gateway/session",
//		KeyID:      "gw-2026",
//		PublicKeys: map[string]*smcrypto.PublicKey{"gw-2026": pub},
//	})
//	resp, err := c.HTTPClient().Post(url, "application/json", body)
//
// The response that http.Client returns is the verified plaintext
// response. An error response that the gateway could not protect, because
// the request never reached a session, comes back as a *GatewayError from
// the request instead.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/shared/smcrypto"
)

// Defaults of Config.
const (
	// DefaultRenewBefore is how long before its expiry a session is
	// replaced by a new one.
	DefaultRenewBefore = time.Minute
	// DefaultMaxResponseBody is the largest response body read, in bytes as
	// sent (16 MiB).
	DefaultMaxResponseBody = 16 << 20
	// maxErrorBody bounds the unprotected error bodies read, in bytes.
	maxErrorBody = 64 << 10
)

// Errors that callers branch on.
var (
	// ErrInvalidResponse is returned, wrapped with the reason, for a
	// response that fails verification: a missing or wrong signature, a
	// stale timestamp or a body that does not decrypt.
	ErrInvalidResponse = errors.New("envelope client: response failed verification")

	// ErrInvalidSession is returned, wrapped with the reason, when the
	// response to a session-open request fails verification.
	ErrInvalidSession = errors.New("envelope client: session-open response failed verification")
)

// GatewayError is an error response that the gateway sent without
// protection: the request was rejected before it reached a session, such as
// SESSION_NOT_FOUND or MALFORMED_HEADER. Nothing authenticates it, so treat
// it as a hint only.
type GatewayError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code, Message and RequestID are from the error body, empty when the
	// body was not the gateway's error JSON.
	Code      string
	Message   string
	RequestID string
}

func (e *GatewayError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("envelope client: gateway returned HTTP status %d", e.StatusCode)
	}
	return fmt.Sprintf("envelope client: gateway returned HTTP status %d with code %s: %s", e.StatusCode, e.Code, e.Message)
}

// Config configures a Client.
type Config struct {
	// OpenURL is the absolute URL of the gateway's session-open endpoint.
	// Required.
	OpenURL string
	// KeyID is the ID of the gateway key to encrypt the key material to.
	// Required, and must be in PublicKeys.
	KeyID string
	// PublicKeys are the pinned gateway public keys by key ID. The response
	// to a session-open request must be signed by one of them. Required.
	PublicKeys map[string]*smcrypto.PublicKey
	// Modes are the session modes to offer, in order of preference. The
	// default is envelope.DefaultModes.
	Modes []envelope.Mode
	// Transport sends the protected requests. The default is
	// http.DefaultTransport.
	Transport http.RoundTripper
	// Now is the clock. The default is time.Now.
	Now func() time.Time
	// Rand supplies key material, nonces, IVs and SM2 randomness. It must be
	// safe for concurrent use. The default is crypto/rand.Reader.
	Rand io.Reader
	// Skew is how far a response timestamp may be from Now. The default is
	// envelope.DefaultSkew.
	Skew time.Duration
	// RenewBefore is how long before expiry a session is replaced. The
	// default is DefaultRenewBefore.
	RenewBefore time.Duration
	// MaxResponseBody is the largest response body read, in bytes as sent.
	// The default is DefaultMaxResponseBody.
	MaxResponseBody int64
}

// Session is a session the client opened.
type Session struct {
	// ID is the session ID.
	ID envelope.SessionID
	// Mode is the mode the gateway chose.
	Mode envelope.Mode
	// KID is the ID of the gateway key that signed the session.
	KID string
	// ExpiresAt is when the gateway deletes the session.
	ExpiresAt time.Time

	keys *envelope.Keys
}

// Client protects requests to the gateway. It opens a session on first use,
// replaces it shortly before it expires, and opens a new one and retries
// once when the gateway reports SESSION_NOT_FOUND. It is safe for
// concurrent use.
type Client struct {
	cfg       Config
	encryptTo *smcrypto.PublicKey
	http      *http.Client // for session-open requests

	mu      sync.Mutex
	session *Session
}

var _ http.RoundTripper = (*Client)(nil)

// New returns a Client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.OpenURL == "" {
		return nil, errors.New("envelope client: OpenURL is required")
	}
	pub := cfg.PublicKeys[cfg.KeyID]
	if pub == nil {
		return nil, fmt.Errorf("envelope client: key ID %q is not among the pinned public keys", cfg.KeyID)
	}
	cfg.PublicKeys = maps.Clone(cfg.PublicKeys)

	// Fill in the defaults.
	if len(cfg.Modes) == 0 {
		cfg.Modes = envelope.DefaultModes
	}
	cfg.Modes = slices.Clone(cfg.Modes)
	if cfg.Transport == nil {
		cfg.Transport = http.DefaultTransport
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Skew <= 0 {
		cfg.Skew = envelope.DefaultSkew
	}
	if cfg.RenewBefore <= 0 {
		cfg.RenewBefore = DefaultRenewBefore
	}
	if cfg.MaxResponseBody <= 0 {
		cfg.MaxResponseBody = DefaultMaxResponseBody
	}

	return &Client{
		cfg:       cfg,
		encryptTo: pub,
		http:      &http.Client{Transport: cfg.Transport, CheckRedirect: noRedirects},
	}, nil
}

func noRedirects(*http.Request, []*http.Request) error {
	return http.ErrUseLastResponse
}

// HTTPClient returns an http.Client that sends every request through c.
func (c *Client) HTTPClient() *http.Client {
	return &http.Client{Transport: c, CheckRedirect: noRedirects}
}

// Session returns the current session, opening one when there is none or
// it expires within RenewBefore.
func (c *Client) Session(ctx context.Context) (*Session, error) {
	c.mu.Lock()
	sess := c.session
	c.mu.Unlock()
	if sess != nil && c.cfg.Now().Add(c.cfg.RenewBefore).Before(sess.ExpiresAt) {
		return sess, nil
	}
	return c.Open(ctx)
}

// forget drops sess if it is still the current session.
func (c *Client) forget(sess *Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session == sess {
		c.session = nil
	}
}

// Open opens a new session and makes it the current one. It encrypts 32
// random bytes of key material to the gateway key KeyID in C1C3C2 without
// the 04 byte, as sm-crypto does, and verifies the gateway's signature on
// the response.
func (c *Client) Open(ctx context.Context) (*Session, error) {
	secret := make([]byte, envelope.SecretSize)
	defer clear(secret)
	if _, err := io.ReadFull(c.cfg.Rand, secret); err != nil {
		return nil, fmt.Errorf("envelope client: reading key material: %w", err)
	}
	ciphertext, err := smcrypto.Encrypt(c.cfg.Rand, c.encryptTo, secret, &smcrypto.EncrypterOpts{OmitPrefix: true})
	if err != nil {
		return nil, fmt.Errorf("envelope client: encrypting key material: %w", err)
	}
	var nonce envelope.Nonce
	if _, err := io.ReadFull(c.cfg.Rand, nonce[:]); err != nil {
		return nil, fmt.Errorf("envelope client: reading nonce: %w", err)
	}

	req := envelope.OpenRequest{
		KID:   c.cfg.KeyID,
		Key:   hex.EncodeToString(ciphertext),
		Modes: c.cfg.Modes,
		TS:    c.cfg.Now().UnixMilli(),
		Nonce: nonce.String(),
	}
	opened, err := c.postOpen(ctx, &req)
	if err != nil {
		return nil, err
	}
	sess, err := c.verifyOpen(&req, opened, secret)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	c.session = sess
	c.mu.Unlock()
	return sess, nil
}

// postOpen sends a session-open request and decodes the response.
func (c *Client) postOpen(ctx context.Context, req *envelope.OpenRequest) (*envelope.OpenResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("envelope client: encoding session-open request: %w", err)
	}
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.OpenURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("envelope client: building session-open request: %w", err)
	}
	httpReq.Header.Set("Content-Type", "application/json")

	resp, err := c.http.Do(httpReq)
	if err != nil {
		return nil, fmt.Errorf("envelope client: opening session: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, gatewayError(resp)
	}

	var opened envelope.OpenResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(&opened); err != nil {
		return nil, fmt.Errorf("%w: decoding the response: %w", ErrInvalidSession, err)
	}
	return &opened, nil
}

// verifyOpen checks the gateway's response to req and derives the session
// keys.
func (c *Client) verifyOpen(req *envelope.OpenRequest, opened *envelope.OpenResponse, secret []byte) (*Session, error) {
	pub := c.cfg.PublicKeys[opened.KID]
	if pub == nil {
		return nil, fmt.Errorf("%w: signed by key %q, which is not pinned", ErrInvalidSession, opened.KID)
	}
	sig, err := hex.DecodeString(opened.Sig)
	if err != nil {
		return nil, fmt.Errorf("%w: signature is not hex", ErrInvalidSession)
	}
	fields := envelope.SessionFields{
		SessionID: opened.SessionID,
		ExpiresAt: opened.ExpiresAt,
		Mode:      opened.Mode,
		KID:       opened.KID,
		Timestamp: req.TS,
		Nonce:     req.Nonce,
		KeySM3:    smcrypto.SumSM3([]byte(req.Key)),
	}
	if !smcrypto.VerifyASN1(pub, envelope.AppendSessionString(nil, &fields), sig, nil) {
		return nil, fmt.Errorf("%w: wrong SM2 signature", ErrInvalidSession)
	}

	// The signature makes these trustworthy; check that they make sense.
	if !slices.Contains(req.Modes, opened.Mode) {
		return nil, fmt.Errorf("%w: mode %q was not offered", ErrInvalidSession, opened.Mode)
	}
	id, err := envelope.ParseSessionID(opened.SessionID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSession, err)
	}
	keys, err := envelope.DeriveKeys(secret, id, opened.Mode)
	if err != nil {
		return nil, err
	}
	return &Session{ID: id, Mode: opened.Mode, KID: opened.KID, ExpiresAt: time.UnixMilli(opened.ExpiresAt), keys: keys}, nil
}

// gatewayError reads an unprotected error response.
func gatewayError(resp *http.Response) *GatewayError {
	gwErr := &GatewayError{StatusCode: resp.StatusCode}
	var body struct {
		Error struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"request_id"`
		} `json:"error"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(&body) == nil {
		gwErr.Code = body.Error.Code
		gwErr.Message = body.Error.Message
		gwErr.RequestID = body.Error.RequestID
	}
	return gwErr
}

package client

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/shared/smcrypto"
)

// RoundTrip protects req, sends it and returns the verified plaintext
// response. It reads and closes req.Body and does not modify req. When the
// gateway responds with SESSION_NOT_FOUND, it opens a new session and
// sends the request once more.
func (c *Client) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readRequestBody(req)
	if err != nil {
		return nil, err
	}

	for attempt := 0; ; attempt++ {
		sess, err := c.Session(req.Context())
		if err != nil {
			return nil, err
		}
		resp, err := c.send(req, sess, body)
		var gwErr *GatewayError
		if attempt == 0 && errors.As(err, &gwErr) && gwErr.Code == envelope.CodeSessionNotFound.ID {
			c.forget(sess)
			continue
		}
		return resp, err
	}
}

func readRequestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("envelope client: reading request body: %w", err)
	}
	return body, nil
}

// send protects one request in sess, sends it and verifies the response.
func (c *Client) send(req *http.Request, sess *Session, body []byte) (*http.Response, error) {
	out, nonce, err := c.protect(req.Context(), req, sess, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.cfg.Transport.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	return c.verifyResponse(resp, sess, nonce)
}

// protect returns the protected form of req with body in sess, and the
// request nonce in hex.
func (c *Client) protect(ctx context.Context, req *http.Request, sess *Session, body []byte) (*http.Request, string, error) {
	var nonce envelope.Nonce
	if _, err := io.ReadFull(c.cfg.Rand, nonce[:]); err != nil {
		return nil, "", fmt.Errorf("envelope client: reading nonce: %w", err)
	}
	nonceHex := nonce.String()
	timestamp := envelope.FormatTimestamp(c.cfg.Now())

	var wire []byte
	if len(body) > 0 {
		sealed, err := sess.keys.Request.Seal(nil, c.cfg.Rand, body, []byte(nonceHex))
		if err != nil {
			return nil, "", fmt.Errorf("envelope client: sealing request body: %w", err)
		}
		wire = envelope.EncodeBody(nil, sealed)
	}

	query, err := envelope.CanonicalQuery(req.URL.RawQuery)
	if err != nil {
		return nil, "", fmt.Errorf("envelope client: %w", err)
	}
	contentType := req.Header.Get("Content-Type")
	fields := envelope.RequestFields{
		SessionID:     sess.ID.String(),
		Method:        req.Method,
		Path:          req.URL.EscapedPath(),
		Query:         query,
		Timestamp:     timestamp,
		Nonce:         nonceHex,
		ContentType:   contentType,
		Authorization: req.Header.Get("Authorization"),
		BodySM3:       smcrypto.SumSM3(wire),
	}
	sig := sess.keys.Request.MAC(envelope.AppendRequestString(nil, &fields))

	out := req.Clone(ctx)
	h := out.Header
	h.Set(envelope.HeaderSession, fields.SessionID)
	h.Set(envelope.HeaderTimestamp, timestamp)
	h.Set(envelope.HeaderNonce, nonceHex)
	h.Set(envelope.HeaderSignature, hex.EncodeToString(sig[:]))
	h.Del("Content-Type")
	h.Del(envelope.HeaderContentType)
	if contentType != "" {
		h.Set(envelope.HeaderContentType, contentType)
	}
	if len(wire) > 0 {
		h.Set("Content-Type", envelope.ContentType)
	}
	out.Body = io.NopCloser(bytes.NewReader(wire))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(wire)), nil }
	out.ContentLength = int64(len(wire))
	if len(wire) == 0 {
		out.Body = http.NoBody
		out.GetBody = nil
	}
	return out, nonceHex, nil
}

// verifyResponse checks a response to the request with nonce requestNonce
// in sess and returns its plaintext form. It closes resp.Body.
func (c *Client) verifyResponse(resp *http.Response, sess *Session, requestNonce string) (*http.Response, error) {
	defer resp.Body.Close()
	h := resp.Header
	if len(h.Values(envelope.HeaderSignature)) == 0 {
		if resp.StatusCode >= 400 {
			return nil, gatewayError(resp)
		}
		return nil, fmt.Errorf("%w: the response has no %s header", ErrInvalidResponse, envelope.HeaderSignature)
	}

	timestamp, nonce, sig, err := responseHeaders(h)
	if err != nil {
		return nil, err
	}
	wire, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBody+1))
	if err != nil {
		return nil, fmt.Errorf("envelope client: reading response body: %w", err)
	}
	if int64(len(wire)) > c.cfg.MaxResponseBody {
		return nil, fmt.Errorf("envelope client: response body exceeds %d bytes", c.cfg.MaxResponseBody)
	}

	contentType := h.Get(envelope.HeaderContentType)
	fields := envelope.ResponseFields{
		SessionID:    sess.ID.String(),
		Status:       resp.StatusCode,
		RequestNonce: requestNonce,
		Timestamp:    timestamp,
		Nonce:        nonce,
		ContentType:  contentType,
		BodySM3:      smcrypto.SumSM3(wire),
	}
	if !sess.keys.Response.VerifyMAC(envelope.AppendResponseString(nil, &fields), sig[:]) {
		return nil, fmt.Errorf("%w: wrong signature", ErrInvalidResponse)
	}
	ts, _ := envelope.ParseTimestamp(timestamp)
	if d := ts.Sub(c.cfg.Now()); d > c.cfg.Skew || d < -c.cfg.Skew {
		return nil, fmt.Errorf("%w: timestamp %s is more than %v from the local clock", ErrInvalidResponse, timestamp, c.cfg.Skew)
	}

	var plaintext []byte
	if len(wire) > 0 {
		if !envelope.IsEnvelopeType(h.Get("Content-Type")) {
			return nil, fmt.Errorf("%w: Content-Type is %q", ErrInvalidResponse, h.Get("Content-Type"))
		}
		sealed, err := envelope.DecodeBody(nil, wire)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidResponse, err)
		}
		plaintext, err = sess.keys.Response.Open(nil, sealed, []byte(nonce))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidResponse, err)
		}
	}

	out := *resp
	out.Header = h.Clone()
	for _, key := range []string{envelope.HeaderTimestamp, envelope.HeaderNonce, envelope.HeaderSignature, envelope.HeaderContentType} {
		out.Header.Del(key)
	}
	out.Header.Del("Content-Type")
	if contentType != "" {
		out.Header.Set("Content-Type", contentType)
	}
	out.Header.Set("Content-Length", strconv.Itoa(len(plaintext)))
	out.ContentLength = int64(len(plaintext))
	out.Body = io.NopCloser(bytes.NewReader(plaintext))
	out.Uncompressed = false
	return &out, nil
}

// responseHeaders returns the X-JT-Timestamp, X-JT-Nonce and
// X-JT-Signature of a protected response.
func responseHeaders(h http.Header) (timestamp, nonce string, sig [envelope.MACSize]byte, err error) {
	get := func(key string) (string, error) {
		values := h.Values(key)
		if len(values) != 1 {
			return "", fmt.Errorf("%w: the response has %d %s headers; expected 1", ErrInvalidResponse, len(values), key)
		}
		return values[0], nil
	}
	if timestamp, err = get(envelope.HeaderTimestamp); err != nil {
		return
	}
	if _, perr := envelope.ParseTimestamp(timestamp); perr != nil {
		err = fmt.Errorf("%w: %w", ErrInvalidResponse, perr)
		return
	}
	if nonce, err = get(envelope.HeaderNonce); err != nil {
		return
	}
	if _, perr := envelope.ParseNonce(nonce); perr != nil {
		err = fmt.Errorf("%w: %w", ErrInvalidResponse, perr)
		return
	}
	sigHex, err := get(envelope.HeaderSignature)
	if err != nil {
		return
	}
	if sig, err = envelope.ParseSignature(sigHex); err != nil {
		err = fmt.Errorf("%w: %w", ErrInvalidResponse, err)
	}
	return
}

// PreparedRequest is a protected request built ahead of time, for load
// generators: its nonce and timestamp are fixed, so it can be sent once,
// within the gateway's skew window of when it was built.
type PreparedRequest struct {
	// Method, URL, Header and Body make up the request as sent.
	Method string
	URL    string
	Header http.Header
	Body   []byte

	client  *Client
	session *Session
	nonce   string
}

// NewRequest returns the prepared request as an *http.Request with ctx.
// The request shares p.Header.
func (p *PreparedRequest) NewRequest(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, p.Method, p.URL, bytes.NewReader(p.Body))
	if err != nil {
		return nil, err
	}
	req.Header = p.Header
	return req, nil
}

// VerifyResponse checks the response to the prepared request and returns
// its plaintext form, as RoundTrip does. It closes resp.Body.
func (p *PreparedRequest) VerifyResponse(resp *http.Response) (*http.Response, error) {
	return p.client.verifyResponse(resp, p.session, p.nonce)
}

// PrecomputeRequests builds n protected requests in the current session,
// each with its own nonce and signature, from one plaintext request: method,
// an absolute URL, header (which may be nil; Content-Type and Authorization
// in it are protected) and body. A load generator builds them before the
// clock starts; they must be sent within the gateway's skew window.
func (c *Client) PrecomputeRequests(ctx context.Context, n int, method, url string, header http.Header, body []byte) ([]*PreparedRequest, error) {
	sess, err := c.Session(ctx)
	if err != nil {
		return nil, err
	}
	template, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, fmt.Errorf("envelope client: building request: %w", err)
	}
	if header != nil {
		template.Header = header.Clone()
	}

	prepared := make([]*PreparedRequest, n)
	for i := range prepared {
		out, nonce, err := c.protect(ctx, template, sess, body)
		if err != nil {
			return nil, err
		}
		wire, err := io.ReadAll(out.Body)
		if err != nil {
			return nil, err
		}
		prepared[i] = &PreparedRequest{
			Method: method, URL: url, Header: out.Header, Body: wire,
			client: c, session: sess, nonce: nonce,
		}
	}
	return prepared, nil
}

package envelope

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/smcrypto"
)

// maxErrorResponse bounds the error response that replaces a response
// longer than MaxResponseBody.
const maxErrorResponse = 4 << 10

var (
	errNoRequestState   = errors.New("envelope: WrapResponse needs the request that Unwrap returned")
	errResponseTooLarge = errors.New("envelope: upstream response body exceeds MaxResponseBody")
	errFinishedTwice    = errors.New("envelope: finish of WrapResponse called twice")
)

// responseBuffer is the http.ResponseWriter that WrapResponse hands to the
// upstream handler: it keeps the status, headers and body until finish.
type responseBuffer struct {
	header   http.Header
	status   int
	body     []byte
	limit    int64
	tooLarge bool
}

var responsePool = sync.Pool{New: func() any {
	return &responseBuffer{header: make(http.Header)}
}}

func (b *responseBuffer) Header() http.Header {
	return b.header
}

// WriteHeader records the first final status code; informational codes
// (1xx) are dropped, because the protected response is sent as a whole.
func (b *responseBuffer) WriteHeader(code int) {
	if b.status != 0 || code < 200 {
		return
	}
	b.status = code
}

// Write appends p to the body. Past the limit it keeps nothing more and
// returns an error, and finish sends a protected 500 instead.
func (b *responseBuffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if b.tooLarge || int64(len(b.body)+len(p)) > b.limit {
		b.tooLarge = true
		return 0, errResponseTooLarge
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

func (b *responseBuffer) reset() {
	clear(b.header)
	b.status = 0
	b.body = b.body[:0]
	b.tooLarge = false
}

// WrapResponse returns a ResponseWriter that buffers the upstream's
// plaintext response, and a finish function that seals the body with the
// session's response keys, signs the response and writes it to w. r must
// be the request that Unwrap returned, whose nonce the response signature
// covers. Call finish once, after the upstream handler returns. finish
// returns the ResponseWriter's buffers to a pool, so the ResponseWriter
// must not be used after it, and a second call returns an error.
//
// The protected response keeps the upstream's status and headers, with
// these changes. X-JT-* headers from the upstream are dropped. The
// upstream's Content-Type moves to X-JT-Content-Type, and Content-Type
// becomes the envelope type for a non-empty body. Cache-Control is set to
// no-store, because a response bound to one request must not be served from
// a cache. A response with status 204 or 304 is sent without a body. The
// signature covers the status, the content type and the body, not the other
// headers.
func (s *Server) WrapResponse(w http.ResponseWriter, r *http.Request, sess *Session) (http.ResponseWriter, func() error) {
	rb := responsePool.Get().(*responseBuffer)
	rb.limit = s.maxResponseBody
	st, _ := r.Context().Value(contextKey{}).(*requestState)

	finished := false
	finish := func() error {
		if finished {
			return errFinishedTwice
		}
		finished = true
		defer func() {
			rb.reset()
			if cap(rb.body) <= maxPooledBuffer {
				responsePool.Put(rb)
			}
		}()
		if st == nil || sess == nil || st.session.ID != sess.ID {
			httpx.WriteError(w, r, nil, httpx.Wrap(httpx.CodeInternal, errNoRequestState))
			return errNoRequestState
		}
		if rb.tooLarge {
			// Replace the response with an error, which may itself be longer
			// than a small MaxResponseBody.
			rb.reset()
			rb.limit = maxErrorResponse
			httpx.WriteError(rb, r, nil, httpx.Wrap(httpx.CodeInternal, errResponseTooLarge))
			if err := s.writeProtected(w, r, sess, st, rb); err != nil {
				return err
			}
			return errResponseTooLarge
		}
		return s.writeProtected(w, r, sess, st, rb)
	}
	return rb, finish
}

// writeProtected seals, signs and writes the buffered response rb.
func (s *Server) writeProtected(w http.ResponseWriter, r *http.Request, sess *Session, st *requestState, rb *responseBuffer) error {
	status := rb.status
	if status == 0 {
		status = http.StatusOK
	}
	plaintext := rb.body
	if !bodyAllowed(status) {
		plaintext = nil
	}
	contentType := ""
	if values := rb.header["Content-Type"]; len(values) > 0 {
		contentType = values[0]
	}
	if contentType == "" && len(plaintext) > 0 {
		// What net/http would send for the plaintext response.
		contentType = http.DetectContentType(plaintext)
	}

	buf := getBuffer()
	defer putBuffer(buf)
	if _, err := io.ReadFull(s.rand, buf.nonce[:]); err != nil {
		httpx.WriteError(w, r, nil, httpx.Wrap(httpx.CodeInternal, err))
		return fmt.Errorf("envelope: reading response nonce: %w", err)
	}

	// The timestamp and nonce share one string, and the signature and
	// length another, so that the header values cost two allocations.
	text := strconv.AppendInt(buf.text[:0], s.now().UnixMilli(), 10)
	tsEnd := len(text)
	text = hex.AppendEncode(text, buf.nonce[:])
	head := string(text)
	timestamp, nonce := head[:tsEnd], head[tsEnd:]

	var wire []byte
	if len(plaintext) > 0 {
		sealed, err := sess.keys.Response.Seal(buf.sealed[:0], s.rand, plaintext, text[tsEnd:])
		buf.sealed = sealed
		if err != nil {
			httpx.WriteError(w, r, nil, httpx.Wrap(httpx.CodeInternal, err))
			return fmt.Errorf("envelope: sealing response: %w", err)
		}
		wire = EncodeBody(buf.body[:0], sealed)
		buf.body = wire
	}

	fields := ResponseFields{
		SessionID:    st.sessionID,
		Status:       status,
		RequestNonce: st.nonce,
		Timestamp:    timestamp,
		Nonce:        nonce,
		ContentType:  contentType,
		BodySM3:      smcrypto.SumSM3(wire),
	}
	buf.sealed = AppendResponseString(buf.sealed[:0], &fields)
	sig := sess.keys.Response.MAC(buf.sealed)
	text = hex.AppendEncode(text[:0], sig[:])
	text = strconv.AppendInt(text, int64(len(wire)), 10)
	buf.text = text
	tail := string(text)

	h := w.Header()
	copyUpstreamHeaders(h, rb.header)
	slots := make([]string, 7)
	setHeader(h, HeaderTimestamp, slots[0:1:1], timestamp)
	setHeader(h, HeaderNonce, slots[1:2:2], nonce)
	setHeader(h, HeaderSignature, slots[2:3:3], tail[:2*MACSize])
	setHeader(h, "Content-Length", slots[3:4:4], tail[2*MACSize:])
	setHeader(h, "Cache-Control", slots[4:5:5], "no-store")
	if len(wire) > 0 {
		setHeader(h, "Content-Type", slots[5:6:6], ContentType)
	}
	if contentType != "" {
		setHeader(h, HeaderContentType, slots[6:7:7], contentType)
	}

	w.WriteHeader(status)
	if len(wire) > 0 {
		if _, err := w.Write(wire); err != nil {
			return fmt.Errorf("envelope: writing response: %w", err)
		}
	}
	return nil
}

func setHeader(h http.Header, key string, slot []string, value string) {
	slot[0] = value
	h[key] = slot
}

// copyUpstreamHeaders copies the upstream's headers to h, except those that
// the protected response sets itself and Content-Encoding, which would make
// the client's HTTP stack decode the sealed body.
//
// NOTE: protocol version 1 has no header for the plaintext's content coding,
// so an upstream that compresses although Unwrap removed Accept-Encoding
// sends its client compressed plaintext without saying so.
func copyUpstreamHeaders(h, upstream http.Header) {
	for key, values := range upstream {
		switch {
		case key == "Content-Type", key == "Content-Length", key == "Cache-Control",
			key == "Content-Encoding", strings.HasPrefix(key, "X-Jt-"):
			continue
		}
		h[key] = values
	}
	// An upstream that sets no Content-Type must not leave one from an
	// earlier handler.
	delete(h, "Content-Type")
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified
}

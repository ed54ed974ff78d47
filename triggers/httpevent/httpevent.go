// Package httpevent contains what the Lambda and SCF adapters share when they
// serve an http.Handler from a JSON platform event: an in-memory
// ResponseWriter, body encoding for JSON events, header folding and path
// handling.
//
// The ResponseWriter follows the net/http server wherever a buffered response
// can:
//
//   - The first WriteHeader or Write fixes the header.
//   - 1xx codes other than 101 are informational and not kept.
//   - 204 and 304 responses and responses to HEAD requests carry no body.
//   - A missing Content-Type is sniffed with http.DetectContentType.
package httpevent

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
)

// ErrAborted is returned by Serve when the handler panics with
// http.ErrAbortHandler, the net/http way to abort a response. An event
// response cannot be cut off half-way, so the adapters fail the invocation.
var ErrAborted = errors.New("httpevent: handler aborted the response")

// Response is a complete response captured by a ResponseWriter.
type Response struct {
	StatusCode int
	// Header is the header as it was when the status was written.
	Header http.Header
	Body   []byte
}

// ResponseWriter is an http.ResponseWriter that keeps the whole response in
// memory. It is not safe for concurrent use, like the ResponseWriter that
// net/http passes to a handler.
type ResponseWriter struct {
	header      http.Header
	written     http.Header // copy of header taken at WriteHeader
	status      int
	body        bytes.Buffer
	headRequest bool
}

// NewResponseWriter returns a ResponseWriter for a request with the given
// method. Bodies written in response to HEAD are discarded.
func NewResponseWriter(method string) *ResponseWriter {
	return &ResponseWriter{header: http.Header{}, headRequest: method == http.MethodHead}
}

// Header returns the header map that WriteHeader will send.
func (w *ResponseWriter) Header() http.Header {
	return w.header
}

// WriteHeader sets the status code. Only the first call with a final status
// counts. It panics on codes outside 100-999, as net/http does.
func (w *ResponseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("httpevent: invalid WriteHeader code %d", code))
	}
	if w.status != 0 {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return // informational: a JSON event can carry only the final response
	}

	w.status = code
	w.written = w.header.Clone()
}

// Write appends p to the body, writing a 200 status first if none was written.
// It returns http.ErrBodyNotAllowed for statuses that have no body.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.headRequest {
		return len(p), nil
	}
	return w.body.Write(p)
}

// Flush does nothing: the response leaves only when the handler returns. It
// exists so handlers that flush work unchanged.
func (w *ResponseWriter) Flush() {}

// Response returns the captured response. A handler that wrote nothing gets
// 200 with an empty body.
func (w *ResponseWriter) Response() *Response {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}

	header := w.written.Clone()
	body := bytes.Clone(w.body.Bytes())
	if _, set := header["Content-Type"]; !set && len(body) > 0 {
		header.Set("Content-Type", http.DetectContentType(body))
	}
	return &Response{StatusCode: w.status, Header: header, Body: body}
}

// Serve runs h on r and returns the response it wrote. A handler that panics
// with http.ErrAbortHandler yields ErrAborted. Other panics propagate, so the
// platform runtime reports them with their stack.
func Serve(h http.Handler, r *http.Request) (resp *Response, err error) {
	w := NewResponseWriter(r.Method)
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if panicErr, ok := v.(error); !ok || !errors.Is(panicErr, http.ErrAbortHandler) {
			panic(v)
		}
		resp, err = nil, ErrAborted
	}()

	h.ServeHTTP(w, r)
	return w.Response(), nil
}

func bodyAllowed(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

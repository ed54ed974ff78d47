package httpevent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
)

// RequestIDHeader is the header that carries the platform's request id to the
// handler when the client did not send one.
const RequestIDHeader = "X-Request-Id"

// NewRequest returns a request shaped like the ones the net/http server hands
// to handlers: URL holds only the path and query, the Host header moves to
// Request.Host, RequestURI is set, and the body is complete with a matching
// ContentLength. The request carries ctx, so the platform's deadline reaches
// the handler. The method must be a valid HTTP token.
func NewRequest(ctx context.Context, method string, u *url.URL, header http.Header, body []byte) (*http.Request, error) {
	if method == "" {
		return nil, fmt.Errorf("httpevent: missing HTTP method")
	}
	if !isToken(method) {
		return nil, fmt.Errorf("httpevent: invalid HTTP method %q", method)
	}
	if header == nil {
		header = http.Header{}
	}

	host := header.Get("Host")
	header.Del("Host")
	if len(body) > 0 || header.Get("Content-Length") != "" {
		header.Set("Content-Length", strconv.Itoa(len(body)))
	}

	r := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          host,
		RequestURI:    u.RequestURI(),
	}
	if len(body) > 0 {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return r.WithContext(ctx), nil
}

// SetProto sets the protocol version from a value such as "HTTP/2.0". Values
// that do not parse leave HTTP/1.1.
func SetProto(r *http.Request, proto string) {
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		return
	}
	r.Proto, r.ProtoMajor, r.ProtoMinor = proto, major, minor
}

// RemoteAddr returns the client address in the "IP:port" form that net/http
// uses. Events carry no client port, so the port is 0. An empty ip gives "".
func RemoteAddr(ip string) string {
	if ip == "" {
		return ""
	}
	return net.JoinHostPort(ip, "0")
}

// SetRequestID sets the X-Request-Id header to id unless the request already
// has one or id is empty.
func SetRequestID(r *http.Request, id string) {
	if id == "" || r.Header.Get(RequestIDHeader) != "" {
		return
	}
	r.Header.Set(RequestIDHeader, id)
}

// isToken reports whether s is an RFC 9110 token, the syntax of a method.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0:
		default:
			return false
		}
	}
	return true
}

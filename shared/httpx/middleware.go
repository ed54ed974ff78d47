package httpx

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
)

type requestIDKey struct{}

// RequestIDHeader carries the request id between the gateway, functions and
// clients.
const RequestIDHeader = "X-Request-Id"

// RequestID returns the request id stored in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestIDPrefix is 8 random bytes chosen once per process, so ids from
// different replicas never collide; a counter makes each id in the process
// unique without reading the random source on every request.
var (
	requestIDPrefix = func() [16]byte {
		var b [8]byte
		_, _ = rand.Read(b[:])
		var out [16]byte
		hex.Encode(out[:], b[:])
		return out
	}()
	requestIDCounter atomic.Uint64
)

// NewRequestID returns a 32-character hex id: the process prefix followed by
// a per-process sequence number.
func NewRequestID() string {
	var buf [32]byte
	copy(buf[:16], requestIDPrefix[:])
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], requestIDCounter.Add(1))
	hex.Encode(buf[16:], seq[:])
	return string(buf[:])
}

// RequestIDs keeps a well-formed incoming X-Request-Id (at most 64
// characters of [A-Za-z0-9._=+-], which admits API Gateway's base64 ids)
// or generates one, stores it in the request context and echoes it in the
// response.
func RequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := EnsureRequestID(w, r)
		if ctx == r.Context() {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// EnsureRequestID is RequestIDs for middleware that changes the request
// context itself and wants one r.WithContext for all its changes. It
// returns r's context when that has a request id already (a host that
// assigned the id makes an inner call a no-op). Otherwise it takes the
// incoming X-Request-Id or generates one, echoes it in the response and
// returns r's context with it.
func EnsureRequestID(w http.ResponseWriter, r *http.Request) context.Context {
	ctx := r.Context()
	if RequestID(ctx) != "" {
		return ctx
	}
	id := r.Header.Get(RequestIDHeader)
	if !validRequestID(id) {
		id = NewRequestID()
	}
	w.Header().Set(RequestIDHeader, id)
	return WithRequestID(ctx, id)
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '=' || c == '+'
		if !ok {
			return false
		}
	}
	return true
}

// Recover turns a panic in next into a 500 response that leaks no internals,
// and logs the panic value and stack. http.ErrAbortHandler is re-panicked so
// the server aborts the connection as intended. A nil logger discards the log.
func Recover(logger *slog.Logger) func(http.Handler) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "handler panicked", "request_id", RequestID(r.Context()),
					"panic", v, "stack", string(debug.Stack()))
				WriteError(w, r, nil, E(CodeInternal))
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// LimitBody caps every request body at maxBytes. Handlers that read past the
// cap get an error from the body reader; DecodeJSON turns it into a 413.
func LimitBody(maxBytes int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > maxBytes {
				WriteError(w, r, nil, E(CodeBodyTooLarge, maxBytes))
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
			next.ServeHTTP(w, r)
		})
	}
}

// Header size limits. Servers pass ServerMaxHeaderBytes to http.Server,
// which rejects larger headers with a plain-text 431, and wrap their handler
// in LimitHeaders, so that requests between the two sizes get the usual
// JSON error. The public edge allows MaxHeaderBytes. Functions behind it
// allow FunctionMaxHeaderBytes, which leaves room for the forwarding,
// identity and trace headers that the gateway adds, so that a request the
// edge accepts is never rejected behind it.
const (
	MaxHeaderBytes         = 64 << 10
	FunctionMaxHeaderBytes = MaxHeaderBytes + 16<<10
	ServerMaxHeaderBytes   = 1 << 20
)

// LimitHeaders rejects with 431 HEADERS_TOO_LARGE a request whose request
// line and header fields, counted by HeaderBytes, exceed maxBytes.
func LimitHeaders(maxBytes int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if HeaderBytes(r, maxBytes) > maxBytes {
				r = r.WithContext(EnsureRequestID(w, r))
				WriteError(w, r, nil, E(CodeHeadersTooLarge, maxBytes))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// HeaderBytes returns the size of r's request line and header fields as
// net/http parsed them, written as an HTTP/1.1 client would send them, line
// ends included. Whitespace around values, folded lines and fields that
// net/http merges or drops are not counted, so the result can be below the
// bytes received, which ServerMaxHeaderBytes bounds. It stops counting once
// the total passes limit.
func HeaderBytes(r *http.Request, limit int) int {
	const lineEnd = len("\r\n")
	target := r.RequestURI
	if target == "" && r.URL != nil {
		target = r.URL.RequestURI()
	}
	n := len(r.Method) + 1 + len(target) + 1 + len(r.Proto) + lineEnd
	// An absolute-form target already contains the host, which net/http
	// then takes for r.Host.
	if r.Host != "" && !strings.Contains(target, "://") {
		n += len("Host: ") + len(r.Host) + lineEnd
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(": ") + len(v) + lineEnd
		}
		if n > limit {
			return n
		}
	}
	return n + lineEnd
}

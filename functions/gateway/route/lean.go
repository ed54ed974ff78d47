package route

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LeanTransport is an http.RoundTripper that writes cleartext HTTP/1.1
// requests and reads their responses in the caller's goroutine, over
// keep-alive connections that it pools per host. http.Transport hands each
// request to a writer goroutine and each response back from a reader
// goroutine, and on a loaded gateway those handoffs and their wake-ups
// cost more CPU than the bytes they move. Everything LeanTransport does not
// handle goes to Fallback unchanged: https and other schemes, protocol
// upgrades and Expect: 100-continue.
//
// Unlike http.Transport it neither asks for gzip nor decompresses it, so
// an upstream answers in an encoding that the client accepted.
//
// A response body must be read to its end or closed, as with any
// RoundTripper; only a body read to its end returns the connection to the
// pool. Read and Close of one body must not run at the same time.
type LeanTransport struct {
	// Fallback carries the requests LeanTransport does not handle.
	Fallback http.RoundTripper

	// DialTimeout bounds a dial; 0 means 5 seconds. The request's context
	// can end it sooner.
	DialTimeout time.Duration

	// MaxIdlePerHost bounds the idle connections kept per host; 0 means
	// 256.
	MaxIdlePerHost int

	// IdleTimeout closes a connection left idle this long; 0 means 90
	// seconds. An upstream that closes idle connections sooner is
	// detected before a connection is reused.
	IdleTimeout time.Duration

	// MaxResponseHeaderBytes bounds a response's status line and header
	// fields; 0 means 64 KiB.
	MaxResponseHeaderBytes int64

	mu   sync.Mutex
	idle map[string][]*leanConn // per host:port, the oldest first
}

// NewLeanTransport returns a LeanTransport with the router's defaults and
// NewTransport as its fallback.
func NewLeanTransport() *LeanTransport {
	return &LeanTransport{Fallback: NewTransport()}
}

// Lean transport defaults.
const (
	leanDialTimeout    = 5 * time.Second
	leanMaxIdlePerHost = 256
	leanIdleTimeout    = 90 * time.Second
	leanMaxHeaderBytes = 64 << 10
	leanBufferSize     = 16 << 10
)

// errHeaderTooLarge is returned for a response header over
// MaxResponseHeaderBytes.
var errHeaderTooLarge = errors.New("response header too large")

// aLongTimeAgo is a deadline in the past, which interrupts blocked reads
// and writes on a connection.
var aLongTimeAgo = time.Unix(1, 0)

// leanConn is one upstream connection. It reads through limit, which
// bounds the bytes a response header may take.
type leanConn struct {
	conn     net.Conn
	raw      syscall.RawConn // nil when the connection has none
	br       *bufio.Reader
	bw       *bufio.Writer
	key      string
	limit    int64
	reused   bool      // it carried an earlier request
	idleFrom time.Time // when it went back to the pool
}

// Read implements io.Reader for the connection's bufio.Reader.
func (pc *leanConn) Read(p []byte) (int, error) {
	if pc.limit <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > pc.limit {
		p = p[:pc.limit]
	}
	n, err := pc.conn.Read(p)
	pc.limit -= int64(n)
	return n, err
}

// RoundTrip implements http.RoundTripper.
func (t *LeanTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !handledByLean(req) {
		if t.Fallback == nil {
			closeRequestBody(req)
			return nil, fmt.Errorf("route: lean transport: no fallback for a %s request to %s", req.Method, req.URL.Redacted())
		}
		return t.Fallback.RoundTrip(req)
	}
	ctx := req.Context()
	key := hostPort(req)
	for try := 0; ; try++ {
		pc, err := t.get(ctx, key)
		if err != nil {
			closeRequestBody(req)
			return nil, fmt.Errorf("route: upstream %s: %w", key, err)
		}
		resp, err := t.exchange(ctx, pc, req)
		if err == nil {
			return resp, nil
		}
		// A pooled connection can fail because the upstream closed it
		// just as it was taken. The request goes again on a new
		// connection only when repeating it is harmless.
		if !pc.reused || try > 0 || ctx.Err() != nil || !replayable(req) {
			return nil, err
		}
		if req.GetBody != nil {
			body, berr := req.GetBody()
			if berr != nil {
				return nil, err
			}
			req = req.Clone(ctx)
			req.Body = body
		}
	}
}

// handledByLean reports whether req suits LeanTransport.
func handledByLean(req *http.Request) bool {
	if req.URL == nil || req.URL.Scheme != "http" || req.URL.Host == "" {
		return false
	}
	return req.Header.Get("Upgrade") == "" && !strings.EqualFold(req.Header.Get("Expect"), "100-continue")
}

// replayable reports whether sending req twice is harmless and possible.
func replayable(req *http.Request) bool {
	if !idempotent(req.Method) && req.Header.Get("Idempotency-Key") == "" {
		return false
	}
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// hostPort returns the request's host with its port, 80 by default.
func hostPort(req *http.Request) string {
	host := req.URL.Host
	if req.URL.Port() == "" {
		return net.JoinHostPort(strings.Trim(req.URL.Hostname(), "[]"), "80")
	}
	return host
}

func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// exchange writes req on pc and reads the response header. On error it
// closes pc; on success the response body puts pc back in the pool once
// it is read to its end.
func (t *LeanTransport) exchange(ctx context.Context, pc *leanConn, req *http.Request) (*http.Response, error) {
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		_ = pc.conn.SetDeadline(deadline)
	}
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(aLongTimeAgo) })
	}
	fail := func(err error) (*http.Response, error) {
		stop()
		_ = pc.conn.Close()
		cerr := ctx.Err()
		if cerr == nil && hasDeadline && isTimeout(err) && !time.Now().Before(deadline) {
			// The connection's deadline can fire before the context's.
			cerr = context.DeadlineExceeded
		}
		if cerr != nil {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return nil, fmt.Errorf("route: upstream %s: %w", pc.key, err)
	}

	if err := req.Write(pc.bw); err != nil {
		return fail(err)
	}
	if err := pc.bw.Flush(); err != nil {
		return fail(err)
	}
	pc.limit = t.maxHeaderBytes()
	var resp *http.Response
	for {
		var err error
		if resp, err = http.ReadResponse(pc.br, req); err != nil {
			return fail(err)
		}
		// Informational (1xx) responses precede the final one (RFC 9110,
		// section 15.2). Upgrades go to Fallback, so a 101 is an error here.
		if resp.StatusCode >= 200 {
			break
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return fail(errors.New("unexpected 101 Switching Protocols"))
		}
		pc.limit = t.maxHeaderBytes()
	}
	pc.limit = math.MaxInt64

	keep := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		t.release(pc, stop, hasDeadline, keep)
		return resp, nil
	}
	resp.Body = &leanBody{rc: resp.Body, t: t, pc: pc, stop: stop, deadline: hasDeadline, keep: keep}
	return resp, nil
}

// release returns pc to the pool after an exchange, or closes it when it
// cannot carry another request.
func (t *LeanTransport) release(pc *leanConn, stop func() bool, deadline, keep bool) {
	// stop reports false when the context already interrupted the
	// connection.
	if !stop() || !keep || pc.br.Buffered() > 0 {
		_ = pc.conn.Close()
		return
	}
	if deadline {
		_ = pc.conn.SetDeadline(time.Time{})
	}
	t.put(pc)
}

// leanBody is a response body that releases its connection at its end.
type leanBody struct {
	rc       io.ReadCloser
	t        *LeanTransport
	pc       *leanConn
	stop     func() bool
	deadline bool
	keep     bool
	done     bool
}

func (b *leanBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.done = true
		b.t.release(b.pc, b.stop, b.deadline, b.keep)
	case err != nil:
		b.abort()
	}
	return n, err
}

// Close closes the connection unless the body was read to its end: what
// is left of it may be long, and reading it would hold up the caller.
func (b *leanBody) Close() error {
	if !b.done {
		b.abort()
	}
	return nil
}

func (b *leanBody) abort() {
	b.done = true
	b.stop()
	_ = b.pc.conn.Close()
}

// get returns an idle connection to key that is still open, or dials one.
func (t *LeanTransport) get(ctx context.Context, key string) (*leanConn, error) {
	for {
		t.mu.Lock()
		conns := t.idle[key]
		if len(conns) == 0 {
			t.mu.Unlock()
			break
		}
		pc := conns[len(conns)-1]
		conns[len(conns)-1] = nil
		t.idle[key] = conns[:len(conns)-1]
		t.mu.Unlock()

		if time.Since(pc.idleFrom) < t.idleTimeout() && pc.open() {
			pc.reused = true
			return pc, nil
		}
		_ = pc.conn.Close()
	}

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := t.DialTimeout
	if timeout <= 0 {
		timeout = leanDialTimeout
	}
	d := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", key)
	if err != nil {
		return nil, err
	}

	pc := &leanConn{conn: conn, key: key}
	if sc, ok := conn.(syscall.Conn); ok {
		pc.raw, _ = sc.SyscallConn()
	}
	pc.br = bufio.NewReaderSize(pc, leanBufferSize)
	pc.bw = bufio.NewWriterSize(conn, leanBufferSize)
	return pc, nil
}

// put adds pc to the idle pool, closing it when the pool is full, and
// closes the connections that have been idle too long.
func (t *LeanTransport) put(pc *leanConn) {
	now := time.Now()
	pc.idleFrom = now
	maxIdle := t.MaxIdlePerHost
	if maxIdle <= 0 {
		maxIdle = leanMaxIdlePerHost
	}
	var expired []*leanConn
	t.mu.Lock()
	if t.idle == nil {
		t.idle = make(map[string][]*leanConn)
	}
	conns := t.idle[pc.key]
	n := 0
	for n < len(conns) && now.Sub(conns[n].idleFrom) >= t.idleTimeout() {
		n++
	}
	if n > 0 {
		expired = append(expired, conns[:n]...)
		conns = append(conns[:0], conns[n:]...)
		clear(conns[len(conns):cap(conns)])
	}
	full := len(conns) >= maxIdle
	if !full {
		conns = append(conns, pc)
	}
	t.idle[pc.key] = conns
	t.mu.Unlock()
	if full {
		_ = pc.conn.Close()
	}
	for _, c := range expired {
		_ = c.conn.Close()
	}
}

// CloseIdleConnections closes the pooled connections and those of
// Fallback. Connections in use are pooled again when their responses end.
func (t *LeanTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, conns := range idle {
		for _, pc := range conns {
			_ = pc.conn.Close()
		}
	}
	if c, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *LeanTransport) idleTimeout() time.Duration {
	if t.IdleTimeout > 0 {
		return t.IdleTimeout
	}
	return leanIdleTimeout
}

func (t *LeanTransport) maxHeaderBytes() int64 {
	if t.MaxResponseHeaderBytes > 0 {
		return t.MaxResponseHeaderBytes
	}
	return leanMaxHeaderBytes
}

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
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
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
// Unlike http.Transport it neither requests gzip nor decompresses it, so
// an upstream responds in an encoding that the client accepted.
//
// A response body must be read to its end or closed, as with any
// RoundTripper. Only a body read to its end returns the connection to the
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
// bounds the bytes a response header may take, and records what it reads
// and the error of its last write.
type leanConn struct {
	conn     net.Conn
	raw      syscall.RawConn // nil when the connection has none
	br       *bufio.Reader
	bw       *bufio.Writer
	key      string
	limit    int64
	nread    int64 // bytes read since the request was written
	werr     error // the last write error
	body     leanReqBody
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
	pc.nread += int64(n)
	return n, err
}

// Write implements io.Writer for the connection's bufio.Writer.
func (pc *leanConn) Write(p []byte) (int, error) {
	n, err := pc.conn.Write(p)
	if err != nil {
		pc.werr = err
	}
	return n, err
}

// leanReqBody is a request body that records its read error, which
// Request.Write reports only as text.
type leanReqBody struct {
	rc  io.ReadCloser
	err error
}

func (b *leanReqBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *leanReqBody) Close() error { return b.rc.Close() }

// leanSyncBodyBytes is the largest request body that exchange writes before
// it reads the response. The socket's send buffer takes such a body at
// once, so an upstream that responds without reading it cannot stall the
// write. Larger bodies, and bodies of unknown length, are written from a
// goroutine while the caller reads the response.
const leanSyncBodyBytes = 64 << 10

// leanWriteWait is how long a finished response waits for the end of its
// request's write before the connection is closed instead of pooled.
const leanWriteWait = 50 * time.Millisecond

// leanMaxInformational bounds the informational (1xx) responses before the
// final one.
const leanMaxInformational = 16

// errExchange marks an exchange that failed before any byte of a response
// arrived and after the request body was read without error. Only such a
// failure may be retried.
type errExchange struct {
	err       error
	retryable bool
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
	// A method is a token (RFC 9110, section 9.1), as a header field name
	// is. Request.Write writes any method as it is, so one with spaces or
	// line breaks could add a request of its own.
	if !httpguts.ValidHeaderFieldName(req.Method) {
		closeRequestBody(req)
		return nil, fmt.Errorf("route: lean transport: invalid method %q", req.Method)
	}
	ctx := req.Context()
	key := hostPort(req)
	for try := 0; ; try++ {
		if err := ctx.Err(); err != nil {
			closeRequestBody(req)
			return nil, err
		}
		pc, err := t.get(ctx, key)
		if err != nil {
			closeRequestBody(req)
			return nil, fmt.Errorf("route: upstream %s: %w", key, err)
		}
		resp, xerr := t.exchange(ctx, pc, req)
		if xerr.err == nil {
			return resp, nil
		}
		// A pooled connection can fail because the upstream closed it
		// just as it was taken. The request goes again on a new
		// connection only when no response began and repeating it is
		// harmless.
		if !pc.reused || try > 0 || !xerr.retryable || ctx.Err() != nil || !replayable(req) {
			return nil, xerr.err
		}
		if req.GetBody != nil {
			body, berr := req.GetBody()
			if berr != nil {
				return nil, xerr.err
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
// Like http.Transport, it counts only the safe methods, and requests that
// carry an idempotency key, as harmless.
func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
	default:
		if req.Header.Get("Idempotency-Key") == "" && req.Header.Get("X-Idempotency-Key") == "" {
			return false
		}
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
// closes pc. On success the response body puts pc back in the pool once
// it is read to its end and the request is written.
func (t *LeanTransport) exchange(ctx context.Context, pc *leanConn, req *http.Request) (*http.Response, errExchange) {
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		_ = pc.conn.SetDeadline(deadline)
	}
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = pc.conn.SetDeadline(aLongTimeAgo) })
	}
	pc.nread, pc.werr = 0, nil
	fail := func(err error) (*http.Response, errExchange) {
		stop()
		_ = pc.conn.Close()
		retryable := pc.nread == 0 && pc.body.err == nil
		cerr := ctx.Err()
		if cerr == nil && hasDeadline && isTimeout(err) && !time.Now().Before(deadline) {
			// The connection's deadline can fire before the context's.
			cerr = context.DeadlineExceeded
		}
		if cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return nil, errExchange{err: fmt.Errorf("route: upstream %s: %w", pc.key, err), retryable: retryable}
	}
	// AfterFunc runs in a goroutine of its own, so it may not have
	// interrupted the connection yet.
	if err := ctx.Err(); err != nil {
		closeRequestBody(req)
		return fail(err)
	}

	out := req
	pc.body = leanReqBody{}
	if req.Body != nil && req.Body != http.NoBody {
		pc.body.rc = req.Body
		clone := *req
		clone.Body = &pc.body
		out = &clone
	}

	if out.Body == nil || out.Body == http.NoBody || (req.ContentLength > 0 && req.ContentLength <= leanSyncBodyBytes) {
		if err := pc.writeRequest(out); err != nil {
			if pc.werr == nil {
				return fail(err)
			}
			// The upstream may have responded and closed the connection
			// before reading the whole request.
			resp, rerr := t.readResponse(pc, req)
			if rerr != nil {
				return fail(err)
			}
			return t.respond(pc, resp, stop, hasDeadline, false, nil), errExchange{}
		}
	} else {
		// A write that fails before the response arrives closes the
		// connection, which ends the read as http.Transport's does.
		// Once the response arrived, the caller gets it, and a failed
		// write only keeps the connection from the pool. A reset or
		// broken pipe leaves the connection open: the read then gets a
		// response that the upstream sent before it closed, or the same
		// error at once.
		var state atomic.Int32 // one of the exchange states below
		written := make(chan error, 1)
		go func() {
			err := pc.writeRequest(out)
			if err != nil && !peerClosed(err) && state.CompareAndSwap(exchangeWaiting, exchangeWriteFailed) {
				_ = pc.conn.Close()
			}
			written <- err
		}()
		resp, err := t.readResponse(pc, req)
		if err == nil && state.CompareAndSwap(exchangeWaiting, exchangeAnswered) {
			return t.respond(pc, resp, stop, hasDeadline, !resp.Close && !req.Close, written), errExchange{}
		}
		if err == nil {
			// The response arrived just before the write failed.
			return t.respond(pc, resp, stop, hasDeadline, false, written), errExchange{}
		}
		// Whichever side failed first caused the failure, unless the
		// request body failed: that error is the caller's own. Closing
		// the connection ends the write.
		writeFirst := !state.CompareAndSwap(exchangeWaiting, exchangeReadFailed)
		_ = pc.conn.Close()
		if werr := <-written; werr != nil && (pc.body.err != nil || writeFirst) {
			err = werr
		}
		return fail(err)
	}

	resp, err := t.readResponse(pc, req)
	if err != nil {
		return fail(err)
	}
	return t.respond(pc, resp, stop, hasDeadline, !resp.Close && !req.Close, nil), errExchange{}
}

// States of an exchange whose request body is written from a goroutine.
const (
	exchangeWaiting int32 = iota
	exchangeAnswered
	exchangeReadFailed
	exchangeWriteFailed
)

// peerClosed reports whether err is a write error that the upstream
// closing its end causes.
func peerClosed(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// writeRequest writes req and flushes it. A failure to read the body
// returns the body's own error.
func (pc *leanConn) writeRequest(req *http.Request) error {
	err := req.Write(pc.bw)
	if err == nil {
		err = pc.bw.Flush()
	}
	if err != nil && pc.body.err != nil {
		return pc.body.err
	}
	if err != nil && pc.werr != nil {
		return pc.werr
	}
	return err
}

// readResponse reads the final response header after any informational
// ones, all within one header budget.
func (t *LeanTransport) readResponse(pc *leanConn, req *http.Request) (*http.Response, error) {
	pc.limit = t.maxHeaderBytes()
	defer func() { pc.limit = math.MaxInt64 }()
	for range leanMaxInformational + 1 {
		resp, err := http.ReadResponse(pc.br, req)
		if err != nil {
			return nil, err
		}
		// Informational (1xx) responses precede the final one (RFC 9110,
		// section 15.2). Upgrades go to Fallback, so a 101 is an error here.
		if resp.StatusCode >= 200 {
			return resp, nil
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			return nil, errors.New("unexpected 101 Switching Protocols")
		}
	}
	return nil, fmt.Errorf("more than %d informational responses", leanMaxInformational)
}

// respond wraps resp's body so that it releases pc at its end. written,
// when not nil, reports the end of a request still being written.
func (t *LeanTransport) respond(pc *leanConn, resp *http.Response, stop func() bool, deadline, keep bool, written chan error) *http.Response {
	b := &leanBody{rc: resp.Body, t: t, pc: pc, stop: stop, deadline: deadline, keep: keep, written: written}
	if resp.Body == http.NoBody {
		b.finish()
		return resp
	}
	resp.Body = b
	return resp
}

// errReadClosedBody is returned by a Read after Close.
var errReadClosedBody = errors.New("route: read on closed response body")

// leanBody is a response body that releases its connection at its end.
type leanBody struct {
	rc       io.ReadCloser
	t        *LeanTransport
	pc       *leanConn
	stop     func() bool
	deadline bool
	keep     bool
	written  chan error // see respond
	err      error      // returned by every Read once set
}

func (b *leanBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.err = io.EOF
		b.finish()
	case err != nil:
		b.err = err
		b.abort()
	}
	return n, err
}

// Close closes the connection unless the body was read to its end: what
// is left of it may be long, and reading it would hold up the caller.
func (b *leanBody) Close() error {
	if b.err == nil {
		b.err = errReadClosedBody
		b.abort()
	}
	return nil
}

func (b *leanBody) abort() {
	b.stop()
	_ = b.pc.conn.Close()
}

// finish returns the connection to the pool after the whole response
// arrived, or closes it when it cannot carry another request. That is the
// case when the context interrupted it, either side requested a close,
// bytes follow the response, or the request write is unfinished or failed.
func (b *leanBody) finish() {
	pc := b.pc
	keep := b.keep && pc.br.Buffered() == 0
	if b.written != nil && keep {
		// The upstream may have read the whole request just before the
		// writer reports it, so wait a little, as http.Transport does.
		timer := time.NewTimer(leanWriteWait)
		select {
		case err := <-b.written:
			keep = err == nil
		case <-timer.C:
			keep = false
		}
		timer.Stop()
	}
	// stop reports false when the context already interrupted the
	// connection.
	if !b.stop() || !keep {
		_ = pc.conn.Close()
		return
	}
	if b.deadline {
		_ = pc.conn.SetDeadline(time.Time{})
	}
	b.t.put(pc)
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
	pc.bw = bufio.NewWriterSize(pc, leanBufferSize)
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
	stale := 0 // the oldest connections, idle too long
	for stale < len(conns) && now.Sub(conns[stale].idleFrom) >= t.idleTimeout() {
		stale++
	}
	if stale > 0 {
		expired = append(expired, conns[:stale]...)
		conns = append(conns[:0], conns[stale:]...)
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

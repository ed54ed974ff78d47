package localdev

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/obs"
)

// Limits of asynchronous calls. The OpenFaaS queue-worker's defaults are
// the model: one minute per call, and the gateway reads the whole request
// body before it queues it.
const (
	asyncWorkers      = 4
	asyncQueueSize    = 256
	asyncCallTimeout  = time.Minute
	maxAsyncBody      = httpx.DefaultMaxBody
	maxCallbackBody   = 8 << 20
	callbackTimeout   = 10 * time.Second
	asyncStopGrace    = 5 * time.Second
	maxCallIDLength   = 128
	callIDHeader      = "X-Call-Id"
	callbackURLHeader = "X-Callback-Url"
)

// invoke serves /function/<name>[.<namespace>][/<path>], the OpenFaaS
// invocation path: the function's handler gets /<path>. localdev serves
// <name>/healthz and <name>/readyz itself, as it does under /api/<name>/.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) {
	h, fr, err := s.resolveInvocation(r.URL, "/function/")
	if err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	switch fr.Path {
	case "/healthz":
		obs.Healthz(w, r)
		return
	case "/readyz":
		h.readyz(w, r)
		return
	}
	inner := new(http.Request)
	*inner = *r
	inner.URL = fr
	h.invokeLogged(w, inner, "")
}

// invokeLogged serves r with h and adds a line for the call to the
// function's log, like the one the OpenFaaS watchdog writes.
func (h *hostedFunction) invokeLogged(w http.ResponseWriter, r *http.Request, callID string) {
	start := time.Now()
	rec := &invocationRecorder{ResponseWriter: w}
	h.serve(rec, r, false)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	line := fmt.Sprintf("%s %s - %d %s - ContentLength: %d (%.4fs)", r.Method, r.URL.Path,
		rec.status, http.StatusText(rec.status), rec.written, time.Since(start).Seconds())
	if callID != "" {
		line = "async call " + callID + ": " + line
	}
	h.logs.add(line)
}

// resolveInvocation returns the function that the path of u names after
// prefix, and the URL its handler gets: the rest of the path, with the
// query.
func (s *Server) resolveInvocation(u *url.URL, prefix string) (*hostedFunction, *url.URL, error) {
	ref, rest, _ := strings.Cut(strings.TrimPrefix(u.Path, prefix), "/")
	if ref == "" {
		return nil, nil, httpx.E(httpx.CodeNotFound)
	}
	h, err := s.lookupFunction(ref, "")
	if err != nil {
		return nil, nil, err
	}
	inner := *u
	inner.Path = "/" + rest
	inner.RawPath = ""
	if u.RawPath != "" {
		// As http.StripPrefix does, a path whose escaped form does not
		// start with the same prefix is not found.
		rawRest, ok := strings.CutPrefix(u.RawPath, prefix+ref)
		if !ok {
			return nil, nil, httpx.E(httpx.CodeNotFound)
		}
		if !strings.HasPrefix(rawRest, "/") {
			rawRest = "/" + rawRest
		}
		inner.RawPath = rawRest
	}
	return h, &inner, nil
}

// invocationRecorder keeps the status and the body size of a response.
type invocationRecorder struct {
	http.ResponseWriter
	status  int
	written int64
}

func (r *invocationRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *invocationRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.written += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *invocationRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// asyncCall is one request to /async-function/ waiting for a worker.
type asyncCall struct {
	fn         *hostedFunction
	id         string
	requestID  string
	method     string
	url        *url.URL
	host       string
	remoteAddr string
	header     http.Header
	body       []byte
	callback   *url.URL
}

// invokeAsync serves POST /async-function/<name>[.<namespace>][/<path>]
// as the OpenFaaS gateway does: it reads the body, queues the call and
// responds 202 with the call's X-Call-Id. A worker then invokes the
// function and, when the request named an X-Callback-Url, posts the
// function's response there with the headers of the OpenFaaS
// queue-worker: X-Call-Id, X-Function-Status, X-Function-Name and
// X-Duration-Seconds. Unlike the gateway, it returns 404 at once for a
// function that does not exist.
func (s *Server) invokeAsync(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpx.WriteError(w, r, nil, httpx.E(httpx.CodeMethodNotAllowed, r.Method))
		return
	}
	h, inner, err := s.resolveInvocation(r.URL, "/async-function/")
	if err == nil && h.spec.Load().Removed {
		err = httpx.E(CodeFunctionNotFound, h.name)
	}
	if err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	callback, err := s.faas.callback.parse(r.Header.Get(callbackURLHeader))
	if err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	body, err := httpx.ReadBody(r, maxAsyncBody)
	if err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}

	id := r.Header.Get(callIDHeader)
	if !validCallID(id) {
		id = uuid.NewString()
	}
	header := r.Header.Clone()
	header.Del(callbackURLHeader)
	header.Set(callIDHeader, id)
	startTime := strconv.FormatInt(time.Now().UnixNano(), 10)
	header.Set("X-Start-Time", startTime)
	call := &asyncCall{
		fn: h, id: id, requestID: httpx.RequestID(r.Context()), method: r.Method, url: inner,
		host: r.Host, remoteAddr: r.RemoteAddr, header: header, body: body, callback: callback,
	}
	if err := s.faas.async.enqueue(call, s.runAsync); err != nil {
		if httpx.AsError(err).Code.ID == CodeAsyncQueueFull.ID {
			w.Header().Set("Retry-After", "1")
		}
		httpx.WriteError(w, r, nil, err)
		return
	}
	h.logs.add(fmt.Sprintf("async call %s: queued %s %s", id, r.Method, inner.Path))
	w.Header().Set(callIDHeader, id)
	w.Header().Set("X-Start-Time", startTime)
	w.WriteHeader(http.StatusAccepted)
}

// validCallID reports whether a client's X-Call-Id can be kept: at most
// 128 characters of [A-Za-z0-9._:-], which UUIDs and most trace ids are.
func validCallID(id string) bool {
	if id == "" || len(id) > maxCallIDLength {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		letterOrDigit := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !letterOrDigit && !strings.ContainsRune("._:-", rune(c)) {
			return false
		}
	}
	return true
}

// runAsync invokes the function of call and posts the response to its
// callback URL.
func (s *Server) runAsync(ctx context.Context, call *asyncCall) {
	callCtx, cancel := context.WithTimeout(ctx, asyncCallTimeout)
	defer cancel()
	if call.requestID != "" {
		call.header.Set(httpx.RequestIDHeader, call.requestID)
	}
	req, err := http.NewRequestWithContext(callCtx, call.method, "/", bytes.NewReader(call.body))
	if err != nil {
		s.logger.Error("building an asynchronous call failed", "call_id", call.id, "function", call.fn.name, "err", err)
		return
	}
	req.URL = call.url
	req.RequestURI = call.url.RequestURI()
	req.Host = call.host
	req.RemoteAddr = call.remoteAddr
	req.Header = call.header

	rec := newCallRecorder(maxCallbackBody)
	start := time.Now()
	call.fn.invokeLogged(rec, req, call.id)
	elapsed := time.Since(start)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if call.callback == nil {
		return
	}

	if rec.truncated {
		s.logger.Warn("an asynchronous call's response exceeds the callback body limit; the callback gets the first part",
			"call_id", call.id, "function", call.fn.name, "limit_bytes", maxCallbackBody)
	}
	status, err := s.faas.callback.post(ctx, call, rec, elapsed)
	target := callbackForLog(call.callback)
	if err != nil {
		// The transport's error quotes the whole URL, query included.
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		call.fn.logs.add(fmt.Sprintf("async call %s: callback to %s failed: %v", call.id, target, err))
		s.logger.Warn("an asynchronous call's callback failed",
			"call_id", call.id, "function", call.fn.name, "callback", target, "err", err)
		return
	}
	call.fn.logs.add(fmt.Sprintf("async call %s: callback to %s returned %d", call.id, target, status))
}

// callbackForLog returns a callback URL without its user info, query and
// fragment, which may carry tokens that have no place in logs.
func callbackForLog(u *url.URL) string {
	short := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if u.RawQuery != "" {
		short.RawQuery = "…"
	}
	return short.String()
}

// callRecorder is the ResponseWriter of an asynchronous call. It keeps up
// to max bytes of the body for the callback.
type callRecorder struct {
	header    http.Header
	status    int
	body      bytes.Buffer
	max       int
	truncated bool
}

func newCallRecorder(limit int) *callRecorder {
	return &callRecorder{header: http.Header{}, max: limit}
}

func (c *callRecorder) Header() http.Header { return c.header }

func (c *callRecorder) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (c *callRecorder) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	room := c.max - c.body.Len()
	if len(p) > room {
		c.truncated = true
		c.body.Write(p[:max(room, 0)])
		return len(p), nil
	}
	c.body.Write(p)
	return len(p), nil
}

// Flush does nothing, because the callback sends the body when the call
// ends. It lets handlers that stream their response run.
func (c *callRecorder) Flush() {}

// asyncQueue runs asynchronous calls on a fixed number of workers. A full
// queue rejects new calls, and drain stops it at shutdown.
type asyncQueue struct {
	calls   chan queuedCall
	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup
	dropped atomic.Int64

	mu     sync.Mutex
	closed bool
}

type queuedCall struct {
	call *asyncCall
	run  func(context.Context, *asyncCall)
}

func newAsyncQueue(workers, size int) *asyncQueue {
	ctx, cancel := context.WithCancel(context.Background())
	q := &asyncQueue{calls: make(chan queuedCall, size), ctx: ctx, cancel: cancel}
	for range workers {
		q.workers.Go(q.work)
	}
	return q
}

func (q *asyncQueue) work() {
	for c := range q.calls {
		if q.ctx.Err() != nil {
			q.dropped.Add(1)
			continue
		}
		c.run(q.ctx, c.call)
	}
}

// enqueue queues call for run. It returns 429 ASYNC_QUEUE_FULL when the
// queue is full and 503 NOT_READY once the queue is draining.
func (q *asyncQueue) enqueue(call *asyncCall, run func(context.Context, *asyncCall)) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return httpx.E(httpx.CodeNotReady)
	}
	select {
	case q.calls <- queuedCall{call: call, run: run}:
		return nil
	default:
		return httpx.E(CodeAsyncQueueFull, cap(q.calls))
	}
}

// drain stops accepting calls and lets the workers finish the queued ones
// until ctx ends. Then it cancels the calls still running, drops the rest
// and waits up to asyncStopGrace for the workers to return. It returns
// the number of calls dropped and whether the workers returned.
func (q *asyncQueue) drain(ctx context.Context) (dropped int64, stopped bool) {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.calls)
	}
	q.mu.Unlock()

	done := make(chan struct{})
	go func() {
		q.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		q.cancel()
		return q.dropped.Load(), true
	case <-ctx.Done():
	}
	q.cancel()
	grace := time.NewTimer(asyncStopGrace)
	defer grace.Stop()
	select {
	case <-done:
		return q.dropped.Load(), true
	case <-grace.C:
		return q.dropped.Load(), false
	}
}

// drainAsync drains the asynchronous calls at shutdown, until ctx ends.
func (a *faasAPI) drainAsync(ctx context.Context) {
	dropped, stopped := a.async.drain(ctx)
	if newly := dropped - a.droppedReported.Swap(dropped); newly > 0 {
		a.logger.Warn("asynchronous calls were dropped at shutdown", "dropped", newly)
	}
	if !stopped {
		a.logger.Warn("asynchronous calls were still running after they were cancelled", "grace", asyncStopGrace.String())
	}
}

// stopAsync cancels the asynchronous calls that drainAsync left, for
// Server.Close.
func (a *faasAPI) stopAsync() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.drainAsync(ctx)
}

// callbackPolicy restricts the callback URLs of asynchronous calls to the
// networks of JT_FAAS_CALLBACK_NETWORKS, loopback by default. A caller
// picks the URL, so without the restriction localdev would post responses
// to any host it can reach on the caller's behalf.
type callbackPolicy struct {
	networks []netip.Prefix
	client   *http.Client
}

// DefaultCallbackNetworks are the networks that callbacks may reach
// unless JT_FAAS_CALLBACK_NETWORKS names others: loopback only.
var DefaultCallbackNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func newCallbackPolicy(networks []netip.Prefix) *callbackPolicy {
	if len(networks) == 0 {
		networks = DefaultCallbackNetworks
	}
	p := &callbackPolicy{networks: networks}
	// The dialer checks the address it connects to, after name
	// resolution, so neither a host name nor a redirect reaches another
	// network. Redirects are not followed anyway, and no proxy is used,
	// because the check would then see the proxy's address.
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		addr, err := netip.ParseAddr(host)
		if err != nil {
			return err
		}
		if !p.allows(addr) {
			return fmt.Errorf("callback address %s is outside JT_FAAS_CALLBACK_NETWORKS", addr)
		}
		return nil
	}}
	p.client = &http.Client{
		Timeout: callbackTimeout,
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         dialer.DialContext,
			MaxIdleConnsPerHost: asyncWorkers,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return p
}

func (p *callbackPolicy) allows(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, n := range p.networks {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// parse checks an X-Callback-Url value. An empty value means no callback.
// An IP address outside the allowed networks is rejected here, and a host
// name is checked when the callback connects.
func (p *callbackPolicy) parse(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return nil, httpx.E(CodeCallbackURLInvalid, truncateForMessage(raw))
	}
	if addr, err := netip.ParseAddr(u.Hostname()); err == nil && !p.allows(addr) {
		return nil, httpx.E(CodeCallbackURLNotAllowed, addr.String())
	}
	return u, nil
}

// hopHeaders are not copied from a function's response to its callback.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length"}

// post sends the response in rec to the callback URL of call and returns
// the callback's status.
func (p *callbackPolicy) post(ctx context.Context, call *asyncCall, rec *callRecorder, elapsed time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, callbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, call.callback.String(), bytes.NewReader(rec.body.Bytes()))
	if err != nil {
		return 0, err
	}
	req.Header = rec.header.Clone()
	for _, name := range hopHeaders {
		req.Header.Del(name)
	}
	req.Header.Set(callIDHeader, call.id)
	req.Header.Set("X-Function-Status", strconv.Itoa(rec.status))
	req.Header.Set("X-Function-Name", call.fn.name)
	req.Header.Set("X-Duration-Seconds", fmt.Sprintf("%f", elapsed.Seconds()))
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

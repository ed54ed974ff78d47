package route

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/jingtong/backend/shared/httpx"
)

// NewTransport returns the http.Transport behind NewLeanTransport. It
// keeps up to 256 idle connections per upstream host (1,024 in all) for 90
// seconds, so that a busy route reuses connections instead of dialing. It
// ignores proxy environment variables, and dials time out after 5 seconds.
func NewTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    256,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    5 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		WriteBufferSize:        16 << 10,
		ReadBufferSize:         16 << 10,
	}
}

// hopHeaders are the hop-by-hop fields of RFC 9110, section 7.6.1, plus
// the obsolete ones proxies still see. They describe one connection and
// are never forwarded. Trailer and TE go too, because the router ignores
// trailers.
var hopHeaders = []string{
	"Connection",
	"Proxy-Connection",
	"Keep-Alive",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// removeHopHeaders deletes the hop-by-hop fields from h, including the
// fields that Connection names.
func removeHopHeaders(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				delete(h, http.CanonicalHeaderKey(name))
			}
		}
	}
	for _, name := range hopHeaders {
		delete(h, name)
	}
}

// Shared header values; the transport only reads them.
var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
	emptyValue = []string{""}
)

// setForwarded prepares the outgoing headers in h for a request that r
// received: it removes hop-by-hop fields, appends the client address to
// X-Forwarded-For and sets X-Forwarded-Host and X-Forwarded-Proto to what
// the client sent.
func setForwarded(h http.Header, r *http.Request) {
	removeHopHeaders(h)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h["X-Forwarded-For"] = []string{ip}
	}
	h["X-Forwarded-Host"] = []string{r.Host}
	if r.TLS != nil {
		h["X-Forwarded-Proto"] = protoHTTPS
	} else {
		h["X-Forwarded-Proto"] = protoHTTP
	}
	if _, ok := h["User-Agent"]; !ok {
		// An empty value stops the transport from adding its own.
		h["User-Agent"] = emptyValue
	}
}

// idempotent reports whether method may be sent twice (RFC 9110, section
// 9.2.2). POST and PATCH are not.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// forward sends r to the route's target and writes the response.
func (rt *Router) forward(w http.ResponseWriter, r *http.Request, route *Route) {
	target, err := route.pickTarget(r)
	if err != nil {
		httpx.WriteError(w, r, rt.logger, err)
		return
	}
	if r.ContentLength > route.MaxBodyBytes {
		httpx.WriteError(w, r, rt.logger, httpx.E(httpx.CodeBodyTooLarge, route.MaxBodyBytes))
		return
	}
	path, rawPath := route.rewrite.apply(r.URL.Path, r.URL.RawPath)
	if target.fn != nil {
		rt.serveFunction(w, r, route, target.fn, path, rawPath)
		return
	}
	rt.serveUpstream(w, r, route, target.pool, path, rawPath)
}

// pickTarget returns the target set for r's API version.
func (rt *Route) pickTarget(r *http.Request) (*targetSet, error) {
	v := rt.versions
	if v == nil {
		if rt.target == nil {
			return nil, errNoRoute
		}
		return rt.target, nil
	}
	name := ""
	if v.header != "" {
		name = r.Header.Get(v.header)
	}
	if name == "" && v.query != "" && r.URL.RawQuery != "" {
		name = r.URL.Query().Get(v.query)
	}
	if name == "" {
		name = v.def
	}
	if name == "" {
		return rt.target, nil
	}
	t, ok := v.targets[name]
	if !ok {
		return nil, httpx.E(CodeVersionUnsupported, name, v.names)
	}
	return t, nil
}

// serveFunction calls an in-process function with the rewritten path,
// the route's body limit and its timeout as the context deadline.
func (rt *Router) serveFunction(w http.ResponseWriter, r *http.Request, route *Route, fn http.Handler, path, rawPath string) {
	// The deadline context and the URL copy share one allocation.
	call := &functionCall{ctx: lazyDeadline{parent: r.Context(), deadline: time.Now().Add(route.timeout)}, url: *r.URL}
	defer call.ctx.release()

	out := r.WithContext(&call.ctx)
	call.url.Path, call.url.RawPath = path, rawPath
	out.URL = &call.url
	if r.Body != nil && r.Body != http.NoBody {
		out.Body = http.MaxBytesReader(w, r.Body, route.MaxBodyBytes)
	}
	fn.ServeHTTP(w, out)
}

// functionCall is the state serveFunction allocates for one call.
type functionCall struct {
	ctx lazyDeadline
	url url.URL
}

// body is the request body of an upstream exchange: buffered, so that it
// can be sent again, or streamed once.
type body struct {
	data     []byte // set when buffered
	stream   *limitedBody
	length   int64
	buffered bool
}

// reader returns the body for one attempt.
func (b *body) reader() io.ReadCloser {
	switch {
	case b.buffered && len(b.data) == 0:
		return http.NoBody
	case b.buffered:
		return io.NopCloser(bytes.NewReader(b.data))
	case b.stream != nil:
		return b.stream
	}
	return http.NoBody
}

// limitedBody fails reads past its limit and records that it did, so that
// the failed exchange gets 413 rather than 502.
type limitedBody struct {
	rc       io.ReadCloser
	left     int64
	tooLarge bool
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Read one byte to tell the exact limit from more.
		var one [1]byte
		n, err := l.rc.Read(one[:])
		if n > 0 {
			l.tooLarge = true
			return 0, errBodyTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }

var errBodyTooLarge = errors.New("request body too large")

// prepareBody reads, converts or wraps the request body. It buffers the
// body when conversion needs it or when it is small enough to retry.
func (rt *Router) prepareBody(r *http.Request, route *Route, retry bool) (*body, error) {
	if r.Body == nil || r.Body == http.NoBody || (r.ContentLength == 0 && r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch) {
		return &body{buffered: true}, nil
	}
	conv := route.convert != nil && route.convert.request != "" && isJSON(r.Header.Get("Content-Type"))
	small := r.ContentLength >= 0 && r.ContentLength <= rt.retryBuf
	if !conv && (!retry || !small) {
		return &body{stream: &limitedBody{rc: r.Body, left: route.MaxBodyBytes}, length: r.ContentLength}, nil
	}

	data, err := httpx.ReadBody(r, route.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	if conv {
		if data, err = route.convert.convertRequest(data); err != nil {
			return nil, err
		}
		r.Header.Set("Content-Type", route.convert.requestType())
	}
	return &body{data: data, length: int64(len(data)), buffered: true}, nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// convertRequest converts a JSON request body to the upstream's format.
func (c *converter) convertRequest(data []byte) ([]byte, error) {
	var out []byte
	var err error
	if c.request == FormatXML {
		out, err = JSONToXML(data, c.root, c.maxDepth)
	} else {
		out, err = JSONToForm(data, c.maxDepth)
	}
	if err != nil {
		return nil, httpx.Wrap(CodeConvertFailed, err, err.Error())
	}
	return out, nil
}

func (c *converter) requestType() string {
	if c.request == FormatXML {
		return "application/xml; charset=utf-8"
	}
	return "application/x-www-form-urlencoded"
}

// failure kinds of an upstream attempt.
type failure uint8

const (
	failNone     failure = iota
	failTimeout          // the route or attempt deadline passed
	failError            // connection or protocol failure
	failCanceled         // the client went away
	failTooLarge         // the request body exceeded the route limit
)

// serveUpstream sends r to the pool's upstreams, retrying idempotent
// requests with replayable bodies on other upstreams, and writes the
// response or the gateway error.
func (rt *Router) serveUpstream(w http.ResponseWriter, r *http.Request, route *Route, p *pool, path, rawPath string) {
	ctx, cancel := context.WithTimeout(r.Context(), route.timeout)
	defer cancel()

	retry := route.retries > 0 && idempotent(r.Method)
	b, err := rt.prepareBody(r, route, retry)
	if err != nil {
		httpx.WriteError(w, r, rt.logger, err)
		return
	}
	attempts := 1
	if retry && b.buffered {
		attempts += route.retries
	}
	setForwarded(r.Header, r)
	if route.convert != nil && route.convert.response {
		// Without the client's Accept-Encoding the upstream responds in
		// plain text (http.Transport, the fallback for https, asks for gzip
		// itself and decompresses it), so conversion reads plain text.
		delete(r.Header, "Accept-Encoding")
	}

	var tried uint64
	u, idx := p.pick(tried)
	if u == nil {
		rt.writeFailure(w, r, route, ErrorUnavailable, CodeUpstreamUnavailable, errAllDown)
		return
	}
	for attempt := 1; ; attempt++ {
		tried |= 1 << uint(idx)
		res := rt.attempt(ctx, r, route, u, b, path, rawPath)
		resp, kind, err, done := res.resp, res.kind, res.err, res.done

		final := attempt >= attempts
		retryable := kind == failTimeout || kind == failError || (resp != nil && retryStatus(resp.StatusCode))
		var next *upstream
		var nextIdx int
		if !final && retryable {
			next, nextIdx = p.pick(tried)
			final = next == nil
		}

		if kind != failNone {
			done()
			if kind != failCanceled && kind != failTooLarge {
				p.report(u, false)
			}
			if !final {
				rt.logger.WarnContext(r.Context(), "retrying upstream request on another upstream",
					"route", route.Name, "upstream", u.raw, "attempt", attempt, "request_id", httpx.RequestID(r.Context()), "err", err)
				u, idx = next, nextIdx
				continue
			}
			rt.writeAttemptFailure(w, r, route, kind, err)
			return
		}

		ok := !retryStatus(resp.StatusCode)
		p.report(u, ok)
		if !ok && !final {
			drain(resp.Body)
			done()
			rt.logger.WarnContext(r.Context(), "retrying upstream request on another upstream",
				"route", route.Name, "upstream", u.raw, "attempt", attempt, "status", resp.StatusCode, "request_id", httpx.RequestID(r.Context()))
			u, idx = next, nextIdx
			continue
		}
		rt.writeResponse(w, r, route, resp)
		done()
		return
	}
}

var errAllDown = errors.New("every upstream of the target is down")

// retryStatus reports whether an upstream status means another upstream
// may do better.
func retryStatus(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// attemptResult is the outcome of one upstream attempt. done releases the
// attempt's context and must be called after the response body is
// consumed.
type attemptResult struct {
	resp *http.Response
	kind failure
	err  error
	done func()
}

// attempt sends one request to u.
func (rt *Router) attempt(ctx context.Context, r *http.Request, route *Route, u *upstream, b *body, path, rawPath string) attemptResult {
	done := func() {}
	if route.tryTimeout < route.timeout {
		ctx, done = context.WithTimeout(ctx, route.tryTimeout)
	}

	out := r.WithContext(ctx)
	out.URL = &url.URL{
		Scheme:   u.url.Scheme,
		Host:     u.url.Host,
		Path:     u.url.Path + path,
		RawQuery: r.URL.RawQuery,
	}
	if rawPath != "" {
		out.URL.RawPath = u.url.EscapedPath() + rawPath
	}
	out.Host = ""
	out.RequestURI = ""
	out.Close = false
	out.TransferEncoding = nil
	out.Trailer = nil
	out.Body = b.reader()
	out.ContentLength = b.length
	if b.buffered {
		if len(b.data) == 0 {
			out.ContentLength = 0
		}
		out.GetBody = func() (io.ReadCloser, error) { return b.reader(), nil }
	} else {
		out.GetBody = nil
	}

	resp, err := rt.transport.RoundTrip(out) //nolint:bodyclose // serveUpstream closes it through writeResponse or drain
	res := attemptResult{resp: resp, err: err, done: done}
	switch {
	case err == nil:
		res.kind = failNone
	case b.stream != nil && b.stream.tooLarge:
		res.kind = failTooLarge
	case r.Context().Err() != nil:
		res.kind = failCanceled
	case ctx.Err() != nil || isTimeout(err):
		res.kind = failTimeout
	default:
		res.kind = failError
	}
	return res
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeAttemptFailure writes the response to a request whose last attempt
// failed without a response.
func (rt *Router) writeAttemptFailure(w http.ResponseWriter, r *http.Request, route *Route, kind failure, err error) {
	switch kind {
	case failTooLarge:
		httpx.WriteError(w, r, rt.logger, httpx.Wrap(httpx.CodeBodyTooLarge, err, route.MaxBodyBytes))
	case failCanceled:
		// The client is gone, so this status only reaches access logs.
		rt.logger.DebugContext(r.Context(), "client went away before the upstream answered", "route", route.Name, "request_id", httpx.RequestID(r.Context()))
		w.WriteHeader(499)
	case failTimeout:
		rt.writeFailure(w, r, route, ErrorTimeout, CodeUpstreamTimeout, err)
	default:
		rt.writeFailure(w, r, route, ErrorUpstream, CodeUpstreamError, err)
	}
}

// writeFailure writes the route's template for key, or code.
func (rt *Router) writeFailure(w http.ResponseWriter, r *http.Request, route *Route, key string, code httpx.Code, cause error) {
	if t, ok := route.errors[key]; ok {
		code = t
	}
	httpx.WriteError(w, r, rt.logger, httpx.Wrap(code, cause))
}

func drain(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	_ = rc.Close()
}

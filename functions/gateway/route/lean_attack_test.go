package route_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/route"
)

// Attacks on LeanTransport by a hostile upstream or client. Where a test
// expects what http.Transport does, it runs the same exchange through
// both: the "std" subtest shows that the expectation holds for
// http.Transport, and the "lean" subtest fails while LeanTransport differs.

// bothTransports returns LeanTransport and http.Transport, each closed at
// the end of the test.
func bothTransports(t *testing.T, maxHeader int64) map[string]http.RoundTripper {
	t.Helper()
	lean := &route.LeanTransport{MaxResponseHeaderBytes: maxHeader}
	std := &http.Transport{MaxResponseHeaderBytes: maxHeader, DisableCompression: true}
	t.Cleanup(lean.CloseIdleConnections)
	t.Cleanup(std.CloseIdleConnections)
	return map[string]http.RoundTripper{"lean": lean, "std": std}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// An upstream may respond before it has read the request body, as one that
// rejects an upload as too large does. A client should watch for that
// response while it sends the body (RFC 2616, section 8.2.2), so the caller
// gets the 413 and not a write error or a timeout.
func TestLeanAttack_earlyResponse(t *testing.T) {
	t.Parallel()
	for _, closes := range []bool{false, true} {
		done := make(chan struct{})
		url := rawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
			if closes {
				// As net/http's server does: stop writing, wait a little,
				// then close with the body unread, which resets the
				// connection.
				_ = c.(*net.TCPConn).CloseWrite()
				time.Sleep(200 * time.Millisecond)
				return
			}
			// Keep the connection open and never read the body.
			select {
			case <-done:
			case <-time.After(5 * time.Second):
			}
		})
		t.Cleanup(func() { close(done) })
		for name, tr := range bothTransports(t, 0) {
			t.Run(fmt.Sprintf("%s/closes=%v", name, closes), func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				const size = 64 << 20
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/upload", io.LimitReader(zeros{}, size))
				req.ContentLength = size
				start := time.Now()
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatalf("early 413: error = %v after %v, want the 413", err, time.Since(start).Round(time.Millisecond))
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge {
					t.Errorf("status = %d, want 413", resp.StatusCode)
				}
			})
		}
	}
}

// Informational responses must not let an upstream send header bytes
// without end: http.Transport counts them all against
// MaxResponseHeaderBytes.
func TestLeanAttack_informationalFlood(t *testing.T) {
	t.Parallel()
	url := rawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		if _, err := readRequest(br); err != nil {
			return
		}
		bw := bufio.NewWriter(c)
		for range 40000 { // about 1 MiB
			if _, err := io.WriteString(bw, "HTTP/1.1 103 Early Hints\r\n\r\n"); err != nil {
				return
			}
		}
		_, _ = io.WriteString(bw, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_ = bw.Flush()
		_, _ = io.Copy(io.Discard, br)
	})
	for name, tr := range bothTransports(t, 64<<10) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_ = resp.Body.Close()
				t.Errorf("1 MiB of 103 responses before the final one: status %d, want an error past the 64 KiB header limit", resp.StatusCode)
			}
		})
	}
}

// After a body read fails or the body is closed, further reads must keep
// failing: an io.EOF would make a cut-off body look complete.
func TestLeanAttack_readAfterFailure(t *testing.T) {
	t.Parallel()
	url := rawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		req, err := readRequest(br)
		if err != nil {
			return
		}
		if req.URL.Path == "/cut" {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf.")
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
	})
	for name, tr := range bothTransports(t, 0) {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, url+"/cut", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut body: error = %v, want unexpected EOF", err)
			}
			buf := make([]byte, 8)
			if _, err := resp.Body.Read(buf); err == io.EOF || err == nil {
				t.Errorf("Read after a failed Read: error = %v, want the failure again", err)
			}

			req, _ = http.NewRequest(http.MethodGet, url+"/whole", nil)
			resp2, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(resp2.Body, buf[:4]); err != nil {
				t.Fatal(err)
			}
			_ = resp2.Body.Close()
			if _, err := resp2.Body.Read(buf); err == io.EOF || err == nil {
				t.Errorf("Read after Close: error = %v, want an error other than io.EOF", err)
			}
		})
	}
}

// A deadline that passes while the request body is being written yields
// DeadlineExceeded, as one that passes while waiting for the response
// does. net/http wraps every failure of the body copy, write failures
// included, in a body read error that hides the connection's timeout.
func TestLeanAttack_bodyWriteTimeout(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	url := rawUpstream(t, func(_ int, _ net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		// Read no body and send no response.
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	})
	t.Cleanup(func() { close(done) })
	for name, tr := range bothTransports(t, 0) {
		t.Run(name, func(t *testing.T) {
			for range 5 {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				const size = 64 << 20
				req, _ := http.NewRequestWithContext(ctx, http.MethodPut, url, io.LimitReader(zeros{}, size))
				req.ContentLength = size
				resp, err := tr.RoundTrip(req)
				cancel()
				if err == nil {
					_ = resp.Body.Close()
					t.Fatal("error = nil")
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("upload past the deadline: error = %v, want DeadlineExceeded", err)
				}
			}
		})
	}
}

// The error of a failed request body read must stay reachable with
// errors.Is, as with http.Transport. net/http wraps it in
// requestBodyReadError, which it documents must not reach users and which
// has no Unwrap.
func TestLeanAttack_bodyReadError(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, func(_ http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	errClientGone := errors.New("client went away")
	for name, tr := range bothTransports(t, 0) {
		t.Run(name, func(t *testing.T) {
			body := io.MultiReader(strings.NewReader("some bytes"), iotestErrReader{errClientGone})
			req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_ = resp.Body.Close()
				t.Fatal("error = nil for a failing request body")
			}
			if !errors.Is(err, errClientGone) {
				t.Errorf("error = %v (%T); errors.Is(err, the body's error) = false", err, err)
			}
		})
	}
}

type iotestErrReader struct{ err error }

func (r iotestErrReader) Read([]byte) (int, error) { return 0, r.err }

// An invalid method must be rejected, as http.Transport rejects it, and
// not written unchanged: a method that contains CRLF smuggles a second
// request.
func TestLeanAttack_invalidMethod(t *testing.T) {
	t.Parallel()
	var seen atomic.Int64
	url := rawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			if _, err := readRequest(br); err != nil {
				return
			}
			seen.Add(1)
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	for name, tr := range bothTransports(t, 0) {
		t.Run(name, func(t *testing.T) {
			seen.Store(0)
			req, _ := http.NewRequest(http.MethodGet, url+"/x", nil)
			req.Method = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\nGET"
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				time.Sleep(50 * time.Millisecond)
				t.Errorf("method with CRLF: sent, and the upstream read %d requests; want an error", seen.Load())
			}
		})
	}
}

// A request on a pooled connection may be sent again only when the
// upstream sent no response bytes, as when it closed the idle connection.
// Once part of a response has arrived, the upstream has processed the
// request, and a second send repeats it.
func TestLeanAttack_retryPartialResponse(t *testing.T) {
	t.Parallel()
	for name, tr := range bothTransports(t, 0) {
		t.Run(name, func(t *testing.T) {
			var seen atomic.Int64
			url := droppingUpstream(t, &seen, "HTTP/1.1 200 OK\r\nContent-Le", func(n, i int) bool { return n == 0 && i == 1 })
			t.Cleanup(tr.(interface{ CloseIdleConnections() }).CloseIdleConnections)
			if _, _, err := leanDo(t, tr, http.MethodGet, url, ""); err != nil {
				t.Fatal(err)
			}
			_, _, _ = leanDo(t, tr, http.MethodGet, url, "")
			if n := seen.Load(); n != 2 {
				t.Errorf("requests seen = %d, want 2: a request with a partial response was sent again", n)
			}
		})
	}
}

// Bytes that an upstream sends beyond a response must never be read as
// the response to the next request on that connection.
func TestLeanAttack_extraResponseBytes(t *testing.T) {
	t.Parallel()
	const smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"
	cases := []struct {
		name, method, answer string
		delay                bool // send the extra bytes 50ms after the response
	}{
		{"past Content-Length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + smuggled, false},
		{"past Content-Length, late", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true},
		{"past the last chunk", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + smuggled, false},
		{"HEAD with a body", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n" + "smuggled", false},
		{"HEAD with a body, late", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n", true},
		{"204 with a body", "DELETE", "HTTP/1.1 204 No Content\r\nContent-Length: 8\r\n\r\n" + smuggled, false},
		{"304 with a body", "GET", "HTTP/1.1 304 Not Modified\r\nContent-Length: 8\r\n\r\n" + smuggled, false},
		{"second response unasked", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := rawUpstream(t, func(_ int, conn net.Conn, br *bufio.Reader) {
				for {
					req, err := readRequest(br)
					if err != nil {
						return
					}
					if req.URL.Path == "/next" {
						_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
						continue
					}
					_, _ = io.WriteString(conn, c.answer)
					if c.delay {
						time.Sleep(50 * time.Millisecond)
						_, _ = io.WriteString(conn, smuggled)
					}
				}
			})
			tr := newLean(t)
			if _, _, err := leanDo(t, tr, c.method, url+"/first", ""); err != nil {
				t.Fatal(err)
			}
			time.Sleep(150 * time.Millisecond)
			for range 2 {
				status, body, err := leanDo(t, tr, http.MethodGet, url+"/next", "")
				if err != nil || status != 200 || body != "fresh" {
					t.Fatalf("next request = %d %q, %v; want 200 fresh", status, body, err)
				}
			}
		})
	}
}

// Malformed or cut-off responses fail their own request, and the next
// request goes through.
func TestLeanAttack_malformedResponses(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"cut in the header":       "HTTP/1.1 200 OK\r\nContent-Len",
		"cut in a sized body":     "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"cut in a chunk":          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nabc",
		"no last chunk":           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
		"huge chunk size":         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc",
		"bad chunk size":          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
		"two Content-Lengths":     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
		"negative Content-Length": "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc",
		"not HTTP":                "SSH-2.0-OpenSSH\r\n\r\n",
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url := rawUpstream(t, func(_ int, conn net.Conn, br *bufio.Reader) {
				req, err := readRequest(br)
				if err != nil {
					return
				}
				if req.URL.Path == "/next" {
					_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
					return
				}
				_, _ = io.WriteString(conn, answer)
			})
			tr := newLean(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/bad", nil)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
			}
			if err == nil {
				t.Errorf("%q: error = nil", answer)
			}
			if ctx.Err() != nil {
				t.Errorf("%q: hung until the deadline", answer)
			}
			status, body, err := leanDo(t, tr, http.MethodGet, url+"/next", "")
			if err != nil {
				t.Fatalf("next request: %v", err)
			}
			if status != 200 || body != "fresh" {
				t.Errorf("next request = %d %q, want 200 fresh", status, body)
			}
		})
	}
}

// A request whose context has already ended must not reach the upstream,
// even when an idle connection is at hand.
func TestLeanAttack_endedContext(t *testing.T) {
	t.Parallel()
	for name, tr := range bothTransports(t, 0) {
		t.Run(name, func(t *testing.T) {
			var posts atomic.Int64
			srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					posts.Add(1)
				}
				_, _ = io.WriteString(w, "ok")
			})
			for range 20 {
				if _, _, err := leanDo(t, tr, http.MethodGet, srv.URL, ""); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("pay"))
				if resp, err := tr.RoundTrip(req); err == nil {
					_ = resp.Body.Close()
					t.Fatal("error = nil for an ended context")
				}
			}
			time.Sleep(50 * time.Millisecond)
			if n := posts.Load(); n != 0 {
				t.Errorf("upstream ran %d of 20 POSTs whose context had ended before RoundTrip", n)
			}
		})
	}
}

// RoundTrip closes the request body whatever the outcome, as the
// RoundTripper contract requires.
func TestLeanAttack_closesRequestBody(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := "http://" + ln.Addr().String()
	_ = ln.Close()
	tr := newLean(t)
	for _, url := range []string{srv.URL, closedPort} {
		body := &closeRecorder{Reader: strings.NewReader("body")}
		req, _ := http.NewRequest(http.MethodPost, url, body)
		if resp, err := tr.RoundTrip(req); err == nil {
			_ = resp.Body.Close()
		}
		if !body.closed.Load() {
			t.Errorf("%s: request body not closed", url)
		}
	}
}

type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error {
	c.closed.Store(true)
	return nil
}

// Chunked responses with trailers deliver the trailers and keep the
// connection.
func TestLeanAttack_chunkedTrailers(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		_, _ = io.WriteString(w, "data")
		w.(http.Flusher).Flush()
		w.Header().Set("X-Sum", "42")
	})
	tr := newLean(t)
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != "data" {
			t.Errorf("body = %q, want data", b)
		}
		if got := resp.Trailer.Get("X-Sum"); got != "42" {
			t.Errorf("trailer X-Sum = %q, want 42", got)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("connections = %d, want 1", n)
	}
}

// A request body that fails part-way must not leave half a request on a
// connection that carries the next one.
func TestLeanAttack_failedRequestBody(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %s %q %v", r.Method, r.URL.Path, b, err != nil))
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	})
	tr := newLean(t)
	if _, _, err := leanDo(t, tr, http.MethodGet, srv.URL+"/warm", ""); err != nil {
		t.Fatal(err)
	}
	for _, length := range []int64{-1, 100} {
		body := io.MultiReader(strings.NewReader("GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"), iotestErrReader{errors.New("boom")})
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/post", body)
		req.ContentLength = length
		if resp, err := tr.RoundTrip(req); err == nil {
			_ = resp.Body.Close()
			t.Fatal("error = nil for a failing body")
		}
		if status, body, err := leanDo(t, tr, http.MethodGet, srv.URL+"/next", ""); err != nil || status != 200 || body != "ok" {
			t.Fatalf("next = %d %q, %v", status, body, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for _, g := range got {
		if strings.HasPrefix(g, "GET /smuggled") {
			t.Errorf("upstream saw a smuggled request: %v", got)
		}
	}
}

// Header values with CR or LF are not sent as separate fields.
func TestLeanAttack_headerInjection(t *testing.T) {
	t.Parallel()
	var seen atomic.Int64
	var injected atomic.Bool
	url := rawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			seen.Add(1)
			if req.Header.Get("X-Injected") != "" || req.URL.Path == "/smuggled" {
				injected.Store(true)
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
	})
	tr := newLean(t)
	req, _ := http.NewRequest(http.MethodGet, url+"/x", nil)
	req.Header["X-Note"] = []string{"a\r\nX-Injected: 1\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a"}
	req.Header["X-Bad\r\nX-Injected"] = []string{"1"}
	req.Host = "a\r\nX-Injected: 1"
	if resp, err := tr.RoundTrip(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	time.Sleep(50 * time.Millisecond)
	if injected.Load() || seen.Load() > 1 {
		t.Errorf("a header value or name with CRLF reached the upstream as its own field or request (%d requests)", seen.Load())
	}
}

// The Host, User-Agent, Content-Length and Transfer-Encoding that the
// upstream receives match http.Transport's. Only Accept-Encoding differs,
// by design, and this test does not compare it.
func TestLeanAttack_requestHeadersLikeStd(t *testing.T) {
	t.Parallel()
	type seenReq struct {
		host, ua string
		hasUA    bool
		length   int64
		te       []string
		body     string
	}
	var mu sync.Mutex
	var last seenReq
	srv := newCountingServer(t, func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, hasUA := r.Header["User-Agent"]
		mu.Lock()
		last = seenReq{r.Host, r.Header.Get("User-Agent"), hasUA, r.ContentLength, r.TransferEncoding, string(b)}
		mu.Unlock()
	})
	type reqCase struct {
		name   string
		method string
		body   io.Reader
		length int64
		host   string
		ua     []string // nil: unset
	}
	cases := []reqCase{
		{"POST empty", "POST", http.NoBody, 0, "", nil},
		{"POST nil body", "POST", nil, 0, "", []string{""}},
		{"PUT unknown length", "PUT", strings.NewReader("abc"), -1, "", []string{"agent/1"}},
		{"PATCH sized", "PATCH", strings.NewReader("abcd"), 4, "api.example", nil},
		{"GET", "GET", nil, 0, "other.example:81", []string{""}},
		{"DELETE zero-length body", "DELETE", strings.NewReader(""), 0, "", nil},
	}
	send := func(tr http.RoundTripper, c reqCase) seenReq {
		req, _ := http.NewRequest(c.method, srv.URL, nil)
		if c.body != nil {
			req.Body = io.NopCloser(c.body)
			if c.body == http.NoBody {
				req.Body = http.NoBody
			}
		}
		req.ContentLength = c.length
		req.Host = c.host
		if c.ua != nil {
			req.Header["User-Agent"] = c.ua
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		mu.Lock()
		defer mu.Unlock()
		return last
	}
	trs := bothTransports(t, 0)
	for _, c := range cases {
		// Each body is read once, so build a second one for the other
		// transport.
		c2 := c
		if r, ok := c.body.(*strings.Reader); ok {
			b, _ := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
			c2.body = strings.NewReader(string(b))
		}
		lean, std := send(trs["lean"], c), send(trs["std"], c2)
		if fmt.Sprint(lean) != fmt.Sprint(std) {
			t.Errorf("%s: upstream saw %+v from LeanTransport, %+v from http.Transport", c.name, lean, std)
		}
	}
}

// Many concurrent requests that end in every way, while idle connections
// are being closed, leave no goroutines behind.
func TestLeanAttack_goroutineLeaks(t *testing.T) {
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = io.WriteString(w, strings.Repeat("x", 64<<10))
		case "/chunked":
			_, _ = io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "b")
		case "/slow":
			_, _ = io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		default:
			_, _ = io.WriteString(w, "ok")
		}
	})
	tr := &route.LeanTransport{}
	before := runtime.NumGoroutine()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	closer := make(chan struct{})
	go func() {
		defer close(closer)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				tr.CloseIdleConnections()
			}
		}
	}()

	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				path := []string{"/ok", "/big", "/chunked", "/slow"}[(g+i)%4]
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					cancel()
					t.Error(err)
					return
				}
				switch {
				case i%3 == 1:
					_, _ = resp.Body.Read(make([]byte, 1))
				case path == "/slow":
					// End the stalled body by cancelling.
					_, _ = resp.Body.Read(make([]byte, 1))
					cancel()
					_, _ = io.ReadAll(resp.Body)
				default:
					_, _ = io.ReadAll(resp.Body)
				}
				_ = resp.Body.Close()
				cancel()
			}
		}()
	}
	wg.Wait()

	close(stop)
	<-closer
	tr.CloseIdleConnections()
	srv.CloseClientConnections()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("goroutines = %d after the requests, %d before", n, before)
	}
}

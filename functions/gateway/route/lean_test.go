package route_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/route"
)

// countingServer is an httptest server that counts the connections it
// accepted.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newCountingServer(t *testing.T, h http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// leanDo sends one request through tr and returns the status and body.
func leanDo(t *testing.T, tr http.RoundTripper, method, url, body string) (int, string, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func newLean(t *testing.T) *route.LeanTransport {
	t.Helper()
	tr := route.NewLeanTransport()
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func TestLeanTransport_reusesConnections(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length: chunked
			_, _ = w.Write(b)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), b)
		}
	})
	tr := newLean(t)
	cases := []struct{ method, path, body, want string }{
		{"GET", "/a?x=1", "", "GET /a?x=1 "},
		{"POST", "/b", "hello", "POST /b hello"},
		{"POST", "/chunked", "streamed", "streamed"},
		{"DELETE", "/empty", "", ""},
		{"HEAD", "/c", "", ""},
		{"PUT", "/d", "after head", "PUT /d after head"},
	}
	for _, c := range cases {
		status, body, err := leanDo(t, tr, c.method, srv.URL+c.path, c.body)
		if err != nil || status >= 300 || body != c.want {
			t.Fatalf("%s %s = %d %q, %v; want %q", c.method, c.path, status, body, err, c.want)
		}
	}
	if n := srv.conns.Load(); n != 1 {
		t.Errorf("connections = %d, want 1 for %d sequential requests", n, len(cases))
	}
}

func TestLeanTransport_unreadBodyClosesConnection(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 1<<20)
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = io.WriteString(w, big)
			return
		}
		_, _ = io.WriteString(w, "small")
	})

	tr := newLean(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/big", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}

	// Close must not read the remaining megabyte.
	start := time.Now()
	_ = resp.Body.Close()
	if _, err := resp.Body.Read(buf); err == nil {
		t.Error("Read after Close: error = nil")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}

	if status, body, err := leanDo(t, tr, "GET", srv.URL+"/small", ""); err != nil || status != 200 || body != "small" {
		t.Fatalf("next request = %d %q, %v", status, body, err)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("connections = %d, want 2: a connection with an unread body is never reused", n)
	}
}

func TestLeanTransport_connectionClose(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, "bye")
	})
	tr := newLean(t)
	for range 3 {
		if status, body, err := leanDo(t, tr, "POST", srv.URL, "x"); err != nil || status != 200 || body != "bye" {
			t.Fatalf("= %d %q, %v", status, body, err)
		}
	}
	if n := srv.conns.Load(); n != 3 {
		t.Errorf("connections = %d, want 3 when the upstream closes each", n)
	}
}

// A POST, which is never sent twice, must not land on a connection that
// the upstream closed while it sat in the pool.
func TestLeanTransport_upstreamClosedIdleConnection(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	tr := newLean(t)
	if _, _, err := leanDo(t, tr, "POST", srv.URL, "1"); err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, body, err := leanDo(t, tr, "POST", srv.URL, "2")
		if err != nil || status != 200 || body != "ok" {
			t.Fatalf("POST after the upstream closed the idle connection = %d %q, %v", status, body, err)
		}
		if srv.conns.Load() == 2 || time.Now().After(deadline) {
			break
		}
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("connections = %d, want 2", n)
	}
}

// rawUpstream serves each accepted connection with serve, for responses
// that net/http would not send.
func rawUpstream(t *testing.T, serve func(n int, c net.Conn, br *bufio.Reader)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readRequest reads one request and its body from br.
func readRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, req.Body)
	return req, nil
}

// okResponse is a whole response with the body "ok".
const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// droppingUpstream responds okResponse to each request and counts the
// requests in seen. For request i on connection n where drop(n, i) is
// true, it writes partial instead and closes the connection.
func droppingUpstream(t *testing.T, seen *atomic.Int64, partial string, drop func(n, i int) bool) string {
	t.Helper()
	return rawUpstream(t, func(n int, c net.Conn, br *bufio.Reader) {
		for i := 0; ; i++ {
			if _, err := readRequest(br); err != nil {
				return
			}
			seen.Add(1)
			if drop(n, i) {
				_, _ = io.WriteString(c, partial)
				return
			}
			_, _ = io.WriteString(c, okResponse)
		}
	})
}

// A connection that the upstream drops after reading a request carries a
// safe request once more on a new connection, and never a POST.
func TestLeanTransport_replaysOnlyIdempotentRequests(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	// The first connection responds once, then drops the next request
	// without a response, as an upstream that restarts would.
	url := droppingUpstream(t, &requests, "", func(n, i int) bool { return n == 0 && i == 1 })

	tr := newLean(t)
	if _, _, err := leanDo(t, tr, "GET", url, ""); err != nil {
		t.Fatal(err)
	}
	status, body, err := leanDo(t, tr, "GET", url, "")
	if err != nil || status != 200 || body != "ok" {
		t.Fatalf("GET on the dropped connection = %d %q, %v; want it sent again", status, body, err)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("requests seen = %d, want 3", n)
	}

	tr2 := newLean(t)
	requests.Store(0)
	url2 := droppingUpstream(t, &requests, "", func(_, i int) bool { return i == 1 })
	if _, _, err := leanDo(t, tr2, "POST", url2, "1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := leanDo(t, tr2, "POST", url2, "2"); err == nil {
		t.Error("POST dropped by the upstream: error = nil")
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("requests seen = %d, want 2: a POST is never sent twice", n)
	}
}

func TestLeanTransport_informationalAndOversizedHeaders(t *testing.T) {
	t.Parallel()
	url := rawUpstream(t, func(_ int, c net.Conn, br *bufio.Reader) {
		for {
			req, err := readRequest(br)
			if err != nil {
				return
			}
			switch req.URL.Path {
			case "/early":
				_, _ = io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"+
					"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nmain")
			case "/huge":
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 80<<10)+"\r\nContent-Length: 0\r\n\r\n")
			case "/switch":
				_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
			}
		}
	})
	tr := newLean(t)
	if status, body, err := leanDo(t, tr, "GET", url+"/early", ""); err != nil || status != 200 || body != "main" {
		t.Errorf("after 103 = %d %q, %v; want 200 main", status, body, err)
	}
	if _, _, err := leanDo(t, tr, "GET", url+"/huge", ""); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("80 KiB header: error = %v, want too large", err)
	}
	if _, _, err := leanDo(t, tr, "GET", url+"/switch", ""); err == nil {
		t.Error("unasked 101: error = nil")
	}
}

func TestLeanTransport_contextEndsExchange(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newCountingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			_, _ = io.WriteString(w, "first part")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tr := newLean(t)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/stall", nil)
	start := time.Now()
	_, err := tr.RoundTrip(req) //nolint:bodyclose // the request fails
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled upstream: error = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("deadline took %v to end the request", d)
	}

	ctx2, cancel2 := context.WithCancel(context.Background())
	req, _ = http.NewRequestWithContext(ctx2, http.MethodGet, srv.URL+"/body", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, len("first part"))
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel2()
	if _, err := resp.Body.Read(buf); err == nil {
		t.Error("Read after cancel: error = nil")
	}
}

type recordingTransport struct{ urls []string }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return &http.Response{StatusCode: 299, Body: http.NoBody, Request: req}, nil
}

func TestLeanTransport_fallback(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {})
	fb := &recordingTransport{}
	tr := &route.LeanTransport{Fallback: fb}
	t.Cleanup(tr.CloseIdleConnections)

	for _, c := range []struct {
		url    string
		header string
	}{
		{"https://upstream.invalid/x", ""},
		{srv.URL + "/ws", "Upgrade: websocket"},
		{srv.URL + "/big", "Expect: 100-continue"},
	} {
		req, _ := http.NewRequest(http.MethodPost, c.url, strings.NewReader("b"))
		if name, value, ok := strings.Cut(c.header, ": "); ok {
			req.Header.Set(name, value)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil || resp.StatusCode != 299 {
			t.Errorf("%s %s: fallback not used (%v)", c.url, c.header, err)
		}
	}
	if len(fb.urls) != 3 || srv.conns.Load() != 0 {
		t.Errorf("fallback saw %v and the upstream %d connections", fb.urls, srv.conns.Load())
	}

	bare := &route.LeanTransport{}
	req, _ := http.NewRequest(http.MethodGet, "https://upstream.invalid/", nil)
	if _, err := bare.RoundTrip(req); err == nil { //nolint:bodyclose // the request fails
		t.Error("https without a fallback: error = nil")
	}
}

func TestLeanTransport_idlePoolBounds(t *testing.T) {
	t.Parallel()
	srv := newCountingServer(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	tr := &route.LeanTransport{MaxIdlePerHost: 1, IdleTimeout: 50 * time.Millisecond}
	t.Cleanup(tr.CloseIdleConnections)

	// Two responses open at once need two connections; only one stays.
	open := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	a, b := open(), open()
	for _, resp := range []*http.Response{a, b} {
		_, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
	}
	if _, _, err := leanDo(t, tr, "GET", srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	if n := srv.conns.Load(); n != 2 {
		t.Errorf("connections = %d, want 2: the pooled one is reused", n)
	}
	// Past the idle timeout the pooled connection is not used.
	time.Sleep(100 * time.Millisecond)
	if _, _, err := leanDo(t, tr, "GET", srv.URL, ""); err != nil {
		t.Fatal(err)
	}
	if n := srv.conns.Load(); n != 3 {
		t.Errorf("connections = %d, want 3 after the idle timeout", n)
	}
}

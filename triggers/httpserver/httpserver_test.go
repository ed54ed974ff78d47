package httpserver_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/triggers/httpserver"
)

// slowHandler serves /fast at once and holds /slow until release is closed.
// started receives one value when a /slow request begins.
type slowHandler struct {
	started chan struct{}
	release chan struct{}
}

func newSlowHandler() *slowHandler {
	return &slowHandler{started: make(chan struct{}, 1), release: make(chan struct{})}
}

func (h *slowHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/fast" {
		_, _ = io.WriteString(w, "fast")
		return
	}

	h.started <- struct{}{}
	<-h.release
	if err := r.Context().Err(); err != nil {
		_, _ = io.WriteString(w, "request context ended: "+err.Error())
		return
	}
	_, _ = io.WriteString(w, "slow")
}

type result struct {
	status int
	body   string
	err    error
}

func get(client *http.Client, url string) result {
	resp, err := client.Get(url)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, body: string(body), err: err}
}

// startServer serves h on a loopback port and returns its base URL and the
// channel that receives Serve's result.
func startServer(t *testing.T, ctx context.Context, h http.Handler, cfg httpserver.Config) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- httpserver.Serve(ctx, ln, h, cfg) }()
	return "http://" + ln.Addr().String(), done
}

func TestServeDrainsInFlightRequest(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newSlowHandler()
	base, done := startServer(t, ctx, h, httpserver.Config{DrainTimeout: 10 * time.Second})
	client := &http.Client{Timeout: 10 * time.Second}

	if r := get(client, base+"/fast"); r.err != nil || r.status != http.StatusOK || r.body != "fast" {
		t.Fatalf("GET /fast = %d %q %v, want 200 fast", r.status, r.body, r.err)
	}

	slow := make(chan result, 1)
	go func() { slow <- get(client, base+"/slow") }()
	<-h.started
	cancel()

	// The listener closes while the slow request is still running.
	waitRefused(t, strings.TrimPrefix(base, "http://"))
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v with a request in flight", err)
	default:
	}

	close(h.release)
	if r := <-slow; r.err != nil || r.status != http.StatusOK || r.body != "slow" {
		t.Errorf("GET /slow = %d %q %v, want 200 slow", r.status, r.body, r.err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil after a complete drain", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
}

// waitRefused waits until connections to addr are refused.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		_ = conn.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections after shutdown began", addr)
}

func TestServeDrainTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := newSlowHandler()
	defer close(h.release)
	base, done := startServer(t, ctx, h, httpserver.Config{DrainTimeout: 100 * time.Millisecond})

	slow := make(chan result, 1)
	go func() { slow <- get(&http.Client{Timeout: 10 * time.Second}, base+"/slow") }()
	<-h.started
	cancel()

	select {
	case err := <-done:
		if !errors.Is(err, httpserver.ErrDrainTimeout) {
			t.Errorf("Serve = %v, want ErrDrainTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the drain timeout")
	}
	if r := <-slow; r.err == nil {
		t.Errorf("GET /slow = %d %q, want the connection closed", r.status, r.body)
	}
}

func TestServeReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, _ := startServer(t, ctx, newSlowHandler(), httpserver.Config{ReadHeaderTimeout: 50 * time.Millisecond})

	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	defer conn.Close()
	_, _ = io.WriteString(conn, "GET /fast HTTP/1.1\r\n") // never finishes the header

	start := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(conn)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("server kept a connection with an unfinished header for %v", time.Since(start))
	}
}

func TestListenAndServeInvalidAddr(t *testing.T) {
	t.Parallel()
	err := httpserver.ListenAndServe(context.Background(), http.NotFoundHandler(), httpserver.Config{Addr: "127.0.0.1:-1"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:-1") {
		t.Errorf("ListenAndServe = %v, want an error naming the address", err)
	}
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		want     httpserver.Config
		wantErrs []string
	}{
		{
			name: "unset",
			env:  map[string]string{},
			want: httpserver.Config{},
		},
		{
			name: "knative port",
			env:  map[string]string{"PORT": "9000"},
			want: httpserver.Config{Addr: ":9000"},
		},
		{
			name: "explicit address wins",
			env:  map[string]string{"PORT": "9000", "JT_HTTP_ADDR": "127.0.0.1:8082"},
			want: httpserver.Config{Addr: "127.0.0.1:8082"},
		},
		{
			name: "timeouts",
			env: map[string]string{
				"JT_HTTP_READ_HEADER_TIMEOUT": "2s",
				"JT_HTTP_READ_TIMEOUT":        "1m",
				"JT_HTTP_WRITE_TIMEOUT":       "-1s",
				"JT_HTTP_IDLE_TIMEOUT":        "5m",
				"JT_HTTP_DRAIN_TIMEOUT":       "25s",
			},
			want: httpserver.Config{
				ReadHeaderTimeout: 2 * time.Second,
				ReadTimeout:       time.Minute,
				WriteTimeout:      -time.Second,
				IdleTimeout:       5 * time.Minute,
				DrainTimeout:      25 * time.Second,
			},
		},
		{
			name:     "every invalid value reported",
			env:      map[string]string{"PORT": "http", "JT_HTTP_READ_TIMEOUT": "30", "JT_HTTP_IDLE_TIMEOUT": "soon"},
			wantErrs: []string{`PORT "http"`, `JT_HTTP_READ_TIMEOUT "30"`, `JT_HTTP_IDLE_TIMEOUT "soon"`},
		},
		{
			name:     "port out of range",
			env:      map[string]string{"PORT": "70000"},
			wantErrs: []string{`PORT "70000"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lookup := func(key string) (string, bool) {
				v, ok := tt.env[key]
				return v, ok
			}

			got, err := httpserver.ConfigFromEnv(lookup)
			if len(tt.wantErrs) > 0 {
				if err == nil {
					t.Fatalf("ConfigFromEnv = %+v, want an error", got)
				}
				for _, want := range tt.wantErrs {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not mention %s", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			if got != tt.want {
				t.Errorf("ConfigFromEnv = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestServeHeaderLimit sends oversized request lines over a real socket: a
// target over httpx.FunctionMaxHeaderBytes gets the JSON 431 of every other
// rejection, and one over httpx.ServerMaxHeaderBytes is refused by
// net/http before any handler runs.
func TestServeHeaderLimit(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base, _ := startServer(t, ctx, newSlowHandler(), httpserver.Config{})
	addr := strings.TrimPrefix(base, "http://")

	tests := []struct {
		name       string
		size       int
		wantStatus int
		wantJSON   bool
	}{
		{name: "within the limit", size: 1 << 10, wantStatus: http.StatusOK},
		{name: "over the edge limit, within the function limit", size: httpx.MaxHeaderBytes + 1, wantStatus: http.StatusOK},
		{name: "over the function limit", size: httpx.FunctionMaxHeaderBytes + 1, wantStatus: http.StatusRequestHeaderFieldsTooLarge, wantJSON: true},
		{name: "over the server limit", size: httpx.ServerMaxHeaderBytes + 8<<10, wantStatus: http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dialing: %v", err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			target := "/fast?q=" + strings.Repeat("a", tt.size)
			if _, err := io.WriteString(conn, "GET "+target+" HTTP/1.1\r\nHost: test\r\nAccept-Language: en\r\n\r\n"); err != nil {
				t.Fatalf("writing: %v", err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the response: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			isJSON := strings.Contains(string(body), `"code":"HEADERS_TOO_LARGE"`)
			if isJSON != tt.wantJSON {
				t.Errorf("JSON error body = %t, want %t; body %s", isJSON, tt.wantJSON, body)
			}
			if tt.wantJSON && !strings.Contains(string(body), "exceed the limit of 81920 bytes") {
				t.Errorf("body = %s, want the English message with the limit", body)
			}
		})
	}
}

package localdev

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/httpx"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// startServer runs localdev on a free loopback port until the test ends and
// returns its base URL and data directory.
func startServer(t *testing.T) (baseURL, dataDir string) {
	t.Helper()
	r := startServerWith(t, nil)
	return r.base, r.dataDir
}

// running is a localdev instance that a test started.
type running struct {
	base    string
	dataDir string
	srv     *Server
}

// startServerWith is startServer with the variables vars, and returns the
// server too.
func startServerWith(t *testing.T, vars map[string]string) running {
	t.Helper()
	dataDir := t.TempDir()
	cfg := Config{Addr: "127.0.0.1:0", DataDir: dataDir, DrainTimeout: 5 * time.Second, OperatorTokenFile: filepath.Join(dataDir, OperatorTokenFile)}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }

	ctx, cancel := context.WithCancel(context.Background())
	srv, err := New(ctx, cfg, lookup, discardLogger())
	if err != nil {
		cancel()
		t.Fatalf("localdev.New: %v", err)
	}

	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, func(addr string) { addrs <- addr }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
		srv.Close()
	})

	select {
	case addr := <-addrs:
		return running{base: "http://" + addr, dataDir: dataDir, srv: srv}
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("localdev did not start within 10s")
	}
	return running{}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func get(t *testing.T, url string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func TestHealthAndMetrics(t *testing.T) {
	base, _ := startServer(t)

	for _, path := range []string{"/healthz", "/readyz", "/api/zones/healthz", "/function/zones/readyz", "/metrics"} {
		if r := get(t, base+path, nil); r.status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, r.status)
		}
	}

	get(t, base+"/api/zones/zones?kind=life", nil)
	metrics := get(t, base+"/metrics", nil)
	if !strings.Contains(string(metrics.body), `jt_http_requests_total{code="200",function="zones",method="GET"}`) {
		t.Errorf("/metrics lacks the zones request counter")
	}
}

func TestPlaceholderPages(t *testing.T) {
	base, _ := startServer(t)

	page := get(t, base+"/h5/jinjingzheng-apply", nil)
	if page.status != http.StatusOK || !strings.Contains(string(page.body), "jinjingzheng-apply") {
		t.Errorf("GET /h5/jinjingzheng-apply = %d, want 200 naming the service", page.status)
	}
	if r := get(t, base+"/h5/..%2Fetc", nil); r.status != http.StatusBadRequest || errorCode(r.body) != "ROUTE_INVALID_PATH" {
		t.Errorf("GET /h5/..%%2Fetc = %d %s, want 400 ROUTE_INVALID_PATH", r.status, r.body)
	}
	for _, path := range []string{"/h5/..etc", "/h5/Bad_ID", "/static/bad%20name.svg"} {
		if r := get(t, base+path, nil); r.status != http.StatusNotFound || errorCode(r.body) != "NOT_FOUND" {
			t.Errorf("GET %s = %d %s, want the JSON 404 NOT_FOUND", path, r.status, r.body)
		}
	}
	if r := get(t, base+"/static/banners/spring.svg", nil); r.status != http.StatusOK || r.header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("GET /static/banners/spring.svg = %d %q, want 200 image/svg+xml", r.status, r.header.Get("Content-Type"))
	}
}

func TestAPIAndFunctionPathsAgree(t *testing.T) {
	base, _ := startServer(t)

	api := get(t, base+"/api/zones/zones?kind=life&channel=wechat", nil)
	internal := get(t, base+"/function/zones/zones?kind=life&channel=wechat", nil)
	if api.status != http.StatusOK || internal.status != http.StatusOK {
		t.Fatalf("statuses = %d and %d, want 200", api.status, internal.status)
	}
	if string(api.body) != string(internal.body) {
		t.Errorf("/api and /function bodies differ")
	}
}

func TestOperatorTokenWritten(t *testing.T) {
	_, dataDir := startServer(t)

	info, err := os.Stat(filepath.Join(dataDir, OperatorTokenFile))
	if err != nil {
		t.Fatalf("operator token file: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("operator token mode = %o, want 600", perm)
	}
}

var curlLine = regexp.MustCompile(`curl -s (.*)'(http://127\.0\.0\.1:8080[^']*)'`)

// TestReadmeExamples runs every curl example in README.md and
// README.zh-CN.md against a fresh localdev and expects a 200 JSON answer,
// so the first commands a newcomer types keep working.
func TestReadmeExamples(t *testing.T) {
	base, dataDir := startServer(t)
	token, err := os.ReadFile(filepath.Join(dataDir, OperatorTokenFile))
	if err != nil {
		t.Fatal(err)
	}

	for _, readme := range []string{"../README.md", "../README.zh-CN.md"} {
		examples := readmeCurls(t, readme)
		if len(examples) < 8 {
			t.Fatalf("%s has %d curl examples, want at least 8", readme, len(examples))
		}
		for _, ex := range examples {
			header := map[string]string{}
			if strings.Contains(ex.flags, "Accept-Language: en") {
				header["Accept-Language"] = "en"
			}
			if strings.Contains(ex.flags, "Authorization: Bearer") {
				header["Authorization"] = "Bearer " + strings.TrimSpace(string(token))
			}
			url := strings.Replace(ex.url, "http://127.0.0.1:8080", base, 1)
			r := get(t, url, header)
			if r.status != http.StatusOK {
				t.Errorf("%s: GET %s = %d, want 200: %s", readme, ex.url, r.status, r.body)
				continue
			}
			if !json.Valid(r.body) {
				t.Errorf("%s: GET %s returned invalid JSON", readme, ex.url)
			}
		}
	}
}

type curlExample struct{ flags, url string }

func readmeCurls(t *testing.T, path string) []curlExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var out []curlExample
	var pending string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		line = pending + line
		pending = ""
		if m := curlLine.FindStringSubmatch(line); m != nil {
			out = append(out, curlExample{flags: m[1], url: m[2]})
		}
	}
	return out
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	env := map[string]string{"JT_LOG_LEVEL": "verbose", "JT_ADDR": "8080", "JT_DRAIN_TIMEOUT": "soon"}
	_, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil {
		t.Fatal("LoadConfig accepted invalid values")
	}
	for _, name := range []string{"JT_LOG_LEVEL", "JT_ADDR", "JT_DRAIN_TIMEOUT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestLoadConfigOperatorTokenFile(t *testing.T) {
	env := map[string]string{"JT_DATA_DIR": "/tmp/jt-data", "JT_OPERATOR_TOKEN_FILE": "/run/secrets/operator"}
	cfg, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OperatorTokenFile != "/run/secrets/operator" {
		t.Errorf("OperatorTokenFile = %q, want the configured file", cfg.OperatorTokenFile)
	}

	delete(env, "JT_OPERATOR_TOKEN_FILE")
	cfg, err = LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join("/tmp/jt-data", OperatorTokenFile); cfg.OperatorTokenFile != want {
		t.Errorf("OperatorTokenFile = %q, want %q", cfg.OperatorTokenFile, want)
	}
}

func TestUnknownPathJSONNotFound(t *testing.T) {
	base, _ := startServer(t)

	r := get(t, base+"/nope", nil)
	if r.status != http.StatusNotFound {
		t.Fatalf("GET /nope = %d, want 404", r.status)
	}
	if !strings.Contains(string(r.body), `"code":"NOT_FOUND"`) {
		t.Errorf("body = %s, want the NOT_FOUND error body", r.body)
	}
	if r.header.Get("X-Request-Id") == "" {
		t.Error("404 response has no X-Request-Id")
	}
}

// TestLongURLJSONError checks that a request line over the header limit
// gets the JSON 431 on the edge and elsewhere, not net/http's plain text.
func TestLongURLJSONError(t *testing.T) {
	base, _ := startServer(t)

	long := "?q=" + strings.Repeat("a", httpx.MaxHeaderBytes)
	for _, path := range []string{"/api/zones/zones" + long, "/function/zones/zones" + long, "/nope" + long} {
		r := get(t, base+path, map[string]string{"Accept-Language": "en"})
		if r.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("GET %.30s... = %d, want 431", path, r.status)
			continue
		}
		if !strings.Contains(string(r.body), `"code":"HEADERS_TOO_LARGE"`) || !strings.Contains(string(r.body), "65536 bytes") {
			t.Errorf("GET %.30s... body = %s, want HEADERS_TOO_LARGE naming the limit", path, r.body)
		}
	}
}

func TestDataDirUsedOnce(t *testing.T) {
	dataDir := t.TempDir()
	cfg := Config{Addr: "127.0.0.1:0", DataDir: dataDir, DrainTimeout: DefaultDrainTimeout,
		OperatorTokenFile: filepath.Join(dataDir, OperatorTokenFile)}
	lookup := func(string) (string, bool) { return "", false }
	first, err := New(context.Background(), cfg, lookup, discardLogger())
	if err != nil {
		t.Fatalf("first localdev.New: %v", err)
	}

	if second, err := New(context.Background(), cfg, lookup, discardLogger()); err == nil {
		second.Close()
		t.Fatal("a second localdev started on the same data directory")
	} else if !strings.Contains(err.Error(), "another localdev is using the data directory") {
		t.Errorf("second localdev.New error = %v, want one naming the data directory in use", err)
	}

	first.Close()
	again, err := New(context.Background(), cfg, lookup, discardLogger())
	if err != nil {
		t.Fatalf("localdev.New after the first closed: %v", err)
	}
	again.Close()
}

// failingListener is a listener whose Accept always fails.
type failingListener struct{ net.Listener }

func (failingListener) Accept() (net.Conn, error) {
	return nil, errors.New("accept: permanent failure")
}

func TestServeReturnsOnAcceptFailure(t *testing.T) {
	srv := newTestServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), failingListener{ln}, nil) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "permanent failure") {
			t.Errorf("Serve = %v, want the accept error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return within 10s of a failed accept")
	}
}

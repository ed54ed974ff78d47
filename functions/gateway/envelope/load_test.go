package envelope_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/functions/gateway/envelope/client"
	"github.com/jingtong/backend/shared/smcrypto"
)

// Environment variables of the load test.
const (
	// loadTestVar runs TestLoad_GatewayCPU when set to a request count per
	// run, such as 40000.
	loadTestVar = "JT_LOAD_TEST"
	// loadChildVar makes TestLoad_GatewayChild serve as the gateway process
	// in the named configuration: plain, gcm or cbc-hmac.
	loadChildVar    = "JT_LOAD_CHILD"
	loadUpstreamVar = "JT_LOAD_UPSTREAM"
	// loadProfileVar names a file path prefix: each gateway process writes
	// its CPU profile to the prefix followed by "." and its configuration.
	loadProfileVar = "JT_LOAD_CPUPROFILE"
)

// TestLoad_GatewayCPU compares the gateway process's CPU time per request
// and its throughput for a plain httputil reverse proxy and for the same
// proxy behind the envelope, with 1 KB bodies each way. The gateway runs in
// a child process pinned to CPU 0 with GOMAXPROCS=1 (when taskset exists),
// and this process runs the upstream and the load generator, which sends
// requests built before the run over 32 keep-alive connections. CPU time
// per request is the measure that does not depend on which process limits
// throughput.
func TestLoad_GatewayCPU(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(loadTestVar))
	if n <= 0 {
		t.Skipf("%s is not set to a request count; skipping the load test", loadTestVar)
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer upstream.Close()

	results := map[string][]loadResult{}
	configs := []string{"plain", "gcm", "cbc-hmac"}
	for round := 0; round < 3; round++ {
		for _, cfg := range configs {
			res := runLoad(t, cfg, upstream.URL, n)
			results[cfg] = append(results[cfg], res)
			t.Logf("round %d %-8s %8.0f req/s  %6.1f µs CPU/request", round+1, cfg, res.rps, res.cpuPerRequest)
		}
	}

	best := func(cfg string) loadResult {
		out := results[cfg][0]
		for _, r := range results[cfg][1:] {
			if r.cpuPerRequest < out.cpuPerRequest {
				out.cpuPerRequest = r.cpuPerRequest
			}
			if r.rps > out.rps {
				out.rps = r.rps
			}
		}
		return out
	}
	plain := best("plain")
	for _, cfg := range configs[1:] {
		r := best(cfg)
		t.Logf("%-8s best of 3: capacity ratio (plain CPU/request ÷ envelope CPU/request) %.2f, throughput ratio %.2f",
			cfg, plain.cpuPerRequest/r.cpuPerRequest, r.rps/plain.rps)
	}
}

type loadResult struct {
	rps           float64
	cpuPerRequest float64 // microseconds of gateway CPU
}

// runLoad starts a gateway process in configuration cfg, sends n requests
// through it and returns the throughput and the gateway's CPU time per
// request.
func runLoad(t *testing.T, cfg, upstreamURL string, n int) loadResult {
	t.Helper()
	args := []string{os.Args[0], "-test.run=^TestLoad_GatewayChild$", "-test.count=1"}
	if taskset, err := exec.LookPath("taskset"); err == nil {
		args = append([]string{taskset, "-c", "0"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), loadChildVar+"="+cfg, loadUpstreamVar+"="+upstreamURL, "GOMAXPROCS=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	readLine := func(prefix string) string {
		for lines.Scan() {
			if rest, ok := strings.CutPrefix(lines.Text(), prefix); ok {
				return rest
			}
		}
		t.Fatalf("gateway process exited before printing %q", prefix)
		return ""
	}
	base := "http://" + readLine("LISTEN ")
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()

	send := loadSender(t, cfg, base, n+2000)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	drive(t, hc, send, 0, 2000) // warm up

	cpuMark := func() time.Duration {
		_, _ = io.WriteString(stdin, "cpu\n")
		ns, _ := strconv.ParseInt(readLine("CPU "), 10, 64)
		return time.Duration(ns)
	}
	cpuBefore := cpuMark()
	start := time.Now()
	drive(t, hc, send, 2000, n+2000)
	elapsed := time.Since(start)
	cpu := cpuMark() - cpuBefore

	return loadResult{
		rps:           float64(n) / elapsed.Seconds(),
		cpuPerRequest: float64(cpu.Microseconds()) / float64(n),
	}
}

// loadSender returns a function that builds request i of count prepared
// requests for the configuration.
func loadSender(t *testing.T, cfg, base string, count int) func(ctx context.Context, i int) (*http.Request, error) {
	t.Helper()
	target := base + "/api/zones/items"
	if cfg == "plain" {
		return func(ctx context.Context, i int) (*http.Request, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(benchBody))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
			}
			return req, err
		}
	}
	c, err := client.New(client.Config{
		OpenURL: base + openPath, KeyID: gatewayKID,
		PublicKeys: map[string]*smcrypto.PublicKey{gatewayKID: mustPrivateKey(t, gatewayKeyHex).PublicKey()},
		Modes:      []envelope.Mode{envelope.Mode(cfg)},
	})
	if err != nil {
		t.Fatal(err)
	}
	header := http.Header{"Content-Type": {"application/json"}}
	prepared, err := c.PrecomputeRequests(context.Background(), count, http.MethodPost, target, header, benchBody)
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, i int) (*http.Request, error) {
		return prepared[i].NewRequest(ctx)
	}
}

// drive sends requests from to end-1 from 32 goroutines.
func drive(t *testing.T, hc *http.Client, send func(context.Context, int) (*http.Request, error), from, end int) {
	t.Helper()
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= end || failed.Load() != nil {
					return
				}
				req, err := send(context.Background(), i)
				if err != nil {
					failed.Store(err)
					return
				}
				resp, err := hc.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Store(fmt.Errorf("status %d", resp.StatusCode))
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
}

// TestLoad_GatewayChild is the gateway process of TestLoad_GatewayCPU. It
// prints "LISTEN addr", prints "CPU ns" with its CPU time for every line it
// reads, and exits when its input closes.
func TestLoad_GatewayChild(t *testing.T) {
	cfg := os.Getenv(loadChildVar)
	if cfg == "" {
		t.Skip("runs only as the child of TestLoad_GatewayCPU")
	}
	target, err := url.Parse(os.Getenv(loadUpstreamVar))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{MaxIdleConnsPerHost: 64}

	var handler http.Handler = proxy
	if cfg != "plain" {
		keys, err := smcrypto.NewKeySet(gatewayKID, map[string]*smcrypto.PrivateKey{gatewayKID: mustPrivateKey(t, gatewayKeyHex)})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := envelope.New(envelope.Config{
			Keys: keys, Sessions: envelope.NewMemorySessionStore(), Nonces: envelope.NewMemoryNonceStore(),
		})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("POST "+openPath, srv.OpenSession)
		mux.Handle("/", srv.Middleware(proxy))
		handler = mux
	}

	if path := os.Getenv(loadProfileVar); path != "" {
		f, err := os.Create(path + "." + cfg)
		if err != nil {
			t.Fatal(err)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = http.Serve(ln, handler) }()
	fmt.Printf("LISTEN %s\n", ln.Addr())

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("CPU %d\n", processCPU().Nanoseconds())
	}
	_ = ln.Close()
}

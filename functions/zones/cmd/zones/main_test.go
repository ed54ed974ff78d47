package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/rpc"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tencentyun/scf-go-lib/cloudfunction/messages"
)

// childEnv makes the test binary run main, with the arguments in
// childArgsEnv, so that each test below starts the zones function exactly
// as its deployed binary does, on the platform its environment selects.
const (
	childEnv     = "JT_TEST_ZONES_MAIN"
	childArgsEnv = "JT_TEST_ZONES_MAIN_ARGS"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Args = append([]string{os.Args[0]}, strings.Fields(os.Getenv(childArgsEnv))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// startChild runs this binary as the zones function with env added to
// the environment and stops it when the test ends.
func startChild(t *testing.T, args string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=1", childArgsEnv + "=" + args, "JT_LOG_LEVEL=warn"}, env...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the function: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// migratedDataDir returns a data directory with a migrated SQLite
// database, as `zones migrate` leaves it before a deployment.
func migratedDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1", childArgsEnv+"=migrate", "JT_DATA_DIR="+dir, "JT_PLATFORM=http", "JT_LOG_LEVEL=warn")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zones migrate: %v\n%s", err, out)
	}
	return dir
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// wantZones checks that status and body are a zone list with the seeded
// marriage zone.
func wantZones(t *testing.T, platform string, status int, body string) {
	t.Helper()
	if status != http.StatusOK || !strings.Contains(body, "life-marriage") {
		t.Errorf("%s: GET /zones?channel=wechat = %d %.200s, want 200 listing life-marriage", platform, status, body)
	}
}

func TestSameBinaryOnHTTP(t *testing.T) {
	dir := migratedDataDir(t)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	startChild(t, "", "JT_DATA_DIR="+dir, "JT_PLATFORM=http", "JT_ZONES_SEED=true", "JT_HTTP_ADDR="+addr)

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/zones?channel=wechat")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			wantZones(t, "http", resp.StatusCode, string(body))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the function did not answer within 20s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSameBinaryOnLambda plays the Lambda Runtime API on loopback: it
// hands out one HTTP API v2 event and records the function's response.
func TestSameBinaryOnLambda(t *testing.T) {
	dir := migratedDataDir(t)
	event := `{"version":"2.0","routeKey":"$default","rawPath":"/zones","rawQueryString":"channel=wechat",
		"headers":{"host":"abc.execute-api.cn-north-1.amazonaws.com.cn","accept-language":"zh-CN"},
		"queryStringParameters":{"channel":"wechat"},
		"requestContext":{"accountId":"123456789012","apiId":"abc","domainName":"abc.execute-api.cn-north-1.amazonaws.com.cn",
			"http":{"method":"GET","path":"/zones","protocol":"HTTP/1.1","sourceIp":"192.0.2.1","userAgent":"test"},
			"requestId":"req-1","routeKey":"$default","stage":"$default","time":"04/Dec/2026:10:00:00 +0000","timeEpoch":1796378400000},
		"isBase64Encoded":false}`

	responses := make(chan string, 1)
	released := make(chan struct{})
	var served atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		if served.Swap(true) {
			select {
			case <-released:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "invocation-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
		_, _ = io.WriteString(w, event)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/{outcome}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		responses <- r.PathValue("outcome") + " " + string(body)
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		responses <- "init-error " + string(body)
		w.WriteHeader(http.StatusAccepted)
	})
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	t.Cleanup(func() { close(released) })

	startChild(t, "", "JT_DATA_DIR="+dir, "JT_ZONES_SEED=true", "JT_PLATFORM=",
		"AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"))

	select {
	case got := <-responses:
		outcome, body, _ := strings.Cut(got, " ")
		if outcome != "response" {
			t.Fatalf("runtime outcome %q: %s", outcome, body)
		}
		var resp struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatalf("decoding the Lambda response %s: %v", body, err)
		}
		wantZones(t, "lambda", resp.StatusCode, resp.Body)
	case <-time.After(30 * time.Second):
		t.Fatal("no Lambda response within 30s")
	}
}

// TestSameBinaryOnSCF plays the SCF Go runtime: it calls Function.Invoke
// over net/rpc on _LAMBDA_SERVER_PORT with an API Gateway event.
// scf-go-lib listens on 0.0.0.0 there; the test dials loopback only.
func TestSameBinaryOnSCF(t *testing.T) {
	dir := migratedDataDir(t)
	port := freePort(t)
	startChild(t, "", "JT_DATA_DIR="+dir, "JT_ZONES_SEED=true", "JT_PLATFORM=",
		"TENCENTCLOUD_RUNENV=SCF", "_LAMBDA_SERVER_PORT="+strconv.Itoa(port))

	event := `{"requestContext":{"serviceId":"service-1","path":"/zones","httpMethod":"GET","requestId":"req-1",
		"sourceIp":"192.0.2.1","stage":"release"},"headers":{"Host":"service-1.gz.apigw.tencentcs.com"},
		"body":"","path":"/zones","queryString":{"channel":"wechat"},"httpMethod":"GET"}`
	var client *rpc.Client
	deadline := time.Now().Add(20 * time.Second)
	for {
		var err error
		if client, err = rpc.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SCF runtime port did not open within 20s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer client.Close()

	req := &messages.InvokeRequest{
		Payload:   []byte(event),
		RequestId: "req-1",
		Deadline:  messages.InvokeRequest_Timestamp{Seconds: time.Now().Add(time.Minute).Unix()},
	}
	var resp messages.InvokeResponse
	if err := client.Call("Function.Invoke", req, &resp); err != nil {
		t.Fatalf("Function.Invoke: %v", err)
	}
	if resp.Error != nil {
		t.Fatalf("Function.Invoke error: %s", resp.Error.Message)
	}
	var out struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(resp.Payload, &out); err != nil {
		t.Fatalf("decoding the SCF response %s: %v", resp.Payload, err)
	}
	wantZones(t, "scf", out.StatusCode, out.Body)
}

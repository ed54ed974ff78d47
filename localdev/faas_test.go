package localdev

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfaas/faas-provider/logs"
	"github.com/openfaas/faas-provider/types"
	sdk "github.com/openfaas/go-sdk"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
)

// faasHTTPClient bounds every request of these tests, so that a stuck
// server fails a test instead of hanging it.
var faasHTTPClient = &http.Client{Timeout: 30 * time.Second}

// echoReply is the body of the test function echo.
type echoReply struct {
	Greeting string `json:"greeting"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	Query    string `json:"query"`
	Body     string `json:"body"`
	CallID   string `json:"call_id"`
}

// newEcho builds echo, a function that reports the request it got. Its
// greeting comes from JT_ECHO_GREETING, so a test can see a deployed
// environment take effect. JT_ECHO_FAIL makes the build fail, and ?sleep=
// delays the response.
func newEcho(_ context.Context, env *fn.Env) (*fn.Function, error) {
	if env.Getenv("JT_ECHO_FAIL", "") != "" {
		return nil, errors.New("echo: JT_ECHO_FAIL is set")
	}
	greeting := env.Getenv("JT_ECHO_GREETING", "hello")
	logger := env.Logger.With("function", "echo")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
			}
		}
		body, _ := io.ReadAll(r.Body)
		logger.Info("echo served", "path", r.URL.Path)
		httpx.WriteJSON(w, http.StatusOK, echoReply{
			Greeting: greeting, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Body: string(body), CallID: r.Header.Get("X-Call-Id"),
		})
	})
	return &fn.Function{Name: "echo", Handler: h}, nil
}

// faasServer is a localdev with echo beside the built-in functions, and a
// go-sdk client logged in to it.
type faasServer struct {
	base     string
	dataDir  string
	srv      *Server
	client   *sdk.Client
	password string
	// stop shuts the server down and waits for ListenAndServe. It is
	// safe to call more than once.
	stop func()
}

// startFaaS starts localdev with echo on a free loopback port. An empty
// dataDir means a new temporary directory.
func startFaaS(t *testing.T, dataDir string, vars map[string]string) faasServer {
	t.Helper()
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	cfg, err := LoadConfig(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dataDir
	// A busy machine can take several seconds to drain the async calls.
	cfg.DrainTimeout = 20 * time.Second
	cfg.OperatorTokenFile = filepath.Join(dataDir, OperatorTokenFile)
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	list := append(slices.Clone(builders), namedBuilder{"echo", newEcho})

	ctx, cancel := context.WithCancel(context.Background())
	srv, err := newServer(ctx, cfg, lookup, discardLogger(), list)
	if err != nil {
		cancel()
		t.Fatalf("localdev.New: %v", err)
	}
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, func(addr string) { addrs <- addr }) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ListenAndServe: %v", err)
			}
			srv.Close()
		})
	}
	t.Cleanup(stop)

	var base string
	select {
	case addr := <-addrs:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("localdev did not start within 10s")
	}

	password, err := os.ReadFile(filepath.Join(dataDir, FaaSDir, BasicAuthPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.TrimSpace(string(password))
	client := sdk.NewClient(u, &sdk.BasicAuth{Username: BasicAuthUser, Password: pw}, faasHTTPClient)
	return faasServer{base: base, dataDir: dataDir, srv: srv, client: client, password: pw, stop: stop}
}

// do sends a request with optional basic auth and returns the response
// with its body read.
func (f faasServer) do(t *testing.T, method, path, body string, auth bool, header map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if auth {
		req.SetBasicAuth(BasicAuthUser, f.password)
	}
	resp, err := faasHTTPClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// invokeEcho calls echo through the go-sdk and decodes its response.
func (f faasServer) invokeEcho(t *testing.T, path, body string) (int, echoReply) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := f.client.InvokeFunction("echo", "", false, false, req)
	if err != nil {
		t.Fatalf("InvokeFunction: %v", err)
	}
	defer resp.Body.Close()
	var reply echoReply
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, &reply); err != nil {
			t.Fatalf("echo body %s: %v", data, err)
		}
	}
	return resp.StatusCode, reply
}

func TestFaaSListAndDescribe(t *testing.T) {
	f := startFaaS(t, "", nil)
	ctx := context.Background()

	list, err := f.client.GetFunctions(ctx, "")
	if err != nil {
		t.Fatalf("GetFunctions: %v", err)
	}
	var names []string
	for _, st := range list {
		names = append(names, st.Name)
		if st.Replicas != 1 || st.AvailableReplicas != 1 {
			t.Errorf("%s: replicas %d, available %d, want 1 and 1", st.Name, st.Replicas, st.AvailableReplicas)
		}
		if st.Namespace != "openfaas-fn" || st.Image == "" || st.CreatedAt.IsZero() {
			t.Errorf("%s: namespace %q, image %q, created %v, want openfaas-fn, an image and a time", st.Name, st.Namespace, st.Image, st.CreatedAt)
		}
	}
	if want := []string{"echo", "gateway", "zones"}; !slices.Equal(names, want) {
		t.Errorf("GetFunctions names = %v, want %v", names, want)
	}
	if inNS, err := f.client.GetFunctions(ctx, "openfaas-fn"); err != nil || len(inNS) != len(list) {
		t.Errorf("GetFunctions(openfaas-fn) = %d functions, %v; want %d", len(inNS), err, len(list))
	}

	zones, err := f.client.GetFunction(ctx, "zones", "openfaas-fn")
	if err != nil {
		t.Fatalf("GetFunction: %v", err)
	}
	if zones.Name != "zones" || zones.Replicas != 1 || zones.AvailableReplicas != 1 {
		t.Errorf("GetFunction(zones) = %+v, want zones with 1 replica available", zones)
	}

	for path, code := range map[string]string{
		"/system/function/nope":                   "FUNCTION_NOT_FOUND",
		"/system/function/zones?namespace=other":  "NAMESPACE_NOT_FOUND",
		"/system/function/zones.other":            "NAMESPACE_NOT_FOUND",
		"/system/functions?namespace=kube-system": "NAMESPACE_NOT_FOUND",
	} {
		r := f.do(t, http.MethodGet, path, "", true, nil)
		if r.status != http.StatusNotFound || errorCode(r.body) != code {
			t.Errorf("GET %s = %d %s, want 404 %s", path, r.status, r.body, code)
		}
	}
}

func TestFaaSNamespacesAndInfo(t *testing.T) {
	f := startFaaS(t, "", nil)
	ctx := context.Background()

	namespaces, err := f.client.GetNamespaces(ctx)
	if err != nil || !slices.Equal(namespaces, []string{"openfaas-fn"}) {
		t.Errorf("GetNamespaces = %v, %v; want [openfaas-fn]", namespaces, err)
	}
	ns, err := f.client.GetNamespace(ctx, "openfaas-fn")
	if err != nil || ns.Name != "openfaas-fn" {
		t.Errorf("GetNamespace(openfaas-fn) = %+v, %v", ns, err)
	}
	if _, err := f.client.GetNamespace(ctx, "other"); err == nil {
		t.Error("GetNamespace(other) succeeded, want not found")
	}
	if _, err := f.client.CreateNamespace(ctx, types.FunctionNamespace{Name: "other"}); err == nil {
		t.Error("CreateNamespace succeeded, want 501")
	}

	info, err := f.client.GetInfo(ctx)
	if err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	if info.Provider.Provider != "jingtong-localdev" || info.Provider.Orchestration != "localdev" || info.Arch != runtime.GOARCH {
		t.Errorf("GetInfo = %+v, want provider jingtong-localdev on localdev, arch %s", info, runtime.GOARCH)
	}
	if info.Version.Release == "" || info.Provider.Version.Release == "" {
		t.Errorf("GetInfo has no release: %+v", info)
	}
}

func TestFaaSBasicAuth(t *testing.T) {
	f := startFaaS(t, "", nil)

	info, err := os.Stat(filepath.Join(f.dataDir, FaaSDir, BasicAuthPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("password file mode = %o, want 600", perm)
	}

	paths := []string{"/system/functions", "/system/function/zones", "/system/info", "/system/secrets",
		"/system/logs?name=zones", "/system/namespaces", "/system/namespace/openfaas-fn", "/system/telemetry", "/system/nope"}
	for _, path := range paths {
		r := f.do(t, http.MethodGet, path, "", false, nil)
		if r.status != http.StatusUnauthorized || errorCode(r.body) != "UNAUTHORIZED" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("GET %s without credentials = %d %q %s, want 401 with a Basic challenge", path, r.status, r.header.Get("WWW-Authenticate"), r.body)
		}
	}
	wrong := f.do(t, http.MethodGet, "/system/functions", "", false, map[string]string{"Authorization": "Basic YWRtaW46d3Jvbmc="})
	if wrong.status != http.StatusUnauthorized {
		t.Errorf("GET /system/functions with a wrong password = %d, want 401", wrong.status)
	}
	for _, path := range paths[:len(paths)-1] {
		if r := f.do(t, http.MethodGet, path, "", true, nil); r.status != http.StatusOK {
			t.Errorf("GET %s with credentials = %d %s, want 200", path, r.status, r.body)
		}
	}

	// Invocations stay open, as in OpenFaaS.
	if r := f.do(t, http.MethodGet, "/function/echo/x", "", false, nil); r.status != http.StatusOK {
		t.Errorf("GET /function/echo/x without credentials = %d, want 200", r.status)
	}

	badClient := sdk.NewClient(mustParseURL(t, f.base), &sdk.BasicAuth{Username: BasicAuthUser, Password: "wrong"}, faasHTTPClient)
	if _, err := badClient.GetFunctions(context.Background(), ""); err == nil {
		t.Error("GetFunctions with a wrong password succeeded")
	}
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestFaaSDeployAndUpdate(t *testing.T) {
	f := startFaaS(t, "", nil)
	ctx := context.Background()

	status, err := f.client.Deploy(ctx, types.FunctionDeployment{Service: "figlet", Image: "ghcr.io/openfaas/figlet:latest"})
	if status != http.StatusBadRequest || err == nil || !strings.Contains(err.Error(), "FUNCTION_NOT_HOSTED") {
		t.Errorf("Deploy(figlet) = %d, %v; want 400 FUNCTION_NOT_HOSTED", status, err)
	}
	status, err = f.client.Update(ctx, types.FunctionDeployment{Service: "figlet", Image: "ghcr.io/openfaas/figlet:latest"})
	if status != http.StatusNotFound || err == nil {
		t.Errorf("Update(figlet) = %d, %v; want 404, which makes faas-cli fall back to POST", status, err)
	}

	labels := map[string]string{"team": "zones", "com.openfaas.scale.min": "3"}
	annotations := map[string]string{"topic": "cron-function", "schedule": "*/5 * * * *"}
	status, err = f.client.Update(ctx, types.FunctionDeployment{
		Service: "echo", Image: "jingtong/echo:test", Namespace: "openfaas-fn",
		EnvVars: map[string]string{"JT_ECHO_GREETING": "ni hao"}, Labels: &labels, Annotations: &annotations,
	})
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("Update(echo) = %d, %v; want 202", status, err)
	}
	st, err := f.client.GetFunction(ctx, "echo", "")
	if err != nil {
		t.Fatal(err)
	}
	if st.Image != "jingtong/echo:test" || st.EnvVars["JT_ECHO_GREETING"] != "ni hao" ||
		st.Labels == nil || (*st.Labels)["team"] != "zones" || st.Annotations == nil || (*st.Annotations)["topic"] != "cron-function" {
		t.Errorf("GetFunction(echo) after update = %+v, want the stored image, environment, labels and annotations", st)
	}
	if st.Replicas != 3 || st.AvailableReplicas != 3 {
		t.Errorf("replicas = %d, available %d, want 3 from %s", st.Replicas, st.AvailableReplicas, minScaleLabel)
	}
	if _, reply := f.invokeEcho(t, "/", "x"); reply.Greeting != "ni hao" {
		t.Errorf("echo greeting after update = %q, want the deployed environment's %q", reply.Greeting, "ni hao")
	}

	// An environment the function cannot start with is rejected, and the
	// running build keeps serving: it is not stopped and rebuilt.
	status, err = f.client.Update(ctx, types.FunctionDeployment{Service: "echo", EnvVars: map[string]string{"JT_ECHO_FAIL": "1"}})
	if status != http.StatusBadRequest || err == nil || !strings.Contains(err.Error(), "FUNCTION_START_FAILED") {
		t.Errorf("Update(echo) with a failing environment = %d, %v; want 400 FUNCTION_START_FAILED", status, err)
	}
	if code, reply := f.invokeEcho(t, "/", "x"); code != http.StatusOK || reply.Greeting != "ni hao" {
		t.Errorf("echo after a failed update = %d %q, want 200 with the previous greeting", code, reply.Greeting)
	}
	after, err := f.client.GetFunction(ctx, "echo", "")
	if err != nil {
		t.Fatal(err)
	}
	if !after.CreatedAt.Equal(st.CreatedAt) {
		t.Errorf("echo created at %v after the failed update, want the build of %v still running", after.CreatedAt, st.CreatedAt)
	}

	bad := f.do(t, http.MethodPut, "/system/functions", `{"service": "echo", "envVars": {"A=B": "1"}, "labels": {"com.openfaas.scale.min": "many"}}`, true, nil)
	if bad.status != http.StatusBadRequest || errorCode(bad.body) != "INVALID_REQUEST" ||
		!strings.Contains(string(bad.body), "/envVars/A=B") || !strings.Contains(string(bad.body), "/labels/com.openfaas.scale.min") {
		t.Errorf("PUT with invalid fields = %d %s, want 400 INVALID_REQUEST naming both", bad.status, bad.body)
	}
	for body, code := range map[string]string{
		`{"image": "x"}`:                         "INVALID_REQUEST",
		`{"service": "echo", "envVars": [1]}`:    "INVALID_REQUEST",
		`{"service": `:                           "INVALID_JSON",
		`{"service": "echo", "namespace": "ns"}`: "NAMESPACE_NOT_FOUND",
	} {
		r := f.do(t, http.MethodPut, "/system/functions", body, true, nil)
		if errorCode(r.body) != code {
			t.Errorf("PUT %s = %d %s, want %s", body, r.status, r.body, code)
		}
	}
	if r := f.do(t, http.MethodPut, "/system/functions", "x", true, map[string]string{"Content-Type": "text/plain"}); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("PUT as text/plain = %d, want 415", r.status)
	}
}

func TestFaaSConfigurationSurvivesRestart(t *testing.T) {
	first := startFaaS(t, "", nil)
	ctx := context.Background()
	labels := map[string]string{"team": "zones"}
	if _, err := first.client.Update(ctx, types.FunctionDeployment{
		Service: "echo", Image: "jingtong/echo:stored", EnvVars: map[string]string{"JT_ECHO_GREETING": "stored"}, Labels: &labels,
	}); err != nil {
		t.Fatal(err)
	}
	if err := first.client.ScaleFunction(ctx, "echo", "", 2); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(first.dataDir, FaaSDir, functionsFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s mode = %o, want 600", functionsFile, perm)
	}
	first.stop()

	second := startFaaS(t, first.dataDir, nil)
	st, err := second.client.GetFunction(ctx, "echo", "")
	if err != nil {
		t.Fatal(err)
	}
	if st.Image != "jingtong/echo:stored" || st.Replicas != 2 || st.Labels == nil || (*st.Labels)["team"] != "zones" {
		t.Errorf("GetFunction(echo) after restart = %+v, want the stored image, 2 replicas and labels", st)
	}
	if _, reply := second.invokeEcho(t, "/", ""); reply.Greeting != "stored" {
		t.Errorf("echo greeting after restart = %q, want the stored environment's", reply.Greeting)
	}
}

func TestFaaSScaleAndRemove(t *testing.T) {
	f := startFaaS(t, "", nil)
	ctx := context.Background()

	if err := f.client.ScaleFunction(ctx, "echo", "openfaas-fn", 0); err != nil {
		t.Fatalf("ScaleFunction(0): %v", err)
	}
	st, _ := f.client.GetFunction(ctx, "echo", "")
	if st.Replicas != 0 || st.AvailableReplicas != 0 {
		t.Errorf("after scaling to 0: replicas %d, available %d", st.Replicas, st.AvailableReplicas)
	}
	r := f.do(t, http.MethodGet, "/function/echo/", "", false, nil)
	if r.status != http.StatusServiceUnavailable || errorCode(r.body) != "FUNCTION_SCALED_TO_ZERO" {
		t.Errorf("invoking a function scaled to 0 = %d %s, want 503 FUNCTION_SCALED_TO_ZERO", r.status, r.body)
	}
	if err := f.client.ScaleFunction(ctx, "echo", "", 2); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.client.GetFunction(ctx, "echo", ""); st.Replicas != 2 || st.AvailableReplicas != 2 {
		t.Errorf("after scaling to 2: replicas %d, available %d", st.Replicas, st.AvailableReplicas)
	}
	if code, _ := f.invokeEcho(t, "/", ""); code != http.StatusOK {
		t.Errorf("invoking after scaling to 2 = %d, want 200", code)
	}
	if err := f.client.ScaleFunction(ctx, "nope", "", 1); err == nil {
		t.Error("ScaleFunction(nope) succeeded")
	}

	if err := f.client.DeleteFunction(ctx, "echo", ""); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	list, _ := f.client.GetFunctions(ctx, "")
	for _, st := range list {
		if st.Name == "echo" {
			t.Error("GetFunctions lists echo after its removal")
		}
	}
	if r := f.do(t, http.MethodGet, "/function/echo/", "", false, nil); r.status != http.StatusNotFound {
		t.Errorf("invoking a removed function = %d, want 404", r.status)
	}
	if err := f.client.DeleteFunction(ctx, "echo", ""); err == nil {
		t.Error("DeleteFunction of a removed function succeeded")
	}
	if status, _ := f.client.Update(ctx, types.FunctionDeployment{Service: "echo"}); status != http.StatusNotFound {
		t.Errorf("Update of a removed function = %d, want 404", status)
	}
	if status, err := f.client.Deploy(ctx, types.FunctionDeployment{Service: "echo", Image: "jingtong/echo:again"}); err != nil || status != http.StatusAccepted {
		t.Fatalf("Deploy of a removed function = %d, %v; want 202", status, err)
	}
	if st, err := f.client.GetFunction(ctx, "echo", ""); err != nil || st.Replicas != 1 || st.Image != "jingtong/echo:again" {
		t.Errorf("GetFunction after deploying again = %+v, %v", st, err)
	}
}

func TestFaaSSecrets(t *testing.T) {
	f := startFaaS(t, "", nil)
	ctx := context.Background()

	if status, err := f.client.CreateSecret(ctx, types.Secret{Name: "api-key", Value: "v1"}); err != nil || status != http.StatusCreated {
		t.Fatalf("CreateSecret = %d, %v; want 201", status, err)
	}
	if status, _ := f.client.CreateSecret(ctx, types.Secret{Name: "api-key", Value: "v1"}); status != http.StatusConflict {
		t.Errorf("CreateSecret again = %d, want 409", status)
	}
	if _, err := f.client.CreateSecret(ctx, types.Secret{Name: "raw.pem", RawValue: []byte{0, 1, 2}}); err != nil {
		t.Fatal(err)
	}
	list, err := f.client.GetSecrets(ctx, "openfaas-fn")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "api-key" || list[1].Name != "raw.pem" || list[0].Value != "" || len(list[1].RawValue) != 0 {
		t.Errorf("GetSecrets = %+v, want api-key and raw.pem without values", list)
	}

	if _, err := f.client.UpdateSecret(ctx, types.Secret{Name: "api-key", Value: "v2"}); err != nil {
		t.Fatalf("UpdateSecret: %v", err)
	}
	path := filepath.Join(f.dataDir, FaaSDir, "secrets", "openfaas-fn", "api-key")
	if data, err := os.ReadFile(path); err != nil || string(data) != "v2" {
		t.Errorf("secret file = %q, %v; want v2", data, err)
	}
	if info, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("secret file mode = %o, want 600", perm)
	}
	if status, _ := f.client.UpdateSecret(ctx, types.Secret{Name: "missing", Value: "x"}); status != http.StatusNotFound {
		t.Errorf("UpdateSecret(missing) = %d, want 404", status)
	}

	if err := f.client.DeleteSecret(ctx, "api-key", ""); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	if err := f.client.DeleteSecret(ctx, "api-key", ""); err == nil {
		t.Error("DeleteSecret of a deleted secret succeeded")
	}
	for _, body := range []string{`{"name": "../escape", "value": "x"}`, `{"name": "ok"}`, `{"name": "ok", "value": "x", "namespace": "other"}`} {
		r := f.do(t, http.MethodPost, "/system/secrets", body, true, nil)
		if r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
			t.Errorf("POST /system/secrets %s = %d %s, want 400 or 404", body, r.status, r.body)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dataDir, FaaSDir, "secrets", "escape")); err == nil {
		t.Error("a secret name escaped the secret directory")
	}
}

func TestFaaSLogs(t *testing.T) {
	f := startFaaS(t, "", nil)
	if code, _ := f.invokeEcho(t, "/", "for the log"); code != http.StatusOK {
		t.Fatalf("invoke = %d", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := f.client.GetLogs(ctx, "echo", "openfaas-fn", false, 0, nil)
	if err != nil {
		t.Fatalf("GetLogs: %v", err)
	}
	var texts []string
	for m := range stream {
		if m.Name != "echo" || m.Namespace != "openfaas-fn" || m.Timestamp.IsZero() {
			t.Errorf("log message %+v lacks the function, namespace or time", m)
		}
		texts = append(texts, m.Text)
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"started echo", `msg="echo served" path=/`, "POST / - 200 OK"} {
		if !strings.Contains(all, want) {
			t.Errorf("logs lack %q:\n%s", want, all)
		}
	}

	tail := f.do(t, http.MethodGet, "/system/logs?name=echo&tail=1", "", true, nil)
	if lines := strings.Split(strings.TrimSpace(string(tail.body)), "\n"); len(lines) != 1 {
		t.Errorf("tail=1 returned %d lines, want 1", len(lines))
	}
	for query, code := range map[string]string{"": "INVALID_REQUEST", "name=echo&tail=x": "INVALID_REQUEST",
		"name=echo&since=yesterday": "INVALID_REQUEST", "name=echo&follow=maybe": "INVALID_REQUEST", "name=nope": "FUNCTION_NOT_FOUND"} {
		if r := f.do(t, http.MethodGet, "/system/logs?"+query, "", true, nil); errorCode(r.body) != code {
			t.Errorf("GET /system/logs?%s = %d %s, want %s", query, r.status, r.body, code)
		}
	}
}

func TestFaaSLogsFollow(t *testing.T) {
	f := startFaaS(t, "", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+"/system/logs?name=echo&follow=true", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(BasicAuthUser, f.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	lines := make(chan logs.Message)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var m logs.Message
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				select {
				case lines <- m:
				case <-ctx.Done():
					return
				}
			}
		}
	}()

	if r := f.do(t, http.MethodPost, "/function/echo/followed", "x", false, nil); r.status != http.StatusOK {
		t.Fatalf("invoke = %d", r.status)
	}
	for {
		select {
		case m, ok := <-lines:
			if !ok {
				t.Fatal("the log stream ended before the new line arrived")
			}
			if strings.Contains(m.Text, "POST /followed") {
				return
			}
		case <-ctx.Done():
			t.Fatal("no log line for the invocation within 10s")
		}
	}
}

func TestFaaSInvokeSync(t *testing.T) {
	f := startFaaS(t, "", nil)

	code, reply := f.invokeEcho(t, "/?q=1", "ping")
	if code != http.StatusOK || reply.Method != http.MethodPost || reply.Path != "/" || reply.Body != "ping" || reply.Query != "q=1" {
		t.Errorf("InvokeFunction(echo) = %d %+v, want 200 echoing POST / q=1 ping", code, reply)
	}

	internal := f.do(t, http.MethodGet, "/function/zones/zones?kind=life", "", false, nil)
	named := f.do(t, http.MethodGet, "/function/zones.openfaas-fn/zones?kind=life", "", false, nil)
	if internal.status != http.StatusOK || named.status != http.StatusOK || !bytes.Equal(internal.body, named.body) {
		t.Errorf("/function/zones and /function/zones.openfaas-fn = %d and %d, want the same 200 response", internal.status, named.status)
	}
	for path, want := range map[string]int{
		"/function/zones.openfaas-fn/healthz": http.StatusOK,
		"/function/zones/readyz":              http.StatusOK,
		"/function/echo":                      http.StatusOK,
		"/function/echo/a%2Fb":                http.StatusOK,
	} {
		if r := f.do(t, http.MethodGet, path, "", false, nil); r.status != want {
			t.Errorf("GET %s = %d, want %d", path, r.status, want)
		}
	}
	for path, code := range map[string]string{
		"/function/zones.other/zones": "NAMESPACE_NOT_FOUND",
		"/function/nope/":             "FUNCTION_NOT_FOUND",
		"/function/":                  "NOT_FOUND",
	} {
		r := f.do(t, http.MethodGet, path, "", false, nil)
		if r.status != http.StatusNotFound || errorCode(r.body) != code {
			t.Errorf("GET %s = %d %s, want 404 %s", path, r.status, r.body, code)
		}
	}

	st, err := f.client.GetFunction(context.Background(), "echo", "")
	if err != nil || st.InvocationCount < 3 {
		t.Errorf("echo invocation count = %v, %v; want at least 3", st.InvocationCount, err)
	}
}

// callbackReceiver is a loopback server that records the callbacks it
// gets.
type callbackReceiver struct {
	url   string
	calls chan receivedCallback
}

type receivedCallback struct {
	header http.Header
	body   []byte
}

func newCallbackReceiver(t *testing.T) callbackReceiver {
	t.Helper()
	calls := make(chan receivedCallback, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		calls <- receivedCallback{header: r.Header.Clone(), body: body}
	}))
	t.Cleanup(srv.Close)
	return callbackReceiver{url: srv.URL + "/done", calls: calls}
}

func (c callbackReceiver) wait(t *testing.T) receivedCallback {
	t.Helper()
	select {
	case got := <-c.calls:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("no callback within 10s")
	}
	return receivedCallback{}
}

func TestFaaSInvokeAsyncCallback(t *testing.T) {
	f := startFaaS(t, "", nil)
	cb := newCallbackReceiver(t)

	req, err := http.NewRequest(http.MethodPost, f.base+"/?mode=async", strings.NewReader("async body"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Callback-Url", cb.url)
	resp, err := f.client.InvokeFunction("echo", "openfaas-fn", true, false, req)
	if err != nil {
		t.Fatalf("InvokeFunction async: %v", err)
	}
	resp.Body.Close()
	callID := resp.Header.Get("X-Call-Id")
	if resp.StatusCode != http.StatusAccepted || callID == "" {
		t.Fatalf("async invoke = %d with X-Call-Id %q, want 202 and an id", resp.StatusCode, callID)
	}

	got := cb.wait(t)
	if id := got.header.Get("X-Call-Id"); id != callID {
		t.Errorf("callback X-Call-Id = %q, want %q", id, callID)
	}
	if s := got.header.Get("X-Function-Status"); s != "200" {
		t.Errorf("callback X-Function-Status = %q, want 200", s)
	}
	if name := got.header.Get("X-Function-Name"); name != "echo" {
		t.Errorf("callback X-Function-Name = %q, want echo", name)
	}
	if d, err := strconv.ParseFloat(got.header.Get("X-Duration-Seconds"), 64); err != nil || d < 0 {
		t.Errorf("callback X-Duration-Seconds = %q, want seconds", got.header.Get("X-Duration-Seconds"))
	}
	var reply echoReply
	if err := json.Unmarshal(got.body, &reply); err != nil {
		t.Fatalf("callback body %s: %v", got.body, err)
	}
	if reply.Body != "async body" || reply.Query != "mode=async" || reply.CallID != callID {
		t.Errorf("callback body = %+v, want the function's response to the queued request", reply)
	}

	// A client's own call id is kept.
	r := f.do(t, http.MethodPost, "/async-function/echo/", "x", false, map[string]string{"X-Call-Id": "my-call-1", "X-Callback-Url": cb.url})
	if r.status != http.StatusAccepted || r.header.Get("X-Call-Id") != "my-call-1" {
		t.Errorf("async invoke with X-Call-Id = %d %q, want 202 my-call-1", r.status, r.header.Get("X-Call-Id"))
	}
	if got := cb.wait(t); got.header.Get("X-Call-Id") != "my-call-1" {
		t.Errorf("callback X-Call-Id = %q, want my-call-1", got.header.Get("X-Call-Id"))
	}
}

func TestFaaSInvokeAsyncRejects(t *testing.T) {
	f := startFaaS(t, "", nil)

	for _, tc := range []struct {
		method, path, callback string
		status                 int
		code                   string
	}{
		{http.MethodGet, "/async-function/echo", "", http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
		{http.MethodPost, "/async-function/nope", "", http.StatusNotFound, "FUNCTION_NOT_FOUND"},
		{http.MethodPost, "/async-function/echo.other", "", http.StatusNotFound, "NAMESPACE_NOT_FOUND"},
		{http.MethodPost, "/async-function/echo", "ftp://127.0.0.1/x", http.StatusBadRequest, "CALLBACK_URL_INVALID"},
		{http.MethodPost, "/async-function/echo", "/relative", http.StatusBadRequest, "CALLBACK_URL_INVALID"},
		// 192.0.2.1 is a documentation address; the request is rejected
		// before anything is sent.
		{http.MethodPost, "/async-function/echo", "http://192.0.2.1/x", http.StatusBadRequest, "CALLBACK_URL_NOT_ALLOWED"},
		{http.MethodPost, "/async-function/echo", "http://[::ffff:192.0.2.1]/x", http.StatusBadRequest, "CALLBACK_URL_NOT_ALLOWED"},
	} {
		header := map[string]string{}
		if tc.callback != "" {
			header["X-Callback-Url"] = tc.callback
		}
		r := f.do(t, tc.method, tc.path, "", false, header)
		if r.status != tc.status || errorCode(r.body) != tc.code {
			t.Errorf("%s %s with callback %q = %d %s, want %d %s", tc.method, tc.path, tc.callback, r.status, r.body, tc.status, tc.code)
		}
	}
	big := strings.Repeat("x", maxAsyncBody+1)
	if r := f.do(t, http.MethodPost, "/async-function/echo", big, false, nil); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("async body over the limit = %d, want 413", r.status)
	}
}

func TestCallbackPolicyChecksDialedAddress(t *testing.T) {
	cb := newCallbackReceiver(t)
	// Only 10.0.0.0/8 is allowed, so the loopback receiver must not be
	// reached even though the URL passed no check at parse time.
	p := newCallbackPolicy([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	call := &asyncCall{id: "c1", fn: newHostedFunction("echo", false, nil, discardLogger()), callback: mustParseURL(t, cb.url)}
	if _, err := p.post(context.Background(), call, newCallRecorder(10), time.Second); err == nil || !strings.Contains(err.Error(), "outside JT_FAAS_CALLBACK_NETWORKS") {
		t.Errorf("post to a loopback callback = %v, want the dialer to reject it", err)
	}
	select {
	case <-cb.calls:
		t.Error("the callback reached a network outside the allowed ones")
	default:
	}
}

func TestAsyncQueueFull(t *testing.T) {
	q := newAsyncQueue(0, 1)
	run := func(context.Context, *asyncCall) {}
	if err := q.enqueue(&asyncCall{}, run); err != nil {
		t.Fatalf("first enqueue: %v", err)
	}
	err := q.enqueue(&asyncCall{}, run)
	if e := httpx.AsError(err); e.Code.ID != "ASYNC_QUEUE_FULL" || e.Code.Status != http.StatusTooManyRequests {
		t.Errorf("enqueue on a full queue = %v, want 429 ASYNC_QUEUE_FULL", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q.drain(ctx)
	if err := q.enqueue(&asyncCall{}, run); httpx.AsError(err).Code.ID != "NOT_READY" {
		t.Errorf("enqueue after drain = %v, want NOT_READY", err)
	}
}

func TestFaaSAsyncDrainedOnShutdown(t *testing.T) {
	f := startFaaS(t, "", nil)
	cb := newCallbackReceiver(t)

	r := f.do(t, http.MethodPost, "/async-function/echo?sleep=300ms", "late", false, map[string]string{"X-Callback-Url": cb.url})
	if r.status != http.StatusAccepted {
		t.Fatalf("async invoke = %d %s", r.status, r.body)
	}
	f.stop()
	select {
	case got := <-cb.calls:
		if !strings.Contains(string(got.body), `"body":"late"`) {
			t.Errorf("callback body = %s, want the slow call's response", got.body)
		}
	default:
		t.Error("shutdown returned before the queued call's callback was sent")
	}
}

// TestFaaSRouteTable checks that every route that bootstrap.Serve of
// faas-provider v0.25.12 registers is served, with credentials, by a
// handler of the OpenFaaS API rather than localdev's not-found response.
func TestFaaSRouteTable(t *testing.T) {
	f := startFaaS(t, "", nil)
	routes := []struct{ method, path string }{
		{http.MethodGet, "/system/functions"},
		{http.MethodPost, "/system/functions"},
		{http.MethodPut, "/system/functions"},
		{http.MethodDelete, "/system/functions"},
		{http.MethodGet, "/system/function/zones"},
		{http.MethodPost, "/system/scale-function/zones"},
		{http.MethodGet, "/system/info"},
		{http.MethodGet, "/system/secrets"},
		{http.MethodPut, "/system/secrets"},
		{http.MethodPost, "/system/secrets"},
		{http.MethodDelete, "/system/secrets"},
		{http.MethodGet, "/system/logs?name=zones"},
		{http.MethodGet, "/system/namespaces"},
		{http.MethodGet, "/system/namespace/openfaas-fn"},
		{http.MethodPost, "/system/namespace/"},
		{http.MethodPut, "/system/namespace/openfaas-fn"},
		{http.MethodDelete, "/system/namespace/openfaas-fn"},
		{http.MethodGet, "/system/telemetry"},
		{http.MethodGet, "/function/zones"},
		{http.MethodGet, "/function/zones/"},
		{http.MethodGet, "/function/zones/zones"},
		{http.MethodGet, "/healthz"},
		{http.MethodHead, "/healthz"},
		{http.MethodGet, "/metrics"},
	}
	for _, rt := range routes {
		r := f.do(t, rt.method, rt.path, "", true, nil)
		code := errorCode(r.body)
		if (r.status == http.StatusNotFound && code == "NOT_FOUND" && !strings.HasPrefix(rt.path, "/function/")) ||
			r.status == http.StatusMethodNotAllowed || r.status == http.StatusUnauthorized {
			t.Errorf("%s %s = %d %s, want a handler of the OpenFaaS API", rt.method, rt.path, r.status, r.body)
		}
	}
	if r := f.do(t, http.MethodPatch, "/system/functions", "", true, nil); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") == "" {
		t.Errorf("PATCH /system/functions = %d Allow %q, want 405 with Allow", r.status, r.header.Get("Allow"))
	}
}

func TestFaaSHandlersAllSet(t *testing.T) {
	srv := &Server{}
	v := reflect.ValueOf(*srv.faasHandlers())
	for i := range v.NumField() {
		if v.Field(i).IsNil() {
			t.Errorf("types.FaaSHandlers.%s is nil", v.Type().Field(i).Name)
		}
	}
}

func TestLoadConfigCallbackNetworks(t *testing.T) {
	env := map[string]string{"JT_FAAS_CALLBACK_NETWORKS": "127.0.0.0/8, ::1, 10.1.2.3"}
	cfg, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.1.2.3/32")}
	if !slices.Equal(cfg.CallbackNetworks, want) {
		t.Errorf("CallbackNetworks = %v, want %v", cfg.CallbackNetworks, want)
	}

	env["JT_FAAS_CALLBACK_NETWORKS"] = "loopback"
	if _, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil || !strings.Contains(err.Error(), "JT_FAAS_CALLBACK_NETWORKS") {
		t.Errorf("LoadConfig with an invalid network = %v, want an error naming JT_FAAS_CALLBACK_NETWORKS", err)
	}
}

func TestFaaSUpdateGatewayEnvironment(t *testing.T) {
	f := startFaaS(t, "", nil)
	ctx := context.Background()

	if r := f.do(t, http.MethodGet, "/api/zones/zones?kind=life", "", false, nil); r.status != http.StatusOK {
		t.Fatalf("GET /api/zones/zones before the update = %d", r.status)
	}
	status, err := f.client.Update(ctx, types.FunctionDeployment{Service: "gateway", EnvVars: map[string]string{"JT_GATEWAY_IP_RATE": "bogus"}})
	if status != http.StatusBadRequest || err == nil {
		t.Errorf("Update(gateway) with an invalid rate = %d, %v; want 400", status, err)
	}
	if r := f.do(t, http.MethodGet, "/api/zones/zones?kind=life", "", false, nil); r.status != http.StatusOK {
		t.Errorf("GET /api/zones/zones after a rejected update = %d %s, want 200", r.status, r.body)
	}

	status, err = f.client.Update(ctx, types.FunctionDeployment{Service: "gateway", EnvVars: map[string]string{"JT_GATEWAY_MAX_BODY": "2000000"}})
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("Update(gateway) = %d, %v; want 202", status, err)
	}
	if r := f.do(t, http.MethodGet, "/api/zones/zones?kind=life", "", false, nil); r.status != http.StatusOK {
		t.Errorf("GET /api/zones/zones after the gateway restarted = %d %s, want 200", r.status, r.body)
	}
	if r := f.do(t, http.MethodGet, "/api/gateway/keys", "", false, nil); r.status != http.StatusOK {
		t.Errorf("GET /api/gateway/keys after the gateway restarted = %d, want 200", r.status)
	}
}

func TestFaaSUpdateUnderLoad(t *testing.T) {
	f := startFaaS(t, "", nil)
	ctx := context.Background()

	stop := make(chan struct{})
	failures := make(chan string, 100)
	var wg sync.WaitGroup
	for _, path := range []string{"/function/echo/", "/function/echo/", "/api/zones/zones?kind=life", "/function/zones/zones?kind=life"} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := faasHTTPClient.Get(f.base + path)
				if err != nil {
					failures <- err.Error()
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures <- path + ": " + resp.Status
					return
				}
			}
		})
	}

	for i, name := range []string{"echo", "zones", "gateway", "echo"} {
		greeting := "round " + strconv.Itoa(i)
		status, err := f.client.Update(ctx, types.FunctionDeployment{Service: name, EnvVars: map[string]string{"JT_ECHO_GREETING": greeting}})
		if err != nil || status != http.StatusAccepted {
			t.Errorf("Update(%s) under load = %d, %v; want 202", name, status, err)
		}
	}
	close(stop)
	wg.Wait()
	close(failures)
	for failure := range failures {
		t.Errorf("a request during the updates failed: %s", failure)
	}
	if _, reply := f.invokeEcho(t, "/", ""); reply.Greeting != "round 3" {
		t.Errorf("echo greeting after the updates = %q, want round 3", reply.Greeting)
	}
}

func TestCallbackForLogDropsSecrets(t *testing.T) {
	u, err := url.Parse("http://user:pw@127.0.0.1:19003/done?access_token=SECRET123#frag")
	if err != nil {
		t.Fatal(err)
	}
	got := callbackForLog(u)
	if strings.Contains(got, "SECRET123") || strings.Contains(got, "pw") || strings.Contains(got, "frag") {
		t.Errorf("callbackForLog = %q, want no query, user info or fragment", got)
	}
	if !strings.HasPrefix(got, "http://127.0.0.1:19003/done") {
		t.Errorf("callbackForLog = %q, want the scheme, host and path", got)
	}
}

package localdev

// The OpenFaaS provider API, served on localdev's own port so that
// faas-cli, the OpenFaaS go-sdk and cron-connector work against it with
// their default gateway URL, http://127.0.0.1:8080.
//
// The handlers fill a types.FaaSHandlers from github.com/openfaas/faas-provider
// and are mounted on localdev's mux at the paths that bootstrap.Serve
// (faas-provider v0.25.12, serve.go) registers them at. localdev does not
// call bootstrap.Serve itself. Serve listens on ":<port>", every
// interface, with its own http.Server, and exits the process with
// log.Fatal on errors. It registers its routes on a package-level router
// and its metrics on the default Prometheus registry, so a second server
// in one process, as the tests start, would panic on the duplicate
// metrics. Mounting keeps one port, one metrics registry and localdev's
// graceful shutdown.
//
// Beyond the provider routes, localdev serves two routes of the OpenFaaS
// gateway that faas-cli and cron-connector call: /system/info in the
// gateway's shape and /async-function/<name>.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfaas/faas-provider/types"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/obs"
)

// defaultNamespace is the one OpenFaaS namespace localdev has, the one
// faas-cli and the go-sdk use when none is given.
const defaultNamespace = "openfaas-fn"

// Basic auth of the /system routes. The file names are those that
// faas-provider's auth.ReadBasicAuthFromDisk reads.
const (
	BasicAuthUser         = "admin"
	basicAuthUserFile     = "basic-auth-user"
	BasicAuthPasswordFile = "basic-auth-password"
)

// minScaleLabel sets a function's replicas when it is deployed, as it sets
// the minimum replicas in OpenFaaS.
const minScaleLabel = "com.openfaas.scale.min"

// Error codes of the OpenFaaS API.
var (
	CodeFunctionNotFound = httpx.NewCode("FUNCTION_NOT_FOUND", http.StatusNotFound,
		"函数 %q 不存在",
		"no function named %q")
	CodeNamespaceNotFound = httpx.NewCode("NAMESPACE_NOT_FOUND", http.StatusNotFound,
		"命名空间 %q 不存在；localdev 只有 openfaas-fn",
		"no namespace named %q; localdev has only openfaas-fn")
	CodeNamespacesFixed = httpx.NewCode("NAMESPACES_FIXED", http.StatusNotImplemented,
		"localdev 只有命名空间 openfaas-fn，不能创建、修改或删除命名空间",
		"localdev has only the namespace openfaas-fn; namespaces cannot be created, changed or deleted")
	CodeFunctionNotHosted = httpx.NewCode("FUNCTION_NOT_HOSTED", http.StatusBadRequest,
		"localdev 只能部署它内置的函数（%s），不能部署 %q",
		"localdev deploys only the functions built into it (%s), not %q")
	CodeFunctionStartFailed = httpx.NewCode("FUNCTION_START_FAILED", http.StatusBadRequest,
		"函数 %s 无法以新的环境变量启动，配置未改变。原因（英文原文）：%s",
		"function %s failed to start with the new environment, and its configuration is unchanged: %s")
	CodeFunctionUnavailable = httpx.NewCode("FUNCTION_UNAVAILABLE", http.StatusServiceUnavailable,
		"函数 %s 启动失败，暂不可用；请用可用的环境变量重新部署",
		"function %s failed to start and is unavailable; deploy it again with a working environment")
	CodeFunctionScaledToZero = httpx.NewCode("FUNCTION_SCALED_TO_ZERO", http.StatusServiceUnavailable,
		"函数 %s 的副本数为 0；用 faas-cli scale %s --replicas 1 恢复",
		"function %s is scaled to zero replicas; scale it up with faas-cli scale %s --replicas 1")
	CodeSecretNotFound = httpx.NewCode("SECRET_NOT_FOUND", http.StatusNotFound,
		"密钥 %q 不存在",
		"no secret named %q")
	CodeSecretExists = httpx.NewCode("SECRET_EXISTS", http.StatusConflict,
		"密钥 %q 已存在；请用 PUT 更新它",
		"secret %q already exists; update it with PUT")
	CodeCallbackURLInvalid = httpx.NewCode("CALLBACK_URL_INVALID", http.StatusBadRequest,
		"X-Callback-Url 无效，请使用 http 或 https 的完整地址：%q",
		"X-Callback-Url is invalid; send an absolute http or https URL: %q")
	CodeCallbackURLNotAllowed = httpx.NewCode("CALLBACK_URL_NOT_ALLOWED", http.StatusBadRequest,
		"X-Callback-Url 的地址 %s 不在 JT_FAAS_CALLBACK_NETWORKS 允许的网络内",
		"X-Callback-Url address %s is outside the networks that JT_FAAS_CALLBACK_NETWORKS allows")
	CodeAsyncQueueFull = httpx.NewCode("ASYNC_QUEUE_FULL", http.StatusTooManyRequests,
		"异步调用队列已满（%d 个），请稍后重试",
		"the asynchronous call queue is full (%d calls); try again later")
)

// faasAPI is the state of the OpenFaaS API that is not per function.
type faasAPI struct {
	dir      string
	logger   *slog.Logger
	user     []byte
	password []byte
	secrets  *secretStore
	async    *asyncQueue
	callback *callbackPolicy
	// droppedReported is how many dropped calls the shutdown warnings have
	// counted, since shutdown drains twice (Serve, then Close).
	droppedReported atomic.Int64

	// deployMu serializes deploy, update, delete and scale, and the writes
	// of the stored configuration.
	deployMu sync.Mutex

	// stopping is closed when shutdown starts, to end the log streams.
	stopping     chan struct{}
	stoppingOnce sync.Once
}

// newFaaSAPI reads the basic auth credentials, generating them at first
// start, and starts the asynchronous call workers.
func newFaaSAPI(cfg Config, logger *slog.Logger) (*faasAPI, error) {
	dir := filepath.Join(cfg.DataDir, FaaSDir)
	user, password, err := ensureBasicAuth(dir, logger)
	if err != nil {
		return nil, err
	}
	return &faasAPI{
		dir:      dir,
		logger:   logger,
		user:     user,
		password: password,
		secrets:  &secretStore{dir: filepath.Join(dir, "secrets")},
		async:    newAsyncQueue(asyncWorkers, asyncQueueSize),
		callback: newCallbackPolicy(cfg.CallbackNetworks),
		stopping: make(chan struct{}),
	}, nil
}

func (s *Server) faasDir() string { return filepath.Join(s.cfg.DataDir, FaaSDir) }

// stopFollowers ends the log streams that follow a function.
func (a *faasAPI) stopFollowers() {
	a.stoppingOnce.Do(func() { close(a.stopping) })
}

// ensureBasicAuth returns the user and password of the /system routes
// from dir, writing the user admin and a random password, each readable by
// the owner only, when the files do not exist.
func ensureBasicAuth(dir string, logger *slog.Logger) (user, password []byte, err error) {
	userPath := filepath.Join(dir, basicAuthUserFile)
	passwordPath := filepath.Join(dir, BasicAuthPasswordFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("localdev: creating %s: %w", dir, err)
	}
	f, err := os.OpenFile(userPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		_, err = f.WriteString(BasicAuthUser + "\n")
		if errClose := f.Close(); err == nil {
			err = errClose
		}
		if err != nil {
			return nil, nil, fmt.Errorf("localdev: writing %s: %w", userPath, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, nil, fmt.Errorf("localdev: creating %s: %w", userPath, err)
	}
	created, err := ensureHexSecretFile(passwordPath)
	if err != nil {
		return nil, nil, err
	}
	if created {
		logger.Info("generated the OpenFaaS API password", "user", BasicAuthUser, "path", passwordPath)
	}

	read := func(path string) ([]byte, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("localdev: reading %s: %w", path, err)
		}
		v := strings.TrimSpace(string(data))
		if v == "" {
			return nil, fmt.Errorf("localdev: %s is empty; delete it to have a new one generated", path)
		}
		return []byte(v), nil
	}
	if user, err = read(userPath); err != nil {
		return nil, nil, err
	}
	if password, err = read(passwordPath); err != nil {
		return nil, nil, err
	}
	return user, password, nil
}

// faasHandlers returns the handlers of the provider API. Every field is
// set: bootstrap.Serve registers most of them without a nil check.
func (s *Server) faasHandlers() *types.FaaSHandlers {
	return &types.FaaSHandlers{
		ListNamespaces:  s.listNamespaces,
		MutateNamespace: s.mutateNamespace,
		FunctionProxy:   s.invoke,
		FunctionLister:  s.listFunctions,
		DeployFunction:  s.deployFunction,
		UpdateFunction:  s.updateFunction,
		DeleteFunction:  s.deleteFunction,
		FunctionStatus:  s.describeFunction,
		ScaleFunction:   s.scaleFunction,
		Secrets:         s.handleSecrets,
		Logs:            s.functionLogs,
		Health:          obs.Healthz,
		Info:            s.info,
		Telemetry:       s.telemetry,
	}
}

// mountFaaS registers the provider routes of bootstrap.Serve, every
// /system route behind basic auth, and the gateway's /async-function
// route on mux. /healthz and /metrics are localdev's own.
func (s *Server) mountFaaS(mux *http.ServeMux) {
	h := s.faasHandlers()
	sys := http.NewServeMux()
	sys.HandleFunc("GET /system/functions", h.FunctionLister)
	sys.HandleFunc("POST /system/functions", h.DeployFunction)
	sys.HandleFunc("PUT /system/functions", h.UpdateFunction)
	sys.HandleFunc("DELETE /system/functions", h.DeleteFunction)
	sys.HandleFunc("GET /system/function/{name}", h.FunctionStatus)
	sys.HandleFunc("POST /system/scale-function/{name}", h.ScaleFunction)
	sys.HandleFunc("GET /system/info", h.Info)
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		sys.HandleFunc(method+" /system/secrets", h.Secrets)
	}
	sys.HandleFunc("GET /system/logs", h.Logs)
	sys.HandleFunc("GET /system/namespaces", h.ListNamespaces)
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		sys.HandleFunc(method+" /system/namespace/{$}", h.MutateNamespace)
		sys.HandleFunc(method+" /system/namespace/{name}", h.MutateNamespace)
	}
	sys.HandleFunc("GET /system/telemetry", h.Telemetry)
	sys.Handle("/system/", unmatched(sys))

	// The /system routes get request ids, spans, metrics and trace ids in
	// their log lines, as a function named openfaas would.
	api := &fn.Function{Name: "openfaas", Handler: s.requireBasicAuth(sys)}
	mux.Handle("/system/", obs.HandlerWith(api, s.logger, obs.Options{Metrics: s.metrics, TracerProvider: s.tracing.TracerProvider()}))
	mux.HandleFunc("/function/", h.FunctionProxy)
	mux.HandleFunc("/async-function/", s.invokeAsync)
}

// probeMethods are the methods tried to tell an unknown path from a known
// path requested with the wrong method.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}

// unmatched responds to requests that no route of mux matched: 405 with
// an Allow header when the path exists for another method, else 404.
func unmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, method := range probeMethods {
			probe := &http.Request{Method: method, URL: r.URL, Host: r.Host, Header: http.Header{}}
			if _, pattern := mux.Handler(probe); pattern != "/system/" && pattern != "" {
				allowed = append(allowed, method)
			}
		}
		if len(allowed) == 0 {
			httpx.WriteError(w, r, nil, httpx.E(httpx.CodeNotFound))
			return
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		httpx.WriteError(w, r, nil, httpx.E(httpx.CodeMethodNotAllowed, r.Method))
	})
}

// requireBasicAuth passes on requests with the API's user and password,
// compared in constant time, and responds 401 to the others.
func (s *Server) requireBasicAuth(next http.Handler) http.Handler {
	wantUser := sha256.Sum256(s.faas.user)
	wantPassword := sha256.Sum256(s.faas.password)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		gotUser := sha256.Sum256([]byte(user))
		gotPassword := sha256.Sum256([]byte(password))
		// Both comparisons run every time, so the timing does not tell
		// whether the user name was right.
		userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:])
		passwordOK := subtle.ConstantTimeCompare(gotPassword[:], wantPassword[:])
		if !ok || userOK&passwordOK != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="OpenFaaS API", charset="UTF-8"`)
			httpx.WriteError(w, r, nil, httpx.E(httpx.CodeUnauthorized))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// lookupFunction returns the hosted function that ref names: a function
// name, optionally followed by a dot and the namespace. namespace is the
// namespace from a query parameter or request body, empty for the
// default.
func (s *Server) lookupFunction(ref, namespace string) (*hostedFunction, error) {
	name, ns, hasNamespace := strings.Cut(ref, ".")
	if hasNamespace && ns != defaultNamespace {
		return nil, httpx.E(CodeNamespaceNotFound, truncateForMessage(ns))
	}
	if err := checkNamespace(namespace); err != nil {
		return nil, err
	}
	h := s.byName[name]
	if h == nil {
		return nil, httpx.E(CodeFunctionNotFound, truncateForMessage(name))
	}
	return h, nil
}

// deployedFunction is lookupFunction for a function that is not removed.
func (s *Server) deployedFunction(ref, namespace string) (*hostedFunction, error) {
	h, err := s.lookupFunction(ref, namespace)
	if err != nil {
		return nil, err
	}
	if h.spec.Load().Removed {
		return nil, httpx.E(CodeFunctionNotFound, h.name)
	}
	return h, nil
}

func checkNamespace(namespace string) error {
	if namespace != "" && namespace != defaultNamespace {
		return httpx.E(CodeNamespaceNotFound, truncateForMessage(namespace))
	}
	return nil
}

// truncateForMessage shortens a value that a client sent to at most 64
// bytes, so that an error message quoting it stays short.
func truncateForMessage(v string) string {
	const maxLen = 64
	if len(v) <= maxLen {
		return v
	}
	cut := maxLen
	for cut > 0 && (v[cut]&0xC0) == 0x80 {
		cut--
	}
	return v[:cut] + "…"
}

// decodeRequest reads a JSON request body into v. Unlike httpx.DecodeJSON
// it accepts a request without a Content-Type and fields that v lacks,
// because OpenFaaS clients of other versions send both.
func decodeRequest(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil || mediaType != "application/json" {
			return httpx.E(httpx.CodeUnsupportedMediaType, ct)
		}
	}
	body, err := httpx.ReadBody(r, httpx.DefaultMaxBody)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(body)) == "" {
		return httpx.E(httpx.CodeInvalidJSON, httpx.Localized{ZH: "请求体为空", EN: "the body is empty"})
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return httpx.E(httpx.CodeInvalidRequest).WithDetails(httpx.Detail{
				Path: "/" + strings.ReplaceAll(typeErr.Field, ".", "/"), Reason: "invalid_type",
				ZH: "类型错误：不应为 JSON " + typeErr.Value, EN: "must not be a JSON " + typeErr.Value,
			})
		}
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) {
			return httpx.E(httpx.CodeInvalidJSON, httpx.Localized{ZH: fmt.Sprintf("第 %d 字节处有语法错误", syntaxErr.Offset), EN: fmt.Sprintf("syntax error at byte %d", syntaxErr.Offset)})
		}
		return httpx.Wrap(httpx.CodeInvalidJSON, err, httpx.Localized{ZH: "结构与接口要求不符", EN: "the body does not match the expected structure"})
	}
	return nil
}

func required(path string) httpx.Detail {
	return httpx.Detail{Path: path, Reason: "required", ZH: "必填", EN: "is required"}
}

// listNamespaces serves GET /system/namespaces. cron-connector schedules
// nothing when the list is empty, so it always has openfaas-fn.
func (s *Server) listNamespaces(w http.ResponseWriter, _ *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, []string{defaultNamespace})
}

// mutateNamespace serves /system/namespace/<name>: GET describes
// openfaas-fn, and the methods that would change namespaces return 501.
func (s *Server) mutateNamespace(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		httpx.WriteError(w, r, nil, httpx.E(CodeNamespacesFixed))
		return
	}
	name := r.PathValue("name")
	if name != defaultNamespace {
		httpx.WriteError(w, r, nil, httpx.E(CodeNamespaceNotFound, truncateForMessage(name)))
		return
	}
	// OpenFaaS marks the namespaces it manages with this label and
	// annotation.
	httpx.WriteJSON(w, http.StatusOK, types.FunctionNamespace{
		Name:        defaultNamespace,
		Labels:      map[string]string{"openfaas": "1"},
		Annotations: map[string]string{"openfaas": "1"},
	})
}

// listFunctions serves GET /system/functions.
func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request) {
	if err := checkNamespace(r.URL.Query().Get("namespace")); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	out := make([]types.FunctionStatus, 0, len(s.hosted))
	for _, h := range s.hosted {
		if h.spec.Load().Removed {
			continue
		}
		out = append(out, s.status(r.Context(), h))
	}
	slices.SortFunc(out, func(a, b types.FunctionStatus) int { return strings.Compare(a.Name, b.Name) })
	httpx.WriteJSON(w, http.StatusOK, out)
}

// describeFunction serves GET /system/function/<name>.
func (s *Server) describeFunction(w http.ResponseWriter, r *http.Request) {
	h, err := s.deployedFunction(r.PathValue("name"), r.URL.Query().Get("namespace"))
	if err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, s.status(r.Context(), h))
}

// status reports h as OpenFaaS does. The environment, labels and
// annotations are the stored ones, never the process environment. The
// available replicas are the stored replicas while the running build is
// ready, and 0 otherwise, so that faas-cli describe reports "Not Ready".
func (s *Server) status(ctx context.Context, h *hostedFunction) types.FunctionStatus {
	spec := h.spec.Load()
	d := spec.Deployment
	st := types.FunctionStatus{
		Name:                   h.name,
		Image:                  d.Image,
		Namespace:              defaultNamespace,
		EnvProcess:             d.EnvProcess,
		EnvVars:                d.EnvVars,
		Constraints:            d.Constraints,
		Secrets:                d.Secrets,
		Labels:                 d.Labels,
		Annotations:            d.Annotations,
		Limits:                 d.Limits,
		Requests:               d.Requests,
		ReadOnlyRootFilesystem: d.ReadOnlyRootFilesystem,
		InvocationCount:        float64(h.invocations.Load()),
		Replicas:               spec.Replicas,
	}
	h.mu.RLock()
	if h.cur != nil {
		st.CreatedAt = h.cur.started
	}
	h.mu.RUnlock()
	if err := h.ready(ctx); err == nil {
		st.AvailableReplicas = spec.Replicas
	}
	return st
}

// deployFunction serves POST /system/functions. It deploys a function
// that localdev hosts, removed or not, and rejects any other name.
func (s *Server) deployFunction(w http.ResponseWriter, r *http.Request) {
	s.applyDeployment(w, r, false)
}

// updateFunction serves PUT /system/functions. It returns 404 for a
// function that is not deployed, which makes faas-cli deploy fall back to
// POST.
func (s *Server) updateFunction(w http.ResponseWriter, r *http.Request) {
	s.applyDeployment(w, r, true)
}

func (s *Server) applyDeployment(w http.ResponseWriter, r *http.Request, update bool) {
	var d types.FunctionDeployment
	if err := decodeRequest(r, &d); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	h, replicas, err := s.checkDeployment(&d, update)
	if err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}

	s.faas.deployMu.Lock()
	defer s.faas.deployMu.Unlock()
	old := h.spec.Load()
	if update && old.Removed {
		httpx.WriteError(w, r, nil, httpx.E(CodeFunctionNotFound, h.name))
		return
	}
	next := &functionSpec{Deployment: d, Replicas: 1}
	switch {
	case replicas != nil:
		next.Replicas = *replicas
	case update:
		next.Replicas = old.Replicas
	}

	// A new environment takes a new build, as a new pod would in OpenFaaS.
	restarted := false
	if !maps.Equal(old.Deployment.EnvVars, d.EnvVars) || !h.running() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), restartTimeout)
		err := s.restart(ctx, h, d.EnvVars, old.Deployment.EnvVars)
		cancel()
		if err != nil {
			httpx.WriteError(w, r, nil, httpx.Wrap(CodeFunctionStartFailed, err, h.name, truncateError(err)))
			return
		}
		restarted = true
	}
	h.spec.Store(next)
	if err := s.saveSpecs(); err != nil {
		httpx.WriteError(w, r, s.logger, fmt.Errorf("saving the function configuration: %w", err))
		return
	}

	h.logs.add(fmt.Sprintf("deployed image %s with %d replicas", d.Image, next.Replicas))
	s.logger.InfoContext(r.Context(), "deployed a function through the OpenFaaS API",
		"function", h.name, "update", update, "restarted", restarted, "replicas", next.Replicas)
	w.WriteHeader(http.StatusAccepted)
}

// checkDeployment validates d and normalizes its namespace and image. It
// returns the function and the replicas that the minimum scale label
// sets, nil when the label is absent.
func (s *Server) checkDeployment(d *types.FunctionDeployment, update bool) (*hostedFunction, *uint64, error) {
	if d.Service == "" {
		return nil, nil, httpx.E(httpx.CodeInvalidRequest).WithDetails(required("/service"))
	}
	if err := checkNamespace(d.Namespace); err != nil {
		return nil, nil, err
	}
	h := s.byName[d.Service]
	if h == nil {
		if update {
			return nil, nil, httpx.E(CodeFunctionNotFound, truncateForMessage(d.Service))
		}
		return nil, nil, httpx.E(CodeFunctionNotHosted, strings.Join(s.hostedNames(), ", "), truncateForMessage(d.Service))
	}
	d.Namespace = defaultNamespace
	if d.Image == "" {
		d.Image = defaultImage(h.name)
	}

	var details []httpx.Detail
	for _, key := range slices.Sorted(maps.Keys(d.EnvVars)) {
		if key == "" || strings.ContainsAny(key, "=\x00") {
			details = append(details, httpx.Detail{
				Path: "/envVars/" + pointerToken(key), Reason: "invalid_format",
				ZH: "环境变量名不能为空，也不能含有 = 或 NUL", EN: "an environment variable name must be non-empty and contain no = or NUL",
			})
		}
	}
	var replicas *uint64
	if d.Labels != nil {
		if v, ok := (*d.Labels)[minScaleLabel]; ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				details = append(details, httpx.Detail{
					Path: "/labels/" + pointerToken(minScaleLabel), Reason: "invalid_format",
					ZH: "应为非负整数", EN: "must be a non-negative integer",
				})
			}
			replicas = &n
		}
	}
	if len(details) > 0 {
		return nil, nil, httpx.E(httpx.CodeInvalidRequest).WithDetails(details...)
	}
	return h, replicas, nil
}

// pointerToken escapes s as one RFC 6901 JSON Pointer token.
func pointerToken(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// truncateError returns the text of err cut to 300 bytes, for a message
// about the client's own configuration.
func truncateError(err error) string {
	const maxLen = 300
	msg := err.Error()
	if len(msg) <= maxLen {
		return msg
	}
	cut := maxLen
	for cut > 0 && (msg[cut]&0xC0) == 0x80 {
		cut--
	}
	return msg[:cut] + "…"
}

func (s *Server) hostedNames() []string {
	names := make([]string, 0, len(s.hosted))
	for _, h := range s.hosted {
		names = append(names, h.name)
	}
	slices.Sort(names)
	return names
}

// running reports whether h has a running build.
func (h *hostedFunction) running() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.cur != nil
}

// deleteFunction serves DELETE /system/functions. localdev compiles its
// functions in, so removing one keeps it running but unlisted, and its
// invocations return 404 until it is deployed again.
func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request) {
	var req types.DeleteFunctionRequest
	if err := decodeRequest(r, &req); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	if req.FunctionName == "" {
		httpx.WriteError(w, r, nil, httpx.E(httpx.CodeInvalidRequest).WithDetails(required("/functionName")))
		return
	}
	s.updateSpec(w, r, req.FunctionName, req.Namespace, func(spec *functionSpec) { spec.Removed = true })
}

// scaleFunction serves POST /system/scale-function/<name>. The replicas
// are reported, and zero replicas make invocations return 503.
func (s *Server) scaleFunction(w http.ResponseWriter, r *http.Request) {
	var req types.ScaleServiceRequest
	if err := decodeRequest(r, &req); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	s.updateSpec(w, r, r.PathValue("name"), req.Namespace, func(spec *functionSpec) { spec.Replicas = req.Replicas })
}

// updateSpec applies change to a copy of the stored configuration of the
// deployed function ref, stores it and responds 202 Accepted.
func (s *Server) updateSpec(w http.ResponseWriter, r *http.Request, ref, namespace string, change func(*functionSpec)) {
	h, err := s.deployedFunction(ref, namespace)
	if err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	s.faas.deployMu.Lock()
	defer s.faas.deployMu.Unlock()
	old := h.spec.Load()
	if old.Removed {
		httpx.WriteError(w, r, nil, httpx.E(CodeFunctionNotFound, h.name))
		return
	}
	next := *old
	change(&next)
	h.spec.Store(&next)
	if err := s.saveSpecs(); err != nil {
		httpx.WriteError(w, r, s.logger, fmt.Errorf("saving the function configuration: %w", err))
		return
	}
	switch {
	case next.Removed:
		h.logs.add("removed")
	case next.Replicas != old.Replicas:
		h.logs.add(fmt.Sprintf("scaled from %d to %d replicas", old.Replicas, next.Replicas))
	}
	s.logger.InfoContext(r.Context(), "changed a function through the OpenFaaS API",
		"function", h.name, "removed", next.Removed, "replicas", next.Replicas)
	w.WriteHeader(http.StatusAccepted)
}

// gatewayInfo is the body of the OpenFaaS gateway's GET /system/info,
// which wraps the provider's types.ProviderInfo. faas-cli version and the
// go-sdk's GetInfo read this shape.
type gatewayInfo struct {
	Provider types.ProviderInfo `json:"provider"`
	Version  types.VersionInfo  `json:"version"`
	Arch     string             `json:"arch"`
}

// info serves GET /system/info.
func (s *Server) info(w http.ResponseWriter, _ *http.Request) {
	version := buildVersion()
	httpx.WriteJSON(w, http.StatusOK, gatewayInfo{
		Provider: types.ProviderInfo{Name: "jingtong-localdev", Orchestration: "localdev", Version: &version},
		Version:  version,
		Arch:     runtime.GOARCH,
	})
}

// buildVersion reads the module version and VCS revision that the Go
// toolchain recorded in the binary. A binary built without VCS stamping
// reports the revision "unknown".
func buildVersion() types.VersionInfo {
	v := types.VersionInfo{Release: "dev", SHA: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Release = bi.Main.Version
	}
	for _, setting := range bi.Settings {
		if setting.Key == "vcs.revision" && setting.Value != "" {
			v.SHA = setting.Value
		}
	}
	return v
}

// telemetry serves GET /system/telemetry, which bootstrap.Serve registers
// when the handler is set. localdev reports the invocation count of each
// function, and the Prometheus metrics are at /metrics.
func (s *Server) telemetry(w http.ResponseWriter, _ *http.Request) {
	counts := make(map[string]uint64, len(s.hosted))
	for _, h := range s.hosted {
		counts[h.name+"."+defaultNamespace] = h.invocations.Load()
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"invocations": counts, "time": time.Now().UTC()})
}

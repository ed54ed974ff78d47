package localdev

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfaas/faas-provider/types"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/obs"
)

// FaaSDir is the directory under the data directory where the OpenFaaS
// API keeps its state: the basic auth credentials, the stored function
// configuration and the secrets.
const FaaSDir = "openfaas"

// functionsFile is the file in FaaSDir with the configuration that the
// OpenFaaS API stored for each function.
const functionsFile = "functions.json"

// restartTimeout bounds one rebuild of a function after its environment
// changed, migrations included.
const restartTimeout = 2 * time.Minute

// buildFunc builds a function from env and returns it with its internal
// handler, the one served at /function/<name>/.
type buildFunc func(ctx context.Context, env *fn.Env) (*fn.Function, http.Handler, error)

// hostedFunction is one function that localdev hosts, with the
// configuration that the OpenFaaS API deploys, scales and removes.
type hostedFunction struct {
	name  string
	build buildFunc
	// isEdge marks the gateway, whose fn.Function handler is the public
	// edge that localdev serves at /api/.
	isEdge bool
	logs   *logRing
	// logger writes to localdev's log and to logs, for /system/logs.
	logger *slog.Logger

	// spec is the stored configuration. It is replaced, never changed in
	// place, and only while Server.deployMu is held.
	spec        atomic.Pointer[functionSpec]
	invocations atomic.Uint64

	// mu is held shared while a request is served and exclusively while
	// the function is rebuilt. An old and a new build therefore never serve
	// at the same time, which matters for the gateway: two of them would
	// append to one audit chain.
	mu sync.RWMutex
	// cur is the running build; nil when a rebuild failed and the build
	// with the previous environment failed too.
	cur *generation
}

// generation is one build of a hosted function.
type generation struct {
	fn       *fn.Function
	internal http.Handler
	edge     http.Handler
	started  time.Time
}

// functionSpec is the configuration of a hosted function as the OpenFaaS
// API stores it.
type functionSpec struct {
	Deployment types.FunctionDeployment `json:"deployment"`
	Replicas   uint64                   `json:"replicas"`
	// Removed is set by DELETE /system/functions: the function keeps
	// running but is neither listed nor invoked until it is deployed again.
	Removed bool `json:"removed,omitempty"`
}

// defaultSpec is the configuration of a function that the OpenFaaS API
// never changed.
func defaultSpec(name string) *functionSpec {
	return &functionSpec{
		Deployment: types.FunctionDeployment{Service: name, Image: defaultImage(name), Namespace: defaultNamespace},
		Replicas:   1,
	}
}

// defaultImage is the image name reported for a function deployed without
// one. localdev runs no images; the name follows infra/Dockerfile's tags.
func defaultImage(name string) string { return "jingtong/" + name + ":localdev" }

func newHostedFunction(name string, isEdge bool, build buildFunc, base *slog.Logger) *hostedFunction {
	ring := newLogRing(name)
	return &hostedFunction{
		name:   name,
		build:  build,
		isEdge: isEdge,
		logs:   ring,
		logger: slog.New(slog.NewMultiHandler(base.Handler(), obs.TraceHandler(ring.handler()))),
	}
}

// serve serves r with the running build's internal handler, or with its
// edge handler when edge is set, unless the function is removed, scaled to
// zero or failed to start.
func (h *hostedFunction) serve(w http.ResponseWriter, r *http.Request, edge bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if err := h.unavailableLocked(); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	h.invocations.Add(1)
	if edge {
		h.cur.edge.ServeHTTP(w, r)
		return
	}
	h.cur.internal.ServeHTTP(w, r)
}

// unavailableLocked returns the error that a request to the function gets
// instead of the function's response, or nil. The caller holds h.mu.
func (h *hostedFunction) unavailableLocked() error {
	spec := h.spec.Load()
	switch {
	case spec.Removed:
		return httpx.E(CodeFunctionNotFound, h.name)
	case h.cur == nil:
		return httpx.E(CodeFunctionUnavailable, h.name)
	case spec.Replicas == 0:
		return httpx.E(CodeFunctionScaledToZero, h.name, h.name)
	}
	return nil
}

// readyz responds 200 when the running build is ready, like obs.Readyz.
func (h *hostedFunction) readyz(w http.ResponseWriter, r *http.Request) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.cur == nil {
		httpx.WriteError(w, r, nil, httpx.E(CodeFunctionUnavailable, h.name))
		return
	}
	obs.Readyz(h.cur.fn).ServeHTTP(w, r)
}

// ready reports whether the running build exists and its Ready check
// passes within two seconds.
func (h *hostedFunction) ready(ctx context.Context) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.cur == nil {
		return fmt.Errorf("%s failed to start", h.name)
	}
	if h.cur.fn.Ready == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return h.cur.fn.Ready(ctx)
}

// host builds the function name, with the environment stored for it in
// stored, migrates it and adds it to the hosted functions.
func (s *Server) host(ctx context.Context, name string, isEdge bool, build buildFunc, stored map[string]*functionSpec) error {
	h := newHostedFunction(name, isEdge, build, s.logger)
	spec := stored[name]
	if spec == nil {
		spec = defaultSpec(name)
	}
	h.spec.Store(spec)

	g, err := s.start(ctx, h, spec.Deployment.EnvVars)
	if err != nil {
		if len(spec.Deployment.EnvVars) > 0 {
			return fmt.Errorf("localdev: starting %s with the environment that the OpenFaaS API stored in %s: %w",
				name, filepath.Join(s.cfg.DataDir, FaaSDir, functionsFile), err)
		}
		return fmt.Errorf("localdev: starting %s: %w", name, err)
	}
	h.cur = g
	s.hosted = append(s.hosted, h)
	s.byName[name] = h
	return nil
}

// start builds and migrates one generation of h, with envVars in front of
// the process environment and localdev's defaults.
func (s *Server) start(ctx context.Context, h *hostedFunction, envVars map[string]string) (*generation, error) {
	env := *s.env
	base := s.env.Lookup
	env.Lookup = func(key string) (string, bool) {
		if v, ok := envVars[key]; ok {
			return v, true
		}
		return base(key)
	}
	env.Logger = h.logger

	began := time.Now()
	f, internal, err := h.build(ctx, &env)
	if err != nil {
		return nil, err
	}
	if f.Name != h.name {
		closeFunction(f, s.logger)
		return nil, fmt.Errorf("localdev: the builder of %s returned a function named %s", h.name, f.Name)
	}
	if f.Migrate != nil {
		if err := f.Migrate(ctx); err != nil {
			closeFunction(f, s.logger)
			return nil, fmt.Errorf("localdev: migrating %s: %w", f.Name, err)
		}
	}

	opts := obs.Options{Metrics: s.metrics, TracerProvider: s.tracing.TracerProvider()}
	g := &generation{
		fn:       f,
		internal: obs.HandlerWith(&fn.Function{Name: f.Name, Handler: internal, Ready: f.Ready}, h.logger, opts),
		started:  time.Now(),
	}
	if h.isEdge {
		g.edge = obs.HandlerWith(f, h.logger, opts)
	}
	h.logs.add(fmt.Sprintf("started %s in %s", f.Name, time.Since(began).Round(time.Millisecond)))
	return g, nil
}

// restart starts a build of h with envVars and then swaps it for the
// running one, which keeps serving until the swap. When the new build
// fails, the running one stays and restart returns the error. When none
// is running, it starts one with fallback, the environment that worked
// before, and still returns the first error. The caller holds
// s.deployMu.
func (s *Server) restart(ctx context.Context, h *hostedFunction, envVars, fallback map[string]string) error {
	g, err := s.start(ctx, h, envVars)
	if err == nil {
		h.mu.Lock()
		old := h.cur
		h.cur = g
		h.mu.Unlock()
		if old != nil {
			closeFunction(old.fn, s.logger)
		}
		return nil
	}
	h.logs.add("failed to start with the new environment: " + err.Error())
	if h.running() {
		s.logger.Warn("a function failed to start with the environment deployed through the OpenFaaS API; the running build keeps serving",
			"function", h.name, "err", err)
		return err
	}
	s.logger.Warn("a function failed to start with the environment deployed through the OpenFaaS API; starting it with the previous one",
		"function", h.name, "err", err)

	previous, errPrevious := s.start(ctx, h, fallback)
	if errPrevious != nil {
		h.logs.add("failed to start with the previous environment: " + errPrevious.Error())
		s.logger.Error("a function failed to start with its previous environment too, so its invocations return 503 until a deploy succeeds",
			"function", h.name, "err", errPrevious)
		return err
	}
	h.mu.Lock()
	h.cur = previous
	h.mu.Unlock()
	return err
}

// stop closes the running build of h.
func (s *Server) stop(h *hostedFunction) {
	// Requests, cron runs and queue messages hold h.mu shared while they
	// run. One that ignores its cancelled context must not keep Close
	// waiting for good, so after stopTimeout the build is left running.
	deadline := time.Now().Add(stopTimeout)
	for !h.mu.TryLock() {
		if time.Now().After(deadline) {
			s.logger.Error("a function was still serving after its stop timeout; leaving it running",
				"function", h.name, "timeout", stopTimeout.String())
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer h.mu.Unlock()
	if h.cur != nil {
		closeFunction(h.cur.fn, s.logger)
		h.cur = nil
	}
}

// stopTimeout bounds how long stop waits for the work in progress on a
// function.
const stopTimeout = 15 * time.Second

func closeFunction(f *fn.Function, logger *slog.Logger) {
	if f.Close == nil {
		return
	}
	if err := f.Close(); err != nil {
		logger.Warn("closing a function failed", "function", f.Name, "err", err)
	}
}

// loadSpecs reads the configuration that the OpenFaaS API stored in dir.
// A missing file means none was stored.
func loadSpecs(dir string) (map[string]*functionSpec, error) {
	path := filepath.Join(dir, functionsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*functionSpec{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("localdev: reading the stored function configuration: %w", err)
	}
	specs := map[string]*functionSpec{}
	if err := json.Unmarshal(data, &specs); err != nil {
		return nil, fmt.Errorf("localdev: %s is not valid JSON; fix it or delete it to start with the defaults: %w", path, err)
	}
	for name, spec := range specs {
		if spec == nil {
			delete(specs, name)
			continue
		}
		spec.Deployment.Service = name
		spec.Deployment.Namespace = defaultNamespace
	}
	return specs, nil
}

// saveSpecs writes the configuration of every hosted function to the data
// directory, readable by the owner only because environments may contain
// secrets. The caller holds s.deployMu.
func (s *Server) saveSpecs() error {
	specs := make(map[string]*functionSpec, len(s.hosted))
	for _, h := range s.hosted {
		specs[h.name] = h.spec.Load()
	}
	data, err := json.MarshalIndent(specs, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.faasDir(), functionsFile), append(data, '\n'))
}

// writeFileAtomic replaces path with data, mode 0600, through a temporary
// file in the same directory, so that a reader never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return nil
}

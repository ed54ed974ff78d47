// Package localdev hosts every Jingtong function in one process on one
// machine, with embedded defaults (SQLite under the data directory), so that
// `make dev` needs nothing installed.
//
// Routes:
//
//	/function/<name>/...  the internal, platform-side path, as OpenFaaS and
//	                      Knative expose functions inside a cluster, without
//	                      the envelope; /function/gateway/ serves the
//	                      gateway's own routes, and <name>.openfaas-fn
//	                      names a function with its OpenFaaS namespace
//	/async-function/<name>/...  the same path, invoked in the background
//	                      with an optional X-Callback-Url (see faas.go)
//	/system/...           the OpenFaaS provider API, with basic auth
//	/api/...              the public edge that mini-programs call: the
//	                      gateway function in front of the hosted functions,
//	                      routed by the gateway's route table
//	/.well-known/jingtong-keys.json  the gateway's public keys
//	/api/<name>/healthz, /api/<name>/readyz  the health of one function
//	/h5/<id>              placeholder pages for the catalogue's H5 links
//	/static/<path>.svg    placeholder images for icons and banners
//	/healthz, /readyz     liveness and readiness of the whole process
//	/metrics              Prometheus metrics of every function
package localdev

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/gateway"
	"github.com/jingtong/backend/functions/gateway/route"
	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/obs"
	"github.com/jingtong/backend/shared/store"
)

// OperatorTokenFile is the name of the development operator token file in
// the data directory.
const OperatorTokenFile = "operator-token"

// Server is a running localdev instance.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	db      *bun.DB
	metrics *obs.Metrics
	// tracing makes the spans of every hosted function, its cron ticks
	// and its queue deliveries.
	tracing *obs.Tracing
	// env is the environment every function is built with, before the
	// variables that the OpenFaaS API stored for it.
	env *fn.Env
	// hosted are the functions in start-up order, the gateway last, and
	// byName finds them by name.
	hosted  []*hostedFunction
	byName  map[string]*hostedFunction
	faas    *faasAPI
	handler http.Handler
	// platform runs the cron jobs and queue consumers.
	platform *platform
	// dataLock holds the data directory for this instance; nil where
	// locks are not supported.
	dataLock *os.File
}

// New opens the database, builds and migrates every function, puts the
// gateway in front of them and prepares the routes. lookup reads the
// process configuration. Where lookup leaves them unset, localdev adds its
// own defaults for the functions: the operator token file, demo seeding,
// and the gateway's key, identity secret and audit key, which it generates
// in the data directory at first start.
func New(ctx context.Context, cfg Config, lookup func(string) (string, bool), logger *slog.Logger) (*Server, error) {
	return newServer(ctx, cfg, lookup, logger, builders)
}

// newServer is New hosting the functions of list, for tests that add
// their own.
func newServer(ctx context.Context, cfg Config, lookup func(string) (string, bool), logger *slog.Logger, list []namedBuilder) (*Server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("localdev: creating data directory: %w", err)
	}
	dataLock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	release := func() {
		if dataLock != nil {
			_ = dataLock.Close()
		}
	}
	tokenPath := cfg.OperatorTokenFile
	if tokenPath == "" {
		tokenPath = filepath.Join(cfg.DataDir, OperatorTokenFile)
	}
	_, created, err := auth.EnsureTokenFile(tokenPath)
	if err != nil {
		release()
		return nil, err
	}
	if created {
		logger.Info("generated the development operator token", "path", tokenPath)
	}

	defaults, err := gatewayDefaults(cfg.DataDir, lookup, logger)
	if err != nil {
		release()
		return nil, err
	}
	defaults["JT_OPERATOR_TOKEN_FILE"] = tokenPath
	defaults["JT_ZONES_SEED"] = "true"

	if cfg.Tracing.Logger == nil {
		cfg.Tracing.Logger = logger
	}
	tracing, err := obs.NewTracing(ctx, cfg.Tracing)
	if err != nil {
		release()
		return nil, fmt.Errorf("localdev: %w", err)
	}
	logger.Info("tracing configured", tracing.LogAttrs()...)
	db, err := store.Open(ctx, cfg.databaseDSN())
	if err != nil {
		shutdownTracing(tracing, logger)
		release()
		return nil, err
	}
	s := &Server{cfg: cfg, logger: logger, db: db, metrics: obs.NewMetrics(), tracing: tracing, byName: map[string]*hostedFunction{}, dataLock: dataLock}
	s.env = &fn.Env{
		Lookup: func(key string) (string, bool) {
			if v, ok := lookup(key); ok {
				return v, true
			}
			v, ok := defaults[key]
			return v, ok
		},
		Logger:  logger,
		Now:     time.Now,
		OpenDB:  func(context.Context) (*bun.DB, error) { return db, nil },
		DataDir: cfg.DataDir,
	}
	if s.platform, err = openPlatform(s.env.Lookup, logger); err != nil {
		s.Close()
		return nil, err
	}
	s.env.Publisher = s.platform.queue
	if s.faas, err = newFaaSAPI(cfg, logger); err != nil {
		s.Close()
		return nil, err
	}
	stored, err := loadSpecs(s.faasDir())
	if err != nil {
		s.Close()
		return nil, err
	}

	for _, b := range list {
		build := func(ctx context.Context, env *fn.Env) (*fn.Function, http.Handler, error) {
			f, err := b.build(ctx, env)
			if err != nil {
				return nil, nil, fmt.Errorf("localdev: building %s: %w", b.name, err)
			}
			return f, f.Handler, nil
		}
		if err := s.host(ctx, b.name, false, build, stored); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.hostGateway(ctx, stored); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.platform.start(ctx, s.env, s.platformFunctions(), tracing.TracerProvider()); err != nil {
		s.Close()
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// hostGateway hosts the gateway with every other hosted function as an
// in-process target. The targets check the target's state on each
// request, so a rebuilt, scaled or removed function is seen at once.
func (s *Server) hostGateway(ctx context.Context, stored map[string]*functionSpec) error {
	targets := make(map[string]http.Handler, len(s.hosted))
	for _, h := range s.hosted {
		targets[h.name] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, false) })
	}
	build := func(ctx context.Context, env *fn.Env) (*fn.Function, http.Handler, error) {
		g, err := gateway.Build(ctx, env, targets)
		if err != nil {
			return nil, nil, fmt.Errorf("localdev: building the gateway: %w", err)
		}
		// The function's handler is the edge, which localdev serves at
		// /api/. /function/gateway/ serves the gateway's own routes.
		return g.Function(), g.Handler(), nil
	}
	return s.host(ctx, gateway.Name, true, build, stored)
}

// Handler returns the root handler, for tests and benchmarks.
func (s *Server) Handler() http.Handler { return s.handler }

// Functions returns the running builds of the hosted functions.
func (s *Server) Functions() []*fn.Function {
	out := make([]*fn.Function, 0, len(s.hosted))
	for _, h := range s.hosted {
		h.mu.RLock()
		if h.cur != nil {
			out = append(out, h.cur.fn)
		}
		h.mu.RUnlock()
	}
	return out
}

// Close stops the cron jobs, the queue consumers and the asynchronous
// calls still queued, releases the functions, the gateway first, then the
// database, and last writes out the spans still queued.
func (s *Server) Close() {
	if s.platform != nil {
		if err := s.platform.stop(); err != nil {
			s.logger.Warn("stopping the cron jobs and queue consumers failed", "err", err)
		}
	}
	if s.faas != nil {
		s.faas.stopAsync()
	}
	for _, h := range slices.Backward(s.hosted) {
		s.stop(h)
	}
	if err := s.db.Close(); err != nil {
		s.logger.Warn("closing the database failed", "err", err)
	}
	shutdownTracing(s.tracing, s.logger)
	if s.dataLock != nil {
		_ = s.dataLock.Close()
	}
}

// tracingShutdownTimeout bounds how long Close waits for the exporters to
// send the spans still queued.
const tracingShutdownTimeout = 5 * time.Second

func shutdownTracing(t *obs.Tracing, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	if err := t.Shutdown(ctx); err != nil {
		logger.Warn("exporting the last spans failed", "err", err)
	}
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, h := range s.hosted {
		prefix := "/api/" + h.name
		mux.Handle(prefix+"/healthz", http.HandlerFunc(obs.Healthz))
		mux.Handle(prefix+"/readyz", http.HandlerFunc(h.readyz))
	}
	s.mountFaaS(mux)
	// The gateway receives the whole path, which its route table matches.
	gw := s.byName[gateway.Name]
	edge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gw.serve(w, r, true) })
	mux.Handle("/api/", edge)
	mux.Handle("/.well-known/", edge)
	mux.Handle("GET /healthz", http.HandlerFunc(obs.Healthz))
	mux.Handle("GET /readyz", s.readyz())
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.Handle("GET /h5/{id...}", http.HandlerFunc(placeholderPage))
	mux.Handle("GET /static/{path...}", http.HandlerFunc(placeholderStatic))
	mux.Handle("/", http.HandlerFunc(notFound))
	root := httpx.RequestIDs(mux)

	// Most traffic goes to the edge, so it skips the mux. The edge sets its
	// own request id, and its router rejects paths with dot or empty
	// segments with a JSON 400. Elsewhere such paths get the same 400
	// instead of the mux's plain-text redirect, which could point from
	// /function/x/../ to a path outside the function. The gateway limits
	// the edge's headers itself, so only the other paths get localdev's
	// header limit.
	rest := httpx.LimitHeaders(httpx.MaxHeaderBytes)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !route.CanonicalPath(r.URL.Path) {
			httpx.RequestIDs(http.HandlerFunc(invalidPath)).ServeHTTP(w, r)
			return
		}
		root.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isEdgePath(r.URL.Path) {
			edge.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

// isEdgePath reports whether path goes to the edge: it is under /api/
// and is not the /healthz or /readyz of a function, which localdev
// serves itself.
func isEdgePath(path string) bool {
	if !strings.HasPrefix(path, "/api/") {
		return false
	}
	name, rest, _ := strings.Cut(path[len("/api/"):], "/")
	return name == "" || (rest != "healthz" && rest != "readyz")
}

// invalidPath writes the JSON error for a path with dot or empty segments.
func invalidPath(w http.ResponseWriter, r *http.Request) {
	httpx.WriteError(w, r, nil, httpx.E(route.CodeInvalidPath))
}

// notFound writes the JSON NOT_FOUND error for paths outside every function.
func notFound(w http.ResponseWriter, r *http.Request) {
	httpx.WriteError(w, r, nil, httpx.E(httpx.CodeNotFound))
}

func (s *Server) readyz() http.Handler {
	all := &fn.Function{Name: "localdev", Ready: func(ctx context.Context) error {
		for _, h := range s.hosted {
			if err := h.ready(ctx); err != nil {
				return fmt.Errorf("%s: %w", h.name, err)
			}
		}
		return nil
	}}
	return obs.Readyz(all)
}

// ListenAndServe serves until ctx is cancelled, then stops accepting and
// waits up to the drain timeout for requests in flight.
func (s *Server) ListenAndServe(ctx context.Context, ready func(addr string)) error {
	ln, err := Listen(s.cfg)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln, ready)
}

// Listen opens cfg.Addr. The command calls it before New, so that a busy
// port fails before any function, job or consumer starts.
func Listen(cfg Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("localdev: listening on %s: %w", cfg.Addr, err)
	}
	return ln, nil
}

// Serve is ListenAndServe on a listener that Listen opened. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener, ready func(addr string)) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    httpx.ServerMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}

	// Log streams that follow a function end when shutdown starts, so that
	// they do not hold it up for the whole drain timeout.
	srv.RegisterOnShutdown(s.faas.stopFollowers)

	var wg sync.WaitGroup
	var shutdownErr error
	// served is closed when srv.Serve returns by itself, such as on an
	// accept error, so that the shutdown below runs without waiting for ctx.
	served := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-served:
		}
		s.logger.Info("localdev stopping; draining requests in flight", "drain_timeout", s.cfg.DrainTimeout.String())
		drainCtx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
		defer cancel()
		shutdownErr = srv.Shutdown(drainCtx)
		s.faas.drainAsync(drainCtx)
		s.logger.Info("localdev stopped")
	}()

	if ready != nil {
		ready(ln.Addr().String())
	}
	err := srv.Serve(ln)
	close(served)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, shutdownErr)
}

// Package triggers runs a Jingtong function on the platform it is deployed
// to. Every functions/<name>/cmd/<name>/main.go is one line:
//
//	func main() { triggers.Main(zones.New) }
//
// Main builds the function and wraps its handler with obs.Handler, which adds
// request ids, logs, metrics, /healthz, /readyz and /metrics. It then serves
// the function on the platform that Detect picks: a plain HTTP server (package
// httpserver), AWS Lambda (package lambda) or Tencent SCF event functions
// (package scf). With the argument "migrate", the binary runs the function's
// migrations and exits.
//
// The process environment configures it:
//
//	JT_PLATFORM       http, lambda or scf; detected when unset (see Detect)
//	JT_LOG_LEVEL      debug, info, warn or error; default info
//	JT_DATA_DIR       writable directory for local files; default ./.data
//	JT_DATABASE_URL   database DSN for store.Open; default a SQLite file
//	                  named jingtong.db in JT_DATA_DIR, and required to be
//	                  a PostgreSQL URL in release builds, which leave SQLite
//	                  out (build tag jt_nosqlite)
//	JT_BASE_PATH      path prefix removed from Lambda and SCF request paths,
//	                  such as /zones; default none
//	JT_STRIP_STAGE    false keeps the /<stage> prefix of Lambda HTTP API
//	                  paths; default true
//	PORT, JT_HTTP_*   listen address and timeouts of the http platform (see
//	                  httpserver.ConfigFromEnv)
//	JT_CRON_*         cron jobs: tick locks, accepted platform schedulers and
//	                  per-job overrides (see cron.OptionsFromEnv)
//	JT_CRON_IN_PROCESS
//	                  true runs the cron jobs on their schedules in this
//	                  process, on the http platform only. Default false,
//	                  because Knative, OpenFaaS, Lambda and SCF fire them.
//
//	JT_NATS_URL, JT_QUEUE_*
//	                  the queue of published events and consumers (see
//	                  queue.ConfigFromEnv and the events type)
//	OTEL_*            OpenTelemetry tracing (see obs.TracingConfigFromEnv):
//	                  spans go over OTLP/HTTP when an OTLP endpoint is set,
//	                  and nowhere otherwise; service.name defaults to the
//	                  function's name
//
// A function with cron jobs serves POST /_jt/cron/{job} beside its own routes
// on every platform, and on Lambda and SCF also runs the jobs that
// EventBridge scheduled events and SCF timer events name (see package cron).
// A function with queue consumers serves POST /_jt/events for the
// CloudEvents of Knative Triggers (see withEvents).
package triggers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/obs"
	"github.com/jingtong/backend/triggers/cron"
	"github.com/jingtong/backend/triggers/httpserver"
	"github.com/jingtong/backend/triggers/lambda"
	"github.com/jingtong/backend/triggers/scf"
)

// MigrateCommand is the argument that makes the binary run the function's
// migrations and exit instead of serving.
const MigrateCommand = "migrate"

// Main runs the function that build constructs, with the process arguments
// and environment. SIGTERM and SIGINT start a graceful shutdown. Main returns
// when the function has stopped cleanly. On any error it logs the error and
// exits with status 1.
func Main(build fn.Builder) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := Run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, build)
	stop()

	if err != nil {
		logger := obs.NewLogger(os.Stdout, slog.LevelInfo)
		logger.Error("function stopped with an error", "err", err)
		os.Exit(1)
	}
}

// Run is Main without the process: it reads the environment through lookup,
// logs JSON to stdout, and returns when ctx ends and the server has drained,
// or after the migrate command. Serving on Lambda or SCF does not return,
// because their runtimes own the process.
func Run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout io.Writer, build fn.Builder) (err error) {
	migrateOnly, err := parseArgs(args)
	if err != nil {
		return err
	}
	if lookup, err = WithSecretFiles(lookup); err != nil {
		return err
	}

	// Read every setting before building, so a bad value fails before the
	// function opens its database.
	logger, err := newLogger(lookup, stdout)
	if err != nil {
		return err
	}
	platform, err := Detect(lookup)
	if err != nil {
		return err
	}
	serve, err := newServer(platform, lookup)
	if err != nil {
		return err
	}
	tracingCfg, err := obs.TracingConfigFromEnv(lookup, obs.ExporterNone)
	if err != nil {
		return fmt.Errorf("triggers: %w", err)
	}

	env, db, err := newEnv(lookup, logger)
	if err != nil {
		return err
	}
	ev := &events{}
	if !migrateOnly {
		if ev, err = newEvents(platform, lookup, logger); err != nil {
			return errors.Join(err, db.Close())
		}
		env.Publisher = ev.publisher
	}
	f, err := build(ctx, env)
	if err != nil {
		return errors.Join(fmt.Errorf("triggers: building function: %w", err), ev.close(), db.Close())
	}
	if f == nil {
		return errors.Join(errors.New("triggers: builder returned a nil function"), ev.close(), db.Close())
	}
	closeJobs := func() error { return nil }
	var tracing *obs.Tracing
	// The consumers stop before the function closes, and the function
	// before its database. The spans of all of them are exported last.
	release := sync.OnceValue(func() error {
		return errors.Join(ev.close(), closeFunction(f), closeJobs(), db.Close(), shutdownTracing(tracing))
	})
	defer func() { err = errors.Join(err, release()) }()

	functionLogger := logger.With("function", f.Name)
	if migrateOnly {
		return errors.Join(migrate(ctx, f, functionLogger), migrateJobs(ctx, f, env), migrateEvents(ctx, f, env))
	}
	if f.Handler == nil {
		return fmt.Errorf("triggers: function %q has no HTTP handler", f.Name)
	}
	if tracingCfg.ServiceName == "" {
		tracingCfg.ServiceName = f.Name
	}
	tracingCfg.Logger = functionLogger
	if tracing, err = obs.NewTracing(ctx, tracingCfg); err != nil {
		return fmt.Errorf("triggers: %w", err)
	}
	tp := tracing.TracerProvider()
	if f, err = withEvents(f, env, tp); err != nil {
		return err
	}
	if err := ev.start(ctx, f, env, tp); err != nil {
		return err
	}

	metrics := obs.NewMetrics()
	jobs, closeJobs, err := newJobs(ctx, f, env, metrics, tp)
	if err != nil {
		return err
	}

	functionLogger.Info("function starting", "platform", string(platform))
	functionLogger.Info("tracing configured", tracing.LogAttrs()...)
	onShutdown := func() {
		if err := release(); err != nil {
			functionLogger.Error("closing function failed", "err", err)
		}
	}
	// obs.HandlerWith adds the function name to the logger itself.
	h := obs.HandlerWith(withJobs(f, jobs), logger, obs.Options{Metrics: metrics, Endpoints: true, TracerProvider: tp})
	return serve(ctx, h, jobs, functionLogger, onShutdown)
}

// parseArgs reports whether args ask for the migrate command.
func parseArgs(args []string) (migrateOnly bool, err error) {
	switch {
	case len(args) == 0:
		return false, nil
	case len(args) == 1 && args[0] == MigrateCommand:
		return true, nil
	}
	return false, fmt.Errorf("triggers: unknown arguments %q: run without arguments to serve, or with %q", args, MigrateCommand)
}

func migrate(ctx context.Context, f *fn.Function, logger *slog.Logger) error {
	if f.Migrate == nil {
		logger.Info("function has no migrations")
		return nil
	}

	logger.Info("migrating")
	if err := f.Migrate(ctx); err != nil {
		return fmt.Errorf("triggers: migrating function %q: %w", f.Name, err)
	}
	logger.Info("migrated")
	return nil
}

// tracingShutdownTimeout bounds how long shutdown waits for the exporters
// to send the spans still queued.
const tracingShutdownTimeout = 5 * time.Second

// shutdownTracing exports the spans still queued. A nil t has none.
func shutdownTracing(t *obs.Tracing) error {
	ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
	defer cancel()
	return t.Shutdown(ctx)
}

func closeFunction(f *fn.Function) error {
	if f.Close == nil {
		return nil
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("triggers: closing function %q: %w", f.Name, err)
	}
	return nil
}

// serveFunc serves h until ctx ends, logging to logger. jobs, nil for a
// function without cron jobs, runs the ticks of platform timer events.
// onShutdown releases the function on platforms whose runtime never lets
// serveFunc return.
type serveFunc func(ctx context.Context, h http.Handler, jobs *cron.Runner, logger *slog.Logger, onShutdown func()) error

// newServer reads the platform's settings through lookup and returns the
// function that serves on it.
func newServer(platform Platform, lookup func(string) (string, bool)) (serveFunc, error) {
	basePath, _ := lookup("JT_BASE_PATH")

	switch platform {
	case PlatformLambda:
		stripStage, err := boolEnv(lookup, "JT_STRIP_STAGE", true)
		if err != nil {
			return nil, err
		}
		cfg := lambda.Config{BasePath: basePath, KeepStage: !stripStage}
		return func(ctx context.Context, h http.Handler, jobs *cron.Runner, logger *slog.Logger, onShutdown func()) error {
			lambda.Start(ctx, lambda.New(h, lambdaConfig(cfg, jobs, logger)), onShutdown)
			return errors.New("triggers: the Lambda runtime returned")
		}, nil

	case PlatformSCF:
		cfg := scf.Config{BasePath: basePath}
		return func(_ context.Context, h http.Handler, jobs *cron.Runner, logger *slog.Logger, _ func()) error {
			scf.Start(scf.New(h, scfConfig(cfg, jobs, logger)))
			return errors.New("triggers: the SCF runtime returned")
		}, nil
	}

	cfg, err := httpserver.ConfigFromEnv(lookup)
	if err != nil {
		return nil, err
	}
	inProcess, err := boolEnv(lookup, cron.InProcessVar, false)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, h http.Handler, jobs *cron.Runner, logger *slog.Logger, _ func()) error {
		cfg.Logger = logger
		if !inProcess || jobs == nil {
			return httpserver.ListenAndServe(ctx, h, cfg)
		}
		return serveWithScheduler(ctx, h, cfg, jobs)
	}, nil
}

func boolEnv(lookup func(string) (string, bool), key string, def bool) (bool, error) {
	v, ok := lookup(key)
	if !ok || v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("triggers: invalid %s %q: want true or false", key, v)
	}
	return b, nil
}

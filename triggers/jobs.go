package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/obs"
	"github.com/jingtong/backend/triggers/cron"
	"github.com/jingtong/backend/triggers/httpserver"
	"github.com/jingtong/backend/triggers/lambda"
	"github.com/jingtong/backend/triggers/scf"
)

// newJobs returns the Runner of f's cron jobs, configured from env with
// spans from tp, and the function that releases what it holds. The Runner
// is nil when f has no jobs.
func newJobs(ctx context.Context, f *fn.Function, env *fn.Env, metrics *obs.Metrics, tp trace.TracerProvider) (*cron.Runner, func() error, error) {
	noop := func() error { return nil }
	if len(f.Jobs) == 0 {
		return nil, noop, nil
	}

	opts, closeJobs, err := cron.OptionsFromEnv(ctx, env)
	if err != nil {
		return nil, noop, fmt.Errorf("triggers: configuring the cron jobs of %q: %w", f.Name, err)
	}
	opts.TracerProvider = tp
	opts.Metrics, err = cron.NewPrometheusMetrics(metrics.Registerer())
	if err != nil {
		return nil, noop, errors.Join(err, closeJobs())
	}
	jobs, err := cron.New(f, opts)
	if err != nil {
		return nil, noop, errors.Join(fmt.Errorf("triggers: %w", err), closeJobs())
	}

	logger := env.Logger.With("function", f.Name)
	for _, j := range jobs.Jobs() {
		logger.Info("cron job configured", "job", j.Name, "schedule", j.Schedule.String(),
			"missed", string(j.Missed), "timeout", j.Timeout)
	}
	return jobs, closeJobs, nil
}

// migrateJobs creates the tick table of f's cron jobs when their locks live
// in the function's database.
func migrateJobs(ctx context.Context, f *fn.Function, env *fn.Env) error {
	if len(f.Jobs) == 0 || env.Getenv(cron.RedisURLVar, "") != "" {
		return nil
	}
	db, err := env.OpenDB(ctx)
	if err != nil {
		return err
	}
	if err := cron.Migrate(ctx, db); err != nil {
		return fmt.Errorf("triggers: migrating the cron tick table of %q: %w", f.Name, err)
	}
	return nil
}

// withJobs returns f with the cron handler of jobs mounted beside its own
// handler, or f itself when jobs is nil.
func withJobs(f *fn.Function, jobs *cron.Runner) *fn.Function {
	if jobs == nil {
		return f
	}
	mounted := *f
	mounted.Handler = cron.Mount(f.Handler, jobs.Handler())
	return &mounted
}

// lambdaConfig returns cfg with the logger and, when jobs is not nil, the
// hook that runs EventBridge scheduled events.
func lambdaConfig(cfg lambda.Config, jobs *cron.Runner, logger *slog.Logger) lambda.Config {
	cfg.Logger = logger
	if jobs != nil {
		cfg.OnSchedule = jobs.HandleEventBridge
	}
	return cfg
}

// scfConfig returns cfg with the logger and, when jobs is not nil, the hook
// that runs SCF timer events.
func scfConfig(cfg scf.Config, jobs *cron.Runner, logger *slog.Logger) scf.Config {
	cfg.Logger = logger
	if jobs != nil {
		cfg.OnTimer = jobs.HandleSCFTimer
	}
	return cfg
}

// serveWithScheduler serves h like httpserver.ListenAndServe and runs the
// jobs on their schedules meanwhile. After the server has drained, it waits
// up to DefaultDrainTimeout for runs in progress.
func serveWithScheduler(ctx context.Context, h http.Handler, cfg httpserver.Config, jobs *cron.Runner) error {
	scheduler := cron.SchedulerFor(jobs)
	if err := scheduler.Start(ctx); err != nil {
		return err
	}
	serveErr := httpserver.ListenAndServe(ctx, h, cfg)

	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), httpserver.DefaultDrainTimeout)
	defer cancel()
	return errors.Join(serveErr, scheduler.Stop(stopCtx))
}

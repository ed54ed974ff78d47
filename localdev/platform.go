package localdev

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/triggers/cron"
	"github.com/jingtong/backend/triggers/queue"
)

// platformStopTimeout bounds how long Close waits for running jobs and
// queue messages.
const platformStopTimeout = 10 * time.Second

// platform runs the hosted functions' cron jobs on their schedules and
// their queue consumers, as a cluster's cron-connector or PingSources and
// its queue workers or Broker would.
//
// The queue is the in-process one unless JT_NATS_URL names a NATS server
// with JetStream. The in-process queue needs nothing installed, which
// keeps `make dev` to one binary, and it has the same retries, backoff,
// dead-letter subjects and duplicate window as the NATS backend. Its
// messages end with the process.
type platform struct {
	logger    *slog.Logger
	queue     queue.Backend
	runner    *queue.Runner
	scheduler *cron.Scheduler
	closeCron func() error
	policy    queue.Policy
}

// openPlatform opens the queue backend that env.Publisher hands to the
// functions. Call start once the functions are built and migrated.
func openPlatform(lookup func(string) (string, bool), logger *slog.Logger) (*platform, error) {
	cfg, err := queue.ConfigFromEnv(lookup)
	if err != nil {
		return nil, fmt.Errorf("localdev: %w", err)
	}
	backend, err := queue.Open(cfg, logger)
	if err != nil {
		return nil, fmt.Errorf("localdev: opening the queue: %w", err)
	}
	kind := "in-process"
	if cfg.NATSURL != "" {
		kind = "nats"
	}
	logger.Info("queue opened", "backend", kind)
	return &platform{logger: logger, queue: backend, policy: cfg.Policy, closeCron: func() error { return nil }}, nil
}

// start runs the cron jobs and queue consumers of functions, with spans
// from tp. Processed queue messages and cron ticks are recorded in env's
// database, so a redelivered message or a second tick has no second
// effect.
func (p *platform) start(ctx context.Context, env *fn.Env, functions []*fn.Function, tp trace.TracerProvider) error {
	db, err := env.OpenDB(ctx)
	if err != nil {
		return fmt.Errorf("localdev: opening the database for jobs and consumers: %w", err)
	}
	if err := queue.Migrate(ctx, db); err != nil {
		return fmt.Errorf("localdev: migrating the queue tables: %w", err)
	}
	p.runner, err = queue.NewRunner(p.queue, functions, queue.RunnerOptions{
		Policy: p.policy, Store: queue.NewDBStore(db), Logger: p.logger, Now: env.Now, TracerProvider: tp,
	})
	if err != nil {
		return fmt.Errorf("localdev: %w", err)
	}
	if err := p.runner.Start(ctx); err != nil {
		return fmt.Errorf("localdev: starting the queue consumers: %w", err)
	}

	if env.Getenv(cron.RedisURLVar, "") == "" {
		if err := cron.Migrate(ctx, db); err != nil {
			return fmt.Errorf("localdev: migrating the cron tick table: %w", err)
		}
	}
	opts, closeCron, err := cron.OptionsFromEnv(ctx, env)
	if err != nil {
		return fmt.Errorf("localdev: %w", err)
	}
	p.closeCron = closeCron
	opts.TracerProvider = tp
	if p.scheduler, err = cron.NewScheduler(functions, opts); err != nil {
		return fmt.Errorf("localdev: %w", err)
	}
	return p.scheduler.Start(context.WithoutCancel(ctx))
}

// stop stops the scheduler and the consumers, waiting for work in hand
// up to platformStopTimeout, then closes the queue.
func (p *platform) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), platformStopTimeout)
	defer cancel()
	var errs []error
	if p.scheduler != nil {
		errs = append(errs, p.scheduler.Stop(ctx))
	}
	if p.runner != nil {
		errs = append(errs, p.runner.Stop(ctx))
	}
	errs = append(errs, p.closeCron(), p.queue.Close())
	return errors.Join(errs...)
}

// platformFunctions returns a stand-in for each hosted function that has
// cron jobs or queue consumers. The stand-in's jobs and consumers call the
// function's running build when they run, so a rebuild through the
// OpenFaaS API takes effect without restarting the scheduler or the
// consumers. Job names, schedules and subjects come from the code, so
// every build has the same ones.
func (s *Server) platformFunctions() []*fn.Function {
	var out []*fn.Function
	for _, h := range s.hosted {
		h.mu.RLock()
		cur := h.cur
		h.mu.RUnlock()
		if cur == nil || len(cur.fn.Jobs) == 0 && len(cur.fn.Consumers) == 0 {
			continue
		}
		standIn := &fn.Function{Name: h.name}
		for _, j := range cur.fn.Jobs {
			name := j.Name
			j.Run = func(ctx context.Context) error { return h.runJob(ctx, name) }
			standIn.Jobs = append(standIn.Jobs, j)
		}
		for _, c := range cur.fn.Consumers {
			subject := c.Subject
			standIn.Consumers = append(standIn.Consumers, fn.Consumer{
				Subject: subject,
				Handle:  func(ctx context.Context, msg fn.Message) error { return h.consume(ctx, subject, msg) },
			})
		}
		out = append(out, standIn)
	}
	return out
}

// runJob runs the job name of the running build. Like a request, it holds
// the build for its whole run, so a rebuild waits for it. A function that
// is removed, scaled to zero or failed to start returns its error, which
// the scheduler logs.
func (h *hostedFunction) runJob(ctx context.Context, name string) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if err := h.unavailableLocked(); err != nil {
		return err
	}
	for _, j := range h.cur.fn.Jobs {
		if j.Name == name {
			return j.Run(ctx)
		}
	}
	return fmt.Errorf("localdev: the running build of %s has no job %s", h.name, name)
}

// consume hands msg to the running build's consumer of subject. While the
// function is unavailable the error makes the queue retry the message
// later, and after its last attempt move it to the dead-letter subject.
func (h *hostedFunction) consume(ctx context.Context, subject string, msg fn.Message) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if err := h.unavailableLocked(); err != nil {
		return err
	}
	for _, c := range h.cur.fn.Consumers {
		if c.Subject == subject {
			return c.Handle(ctx, msg)
		}
	}
	return fmt.Errorf("localdev: the running build of %s has no consumer of %s", h.name, subject)
}

package cron

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jingtong/backend/shared/fn"
)

// Scheduler runs jobs in process, each on its schedule, for localdev and
// for deployments on a plain HTTP server without a platform scheduler.
// Every tick goes through Runner.Trigger, so replicas that share a Locker run
// each tick once, and after downtime the missed-tick policy applies.
//
// Each job has one goroutine. It triggers the job at start, which runs the
// last tick if it is within the grace period or catches up under
// MissedCatchUpOnce, and then sleeps until the job's next tick, exactly,
// without jitter. A run blocks its job's goroutine, so a job never overlaps
// itself within one process. The clock is the Runner's Now, and the sleep is
// a time.Timer, so tests control both with testing/synctest.
type Scheduler struct {
	runners []*Runner
	logger  *slog.Logger

	mu       sync.Mutex
	started  bool
	stopped  bool
	stop     context.CancelFunc
	cancelRn context.CancelFunc
	done     chan struct{}
}

// NewScheduler resolves the jobs of functions with opts, as New does for
// each, and returns a Scheduler for them. It reports the problems of every
// function together.
func NewScheduler(functions []*fn.Function, opts Options) (*Scheduler, error) {
	var runners []*Runner
	var problems []error
	for _, f := range functions {
		r, err := New(f, opts)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		runners = append(runners, r)
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}

	s := SchedulerFor(runners...)
	if opts.Logger != nil {
		s.logger = opts.Logger
	}
	return s, nil
}

// SchedulerFor returns a Scheduler for the jobs of runners. It logs to the
// first runner's logger.
func SchedulerFor(runners ...*Runner) *Scheduler {
	s := &Scheduler{runners: runners, logger: slog.New(slog.DiscardHandler), done: make(chan struct{})}
	if len(runners) > 0 {
		s.logger = runners[0].logger
	}
	return s
}

// Runner returns the Runner of the named function, so that a host can mount
// its Handler beside the Scheduler.
func (s *Scheduler) Runner(function string) (*Runner, bool) {
	for _, r := range s.runners {
		if r.function == function {
			return r, true
		}
	}
	return nil, false
}

// Start starts one goroutine per job and returns. The goroutines stop
// waiting for ticks when ctx ends or Stop is called, but a run in progress
// continues until Stop gives up on it. Start returns an error when called
// twice.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("cron: scheduler started twice")
	}
	s.started = true

	loopCtx, stop := context.WithCancel(ctx)
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.cancelRn = stop, cancelRuns

	var wg sync.WaitGroup
	jobs := 0
	for _, r := range s.runners {
		for _, j := range r.order {
			jobs++
			wg.Go(func() { s.loop(loopCtx, runCtx, r, j) })
		}
	}
	go func() {
		wg.Wait()
		close(s.done)
	}()
	s.logger.Info("cron scheduler started", "jobs", jobs)
	return nil
}

// loop triggers one job at start and then at each of its ticks, until
// loopCtx ends.
func (s *Scheduler) loop(loopCtx, runCtx context.Context, r *Runner, j *job) {
	for loopCtx.Err() == nil {
		// The Runner logs errors, and the next tick tries again.
		_, _ = r.Trigger(runCtx, j.name, time.Time{}, SourceScheduler)

		now := r.now()
		next := j.schedule.Next(now)
		if next.IsZero() {
			r.logger.Info("cron job has no further ticks", "job", j.name, "schedule", j.schedule.String())
			return
		}
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-loopCtx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
	}
}

// Stop stops the Scheduler from starting runs and waits for the runs in
// progress to end. When ctx ends first, it cancels their contexts and
// returns an error without waiting further, so a job that ignores its
// context keeps running in the background. Stop before Start, and a second
// Stop, return nil.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	if !s.started || s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	s.stop()
	s.mu.Unlock()

	select {
	case <-s.done:
		s.cancelRn()
		s.logger.Info("cron scheduler stopped")
		return nil
	case <-ctx.Done():
		s.cancelRn()
		s.logger.Error("cron scheduler stopped with jobs still running; their contexts were cancelled", "err", ctx.Err())
		return fmt.Errorf("cron: stopping the scheduler with jobs still running: %w", ctx.Err())
	}
}

package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/fn"
)

// Backend is a queue that publishes messages and runs consumers: *NATS or
// *Memory.
type Backend interface {
	Publisher
	// Close releases the backend: the NATS connection, or the in-process
	// queue, which then rejects publishes. Stop the runners first.
	Close() error
	// consume starts every processor and returns what stops them.
	consume(ctx context.Context, procs []*processor) (running, error)
}

// running is a set of started consumers.
type running interface {
	// stop stops fetching, waits for the messages in hand until ctx ends,
	// then cancels their contexts and returns ctx's error.
	stop(ctx context.Context) error
}

// RunnerOptions configure a Runner. A zero field takes its default.
type RunnerOptions struct {
	// Policy sets retries, timeouts and concurrency for every consumer.
	Policy Policy
	// Store records processed messages. Default a MemoryStore, whose
	// records end with the process, so give deployed functions a DBStore on
	// their database.
	Store Store
	// Logger receives start and stop messages, retries and failures. Nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock for the processed_at time that InTx records.
	// Default time.Now.
	Now func() time.Time
	// TracerProvider makes a consumer span for each delivery, as a child
	// of the trace context that the message carries. Nil makes none; the
	// message's trace context still reaches the consumer's context.
	TracerProvider trace.TracerProvider
}

// Runner runs the queue consumers of a set of functions on a Backend.
type Runner struct {
	backend Backend
	procs   []*processor
	logger  *slog.Logger

	mu      sync.Mutex
	running running
}

// NewRunner returns a Runner for the consumers of funcs. It returns an error
// for an invalid policy, a consumer without a handler or with an invalid
// subject, and two consumers with the same ConsumerName.
func NewRunner(b Backend, funcs []*fn.Function, opts RunnerOptions) (*Runner, error) {
	if b == nil {
		return nil, errors.New("queue: NewRunner needs a backend")
	}
	policy := opts.Policy.withDefaults()
	if err := policy.validate(); err != nil {
		return nil, err
	}

	shared := processorDefaults{policy: policy, store: opts.Store, logger: opts.Logger, now: opts.Now, tracerProvider: opts.TracerProvider}.withDefaults()
	var procs []*processor
	names := map[string]bool{}
	for _, f := range funcs {
		if f == nil {
			return nil, errors.New("queue: NewRunner got a nil function")
		}
		fp, err := newProcessors(f, shared)
		if err != nil {
			return nil, err
		}
		for _, p := range fp {
			if names[p.name] {
				return nil, fmt.Errorf("queue: two consumers are named %q; consumer subjects of one function must differ in more than '.' and '_'", p.name)
			}
			names[p.name] = true
		}
		procs = append(procs, fp...)
	}
	return &Runner{backend: b, procs: procs, logger: shared.logger}, nil
}

// functionName matches a DNS label, the form fn.Function.Name takes.
var functionName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// processorDefaults are the settings that every processor of a runner or a
// CloudEvents handler shares.
type processorDefaults struct {
	policy         Policy
	store          Store
	logger         *slog.Logger
	now            func() time.Time
	tracerProvider trace.TracerProvider
}

func (d processorDefaults) withDefaults() processorDefaults {
	if d.store == nil {
		d.store = NewMemoryStore(0)
	}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// newProcessors returns a processor per consumer of f. d must have its
// defaults set.
func newProcessors(f *fn.Function, d processorDefaults) ([]*processor, error) {
	if !functionName.MatchString(f.Name) {
		return nil, fmt.Errorf("queue: invalid function name %q: want a DNS label of lowercase letters, digits and '-'", f.Name)
	}
	procs := make([]*processor, 0, len(f.Consumers))
	for _, c := range f.Consumers {
		if err := ValidateSubject(c.Subject); err != nil {
			return nil, fmt.Errorf("queue: function %q: %w", f.Name, err)
		}
		if c.Handle == nil {
			return nil, fmt.Errorf("queue: function %q: consumer of %q has no Handle", f.Name, c.Subject)
		}
		procs = append(procs, &processor{
			name:     ConsumerName(f.Name, c.Subject),
			subject:  c.Subject,
			handle:   c.Handle,
			policy:   d.policy,
			store:    d.store,
			logger:   d.logger.With("function", f.Name),
			now:      d.now,
			tracer:   newConsumerTracer(d.tracerProvider),
			spanName: "process " + c.Subject,
		})
	}
	return procs, nil
}

// Start creates the consumers on the backend and starts delivering
// messages. ctx bounds the set-up only; consumers run until Stop. Start
// fails when the runner is already running.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running != nil {
		return errors.New("queue: runner is already running")
	}

	run, err := r.backend.consume(ctx, r.procs)
	if err != nil {
		return err
	}
	r.running = run
	r.logger.Info("queue consumers started", "consumers", len(r.procs))
	return nil
}

// Stop stops fetching messages and waits until ctx ends for the messages in
// hand to finish. When ctx ends first, Stop cancels the consumers' contexts
// and returns ctx's error without waiting further; their messages are
// delivered again. A consumer that ignores its context keeps running in the
// background until it returns. Stop on a runner that is not running does
// nothing.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == nil {
		return nil
	}

	err := r.running.stop(ctx)
	r.running = nil
	if err != nil {
		r.logger.Warn("queue consumers stopped before their messages finished", "err", err)
		return err
	}
	r.logger.Info("queue consumers stopped")
	return nil
}

// workers tracks the goroutines of one started consumer set. ctx is the
// base context of every consumer call; it ends only when a stop gives up.
type workers struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newWorkers() *workers {
	ctx, cancel := context.WithCancel(context.Background())
	return &workers{ctx: ctx, cancel: cancel}
}

// wait waits for every goroutine until ctx ends, then cancels the consumer
// contexts.
func (w *workers) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()

	select {
	case <-done:
		w.cancel()
		return nil
	case <-ctx.Done():
		w.cancel()
		return fmt.Errorf("queue: stopping consumers: %w", ctx.Err())
	}
}

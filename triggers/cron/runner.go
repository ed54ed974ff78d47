package cron

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
)

// Defaults of Options.
const (
	// DefaultGrace is how late a tick may start and still count as on time.
	// It is an estimate that covers cold starts of 10-15 s, which Knative
	// users report, and the two retries that Lambda makes of a failed
	// asynchronous invocation, one and then two more minutes later
	// (docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
	// So a short run that fails is retried by the platform even under
	// MissedSkip.
	DefaultGrace = 5 * time.Minute
	// DefaultTimeout bounds one run of a job that sets no timeout of its
	// own. On Lambda and SCF the invocation deadline may end it sooner.
	DefaultTimeout = 10 * time.Minute
	// MaxEventSkew is how far in the future an event's time may be, for a
	// platform clock slightly ahead of this host's. Events further ahead are
	// rejected, because claiming a future tick would hold back every tick
	// until then.
	MaxEventSkew = 10 * time.Second
)

// Errors that callers branch on. Trigger wraps them with the job and the
// reason.
var (
	// ErrUnknownJob means the function has no job of the requested name.
	ErrUnknownJob = errors.New("cron: unknown job")
	// ErrInvalidEvent means a platform event is malformed or does not name
	// a job the way this package expects.
	ErrInvalidEvent = errors.New("cron: invalid event")
)

// Source names what triggered a tick.
type Source string

// Sources of ticks.
const (
	// SourceScheduler is the in-process Scheduler.
	SourceScheduler Source = "scheduler"
	// SourcePlatformCall is an internal HTTP call with a valid platform
	// token.
	SourcePlatformCall Source = "platform-call"
	// SourcePingSource is a Knative PingSource CloudEvent.
	SourcePingSource Source = "pingsource"
	// SourceCronConnector is a request from the OpenFaaS cron-connector.
	SourceCronConnector Source = "cron-connector"
	// SourceSCFTimer is a Tencent SCF timer trigger event.
	SourceSCFTimer Source = "scf-timer"
	// SourceEventBridge is an Amazon EventBridge scheduled event.
	SourceEventBridge Source = "eventbridge"
)

// Outcome is the end state of one trigger.
type Outcome string

// Outcomes of a trigger.
const (
	// OutcomeSucceeded means the job ran and returned nil.
	OutcomeSucceeded Outcome = "succeeded"
	// OutcomeFailed means the job ran and failed, panicked or timed out. Its
	// claim was released.
	OutcomeFailed Outcome = "failed"
	// OutcomeAlreadyClaimed means the tick, or a later one, was claimed
	// already: by another replica, an earlier delivery of the same event,
	// or a catch-up run.
	OutcomeAlreadyClaimed Outcome = "already_claimed"
	// OutcomeMissed means the tick was later than the grace period and the
	// policy dropped it.
	OutcomeMissed Outcome = "missed"
	// OutcomeNotDue means the schedule has no tick at or before the trigger
	// time.
	OutcomeNotDue Outcome = "not_due"
)

// Result describes one trigger of a job.
type Result struct {
	Function string
	Job      string
	Source   Source
	// Tick is the tick that was claimed, or considered when nothing ran.
	Tick    time.Time
	Outcome Outcome
	// CatchUp is set when the run stands for ticks that were missed.
	CatchUp bool
	// Duration is the run time of the job, or zero when it did not run.
	Duration time.Duration
}

// Metrics receives the result of every trigger. Implementations must be
// safe for concurrent use, as NewPrometheusMetrics is.
type Metrics interface {
	Observe(Result)
}

// Options configure a Runner, its Handler and a Scheduler. Only Locker is
// required.
type Options struct {
	// Locker claims ticks and records the last one of each job.
	Locker Locker
	// Location is the time zone of schedules without a CRON_TZ= prefix.
	// Default Asia/Shanghai.
	Location *time.Location
	// Lookup reads the per-job overrides JT_CRON_<FUNCTION>_<JOB> (a
	// schedule) and JT_CRON_<FUNCTION>_<JOB>_TIMEOUT (a Go duration). Names
	// are upper-cased with hyphens turned into underscores. Nil means no
	// overrides.
	Lookup func(key string) (string, bool)
	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Grace is how late a tick may start and still count as on time.
	// Default DefaultGrace (5 min).
	Grace time.Duration
	// Timeout bounds one run of a job without a _TIMEOUT override. Default
	// DefaultTimeout (10 min).
	Timeout time.Duration
	// Logger receives starts, finishes, failures and missed ticks. Nil
	// discards them.
	Logger *slog.Logger
	// Metrics receives every Result. Nil records nothing.
	Metrics Metrics
	// TracerProvider makes a span for each trigger, as a child of the
	// trace context in Trigger's ctx, such as that of the HTTP request of
	// a platform call. Nil makes none.
	TracerProvider trace.TracerProvider

	// PlatformSecret verifies the platform token of internal calls to
	// Handler (JT_PLATFORM_SECRET). Empty rejects every internal call.
	PlatformSecret auth.Secret
	// MaxSkew is how far a platform token's signing time may be from Now.
	// Default auth.DefaultMaxSkew (60 s).
	MaxSkew time.Duration
	// Sources lists the platform schedulers whose requests Handler accepts
	// without a platform token: SourcePingSource and SourceCronConnector.
	// Default none.
	Sources []Source
	// ConnectorJob is the job that a cron-connector request to the function
	// root runs. Empty rejects such requests.
	ConnectorJob string
}

// Runner runs the jobs of one function: one tick at a time, each claimed
// through the Locker first and subject to the job's missed-tick policy. It
// is safe for concurrent use.
type Runner struct {
	function string
	jobs     map[string]*job
	order    []*job

	locker  Locker
	now     func() time.Time
	grace   time.Duration
	logger  *slog.Logger
	metrics Metrics
	// tracer makes the trigger spans; nil makes none.
	tracer trace.Tracer

	platformSecret auth.Secret
	maxSkew        time.Duration
	sources        map[Source]bool
	connectorJob   string
}

// job is an fn.Job with its schedule and timeout resolved.
type job struct {
	name     string
	key      string // "<function>/<job>", the Locker's job key
	schedule *Schedule
	missed   fn.MissedPolicy
	timeout  time.Duration
	run      func(ctx context.Context) error
}

// JobInfo describes a job as the Runner resolved it.
type JobInfo struct {
	Name     string
	Schedule *Schedule
	Missed   fn.MissedPolicy
	Timeout  time.Duration
}

var jobName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,59}$`)

// New resolves the jobs of f with opts and returns their Runner. It reports
// every problem together:
//
//   - an invalid job name. A name has lowercase letters, digits and hyphens,
//     starts with a letter and has at most 60 bytes, so that it is also a
//     valid SCF trigger name;
//   - a duplicate name or a missing Run;
//   - an unknown missed policy (empty means MissedSkip);
//   - an invalid schedule or timeout, from the job or an override;
//   - an override variable that two jobs, or a job and a setting of
//     OptionsFromEnv, would share.
func New(f *fn.Function, opts Options) (*Runner, error) {
	if f == nil {
		return nil, errors.New("cron: nil function")
	}
	if opts.Locker == nil {
		return nil, errors.New("cron: Options.Locker is nil")
	}

	r := newRunner(f.Name, opts)
	var problems []error
	overrides := map[string]string{}
	for _, fj := range f.Jobs {
		j, err := r.resolve(fj, opts, overrides)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		r.jobs[j.name] = j
		r.order = append(r.order, j)
	}
	if r.connectorJob != "" && r.jobs[r.connectorJob] == nil {
		problems = append(problems, fmt.Errorf("cron: connector job %q is not a job of function %q", r.connectorJob, f.Name))
	}
	for _, s := range opts.Sources {
		if s != SourcePingSource && s != SourceCronConnector {
			problems = append(problems, fmt.Errorf("cron: source %q cannot be accepted without a platform token; want %s or %s", s, SourcePingSource, SourceCronConnector))
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return r, nil
}

func newRunner(function string, opts Options) *Runner {
	r := &Runner{
		function:       function,
		jobs:           map[string]*job{},
		locker:         opts.Locker,
		now:            opts.Now,
		grace:          opts.Grace,
		logger:         opts.Logger,
		metrics:        opts.Metrics,
		tracer:         newTracer(opts.TracerProvider),
		platformSecret: opts.PlatformSecret,
		maxSkew:        opts.MaxSkew,
		sources:        map[Source]bool{},
		connectorJob:   opts.ConnectorJob,
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.grace <= 0 {
		r.grace = DefaultGrace
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	r.logger = r.logger.With("function", function)
	if r.maxSkew <= 0 {
		r.maxSkew = auth.DefaultMaxSkew
	}
	for _, s := range opts.Sources {
		r.sources[s] = true
	}
	return r
}

// resolve checks one job and applies its overrides. overrides maps each
// override variable to the job that uses it, to find collisions.
func (r *Runner) resolve(fj fn.Job, opts Options, overrides map[string]string) (*job, error) {
	if !jobName.MatchString(fj.Name) {
		return nil, fmt.Errorf("cron: job name %q of function %q is invalid: use lowercase letters, digits and hyphens, start with a letter, at most 60 bytes", fj.Name, r.function)
	}
	if r.jobs[fj.Name] != nil {
		return nil, fmt.Errorf("cron: function %q has two jobs named %q", r.function, fj.Name)
	}
	if fj.Run == nil {
		return nil, fmt.Errorf("cron: job %q of function %q has no Run", fj.Name, r.function)
	}

	j := &job{name: fj.Name, key: r.function + "/" + fj.Name, missed: fj.Missed, run: fj.Run, timeout: opts.Timeout}
	switch j.missed {
	case "":
		j.missed = fn.MissedSkip
	case fn.MissedSkip, fn.MissedCatchUpOnce:
	default:
		return nil, fmt.Errorf("cron: job %q of function %q has unknown missed policy %q; want %q or %q", fj.Name, r.function, fj.Missed, fn.MissedSkip, fn.MissedCatchUpOnce)
	}
	if j.timeout <= 0 {
		j.timeout = DefaultTimeout
	}

	scheduleVar := OverrideVar(r.function, fj.Name)
	timeoutVar := scheduleVar + "_TIMEOUT"
	for _, v := range []string{scheduleVar, timeoutVar} {
		if reservedVars[v] {
			return nil, fmt.Errorf("cron: job %q of function %q has the override variable %s, which configures every job; rename the job", fj.Name, r.function, v)
		}
		if other, ok := overrides[v]; ok {
			return nil, fmt.Errorf("cron: jobs %q and %q of function %q share the override variable %s; rename one", other, fj.Name, r.function, v)
		}
		overrides[v] = fj.Name
	}

	expr, source := fj.Schedule, "schedule"
	if v, ok := lookup(opts.Lookup, scheduleVar); ok {
		expr, source = v, scheduleVar
	}
	s, err := ParseIn(expr, opts.Location)
	if err != nil {
		return nil, fmt.Errorf("cron: job %q of function %q, %s: %w", fj.Name, r.function, source, err)
	}
	// A schedule whose ticks all lie in the past, such as one limited to
	// an earlier year, would never run the job.
	if s.Next(r.now()).IsZero() {
		return nil, fmt.Errorf("cron: job %q of function %q, %s: schedule %q has no tick after now; check its year field", fj.Name, r.function, source, expr)
	}
	j.schedule = s

	if v, ok := lookup(opts.Lookup, timeoutVar); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("cron: invalid %s %q: want a positive Go duration such as 30m", timeoutVar, v)
		}
		j.timeout = d
	}
	return j, nil
}

func lookup(get func(string) (string, bool), key string) (string, bool) {
	if get == nil {
		return "", false
	}
	v, ok := get(key)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// OverrideVar returns the variable that overrides the schedule of a job,
// such as JT_CRON_ZONES_REFRESH_SEARCH_INDEX. The variable with the suffix
// _TIMEOUT overrides its timeout.
func OverrideVar(function, job string) string {
	name := function + "_" + job
	return "JT_CRON_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Function returns the name of the function whose jobs r runs.
func (r *Runner) Function() string { return r.function }

// Jobs returns the jobs in the order of the function's Jobs.
func (r *Runner) Jobs() []JobInfo {
	out := make([]JobInfo, 0, len(r.order))
	for _, j := range r.order {
		out = append(out, JobInfo{Name: j.name, Schedule: j.schedule, Missed: j.missed, Timeout: j.timeout})
	}
	return out
}

// Trigger runs one tick of the named job, if it is due. at is when the
// platform fired, such as the time of its event, and the zero time means now.
// The tick is the job's last scheduled time at or before at.
//
// The steps are: look up the job, read its last claimed tick, apply the
// missed-tick policy, claim the tick, run the job with its timeout, and
// record the end of the run. A tick that is late by more than the grace
// period counts as missed: MissedSkip drops it, and MissedCatchUpOnce runs
// once in place of all ticks missed since the last claimed one, claiming the
// latest tick due. A job with no claimed tick has missed nothing.
//
// ctx is the parent of the run's context, so cancelling it cancels the run.
// The log lines of the trigger, and the run, carry the trace context of
// ctx or of the trigger's span.
// Trigger returns an error wrapping ErrUnknownJob or ErrInvalidEvent, a
// Locker error, or the run's error. A tick that did not run because it was
// claimed already, missed or not due is not an error.
func (r *Runner) Trigger(ctx context.Context, name string, at time.Time, source Source) (Result, error) {
	ctx, span := r.startSpan(ctx, name, source)
	res, err := r.trigger(ctx, name, at, source)
	endSpan(span, res, err)
	return res, err
}

func (r *Runner) trigger(ctx context.Context, name string, at time.Time, source Source) (Result, error) {
	res := Result{Function: r.function, Job: name, Source: source}
	j, ok := r.jobs[name]
	if !ok {
		return res, fmt.Errorf("%w %q: function %q has no such job", ErrUnknownJob, name, r.function)
	}

	now := r.now()
	if at.IsZero() {
		at = now
	}
	if at.Sub(now) > MaxEventSkew {
		return res, fmt.Errorf("%w: event time %s is %s ahead of this host's clock; the maximum is %s",
			ErrInvalidEvent, at.UTC().Format(time.RFC3339), at.Sub(now).Round(time.Second), MaxEventSkew)
	}
	return r.evaluate(ctx, j, at, now, res)
}

func (r *Runner) evaluate(ctx context.Context, j *job, at, now time.Time, res Result) (Result, error) {
	logger := r.logger.With("job", j.name, "source", string(res.Source))
	tick := j.schedule.Prev(at)
	if tick.IsZero() {
		res.Outcome = OutcomeNotDue
		logger.DebugContext(ctx, "cron job not due", "at", at)
		return r.observe(res), nil
	}

	last, hasLast, err := r.locker.Last(ctx, j.key)
	if err != nil {
		logger.ErrorContext(ctx, "reading the last cron tick failed", "tick", tick, "err", err)
		return res, err
	}
	d := decide(j.missed, last, hasLast, tick, j.schedule.Prev(now), now, r.grace)
	res.Tick, res.CatchUp = d.tick, d.catchUp
	switch d.outcome {
	case OutcomeAlreadyClaimed:
		logger.DebugContext(ctx, "cron tick already claimed", "tick", tick, "last", last)
		res.Outcome = d.outcome
		return r.observe(res), nil
	case OutcomeMissed:
		// A job that never ran, such as on a new database, missed the tick
		// before its first start by design, so that is no warning.
		level := slog.LevelWarn
		if !hasLast {
			level = slog.LevelInfo
		}
		logger.Log(ctx, level, "cron tick missed", "tick", tick, "late_by", now.Sub(tick).Round(time.Second),
			"policy", string(j.missed), "has_last", hasLast)
		res.Outcome = d.outcome
		return r.observe(res), nil
	}

	claimed, err := r.locker.Claim(ctx, j.key, d.tick)
	if err != nil {
		logger.ErrorContext(ctx, "claiming the cron tick failed", "tick", d.tick, "err", err)
		return res, err
	}
	if !claimed {
		logger.DebugContext(ctx, "cron tick already claimed", "tick", d.tick)
		res.Outcome = OutcomeAlreadyClaimed
		return r.observe(res), nil
	}
	return r.run(ctx, j, res, logger)
}

// decision is the missed-tick policy's verdict on one trigger.
type decision struct {
	tick    time.Time
	catchUp bool
	// outcome is empty when tick should be claimed and run.
	outcome Outcome
}

// decide applies the missed-tick policy to tick, the trigger's scheduled
// time, given the job's last claimed tick and latest, the last tick at or
// before now.
func decide(policy fn.MissedPolicy, last time.Time, hasLast bool, tick, latest, now time.Time, grace time.Duration) decision {
	if hasLast && !last.Before(tick) {
		return decision{tick: tick, outcome: OutcomeAlreadyClaimed}
	}
	if now.Sub(tick) <= grace {
		return decision{tick: tick}
	}
	if policy == fn.MissedCatchUpOnce && hasLast {
		return decision{tick: latest, catchUp: true}
	}
	return decision{tick: tick, outcome: OutcomeMissed}
}

// run runs a claimed tick and records its end.
func (r *Runner) run(ctx context.Context, j *job, res Result, logger *slog.Logger) (Result, error) {
	logger = logger.With("tick", res.Tick)
	logger.InfoContext(ctx, "cron job started", "catch_up", res.CatchUp, "timeout", j.timeout)

	runCtx, cancel := context.WithTimeout(ctx, j.timeout)
	start := r.now()
	runErr := safeRun(runCtx, j.run)
	res.Duration = r.now().Sub(start)
	if runErr != nil && errors.Is(runCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		runErr = fmt.Errorf("timed out after %s: %w", j.timeout, runErr)
	}
	cancel()

	// Record the end even when ctx has ended, so that a failed tick is
	// released for a retry.
	finishCtx, cancelFinish := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	finishErr := r.locker.Finish(finishCtx, j.key, res.Tick, runErr)
	cancelFinish()
	if finishErr != nil {
		logger.ErrorContext(ctx, "cron tick end not recorded", "err", finishErr)
	}

	if runErr != nil {
		res.Outcome = OutcomeFailed
		logger.ErrorContext(ctx, "cron job failed", "duration", res.Duration, "err", runErr)
		return r.observe(res), errors.Join(fmt.Errorf("cron: job %q of function %q, tick %s: %w",
			j.name, r.function, res.Tick.Format(time.RFC3339), runErr), finishErr)
	}
	// A success whose end was not recorded stays claimed, which is all the
	// missed-tick policy needs, so it is not an error for the caller.
	res.Outcome = OutcomeSucceeded
	logger.InfoContext(ctx, "cron job finished", "duration", res.Duration)
	return r.observe(res), nil
}

// safeRun calls run and turns a panic into an error.
func safeRun(ctx context.Context, run func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	return run(ctx)
}

func (r *Runner) observe(res Result) Result {
	if r.metrics != nil {
		r.metrics.Observe(res)
	}
	return res
}

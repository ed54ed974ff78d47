// Package fn defines the contract between a Jingtong function and the
// platform that runs it.
//
// A function package exposes a Builder. The host (a trigger adapter in a
// deployed binary, or localdev) calls it once with an Env, then serves the
// returned Function's handler, runs its jobs on their schedules and delivers
// queue messages to its consumers. Nothing in a function package knows which
// platform runs it.
package fn

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/uptrace/bun"
)

// Builder constructs a function from its environment. It reads its own
// configuration through env.Lookup and must not start goroutines that
// outlive Function.Close.
type Builder func(ctx context.Context, env *Env) (*Function, error)

// Env is what the host hands to a Builder.
type Env struct {
	// Lookup reads a configuration variable, like os.LookupEnv. Tests pass a
	// map-backed function so they never touch the process environment.
	Lookup func(key string) (string, bool)

	// Logger is the host's structured logger. Builders narrow it with the
	// function name; it is never nil.
	Logger *slog.Logger

	// Now returns the current time. Tests replace it to control expiry and
	// effective windows.
	Now func() time.Time

	// OpenDB returns the shared database handle, opening it on first use from
	// JT_DATABASE_URL (or the host's embedded default). Functions that keep
	// no data never call it.
	OpenDB func(ctx context.Context) (*bun.DB, error)

	// DataDir is a writable directory for files the function keeps between
	// restarts in local development (JT_DATA_DIR, default ./.data). Deployed
	// functions should not rely on it.
	DataDir string

	// Publisher sends events to queue subjects: NATS JetStream when the
	// host is configured with it, an in-process queue otherwise. It is nil
	// when the host runs no queue, such as a one-off migrate command, so
	// functions check it before publishing.
	Publisher Publisher
}

// Getenv returns the value of key, or def when it is unset or empty.
func (e *Env) Getenv(key, def string) string {
	if e.Lookup == nil {
		return def
	}
	if v, ok := e.Lookup(key); ok && v != "" {
		return v
	}
	return def
}

// Function is one deployable capability.
type Function struct {
	// Name is the function's name on every platform, such as "zones". It is
	// a DNS label: lowercase letters, digits and hyphens.
	Name string

	// Handler serves the function's HTTP API. Paths are relative to the
	// function root: the host strips /function/<name> or /api/<name>.
	Handler http.Handler

	// Jobs are the cron jobs the function owns.
	Jobs []Job

	// Consumers are the queue subjects the function consumes.
	Consumers []Consumer

	// Migrate brings the function's schema to the newest version. Hosts run
	// it at start-up in local development and by an explicit command in
	// production. Nil when the function keeps no data.
	Migrate func(ctx context.Context) error

	// Ready reports whether the function can serve traffic, for /readyz.
	// Nil means always ready.
	Ready func(ctx context.Context) error

	// Close releases what the function holds. Nil means nothing to release.
	Close func() error

	// PublicEdge marks a function that takes requests straight from the
	// internet, such as the gateway. Hosts treat a traceparent sent to it
	// as the client's claim: its spans start a new trace that links to the
	// client's, so a client cannot choose trace ids or force sampling.
	PublicEdge bool
}

// MissedPolicy says what happens to cron ticks missed while a job was not
// running.
type MissedPolicy string

const (
	// MissedSkip drops missed ticks and waits for the next one.
	MissedSkip MissedPolicy = "skip"
	// MissedCatchUpOnce runs the job once for all missed ticks.
	MissedCatchUpOnce MissedPolicy = "catch_up_once"
)

// Job is a cron job owned by a function.
type Job struct {
	// Name identifies the job within its function, such as "refresh-search".
	Name string
	// Schedule is the default schedule in 5-field cron form (minute hour
	// day-of-month month day-of-week). Deployments may override it.
	Schedule string
	// Missed is the policy for ticks missed while the job was down.
	Missed MissedPolicy
	// Run performs one tick. It must be safe to run again after a failure.
	Run func(ctx context.Context) error
}

// Consumer handles messages from one queue subject.
type Consumer struct {
	// Subject is the queue subject, such as "zones.published".
	Subject string
	// Handle processes one message. Returning an error asks for redelivery.
	Handle func(ctx context.Context, msg Message) error
}

// Publisher sends messages to queue subjects. The queue backends of
// package triggers/queue implement it.
type Publisher interface {
	// Publish stores data under subject for every consumer of subject and
	// returns once the message is stored. A message whose ID was published
	// within the backend's duplicate window is accepted and dropped.
	Publish(ctx context.Context, subject string, data []byte, opts PublishOptions) error
}

// PublishOptions are the optional parts of a message.
type PublishOptions struct {
	// ID is the message's idempotency key, at most 256 bytes of printable
	// text. Derive it from the effect that caused the message, such as
	// "zone-published:<zone id>:<version>", so that publishing again after
	// a timeout is de-duplicated. Empty means a random UUID, which
	// de-duplicates nothing.
	ID string
	// Header holds extra headers, passed to the consumer in
	// Message.Header. Names starting with "Nats-" or "Jt-Dlq-" are
	// reserved and rejected.
	Header http.Header
}

// PermanentError marks a consumer error that no retry can fix, such as a
// payload that does not decode. The host sends the message to the
// dead-letter subject at once, with the error as the reason.
type PermanentError struct {
	Err error
}

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }

func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that the message is dead-lettered without further
// attempts. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// Message is one queue delivery.
type Message struct {
	// ID is the idempotency key: a redelivery of the same message keeps it.
	ID      string
	Subject string
	Data    []byte
	Header  http.Header
}

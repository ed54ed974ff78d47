package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// DefaultRedisTimeout bounds one Redis call. A Redis server in the same
// region normally replies within a few milliseconds (an estimate), so
// 100 ms expires only when Redis is unreachable or overloaded. A request
// then waits at most that long before the failure mode decides.
const DefaultRedisTimeout = 100 * time.Millisecond

// DefaultFailureCooldown is how long Redis.Allow skips Redis after a
// failure. By default go-redis v9.23.0 dials a refusing server up to 5
// times, 100 ms apart, so without the cooldown every request during an
// outage would wait the full timeout. With it, one request per second per
// instance does.
const DefaultFailureCooldown = time.Second

// FailureMode decides what Redis.Allow does when Redis fails: it cannot be
// reached, times out or returns an error.
type FailureMode int

const (
	// FailOpen allows the request, marks the Result Degraded and hands the
	// error to the error handler instead of returning it. It is the default
	// because the limiter guards fair use and abuse budgets, not
	// correctness, and an outage that turned every request into a 503 would
	// take every city service down with Redis. Overload protection does not
	// depend on Redis, because Concurrency sheds load in process, and
	// WithFallback keeps per-instance limits during the outage.
	FailOpen FailureMode = iota

	// FailClosed denies the request and returns an error wrapping
	// ErrUnavailable, for which Middleware responds with 503. Use it for a
	// separate limiter that guards abuse-prone or costly operations, such as
	// sending SMS codes or checking passwords, where an unenforced limit is
	// worse than an outage of that operation.
	FailClosed
)

// String returns "fail-open" or "fail-closed".
func (f FailureMode) String() string {
	switch f {
	case FailOpen:
		return "fail-open"
	case FailClosed:
		return "fail-closed"
	}
	return fmt.Sprintf("FailureMode(%d)", int(f))
}

// Redis is a GCRA limiter whose state lives in Redis, shared by every
// gateway instance. It runs the Lua script of
// github.com/go-redis/redis_rate/v10, which reads the Redis server's clock,
// stores one TAT per key as a float of seconds and lets Redis expire the key
// once its bucket is full again. The stored key is "rate:" (added by
// redis_rate) followed by the prefix and the caller's key.
type Redis struct {
	limiter  *redis_rate.Limiter
	prefix   string
	mode     FailureMode
	fallback Limiter
	onError  func(ctx context.Context, err error)
	timeout  time.Duration
	cooldown time.Duration

	// epoch and skipUntil measure the cooldown on the monotonic clock.
	// skipUntil is the time since epoch before which Redis is not tried.
	epoch     time.Time
	skipUntil atomic.Int64
}

// RedisOption configures a Redis limiter.
type RedisOption func(*Redis)

// WithPrefix sets the prefix put before every key, after redis_rate's own
// "rate:". The default is no prefix.
func WithPrefix(prefix string) RedisOption {
	return func(r *Redis) { r.prefix = prefix }
}

// WithFailureMode sets what happens when Redis fails. The default is
// FailOpen.
func WithFailureMode(mode FailureMode) RedisOption {
	return func(r *Redis) { r.mode = mode }
}

// WithFallback sets a limiter, normally a Memory, that decides while Redis
// fails, so each instance still enforces the limits on its own share of the
// traffic. Its results are marked Degraded and the Redis error goes to the
// error handler. The failure mode applies only when the fallback fails too.
func WithFallback(l Limiter) RedisOption {
	return func(r *Redis) { r.fallback = l }
}

// WithErrorHandler sets the function that receives Redis errors that Allow
// does not return: those of FailOpen and of a working fallback. Use it to
// count and log outages. An error is never both returned and handed to it.
// The default, and a nil fn, discard them.
func WithErrorHandler(fn func(ctx context.Context, err error)) RedisOption {
	return func(r *Redis) {
		if fn != nil {
			r.onError = fn
		}
	}
}

// WithTimeout bounds each Redis call. The default is DefaultRedisTimeout,
// and 0 means no bound beyond the caller's context. go-redis applies a
// context deadline to socket reads and writes only when the client was
// created with ContextTimeoutEnabled. Otherwise its ReadTimeout and
// WriteTimeout (5 s by default in go-redis v9.23.0) govern a server that
// stops responding.
func WithTimeout(d time.Duration) RedisOption {
	return func(r *Redis) { r.timeout = d }
}

// WithFailureCooldown sets how long Allow skips Redis after a failure and
// decides with the fallback or the failure mode straight away. The default
// is DefaultFailureCooldown, and 0 tries Redis on every call. A failure
// caused by the caller's own context ending does not start a cooldown.
func WithFailureCooldown(d time.Duration) RedisOption {
	return func(r *Redis) { r.cooldown = max(d, 0) }
}

// NewRedis returns a limiter that keeps its state in rdb, which may be a
// single-node, cluster or ring client. Every call touches one key, so it
// works on Redis Cluster.
func NewRedis(rdb redis.UniversalClient, opts ...RedisOption) *Redis {
	r := &Redis{
		limiter:  redis_rate.NewLimiter(rdb),
		mode:     FailOpen,
		onError:  func(context.Context, error) {},
		timeout:  DefaultRedisTimeout,
		cooldown: DefaultFailureCooldown,
		epoch:    time.Now(),
	}
	for _, opt := range opts {
		opt(r)
	}
	return r
}

// Allow implements Limiter. On a Redis failure, and during the cooldown
// after one, it follows the fallback and failure mode described on
// WithFallback and FailureMode.
func (r *Redis) Allow(ctx context.Context, key string, limit Limit, n int) (Result, error) {
	if err := checkCost(limit, n); err != nil {
		return Result{}, err
	}
	if r.cooldown > 0 && time.Since(r.epoch) < time.Duration(r.skipUntil.Load()) {
		return r.degrade(ctx, key, limit, n,
			fmt.Errorf("%w: redis: not tried for %s after a failure", ErrUnavailable, r.cooldown))
	}

	callCtx := ctx
	if r.timeout > 0 {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	rr, err := r.limiter.AllowN(callCtx, r.prefix+key, redis_rate.Limit{
		Rate:   limit.Rate,
		Burst:  limit.Burst,
		Period: limit.Period,
	}, n)
	if err != nil {
		if r.cooldown > 0 && ctx.Err() == nil {
			r.skipUntil.Store(int64(time.Since(r.epoch) + r.cooldown))
		}
		return r.degrade(ctx, key, limit, n, fmt.Errorf("%w: redis: %w", ErrUnavailable, err))
	}

	// redis_rate reports RetryAfter as -1 exactly when it admitted the
	// request. Its Allowed count cannot tell a denial from an allowed n == 0.
	res := Result{
		Limit:      limit,
		Allowed:    rr.RetryAfter < 0,
		Remaining:  rr.Remaining,
		ResetAfter: max(rr.ResetAfter, 0),
	}
	if !res.Allowed {
		res.RetryAfter = rr.RetryAfter
	}
	return res, nil
}

// degrade decides a request that Redis could not, with the fallback and then
// the failure mode.
func (r *Redis) degrade(ctx context.Context, key string, limit Limit, n int, cause error) (Result, error) {
	if r.fallback != nil {
		res, err := r.fallback.Allow(ctx, key, limit, n)
		if err == nil {
			r.onError(ctx, cause)
			res.Degraded = true
			return res, nil
		}
		cause = errors.Join(cause, fmt.Errorf("ratelimit: fallback: %w", err))
	}

	if r.mode == FailClosed {
		return Result{Limit: limit, Degraded: true}, cause
	}
	r.onError(ctx, cause)
	return Result{Limit: limit, Allowed: true, Degraded: true}, nil
}

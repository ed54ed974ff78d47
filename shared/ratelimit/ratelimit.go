// Package ratelimit limits request rates with GCRA (the generic cell rate
// algorithm) and sheds load with a concurrency limiter.
//
// # Algorithm
//
// A Limit allows Rate events per Period with bursts of up to Burst events.
// GCRA keeps one number per key, the theoretical arrival time (TAT): the
// moment at which the key's bucket would be full again. With the emission
// interval T = Period/Rate and the tolerance tau = T*Burst, a request for n
// events at time now is allowed when
//
//	max(TAT, now) + n*T - tau <= now
//
// and then TAT becomes max(TAT, now) + n*T. A denied request leaves TAT
// unchanged. It follows that any span of length d admits at most
// Burst + d/T events, so unlike a fixed window GCRA never admits twice the
// rate around a window boundary. Unlike a token bucket, which stores a count
// and a time, it stores one integer per key.
//
// # Clocks
//
// Memory reads the Now function it is given (time.Now by default) and
// measures with its monotonic reading, so wall-clock steps do not refill or
// drain buckets. Redis runs the GCRA script of
// github.com/go-redis/redis_rate/v10 inside Redis. That script reads the
// Redis server's clock (the TIME command), so every gateway instance shares
// one clock and one TAT per key.
//
// # Concurrency
//
// Concurrent Allow calls for one key are decided one at a time: Memory
// decides under a per-shard mutex, and Redis runs the decision as one Lua
// script, which Redis executes atomically. Memory holds at most its
// configured number of keys (see WithMaxKeys).
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limiter decides whether n events for key fit within limit.
//
// Allow returns an error wrapping ErrInvalidLimit when limit is invalid,
// ErrInvalidCost when n is negative or larger than limit.Burst, and
// ErrUnavailable when a shared backend failed and the limiter is set to fail
// closed. n == 0 reports the current state without consuming anything.
type Limiter interface {
	Allow(ctx context.Context, key string, limit Limit, n int) (Result, error)
}

// Compile-time checks that both implementations satisfy Limiter.
var (
	_ Limiter = (*Memory)(nil)
	_ Limiter = (*Redis)(nil)
)

// Errors returned by Allow. Check them with errors.Is.
var (
	ErrInvalidLimit = errors.New("ratelimit: invalid limit")
	ErrInvalidCost  = errors.New("ratelimit: invalid cost")
	ErrUnavailable  = errors.New("ratelimit: limiter backend unavailable")
)

// maxTolerance bounds Burst*Period/Rate, so TAT arithmetic in int64
// nanoseconds cannot overflow.
const maxTolerance = 100 * 365 * 24 * time.Hour

// Limit is a GCRA rate: Rate events per Period, with bursts of up to Burst
// events. The sustained rate is Rate/Period, and Burst is how many events a
// key that has been idle long enough may spend at once.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// PerSecond returns a limit of rate events per second with a burst of rate.
func PerSecond(rate int) Limit { return Limit{Rate: rate, Period: time.Second, Burst: rate} }

// PerMinute returns a limit of rate events per minute with a burst of rate.
func PerMinute(rate int) Limit { return Limit{Rate: rate, Period: time.Minute, Burst: rate} }

// PerHour returns a limit of rate events per hour with a burst of rate.
func PerHour(rate int) Limit { return Limit{Rate: rate, Period: time.Hour, Burst: rate} }

// Validate returns an error wrapping ErrInvalidLimit unless Rate, Period and
// Burst are positive, the emission interval Period/Rate is at least one
// nanosecond, and Burst*Period/Rate is at most 100 years.
func (l Limit) Validate() error {
	switch {
	case l.Rate <= 0:
		return fmt.Errorf("%w: rate %d is not positive", ErrInvalidLimit, l.Rate)
	case l.Period <= 0:
		return fmt.Errorf("%w: period %s is not positive", ErrInvalidLimit, l.Period)
	case l.Burst <= 0:
		return fmt.Errorf("%w: burst %d is not positive", ErrInvalidLimit, l.Burst)
	case int64(l.Period) < int64(l.Rate):
		return fmt.Errorf("%w: rate %d per %s is more than one event per nanosecond", ErrInvalidLimit, l.Rate, l.Period)
	}
	interval := l.EmissionInterval()
	if int64(l.Burst) > int64(maxTolerance)/int64(interval) {
		return fmt.Errorf("%w: burst %d at one event per %s takes more than %s to refill", ErrInvalidLimit, l.Burst, interval, maxTolerance)
	}
	return nil
}

// EmissionInterval returns Period/Rate, the time one event's quota takes to
// refill, truncated to whole nanoseconds. It returns 0 when Rate is not
// positive.
func (l Limit) EmissionInterval() time.Duration {
	if l.Rate <= 0 {
		return 0
	}
	return l.Period / time.Duration(l.Rate)
}

// String returns the limit as "10/1s burst 20".
func (l Limit) String() string {
	return fmt.Sprintf("%d/%s burst %d", l.Rate, l.Period, l.Burst)
}

// Result is the outcome of one Allow call.
type Result struct {
	// Limit is the limit the decision was made with.
	Limit Limit

	// Allowed reports whether the n events were admitted and counted.
	Allowed bool

	// Remaining is how many single events would be allowed right after this
	// call. It is 0 when the request was denied, even when some quota, less
	// than n events, is left.
	Remaining int

	// RetryAfter is how long until the same request would be allowed if no
	// other requests arrive. It is 0 when the request was allowed.
	RetryAfter time.Duration

	// ResetAfter is how long until the key's bucket is full again, that is
	// until Remaining would equal Limit.Burst.
	ResetAfter time.Duration

	// Degraded reports that Redis failed, or was skipped during the cooldown
	// after a failure, and the decision came from the failure mode or the
	// fallback limiter instead of the shared state. The counts above then do
	// not describe the shared quota, and are 0 under FailOpen.
	Degraded bool
}

// nextRefill returns how long until Remaining grows by one, or false when
// the bucket is already full. For a denied result it returns RetryAfter,
// because Remaining is reported as 0 however much quota is left.
func (r Result) nextRefill() (time.Duration, bool) {
	if !r.Allowed {
		return r.RetryAfter, true
	}
	if r.Remaining >= r.Limit.Burst {
		return 0, false
	}
	// ResetAfter covers the Burst-Remaining missing events. The first of them
	// arrives (Burst-Remaining-1) emission intervals before the bucket is full.
	missing := time.Duration(r.Limit.Burst - r.Remaining - 1)
	return max(r.ResetAfter-missing*r.Limit.EmissionInterval(), 0), true
}

// checkCost returns an error wrapping ErrInvalidLimit or ErrInvalidCost when
// limit or n cannot be used.
func checkCost(limit Limit, n int) error {
	if err := limit.Validate(); err != nil {
		return err
	}
	if n < 0 || n > limit.Burst {
		return fmt.Errorf("%w: %d events do not fit a burst of %d", ErrInvalidCost, n, limit.Burst)
	}
	return nil
}

// ceilSeconds returns d in whole seconds, rounded up, and 0 for d <= 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

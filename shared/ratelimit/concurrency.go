package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jingtong/backend/shared/httpx"
)

// DefaultShedRetryAfter is the Retry-After sent with a shed request's 503.
const DefaultShedRetryAfter = time.Second

// ErrShed is returned by Concurrency.Acquire when a request found every slot
// taken and either the queue full or no slot within the maximum wait.
var ErrShed = errors.New("ratelimit: request shed: too many requests in progress")

// Concurrency caps the requests in progress. A request beyond the cap waits
// in a bounded queue for up to a maximum time and is then shed, so overload
// turns into fast 503 responses instead of timeouts. Waiting requests get
// slots in arrival order, because Go queues blocked channel senders first
// in, first out.
type Concurrency struct {
	slots      chan struct{}
	queue      chan struct{}
	maxWait    time.Duration
	retryAfter time.Duration
	shed       atomic.Uint64
}

// ConcurrencyOption configures a Concurrency limiter.
type ConcurrencyOption func(*Concurrency)

// WithShedRetryAfter sets the Retry-After of a shed request's 503. The
// default is DefaultShedRetryAfter. It is sent in whole seconds, at least 1.
func WithShedRetryAfter(d time.Duration) ConcurrencyOption {
	return func(c *Concurrency) { c.retryAfter = d }
}

// NewConcurrency returns a limiter that lets limit requests run at once and
// up to queue more wait for a slot, each for at most maxWait. A queue of 0
// or a maxWait of 0 sheds every request beyond limit at once. It panics when
// limit is below 1 or queue or maxWait is negative.
func NewConcurrency(limit, queue int, maxWait time.Duration, opts ...ConcurrencyOption) *Concurrency {
	if limit < 1 || queue < 0 || maxWait < 0 {
		panic(fmt.Sprintf("ratelimit: NewConcurrency(%d, %d, %s): limit must be at least 1, queue and maxWait not negative",
			limit, queue, maxWait))
	}
	c := &Concurrency{
		slots:      make(chan struct{}, limit),
		queue:      make(chan struct{}, queue),
		maxWait:    maxWait,
		retryAfter: DefaultShedRetryAfter,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Acquire takes a slot, waiting in the queue when all are taken. It returns
// ErrShed when the queue is full or maxWait passes, and ctx's error when ctx
// ends first. After a nil error the caller must call Release exactly once.
func (c *Concurrency) Acquire(ctx context.Context) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	default:
	}

	select {
	case c.queue <- struct{}{}:
	default:
		c.shed.Add(1)
		return ErrShed
	}
	defer func() { <-c.queue }()

	timer := time.NewTimer(c.maxWait)
	defer timer.Stop()
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-timer.C:
		c.shed.Add(1)
		return ErrShed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release frees the slot taken by a successful Acquire. It panics when no
// slot is taken, because Release was then called more often than Acquire
// succeeded.
func (c *Concurrency) Release() {
	select {
	case <-c.slots:
	default:
		panic("ratelimit: Concurrency.Release called without a successful Acquire")
	}
}

// InFlight returns the number of slots taken.
func (c *Concurrency) InFlight() int { return len(c.slots) }

// Waiting returns the number of requests waiting in the queue.
func (c *Concurrency) Waiting() int { return len(c.queue) }

// Shed returns the number of requests shed since the limiter was created,
// for a metrics counter.
func (c *Concurrency) Shed() uint64 { return c.shed.Load() }

// Middleware runs next for requests that get a slot and responds to the
// others with 503 OVERLOADED and Retry-After. It logs nothing per shed
// request, because logging under overload adds work where no capacity is
// left, so export Shed as a metric instead. A request whose context ends
// while it waits gets the same 503, which a departed client never reads.
func (c *Concurrency) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.Acquire(r.Context()); err != nil {
			seconds := RetryAfterSeconds(c.retryAfter)
			w.Header().Set(HeaderRetryAfter, strconv.FormatInt(seconds, 10))
			httpx.WriteError(w, r, nil, httpx.Wrap(CodeOverloaded, err, seconds))
			return
		}
		defer c.Release()
		next.ServeHTTP(w, r)
	})
}

package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/ratelimit"
	"github.com/jingtong/backend/shared/store/storetest"
)

// backend is one Limiter implementation under test, with the means to let
// time pass for it.
type backend struct {
	limiter ratelimit.Limiter

	// advance lets d pass: it moves the memory limiter's clock, and sleeps
	// (a little longer than d) for Redis, whose clock is the server's.
	advance func(d time.Duration)

	// tolerance is how far a measured duration may be from the exact GCRA
	// value: 0 for memory, and for Redis the time that really passes between
	// calls.
	tolerance time.Duration
}

// eachLimiter runs fn as a subtest on a memory limiter with a fake clock
// and, when JT_TEST_REDIS_URL is set, on a Redis limiter under a key prefix
// of its own, whose keys are deleted when the test ends. Without the
// variable the Redis subtest is skipped with the reason printed.
func eachLimiter(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()

	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		fn(t, backend{
			limiter: ratelimit.NewMemory(ratelimit.WithNow(clock.Now)),
			advance: clock.Advance,
		})
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		rdb := storetest.OpenRedis(t)
		fn(t, backend{
			// FailClosed, so that a broken Redis fails the test instead of
			// being allowed through.
			limiter: ratelimit.NewRedis(rdb,
				ratelimit.WithPrefix(storetest.RedisPrefix(t, rdb)),
				ratelimit.WithFailureMode(ratelimit.FailClosed),
				ratelimit.WithTimeout(time.Second)),
			advance:   func(d time.Duration) { time.Sleep(d + 20*time.Millisecond) },
			tolerance: 100 * time.Millisecond,
		})
	})
}

// fakeClock is a clock that moves only when Advance is called.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// allow calls l.Allow and fails the test on an error.
func allow(t testing.TB, l ratelimit.Limiter, key string, limit ratelimit.Limit, n int) ratelimit.Result {
	t.Helper()
	res, err := l.Allow(context.Background(), key, limit, n)
	if err != nil {
		t.Fatalf("Allow(%q, %s, %d): %v", key, limit, n, err)
	}
	return res
}

// checkDuration reports got unless it is within tolerance of want.
func checkDuration(t testing.TB, name string, got, want, tolerance time.Duration) {
	t.Helper()
	if got < want-tolerance || got > want+tolerance {
		if tolerance == 0 {
			t.Errorf("%s = %s, want %s", name, got, want)
			return
		}
		t.Errorf("%s = %s, want %s ± %s", name, got, want, tolerance)
	}
}

package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jingtong/backend/shared/ratelimit"
)

// redisURLVar names the environment variable with the Redis URL for tests,
// such as redis://127.0.0.1:6379/0.
const redisURLVar = "JT_TEST_REDIS_URL"

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
		rdb := openRedis(t)
		fn(t, backend{
			// FailClosed, so that a broken Redis fails the test instead of
			// being allowed through.
			limiter: ratelimit.NewRedis(rdb,
				ratelimit.WithPrefix(testPrefix(t, rdb)),
				ratelimit.WithFailureMode(ratelimit.FailClosed),
				ratelimit.WithTimeout(time.Second)),
			advance:   func(d time.Duration) { time.Sleep(d + 20*time.Millisecond) },
			tolerance: 100 * time.Millisecond,
		})
	})
}

// openRedis returns a client for JT_TEST_REDIS_URL, closed when the test
// ends. It skips the test when the variable is unset.
func openRedis(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv(redisURLVar)
	if url == "" {
		t.Skipf("%s is not set; skipping the Redis run", redisURLVar)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", redisURLVar, err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping Redis at %s: %v", url, err)
	}
	return rdb
}

// testPrefix returns a key prefix unique to this test run and deletes every
// key under it when the test ends.
func testPrefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "jt-test-" + hex.EncodeToString(b[:]) + ":"

	t.Cleanup(func() {
		ctx := context.Background()
		// redis_rate puts "rate:" before every key.
		iter := rdb.Scan(ctx, 0, "rate:"+prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
				t.Logf("delete test key %s: %v", iter.Val(), err)
			}
		}
		if err := iter.Err(); err != nil {
			t.Logf("scan test keys under %s: %v", prefix, err)
		}
	})
	return prefix
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

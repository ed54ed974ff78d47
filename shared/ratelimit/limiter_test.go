package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/ratelimit"
)

// oneSecond refills one event per second, slow enough that the real time
// between Redis calls does not change a count.
var oneSecond = ratelimit.Limit{Rate: 3, Period: 3 * time.Second, Burst: 3}

func TestAllow_burstThenDeny(t *testing.T) {
	t.Parallel()
	eachLimiter(t, func(t *testing.T, b backend) {
		for i, want := range []struct {
			remaining int
			reset     time.Duration
		}{{2, time.Second}, {1, 2 * time.Second}, {0, 3 * time.Second}} {
			res := allow(t, b.limiter, "k", oneSecond, 1)
			if !res.Allowed {
				t.Fatalf("request %d denied within the burst of 3", i+1)
			}
			if res.Remaining != want.remaining {
				t.Errorf("request %d: Remaining = %d, want %d", i+1, res.Remaining, want.remaining)
			}
			if res.RetryAfter != 0 {
				t.Errorf("request %d: RetryAfter = %s, want 0 when allowed", i+1, res.RetryAfter)
			}
			checkDuration(t, "ResetAfter", res.ResetAfter, want.reset, b.tolerance)
			if res.Limit != oneSecond {
				t.Errorf("request %d: Limit = %v, want %v", i+1, res.Limit, oneSecond)
			}
		}

		res := allow(t, b.limiter, "k", oneSecond, 1)
		if res.Allowed {
			t.Fatal("request 4 allowed beyond the burst of 3")
		}
		if res.Remaining != 0 {
			t.Errorf("denied: Remaining = %d, want 0", res.Remaining)
		}
		checkDuration(t, "denied RetryAfter", res.RetryAfter, time.Second, b.tolerance)
		checkDuration(t, "denied ResetAfter", res.ResetAfter, 3*time.Second, b.tolerance)
	})
}

func TestAllow_refillAfterEmissionInterval(t *testing.T) {
	t.Parallel()
	limit := ratelimit.Limit{Rate: 2, Period: time.Second, Burst: 2} // one event per 500 ms
	eachLimiter(t, func(t *testing.T, b backend) {
		allow(t, b.limiter, "k", limit, 2)
		denied := allow(t, b.limiter, "k", limit, 1)
		if denied.Allowed {
			t.Fatal("allowed with an empty bucket")
		}
		checkDuration(t, "RetryAfter", denied.RetryAfter, 500*time.Millisecond, b.tolerance)

		b.advance(denied.RetryAfter)
		res := allow(t, b.limiter, "k", limit, 1)
		if !res.Allowed {
			t.Fatalf("denied after waiting RetryAfter %s", denied.RetryAfter)
		}
		if res.Remaining != 0 {
			t.Errorf("after one refill: Remaining = %d, want 0", res.Remaining)
		}
		if again := allow(t, b.limiter, "k", limit, 1); again.Allowed {
			t.Error("second request allowed after only one event refilled")
		}

		b.advance(time.Second)
		res = allow(t, b.limiter, "k", limit, 0)
		if res.Remaining != 2 {
			t.Errorf("after a full period: Remaining = %d, want the burst of 2", res.Remaining)
		}
	})
}

func TestAllow_multipleEvents(t *testing.T) {
	t.Parallel()
	limit := ratelimit.Limit{Rate: 5, Period: 5 * time.Second, Burst: 5}
	eachLimiter(t, func(t *testing.T, b backend) {
		res := allow(t, b.limiter, "k", limit, 3)
		if !res.Allowed || res.Remaining != 2 {
			t.Fatalf("n=3 on a full bucket: Allowed %v, Remaining %d, want true, 2", res.Allowed, res.Remaining)
		}
		checkDuration(t, "n=3 ResetAfter", res.ResetAfter, 3*time.Second, b.tolerance)

		res = allow(t, b.limiter, "k", limit, 3)
		if res.Allowed {
			t.Fatal("n=3 allowed with 2 left")
		}
		if res.Remaining != 0 {
			t.Errorf("n=3 denied: Remaining = %d, want 0", res.Remaining)
		}
		checkDuration(t, "n=3 denied RetryAfter", res.RetryAfter, time.Second, b.tolerance)

		res = allow(t, b.limiter, "k", limit, 2)
		if !res.Allowed || res.Remaining != 0 {
			t.Errorf("n=2 with 2 left: Allowed %v, Remaining %d, want true, 0", res.Allowed, res.Remaining)
		}
		checkDuration(t, "n=2 ResetAfter", res.ResetAfter, 5*time.Second, b.tolerance)
	})
}

func TestAllow_zeroEventsOnlyReports(t *testing.T) {
	t.Parallel()
	eachLimiter(t, func(t *testing.T, b backend) {
		res := allow(t, b.limiter, "k", oneSecond, 0)
		if !res.Allowed || res.Remaining != 3 || res.ResetAfter != 0 {
			t.Errorf("n=0 on a new key: Allowed %v, Remaining %d, ResetAfter %s, want true, 3, 0s",
				res.Allowed, res.Remaining, res.ResetAfter)
		}

		allow(t, b.limiter, "k", oneSecond, 1)
		for range 3 {
			res = allow(t, b.limiter, "k", oneSecond, 0)
		}
		if res.Remaining != 2 {
			t.Errorf("n=0 after one event: Remaining = %d, want 2 (n=0 must consume nothing)", res.Remaining)
		}
	})
}

func TestAllow_keysIndependent(t *testing.T) {
	t.Parallel()
	eachLimiter(t, func(t *testing.T, b backend) {
		allow(t, b.limiter, "user-a", oneSecond, 3)
		if res := allow(t, b.limiter, "user-a", oneSecond, 1); res.Allowed {
			t.Fatal("user-a allowed after spending its burst")
		}

		res := allow(t, b.limiter, "user-b", oneSecond, 1)
		if !res.Allowed || res.Remaining != 2 {
			t.Errorf("user-b: Allowed %v, Remaining %d, want true, 2", res.Allowed, res.Remaining)
		}
	})
}

func TestAllow_concurrentNeverExceedsBurst(t *testing.T) {
	t.Parallel()
	// One event per 72 s refills nothing during the test.
	limit := ratelimit.PerHour(50)
	const goroutines, perGoroutine = 8, 25
	eachLimiter(t, func(t *testing.T, b backend) {
		var (
			allowed atomic.Int64
			wg      sync.WaitGroup
			errs    = make(chan error, goroutines)
		)
		for range goroutines {
			wg.Go(func() {
				for range perGoroutine {
					res, err := b.limiter.Allow(context.Background(), "shared", limit, 1)
					if err != nil {
						errs <- err
						return
					}
					if res.Allowed {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Allow: %v", err)
		}

		if got := allowed.Load(); got != 50 {
			t.Errorf("%d goroutines × %d requests: %d allowed, want exactly the burst of 50", goroutines, perGoroutine, got)
		}
	})
}

func TestAllow_invalidArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		limit ratelimit.Limit
		n     int
		want  error
	}{
		{name: "zero limit", limit: ratelimit.Limit{}, n: 1, want: ratelimit.ErrInvalidLimit},
		{name: "negative rate", limit: ratelimit.Limit{Rate: -1, Period: time.Second, Burst: 1}, n: 1, want: ratelimit.ErrInvalidLimit},
		{name: "zero burst", limit: ratelimit.Limit{Rate: 1, Period: time.Second}, n: 1, want: ratelimit.ErrInvalidLimit},
		{name: "sub-nanosecond interval", limit: ratelimit.Limit{Rate: 2, Period: 1, Burst: 1}, n: 1, want: ratelimit.ErrInvalidLimit},
		{name: "tolerance over 100 years", limit: ratelimit.Limit{Rate: 1, Period: 24 * time.Hour, Burst: 40_000}, n: 1, want: ratelimit.ErrInvalidLimit},
		{name: "negative cost", limit: oneSecond, n: -1, want: ratelimit.ErrInvalidCost},
		{name: "cost above burst", limit: oneSecond, n: 4, want: ratelimit.ErrInvalidCost},
	}
	eachLimiter(t, func(t *testing.T, b backend) {
		for _, tt := range tests {
			_, err := b.limiter.Allow(context.Background(), "k", tt.limit, tt.n)
			if !errors.Is(err, tt.want) {
				t.Errorf("%s: Allow error = %v, want %v", tt.name, err, tt.want)
			}
		}
	})
}

func TestLimit_helpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		got      ratelimit.Limit
		want     ratelimit.Limit
		interval time.Duration
	}{
		{"PerSecond", ratelimit.PerSecond(10), ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 10}, 100 * time.Millisecond},
		{"PerMinute", ratelimit.PerMinute(120), ratelimit.Limit{Rate: 120, Period: time.Minute, Burst: 120}, 500 * time.Millisecond},
		{"PerHour", ratelimit.PerHour(60), ratelimit.Limit{Rate: 60, Period: time.Hour, Burst: 60}, time.Minute},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
		if got := tt.got.EmissionInterval(); got != tt.interval {
			t.Errorf("%s EmissionInterval = %s, want %s", tt.name, got, tt.interval)
		}
		if err := tt.got.Validate(); err != nil {
			t.Errorf("%s Validate: %v", tt.name, err)
		}
	}
	if got, want := ratelimit.PerSecond(10).String(), "10/1s burst 10"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

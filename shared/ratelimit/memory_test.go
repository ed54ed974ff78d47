package ratelimit_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/ratelimit"
)

func TestMemory_keyCapHolds(t *testing.T) {
	t.Parallel()
	const maxKeys = 1000
	m := ratelimit.NewMemory(ratelimit.WithMaxKeys(maxKeys))

	for i := range 20 * maxKeys {
		allow(t, m, "rotating-"+strconv.Itoa(i), ratelimit.PerHour(10), 1)
		if i%1000 == 999 {
			if n := m.Len(); n > maxKeys {
				t.Fatalf("after %d keys: Len = %d, want at most %d", i+1, n, maxKeys)
			}
		}
	}

	// 64 shards of 15 keys each are full after 20,000 keys.
	if n := m.Len(); n < 900 {
		t.Errorf("Len = %d after 20,000 keys, want close to the cap of %d", n, maxKeys)
	}
}

func TestMemory_smallCaps(t *testing.T) {
	t.Parallel()
	for _, maxKeys := range []int{-5, 0, 1, 2, 3, 63, 64, 65, 127} {
		m := ratelimit.NewMemory(ratelimit.WithMaxKeys(maxKeys))
		for i := range 500 {
			allow(t, m, strconv.Itoa(i), ratelimit.PerHour(10), 1)
		}
		if n, limit := m.Len(), max(maxKeys, 1); n > limit {
			t.Errorf("WithMaxKeys(%d): Len = %d, want at most %d", maxKeys, n, limit)
		}
	}
}

func TestMemory_evictionKeepsThrottledKey(t *testing.T) {
	t.Parallel()
	// 512 keys make 64 shards of 8, so every eviction samples the whole
	// shard and must pick the key with the earliest TAT.
	m := ratelimit.NewMemory(ratelimit.WithMaxKeys(512))
	limit := ratelimit.PerHour(3)

	allow(t, m, "throttled", limit, 3)
	for i := range 20_000 {
		allow(t, m, "flood-"+strconv.Itoa(i), limit, 1)
	}

	if res := allow(t, m, "throttled", limit, 1); res.Allowed {
		t.Error("throttled key allowed after a flood of new keys: it was evicted")
	}
}

func TestMemory_sweepDropsFullBuckets(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := ratelimit.NewMemory(ratelimit.WithNow(clock.Now), ratelimit.WithSweepInterval(time.Minute))

	for i := range 500 {
		allow(t, m, "short-"+strconv.Itoa(i), ratelimit.PerSecond(10), 1)
	}
	allow(t, m, "long", ratelimit.PerHour(1), 1)
	if n := m.Len(); n != 501 {
		t.Fatalf("Len = %d after 501 keys, want 501", n)
	}

	clock.Advance(time.Second)
	m.Sweep()
	if n := m.Len(); n != 1 {
		t.Errorf("Len = %d after Sweep, want 1 (only the hourly key is still refilling)", n)
	}
}

func TestMemory_lazySweepWithinAllow(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := ratelimit.NewMemory(ratelimit.WithNow(clock.Now), ratelimit.WithSweepInterval(time.Minute))

	for i := range 500 {
		allow(t, m, "short-"+strconv.Itoa(i), ratelimit.PerSecond(10), 1)
	}
	clock.Advance(30 * time.Second)
	probe := func() {
		// n=0 stores nothing, and 2,000 keys reach all 64 shards (a shard is
		// missed with probability (63/64)^2000, about 2e-14).
		for i := range 2000 {
			allow(t, m, "probe-"+strconv.Itoa(i), ratelimit.PerSecond(10), 0)
		}
	}

	probe()
	if n := m.Len(); n != 500 {
		t.Errorf("Len = %d before the sweep interval passed, want 500", n)
	}
	clock.Advance(31 * time.Second)
	probe()
	if n := m.Len(); n != 0 {
		t.Errorf("Len = %d after the sweep interval, want 0", n)
	}
}

func TestMemory_deniedRequestStoresNothing(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := ratelimit.NewMemory(ratelimit.WithNow(clock.Now))
	limit := ratelimit.PerSecond(1)

	allow(t, m, "k", limit, 1)
	for range 10 {
		allow(t, m, "k", limit, 1)
	}
	clock.Advance(time.Second)
	if res := allow(t, m, "k", limit, 1); !res.Allowed {
		t.Error("denied one period after the only allowed request: denials moved the TAT")
	}
}

func TestMemory_String(t *testing.T) {
	t.Parallel()
	got := ratelimit.NewMemory().String()
	want := "memory limiter: 64 shards of at most 1562 keys, sweep every 1m0s"
	if got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
}

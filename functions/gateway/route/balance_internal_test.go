package route

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPool builds a pool over hosts a, b, c... with the given weights.
func testPool(t testing.TB, balance string, passive *passiveHealth, now func() time.Time, weights ...int) *pool {
	t.Helper()
	var cfg TargetConfig
	cfg.Balance = balance
	for i, w := range weights {
		cfg.Upstreams = append(cfg.Upstreams, UpstreamConfig{URL: fmt.Sprintf("http://%c", 'a'+i), Weight: w})
	}
	if now == nil {
		now = time.Now
	}
	return newPool("test", cfg, passive, now, slog.New(slog.DiscardHandler))
}

// picks returns how often each host was picked in n picks.
func picks(p *pool, n int) map[string]int {
	got := map[string]int{}
	for range n {
		u, _ := p.pick(0)
		if u == nil {
			got["none"]++
			continue
		}
		got[u.url.Host]++
	}
	return got
}

func TestPool_roundRobinEvenOver1000Picks(t *testing.T) {
	t.Parallel()
	p := testPool(t, "", nil, nil, 0, 0, 0, 0)

	got := picks(p, 1000)
	for _, h := range []string{"a", "b", "c", "d"} {
		if got[h] != 250 {
			t.Errorf("picks of %s = %d, want 250 (all: %v)", h, got[h], got)
		}
	}
}

func TestPool_roundRobinConcurrentPicksStayEven(t *testing.T) {
	t.Parallel()
	p := testPool(t, BalanceRoundRobin, nil, nil, 1, 1)

	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			local := picks(p, 100)
			mu.Lock()
			for k, v := range local {
				got[k] += v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if got["a"] != 500 || got["b"] != 500 {
		t.Errorf("picks = %v, want 500 each", got)
	}
}

func TestPool_weightedDistributionOver1000Picks(t *testing.T) {
	t.Parallel()
	p := testPool(t, BalanceWeighted, nil, nil, 5, 3, 2)

	got := picks(p, 1000)
	want := map[string]int{"a": 500, "b": 300, "c": 200}
	for h, w := range want {
		if got[h] != w {
			t.Errorf("picks of %s = %d, want %d (all: %v)", h, got[h], w, got)
		}
	}
}

func TestPool_weightedIsSmooth(t *testing.T) {
	t.Parallel()
	p := testPool(t, BalanceWeighted, nil, nil, 5, 1, 1)

	var seq strings.Builder
	for range 14 {
		u, _ := p.pick(0)
		seq.WriteString(u.url.Host)
	}
	// nginx's smooth weighted round robin gives a a b a c a a for 5, 1, 1.
	if got, want := seq.String(), "aabacaaaabacaa"; got != want {
		t.Errorf("pick sequence = %s, want %s", got, want)
	}
}

func TestPool_pickSkipsTried(t *testing.T) {
	t.Parallel()
	for _, balance := range []string{BalanceRoundRobin, BalanceWeighted} {
		p := testPool(t, balance, nil, nil, 1, 1, 1)
		var tried uint64
		seen := map[string]bool{}
		for range 3 {
			u, i := p.pick(tried)
			if u == nil {
				t.Fatalf("%s: pick returned nil before every upstream was tried", balance)
			}
			tried |= 1 << uint(i)
			seen[u.url.Host] = true
		}
		if len(seen) != 3 {
			t.Errorf("%s: picked %v, want three different upstreams", balance, seen)
		}
		if u, _ := p.pick(tried); u != nil {
			t.Errorf("%s: pick after trying all = %s, want nil", balance, u.url.Host)
		}
	}
}

func TestPool_passiveMarksDownAndRecovers(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	p := testPool(t, BalanceRoundRobin, &passiveHealth{maxFailures: 3, coolDown: 30 * time.Second}, now, 1, 1)
	a := p.upstreams[0]

	// Two failures, a success, two failures: never three in a row.
	for _, ok := range []bool{false, false, true, false, false} {
		p.report(a, ok)
	}
	if got := picks(p, 10); got["a"] != 5 {
		t.Fatalf("after non-consecutive failures picks = %v, want a still in rotation", got)
	}

	p.report(a, false) // third in a row
	if got := picks(p, 10); got["a"] != 0 || got["b"] != 10 {
		t.Fatalf("after 3 consecutive failures picks = %v, want only b", got)
	}

	advance(29 * time.Second)
	if got := picks(p, 4); got["a"] != 0 {
		t.Fatalf("during the cool-down picks = %v, want only b", got)
	}
	advance(time.Second)
	if got := picks(p, 10); got["a"] != 5 {
		t.Errorf("after the cool-down picks = %v, want a back in rotation", got)
	}

	p.report(p.upstreams[1], false)
	p.report(p.upstreams[1], false)
	p.report(p.upstreams[1], false)
	p.report(a, false)
	p.report(a, false)
	p.report(a, false)
	if got := picks(p, 3); got["none"] != 3 {
		t.Errorf("with both down picks = %v, want none", got)
	}
}

package route_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/route"
)

// waitFor polls cond every 5ms until it holds or the deadline passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestActiveHealth_downAndBack(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	healthy.Store(true)
	var probes atomic.Int64
	flaky := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/svc/healthz" {
			probes.Add(1)
			if !healthy.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		}
		w.WriteHeader(http.StatusOK)
	})
	steady := newUpstream(t, textHandler(http.StatusOK, "steady"))

	rt := newRouter(t, upstreamTable(`"health": {"active": {"path": "/healthz", "interval": "20ms", "timeout": "15ms",
	  "healthy_threshold": 2, "unhealthy_threshold": 2}}`, flaky.URL+"/svc", steady.URL), route.Options{})

	// countFlaky sends n requests and returns how many reached flaky.
	countFlaky := func(n int) int64 {
		before := flaky.hits.Load() - probes.Load()
		for range n {
			serve(rt, httptest.NewRequest("GET", "/api/x", nil))
		}
		return flaky.hits.Load() - probes.Load() - before
	}
	if got := countFlaky(10); got != 5 {
		t.Fatalf("healthy: flaky got %d of 10 requests, want 5", got)
	}

	healthy.Store(false)
	waitFor(t, 3*time.Second, "flaky is out of rotation", func() bool { return countFlaky(4) == 0 })
	if got := countFlaky(20); got != 0 {
		t.Fatalf("down: flaky got %d of 20 requests, want 0", got)
	}

	healthy.Store(true)
	waitFor(t, 3*time.Second, "flaky is back in rotation", func() bool { return countFlaky(4) > 0 })

	// Close stops the probes.
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	after := probes.Load()
	time.Sleep(100 * time.Millisecond)
	if got := probes.Load(); got != after {
		t.Errorf("probes after Close = %d, want none (had %d)", got-after, after)
	}
}

func TestActiveHealth_allDownGives503(t *testing.T) {
	t.Parallel()
	down := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	rt := newRouter(t, upstreamTable(`"health": {"active": {"path": "/healthz", "interval": "10ms", "unhealthy_threshold": 1}}`, down.URL), route.Options{})

	waitFor(t, 3*time.Second, "the only upstream is down", func() bool {
		return serve(rt, httptest.NewRequest("GET", "/api/x", nil)).Code == http.StatusServiceUnavailable
	})
	wantError(t, serve(rt, httptest.NewRequest("GET", "/api/x", nil)), http.StatusServiceUnavailable, "UPSTREAM_UNAVAILABLE")
}

func TestPassiveHealth_throughRouter(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }

	var failing atomic.Bool
	failing.Store(true)
	flaky := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	steady := newUpstream(t, textHandler(http.StatusOK, "steady"))
	rt := newRouter(t, upstreamTable(`"health": {"passive": {"max_failures": 2, "cool_down": "10s"}}`, flaky.URL, steady.URL), route.Options{Now: now})

	for range 4 { // flaky fails twice, on requests 1 and 3
		serve(rt, httptest.NewRequest("GET", "/api/x", nil))
	}
	if flaky.hits.Load() != 2 {
		t.Fatalf("flaky hits = %d, want 2", flaky.hits.Load())
	}
	for range 10 {
		serve(rt, httptest.NewRequest("GET", "/api/x", nil))
	}
	if flaky.hits.Load() != 2 {
		t.Fatalf("flaky hits during cool-down = %d, want still 2", flaky.hits.Load())
	}

	failing.Store(false)
	clock.Add(int64(10 * time.Second))
	for range 10 {
		serve(rt, httptest.NewRequest("GET", "/api/x", nil))
	}
	if got := flaky.hits.Load(); got != 7 {
		t.Errorf("flaky hits after cool-down = %d, want 7 (back in rotation)", got)
	}
}

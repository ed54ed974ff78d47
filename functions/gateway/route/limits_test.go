package route_test

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/jingtong/backend/functions/gateway/route"
	"github.com/jingtong/backend/shared/ratelimit"
)

const limitTable = `{"routes": [
  {"name": "zones", "prefix": "/api/zones/zones", "class": "public", "target": {"function": "a"},
   "rate_limits": [
     {"name": "zone-page", "rate": 2, "period": "1m", "by": ["zone"], "zone_pattern": "^/api/zones/zones/(?P<zone>[^/]+)/page$"},
     {"name": "per-ip", "rate": 100, "period": "1m", "by": ["ip"]}
   ]}
]}`

func TestRateLimit_keys(t *testing.T) {
	t.Parallel()
	rt := newRouter(t, limitTable, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}})
	r, _ := rt.Match(httptest.NewRequest("GET", "/api/zones/zones", nil))
	page, ip := r.RateLimits[0], r.RateLimits[1]

	if page.Limit != (ratelimit.Limit{Rate: 2, Period: 60e9, Burst: 2}) {
		t.Errorf("limit = %v, want 2 per minute with burst 2", page.Limit)
	}
	caller := ratelimit.Key{IP: "203.0.113.7", User: "u1"}
	a, okA := page.Key("/api/zones/zones/life-marriage/page", caller)
	b, okB := page.Key("/api/zones/zones/life-housing/page", caller)
	if !okA || !okB || a == b {
		t.Errorf("zone keys = %q, %q; want two different keys", a, b)
	}
	if _, ok := page.Key("/api/zones/zones/life-marriage", caller); ok {
		t.Error("the page limit applied to a path that is not a page")
	}
	if _, ok := ip.Key("/api/zones/zones", ratelimit.Key{}); ok {
		t.Error("the per-IP limit applied without an IP")
	}
	k1, _ := ip.Key("/api/zones/zones/a", caller)
	k2, _ := ip.Key("/api/zones/zones/b", caller)
	if k1 != k2 {
		t.Errorf("per-IP keys differ by path: %q, %q", k1, k2)
	}
}

func TestLimitMiddleware_pageLimitPerZone(t *testing.T) {
	t.Parallel()
	rt := newRouter(t, limitTable, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}})
	limiter := ratelimit.NewMemory()
	h := rt.Handler(route.LimitMiddleware(limiter, func(r *http.Request) ratelimit.Key {
		return ratelimit.Key{IP: "203.0.113.7"}
	}, nil))

	get := func(path string) *httptest.ResponseRecorder {
		return serve(h, httptest.NewRequest("GET", path, nil))
	}
	for range 2 {
		if rec := get("/api/zones/zones/life-marriage/page"); rec.Code != http.StatusOK {
			t.Fatalf("within the limit: status %d", rec.Code)
		}
	}
	rec := get("/api/zones/zones/life-marriage/page")
	wantError(t, rec, http.StatusTooManyRequests, "RATE_LIMITED")
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if rec := get("/api/zones/zones/life-housing/page"); rec.Code != http.StatusOK {
		t.Errorf("another zone: status %d, want 200", rec.Code)
	}
	ok := get("/api/zones/zones/life-housing")
	if ok.Code != http.StatusOK || ok.Header().Get("RateLimit-Policy") == "" {
		t.Errorf("non-page path: status %d, RateLimit-Policy %q; want 200 with the per-IP policy", ok.Code, ok.Header().Get("RateLimit-Policy"))
	}
}

func TestRateLimit_keysStablePastMemo(t *testing.T) {
	t.Parallel()
	rt := newRouter(t, limitTable, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}})
	r, _ := rt.Match(httptest.NewRequest("GET", "/api/zones/zones", nil))
	page := r.RateLimits[0]

	// More paths than the matcher remembers: the first calls fill the
	// memo, the second ones read it or, past its bound, match again.
	const paths = 5000
	first := make(map[string]string, paths)
	for range 2 {
		for i := range paths {
			path := "/api/zones/zones/zone-" + strconv.Itoa(i) + "/page"
			k, ok := page.Key(path, ratelimit.Key{})
			if !ok {
				t.Fatalf("Key(%q) did not apply", path)
			}
			if prev, seen := first[path]; seen && prev != k {
				t.Fatalf("Key(%q) = %q, then %q", path, prev, k)
			}
			first[path] = k
		}
	}
	distinct := map[string]bool{}
	for _, k := range first {
		distinct[k] = true
	}
	if len(distinct) != paths {
		t.Errorf("%d distinct keys for %d zones", len(distinct), paths)
	}
	if _, ok := page.Key("/api/zones/zones//page", ratelimit.Key{}); ok {
		t.Error("the page limit applied to an empty zone id")
	}
}

func TestRateLimit_longZoneIDStillKeyed(t *testing.T) {
	t.Parallel()
	rt := newRouter(t, limitTable, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}})
	r, _ := rt.Match(httptest.NewRequest("GET", "/api/zones/zones", nil))
	page := r.RateLimits[0]

	// A path too long to remember is matched afresh each time, with the
	// same key.
	long := "/api/zones/zones/" + strings.Repeat("z", 1000) + "/page"
	a, okA := page.Key(long, ratelimit.Key{})
	b, okB := page.Key(long, ratelimit.Key{})
	if !okA || !okB || a != b || !strings.Contains(a, strings.Repeat("z", 1000)) {
		t.Errorf("keys for a long zone id = %q (%v), %q (%v); want one key naming the zone", a, okA, b, okB)
	}
}

func TestRateLimit_memoDoesNotPinRequestLine(t *testing.T) {
	rt := newRouter(t, limitTable, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}})
	r, _ := rt.Match(httptest.NewRequest("GET", "/api/zones/zones", nil))
	page := r.RateLimits[0]

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// Each path is a slice of a 512 KiB request line, as net/http's
	// URL.Path can be. Remembering the slice would keep 100 MiB alive.
	for i := range 200 {
		prefix := "/api/zones/zones/zone-" + strconv.Itoa(i) + "/page"
		line := prefix + "?" + strings.Repeat("q", 512<<10)
		if _, ok := page.Key(line[:len(prefix)], ratelimit.Key{}); !ok {
			t.Fatalf("the page limit did not apply to %s", prefix)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 20<<20 {
		t.Errorf("heap grew by %d MiB after 200 remembered paths, want the request lines freed", grown>>20)
	}
}

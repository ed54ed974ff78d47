package ratelimit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jingtong/backend/shared/ratelimit"
)

func TestPolicyField(t *testing.T) {
	t.Parallel()
	decision := func(name string, l ratelimit.Limit) ratelimit.Decision {
		return ratelimit.Decision{Name: name, Result: ratelimit.Result{Limit: l}}
	}
	tests := []struct {
		name      string
		decisions []ratelimit.Decision
		want      string
	}{
		{name: "per minute", decisions: []ratelimit.Decision{decision("api", ratelimit.PerMinute(100))}, want: `"api";q=100;w=60`},
		{
			name:      "burst above rate",
			decisions: []ratelimit.Decision{decision("ip", ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 20})},
			want:      `"ip";q=20;w=2`,
		},
		{
			name:      "window below a second rounds up",
			decisions: []ratelimit.Decision{decision("fast", ratelimit.Limit{Rate: 3, Period: time.Second, Burst: 1})},
			want:      `"fast";q=1;w=1`,
		},
		{
			name:      "fractional window rounds up",
			decisions: []ratelimit.Decision{decision("odd", ratelimit.Limit{Rate: 2, Period: 3 * time.Second, Burst: 3})},
			want:      `"odd";q=3;w=5`,
		},
		{
			name:      "hourly with burst 1",
			decisions: []ratelimit.Decision{decision("sms", ratelimit.Limit{Rate: 5, Period: time.Hour, Burst: 1})},
			want:      `"sms";q=1;w=720`,
		},
		{
			name:      "two policies",
			decisions: []ratelimit.Decision{decision("per-user", ratelimit.PerMinute(20)), decision("per-ip", ratelimit.PerSecond(100))},
			want:      `"per-user";q=20;w=60, "per-ip";q=100;w=1`,
		},
		{
			name:      "name quoted and escaped",
			decisions: []ratelimit.Decision{decision(`a"b\c限`, ratelimit.PerSecond(1))},
			want:      `"a\"b\\c???";q=1;w=1`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ratelimit.PolicyField(tt.decisions...); got != tt.want {
				t.Errorf("PolicyField() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRateLimitField(t *testing.T) {
	t.Parallel()
	five := ratelimit.Limit{Rate: 5, Period: 5 * time.Second, Burst: 5} // one event per second
	tests := []struct {
		name   string
		result ratelimit.Result
		want   string
	}{
		{name: "full bucket has no t", result: ratelimit.Result{Limit: five, Allowed: true, Remaining: 5}, want: `"p";r=5`},
		{name: "next unit in 1s", result: ratelimit.Result{Limit: five, Allowed: true, Remaining: 3, ResetAfter: 2 * time.Second}, want: `"p";r=3;t=1`},
		{
			name:   "next unit in 1.2s rounds up",
			result: ratelimit.Result{Limit: five, Allowed: true, Remaining: 3, ResetAfter: 2200 * time.Millisecond}, want: `"p";r=3;t=2`,
		},
		{name: "empty bucket", result: ratelimit.Result{Limit: five, Allowed: true, Remaining: 0, ResetAfter: 5 * time.Second}, want: `"p";r=0;t=1`},
		{
			name:   "denied uses RetryAfter",
			result: ratelimit.Result{Limit: five, RetryAfter: 1500 * time.Millisecond, ResetAfter: 5 * time.Second}, want: `"p";r=0;t=2`,
		},
		{name: "degraded left out", result: ratelimit.Result{Limit: five, Allowed: true, Degraded: true}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ratelimit.RateLimitField(ratelimit.Decision{Name: "p", Result: tt.result})
			if got != tt.want {
				t.Errorf("RateLimitField() = %s, want %s", got, tt.want)
			}
		})
	}

	// Values computed by the memory limiter itself.
	clock := newFakeClock()
	m := ratelimit.NewMemory(ratelimit.WithNow(clock.Now))
	first := allow(t, m, "k", five, 2)
	clock.Advance(300 * time.Millisecond)
	second := allow(t, m, "k", five, 1)
	got := ratelimit.RateLimitField(
		ratelimit.Decision{Name: "a", Result: first},
		ratelimit.Decision{Name: "skipped", Result: ratelimit.Result{Degraded: true}},
		ratelimit.Decision{Name: "b", Result: second},
	)
	// After 2 events TAT is +2s, so the next unit is due in 1s. 300 ms later
	// one more event leaves TAT at +2.7s: 2 left, the next due in 0.7s.
	if want := `"a";r=3;t=1, "b";r=2;t=1`; got != want {
		t.Errorf("RateLimitField(memory results) = %s, want %s", got, want)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want int64
	}{
		{-time.Second, 1},
		{0, 1},
		{time.Nanosecond, 1},
		{999 * time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{2500 * time.Millisecond, 3},
		{59*time.Second + time.Microsecond, 60},
		{time.Hour, 3600},
	}
	for _, tt := range tests {
		if got := ratelimit.RetryAfterSeconds(tt.in); got != tt.want {
			t.Errorf("RetryAfterSeconds(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSetHeaders(t *testing.T) {
	t.Parallel()
	limit := ratelimit.PerMinute(60)

	h := http.Header{}
	ratelimit.SetHeaders(h)
	if len(h) != 0 {
		t.Errorf("SetHeaders with no decisions set %v, want nothing", h)
	}

	h.Set(ratelimit.HeaderRateLimit, "stale")
	ratelimit.SetHeaders(h, ratelimit.Decision{Name: "p", Result: ratelimit.Result{Limit: limit, Allowed: true, Degraded: true}})
	if got := h.Get(ratelimit.HeaderRateLimitPolicy); got != `"p";q=60;w=60` {
		t.Errorf("degraded: RateLimit-Policy = %q, want %q", got, `"p";q=60;w=60`)
	}
	if got := h.Values(ratelimit.HeaderRateLimit); len(got) != 0 {
		t.Errorf("degraded: RateLimit = %q, want no field", got)
	}
}

// errorBody is the error response shape written by httpx.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("decode error body %q: %v", rec.Body.String(), err)
	}
	return body
}

// keyFromHeaders builds the Key from test headers.
func keyFromHeaders(r *http.Request) ratelimit.Key {
	return ratelimit.Key{Route: r.Method + " " + r.URL.Path, User: r.Header.Get("X-User"), IP: r.Header.Get("X-IP")}
}

func TestMiddleware_allowThenDeny(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	policies := []ratelimit.Policy{
		{Name: "per-ip", Limit: ratelimit.Limit{Rate: 1, Period: time.Second, Burst: 2}, Parts: ratelimit.PartIP},
		{Name: "per-user", Limit: ratelimit.PerMinute(10), Parts: ratelimit.PartUser},
		{Name: "per-route", Limit: ratelimit.PerMinute(100), Parts: ratelimit.PartRoute},
	}
	var served int
	h := ratelimit.Middleware(ratelimit.NewMemory(ratelimit.WithNow(clock.Now)), keyFromHeaders, policies, nil)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served++ }))
	request := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/api/zones", nil)
		r.Header.Set("X-IP", "203.0.113.7") // anonymous: the per-user policy does not apply
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}

	rec := request()
	if rec.Code != http.StatusOK {
		t.Fatalf("first request: status %d, want 200", rec.Code)
	}
	wantHeaders := map[string]string{
		"RateLimit-Policy": `"per-ip";q=2;w=2, "per-route";q=100;w=60`,
		"RateLimit":        `"per-ip";r=1;t=1, "per-route";r=99;t=1`,
		"Retry-After":      "",
	}
	for name, want := range wantHeaders {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("first request: %s = %q, want %q", name, got, want)
		}
	}

	request()
	clock.Advance(200 * time.Millisecond)
	rec = request()
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("third request: status %d, want 429", rec.Code)
	}
	wantHeaders = map[string]string{
		"RateLimit-Policy": `"per-ip";q=2;w=2`,
		"RateLimit":        `"per-ip";r=0;t=1`,
		"Retry-After":      "1",
	}
	for name, want := range wantHeaders {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("third request: %s = %q, want %q", name, got, want)
		}
	}
	if body := decodeError(t, rec); body.Error.Code != "RATE_LIMITED" {
		t.Errorf("third request: error code %q, want RATE_LIMITED", body.Error.Code)
	}
	if served != 2 {
		t.Errorf("handler ran %d times, want 2", served)
	}
}

func TestMiddleware_englishMessage(t *testing.T) {
	t.Parallel()
	policies := []ratelimit.Policy{{Name: "all", Limit: ratelimit.PerHour(1)}}
	h := ratelimit.Middleware(ratelimit.NewMemory(), keyFromHeaders, policies, nil)(http.NotFoundHandler())

	for range 2 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Language", "en")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusTooManyRequests {
			continue
		}
		want := "too many requests; retry in 3600 seconds"
		if got := decodeError(t, rec).Error.Message; got != want {
			t.Errorf("message = %q, want %q", got, want)
		}
		if got := rec.Header().Get("Retry-After"); got != "3600" {
			t.Errorf("Retry-After = %q, want 3600", got)
		}
		return
	}
	t.Fatal("second request within an hourly limit of 1 was not denied")
}

func TestMiddleware_failClosedRedisDown(t *testing.T) {
	t.Parallel()
	limiter := ratelimit.NewRedis(unreachableRedis(t), ratelimit.WithFailureMode(ratelimit.FailClosed))
	policies := []ratelimit.Policy{{Name: "all", Limit: ratelimit.PerSecond(10)}}
	h := ratelimit.Middleware(limiter, keyFromHeaders, policies, nil)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("handler ran while the limiter was down") }))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))

	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	body := decodeError(t, rec)
	if body.Error.Code != "NOT_READY" {
		t.Errorf("error code %q, want NOT_READY", body.Error.Code)
	}
	if strings.Contains(rec.Body.String(), "127.0.0.1") {
		t.Errorf("body %s leaks the Redis address", rec.Body.String())
	}
}

func TestMiddleware_failOpenRedisDown(t *testing.T) {
	t.Parallel()
	limiter := ratelimit.NewRedis(unreachableRedis(t))
	policies := []ratelimit.Policy{{Name: "all", Limit: ratelimit.PerSecond(10)}}
	served := false
	h := ratelimit.Middleware(limiter, keyFromHeaders, policies, nil)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served = true }))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))

	if rec.Code != http.StatusOK || !served {
		t.Fatalf("status %d, served %v, want 200 and served", rec.Code, served)
	}
	if got := rec.Header().Get("RateLimit-Policy"); got != `"all";q=10;w=1` {
		t.Errorf("RateLimit-Policy = %q, want the policy", got)
	}
	if got := rec.Header().Values("RateLimit"); len(got) != 0 {
		t.Errorf("RateLimit = %q, want no field for a degraded result", got)
	}
}

// limiterFunc adapts a function to ratelimit.Limiter.
type limiterFunc func(ctx context.Context, key string, limit ratelimit.Limit, n int) (ratelimit.Result, error)

func (f limiterFunc) Allow(ctx context.Context, key string, limit ratelimit.Limit, n int) (ratelimit.Result, error) {
	return f(ctx, key, limit, n)
}

func TestMiddleware_otherErrorIsInternal(t *testing.T) {
	t.Parallel()
	broken := limiterFunc(func(context.Context, string, ratelimit.Limit, int) (ratelimit.Result, error) {
		return ratelimit.Result{}, errors.New("secret internal detail")
	})
	policies := []ratelimit.Policy{{Name: "all", Limit: ratelimit.PerSecond(10)}}
	h := ratelimit.Middleware(broken, keyFromHeaders, policies, nil)(http.NotFoundHandler())

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))

	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", rec.Code)
	}
	if strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("body %s leaks the internal error", rec.Body.String())
	}
}

func TestMiddleware_panicsOnInvalidPolicy(t *testing.T) {
	t.Parallel()
	defer func() {
		v := recover()
		if msg, _ := v.(string); !strings.HasPrefix(msg, "ratelimit: ") {
			t.Errorf("recovered %v, want a panic starting with \"ratelimit: \"", v)
		}
	}()
	ratelimit.Middleware(ratelimit.NewMemory(), keyFromHeaders, []ratelimit.Policy{{Name: "bad name"}}, nil)
}

// unreachableRedis returns a client for 127.0.0.1:1, where nothing listens,
// so every command fails at once with "connection refused". DialerRetries 1
// makes the first refused dial final, where go-redis would by default dial
// up to 5 times, 100 ms apart.
func unreachableRedis(t testing.TB) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func TestPolicyFieldManyLists(t *testing.T) {
	t.Parallel()
	// More lists than the field cache has slots, read twice, so that slots
	// are shared and replaced; each value must still be the list's own.
	item := func(name string, burst int) string {
		return fmt.Sprintf("%q;q=%d;w=1", name, burst)
	}
	for round := range 2 {
		for i := range 200 {
			a := ratelimit.Decision{Name: "ip", Result: ratelimit.Result{Limit: ratelimit.Limit{Rate: i + 1, Period: time.Second, Burst: i + 1}}}
			b := ratelimit.Decision{Name: "zone-" + strconv.Itoa(i%7), Result: ratelimit.Result{Limit: ratelimit.PerSecond(5)}}
			want := item("ip", i+1) + ", " + item(b.Name, 5)
			if got := ratelimit.PolicyField(a, b); got != want {
				t.Fatalf("round %d, list %d: PolicyField = %q, want %q", round, i, got, want)
			}
		}
	}
}

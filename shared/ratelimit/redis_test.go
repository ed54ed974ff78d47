package ratelimit_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jingtong/backend/shared/ratelimit"
	"github.com/jingtong/backend/shared/store/storetest"
)

// errorLog collects the errors a Redis limiter hands to its error handler.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorLog) handle(_ context.Context, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *errorLog) all() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func TestRedis_failOpenByDefault(t *testing.T) {
	t.Parallel()
	var log errorLog
	r := ratelimit.NewRedis(unreachableRedis(t), ratelimit.WithErrorHandler(log.handle))

	res, err := r.Allow(context.Background(), "k", ratelimit.PerSecond(1), 1)
	if err != nil {
		t.Fatalf("Allow error = %v, want nil in fail-open mode", err)
	}
	if !res.Allowed || !res.Degraded {
		t.Errorf("Allowed %v, Degraded %v, want true, true", res.Allowed, res.Degraded)
	}
	if res.Limit != ratelimit.PerSecond(1) {
		t.Errorf("Limit = %v, want the requested limit", res.Limit)
	}

	errs := log.all()
	if len(errs) != 1 {
		t.Fatalf("error handler got %d errors, want 1", len(errs))
	}
	if !errors.Is(errs[0], ratelimit.ErrUnavailable) {
		t.Errorf("reported error = %v, want ErrUnavailable", errs[0])
	}
	if !strings.Contains(errs[0].Error(), "connection refused") {
		t.Errorf("reported error = %v, want the refused connection as its cause", errs[0])
	}
}

func TestRedis_failClosed(t *testing.T) {
	t.Parallel()
	var log errorLog
	r := ratelimit.NewRedis(unreachableRedis(t),
		ratelimit.WithFailureMode(ratelimit.FailClosed), ratelimit.WithErrorHandler(log.handle))

	res, err := r.Allow(context.Background(), "k", ratelimit.PerSecond(1), 1)
	if !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatalf("Allow error = %v, want ErrUnavailable", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("Allow error = %v, want the *net.OpError cause kept", err)
	}
	if res.Allowed || !res.Degraded {
		t.Errorf("Allowed %v, Degraded %v, want false, true", res.Allowed, res.Degraded)
	}
	if errs := log.all(); len(errs) != 0 {
		t.Errorf("error handler got %v; a returned error must not also be reported", errs)
	}
}

func TestRedis_fallbackDecidesDuringOutage(t *testing.T) {
	t.Parallel()
	for _, mode := range []ratelimit.FailureMode{ratelimit.FailOpen, ratelimit.FailClosed} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			var log errorLog
			r := ratelimit.NewRedis(unreachableRedis(t), ratelimit.WithFailureMode(mode),
				ratelimit.WithFallback(ratelimit.NewMemory()), ratelimit.WithErrorHandler(log.handle))
			limit := ratelimit.PerHour(2)

			var allowed int
			for range 5 {
				res, err := r.Allow(context.Background(), "k", limit, 1)
				if err != nil {
					t.Fatalf("Allow error = %v, want nil while the fallback works", err)
				}
				if !res.Degraded {
					t.Error("fallback result not marked Degraded")
				}
				if res.Allowed {
					allowed++
				}
			}
			if allowed != 2 {
				t.Errorf("%d of 5 allowed, want the fallback's burst of 2", allowed)
			}
			if n := len(log.all()); n != 5 {
				t.Errorf("error handler got %d errors, want one per call (5)", n)
			}
		})
	}
}

func TestRedis_failingFallbackUsesFailureMode(t *testing.T) {
	t.Parallel()
	broken := limiterFunc(func(context.Context, string, ratelimit.Limit, int) (ratelimit.Result, error) {
		return ratelimit.Result{}, errors.New("fallback broken")
	})
	r := ratelimit.NewRedis(unreachableRedis(t), ratelimit.WithFailureMode(ratelimit.FailClosed), ratelimit.WithFallback(broken))

	_, err := r.Allow(context.Background(), "k", ratelimit.PerSecond(1), 1)
	if !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Errorf("Allow error = %v, want ErrUnavailable", err)
	}
	if err == nil || !strings.Contains(err.Error(), "fallback broken") {
		t.Errorf("Allow error = %v, want the fallback's error joined", err)
	}
}

func TestRedis_invalidArgumentsNotFailedOpen(t *testing.T) {
	t.Parallel()
	r := ratelimit.NewRedis(unreachableRedis(t))

	if _, err := r.Allow(context.Background(), "k", ratelimit.Limit{}, 1); !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Errorf("zero limit: error = %v, want ErrInvalidLimit even in fail-open mode", err)
	}
	if _, err := r.Allow(context.Background(), "k", ratelimit.PerSecond(1), 2); !errors.Is(err, ratelimit.ErrInvalidCost) {
		t.Errorf("cost above burst: error = %v, want ErrInvalidCost even in fail-open mode", err)
	}
}

func TestRedis_timeoutBoundsHangingServer(t *testing.T) {
	t.Parallel()
	addr := startSilentServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	var log errorLog
	r := ratelimit.NewRedis(rdb, ratelimit.WithTimeout(50*time.Millisecond), ratelimit.WithErrorHandler(log.handle))

	start := time.Now()
	res, err := r.Allow(context.Background(), "k", ratelimit.PerSecond(1), 1)
	elapsed := time.Since(start)

	if err != nil || !res.Allowed || !res.Degraded {
		t.Errorf("Allow = %+v, %v, want an allowed, degraded result", res, err)
	}
	if elapsed > time.Second {
		t.Errorf("Allow took %s against a server that never answers, want about the 50ms timeout", elapsed)
	}
	errs := log.all()
	if len(errs) != 1 {
		t.Fatalf("error handler got %v, want one error", errs)
	}
	// go-redis turns the context deadline into a socket deadline, so the
	// error is a net.Error timeout rather than context.DeadlineExceeded.
	var netErr net.Error
	timedOut := errors.Is(errs[0], context.DeadlineExceeded) || errors.As(errs[0], &netErr) && netErr.Timeout()
	if !timedOut || !errors.Is(errs[0], ratelimit.ErrUnavailable) {
		t.Errorf("reported error = %v, want ErrUnavailable wrapping a timeout", errs[0])
	}
}

// startSilentServer listens on a loopback port, accepts connections and
// reads from them but never replies, like a Redis server that hangs.
func startSilentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})

	wg.Go(func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				_ = c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
		}
	})
	return ln.Addr().String()
}

func TestRedis_cooldownSkipsRedisAfterFailure(t *testing.T) {
	t.Parallel()
	// go-redis's default dial retries make each real try last the whole
	// 100 ms timeout.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	var log errorLog
	r := ratelimit.NewRedis(rdb, ratelimit.WithErrorHandler(log.handle))
	ctx := context.Background()

	start := time.Now()
	if _, err := r.Allow(ctx, "k", ratelimit.PerSecond(1), 1); err != nil {
		t.Fatalf("first Allow: %v", err)
	}
	first := time.Since(start)

	start = time.Now()
	for range 20 {
		res, err := r.Allow(ctx, "k", ratelimit.PerSecond(1), 1)
		if err != nil || !res.Allowed || !res.Degraded {
			t.Fatalf("Allow during the cooldown = %+v, %v, want an allowed, degraded result", res, err)
		}
	}
	rest := time.Since(start)

	if first < 50*time.Millisecond {
		t.Errorf("first Allow took %s, want about the 100ms timeout (it must have tried Redis)", first)
	}
	if rest > 50*time.Millisecond {
		t.Errorf("20 calls during the cooldown took %s, want them to skip Redis", rest)
	}
	errs := log.all()
	if len(errs) != 21 {
		t.Fatalf("error handler got %d errors, want 21", len(errs))
	}
	last := errs[20]
	if !errors.Is(last, ratelimit.ErrUnavailable) {
		t.Errorf("error during the cooldown = %v, want ErrUnavailable", last)
	}
	if !strings.Contains(last.Error(), "not tried") {
		t.Errorf("error during the cooldown = %v, want it to say Redis was not tried", last)
	}
}

func TestRedis_cooldownEndsAndRecovers(t *testing.T) {
	t.Parallel()
	target := storetest.OpenRedis(t).Options().Addr

	// Reserve a loopback port with nothing listening on it yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	r := ratelimit.NewRedis(rdb, ratelimit.WithPrefix(storetest.RedisPrefix(t, storetest.OpenRedis(t))),
		ratelimit.WithFailureMode(ratelimit.FailClosed), ratelimit.WithFailureCooldown(300*time.Millisecond))
	ctx := context.Background()
	limit := ratelimit.PerSecond(10)

	if _, err := r.Allow(ctx, "k", limit, 1); !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatalf("Allow with nothing listening: error = %v, want ErrUnavailable", err)
	}

	startProxy(t, addr, target) // Redis is reachable from here on
	if _, err := r.Allow(ctx, "k", limit, 1); err == nil || !strings.Contains(err.Error(), "not tried") {
		t.Errorf("Allow during the cooldown: error = %v, want the not-tried error", err)
	}

	time.Sleep(350 * time.Millisecond)
	res, err := r.Allow(ctx, "k", limit, 1)
	if err != nil || !res.Allowed || res.Degraded {
		t.Errorf("Allow after the cooldown = %+v, %v, want a normal allowed result", res, err)
	}
}

// startProxy listens on addr and forwards each connection to target, until
// the test ends.
func startProxy(t *testing.T, addr, target string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})

	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				_ = client.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, client, server)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(server, client) })
			wg.Go(func() { _, _ = io.Copy(client, server) })
		}
	})
}

func TestRedis_keyPrefixAndExpiry(t *testing.T) {
	t.Parallel()
	rdb := storetest.OpenRedis(t)
	prefix := storetest.RedisPrefix(t, rdb)
	r := ratelimit.NewRedis(rdb, ratelimit.WithPrefix(prefix), ratelimit.WithFailureMode(ratelimit.FailClosed))
	ctx := context.Background()

	allow(t, r, "per-user|user=o1", ratelimit.PerMinute(60), 1)

	key := "rate:" + prefix + "per-user|user=o1"
	ttl, err := rdb.TTL(ctx, key).Result()
	if err != nil {
		t.Fatalf("TTL %s: %v", key, err)
	}
	// One event of a 60/min limit refills in 1 s, and redis_rate rounds the
	// expiry up to whole seconds.
	if ttl <= 0 || ttl > time.Second {
		t.Errorf("TTL of %s = %s, want (0, 1s]: the key must expire when its bucket is full", key, ttl)
	}
}

func TestFailureMode_String(t *testing.T) {
	t.Parallel()
	for mode, want := range map[ratelimit.FailureMode]string{
		ratelimit.FailOpen: "fail-open", ratelimit.FailClosed: "fail-closed", 7: "FailureMode(7)",
	} {
		if got := mode.String(); got != want {
			t.Errorf("FailureMode(%d).String() = %q, want %q", int(mode), got, want)
		}
	}
}

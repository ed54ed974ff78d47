package ratelimit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jingtong/backend/shared/ratelimit"
)

// blockingServer serves requests through a Concurrency limiter into a
// handler that waits until release is closed.
type blockingServer struct {
	handler http.Handler
	release chan struct{}
}

func newBlockingServer(c *ratelimit.Concurrency) *blockingServer {
	s := &blockingServer{release: make(chan struct{})}
	s.handler = c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-s.release
	}))
	return s
}

// start serves one request in a new goroutine and returns its recorder,
// readable once the request is done.
func (s *blockingServer) start() (*httptest.ResponseRecorder, <-chan struct{}) {
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	return rec, done
}

func TestConcurrency_shedsBeyondQueue(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := ratelimit.NewConcurrency(2, 1, time.Minute)
		s := newBlockingServer(c)

		_, done1 := s.start()
		_, done2 := s.start()
		queued, done3 := s.start()
		synctest.Wait()
		if c.InFlight() != 2 || c.Waiting() != 1 {
			t.Fatalf("InFlight %d, Waiting %d, want 2 and 1", c.InFlight(), c.Waiting())
		}

		start := time.Now()
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if waited := time.Since(start); waited != 0 {
			t.Errorf("fourth request waited %s, want an immediate answer", waited)
		}
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("fourth request: status %d, want 503", rec.Code)
		}
		if got := rec.Header().Get("Retry-After"); got != "1" {
			t.Errorf("fourth request: Retry-After = %q, want 1", got)
		}
		if body := decodeError(t, rec); body.Error.Code != "OVERLOADED" {
			t.Errorf("fourth request: error code %q, want OVERLOADED", body.Error.Code)
		}
		if c.Shed() != 1 {
			t.Errorf("Shed = %d, want 1", c.Shed())
		}

		close(s.release)
		<-done1
		<-done2
		<-done3
		if queued.Code != http.StatusOK {
			t.Errorf("queued request: status %d, want 200", queued.Code)
		}
		if c.InFlight() != 0 || c.Waiting() != 0 {
			t.Errorf("after all requests: InFlight %d, Waiting %d, want 0 and 0", c.InFlight(), c.Waiting())
		}
	})
}

func TestConcurrency_queuedRequestTakesFreedSlot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := ratelimit.NewConcurrency(1, 1, time.Minute)
		running := make(chan struct{})
		finish := make(chan struct{})
		first := true
		h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if first {
				first = false
				close(running)
				<-finish
			}
		}))

		done1 := make(chan struct{})
		go func() {
			defer close(done1)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		}()
		<-running

		rec := httptest.NewRecorder()
		done2 := make(chan struct{})
		start := time.Now()
		go func() {
			defer close(done2)
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		}()
		synctest.Wait()
		if c.Waiting() != 1 {
			t.Fatalf("Waiting = %d, want the second request queued", c.Waiting())
		}

		time.Sleep(10 * time.Second)
		close(finish)
		<-done1
		<-done2
		if rec.Code != http.StatusOK {
			t.Errorf("queued request: status %d, want 200", rec.Code)
		}
		if waited := time.Since(start); waited != 10*time.Second {
			t.Errorf("queued request finished after %s, want 10s, when the slot was freed", waited)
		}
	})
}

func TestConcurrency_maxWaitSheds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := ratelimit.NewConcurrency(1, 1, 250*time.Millisecond, ratelimit.WithShedRetryAfter(1500*time.Millisecond))
		s := newBlockingServer(c)
		_, done1 := s.start()
		synctest.Wait()

		start := time.Now()
		rec := httptest.NewRecorder()
		s.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))

		if waited := time.Since(start); waited != 250*time.Millisecond {
			t.Errorf("queued request shed after %s, want maxWait 250ms", waited)
		}
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", rec.Code)
		}
		if got := rec.Header().Get("Retry-After"); got != "2" {
			t.Errorf("Retry-After = %q, want 2 (1.5s rounded up)", got)
		}
		if c.Waiting() != 0 {
			t.Errorf("Waiting = %d after the shed, want 0", c.Waiting())
		}

		close(s.release)
		<-done1
	})
}

func TestConcurrency_zeroQueueShedsAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := ratelimit.NewConcurrency(1, 0, time.Minute)
		if err := c.Acquire(context.Background()); err != nil {
			t.Fatalf("first Acquire: %v", err)
		}
		start := time.Now()
		if err := c.Acquire(context.Background()); !errors.Is(err, ratelimit.ErrShed) {
			t.Errorf("second Acquire = %v, want ErrShed", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("second Acquire waited %s, want 0", waited)
		}
		c.Release()
		if err := c.Acquire(context.Background()); err != nil {
			t.Errorf("Acquire after Release: %v", err)
		}
	})
}

func TestConcurrency_contextEndsWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := ratelimit.NewConcurrency(1, 1, time.Minute)
		if err := c.Acquire(context.Background()); err != nil {
			t.Fatalf("first Acquire: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()

		err := c.Acquire(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Acquire with an expiring context = %v, want context.DeadlineExceeded", err)
		}
		if c.Shed() != 0 || c.Waiting() != 0 {
			t.Errorf("Shed %d, Waiting %d, want 0 and 0: a departed caller is not shed", c.Shed(), c.Waiting())
		}
	})
}

func TestConcurrency_releaseAfterPanic(t *testing.T) {
	t.Parallel()
	c := ratelimit.NewConcurrency(1, 0, 0)
	h := c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("handler failed") }))

	func() {
		defer func() { _ = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}()
	if c.InFlight() != 0 {
		t.Errorf("InFlight = %d after a panicking handler, want 0", c.InFlight())
	}
}

func TestConcurrency_overloadGetsFast503s(t *testing.T) {
	t.Parallel()
	const handlerTime = 500 * time.Millisecond
	c := ratelimit.NewConcurrency(2, 2, 50*time.Millisecond)
	srv := httptest.NewServer(c.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(handlerTime)
	})))
	t.Cleanup(srv.Close)

	type outcome struct {
		status  int
		elapsed time.Duration
		err     error
	}
	outcomes := make(chan outcome, 20)
	for range 20 {
		go func() {
			start := time.Now()
			resp, err := srv.Client().Get(srv.URL)
			if err != nil {
				outcomes <- outcome{err: err}
				return
			}
			_ = resp.Body.Close()
			outcomes <- outcome{status: resp.StatusCode, elapsed: time.Since(start)}
		}()
	}

	counts := map[int]int{}
	for range 20 {
		o := <-outcomes
		if o.err != nil {
			t.Fatalf("GET: %v", o.err)
		}
		counts[o.status]++
		if o.status == http.StatusServiceUnavailable && o.elapsed >= handlerTime {
			t.Errorf("a shed request took %s, want a 503 before the %s a served request takes", o.elapsed, handlerTime)
		}
	}
	if counts[http.StatusOK] != 2 || counts[http.StatusServiceUnavailable] != 18 {
		t.Errorf("statuses %v, want 2 × 200 and 18 × 503", counts)
	}
}

func TestConcurrency_releaseWithoutAcquirePanics(t *testing.T) {
	t.Parallel()
	c := ratelimit.NewConcurrency(2, 0, 0)
	defer func() {
		msg, _ := recover().(string)
		if !strings.HasPrefix(msg, "ratelimit: Concurrency.Release") {
			t.Errorf("recovered %q, want a ratelimit: Concurrency.Release panic", msg)
		}
	}()
	c.Release()
}

func TestNewConcurrency_panicsOnInvalidArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		limit   int
		queue   int
		maxWait time.Duration
	}{
		{"zero limit", 0, 1, time.Second},
		{"negative queue", 1, -1, time.Second},
		{"negative maxWait", 1, 1, -time.Second},
	}
	for _, tt := range tests {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "ratelimit: NewConcurrency") {
					t.Errorf("%s: recovered %q, want a ratelimit: NewConcurrency panic", tt.name, msg)
				}
			}()
			ratelimit.NewConcurrency(tt.limit, tt.queue, tt.maxWait)
		}()
	}
}

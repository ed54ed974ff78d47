package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/triggers/queue"
)

func TestStop_waitsForMessageInProgress(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		started := make(chan struct{}, 1)
		finished := make(chan error, 1)
		c := newCollector()
		handle := func(ctx context.Context, msg fn.Message) error {
			if msg.ID != "slow" {
				return c.handle(ctx, msg)
			}
			started <- struct{}{}
			select {
			case <-time.After(300 * time.Millisecond):
				finished <- nil
				return nil
			case <-ctx.Done():
				finished <- ctx.Err()
				return ctx.Err()
			}
		}
		funcs := []*fn.Function{function("search", fn.Consumer{Subject: "zones.published", Handle: handle})}
		r, err := queue.NewRunner(h.backend, funcs, queue.RunnerOptions{Policy: testPolicy()})
		if err != nil {
			t.Fatalf("NewRunner: %v", err)
		}
		if err := r.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		publish(t, h.backend, "zones.published", "x", queue.PublishOptions{ID: "slow"})
		<-started

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Stop(ctx); err != nil {
			t.Fatalf("Stop = %v, want nil", err)
		}
		select {
		case err := <-finished:
			if err != nil {
				t.Errorf("consumer in progress ended with %v, want it to finish", err)
			}
		default:
			t.Errorf("Stop returned before the consumer in progress finished")
		}
		waitFor(t, "the finished message to be acknowledged", func() bool { return h.pending(t, "search_zones_published") == 0 })

		// Nothing is delivered while stopped; the next start delivers it.
		publish(t, h.backend, "zones.published", "after", queue.PublishOptions{ID: "after-stop"})
		c.none(t, 300*time.Millisecond)
		startRunner(t, h.backend, funcs, queue.RunnerOptions{Policy: testPolicy()})
		if msg := c.next(t); msg.ID != "after-stop" {
			t.Errorf("message after restart = %q, want after-stop", msg.ID)
		}
	})
}

func TestStop_idleReturnsPromptly(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		c := newCollector()
		funcs := []*fn.Function{function("search", fn.Consumer{Subject: "zones.published", Handle: c.handle})}
		r, err := queue.NewRunner(h.backend, funcs, queue.RunnerOptions{Policy: testPolicy()})
		if err != nil {
			t.Fatalf("NewRunner: %v", err)
		}
		if err := r.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := r.Start(context.Background()); err == nil {
			t.Errorf("second Start succeeded, want an error")
		}

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		begin := time.Now()
		if err := r.Stop(ctx); err != nil {
			t.Fatalf("Stop = %v, want nil", err)
		}
		if took := time.Since(begin); took > time.Second {
			t.Errorf("Stop of an idle runner took %s, want under 1s", took)
		}
		if err := r.Stop(ctx); err != nil {
			t.Errorf("second Stop = %v, want nil", err)
		}
	})
}

func TestNewRunner_rejectsInvalidConsumers(t *testing.T) {
	ok := func(context.Context, fn.Message) error { return nil }
	tests := []struct {
		name   string
		funcs  []*fn.Function
		policy queue.Policy
		want   string
	}{
		{
			name:  "invalid subject",
			funcs: []*fn.Function{function("search", fn.Consumer{Subject: "zones.>", Handle: ok})},
			want:  "subject",
		},
		{
			name:  "missing handler",
			funcs: []*fn.Function{function("search", fn.Consumer{Subject: "zones.published"})},
			want:  "no Handle",
		},
		{
			name:  "invalid function name",
			funcs: []*fn.Function{function("Search_1", fn.Consumer{Subject: "zones.published", Handle: ok})},
			want:  "function name",
		},
		{
			name:  "nil function",
			funcs: []*fn.Function{nil},
			want:  "nil function",
		},
		{
			name: "names collide",
			funcs: []*fn.Function{function("search",
				fn.Consumer{Subject: "zones.published", Handle: ok},
				fn.Consumer{Subject: "zones_published", Handle: ok})},
			want: "two consumers",
		},
		{
			name:   "negative attempts",
			funcs:  []*fn.Function{function("search", fn.Consumer{Subject: "zones.published", Handle: ok})},
			policy: queue.Policy{Attempts: -1},
			want:   "attempts",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := queue.NewRunner(queue.NewMemory(queue.MemoryOptions{}), tt.funcs, queue.RunnerOptions{Policy: tt.policy})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRunner error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestMemory_publishWaitsForRoom(t *testing.T) {
	m := queue.NewMemory(queue.MemoryOptions{Capacity: 2, PublishWait: 200 * time.Millisecond})
	ctx := context.Background()
	for _, id := range []string{"m1", "m2"} {
		if err := m.Publish(ctx, "zones.published", nil, queue.PublishOptions{ID: id}); err != nil {
			t.Fatalf("Publish(%s) = %v", id, err)
		}
	}

	begin := time.Now()
	err := m.Publish(ctx, "zones.published", nil, queue.PublishOptions{ID: "m3"})
	if !errors.Is(err, queue.ErrFull) {
		t.Fatalf("Publish into a full queue = %v, want ErrFull", err)
	}
	if took := time.Since(begin); took < 200*time.Millisecond {
		t.Errorf("Publish into a full queue gave up after %s, want at least 200ms", took)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := m.Publish(cctx, "zones.published", nil, queue.PublishOptions{ID: "m3"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Publish with a cancelled context into a full queue = %v, want context.Canceled", err)
	}

	// A publisher waiting for room gets it when the consumer drains the
	// backlog.
	release := make(chan struct{})
	c := newCollector()
	handle := func(ctx context.Context, msg fn.Message) error {
		<-release
		return c.handle(ctx, msg)
	}
	waiting := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		waiting <- m.Publish(wctx, "zones.published", nil, queue.PublishOptions{ID: "m3"})
	}()
	startRunner(t, m, []*fn.Function{function("search", fn.Consumer{Subject: "zones.published", Handle: handle})},
		queue.RunnerOptions{Policy: testPolicy()})
	close(release)
	if err := <-waiting; err != nil {
		t.Errorf("waiting Publish = %v, want nil once room is freed", err)
	}
	for _, want := range []string{"m1", "m2", "m3"} {
		if msg := c.next(t); msg.ID != want {
			t.Errorf("message = %q, want %q", msg.ID, want)
		}
	}
}

func TestMemory_publishWaitsForBusyConsumer(t *testing.T) {
	m := queue.NewMemory(queue.MemoryOptions{Capacity: 2, PublishWait: 100 * time.Millisecond})
	release := make(chan struct{})
	c := newCollector()
	handle := func(ctx context.Context, msg fn.Message) error {
		<-release
		return c.handle(ctx, msg)
	}
	startRunner(t, m, []*fn.Function{function("search", fn.Consumer{Subject: "zones.published", Handle: handle})},
		queue.RunnerOptions{Policy: testPolicy()})

	// One message in progress and one waiting fill the consumer.
	publish(t, m, "zones.published", "", queue.PublishOptions{ID: "m1"})
	publish(t, m, "zones.published", "", queue.PublishOptions{ID: "m2"})
	err := m.Publish(context.Background(), "zones.published", nil, queue.PublishOptions{ID: "m3"})
	if !errors.Is(err, queue.ErrFull) {
		t.Errorf("Publish to a consumer holding Capacity messages = %v, want ErrFull", err)
	}

	close(release)
	for _, want := range []string{"m1", "m2"} {
		if msg := c.next(t); msg.ID != want {
			t.Errorf("message = %q, want %q", msg.ID, want)
		}
	}
	publish(t, m, "zones.published", "", queue.PublishOptions{ID: "m3"})
	if msg := c.next(t); msg.ID != "m3" {
		t.Errorf("message after the consumer caught up = %q, want m3", msg.ID)
	}
}

func TestMemory_closedRejectsPublish(t *testing.T) {
	m := queue.NewMemory(queue.MemoryOptions{})
	if err := m.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := m.Publish(context.Background(), "zones.published", nil, queue.PublishOptions{}); !errors.Is(err, queue.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

func TestNATS_ackWaitMustCoverPrefetch(t *testing.T) {
	h := newNATSHarness(t, harnessOptions{})
	policy := queue.Policy{HandlerTimeout: time.Second, AckWait: 3 * time.Second, Concurrency: 1, Prefetch: 4}
	funcs := []*fn.Function{function("search", fn.Consumer{Subject: "zones.published", Handle: newCollector().handle})}
	r, err := queue.NewRunner(h.backend, funcs, queue.RunnerOptions{Policy: policy})
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	err = r.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "ack wait") {
		t.Errorf("Start with ack wait 3s, handler timeout 1s and prefetch 4 = %v, want an ack wait error", err)
	}
}

func TestNATS_existingStreamMustStorePrefix(t *testing.T) {
	url := natsURL(t)
	js := natsAdmin(t, url)
	opts := testNATSOptions(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if _, err := queue.NewNATS(url, queue.NATSOptions{Stream: opts.Stream, SubjectPrefix: opts.SubjectPrefix, SkipStreamSetup: true}); err == nil {
		t.Errorf("NewNATS with SkipStreamSetup and no stream succeeded, want an error")
	}

	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: opts.Stream, Subjects: []string{"other" + opts.SubjectPrefix + ".>"}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), opts.Stream) })

	_, err = queue.NewNATS(url, opts)
	if err == nil || !strings.Contains(err.Error(), opts.SubjectPrefix+".>") {
		t.Errorf("NewNATS on a stream with other subjects = %v, want an error naming %s.>", err, opts.SubjectPrefix)
	}
}

func TestNATS_createsStreamOnce(t *testing.T) {
	url := natsURL(t)
	js := natsAdmin(t, url)
	opts := testNATSOptions(t)
	opts.MaxAge = time.Hour
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), opts.Stream) })

	for i := range 2 {
		n, err := queue.NewNATS(url, opts)
		if err != nil {
			t.Fatalf("NewNATS #%d: %v", i+1, err)
		}
		_ = n.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, opts.Stream)
	if err != nil {
		t.Fatalf("look up stream: %v", err)
	}
	cfg := s.CachedInfo().Config
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != opts.SubjectPrefix+".>" {
		t.Errorf("stream subjects = %q, want [%s.>]", cfg.Subjects, opts.SubjectPrefix)
	}
	if cfg.MaxAge != time.Hour || cfg.Duplicates != queue.DefaultDuplicateWindow {
		t.Errorf("stream max age %s and duplicate window %s, want 1h and %s", cfg.MaxAge, cfg.Duplicates, queue.DefaultDuplicateWindow)
	}
}

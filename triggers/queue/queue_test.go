package queue_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/triggers/queue"
)

func TestPublish_rejectsInvalidMessages(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		tests := []struct {
			name    string
			subject string
			data    []byte
			opts    queue.PublishOptions
		}{
			{name: "empty subject", subject: ""},
			{name: "wildcard subject", subject: "zones.*"},
			{name: "empty token", subject: "zones..published"},
			{name: "space in subject", subject: "zones published"},
			{name: "subject too long", subject: strings.Repeat("a", queue.MaxSubjectLength+1)},
			{name: "dead-letter subject", subject: "dlq.zones.published"},
			{name: "ID too long", subject: "zones.published", opts: queue.PublishOptions{ID: strings.Repeat("x", queue.MaxIDLength+1)}},
			{name: "ID with newline", subject: "zones.published", opts: queue.PublishOptions{ID: "a\nb"}},
			{name: "ID not UTF-8", subject: "zones.published", opts: queue.PublishOptions{ID: "\xff"}},
			{name: "NATS header", subject: "zones.published", opts: queue.PublishOptions{Header: http.Header{"Nats-Expected-Stream": {"X"}}}},
			{name: "dead-letter header", subject: "zones.published", opts: queue.PublishOptions{Header: http.Header{"Jt-Dlq-Reason": {"x"}}}},
			{name: "payload too large", subject: "zones.published", data: make([]byte, queue.DefaultMaxPayload+1)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := h.backend.Publish(context.Background(), tt.subject, tt.data, tt.opts)
				if !errors.Is(err, queue.ErrInvalidMessage) {
					t.Errorf("Publish error = %v, want ErrInvalidMessage", err)
				}
			})
		}
	})
}

func TestDelivery_messageReachesEveryConsumer(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		search, audit := newCollector(), newCollector()
		startRunner(t, h.backend, []*fn.Function{
			function("search", fn.Consumer{Subject: "zones.published", Handle: search.handle}),
			function("audit", fn.Consumer{Subject: "zones.published", Handle: audit.handle}),
		}, queue.RunnerOptions{Policy: testPolicy()})

		header := http.Header{"X-Trace": {"trace-1"}}
		for _, id := range []string{"m1", "m2", "m3"} {
			publish(t, h.backend, "zones.published", "data-"+id, queue.PublishOptions{ID: id, Header: header})
		}

		for _, c := range []*collector{search, audit} {
			for _, id := range []string{"m1", "m2", "m3"} {
				msg := c.next(t)
				if msg.ID != id {
					t.Errorf("message ID = %q, want %q", msg.ID, id)
				}
				if msg.Subject != "zones.published" {
					t.Errorf("subject = %q, want zones.published", msg.Subject)
				}
				if string(msg.Data) != "data-"+id {
					t.Errorf("data = %q, want %q", msg.Data, "data-"+id)
				}
				if got := msg.Header.Get("X-Trace"); got != "trace-1" {
					t.Errorf("X-Trace header = %q, want trace-1", got)
				}
				if got := msg.Header.Get("Nats-Msg-Id"); got != "" {
					t.Errorf("Nats-Msg-Id header reached the consumer: %q", got)
				}
			}
		}
	})
}

func TestDelivery_emptyIDGetsRandomOne(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		c := newCollector()
		startRunner(t, h.backend, []*fn.Function{
			function("search", fn.Consumer{Subject: "zones.published", Handle: c.handle}),
		}, queue.RunnerOptions{Policy: testPolicy()})

		publish(t, h.backend, "zones.published", "a", queue.PublishOptions{})
		publish(t, h.backend, "zones.published", "a", queue.PublishOptions{})

		first, second := c.next(t), c.next(t)
		if first.ID == "" || first.ID == second.ID {
			t.Errorf("IDs = %q and %q, want two different non-empty IDs", first.ID, second.ID)
		}
	})
}

func TestDelivery_duplicateIDDropped(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		c := newCollector()
		// The store would hide a duplicate from the consumer; counting its
		// hits shows whether the transport delivered one.
		st := &countingStore{Store: queue.NewMemoryStore(0)}
		startRunner(t, h.backend, []*fn.Function{
			function("search", fn.Consumer{Subject: "zones.published", Handle: c.handle}),
		}, queue.RunnerOptions{Policy: testPolicy(), Store: st})

		publish(t, h.backend, "zones.published", "first", queue.PublishOptions{ID: "same"})
		publish(t, h.backend, "zones.published", "second", queue.PublishOptions{ID: "same"})
		publish(t, h.backend, "zones.published", "marker", queue.PublishOptions{ID: "marker"})

		// One consumer with concurrency 1 gets messages in order, so a
		// delivered duplicate would arrive before the marker.
		if msg := c.next(t); string(msg.Data) != "first" {
			t.Errorf("first message data = %q, want first", msg.Data)
		}
		if msg := c.next(t); msg.ID != "marker" {
			t.Errorf("second message = %q (%q), want the marker", msg.ID, msg.Data)
		}
		if n := st.duplicates.Load(); n != 0 {
			t.Errorf("store caught %d duplicates, want 0: publish should have dropped it", n)
		}
	})
}

func TestRetry_backoffBetweenAttempts(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		policy := testPolicy()
		policy.Attempts = 3
		policy.Backoff = []time.Duration{150 * time.Millisecond, 400 * time.Millisecond}

		var seen attempts
		done := make(chan struct{})
		handle := func(ctx context.Context, _ fn.Message) error {
			if seen.add(ctx) < 3 {
				return errTransient
			}
			close(done)
			return nil
		}
		startRunner(t, h.backend, []*fn.Function{
			function("search", fn.Consumer{Subject: "zones.published", Handle: handle}),
		}, queue.RunnerOptions{Policy: policy})
		publish(t, h.backend, "zones.published", "x", queue.PublishOptions{ID: "m1"})

		select {
		case <-done:
		case <-time.After(waitTimeout):
			times, nums := seen.snapshot()
			t.Fatalf("third attempt did not happen within %s: attempts %v at %v", waitTimeout, nums, times)
		}
		times, nums := seen.snapshot()
		for i, want := range []int{1, 2, 3} {
			if nums[i] != want {
				t.Errorf("attempt %d reported Delivery.Attempt %d", want, nums[i])
			}
		}
		for i, want := range policy.Backoff {
			// Allow 10% early for timer and server scheduling.
			if gap := times[i+1].Sub(times[i]); gap < want*9/10 {
				t.Errorf("gap before attempt %d = %s, want at least %s", i+2, gap, want)
			}
		}
		waitFor(t, "the message to be acknowledged", func() bool { return h.pending(t, "search_zones_published") == 0 })
	})
}

// deadLetters returns a collector of the dead letters of subject.
func deadLetters(subject string) (*collector, *fn.Function) {
	c := newCollector()
	return c, function("ops", fn.Consumer{Subject: queue.DeadLetterPrefix + subject, Handle: c.handle})
}

func TestDeadLetter_afterLastAttempt(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		var seen attempts
		handle := func(ctx context.Context, _ fn.Message) error {
			seen.add(ctx)
			return errTransient
		}
		dead, ops := deadLetters("zones.published")
		startRunner(t, h.backend, []*fn.Function{
			function("search", fn.Consumer{Subject: "zones.published", Handle: handle}),
			ops,
		}, queue.RunnerOptions{Policy: testPolicy()})
		publish(t, h.backend, "zones.published", "payload", queue.PublishOptions{ID: "m1", Header: http.Header{"X-Trace": {"t1"}}})

		msg := dead.next(t)
		checks := []struct{ name, got, want string }{
			{"subject", msg.Subject, "dlq.zones.published"},
			{"ID", msg.ID, "dlq:search_zones_published:m1"},
			{"data", string(msg.Data), "payload"},
			{queue.HeaderDeadReason, msg.Header.Get(queue.HeaderDeadReason), errTransient.Error()},
			{queue.HeaderDeadAttempts, msg.Header.Get(queue.HeaderDeadAttempts), "3"},
			{queue.HeaderDeadSubject, msg.Header.Get(queue.HeaderDeadSubject), "zones.published"},
			{queue.HeaderDeadConsumer, msg.Header.Get(queue.HeaderDeadConsumer), "search_zones_published"},
			{queue.HeaderDeadMessageID, msg.Header.Get(queue.HeaderDeadMessageID), "m1"},
			{"X-Trace", msg.Header.Get("X-Trace"), "t1"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("dead letter %s = %q, want %q", c.name, c.got, c.want)
			}
		}

		dead.none(t, 300*time.Millisecond)
		if n := seen.count(); n != 3 {
			t.Errorf("consumer called %d times, want 3", n)
		}
		waitFor(t, "the message to be settled", func() bool { return h.pending(t, "search_zones_published") == 0 })
		if h.deliveries != nil {
			if n := h.deliveries(t, "search_zones_published"); n != 3 {
				t.Errorf("JetStream deliveries = %d, want 3: a dead-lettered message is terminated", n)
			}
		}
	})
}

func TestDeadLetter_permanentErrorAtOnce(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		var seen attempts
		handle := func(ctx context.Context, _ fn.Message) error {
			seen.add(ctx)
			return queue.Permanent(errors.New("payload is not JSON"))
		}
		dead, ops := deadLetters("zones.published")
		startRunner(t, h.backend, []*fn.Function{
			function("search", fn.Consumer{Subject: "zones.published", Handle: handle}),
			ops,
		}, queue.RunnerOptions{Policy: testPolicy()})
		publish(t, h.backend, "zones.published", "{", queue.PublishOptions{ID: "m1"})

		msg := dead.next(t)
		if got := msg.Header.Get(queue.HeaderDeadAttempts); got != "1" {
			t.Errorf("dead letter attempts = %q, want 1", got)
		}
		if got := msg.Header.Get(queue.HeaderDeadReason); !strings.Contains(got, "payload is not JSON") {
			t.Errorf("dead letter reason = %q, want it to contain the consumer's error", got)
		}
		dead.none(t, 300*time.Millisecond)
		if n := seen.count(); n != 1 {
			t.Errorf("consumer called %d times, want 1", n)
		}
	})
}

func TestDeadLetter_poisonMessageWithoutID(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		if h.rawPublish == nil {
			t.Skip("the in-process queue cannot hold a message without an ID")
		}
		var seen attempts
		handle := func(ctx context.Context, _ fn.Message) error {
			seen.add(ctx)
			return nil
		}
		dead, ops := deadLetters("zones.published")
		startRunner(t, h.backend, []*fn.Function{
			function("search", fn.Consumer{Subject: "zones.published", Handle: handle}),
			ops,
		}, queue.RunnerOptions{Policy: testPolicy()})
		h.rawPublish(t, &nats.Msg{Subject: "zones.published", Data: []byte("raw")})

		msg := dead.next(t)
		if got := msg.Header.Get(queue.HeaderDeadReason); !strings.Contains(got, "Nats-Msg-Id") {
			t.Errorf("dead letter reason = %q, want it to name Nats-Msg-Id", got)
		}
		if got := msg.Header.Get(queue.HeaderDeadAttempts); got != "1" {
			t.Errorf("dead letter attempts = %q, want 1", got)
		}
		if n := seen.count(); n != 0 {
			t.Errorf("consumer called %d times for a poison message, want 0", n)
		}
	})
}

func TestRetry_panicCountsAsFailure(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		var seen attempts
		done := make(chan struct{})
		handle := func(ctx context.Context, _ fn.Message) error {
			if seen.add(ctx) == 1 {
				panic("nil map")
			}
			close(done)
			return nil
		}
		startRunner(t, h.backend, []*fn.Function{
			function("search", fn.Consumer{Subject: "zones.published", Handle: handle}),
		}, queue.RunnerOptions{Policy: testPolicy()})
		publish(t, h.backend, "zones.published", "x", queue.PublishOptions{ID: "m1"})

		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Fatalf("no second attempt after a panic within %s", waitTimeout)
		}
	})
}

func TestRetry_handlerTimeoutCancelsContext(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		policy := testPolicy()
		policy.Attempts = 1
		handle := func(ctx context.Context, _ fn.Message) error {
			<-ctx.Done()
			return ctx.Err()
		}
		dead, ops := deadLetters("zones.published")
		startRunner(t, h.backend, []*fn.Function{
			function("search", fn.Consumer{Subject: "zones.published", Handle: handle}),
			ops,
		}, queue.RunnerOptions{Policy: policy})
		publish(t, h.backend, "zones.published", "x", queue.PublishOptions{ID: "m1"})

		msg := dead.next(t)
		if got := msg.Header.Get(queue.HeaderDeadReason); got != context.DeadlineExceeded.Error() {
			t.Errorf("dead letter reason = %q, want %q", got, context.DeadlineExceeded.Error())
		}
	})
}

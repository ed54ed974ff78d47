package queue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/triggers/queue"
)

// natsURLVar names the environment variable with the URL of a NATS server
// with JetStream for tests, such as nats://127.0.0.1:4222.
const natsURLVar = "JT_TEST_NATS_URL"

// waitTimeout bounds every wait for a message or a condition.
const waitTimeout = 10 * time.Second

// testPolicy returns a policy with timings short enough for tests: three
// attempts, 50 ms then 100 ms between them, and an ack wait of 2 s, which
// is also how long NATS takes to redeliver after a crash.
func testPolicy() queue.Policy {
	return queue.Policy{
		Attempts:       3,
		Backoff:        []time.Duration{50 * time.Millisecond, 100 * time.Millisecond},
		HandlerTimeout: 500 * time.Millisecond,
		AckWait:        2 * time.Second,
	}
}

// harness is one backend under test.
type harness struct {
	backend queue.Backend
	// restart returns a backend on the same queue, as a new process would
	// open it: a new NATS connection, or the same in-process queue.
	restart func(t *testing.T) queue.Backend
	// crash cuts b off without settling the messages it holds, as when its
	// process dies. The in-process queue has nothing to cut.
	crash func(t *testing.T, b queue.Backend)
	// pending returns how many messages of the consumer are not settled.
	pending func(t *testing.T, consumer string) int
	// rawPublish publishes a message that bypasses Publish's checks; nil
	// for the in-process queue, which has no such path.
	rawPublish func(t *testing.T, msg *nats.Msg)
	// deliveries returns how many deliveries JetStream made to the
	// consumer, redeliveries included; nil for the in-process queue.
	deliveries func(t *testing.T, consumer string) int
}

type harnessOptions struct {
	// duplicateWindow is the de-duplication window; zero keeps the default.
	duplicateWindow time.Duration
}

// eachBackend runs test on the in-process queue and, when JT_TEST_NATS_URL
// is set, on a fresh JetStream stream of its own. Without the variable the
// NATS subtest is skipped with the reason.
func eachBackend(t *testing.T, opts harnessOptions, test func(t *testing.T, h *harness)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		test(t, newMemoryHarness(t, opts))
	})
	t.Run("nats", func(t *testing.T) {
		test(t, newNATSHarness(t, opts))
	})
}

func newMemoryHarness(t *testing.T, opts harnessOptions) *harness {
	t.Helper()
	m := queue.NewMemory(queue.MemoryOptions{DuplicateWindow: opts.duplicateWindow})
	t.Cleanup(func() { _ = m.Close() })
	return &harness{
		backend: m,
		restart: func(*testing.T) queue.Backend { return m },
		crash:   func(*testing.T, queue.Backend) {},
		pending: func(_ *testing.T, consumer string) int { return max(m.PendingForTest(consumer), 0) },
	}
}

// natsURL returns the test server's URL or skips the test.
func natsURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(natsURLVar)
	if url == "" {
		t.Skipf("%s is not set; skipping the NATS run", natsURLVar)
	}
	return url
}

// testNATSOptions returns options for a stream and subject prefix that no
// other test uses.
func testNATSOptions(t testing.TB) queue.NATSOptions {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	return queue.NATSOptions{
		Stream:         "JTTEST_" + strings.ToUpper(suffix),
		SubjectPrefix:  "jtt" + suffix,
		ConnectTimeout: 5 * time.Second,
	}
}

// natsAdmin returns a JetStream handle on its own connection, closed when
// the test ends.
func natsAdmin(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("open JetStream: %v", err)
	}
	return js
}

func newNATSHarness(t *testing.T, hopts harnessOptions) *harness {
	t.Helper()
	url := natsURL(t)
	opts := testNATSOptions(t)
	opts.DuplicateWindow = hopts.duplicateWindow

	js := natsAdmin(t, url)
	// Registered before the backends' cleanups, so it runs after them.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, opts.Stream); err != nil {
			t.Logf("delete stream %s: %v", opts.Stream, err)
		}
	})

	open := func(t *testing.T) queue.Backend {
		t.Helper()
		b, err := queue.NewNATS(url, opts)
		if err != nil {
			t.Fatalf("NewNATS: %v", err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	return &harness{
		backend: open(t),
		restart: open,
		crash: func(t *testing.T, b queue.Backend) {
			t.Helper()
			if err := b.Close(); err != nil {
				t.Fatalf("close NATS connection: %v", err)
			}
		},
		pending: func(t *testing.T, consumer string) int {
			t.Helper()
			info := consumerInfo(t, js, opts.Stream, consumer)
			return info.NumAckPending + int(info.NumPending)
		},
		deliveries: func(t *testing.T, consumer string) int {
			t.Helper()
			return int(consumerInfo(t, js, opts.Stream, consumer).Delivered.Consumer)
		},
		rawPublish: func(t *testing.T, msg *nats.Msg) {
			t.Helper()
			msg.Subject = opts.SubjectPrefix + "." + msg.Subject
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := js.PublishMsg(ctx, msg); err != nil {
				t.Fatalf("publish raw message: %v", err)
			}
		},
	}
}

func consumerInfo(t *testing.T, js jetstream.JetStream, stream, consumer string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		t.Fatalf("look up consumer %s: %v", consumer, err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("consumer %s info: %v", consumer, err)
	}
	return info
}

// function returns a function named name with the given consumers.
func function(name string, consumers ...fn.Consumer) *fn.Function {
	return &fn.Function{Name: name, Consumers: consumers}
}

// startRunner starts a runner for funcs on b and stops it when the test
// ends.
func startRunner(t *testing.T, b queue.Backend, funcs []*fn.Function, opts queue.RunnerOptions) *queue.Runner {
	t.Helper()
	r, err := queue.NewRunner(b, funcs, opts)
	if err != nil {
		t.Fatalf("NewRunner: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
	return r
}

func publish(t *testing.T, p queue.Publisher, subject string, data string, opts queue.PublishOptions) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := p.Publish(ctx, subject, []byte(data), opts); err != nil {
		t.Fatalf("Publish(%q, %q): %v", subject, opts.ID, err)
	}
}

// collector is a consumer that passes every message to a channel.
type collector struct {
	messages chan fn.Message
}

func newCollector() *collector {
	return &collector{messages: make(chan fn.Message, 100)}
}

func (c *collector) handle(_ context.Context, msg fn.Message) error {
	c.messages <- msg
	return nil
}

// next returns the next message, failing the test after waitTimeout.
func (c *collector) next(t *testing.T) fn.Message {
	t.Helper()
	select {
	case msg := <-c.messages:
		return msg
	case <-time.After(waitTimeout):
		t.Fatalf("no message within %s", waitTimeout)
		return fn.Message{}
	}
}

// none fails the test when a message arrives within d.
func (c *collector) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case msg := <-c.messages:
		t.Fatalf("unexpected message %q on %q", msg.ID, msg.Subject)
	case <-time.After(d):
	}
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// attempts records the time and Delivery.Attempt of each consumer call.
type attempts struct {
	mu    sync.Mutex
	times []time.Time
	nums  []int
}

func (a *attempts) add(ctx context.Context) int {
	d, _ := queue.DeliveryFromContext(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.times = append(a.times, time.Now())
	a.nums = append(a.nums, d.Attempt)
	return len(a.nums)
}

func (a *attempts) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.nums)
}

func (a *attempts) snapshot() ([]time.Time, []int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.times...), append([]int(nil), a.nums...)
}

var errTransient = errors.New("database unavailable")

package queue_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/triggers/queue"
)

// benchPayload is the 1 KB message body of the benchmarks.
var benchPayload = make([]byte, 1024)

// benchConsume times a runner with a no-op consumer until it has handled
// n messages that are already stored, and reports messages per second.
// settled reports whether every handled message has been acknowledged.
func benchConsume(b *testing.B, backend queue.Backend, policy queue.Policy, settled func() bool) {
	b.Helper()
	var handled atomic.Int64
	done := make(chan struct{})
	handle := func(context.Context, fn.Message) error {
		if handled.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	}
	r, err := queue.NewRunner(backend, []*fn.Function{
		function("bench", fn.Consumer{Subject: "bench.messages", Handle: handle}),
	}, queue.RunnerOptions{Policy: policy})
	if err != nil {
		b.Fatalf("NewRunner: %v", err)
	}

	b.ResetTimer()
	begin := time.Now()
	if err := r.Start(context.Background()); err != nil {
		b.Fatalf("Start: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("handled %d of %d messages within 5 minutes", handled.Load(), b.N)
	}
	for !settled() {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(begin)
	b.StopTimer()

	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.Stop(ctx)
}

// benchPolicies are the consumer settings the benchmarks compare: the
// default, more workers, and deep prefetch. BenchmarkNATSConsume shortens
// the handler timeout so that the ack wait rule admits deep prefetch.
var benchPolicies = []queue.Policy{
	{Concurrency: 1, Prefetch: 1},
	{Concurrency: 16, Prefetch: 16},
	{Concurrency: 1, Prefetch: 64},
	{Concurrency: 16, Prefetch: 256},
}

func BenchmarkNATSConsume(b *testing.B) {
	url := natsURL(b)
	for _, policy := range benchPolicies {
		policy.HandlerTimeout = 100 * time.Millisecond
		name := fmt.Sprintf("concurrency=%d/prefetch=%d", policy.Concurrency, policy.Prefetch)
		b.Run(name, func(b *testing.B) {
			opts := testNATSOptions(b)
			js := natsAdmin(b, url)
			backend, err := queue.NewNATS(url, opts)
			if err != nil {
				b.Fatalf("NewNATS: %v", err)
			}
			b.Cleanup(func() {
				_ = backend.Close()
				_ = js.DeleteStream(context.Background(), opts.Stream)
			})

			// Store the messages with asynchronous publishes, outside the
			// timed part.
			for i := range b.N {
				msg := &nats.Msg{Subject: opts.SubjectPrefix + ".bench.messages", Data: benchPayload, Header: nats.Header{}}
				if _, err := js.PublishMsgAsync(msg, jetstream.WithMsgID("bench-"+strconv.Itoa(i))); err != nil {
					b.Fatalf("publish: %v", err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatalf("publishing %d messages did not finish within a minute", b.N)
			}

			settled := func() bool {
				c, err := js.Consumer(context.Background(), opts.Stream, "bench_bench_messages")
				if err != nil {
					return false
				}
				info, err := c.Info(context.Background())
				return err == nil && info.NumAckPending == 0 && info.NumPending == 0
			}
			benchConsume(b, backend, policy, settled)
		})
	}
}

func BenchmarkMemoryConsume(b *testing.B) {
	for _, policy := range benchPolicies {
		name := fmt.Sprintf("concurrency=%d", policy.Concurrency)
		if policy.Prefetch > policy.Concurrency {
			continue // prefetch is a NATS setting
		}
		b.Run(name, func(b *testing.B) {
			m := queue.NewMemory(queue.MemoryOptions{Capacity: b.N + 1})
			ctx := context.Background()
			for i := range b.N {
				if err := m.Publish(ctx, "bench.messages", benchPayload, queue.PublishOptions{ID: "bench-" + strconv.Itoa(i)}); err != nil {
					b.Fatalf("Publish: %v", err)
				}
			}
			benchConsume(b, m, policy, func() bool { return m.PendingForTest("bench_bench_messages") == 0 })
		})
	}
}

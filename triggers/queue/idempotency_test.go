package queue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store/storetest"
	"github.com/jingtong/backend/triggers/queue"
)

// effectsDB prepares db with the queue migrations and a test_effects table
// that gets one row per effect, with no key, so a repeated effect shows as
// a second row.
func effectsDB(t *testing.T, db *bun.DB) {
	t.Helper()
	ctx := context.Background()
	if err := queue.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE test_effects (message_id VARCHAR(300) NOT NULL, attempt INTEGER NOT NULL)`); err != nil {
		t.Fatalf("create test_effects: %v", err)
	}
}

// addEffect inserts one effect row for the delivery in ctx.
func addEffect(ctx context.Context, db bun.IDB, msg fn.Message) error {
	d, _ := queue.DeliveryFromContext(ctx)
	_, err := db.ExecContext(ctx, `INSERT INTO test_effects (message_id, attempt) VALUES (?, ?)`, msg.ID, d.Attempt)
	return err
}

// countEffects returns how many effects the messages with the given IDs
// made.
func countEffects(t *testing.T, db *bun.DB, ids ...string) int {
	t.Helper()
	var n int
	err := db.NewRaw(`SELECT count(*) FROM test_effects WHERE message_id IN (?)`, bun.List(ids)).Scan(context.Background(), &n)
	if err != nil {
		t.Fatalf("count test_effects: %v", err)
	}
	return n
}

// uniqueID returns base with a random suffix, for tests that share a
// database between backends.
func uniqueID(base string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return base + "-" + hex.EncodeToString(b[:])
}

// countingStore counts the lookups that find a processed message.
type countingStore struct {
	queue.Store
	duplicates atomic.Int64
}

func (s *countingStore) Seen(ctx context.Context, consumer, key string) (bool, error) {
	ok, err := s.Store.Seen(ctx, consumer, key)
	if ok {
		s.duplicates.Add(1)
	}
	return ok, err
}

func TestIdempotency_redeliveryAfterCommitHasOneEffect(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		effectsDB(t, db)
		eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
			tests := []struct {
				name      string
				store     queue.Store
				wantCalls int
			}{
				// The store finds the record that InTx committed, so the
				// redelivery never reaches the consumer.
				{name: "database store", store: queue.NewDBStore(db), wantCalls: 1},
				// The store has no record, so the consumer runs again and
				// InTx finds the record and skips the effect.
				{name: "memory store", store: queue.NewMemoryStore(0), wantCalls: 2},
			}
			var ids []string
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					// A subject per case: a new JetStream consumer would also
					// receive the other case's message.
					fname, subject := "search", []string{"zones.published", "zones.archived"}[i]
					id := uniqueID("m-" + fname)
					ids = append(ids, id)
					var seen attempts
					handle := func(ctx context.Context, msg fn.Message) error {
						n := seen.add(ctx)
						err := queue.InTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
							return addEffect(ctx, tx, msg)
						})
						if err != nil {
							return err
						}
						if n == 1 {
							return errTransient // fail after the commit
						}
						return nil
					}
					startRunner(t, h.backend, []*fn.Function{
						function(fname, fn.Consumer{Subject: subject, Handle: handle}),
					}, queue.RunnerOptions{Policy: testPolicy(), Store: tt.store})
					publish(t, h.backend, subject, "x", queue.PublishOptions{ID: id})

					consumer := queue.ConsumerName(fname, subject)
					waitFor(t, "the message to be acknowledged", func() bool {
						return seen.count() >= tt.wantCalls && h.pending(t, consumer) == 0
					})
					if n := seen.count(); n != tt.wantCalls {
						t.Errorf("consumer called %d times, want %d", n, tt.wantCalls)
					}
				})
			}
			if n := countEffects(t, db, ids...); n != 2 {
				t.Errorf("effects = %d, want 2: one per consumer", n)
			}
		})
	})
}

func TestIdempotency_republishAfterWindowHasOneEffect(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		effectsDB(t, db)
		window := 300 * time.Millisecond
		eachBackend(t, harnessOptions{duplicateWindow: window}, func(t *testing.T, h *harness) {
			id := uniqueID("m1")
			st := &countingStore{Store: queue.NewDBStore(db)}
			var seen attempts
			// No InTx: the store is checked before the call and written
			// after it.
			handle := func(ctx context.Context, msg fn.Message) error {
				seen.add(ctx)
				return addEffect(ctx, db, msg)
			}
			startRunner(t, h.backend, []*fn.Function{
				function("search", fn.Consumer{Subject: "zones.published", Handle: handle}),
			}, queue.RunnerOptions{Policy: testPolicy(), Store: st})

			publish(t, h.backend, "zones.published", "x", queue.PublishOptions{ID: id})
			waitFor(t, "the first delivery", func() bool { return seen.count() == 1 })
			time.Sleep(2 * window) // let the transport forget the ID
			publish(t, h.backend, "zones.published", "x", queue.PublishOptions{ID: id})

			waitFor(t, "the second delivery to be recognised", func() bool { return st.duplicates.Load() == 1 })
			waitFor(t, "the message to be acknowledged", func() bool { return h.pending(t, "search_zones_published") == 0 })
			if n := seen.count(); n != 1 {
				t.Errorf("consumer called %d times, want 1", n)
			}
			if n := countEffects(t, db, id); n != 1 {
				t.Errorf("effects = %d, want 1", n)
			}
		})
	})
}

// crash stops r as a dying process would: on NATS the connection goes away
// first, so nothing is acknowledged or rejected, and the stop gives up at
// once, cancelling the consumer that is running.
func crash(t *testing.T, h *harness, b queue.Backend, r *queue.Runner) {
	t.Helper()
	h.crash(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop with a consumer running and a cancelled context = %v, want context.Canceled", err)
	}
}

func TestCrash_beforeEffectMessageRedelivered(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		db := storetest.OpenSQLite(t)
		effectsDB(t, db)
		var seen attempts
		started := make(chan struct{}, 1)
		handle := func(ctx context.Context, msg fn.Message) error {
			if seen.add(ctx) == 1 {
				started <- struct{}{}
				<-ctx.Done() // the process dies here
				return ctx.Err()
			}
			return queue.InTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
				return addEffect(ctx, tx, msg)
			})
		}
		funcs := []*fn.Function{function("search", fn.Consumer{Subject: "zones.published", Handle: handle})}
		opts := queue.RunnerOptions{Policy: testPolicy(), Store: queue.NewDBStore(db)}

		first, err := queue.NewRunner(h.backend, funcs, opts)
		if err != nil {
			t.Fatalf("NewRunner: %v", err)
		}
		if err := first.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		publish(t, h.backend, "zones.published", "x", queue.PublishOptions{ID: "m1"})
		<-started
		crash(t, h, h.backend, first)

		next := h.restart(t)
		startRunner(t, next, funcs, opts)
		waitFor(t, "the redelivery", func() bool { return seen.count() == 2 })
		waitFor(t, "the message to be acknowledged", func() bool { return h.pending(t, "search_zones_published") == 0 })

		if _, nums := seen.snapshot(); nums[1] != 2 {
			t.Errorf("redelivery attempt = %d, want 2", nums[1])
		}
		if n := countEffects(t, db, "m1"); n != 1 {
			t.Errorf("effects = %d, want 1", n)
		}
	})
}

func TestCrash_afterEffectNotRepeated(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		db := storetest.OpenSQLite(t)
		effectsDB(t, db)
		st := &countingStore{Store: queue.NewDBStore(db)}
		var seen attempts
		committed := make(chan struct{}, 1)
		handle := func(ctx context.Context, msg fn.Message) error {
			seen.add(ctx)
			err := queue.InTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
				return addEffect(ctx, tx, msg)
			})
			if err != nil {
				return err
			}
			committed <- struct{}{}
			<-ctx.Done() // the process dies after the commit, before the ack
			return ctx.Err()
		}
		funcs := []*fn.Function{function("search", fn.Consumer{Subject: "zones.published", Handle: handle})}
		opts := queue.RunnerOptions{Policy: testPolicy(), Store: st}

		first, err := queue.NewRunner(h.backend, funcs, opts)
		if err != nil {
			t.Fatalf("NewRunner: %v", err)
		}
		if err := first.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		publish(t, h.backend, "zones.published", "x", queue.PublishOptions{ID: "m1"})
		<-committed
		crash(t, h, h.backend, first)

		next := h.restart(t)
		startRunner(t, next, funcs, opts)
		waitFor(t, "the redelivery to be recognised", func() bool { return st.duplicates.Load() == 1 })
		waitFor(t, "the message to be acknowledged", func() bool { return h.pending(t, "search_zones_published") == 0 })

		if n := seen.count(); n != 1 {
			t.Errorf("consumer called %d times, want 1", n)
		}
		if n := countEffects(t, db, "m1"); n != 1 {
			t.Errorf("effects = %d, want 1", n)
		}
	})
}

func TestCrash_onLastAttemptDeadLetters(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		policy := testPolicy()
		policy.Attempts = 1
		var seen attempts
		started := make(chan struct{}, 1)
		handle := func(ctx context.Context, _ fn.Message) error {
			seen.add(ctx)
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}
		dead, ops := deadLetters("zones.published")
		funcs := []*fn.Function{function("search", fn.Consumer{Subject: "zones.published", Handle: handle}), ops}
		opts := queue.RunnerOptions{Policy: policy}

		first, err := queue.NewRunner(h.backend, funcs, opts)
		if err != nil {
			t.Fatalf("NewRunner: %v", err)
		}
		if err := first.Start(context.Background()); err != nil {
			t.Fatalf("Start: %v", err)
		}
		publish(t, h.backend, "zones.published", "x", queue.PublishOptions{ID: "m1"})
		<-started
		crash(t, h, h.backend, first)

		// The only attempt ended without an outcome, so the next delivery
		// dead-letters the message instead of running it again.
		startRunner(t, h.restart(t), funcs, opts)
		msg := dead.next(t)
		if got := msg.Header.Get(queue.HeaderDeadReason); !strings.Contains(got, "without an outcome") {
			t.Errorf("dead letter reason = %q, want it to say the attempt ended without an outcome", got)
		}
		if got := msg.Header.Get(queue.HeaderDeadAttempts); got != "2" {
			t.Errorf("dead letter attempts = %q, want 2: the delivery that found the attempts used up", got)
		}
		if n := seen.count(); n != 1 {
			t.Errorf("consumer called %d times, want 1", n)
		}
	})
}

package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store/storetest"
	"github.com/jingtong/backend/triggers/queue"
)

func TestDBStore_seenAfterRecord(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		effectsDB(t, db)
		s := queue.NewDBStore(db)
		ctx := context.Background()

		if seen, err := s.Seen(ctx, "search_zones_published", "m1"); err != nil || seen {
			t.Fatalf("Seen before Record = %v, %v; want false, nil", seen, err)
		}
		for i := range 2 {
			if err := s.Record(ctx, "search_zones_published", "m1"); err != nil {
				t.Fatalf("Record #%d: %v", i+1, err)
			}
		}
		if seen, err := s.Seen(ctx, "search_zones_published", "m1"); err != nil || !seen {
			t.Errorf("Seen after Record = %v, %v; want true, nil", seen, err)
		}
		if seen, _ := s.Seen(ctx, "audit_zones_published", "m1"); seen {
			t.Errorf("Seen for another consumer = true, want false")
		}
	})
}

func TestDBStore_pruneDeletesOlderRecords(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		effectsDB(t, db)
		s := queue.NewDBStore(db)
		ctx := context.Background()
		for _, key := range []string{"m1", "m2"} {
			if err := s.Record(ctx, "search_zones_published", key); err != nil {
				t.Fatalf("Record: %v", err)
			}
		}

		if n, err := s.Prune(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Errorf("Prune before the records = %d, %v; want 0, nil", n, err)
		}
		if n, err := s.Prune(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
			t.Errorf("Prune after the records = %d, %v; want 2, nil", n, err)
		}
		if seen, _ := s.Seen(ctx, "search_zones_published", "m1"); seen {
			t.Errorf("Seen after Prune = true, want false")
		}
	})
}

func TestInTx_commitsEffectWithRecord(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		effectsDB(t, db)
		msg := fn.Message{ID: "m1"}
		calls := 0
		effect := func(ctx context.Context, tx bun.Tx) error {
			calls++
			return addEffect(ctx, tx, msg)
		}

		for i := range 2 {
			ctx := queue.WithDeliveryForTest(context.Background(), "search_zones_published", "m1")
			if err := queue.InTx(ctx, db, effect); err != nil {
				t.Fatalf("InTx #%d: %v", i+1, err)
			}
		}
		if calls != 1 {
			t.Errorf("effect ran %d times, want 1", calls)
		}
		if n := countEffects(t, db, "m1"); n != 1 {
			t.Errorf("effects = %d, want 1", n)
		}
		if seen, _ := queue.NewDBStore(db).Seen(context.Background(), "search_zones_published", "m1"); !seen {
			t.Errorf("Seen after InTx = false, want true")
		}
	})
}

func TestInTx_rollsBackEffectAndRecord(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		effectsDB(t, db)
		ctx := queue.WithDeliveryForTest(context.Background(), "search_zones_published", "m1")
		err := queue.InTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
			if err := addEffect(ctx, tx, fn.Message{ID: "m1"}); err != nil {
				return err
			}
			return errTransient
		})
		if !errors.Is(err, errTransient) {
			t.Fatalf("InTx = %v, want the effect's error", err)
		}
		if n := countEffects(t, db, "m1"); n != 0 {
			t.Errorf("effects after rollback = %d, want 0", n)
		}
		if seen, _ := queue.NewDBStore(db).Seen(context.Background(), "search_zones_published", "m1"); seen {
			t.Errorf("Seen after rollback = true, want false")
		}
	})
}

func TestInTx_concurrentDeliveriesOneEffect(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		effectsDB(t, db)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := queue.WithDeliveryForTest(context.Background(), "search_zones_published", "m1")
				errs <- queue.InTx(ctx, db, func(ctx context.Context, tx bun.Tx) error {
					return addEffect(ctx, tx, fn.Message{ID: "m1"})
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent InTx: %v", err)
			}
		}
		if n := countEffects(t, db, "m1"); n != 1 {
			t.Errorf("effects = %d, want 1", n)
		}
	})
}

func TestInTx_misuse(t *testing.T) {
	db := storetest.OpenSQLite(t)
	effectsDB(t, db)
	noop := func(context.Context, bun.Tx) error { return nil }

	if err := queue.InTx(context.Background(), db, noop); !errors.Is(err, queue.ErrNoDelivery) {
		t.Errorf("InTx outside a delivery = %v, want ErrNoDelivery", err)
	}
	ctx := queue.WithDeliveryForTest(context.Background(), "search_zones_published", "m1")
	if err := queue.InTx(ctx, db, noop); err != nil {
		t.Fatalf("first InTx: %v", err)
	}
	if err := queue.InTx(ctx, db, noop); !errors.Is(err, queue.ErrTxReused) {
		t.Errorf("second InTx in one delivery = %v, want ErrTxReused", err)
	}
}

func TestMemoryStore_evictsOldest(t *testing.T) {
	s := queue.NewMemoryStore(3)
	ctx := context.Background()
	for i := range 4 {
		_ = s.Record(ctx, "c", fmt.Sprintf("m%d", i))
	}
	if seen, _ := s.Seen(ctx, "c", "m0"); seen {
		t.Errorf("oldest pair still seen after eviction")
	}
	for i := 1; i < 4; i++ {
		if seen, _ := s.Seen(ctx, "c", fmt.Sprintf("m%d", i)); !seen {
			t.Errorf("pair m%d not seen, want the 3 newest kept", i)
		}
	}
}

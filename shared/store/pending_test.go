package store_test

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store"
	"github.com/jingtong/backend/shared/store/storetest"
)

func TestPendingCountsUnapplied(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		noop := func(context.Context, bun.Tx) error { return nil }
		first := []store.Migration{{Name: "0001_first", Up: noop}}
		both := append(first, store.Migration{Name: "0002_second", Up: noop})

		n, err := store.Pending(ctx, db, "pending_demo", both)
		if err != nil || n != 2 {
			t.Fatalf("Pending before any migration = %d, %v; want 2, nil", n, err)
		}

		if err := store.Migrate(ctx, db, "pending_demo", first); err != nil {
			t.Fatal(err)
		}
		n, err = store.Pending(ctx, db, "pending_demo", both)
		if err != nil || n != 1 {
			t.Fatalf("Pending after the first = %d, %v; want 1, nil", n, err)
		}

		if err := store.Migrate(ctx, db, "pending_demo", both); err != nil {
			t.Fatal(err)
		}
		n, err = store.Pending(ctx, db, "pending_demo", both)
		if err != nil || n != 0 {
			t.Fatalf("Pending after all = %d, %v; want 0, nil", n, err)
		}
	})
}

package triggers

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store"
)

func TestDBOpenerRetriesAfterFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	errRefused := errors.New("connection refused")
	var calls atomic.Int32
	o := &dbOpener{dsn: "sqlite:" + filepath.Join(t.TempDir(), "retry.db")}
	o.open = func(ctx context.Context, dsn string) (*bun.DB, error) {
		if calls.Add(1) == 1 {
			return nil, errRefused
		}
		return store.Open(ctx, dsn)
	}

	if _, err := o.Open(ctx); !errors.Is(err, errRefused) {
		t.Fatalf("first Open = %v, want the opener's error", err)
	}
	db, err := o.Open(ctx)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if again, _ := o.Open(ctx); again != db {
		t.Error("third Open returned a new handle, want the cached one")
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("opener called %d times, want 2", got)
	}

	if err := o.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := o.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDBOpenerOpensOnceConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var calls atomic.Int32
	o := &dbOpener{dsn: "sqlite:" + filepath.Join(t.TempDir(), "once.db")}
	o.open = func(ctx context.Context, dsn string) (*bun.DB, error) {
		calls.Add(1)
		return store.Open(ctx, dsn)
	}
	defer o.Close()

	var wg sync.WaitGroup
	handles := make([]*bun.DB, 8)
	for i := range handles {
		wg.Go(func() {
			db, err := o.Open(ctx)
			if err != nil {
				t.Errorf("Open: %v", err)
			}
			handles[i] = db
		})
	}
	wg.Wait()

	if got := calls.Load(); got != 1 {
		t.Errorf("opener called %d times, want 1", got)
	}
	for i, db := range handles {
		if db != handles[0] {
			t.Errorf("handle %d differs from handle 0", i)
		}
	}
}

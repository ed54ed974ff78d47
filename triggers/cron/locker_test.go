package cron

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store/storetest"
)

var (
	tick1  = time.Date(2026, 3, 1, 3, 17, 0, 0, time.UTC)
	tick2  = tick1.Add(24 * time.Hour)
	tick3  = tick2.Add(24 * time.Hour)
	errRun = errors.New("run failed")
)

func checkLast(t *testing.T, l Locker, job string, want time.Time, wantOK bool) {
	t.Helper()
	got, ok, err := l.Last(context.Background(), job)
	if err != nil {
		t.Fatalf("Last(%q): %v", job, err)
	}
	if ok != wantOK || (ok && !got.Equal(want)) {
		t.Errorf("Last(%q) = %s, %v; want %s, %v", job, got, ok, want, wantOK)
	}
}

func mustClaim(t *testing.T, l Locker, job string, tick time.Time, want bool) {
	t.Helper()
	got, err := l.Claim(context.Background(), job, tick)
	if err != nil {
		t.Fatalf("Claim(%q, %s): %v", job, tick, err)
	}
	if got != want {
		t.Errorf("Claim(%q, %s) = %v, want %v", job, tick, got, want)
	}
}

func TestLockerClaimsTickOnce(t *testing.T) {
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		l := newLocker()
		checkLast(t, l, "f/a", time.Time{}, false)
		mustClaim(t, l, "f/a", tick1, true)
		mustClaim(t, l, "f/a", tick1, false)
		mustClaim(t, newLocker(), "f/a", tick1, false)
		checkLast(t, l, "f/a", tick1, true)

		// Fractions of a second are dropped.
		mustClaim(t, l, "f/a", tick1.Add(500*time.Millisecond), false)
	})
}

func TestLockerRejectsEarlierTick(t *testing.T) {
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		l := newLocker()
		mustClaim(t, l, "f/a", tick2, true)
		mustClaim(t, l, "f/a", tick1, false)
		checkLast(t, l, "f/a", tick2, true)
		mustClaim(t, l, "f/a", tick3, true)
		checkLast(t, l, "f/a", tick3, true)
	})
}

func TestLockerJobsAreIndependent(t *testing.T) {
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		l := newLocker()
		mustClaim(t, l, "f/a", tick2, true)
		mustClaim(t, l, "f/b", tick1, true)
		mustClaim(t, l, "g/a", tick1, true)
		checkLast(t, l, "f/a", tick2, true)
		checkLast(t, l, "f/b", tick1, true)
	})
}

func TestLockerFailedRunReleasesTick(t *testing.T) {
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		l := newLocker()
		ctx := context.Background()
		claim(t, l, "f/a", tick1)

		mustClaim(t, l, "f/a", tick2, true)
		if err := l.Finish(ctx, "f/a", tick2, errRun); err != nil {
			t.Fatalf("Finish with a run error: %v", err)
		}
		checkLast(t, l, "f/a", tick1, true)

		// A retry of the same tick runs again.
		mustClaim(t, newLocker(), "f/a", tick2, true)
		checkLast(t, l, "f/a", tick2, true)
	})
}

func TestLockerFailedFirstRunLeavesNoLast(t *testing.T) {
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		l := newLocker()
		mustClaim(t, l, "f/a", tick1, true)
		if err := l.Finish(context.Background(), "f/a", tick1, errRun); err != nil {
			t.Fatalf("Finish with a run error: %v", err)
		}
		checkLast(t, l, "f/a", time.Time{}, false)
	})
}

func TestLockerFailedRunKeepsLaterClaim(t *testing.T) {
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		l := newLocker()
		mustClaim(t, l, "f/a", tick1, true)
		mustClaim(t, newLocker(), "f/a", tick2, true)
		if err := l.Finish(context.Background(), "f/a", tick1, errRun); err != nil {
			t.Fatalf("Finish with a run error: %v", err)
		}
		checkLast(t, l, "f/a", tick2, true)
		mustClaim(t, l, "f/a", tick1, false)
	})
}

// Two replicas race for the same ticks; each tick goes to exactly one
// caller.
func TestLockerConcurrentClaims(t *testing.T) {
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		replicas := []Locker{newLocker(), newLocker()}
		ticks := []time.Time{tick1, tick2, tick3}
		wins := make([]atomic.Int32, len(ticks))

		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				l := replicas[g%2]
				for i, tick := range ticks {
					ok, err := l.Claim(context.Background(), "f/race", tick)
					if err != nil {
						t.Errorf("Claim(%s): %v", tick, err)
						return
					}
					if ok {
						wins[i].Add(1)
					}
				}
			})
		}
		wg.Wait()

		for i := range ticks {
			if got := wins[i].Load(); got != 1 {
				t.Errorf("tick %s claimed %d times, want 1", ticks[i], got)
			}
		}
	})
}

func TestSQLLockerRecordsAndPrunes(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		migrateDB(t, db)
		ctx := context.Background()
		clock := newFakeClock(tick1.Add(time.Second))
		l := NewSQLLocker(db, SQLLockerOptions{Now: clock.Now, Retention: 36 * time.Hour})

		claim(t, l, "f/a", tick1)
		mustClaim(t, l, "f/a", tick2, true)
		row := readRow(t, db, "f/a", tick2)
		if row.Status != "running" || row.FinishedAt.Valid {
			t.Errorf("row after Claim = %+v, want status running and no finished_at", row)
		}
		if row.StartedAt != tick1.Add(time.Second).UnixMilli() {
			t.Errorf("started_at = %d, want %d", row.StartedAt, tick1.Add(time.Second).UnixMilli())
		}

		// tick1 is 2 days old by then, beyond the 36 h retention.
		clock.Set(tick3)
		if err := l.Finish(ctx, "f/a", tick2, nil); err != nil {
			t.Fatalf("Finish: %v", err)
		}
		row = readRow(t, db, "f/a", tick2)
		if row.Status != "succeeded" || row.FinishedAt.Int64 != tick3.UnixMilli() {
			t.Errorf("row after Finish = %+v, want status succeeded, finished_at %d", row, tick3.UnixMilli())
		}
		n, err := db.NewSelect().Model((*tickRow)(nil)).Where("job = ?", "f/a").Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d rows left for f/a, want 1 after pruning tick %s", n, tick1)
		}
	})
}

func readRow(t *testing.T, db *bun.DB, job string, tick time.Time) tickRow {
	t.Helper()
	var row tickRow
	err := db.NewSelect().Model(&row).Where("job = ?", job).Where("tick = ?", tick.Unix()).Scan(context.Background())
	if errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("no row for %s %s", job, tick)
	}
	if err != nil {
		t.Fatal(err)
	}
	return row
}

func TestSQLLockerWithoutTable(t *testing.T) {
	db := storetest.OpenSQLite(t)
	l := NewSQLLocker(db, SQLLockerOptions{})
	if _, err := l.Claim(context.Background(), "f/a", tick1); err == nil {
		t.Error("Claim without the cron_ticks table succeeded, want an error")
	}
}

func TestRedisLockerKeys(t *testing.T) {
	rdb := storetest.OpenRedis(t)
	prefix := storetest.RedisPrefix(t, rdb)
	ctx := context.Background()
	l := NewRedisLocker(rdb, RedisLockerOptions{Prefix: prefix, ClaimTTL: time.Hour})

	mustClaim(t, l, "zones/refresh", tick1, true)
	claimKey := prefix + "{zones/refresh}:tick:" + "1772335020"
	if ttl := rdb.PTTL(ctx, claimKey).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("PTTL(%s) = %s, want about 1h", claimKey, ttl)
	}
	lastKey := prefix + "{zones/refresh}:last"
	if got := rdb.Get(ctx, lastKey).Val(); got != "1772335020" {
		t.Errorf("GET %s = %q, want the tick in Unix seconds", lastKey, got)
	}
	if ttl := rdb.PTTL(ctx, lastKey).Val(); ttl != -1 {
		t.Errorf("PTTL(%s) = %s, want no expiry", lastKey, ttl)
	}

	if err := rdb.Set(ctx, lastKey, "garbage", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Last(ctx, "zones/refresh"); err == nil {
		t.Error("Last with a corrupt last key succeeded, want an error")
	}
}

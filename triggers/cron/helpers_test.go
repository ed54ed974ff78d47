package cron

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store/storetest"
)

// eachLocker runs fn as a subtest on every Locker implementation: memory,
// SQLite and PostgreSQL through storetest.EachDB, and Redis under a key
// prefix of its own. newLocker returns another Locker on the same shared
// state, as a second replica would open it. The PostgreSQL and Redis
// subtests are skipped, with the reason printed, when JT_TEST_POSTGRES_URL or
// JT_TEST_REDIS_URL is unset.
func eachLocker(t *testing.T, fn func(t *testing.T, newLocker func() Locker)) {
	t.Helper()

	t.Run("memory", func(t *testing.T) {
		shared := NewMemoryLocker()
		fn(t, func() Locker { return shared })
	})
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		migrateDB(t, db)
		fn(t, func() Locker { return NewSQLLocker(db, SQLLockerOptions{}) })
	})
	t.Run("redis", func(t *testing.T) {
		rdb := storetest.OpenRedis(t)
		prefix := storetest.RedisPrefix(t, rdb)
		fn(t, func() Locker { return NewRedisLocker(rdb, RedisLockerOptions{Prefix: prefix}) })
	})
}

func migrateDB(t testing.TB, db *bun.DB) {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
}

// fakeClock is a clock that moves only when Set or Advance is called.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(now time.Time) *fakeClock { return &fakeClock{now: now} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// recorder is a Metrics that keeps every Result.
type recorder struct {
	mu      sync.Mutex
	results []Result
}

func (r *recorder) Observe(res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
}

func (r *recorder) all() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Result(nil), r.results...)
}

// counter counts the runs of a job and can make them fail.
type counter struct {
	mu   sync.Mutex
	runs int
	fail error
}

func (c *counter) run(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs++
	return c.fail
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs
}

func (c *counter) setFail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = err
}

// claim claims and finishes tick for job, as an earlier successful run
// would have.
func claim(t testing.TB, l Locker, job string, tick time.Time) {
	t.Helper()
	ctx := context.Background()
	ok, err := l.Claim(ctx, job, tick)
	if err != nil || !ok {
		t.Fatalf("Claim(%q, %s) = %v, %v; want true, nil", job, tick, ok, err)
	}
	if err := l.Finish(ctx, job, tick, nil); err != nil {
		t.Fatalf("Finish(%q, %s): %v", job, tick, err)
	}
}

package cron

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store/storetest"
)

// redisURLVar names the environment variable with the Redis URL for tests,
// such as redis://127.0.0.1:6379/0.
const redisURLVar = "JT_TEST_REDIS_URL"

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
		rdb := openRedis(t)
		prefix := testPrefix(t, rdb)
		fn(t, func() Locker { return NewRedisLocker(rdb, RedisLockerOptions{Prefix: prefix}) })
	})
}

func migrateDB(t testing.TB, db *bun.DB) {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
}

// openRedis returns a client for JT_TEST_REDIS_URL, closed when the test
// ends. It skips the test when the variable is unset.
func openRedis(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv(redisURLVar)
	if url == "" {
		t.Skipf("%s is not set; skipping the Redis run", redisURLVar)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", redisURLVar, err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping Redis at %s: %v", url, err)
	}
	return rdb
}

// testPrefix returns a key prefix unique to this test and deletes every key
// under it when the test ends.
func testPrefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "jt-test-" + hex.EncodeToString(b[:]) + ":"

	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			if err := rdb.Del(ctx, iter.Val()).Err(); err != nil {
				t.Logf("delete test key %s: %v", iter.Val(), err)
			}
		}
		if err := iter.Err(); err != nil {
			t.Logf("scan test keys under %s: %v", prefix, err)
		}
	})
	return prefix
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

package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// RedisURLVar names the environment variable with the Redis URL for tests,
// such as redis://127.0.0.1:6379/0.
const RedisURLVar = "JT_TEST_REDIS_URL"

// OpenRedis returns a client for JT_TEST_REDIS_URL, closed when the test
// ends. It skips the test when the variable is unset.
func OpenRedis(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv(RedisURLVar)
	if url == "" {
		t.Skipf("%s is not set; skipping the Redis run", RedisURLVar)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %s: %v", RedisURLVar, err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping Redis at %s: %v", url, err)
	}
	return rdb
}

// RedisPrefix returns a key prefix unique to this test and deletes, when the
// test ends, every key that contains it, including keys a library stores
// under a prefix of its own (redis_rate adds "rate:").
func RedisPrefix(t testing.TB, rdb *redis.Client) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "jt-test-" + hex.EncodeToString(b[:]) + ":"

	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
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

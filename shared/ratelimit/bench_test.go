package ratelimit_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/jingtong/backend/shared/ratelimit"
	"github.com/jingtong/backend/shared/store/storetest"
)

// benchKeys returns n keys shaped like the gateway's per-user keys.
func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		key, _ := ratelimit.Policy{Name: "per-user", Parts: ratelimit.PartUser | ratelimit.PartRoute}.Key(ratelimit.Key{
			Route: "GET /api/zones/services",
			User:  "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" + strconv.Itoa(i),
		})
		keys[i] = key
	}
	return keys
}

// BenchmarkMemoryAllow measures one decision on a limiter holding 10,000
// keys, with the real clock.
func BenchmarkMemoryAllow(b *testing.B) {
	m := ratelimit.NewMemory()
	keys := benchKeys(10_000)
	limit := ratelimit.PerSecond(1_000_000)
	ctx := context.Background()

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := m.Allow(ctx, keys[i%len(keys)], limit, 1); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkMemoryAllowParallel measures decisions from GOMAXPROCS
// goroutines on distinct keys of one limiter.
func BenchmarkMemoryAllowParallel(b *testing.B) {
	m := ratelimit.NewMemory()
	keys := benchKeys(10_000)
	limit := ratelimit.PerSecond(1_000_000)
	var next atomic.Int64

	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		i := int(next.Add(1)) * 1000
		for pb.Next() {
			if _, err := m.Allow(ctx, keys[i%len(keys)], limit, 1); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkMemoryAllowContended measures decisions from GOMAXPROCS
// goroutines on a single key, the worst case for shard locking.
func BenchmarkMemoryAllowContended(b *testing.B) {
	m := ratelimit.NewMemory()
	limit := ratelimit.PerSecond(1_000_000)

	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := m.Allow(ctx, "hot", limit, 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMemoryFootprint reports the heap bytes a full limiter of
// DefaultMaxKeys keys holds, per key.
func BenchmarkMemoryFootprint(b *testing.B) {
	keys := benchKeys(ratelimit.DefaultMaxKeys)
	limit := ratelimit.PerHour(10)
	ctx := context.Background()
	var perKey float64

	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)

		m := ratelimit.NewMemory()
		for _, k := range keys {
			if _, err := m.Allow(ctx, k, limit, 1); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perKey = float64(after.HeapAlloc-before.HeapAlloc) / float64(m.Len())
		runtime.KeepAlive(m)
	}
	b.ReportMetric(perKey, "bytes/key")
}

// BenchmarkKeyString measures encoding a full Key.
func BenchmarkKeyString(b *testing.B) {
	k := ratelimit.Key{
		Route: "GET /api/zones/services", Channel: "wechat", User: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
		IP: "203.0.113.7", App: "wx1234567890abcdef",
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = k.String()
	}
}

// BenchmarkRedisAllow measures one decision against JT_TEST_REDIS_URL,
// mostly the round trip.
func BenchmarkRedisAllow(b *testing.B) {
	rdb := storetest.OpenRedis(b)
	r := ratelimit.NewRedis(rdb, ratelimit.WithPrefix(storetest.RedisPrefix(b, rdb)), ratelimit.WithFailureMode(ratelimit.FailClosed))
	keys := benchKeys(1000)
	limit := ratelimit.PerSecond(1_000_000)
	ctx := context.Background()

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := r.Allow(ctx, keys[i%len(keys)], limit, 1); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

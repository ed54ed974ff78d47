package ratelimit_test

import (
	"context"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// BenchmarkMemoryAllowLatency reports the p50 and p99 of single decisions
// on a limiter holding 10,000 keys. Each decision is timed on its own, so
// the percentiles include the cost of reading the clock (two vDSO calls,
// tens of nanoseconds) and ns/op is higher than BenchmarkMemoryAllow's.
func BenchmarkMemoryAllowLatency(b *testing.B) {
	m := ratelimit.NewMemory()
	keys := benchKeys(10_000)
	limit := ratelimit.PerSecond(1_000_000)
	ctx := context.Background()
	var lat latencies

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := m.Allow(ctx, keys[i%len(keys)], limit, 1); err != nil {
			b.Fatal(err)
		}
		lat.add(time.Since(start))
		i++
	}
	lat.report(b, "ns", time.Nanosecond)
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

// BenchmarkRedisAllowParallel measures decisions from 16 goroutines per
// CPU against JT_TEST_REDIS_URL, with the client's default pool of 10
// connections per CPU, as the gateway opens it. It reports the
// throughput in decisions/s and the p50 and p99 of single decisions in
// microseconds. Its keys are under a prefix of its own and are deleted
// when it ends.
func BenchmarkRedisAllowParallel(b *testing.B) {
	rdb := storetest.OpenRedis(b)
	r := ratelimit.NewRedis(rdb, ratelimit.WithPrefix(storetest.RedisPrefix(b, rdb)), ratelimit.WithFailureMode(ratelimit.FailClosed))
	keys := benchKeys(1000)
	limit := ratelimit.PerSecond(1_000_000)
	var next atomic.Int64
	var mu sync.Mutex
	var lat latencies

	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		var own latencies
		i := int(next.Add(1)) * 100
		for pb.Next() {
			start := time.Now()
			if _, err := r.Allow(ctx, keys[i%len(keys)], limit, 1); err != nil {
				b.Error(err)
				return
			}
			own.add(time.Since(start))
			i++
		}
		mu.Lock()
		lat.merge(&own)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	lat.report(b, "µs", time.Microsecond)
}

// latencies collects the durations of single operations.
type latencies struct {
	samples []time.Duration
}

func (l *latencies) add(d time.Duration) { l.samples = append(l.samples, d) }

func (l *latencies) merge(o *latencies) { l.samples = append(l.samples, o.samples...) }

// report adds the p50 and p99, by the nearest-rank method, to the
// benchmark's output as metrics "p50-<unit>" and "p99-<unit>".
func (l *latencies) report(b *testing.B, unit string, per time.Duration) {
	if len(l.samples) == 0 {
		return
	}
	slices.Sort(l.samples)
	for _, p := range []struct {
		name string
		q    float64
	}{{"p50", 0.50}, {"p99", 0.99}} {
		rank := max(int(math.Ceil(p.q*float64(len(l.samples)))), 1)
		b.ReportMetric(float64(l.samples[rank-1])/float64(per), p.name+"-"+unit)
	}
}

package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
)

// Memory defaults.
const (
	// DefaultMaxKeys is the key cap of a Memory limiter: 100,000 keys take
	// about 2.4 MB, 24 bytes a key as BenchmarkMemoryFootprint measured with
	// Go 1.26.8 on amd64.
	DefaultMaxKeys = 100_000

	// DefaultSweepInterval is how often each shard drops keys whose bucket is
	// full again.
	DefaultSweepInterval = time.Minute

	// maxShards is the shard count for caps of at least 64 keys. Smaller caps
	// get fewer shards, so that every shard holds at least one key.
	maxShards = 64

	// evictionSample is how many keys a full shard inspects to pick the one
	// to evict.
	evictionSample = 8
)

// Memory is an in-process GCRA limiter. Its state lives in up to 64 shards
// picked by a seeded hash of the key. Each shard is a map from key hash to
// TAT in int64 nanoseconds, guarded by its own mutex.
//
// Memory holds at most the key cap set by WithMaxKeys. A key whose bucket
// is full again (TAT at or before now) carries no information, so it is
// dropped. Each shard removes such keys once per sweep interval, from inside
// the first Allow call on that shard after the interval, without a
// background goroutine. When a new key arrives at a full shard, the shard
// samples 8 keys and drops the expired ones among them. If none has
// expired, it drops the sampled key with the earliest TAT, the one closest
// to a full bucket. Throttled keys have the latest TATs, so a caller that
// floods the limiter with fresh keys evicts other fresh keys first and
// cannot reset a throttled key except by chance. The cap is enforced per
// shard (the cap divided by the shard count), so eviction can start while
// the total is a little under the cap.
//
// Keys are stored as 64-bit hashes with a seed chosen per limiter, so two
// keys share a bucket only on a hash collision: with 100,000 keys the
// chance that any two collide is about 3 in 10 billion.
//
// The zero value is not usable. Call NewMemory.
type Memory struct {
	now        func() time.Time
	epoch      time.Time
	seed       maphash.Seed
	maxKeys    int
	perShard   int
	sweepEvery int64
	mask       uint64
	shards     []shard
}

// shard is one lock domain of a Memory limiter.
type shard struct {
	mu        sync.Mutex
	tat       map[uint64]int64 // key hash -> TAT, in nanoseconds since Memory.epoch
	nextSweep int64
	// Pads the shard to 64 bytes, a common cache-line size, so that
	// neighbouring shards' mutexes do not share a line.
	_ [40]byte
}

// MemoryOption configures a Memory limiter.
type MemoryOption func(*Memory)

// WithNow sets the clock. The default is time.Now. Memory measures time as
// now().Sub(the first reading), so a clock that carries a monotonic reading
// (as time.Now's does) is immune to wall-clock steps.
func WithNow(now func() time.Time) MemoryOption {
	return func(m *Memory) { m.now = now }
}

// WithMaxKeys sets the key cap. The default is DefaultMaxKeys, and values
// below 1 are treated as 1.
func WithMaxKeys(n int) MemoryOption {
	return func(m *Memory) { m.maxKeys = max(n, 1) }
}

// WithSweepInterval sets how often each shard drops keys whose bucket is
// full again. The default is DefaultSweepInterval, and values below one
// millisecond are treated as one millisecond.
func WithSweepInterval(d time.Duration) MemoryOption {
	return func(m *Memory) { m.sweepEvery = int64(max(d, time.Millisecond)) }
}

// NewMemory returns an empty in-process limiter.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{
		now:        time.Now,
		seed:       maphash.MakeSeed(),
		maxKeys:    DefaultMaxKeys,
		sweepEvery: int64(DefaultSweepInterval),
	}
	for _, opt := range opts {
		opt(m)
	}
	m.epoch = m.now()

	// The largest power of two up to maxShards that still leaves each shard
	// at least one key.
	count := min(maxShards, 1<<(bits.Len(uint(m.maxKeys))-1))
	m.perShard = m.maxKeys / count
	m.mask = uint64(count - 1)
	m.shards = make([]shard, count)
	for i := range m.shards {
		m.shards[i].tat = make(map[uint64]int64)
	}
	return m
}

// Allow implements Limiter. It returns an error only for an invalid limit
// or cost. It does not use ctx.
func (m *Memory) Allow(_ context.Context, key string, limit Limit, n int) (Result, error) {
	if err := checkCost(limit, n); err != nil {
		return Result{}, err
	}
	h := maphash.String(m.seed, key)
	s := &m.shards[h&m.mask]
	now := int64(m.now().Sub(m.epoch))

	s.mu.Lock()
	defer s.mu.Unlock()

	if now >= s.nextSweep {
		s.sweep(now)
		s.nextSweep = now + m.sweepEvery
	}

	tat, ok := s.tat[h]
	if !ok {
		tat = now
	}
	res, newTAT := decide(limit, n, now, tat)
	if !res.Allowed || n == 0 {
		return res, nil
	}

	if !ok && len(s.tat) >= m.perShard {
		s.evict(now)
	}
	s.tat[h] = newTAT
	return res, nil
}

// Len returns the number of keys held.
func (m *Memory) Len() int {
	total := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		total += len(s.tat)
		s.mu.Unlock()
	}
	return total
}

// Sweep drops every key whose bucket is full again. Allow already does this
// per shard once per sweep interval, so call Sweep only to reclaim memory
// sooner.
func (m *Memory) Sweep() {
	now := int64(m.now().Sub(m.epoch))
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.sweep(now)
		s.mu.Unlock()
	}
}

// String describes the limiter's configuration, for start-up logs.
func (m *Memory) String() string {
	return fmt.Sprintf("memory limiter: %d shards of at most %d keys, sweep every %s",
		len(m.shards), m.perShard, time.Duration(m.sweepEvery))
}

// decide applies GCRA to one request for n events at now, given the key's
// TAT (now for an unknown key). It returns the result and the TAT to store
// when the request is allowed. All times are nanoseconds.
func decide(limit Limit, n int, now, tat int64) (Result, int64) {
	interval := int64(limit.EmissionInterval())
	tolerance := interval * int64(limit.Burst)

	tat = max(tat, now)
	newTAT := tat + interval*int64(n)
	allowAt := newTAT - tolerance

	res := Result{Limit: limit}
	if allowAt > now {
		res.RetryAfter = time.Duration(allowAt - now)
		res.ResetAfter = time.Duration(tat - now)
		return res, tat
	}
	res.Allowed = true
	res.Remaining = int((now - allowAt) / interval)
	res.ResetAfter = time.Duration(newTAT - now)
	return res, newTAT
}

// sweep drops keys whose TAT is at or before now. The caller holds s.mu.
func (s *shard) sweep(now int64) {
	for h, tat := range s.tat {
		if tat <= now {
			delete(s.tat, h)
		}
	}
}

// evict makes room for one key in a full shard. It samples up to
// evictionSample keys, relying on map iteration starting at a random
// position, and drops those whose TAT has passed. If there are none, it
// drops the sampled key with the earliest TAT. The caller holds s.mu.
func (s *shard) evict(now int64) {
	var (
		victim    uint64
		victimTAT int64
		found     bool
		dropped   bool
		seen      int
	)
	for h, tat := range s.tat {
		switch {
		case tat <= now:
			delete(s.tat, h)
			dropped = true
		case !found || tat < victimTAT:
			victim, victimTAT, found = h, tat, true
		}
		seen++
		if seen == evictionSample {
			break
		}
	}
	if !dropped && found {
		delete(s.tat, victim)
	}
}

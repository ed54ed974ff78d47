package envelope

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Defaults of the memory stores.
const (
	// DefaultMaxSessions is the default capacity of a MemorySessionStore.
	DefaultMaxSessions = 100_000
	// DefaultMaxNonces is the default capacity of a MemoryNonceStore. With
	// the default nonce TTL of 10 minutes it holds the nonces of about
	// 1,700 requests per second.
	DefaultMaxNonces = 1 << 20
)

const (
	memoryShards = 64
	// evictionSample is how many sessions a full shard looks at to pick the
	// one to evict.
	evictionSample = 8
	// nonceSweepInterval is how often a full nonce shard may scan itself for
	// expired nonces.
	nonceSweepInterval = time.Second
)

// MemoryOption configures a memory store.
type MemoryOption func(*memoryConfig)

type memoryConfig struct {
	maxEntries int
	now        func() time.Time
}

// WithMaxEntries sets the capacity of a memory store. Values below the
// number of shards (64) are raised to it.
func WithMaxEntries(n int) MemoryOption {
	return func(c *memoryConfig) { c.maxEntries = n }
}

// WithClock sets the clock that decides expiry. The default is time.Now.
func WithClock(now func() time.Time) MemoryOption {
	return func(c *memoryConfig) { c.now = now }
}

func newMemoryConfig(defaultMax int, opts []MemoryOption) memoryConfig {
	cfg := memoryConfig{maxEntries: defaultMax, now: time.Now}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	cfg.maxEntries = max(cfg.maxEntries, memoryShards)
	return cfg
}

// MemorySessionStore is a SessionStore in this process: 64 shards, each a
// map under its own lock. An expired session is removed when it is looked
// up or when its shard needs room. A full shard evicts the session that
// expires first among 8 that it samples, and that client then opens a new
// session.
//
// NOTE: sessions in memory are visible to one gateway instance only; run
// several instances with the Redis store.
type MemorySessionStore struct {
	shards   [memoryShards]sessionShard
	perShard int
	now      func() time.Time
}

type sessionShard struct {
	mu       sync.Mutex
	sessions map[SessionID]*Session
}

var _ SessionStore = (*MemorySessionStore)(nil)

// NewMemorySessionStore returns an empty store with room for
// DefaultMaxSessions sessions, or as many as WithMaxEntries sets.
func NewMemorySessionStore(opts ...MemoryOption) *MemorySessionStore {
	cfg := newMemoryConfig(DefaultMaxSessions, opts)
	s := &MemorySessionStore{perShard: cfg.maxEntries / memoryShards, now: cfg.now}
	for i := range s.shards {
		s.shards[i].sessions = make(map[SessionID]*Session)
	}
	return s
}

func (s *MemorySessionStore) shard(id SessionID) *sessionShard {
	return &s.shards[id[0]%memoryShards]
}

// Put stores sess, evicting the session that expires first among a sample
// of its shard when the shard is full.
func (s *MemorySessionStore) Put(_ context.Context, sess *Session) error {
	sh := s.shard(sess.ID)
	sh.mu.Lock()
	defer sh.mu.Unlock()

	if _, ok := sh.sessions[sess.ID]; !ok && len(sh.sessions) >= s.perShard {
		sh.evict(s.now())
	}
	sh.sessions[sess.ID] = sess
	return nil
}

// evict removes one session: the one that expires first among a sample of
// the map, or every expired one in the sample. Go's map iteration starts at
// a random position, which makes the sample random enough.
func (sh *sessionShard) evict(now time.Time) {
	var victim *Session
	seen, expired := 0, 0
	for id, sess := range sh.sessions {
		if !sess.ExpiresAt.After(now) {
			delete(sh.sessions, id)
			expired++
		} else if victim == nil || sess.ExpiresAt.Before(victim.ExpiresAt) {
			victim = sess
		}
		seen++
		if seen == evictionSample {
			break
		}
	}
	if expired == 0 && victim != nil {
		delete(sh.sessions, victim.ID)
	}
}

// Get returns the session with ID id unless it has expired.
func (s *MemorySessionStore) Get(_ context.Context, id SessionID) (*Session, error) {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()

	sess, ok := sh.sessions[id]
	if !ok {
		return nil, ErrSessionNotFound
	}
	if !sess.ExpiresAt.After(s.now()) {
		delete(sh.sessions, id)
		return nil, ErrSessionNotFound
	}
	return sess, nil
}

// Delete removes the session with ID id.
func (s *MemorySessionStore) Delete(_ context.Context, id SessionID) error {
	sh := s.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.sessions, id)
	return nil
}

// Len returns the number of stored sessions, expired ones included until
// they are removed.
func (s *MemorySessionStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.sessions)
		sh.mu.Unlock()
	}
	return n
}

// MemoryNonceStore is a NonceStore in this process: 64 shards, each a map
// from session ID and nonce to expiry under its own lock. A full shard
// scans itself for expired nonces at most once a second and otherwise
// returns ErrStoreFull, because evicting a live nonce would let its request
// be replayed. Size it for the peak request rate times the nonce TTL.
//
// NOTE: nonces in memory are visible to one gateway instance only, so a
// request replayed to another instance would pass; run several instances
// with the Redis store.
type MemoryNonceStore struct {
	shards   [memoryShards]nonceShard
	perShard int
	now      func() time.Time
	// seed keys the shard choice, so that a client cannot pick nonces that
	// all land in one shard and fill it.
	seed maphash.Seed
}

type nonceKey [SessionIDSize + NonceSize]byte

type nonceShard struct {
	mu        sync.Mutex
	expiries  map[nonceKey]int64 // Unix nanoseconds
	lastSweep int64
}

var _ NonceStore = (*MemoryNonceStore)(nil)

// NewMemoryNonceStore returns an empty store with room for
// DefaultMaxNonces nonces, or as many as WithMaxEntries sets.
func NewMemoryNonceStore(opts ...MemoryOption) *MemoryNonceStore {
	cfg := newMemoryConfig(DefaultMaxNonces, opts)
	s := &MemoryNonceStore{perShard: cfg.maxEntries / memoryShards, now: cfg.now, seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].expiries = make(map[nonceKey]int64)
	}
	return s
}

// Claim records nonce for session id until ttl passes and reports whether
// it was new.
func (s *MemoryNonceStore) Claim(_ context.Context, id SessionID, nonce Nonce, ttl time.Duration) (bool, error) {
	var key nonceKey
	copy(key[:SessionIDSize], id[:])
	copy(key[SessionIDSize:], nonce[:])
	now := s.now().UnixNano()

	sh := &s.shards[maphash.Bytes(s.seed, key[:])%memoryShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()

	expiry, seen := sh.expiries[key]
	if seen && expiry > now {
		return false, nil
	}
	if !seen && len(sh.expiries) >= s.perShard && !sh.sweep(now) {
		return false, ErrStoreFull
	}
	sh.expiries[key] = now + int64(ttl)
	return true, nil
}

// sweep removes expired nonces, unless the shard swept less than
// nonceSweepInterval ago, and reports whether the shard has room.
func (sh *nonceShard) sweep(now int64) bool {
	if now-sh.lastSweep < int64(nonceSweepInterval) {
		return false
	}
	sh.lastSweep = now
	before := len(sh.expiries)
	for key, expiry := range sh.expiries {
		if expiry <= now {
			delete(sh.expiries, key)
		}
	}
	return len(sh.expiries) < before
}

package envelope

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix starts every key the Redis stores write.
const DefaultRedisPrefix = "jt:envelope:"

// RedisSessionStore is a SessionStore in Redis (6.2 or later), shared by
// every gateway instance. Each session is one string key,
// prefix + "session:" + ID, holding Session.MarshalBinary and expiring at
// the session's expiry (SET … PXAT).
//
// NOTE: the value holds the session keys as plain bytes, so anyone who can
// read Redis can read protected traffic. Production should wrap the value
// with a key-encryption key held by the crypto service before it reaches
// Redis.
type RedisSessionStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ SessionStore = (*RedisSessionStore)(nil)

// NewRedisSessionStore returns a store that keeps sessions in rdb under
// keys starting with prefix (DefaultRedisPrefix when empty).
func NewRedisSessionStore(rdb redis.UniversalClient, prefix string) *RedisSessionStore {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &RedisSessionStore{rdb: rdb, prefix: prefix}
}

func (s *RedisSessionStore) key(id SessionID) string {
	return s.prefix + "session:" + id.String()
}

// Put stores sess until sess.ExpiresAt.
func (s *RedisSessionStore) Put(ctx context.Context, sess *Session) error {
	data, err := sess.MarshalBinary()
	if err != nil {
		return err
	}
	err = s.rdb.Do(ctx, "set", s.key(sess.ID), data, "pxat", sess.ExpiresAt.UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("envelope: storing session in Redis: %w", err)
	}
	return nil
}

// Get returns the session with ID id, or ErrSessionNotFound.
func (s *RedisSessionStore) Get(ctx context.Context, id SessionID) (*Session, error) {
	data, err := s.rdb.Get(ctx, s.key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrSessionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("envelope: reading session from Redis: %w", err)
	}

	sess := new(Session)
	if err := sess.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	if sess.ID != id {
		return nil, fmt.Errorf("%w: stored under another session ID", errSessionEncoding)
	}
	return sess, nil
}

// Delete removes the session with ID id.
func (s *RedisSessionStore) Delete(ctx context.Context, id SessionID) error {
	if err := s.rdb.Del(ctx, s.key(id)).Err(); err != nil {
		return fmt.Errorf("envelope: deleting session from Redis: %w", err)
	}
	return nil
}

// RedisNonceStore is a NonceStore in Redis, shared by every gateway
// instance. Each nonce is one key, prefix + "nonce:" + session ID + ":" +
// nonce in hex, set with SET … NX PX ttl.
type RedisNonceStore struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ NonceStore = (*RedisNonceStore)(nil)

// NewRedisNonceStore returns a store that keeps nonces in rdb under keys
// starting with prefix (DefaultRedisPrefix when empty).
func NewRedisNonceStore(rdb redis.UniversalClient, prefix string) *RedisNonceStore {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &RedisNonceStore{rdb: rdb, prefix: prefix}
}

// Claim records nonce for session id for ttl and reports whether it was
// new.
func (s *RedisNonceStore) Claim(ctx context.Context, id SessionID, nonce Nonce, ttl time.Duration) (bool, error) {
	// go-redis treats a TTL of 0 as "never expires".
	if ttl <= 0 {
		return false, fmt.Errorf("envelope: nonce TTL %v is not positive", ttl)
	}
	key := make([]byte, 0, len(s.prefix)+6+22+1+2*NonceSize)
	key = append(key, s.prefix...)
	key = append(key, "nonce:"...)
	key = append(key, id.String()...)
	key = append(key, ':')
	key = hex.AppendEncode(key, nonce[:])

	fresh, err := s.rdb.SetNX(ctx, string(key), 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("envelope: storing nonce in Redis: %w", err)
	}
	return fresh, nil
}

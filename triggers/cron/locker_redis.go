package cron

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults of RedisLockerOptions.
const (
	// DefaultRedisPrefix starts every key of RedisLocker.
	DefaultRedisPrefix = "jt:cron:"
	// DefaultClaimTTL is how long a tick's claim key lives. It must exceed
	// the longest run, because a failed run can restore the job's previous
	// last tick only while the claim key exists.
	DefaultClaimTTL = 24 * time.Hour
)

// RedisLocker is a Locker in Redis. Each job has two kinds of key, with the
// job in a hash tag so that both live in one Redis Cluster slot:
//
//	<prefix>{<job>}:last          the latest claimed tick in Unix seconds, no expiry
//	<prefix>{<job>}:tick:<unix>   one claim, set with SET NX PX <ttl>; its value is
//	                              the last tick before the claim, or "" for none
//
// Claim runs one Lua script that compares the tick with the last key, sets
// the claim key with NX and then moves the last key, so each tick is claimed
// once and never after a later tick.
type RedisLocker struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

var _ Locker = (*RedisLocker)(nil)

// RedisLockerOptions configure NewRedisLocker. The zero value takes the
// defaults.
type RedisLockerOptions struct {
	// Prefix starts every key. Default DefaultRedisPrefix ("jt:cron:").
	Prefix string
	// ClaimTTL is the expiry of claim keys. Default DefaultClaimTTL (24 h).
	ClaimTTL time.Duration
}

// NewRedisLocker returns a Locker on rdb. The caller closes rdb.
func NewRedisLocker(rdb redis.UniversalClient, opts RedisLockerOptions) *RedisLocker {
	l := &RedisLocker{rdb: rdb, prefix: opts.Prefix, ttl: opts.ClaimTTL}
	if l.prefix == "" {
		l.prefix = DefaultRedisPrefix
	}
	if l.ttl <= 0 {
		l.ttl = DefaultClaimTTL
	}
	return l
}

// claimScript claims ARGV[1] (a tick in Unix seconds) with KEYS[1] the last
// key and KEYS[2] the claim key, whose expiry is ARGV[2] milliseconds. It
// returns 1 when it made the claim.
var claimScript = redis.NewScript(`
local last = redis.call('GET', KEYS[1])
if last and tonumber(last) >= tonumber(ARGV[1]) then
	return 0
end
if not redis.call('SET', KEYS[2], last or '', 'NX', 'PX', ARGV[2]) then
	return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`)

// releaseScript undoes the claim of ARGV[1] after a failed run. When the
// tick is still the last one, the last key goes back to the value stored in
// the claim key. A later claim, or an expired claim key, leaves it alone.
var releaseScript = redis.NewScript(`
local previous = redis.call('GET', KEYS[2])
if previous and redis.call('GET', KEYS[1]) == ARGV[1] then
	if previous == '' then
		redis.call('DEL', KEYS[1])
	else
		redis.call('SET', KEYS[1], previous)
	end
end
redis.call('DEL', KEYS[2])
return 1
`)

// Claim implements Locker.
func (l *RedisLocker) Claim(ctx context.Context, job string, tick time.Time) (bool, error) {
	keys := []string{l.lastKey(job), l.claimKey(job, tick)}
	n, err := claimScript.Run(ctx, l.rdb, keys, tick.Unix(), l.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("cron: claiming tick %s of %q in Redis: %w", tick.UTC().Format(time.RFC3339), job, err)
	}
	return n == 1, nil
}

// Finish implements Locker. A successful run changes nothing: the claim key
// expires on its own.
func (l *RedisLocker) Finish(ctx context.Context, job string, tick time.Time, runErr error) error {
	if runErr == nil {
		return nil
	}
	keys := []string{l.lastKey(job), l.claimKey(job, tick)}
	if err := releaseScript.Run(ctx, l.rdb, keys, strconv.FormatInt(tick.Unix(), 10)).Err(); err != nil {
		return fmt.Errorf("cron: releasing tick %s of %q in Redis: %w", tick.UTC().Format(time.RFC3339), job, err)
	}
	return nil
}

// Last implements Locker.
func (l *RedisLocker) Last(ctx context.Context, job string) (time.Time, bool, error) {
	v, err := l.rdb.Get(ctx, l.lastKey(job)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cron: reading the last tick of %q from Redis: %w", job, err)
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cron: last tick of %q in Redis is %q, not Unix seconds", job, v)
	}
	return time.Unix(sec, 0), true, nil
}

func (l *RedisLocker) lastKey(job string) string {
	return l.prefix + "{" + job + "}:last"
}

func (l *RedisLocker) claimKey(job string, tick time.Time) string {
	return l.prefix + "{" + job + "}:tick:" + strconv.FormatInt(tick.Unix(), 10)
}

package ratelimit

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jingtong/backend/shared/httpx"
)

// Response header names. RateLimit and RateLimit-Policy, and their formats
// below, follow draft-ietf-httpapi-ratelimit-headers-10 (September 2025),
// the revision read for this code. Revisions -11 and -12 exist. The one
// change seen from them lets a policy name be a Token as well as a String,
// so the quoted names written here stay valid.
const (
	HeaderRetryAfter      = "Retry-After"
	HeaderRateLimit       = "RateLimit"
	HeaderRateLimitPolicy = "RateLimit-Policy"
)

// Error codes written by the middleware.
var (
	CodeRateLimited = httpx.NewCode("RATE_LIMITED", http.StatusTooManyRequests,
		"请求过于频繁，请 %d 秒后重试",
		"too many requests; retry in %d seconds")
	CodeOverloaded = httpx.NewCode("OVERLOADED", http.StatusServiceUnavailable,
		"服务繁忙，请 %d 秒后重试",
		"the service is busy; retry in %d seconds")
)

// unavailableRetryAfter is the Retry-After sent with the 503 that a
// fail-closed limiter causes while its backend is down.
const unavailableRetryAfter = time.Second

// Decision is the result of one policy for one request.
type Decision struct {
	Name   string // policy name, as in Policy.Name
	Result Result
}

// PolicyField returns the RateLimit-Policy field value for decisions, one
// quota policy item per decision:
//
//	"per-user";q=20;w=60, "per-ip";q=100;w=10
//
// q is Limit.Burst, the most a caller can have in hand, and w is the time
// the whole burst takes to refill (Burst*Period/Rate), in seconds rounded up
// and at least 1. q/w is therefore the sustained rate, never more than the
// enforced one.
func PolicyField(decisions ...Decision) string {
	if len(decisions) == 1 {
		return policyItem(decisions[0])
	}
	slot := &policyFields[policyListHash(decisions)%uint64(len(policyFields))]
	if f := slot.Load(); f != nil && f.lists(decisions) {
		return f.value
	}

	var items [8]string
	parts := items[:0]
	size := 0
	for _, d := range decisions {
		item := policyItem(d)
		parts = append(parts, item)
		size += len(item) + 2
	}
	var b strings.Builder
	b.Grow(size)
	for i, item := range parts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(item)
	}
	f := &policyFieldEntry{value: b.String(), keys: make([]policyKey, len(decisions))}
	for i, d := range decisions {
		f.keys[i] = policyKey{name: d.Name, limit: d.Result.Limit}
	}
	slot.Store(f)
	return f.value
}

// policyFields caches whole RateLimit-Policy values of several policies,
// indexed by policyListHash. A gateway sends the same few lists of
// policies on every response, and one hash and compare costs less than a
// lookup per item. A slot keeps the list stored last, so two lists that
// share a slot take turns and stay correct.
var policyFields [64]atomic.Pointer[policyFieldEntry]

type policyFieldEntry struct {
	keys  []policyKey
	value string
}

// lists reports whether the entry is the field for decisions.
func (f *policyFieldEntry) lists(decisions []Decision) bool {
	if len(f.keys) != len(decisions) {
		return false
	}
	for i, d := range decisions {
		if f.keys[i].name != d.Name || f.keys[i].limit != d.Result.Limit {
			return false
		}
	}
	return true
}

// policyListHash returns an FNV-1a hash of the decisions' policy names and
// limits.
func policyListHash(decisions []Decision) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	for _, d := range decisions {
		for i := 0; i < len(d.Name); i++ {
			h = (h ^ uint64(d.Name[i])) * prime
		}
		l := d.Result.Limit
		for _, v := range [...]uint64{uint64(l.Rate), uint64(l.Period), uint64(l.Burst)} {
			h = (h ^ v) * prime
		}
	}
	return h
}

// policyItems caches the RateLimit-Policy item of each policy name and
// limit: the item never changes for them, and the gateway writes it on
// every response.
var policyItems sync.Map // policyKey → string

type policyKey struct {
	name  string
	limit Limit
}

func policyItem(d Decision) string {
	key := policyKey{name: d.Name, limit: d.Result.Limit}
	if v, ok := policyItems.Load(key); ok {
		return v.(string)
	}

	l := d.Result.Limit
	window := time.Duration(l.Burst) * l.EmissionInterval()
	var b strings.Builder
	writeSFString(&b, d.Name)
	b.WriteString(";q=")
	b.WriteString(strconv.Itoa(l.Burst))
	b.WriteString(";w=")
	b.WriteString(strconv.FormatInt(max(ceilSeconds(window), 1), 10))
	item := b.String()
	policyItems.Store(key, item)
	return item
}

// RateLimitField returns the RateLimit field value for decisions, one
// service limit item per decision that is not Degraded:
//
//	"per-user";r=19;t=3
//
// r is Result.Remaining. t is the number of seconds, rounded up, until the
// next unit of quota is added, which is what the draft defines t to be. For
// a denied request t equals Retry-After. When the bucket is full, t is left
// out, as the draft does for a quota with no pending reset. Degraded results
// are left out because their counts do not describe the shared quota. It
// returns "" when no item remains.
func RateLimitField(decisions ...Decision) string {
	var b strings.Builder
	b.Grow(48 * len(decisions))
	var num [20]byte
	for _, d := range decisions {
		if d.Result.Degraded {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		writeSFString(&b, d.Name)
		b.WriteString(";r=")
		b.Write(strconv.AppendInt(num[:0], int64(d.Result.Remaining), 10))
		if wait, ok := d.Result.nextRefill(); ok {
			b.WriteString(";t=")
			b.Write(strconv.AppendInt(num[:0], ceilSeconds(wait), 10))
		}
	}
	return b.String()
}

// SetHeaders sets RateLimit-Policy and RateLimit on h for decisions, on
// allowed and denied responses alike. It sets nothing for no decisions, and
// leaves RateLimit out when every result is Degraded.
func SetHeaders(h http.Header, decisions ...Decision) {
	if len(decisions) == 0 {
		return
	}
	// The field names are set in their canonical form directly, which
	// spares Header.Set an allocation for each.
	h[canonicalRateLimitPolicy] = []string{PolicyField(decisions...)}
	if v := RateLimitField(decisions...); v != "" {
		h[canonicalRateLimit] = []string{v}
	} else {
		delete(h, canonicalRateLimit)
	}
}

var (
	canonicalRateLimit       = http.CanonicalHeaderKey(HeaderRateLimit)
	canonicalRateLimitPolicy = http.CanonicalHeaderKey(HeaderRateLimitPolicy)
)

// RetryAfterSeconds returns d as a Retry-After value: whole seconds, rounded
// up, and at least 1 so that a client never retries in a tight loop.
func RetryAfterSeconds(d time.Duration) int64 {
	return max(ceilSeconds(d), 1)
}

// WriteTooManyRequests writes a 429 response for decisions: RateLimit-Policy
// and RateLimit as SetHeaders sets them, Retry-After for the longest
// RetryAfter among the denied results, and a RATE_LIMITED error body through
// httpx.WriteError, which logs it at Debug.
func WriteTooManyRequests(w http.ResponseWriter, r *http.Request, logger *slog.Logger, decisions ...Decision) {
	var wait time.Duration
	for _, d := range decisions {
		if !d.Result.Allowed {
			wait = max(wait, d.Result.RetryAfter)
		}
	}
	seconds := RetryAfterSeconds(wait)

	SetHeaders(w.Header(), decisions...)
	w.Header().Set(HeaderRetryAfter, strconv.FormatInt(seconds, 10))
	httpx.WriteError(w, r, logger, httpx.E(CodeRateLimited, seconds))
}

// Middleware returns HTTP middleware that checks each request against
// policies, in order, with keys built from keyOf's Key. A policy whose key
// parts are missing from the request is skipped (see Policy.Key).
//
// An allowed request gets RateLimit-Policy and RateLimit headers for every
// policy checked and goes on to the next handler. The first denial stops
// the checks, and WriteTooManyRequests writes the 429 response. Quota that
// earlier policies took for a denied request is not returned. List the
// narrowest policies (per user, per IP) before shared ones (per route), so
// that one caller's excess cannot spend a quota others share.
//
// A limiter error gets a 503 NOT_READY response with Retry-After: 1 when it
// wraps ErrUnavailable (a fail-closed limiter whose backend is down), and a
// 500 response otherwise. It panics when a policy is invalid, so validate
// configuration with Policy.Validate first. A nil logger discards the log.
func Middleware(l Limiter, keyOf func(*http.Request) Key, policies []Policy, logger *slog.Logger) func(http.Handler) http.Handler {
	for _, p := range policies {
		if err := p.Validate(); err != nil {
			panic(err.Error())
		}
	}
	policies = slices.Clone(policies)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := keyOf(r)
			decisions := make([]Decision, 0, len(policies))
			for _, p := range policies {
				k, ok := p.Key(key)
				if !ok {
					continue
				}
				res, err := l.Allow(r.Context(), k, p.Limit, 1)
				if err != nil {
					writeLimiterError(w, r, logger, err)
					return
				}
				decisions = append(decisions, Decision{Name: p.Name, Result: res})
				if !res.Allowed {
					WriteTooManyRequests(w, r, logger, decisions...)
					return
				}
			}

			SetHeaders(w.Header(), decisions...)
			next.ServeHTTP(w, r)
		})
	}
}

// writeLimiterError writes the response to a request whose limiter call
// failed.
func writeLimiterError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if errors.Is(err, ErrUnavailable) {
		w.Header().Set(HeaderRetryAfter, strconv.FormatInt(RetryAfterSeconds(unavailableRetryAfter), 10))
		httpx.WriteError(w, r, logger, httpx.Wrap(httpx.CodeNotReady, err))
		return
	}
	httpx.WriteError(w, r, logger, err)
}

// writeSFString writes s as a Structured Field String (RFC 8941): quoted,
// with backslash and double quote escaped. Bytes outside printable ASCII,
// which a String cannot hold, are written as "?". Valid policy names
// contain none.
func writeSFString(b *strings.Builder, s string) {
	b.WriteByte('"')
	if plainSFString(s) {
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// plainSFString reports whether s can be written in a Structured Field
// String as it is, which holds for every valid policy name.
func plainSFString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '"' || c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

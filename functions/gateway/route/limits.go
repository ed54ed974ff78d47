package route

import (
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/ratelimit"
)

// RateLimit is a compiled page-level limit (页面限流) of a route, ready to
// feed to a ratelimit.Limiter.
type RateLimit struct {
	// Name is the limit's name, used in RateLimit headers.
	Name  string
	Limit ratelimit.Limit

	route  string
	policy ratelimit.Policy
	zones  *zoneMatcher // nil when the limit has no zone pattern
}

// maxRememberedPaths bounds the paths a zoneMatcher remembers. A catalogue
// has a few hundred zone pages at most, and paths past the bound are still
// matched, only without the memo.
const maxRememberedPaths = 4096

// maxRememberedPathLength bounds the length of a remembered path, so that
// the memo stays under about 2 MiB however long the paths that clients
// send. Zone page paths are far shorter.
const maxRememberedPathLength = 256

// zoneMatcher applies a limit's zone pattern to request paths and
// remembers the outcome per path, because the regexp costs more than the
// rest of a limit check and the same few zone pages get most requests.
type zoneMatcher struct {
	pattern *regexp.Regexp
	group   int    // submatch index of the zone id, or 0 when by has no zone
	route   string // the route name that keys start with

	memo       sync.Map // path → zoneMatch
	remembered atomic.Int32
}

// zoneMatch is the outcome of matching one path.
type zoneMatch struct {
	ok    bool   // the path matches and, when the limit counts by zone, names one
	route string // the key's route part: the route name, plus "/" and the zone id
}

// match returns the key's route part for path, or false when the limit
// does not apply to path.
func (z *zoneMatcher) match(path string) (string, bool) {
	if v, ok := z.memo.Load(path); ok {
		m := v.(zoneMatch)
		return m.route, m.ok
	}
	m := z.compute(path)
	if len(path) <= maxRememberedPathLength && z.remembered.Load() < maxRememberedPaths {
		// net/http's URL.Path can share memory with the whole request
		// line, so the key is a copy of the path alone.
		if _, loaded := z.memo.LoadOrStore(strings.Clone(path), m); !loaded {
			z.remembered.Add(1)
		}
	}
	return m.route, m.ok
}

func (z *zoneMatcher) compute(path string) zoneMatch {
	m := z.pattern.FindStringSubmatchIndex(path)
	if m == nil {
		return zoneMatch{}
	}
	if z.group == 0 {
		return zoneMatch{ok: true, route: z.route}
	}
	start, end := m[2*z.group], m[2*z.group+1]
	if start < 0 || start == end {
		return zoneMatch{}
	}
	// Route names contain no "/", so the first "/" separates the route
	// from the zone id and keys stay distinct.
	return zoneMatch{ok: true, route: z.route + "/" + path[start:end]}
}

func newRateLimit(route string, c RateLimitConfig) *RateLimit {
	l := &RateLimit{Name: c.Name, Limit: c.limit(), route: route}
	parts := ratelimit.PartRoute
	zone := false
	for _, p := range c.By {
		parts |= limitParts[p]
		zone = zone || p == "zone"
	}
	l.policy = ratelimit.Policy{Name: c.Name, Limit: l.Limit, Parts: parts}
	if c.ZonePattern != "" {
		z := &zoneMatcher{pattern: regexp.MustCompile(c.ZonePattern), route: route}
		if zone {
			z.group = 1
			if i := z.pattern.SubexpIndex("zone"); i > 0 {
				z.group = i
			}
		}
		l.zones = z
	}
	return l
}

// Key returns the limiter key for a request to path made by k's caller.
// The route name, and the zone id when the limit counts by zone, replace
// k.Route, so that every route and zone has a quota of its own. It returns
// false when the limit does not apply: the path does not match the zone
// pattern, the zone id is empty, or a part the limit counts by (user, ip,
// channel or app) is empty in k.
func (l *RateLimit) Key(path string, k ratelimit.Key) (string, bool) {
	k.Route = l.route
	if l.zones != nil {
		route, ok := l.zones.match(path)
		if !ok {
			return "", false
		}
		k.Route = route
	}
	return l.policy.Key(k)
}

// LimitMiddleware returns a wrapper for Router.Handler that checks each
// request against its route's RateLimits with limiter, in table order. keyOf
// supplies the caller's parts (user, ip, channel, app); its Route is
// replaced. Allowed requests get RateLimit and RateLimit-Policy headers; the
// first denial gets 429 RATE_LIMITED with Retry-After. A limiter error
// wrapping ratelimit.ErrUnavailable gets 503 NOT_READY, any other a 500.
func LimitMiddleware(limiter ratelimit.Limiter, keyOf func(*http.Request) ratelimit.Key, logger *slog.Logger) func(*Route, http.Handler) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(rt *Route, next http.Handler) http.Handler {
		if len(rt.RateLimits) == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			base := keyOf(r)
			decisions := make([]ratelimit.Decision, 0, len(rt.RateLimits))
			for _, l := range rt.RateLimits {
				key, ok := l.Key(r.URL.Path, base)
				if !ok {
					continue
				}
				res, err := limiter.Allow(r.Context(), key, l.Limit, 1)
				if err != nil {
					if errors.Is(err, ratelimit.ErrUnavailable) {
						w.Header().Set(ratelimit.HeaderRetryAfter, strconv.Itoa(1))
						httpx.WriteError(w, r, logger, httpx.Wrap(httpx.CodeNotReady, err))
						return
					}
					httpx.WriteError(w, r, logger, err)
					return
				}
				decisions = append(decisions, ratelimit.Decision{Name: l.Name, Result: res})
				if !res.Allowed {
					ratelimit.WriteTooManyRequests(w, r, logger, decisions...)
					return
				}
			}
			ratelimit.SetHeaders(w.Header(), decisions...)
			next.ServeHTTP(w, r)
		})
	}
}

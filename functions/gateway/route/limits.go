package route

import (
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/ratelimit"
)

// RateLimit is a compiled page-level limit (页面限流) of a route, ready to
// feed to a ratelimit.Limiter.
type RateLimit struct {
	// Name is the limit's name, used in RateLimit headers.
	Name  string
	Limit ratelimit.Limit

	route   string
	policy  ratelimit.Policy
	pattern *regexp.Regexp
	group   int // submatch index of the zone id, or 0 when by has no zone
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
		l.pattern = regexp.MustCompile(c.ZonePattern)
		if zone {
			l.group = 1
			if i := l.pattern.SubexpIndex("zone"); i > 0 {
				l.group = i
			}
		}
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
	if l.pattern != nil {
		m := l.pattern.FindStringSubmatchIndex(path)
		if m == nil {
			return "", false
		}
		if l.group > 0 {
			start, end := m[2*l.group], m[2*l.group+1]
			if start < 0 || start == end {
				return "", false
			}
			// Route names contain no "/", so the first "/" separates the
			// route from the zone id and keys stay distinct.
			k.Route = l.route + "/" + path[start:end]
		}
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

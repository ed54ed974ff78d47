package route

import (
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// upstream is one upstream server with its health state.
type upstream struct {
	url    *url.URL
	raw    string
	weight int

	// activeDown is set by the active checker after UnhealthyThreshold
	// failed probes and cleared after HealthyThreshold good ones.
	activeDown atomic.Bool
	// probeOK and probeFailed are consecutive probe results. Only the
	// checker goroutine of the upstream's route touches them.
	probeOK, probeFailed int

	// failures counts consecutive failed requests for passive checks, and
	// downUntil is the Now-based Unix time in nanoseconds before which
	// passive checks keep the upstream out of rotation.
	failures  atomic.Int32
	downUntil atomic.Int64
}

// available reports whether u may take requests at now (Unix nanoseconds).
func (u *upstream) available(now int64) bool {
	return !u.activeDown.Load() && now >= u.downUntil.Load()
}

// passiveHealth is the passive check configuration of a pool.
type passiveHealth struct {
	maxFailures int32
	coolDown    time.Duration
}

// pool picks upstreams for one target: round robin or smooth weighted
// round robin over the upstreams that are available.
type pool struct {
	route     string
	upstreams []*upstream
	weighted  bool
	passive   *passiveHealth
	now       func() time.Time
	logger    *slog.Logger

	next atomic.Uint64

	mu      sync.Mutex
	current []int // smooth weighted round robin state, guarded by mu
}

func newPool(route string, t TargetConfig, passive *passiveHealth, now func() time.Time, logger *slog.Logger) *pool {
	p := &pool{
		route:    route,
		weighted: t.Balance == BalanceWeighted,
		passive:  passive,
		now:      now,
		logger:   logger,
	}
	for _, uc := range t.Upstreams {
		u, err := url.Parse(uc.URL)
		if err != nil {
			continue // Validate rejected it already.
		}
		u.Path = trimTrailingSlash(u.Path)
		u.RawPath = trimTrailingSlash(u.RawPath)
		weight := uc.Weight
		if weight == 0 {
			weight = 1
		}
		p.upstreams = append(p.upstreams, &upstream{url: u, raw: uc.URL, weight: weight})
	}
	p.current = make([]int, len(p.upstreams))
	return p
}

func trimTrailingSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// pick returns the next available upstream whose bit in tried is clear,
// with its index, or nil when none is left.
func (p *pool) pick(tried uint64) (*upstream, int) {
	var now int64
	if p.passive != nil {
		now = p.now().UnixNano()
	}
	if p.weighted {
		return p.pickWeighted(tried, now)
	}

	n := uint64(len(p.upstreams))
	start := p.next.Add(1) - 1
	for i := range n {
		idx := (start + i) % n
		u := p.upstreams[idx]
		if tried&(1<<idx) == 0 && u.available(now) {
			return u, int(idx)
		}
	}
	return nil, -1
}

// pickWeighted runs one step of smooth weighted round robin, the algorithm
// of nginx's upstream module: every candidate's current weight grows by its
// weight, the largest wins and loses the total. Over any window of
// sum(weights) picks each upstream is chosen weight times, spread out
// rather than in runs.
func (p *pool) pickWeighted(tried uint64, now int64) (*upstream, int) {
	p.mu.Lock()
	defer p.mu.Unlock()

	best, total := -1, 0
	for i, u := range p.upstreams {
		if tried&(1<<uint(i)) != 0 || !u.available(now) {
			continue
		}
		p.current[i] += u.weight
		total += u.weight
		if best < 0 || p.current[i] > p.current[best] {
			best = i
		}
	}
	if best < 0 {
		return nil, -1
	}
	p.current[best] -= total
	return p.upstreams[best], best
}

// report records the outcome of a request to u for passive health checks.
func (p *pool) report(u *upstream, ok bool) {
	if p.passive == nil {
		return
	}
	if ok {
		if u.failures.Load() != 0 {
			u.failures.Store(0)
		}
		return
	}
	if u.failures.Add(1) < p.passive.maxFailures {
		return
	}
	u.failures.Store(0)
	u.downUntil.Store(p.now().Add(p.passive.coolDown).UnixNano())
	p.logger.Warn("upstream taken out of rotation after consecutive failures",
		"route", p.route, "upstream", u.raw, "failures", p.passive.maxFailures, "cool_down", p.passive.coolDown.String())
}

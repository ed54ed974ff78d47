package route

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// maxProbeBody is how much of a health response is read before the
// connection is reused.
const maxProbeBody = 4 << 10

// activeChecker probes the upstreams of one route.
type activeChecker struct {
	route              string
	path               string
	interval, timeout  time.Duration
	healthy, unhealthy int
	upstreams          []*upstream
	client             *http.Client
	logger             *slog.Logger
}

func newActiveChecker(route string, cfg *ActiveHealthConfig, pools []*pool, transport http.RoundTripper, logger *slog.Logger) *activeChecker {
	c := &activeChecker{
		route:     route,
		path:      cfg.Path,
		interval:  time.Duration(cfg.Interval),
		timeout:   time.Duration(cfg.Timeout),
		healthy:   cfg.HealthyThreshold,
		unhealthy: cfg.UnhealthyThreshold,
		logger:    logger,
		client: &http.Client{
			Transport: transport,
			// The probe counts a 3xx status as healthy instead of following
			// the redirect.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if c.interval == 0 {
		c.interval = DefaultHealthInterval
	}
	if c.timeout == 0 {
		c.timeout = min(c.interval, DefaultHealthTimeout)
	}
	if c.healthy == 0 {
		c.healthy = DefaultHealthyThreshold
	}
	if c.unhealthy == 0 {
		c.unhealthy = DefaultUnhealthyThreshold
	}
	for _, p := range pools {
		c.upstreams = append(c.upstreams, p.upstreams...)
	}
	return c
}

// run probes every upstream at once, then again each interval, until ctx
// is done. A round waits for its probes, each bounded by the timeout, so
// at most one probe per upstream is in flight.
func (c *activeChecker) run(ctx context.Context) {
	ticker := time.NewTicker(c.interval)
	defer ticker.Stop()
	for {
		c.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func (c *activeChecker) round(ctx context.Context) {
	var wg sync.WaitGroup
	for _, u := range c.upstreams {
		wg.Go(func() {
			ok := c.probe(ctx, u)
			if ctx.Err() != nil {
				return
			}
			c.record(u, ok)
		})
	}
	wg.Wait()
}

func (c *activeChecker) probe(ctx context.Context, u *upstream) bool {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	target := *u.url
	target.Path = u.url.Path + c.path
	target.RawPath = ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "jingtong-gateway-health")
	resp, err := c.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// record updates u's consecutive results and its active state.
func (c *activeChecker) record(u *upstream, ok bool) {
	if ok {
		u.probeOK++
		u.probeFailed = 0
		if u.activeDown.Load() && u.probeOK >= c.healthy {
			u.activeDown.Store(false)
			c.logger.Info("upstream passed its health checks and is back in rotation", "route", c.route, "upstream", u.raw)
		}
		return
	}
	u.probeFailed++
	u.probeOK = 0
	if !u.activeDown.Load() && u.probeFailed >= c.unhealthy {
		u.activeDown.Store(true)
		c.logger.Warn("upstream failed its health checks and is out of rotation",
			"route", c.route, "upstream", u.raw, "failures", u.probeFailed)
	}
}

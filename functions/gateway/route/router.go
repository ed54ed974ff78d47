package route

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jingtong/backend/shared/httpx"
)

// DefaultRetryBufferBytes is the largest request body buffered in memory
// so that an idempotent request can be retried on another upstream.
const DefaultRetryBufferBytes = 64 << 10

// Options are the router's dependencies. Every field is optional.
type Options struct {
	// Functions are the in-process handlers that function targets name.
	// The gateway in localdev hosts them in the same process.
	Functions map[string]http.Handler

	// Transport sends upstream requests and health probes. Default:
	// NewLeanTransport().
	Transport http.RoundTripper

	// Now returns the current time, for passive health checks. Default:
	// time.Now.
	Now func() time.Time

	// Logger receives 5xx outcomes at Error, retries and health changes at
	// Warn and 4xx outcomes at Debug. Default: discard.
	Logger *slog.Logger

	// RetryBufferBytes caps the request bodies buffered for retries.
	// Larger bodies are streamed and not retried. Default
	// DefaultRetryBufferBytes.
	RetryBufferBytes int64
}

// Route is a compiled route. Its exported fields are read-only.
type Route struct {
	Name    string
	Prefix  string
	Class   Class
	Methods []string // allowed methods, HEAD included wherever GET is

	// MaxBodyBytes caps the request body.
	MaxBodyBytes int64

	// RateLimits are the route's page-level limits, in table order.
	RateLimits []*RateLimit

	// Config is the route as written in the table. A route that names a
	// shared CORS policy has the name in Config.CORSPolicy and nil in
	// Config.CORS.
	Config RouteConfig

	methods    uint8 // bit i set when knownMethods[i] is allowed
	target     *targetSet
	versions   *versionSet
	rewrite    *rewriter
	timeout    time.Duration
	tryTimeout time.Duration
	retries    int
	cors       *cors
	convert    *converter
	errors     map[string]httpx.Code
}

// allows reports whether the route allows method.
func (rt *Route) allows(method string) bool {
	i := slices.Index(knownMethods, method)
	return i >= 0 && rt.methods&(1<<i) != 0
}

// targetSet is an in-process function or a pool of upstreams.
type targetSet struct {
	fn   http.Handler
	pool *pool
}

// versionSet selects a target set by API version.
type versionSet struct {
	header, query, def string
	targets            map[string]*targetSet
	names              string // the versions, for error messages
}

// Router matches requests to routes and forwards them.
type Router struct {
	routes    []*Route
	byPrefix  map[string][]*Route
	transport http.RoundTripper
	ownTrans  bool // the router made transport and closes its idle connections
	now       func() time.Time
	logger    *slog.Logger
	retryBuf  int64

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New compiles table into a Router and starts the active health checks,
// which run until Close. It validates table first and returns a
// *ValidationError, and it returns an error naming every function target
// missing from opts.Functions.
func New(table *Table, opts Options) (*Router, error) {
	if err := table.Validate(); err != nil {
		return nil, err
	}
	ownTransport := opts.Transport == nil
	if ownTransport {
		opts.Transport = NewLeanTransport()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.RetryBufferBytes <= 0 {
		opts.RetryBufferBytes = DefaultRetryBufferBytes
	}
	if err := checkFunctions(table, opts.Functions); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithCancel(context.Background())
	rt := &Router{
		byPrefix:  map[string][]*Route{},
		transport: opts.Transport,
		ownTrans:  ownTransport,
		now:       opts.Now,
		logger:    opts.Logger,
		retryBuf:  opts.RetryBufferBytes,
		cancel:    cancel,
	}
	for _, cfg := range table.Routes {
		r, checker := rt.compile(cfg, table.corsFor(&cfg), opts)
		rt.routes = append(rt.routes, r)
		rt.byPrefix[r.Prefix] = append(rt.byPrefix[r.Prefix], r)
		if checker != nil {
			rt.wg.Go(func() { checker.run(ctx) })
		}
	}
	return rt, nil
}

// checkFunctions returns an error naming the function targets of table
// that functions lacks.
func checkFunctions(table *Table, functions map[string]http.Handler) error {
	var missing []string
	note := func(path string, t TargetConfig) {
		if t.Function != "" && functions[t.Function] == nil {
			missing = append(missing, fmt.Sprintf("%s: function %q", path, t.Function))
		}
	}
	for i, r := range table.Routes {
		if r.Class == ClassInternal {
			continue // never forwarded by the public edge
		}
		note(ptr("/routes", i, "target"), r.Target)
		if r.Versions != nil {
			for _, v := range sortedKeys(r.Versions.Targets) {
				note(ptr("/routes", i, "versions", "targets", v), r.Versions.Targets[v])
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("route: no handler in Options.Functions for %s", strings.Join(missing, "; "))
	}
	return nil
}

// compile builds a Route, and its active health checker when it has one.
// corsConfig is the route's CORS policy, inline or named, which compiles
// with the route's own methods.
func (rt *Router) compile(cfg RouteConfig, corsConfig *CORSConfig, opts Options) (*Route, *activeChecker) {
	r := &Route{
		Name:         cfg.Name,
		Prefix:       cfg.Prefix,
		Class:        cfg.Class,
		Methods:      normalizeMethods(cfg.Methods),
		MaxBodyBytes: cfg.MaxBodyBytes,
		Config:       cfg,
		rewrite:      newRewriter(cfg.Prefix, cfg.Rewrite),
		timeout:      time.Duration(cfg.Timeout),
		tryTimeout:   time.Duration(cfg.TryTimeout),
		retries:      cfg.Retries,
		convert:      newConverter(cfg.Convert),
		errors:       map[string]httpx.Code{},
	}
	for i, m := range knownMethods {
		if slices.Contains(r.Methods, m) {
			r.methods |= 1 << i
		}
	}
	r.cors = newCORS(corsConfig, r.Methods)
	if r.MaxBodyBytes == 0 {
		r.MaxBodyBytes = DefaultMaxBody
	}
	if r.timeout == 0 {
		r.timeout = DefaultTimeout
	}
	if r.tryTimeout == 0 || r.tryTimeout > r.timeout {
		r.tryTimeout = r.timeout
	}
	for key, t := range cfg.Errors {
		r.errors[key] = httpx.Code{ID: t.Code, Status: t.Status, ZH: escapePercent(t.ZH), EN: escapePercent(t.EN)}
	}
	for _, l := range cfg.RateLimits {
		r.RateLimits = append(r.RateLimits, newRateLimit(cfg.Name, l))
	}
	if cfg.Class == ClassInternal {
		return r, nil
	}

	var passive *passiveHealth
	if cfg.Health != nil && cfg.Health.Passive != nil {
		passive = &passiveHealth{maxFailures: int32(cfg.Health.Passive.MaxFailures), coolDown: time.Duration(cfg.Health.Passive.CoolDown)}
		if passive.maxFailures == 0 {
			passive.maxFailures = DefaultMaxFailures
		}
		if passive.coolDown == 0 {
			passive.coolDown = DefaultCoolDown
		}
	}
	var pools []*pool
	newSet := func(t TargetConfig) *targetSet {
		if t.Function != "" {
			return &targetSet{fn: opts.Functions[t.Function]}
		}
		p := newPool(cfg.Name, t, passive, rt.now, rt.logger)
		pools = append(pools, p)
		return &targetSet{pool: p}
	}
	if !cfg.Target.empty() {
		r.target = newSet(cfg.Target)
	}
	if v := cfg.Versions; v != nil {
		r.versions = &versionSet{header: v.Header, query: v.Query, def: v.Default, targets: map[string]*targetSet{}}
		names := sortedKeys(v.Targets)
		for _, name := range names {
			r.versions.targets[name] = newSet(v.Targets[name])
		}
		r.versions.names = strings.Join(names, ", ")
	}

	if cfg.Health == nil || cfg.Health.Active == nil || len(pools) == 0 {
		return r, nil
	}
	return r, newActiveChecker(cfg.Name, cfg.Health.Active, pools, rt.transport, rt.logger)
}

// escapePercent makes a template message safe as an httpx format.
func escapePercent(s string) string {
	return strings.ReplaceAll(s, "%", "%%")
}

// Close stops the active health checks and waits for them. It does not
// close idle upstream connections of a Transport passed in Options.
func (rt *Router) Close() error {
	rt.closeOnce.Do(func() {
		rt.cancel()
		rt.wg.Wait()
		if t, ok := rt.transport.(interface{ CloseIdleConnections() }); ok && rt.ownTrans {
			t.CloseIdleConnections()
		}
	})
	return nil
}

// Routes returns the compiled routes in table order.
func (rt *Router) Routes() []*Route {
	return slices.Clone(rt.routes)
}

// outcome is the result of looking a request up.
type outcome uint8

const (
	found outcome = iota
	notFound
	internalOnly
	methodNotAllowed
	invalidPath
)

// lookup finds the route for path and method: the longest prefix that
// matches at a segment boundary. An internal route stops the search, so a
// shorter public prefix never serves an internal path.
func (rt *Router) lookup(path, method string) (*Route, outcome) {
	if !CanonicalPath(path) {
		return nil, invalidPath
	}
	p := path
	for {
		if routes, ok := rt.byPrefix[p]; ok {
			return pickMethod(routes, method)
		}
		if p == "/" {
			return nil, notFound
		}
		i := strings.LastIndexByte(p, '/')
		if i == 0 {
			p = "/"
		} else {
			p = p[:i]
		}
	}
}

// pickMethod returns the route of routes (which share a prefix) that
// allows method.
func pickMethod(routes []*Route, method string) (*Route, outcome) {
	for _, r := range routes {
		if r.Class == ClassInternal {
			return r, internalOnly
		}
	}
	for _, r := range routes {
		if r.allows(method) {
			return r, found
		}
	}
	return routes[0], methodNotAllowed
}

// CanonicalPath reports whether p starts with "/" and has no empty, "."
// or ".." segments, apart from one trailing slash. The router rejects
// other paths, because upstreams may resolve dot segments, so
// /api/zones/../function/x could otherwise escape the route that matched
// it.
func CanonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for rest := p[1:]; rest != ""; {
		seg, after, more := strings.Cut(rest, "/")
		if seg == "." || seg == ".." || (seg == "" && more) {
			return false
		}
		rest = after
	}
	return true
}

// Match returns the route that serves r: the longest prefix that matches
// its path and allows its method. For a CORS preflight the requested
// method counts. It returns false for internal routes, for paths with no
// route and for methods the route does not allow.
func (rt *Router) Match(r *http.Request) (*Route, bool) {
	method := r.Method
	if isPreflight(r) {
		method = r.Header.Get(hdrRequestMethod)
	}
	route, res := rt.lookup(r.URL.Path, method)
	return route, res == found
}

type routeKey struct{}

// WithRoute returns ctx carrying route, so that ServeHTTP forwards to it
// without matching again.
func WithRoute(ctx context.Context, route *Route) context.Context {
	return context.WithValue(ctx, routeKey{}, route)
}

// FromContext returns the route stored by WithRoute, or nil.
func FromContext(ctx context.Context) *Route {
	r, _ := ctx.Value(routeKey{}).(*Route)
	return r
}

// ServeHTTP forwards r to its route's target. When the context carries no
// route (see WithRoute), it first does what Handler does before the
// middleware: it matches, responds to unmatched paths (404), disallowed
// methods (405) and CORS preflights itself, and applies the route's CORS
// policy. Forwarding to an upstream removes the hop-by-hop fields from
// r.Header and sets the X-Forwarded fields in place.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := FromContext(r.Context())
	if route == nil {
		var ok bool
		if route, ok = rt.admit(w, r); !ok {
			return
		}
	}
	rt.forward(w, r, route)
}

// Handler returns the public edge handler. For each request it matches a
// route and responds itself to unmatched paths (404), disallowed methods
// (405) and CORS preflights. It rejects disallowed CORS origins (403) and
// sets the CORS headers of allowed ones. Then it passes the request to the
// handler that wrap built for the route, which ends in the forwarder.
// Handler calls wrap once per route, so the gateway assembly builds its
// middleware chain (envelope, auth, rate limits) per route class up front.
// A nil wrap forwards directly.
func (rt *Router) Handler(wrap func(*Route, http.Handler) http.Handler) http.Handler {
	chains := make(map[*Route]http.Handler, len(rt.routes))
	for _, route := range rt.routes {
		if route.Class == ClassInternal {
			continue
		}
		var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rt.forward(w, r, route)
		})
		if wrap != nil {
			h = wrap(route, h)
		}
		chains[route] = h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, ok := rt.admit(w, r)
		if !ok {
			return
		}
		chains[route].ServeHTTP(w, r)
	})
}

// admit matches r and applies CORS. It writes the response and returns
// false when r goes no further.
func (rt *Router) admit(w http.ResponseWriter, r *http.Request) (*Route, bool) {
	preflight := isPreflight(r)
	method := r.Method
	if preflight {
		method = r.Header.Get(hdrRequestMethod)
	}
	route, res := rt.lookup(r.URL.Path, method)
	switch res {
	case invalidPath:
		httpx.WriteError(w, r, rt.logger, httpx.E(CodeInvalidPath))
		return nil, false
	case notFound:
		httpx.WriteError(w, r, rt.logger, httpx.E(CodeRouteNotFound))
		return nil, false
	case internalOnly:
		// The same response as for a missing route; the log keeps the
		// real reason.
		httpx.WriteError(w, r, rt.logger, httpx.Wrap(CodeRouteNotFound, httpx.E(CodeInternalOnly)))
		return nil, false
	case methodNotAllowed:
		w.Header().Set("Allow", strings.Join(rt.allowed(r.URL.Path), ", "))
		httpx.WriteError(w, r, rt.logger, httpx.E(httpx.CodeMethodNotAllowed, method))
		return nil, false
	}

	if route.cors != nil && route.cors.echoesOrigin() {
		// Responses on the route name the caller's origin, so a shared
		// cache must key them on Origin, including those to requests
		// without one.
		w.Header().Add(hdrVary, hdrOrigin)
	}
	origin := r.Header.Get(hdrOrigin)
	if origin == "" || (!preflight && sameOrigin(r, origin)) {
		return route, true
	}
	if route.cors == nil || !route.cors.allows(origin) {
		if route.cors == nil && !preflight {
			// Routes without a CORS policy leave cross-origin reads to
			// the browser, which blocks them for lack of CORS headers.
			return route, true
		}
		httpx.WriteError(w, r, rt.logger, httpx.E(CodeCORSOriginDenied, origin))
		return nil, false
	}
	if preflight {
		route.cors.writePreflight(w, origin)
		return nil, false
	}
	route.cors.setAllowOrigin(w.Header(), origin)
	if route.cors.expose != "" {
		w.Header().Set(hdrExposeHeaders, route.cors.expose)
	}
	return route, true
}

// allowed returns the methods the routes on the matched prefix of path
// allow, for the Allow header.
func (rt *Router) allowed(path string) []string {
	var out []string
	p := path
	for {
		if routes, ok := rt.byPrefix[p]; ok {
			for _, r := range routes {
				for _, m := range r.Methods {
					if !slices.Contains(out, m) {
						out = append(out, m)
					}
				}
			}
			return out
		}
		if p == "/" {
			return out
		}
		i := strings.LastIndexByte(p, '/')
		p = p[:max(i, 1)]
	}
}

// errNoRoute is the cause logged when a route has no target, which only
// internal routes may lack.
var errNoRoute = errors.New("route has no target")

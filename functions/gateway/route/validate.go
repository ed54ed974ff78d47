package route

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/ratelimit"
)

// Limits and defaults of route settings.
const (
	MaxRoutes          = 1000
	MaxUpstreams       = 64
	MaxRetries         = 4
	MaxTimeout         = 5 * time.Minute
	MaxBodyLimit       = 64 << 20
	MaxConvertDepth    = 64
	DefaultTimeout     = 10 * time.Second
	DefaultMaxBody     = 1 << 20
	DefaultConvertMax  = 1 << 20
	DefaultConvertDeep = 32
	DefaultCORSMaxAge  = 10 * time.Minute
	MaxCORSMaxAge      = 24 * time.Hour

	DefaultHealthInterval     = 10 * time.Second
	DefaultHealthTimeout      = 2 * time.Second
	DefaultHealthyThreshold   = 2
	DefaultUnhealthyThreshold = 3
	DefaultMaxFailures        = 5
	DefaultCoolDown           = 30 * time.Second
	minHealthPeriod           = 10 * time.Millisecond
	maxHealthPeriod           = time.Hour
	maxThreshold              = 100
)

var (
	routeName    = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`) // also the names of CORS policies
	functionName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	versionName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	errorCode    = regexp.MustCompile(`^[A-Z][A-Z0-9_]{2,63}$`)
	headerToken  = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
	queryName    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	limitName    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// knownMethods are the methods a route may allow.
var knownMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// limitParts maps the names in RateLimitConfig.By to key parts. "zone" is
// carried in the route part (see RateLimit.Key).
var limitParts = map[string]ratelimit.Part{
	"zone":    0,
	"user":    ratelimit.PartUser,
	"ip":      ratelimit.PartIP,
	"channel": ratelimit.PartChannel,
	"app":     ratelimit.PartApp,
}

// Validate checks t and returns a *ValidationError listing every problem,
// or nil. Parse calls it; call it yourself on tables built in Go.
func (t *Table) Validate() error {
	ps := &problems{}
	t.validate(ps)
	return ps.err()
}

func (t *Table) validate(ps *problems) {
	t.validateCORSPolicies(ps)
	if len(t.Routes) == 0 {
		ps.addSemantic("/routes", "at least one route is required")
		return
	}
	if len(t.Routes) > MaxRoutes {
		ps.addSemantic("/routes", "%d routes exceed the limit of %d", len(t.Routes), MaxRoutes)
		return
	}

	names := map[string]int{}
	for i := range t.Routes {
		r := &t.Routes[i]
		p := ptr("/routes", i)
		r.validate(ps, p)
		t.validateCORSRef(ps, p, r)
		if r.Name == "" {
			continue
		}
		if j, dup := names[r.Name]; dup {
			ps.addSemantic(ptr(p, "name"), "route name %q is already used by /routes/%d", r.Name, j)
		} else {
			names[r.Name] = i
		}
	}
	checkOverlaps(ps, t.Routes)
}

// validateCORSPolicies checks the name and content of every shared CORS
// policy. Problems in a policy are reported once, under /cors_policies,
// and not again for each route that names it.
func (t *Table) validateCORSPolicies(ps *problems) {
	for _, name := range sortedKeys(t.CORSPolicies) {
		p := ptr("/cors_policies", name)
		if !routeName.MatchString(name) {
			ps.addSemantic(p, "CORS policy name %s must be 1 to 63 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit", quote(name))
		}
		policy := t.CORSPolicies[name]
		policy.validate(ps, p)
	}
}

// validateCORSRef checks that route r at path p names a CORS policy that
// t defines, and that it does not also have an inline policy.
func (t *Table) validateCORSRef(ps *problems, p string, r *RouteConfig) {
	if r.CORSPolicy == "" {
		return
	}
	cp := ptr(p, "cors")
	if r.CORS != nil {
		ps.addSemantic(cp, "set either an inline CORS policy or the name of one in cors_policies, not both")
		return
	}
	if _, ok := t.CORSPolicies[r.CORSPolicy]; ok {
		return
	}
	defined := "cors_policies defines none"
	if len(t.CORSPolicies) > 0 {
		// The list is cut short so that many undefined names in a large
		// table do not each carry every policy name.
		const maxListed = 10
		var names []string
		for _, name := range sortedKeys(t.CORSPolicies)[:min(len(t.CORSPolicies), maxListed)] {
			names = append(names, quote(name))
		}
		if more := len(t.CORSPolicies) - maxListed; more > 0 {
			names = append(names, fmt.Sprintf("and %d more", more))
		}
		defined = "defined policies: " + strings.Join(names, ", ")
	}
	ps.addSemantic(cp, "CORS policy %s is not defined in cors_policies (%s); define it there or write the policy inline", quote(r.CORSPolicy), defined)
}

// corsFor returns the CORS policy of route r: its inline policy, the
// policy it names in t.CORSPolicies, or nil for none. Validate rejects
// names that t does not define.
func (t *Table) corsFor(r *RouteConfig) *CORSConfig {
	if r.CORSPolicy == "" {
		return r.CORS
	}
	policy, ok := t.CORSPolicies[r.CORSPolicy]
	if !ok {
		return nil
	}
	return &policy
}

// checkOverlaps reports routes with the same prefix whose methods overlap,
// because Match could not choose between them.
func checkOverlaps(ps *problems, routes []RouteConfig) {
	type seen struct {
		index   int
		methods []string
	}
	byPrefix := map[string][]seen{}
	for i, r := range routes {
		methods := normalizeMethods(r.Methods)
		for _, s := range byPrefix[r.Prefix] {
			for _, m := range methods {
				if slices.Contains(s.methods, m) {
					ps.addSemantic(ptr("/routes", i, "methods"), "method %s on prefix %q is already routed by /routes/%d", m, r.Prefix, s.index)
					break
				}
			}
		}
		byPrefix[r.Prefix] = append(byPrefix[r.Prefix], seen{index: i, methods: methods})
	}
}

// normalizeMethods returns the allowed methods with the defaults applied
// and HEAD added wherever GET is allowed.
func normalizeMethods(methods []string) []string {
	if len(methods) == 0 {
		return []string{"GET", "HEAD"}
	}
	out := slices.Clone(methods)
	if slices.Contains(out, "GET") && !slices.Contains(out, "HEAD") {
		out = append(out, "HEAD")
	}
	return out
}

func (r *RouteConfig) validate(ps *problems, p string) {
	if !routeName.MatchString(r.Name) {
		ps.addSemantic(ptr(p, "name"), "name %q must be 1 to 63 characters of a-z, 0-9, '.', '_' and '-', starting with a letter or digit", r.Name)
	}
	validatePrefix(ps, ptr(p, "prefix"), r.Prefix)
	switch r.Class {
	case ClassPublic, ClassIdentified, ClassInternal:
	default:
		ps.addSemantic(ptr(p, "class"), "class %q must be public, identified or internal", r.Class)
	}
	validateMethods(ps, ptr(p, "methods"), r.Methods)

	upstream := r.validateTargets(ps, p)
	if r.Rewrite != nil {
		r.Rewrite.validate(ps, ptr(p, "rewrite"))
	}
	r.validateTimeouts(ps, p, upstream)
	if r.Health != nil {
		if !upstream {
			ps.addSemantic(ptr(p, "health"), "health checks need upstream URL targets")
		}
		r.Health.validate(ps, ptr(p, "health"))
	}
	if r.CORS != nil {
		r.CORS.validate(ps, ptr(p, "cors"))
	}
	if r.MaxBodyBytes < 0 || r.MaxBodyBytes > MaxBodyLimit {
		ps.addSemantic(ptr(p, "max_body_bytes"), "max_body_bytes %d must be between 0 (default %d) and %d", r.MaxBodyBytes, DefaultMaxBody, MaxBodyLimit)
	}
	if r.Convert != nil {
		if !upstream {
			ps.addSemantic(ptr(p, "convert"), "format conversion needs upstream URL targets")
		}
		r.Convert.validate(ps, ptr(p, "convert"))
	}
	validateErrorTemplates(ps, ptr(p, "errors"), r.Errors)
	validateRateLimits(ps, ptr(p, "rate_limits"), r.RateLimits)
}

// validateTargets checks the target and the versions and reports whether
// the route forwards to upstream URLs.
func (r *RouteConfig) validateTargets(ps *problems, p string) bool {
	emptyOK := r.Class == ClassInternal
	upstream := r.Target.validate(ps, ptr(p, "target"), emptyOK)
	if r.Versions == nil {
		return upstream
	}
	v := r.Versions
	vp := ptr(p, "versions")

	if v.Header == "" && v.Query == "" {
		ps.addSemantic(vp, "versions need a header, a query parameter or both")
	}
	if v.Header != "" && !headerToken.MatchString(v.Header) {
		ps.addSemantic(ptr(vp, "header"), "header %q is not a valid header name", v.Header)
	}
	if v.Query != "" && !queryName.MatchString(v.Query) {
		ps.addSemantic(ptr(vp, "query"), "query parameter %q must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'", v.Query)
	}

	if len(v.Targets) == 0 {
		ps.addSemantic(ptr(vp, "targets"), "at least one version target is required")
	}
	if v.Default != "" {
		if _, ok := v.Targets[v.Default]; !ok {
			ps.addSemantic(ptr(vp, "default"), "default version %q is not listed in targets", v.Default)
		}
	}
	for _, name := range sortedKeys(v.Targets) {
		tp := ptr(vp, "targets", name)
		if !versionName.MatchString(name) {
			ps.addSemantic(tp, "version %q must be 1 to 32 characters of A-Z, a-z, 0-9, '.', '_' and '-'", name)
		}
		t := v.Targets[name]
		if t.validate(ps, tp, false) != upstream && !r.Target.empty() {
			ps.addSemantic(tp, "every version target must be of the same kind as the route target (function or upstreams)")
		}
	}
	return upstream
}

func (t *TargetConfig) empty() bool {
	return t.Function == "" && len(t.Upstreams) == 0
}

// validate checks a target and reports whether it has upstream URLs.
func (t *TargetConfig) validate(ps *problems, p string, emptyOK bool) bool {
	switch {
	case t.empty():
		if !emptyOK {
			ps.addSemantic(p, "set either function or upstreams")
		}
		return false
	case t.Function != "" && len(t.Upstreams) > 0:
		ps.addSemantic(p, "set either function or upstreams, not both")
		return false
	case t.Function != "":
		if !functionName.MatchString(t.Function) {
			ps.addSemantic(ptr(p, "function"), "function name %q must be a DNS label (a-z, 0-9 and '-')", t.Function)
		}
		if t.Balance != "" {
			ps.addSemantic(ptr(p, "balance"), "balance applies only to upstreams")
		}
		return false
	}

	if len(t.Upstreams) > MaxUpstreams {
		ps.addSemantic(ptr(p, "upstreams"), "%d upstreams exceed the limit of %d", len(t.Upstreams), MaxUpstreams)
	}
	switch t.Balance {
	case "", BalanceRoundRobin, BalanceWeighted:
	default:
		ps.addSemantic(ptr(p, "balance"), "balance %q must be round_robin or weighted", t.Balance)
	}
	for i, u := range t.Upstreams {
		up := ptr(p, "upstreams", i)
		if err := checkUpstreamURL(u.URL); err != "" {
			ps.addSemantic(ptr(up, "url"), "%s", err)
		}
		if u.Weight < 0 || u.Weight > 1000 {
			ps.addSemantic(ptr(up, "weight"), "weight %d must be between 1 and 1000 (0 means 1)", u.Weight)
		}
	}
	return true
}

// checkUpstreamURL returns what is wrong with an upstream URL, or "".
func checkUpstreamURL(raw string) string {
	if raw == "" {
		return "url is required"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "url " + quote(raw) + " does not parse"
	case u.Scheme != "http" && u.Scheme != "https":
		return "url " + quote(raw) + " must use http or https"
	case u.Host == "":
		return "url " + quote(raw) + " has no host"
	case u.User != nil:
		return "url " + quote(raw) + " must not contain credentials"
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "url " + quote(raw) + " must not have a query or fragment"
	}
	return ""
}

func validatePrefix(ps *problems, p, prefix string) {
	switch {
	case prefix == "":
		ps.addSemantic(p, "prefix is required")
	case !strings.HasPrefix(prefix, "/"):
		ps.addSemantic(p, "prefix %q must start with /", prefix)
	case strings.ContainsAny(prefix, "?#% \t\r\n"):
		ps.addSemantic(p, "prefix %q must be a plain path without ?, #, %% or spaces", prefix)
	case prefix != "/" && path.Clean(prefix) != prefix:
		ps.addSemantic(p, "prefix %q must be a clean path without a trailing slash, such as %q", prefix, path.Clean(prefix))
	}
}

func validateMethods(ps *problems, p string, methods []string) {
	for i, m := range methods {
		if !slices.Contains(knownMethods, m) {
			ps.addSemantic(ptr(p, i), "method %q must be one of %s", m, strings.Join(knownMethods, ", "))
		}
		if slices.Index(methods, m) != i {
			ps.addSemantic(ptr(p, i), "method %q is listed twice", m)
		}
	}
}

func (rw *RewriteConfig) validate(ps *problems, p string) {
	set := 0
	if rw.StripPrefix {
		set++
	}
	if rw.ReplacePrefix != "" {
		set++
		if !strings.HasPrefix(rw.ReplacePrefix, "/") || strings.ContainsAny(rw.ReplacePrefix, "?#") {
			ps.addSemantic(ptr(p, "replace_prefix"), "replace_prefix %q must be a path starting with /", rw.ReplacePrefix)
		}
	}
	if rw.Regexp != nil {
		set++
		rp := ptr(p, "regexp")
		if rw.Regexp.Pattern == "" {
			ps.addSemantic(ptr(rp, "pattern"), "pattern is required")
		} else if _, err := regexp.Compile(rw.Regexp.Pattern); err != nil {
			ps.addSemantic(ptr(rp, "pattern"), "invalid regular expression: %v", err)
		}
		if !strings.HasPrefix(rw.Regexp.Replacement, "/") && !strings.HasPrefix(rw.Regexp.Replacement, "$") {
			ps.addSemantic(ptr(rp, "replacement"), "replacement %q must produce a path starting with /", rw.Regexp.Replacement)
		}
	}
	if set != 1 {
		ps.addSemantic(p, "set exactly one of strip_prefix, replace_prefix and regexp")
	}
}

func (r *RouteConfig) validateTimeouts(ps *problems, p string, upstream bool) {
	checkDuration(ps, ptr(p, "timeout"), time.Duration(r.Timeout), time.Millisecond, MaxTimeout)
	checkDuration(ps, ptr(p, "try_timeout"), time.Duration(r.TryTimeout), time.Millisecond, MaxTimeout)
	timeout := time.Duration(r.Timeout)
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if r.TryTimeout > 0 && time.Duration(r.TryTimeout) > timeout {
		ps.addSemantic(ptr(p, "try_timeout"), "try_timeout %s exceeds the route timeout %s", time.Duration(r.TryTimeout), timeout)
	}
	if r.Retries < 0 || r.Retries > MaxRetries {
		ps.addSemantic(ptr(p, "retries"), "retries %d must be between 0 and %d", r.Retries, MaxRetries)
	}
	if r.Retries > 0 && !upstream {
		ps.addSemantic(ptr(p, "retries"), "retries need upstream URL targets")
	}
}

// checkDuration reports d outside [lo, hi]; 0 means the default.
func checkDuration(ps *problems, p string, d, lo, hi time.Duration) {
	if d != 0 && (d < lo || d > hi) {
		ps.addSemantic(p, "%s must be between %s and %s", d, lo, hi)
	}
}

func checkThreshold(ps *problems, p string, v int) {
	if v < 0 || v > maxThreshold {
		ps.addSemantic(p, "%d must be between 1 and %d (0 means the default)", v, maxThreshold)
	}
}

func (h *HealthConfig) validate(ps *problems, p string) {
	if h.Active == nil && h.Passive == nil {
		ps.addSemantic(p, "set active, passive or both")
	}
	if a := h.Active; a != nil {
		ap := ptr(p, "active")
		if !strings.HasPrefix(a.Path, "/") || strings.ContainsAny(a.Path, "#") {
			ps.addSemantic(ptr(ap, "path"), "path %q must start with /", a.Path)
		}
		checkDuration(ps, ptr(ap, "interval"), time.Duration(a.Interval), minHealthPeriod, maxHealthPeriod)
		checkDuration(ps, ptr(ap, "timeout"), time.Duration(a.Timeout), time.Millisecond, maxHealthPeriod)
		if a.Interval > 0 && a.Timeout > a.Interval {
			ps.addSemantic(ptr(ap, "timeout"), "timeout %s exceeds the interval %s", time.Duration(a.Timeout), time.Duration(a.Interval))
		}
		checkThreshold(ps, ptr(ap, "healthy_threshold"), a.HealthyThreshold)
		checkThreshold(ps, ptr(ap, "unhealthy_threshold"), a.UnhealthyThreshold)
	}
	if pv := h.Passive; pv != nil {
		pp := ptr(p, "passive")
		checkThreshold(ps, ptr(pp, "max_failures"), pv.MaxFailures)
		checkDuration(ps, ptr(pp, "cool_down"), time.Duration(pv.CoolDown), minHealthPeriod, maxHealthPeriod)
	}
}

func (c *CORSConfig) validate(ps *problems, p string) {
	if len(c.AllowOrigins) == 0 {
		ps.addSemantic(ptr(p, "allow_origins"), "at least one origin is required")
	}
	for i, o := range c.AllowOrigins {
		op := ptr(p, "allow_origins", i)
		if o == "*" {
			if c.AllowCredentials {
				ps.addSemantic(op, "origin \"*\" cannot be combined with allow_credentials; list the origins")
			}
			continue
		}
		if msg := checkOrigin(o); msg != "" {
			ps.addSemantic(op, "%s", msg)
		}
	}
	validateMethods(ps, ptr(p, "allow_methods"), c.AllowMethods)
	for i, h := range c.AllowHeaders {
		if !headerToken.MatchString(h) {
			ps.addSemantic(ptr(p, "allow_headers", i), "%q is not a valid header name", h)
		}
	}
	for i, h := range c.ExposeHeaders {
		if !headerToken.MatchString(h) {
			ps.addSemantic(ptr(p, "expose_headers", i), "%q is not a valid header name", h)
		}
	}
	if c.MaxAge < 0 || time.Duration(c.MaxAge) > MaxCORSMaxAge {
		ps.addSemantic(ptr(p, "max_age"), "max_age %s must be between 0 and %s", time.Duration(c.MaxAge), MaxCORSMaxAge)
	}
}

// checkOrigin returns what is wrong with an allowed origin, or "".
func checkOrigin(o string) string {
	u, err := url.Parse(strings.Replace(o, "://*.", "://wildcard.", 1))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.ToLower(o) != o {
		return "origin " + quote(o) + " must be a lowercase scheme://host[:port] with http or https and nothing after it, such as https://h5.example.cn"
	}
	return ""
}

func (c *ConvertConfig) validate(ps *problems, p string) {
	switch c.Request {
	case "", FormatJSON, FormatXML, FormatForm:
	default:
		ps.addSemantic(ptr(p, "request"), "request %q must be json, xml or form", c.Request)
	}
	switch c.Response {
	case "", FormatJSON:
	default:
		ps.addSemantic(ptr(p, "response"), "response %q must be json or empty", c.Response)
	}
	if c.XMLRoot != "" && !validXMLName(c.XMLRoot) {
		ps.addSemantic(ptr(p, "xml_root"), "xml_root %q is not a valid XML element name", c.XMLRoot)
	}
	for i, a := range c.Arrays {
		if a == "" {
			ps.addSemantic(ptr(p, "arrays", i), "array name must not be empty")
		}
	}
	if c.MaxDepth < 0 || c.MaxDepth > MaxConvertDepth {
		ps.addSemantic(ptr(p, "max_depth"), "max_depth %d must be between 1 and %d (0 means %d)", c.MaxDepth, MaxConvertDepth, DefaultConvertDeep)
	}
	if c.MaxBytes < 0 || c.MaxBytes > MaxBodyLimit {
		ps.addSemantic(ptr(p, "max_bytes"), "max_bytes %d must be between 0 (default %d) and %d", c.MaxBytes, DefaultConvertMax, MaxBodyLimit)
	}
}

func validateErrorTemplates(ps *problems, p string, templates map[string]ErrorTemplate) {
	builtin := map[string]bool{}
	for _, c := range httpx.Codes() {
		builtin[c.ID] = true
	}
	for _, key := range sortedKeys(templates) {
		t := templates[key]
		tp := ptr(p, key)
		switch {
		case !errorCode.MatchString(t.Code):
			ps.addSemantic(ptr(tp, "code"), "code %q must be 3 to 64 characters of A-Z, 0-9 and '_', starting with a letter", t.Code)
		case builtin[t.Code]:
			ps.addSemantic(ptr(tp, "code"), "code %q is a built-in code; choose a code of your own", t.Code)
		}
		if t.Status < 400 || t.Status > 599 {
			ps.addSemantic(ptr(tp, "status"), "status %d must be between 400 and 599", t.Status)
		}
		for _, m := range []struct{ name, text string }{{"zh", t.ZH}, {"en", t.EN}} {
			if strings.TrimSpace(m.text) == "" || len(m.text) > 500 {
				ps.addSemantic(ptr(tp, m.name), "%s message must have 1 to 500 bytes", m.name)
			}
		}
	}
}

func validateRateLimits(ps *problems, p string, limits []RateLimitConfig) {
	names := map[string]bool{}
	for i, l := range limits {
		lp := ptr(p, i)
		if !limitName.MatchString(l.Name) {
			ps.addSemantic(ptr(lp, "name"), "name %q must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'", l.Name)
		} else if names[l.Name] {
			ps.addSemantic(ptr(lp, "name"), "rate limit %q is defined twice on this route", l.Name)
		}
		names[l.Name] = true

		if err := l.limit().Validate(); err != nil {
			ps.addSemantic(lp, "%v", err)
		}
		zone := false
		for j, part := range l.By {
			if _, ok := limitParts[part]; !ok {
				ps.addSemantic(ptr(lp, "by", j), "key part %q must be zone, user, ip, channel or app", part)
			}
			if slices.Index(l.By, part) != j {
				ps.addSemantic(ptr(lp, "by", j), "key part %q is listed twice", part)
			}
			zone = zone || part == "zone"
		}
		switch {
		case zone && l.ZonePattern == "":
			ps.addSemantic(ptr(lp, "zone_pattern"), "zone_pattern is required when by contains zone")
		case l.ZonePattern != "":
			re, err := regexp.Compile(l.ZonePattern)
			if err != nil {
				ps.addSemantic(ptr(lp, "zone_pattern"), "invalid regular expression: %v", err)
			} else if zone && re.NumSubexp() == 0 {
				ps.addSemantic(ptr(lp, "zone_pattern"), "zone_pattern needs a submatch for the zone id, such as ([^/]+)")
			}
		}
	}
}

// limit returns l as a ratelimit.Limit with the default burst applied.
func (l *RateLimitConfig) limit() ratelimit.Limit {
	burst := l.Burst
	if burst == 0 {
		burst = l.Rate
	}
	return ratelimit.Limit{Rate: l.Rate, Period: time.Duration(l.Period), Burst: burst}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func quote(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strconv.Quote(s) // escapes quotes and control characters such as a newline
}

package route

import (
	_ "embed"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxTableBytes caps the size of a route table document.
const MaxTableBytes = 4 << 20

// maxTableDepth bounds the nesting of a route table document. The deepest
// valid value, /routes/i/versions/targets/v/upstreams/j/url, sits in 8
// nested arrays and objects.
const maxTableDepth = 16

//go:embed default.json
var defaultTable []byte

// Default returns the route table that localdev uses: the zones catalogue
// as public routes that share the CORS policy zones-public, the zones
// admin API as identified routes, the gateway's own key, session, login,
// development login and openapi.json endpoints as public routes (the keys
// also at /.well-known/jingtong-keys.json), and /function/ as internal. It
// panics when the embedded table is invalid, which the tests rule out.
func Default() *Table {
	t, err := Parse(defaultTable)
	if err != nil {
		panic("route: embedded default table: " + err.Error())
	}
	return t
}

// Load reads a route table from src: inline JSON when src starts with "{"
// after leading spaces, otherwise the path of a JSON file.
func Load(src string) (*Table, error) {
	if strings.HasPrefix(strings.TrimSpace(src), "{") {
		return Parse([]byte(src))
	}
	return LoadFile(src)
}

// LoadFile reads and validates the route table in the JSON file at path.
func LoadFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("route: opening the route table: %w", err)
	}
	defer f.Close()

	data, err := io.ReadAll(io.LimitReader(f, MaxTableBytes+1))
	if err != nil {
		return nil, fmt.Errorf("route: reading the route table %q: %w", path, err)
	}
	if len(data) > MaxTableBytes {
		return nil, fmt.Errorf("route: route table %q exceeds %d bytes", path, MaxTableBytes)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("route: loading %q: %w", path, err)
	}
	return t, nil
}

// Parse decodes and validates a route table. Every problem found is
// reported in a *ValidationError, each with the JSON Pointer of the value
// at fault: unknown or duplicate fields, wrong JSON types and values that
// Validate rejects.
func Parse(data []byte) (*Table, error) {
	ps := &problems{}
	if len(data) > MaxTableBytes {
		ps.add("", "route table exceeds %d bytes", MaxTableBytes)
		return nil, ps.err()
	}
	root, err := decodeTree(data, maxTableDepth)
	if err != nil {
		ps.add("", "%v", err)
		return nil, ps.err()
	}

	w := walker{ps: ps}
	t := w.table(root)
	t.validate(ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return t, nil
}

// walker converts a jsonNode tree into a Table, recording type problems
// and unknown or duplicate fields instead of stopping at the first.
type walker struct {
	ps *problems
}

// fields returns the members of the object n by name. It reports a
// non-object, duplicate members and members not listed in known.
func (w walker) fields(path string, n *jsonNode, known ...string) (map[string]*jsonNode, bool) {
	if n.kind != kindObject {
		w.ps.addType(path, "must be an object, not %s", n.kind)
		return nil, false
	}
	m := make(map[string]*jsonNode, len(n.keys))
	for i, k := range n.keys {
		p := ptr(path, k)
		if _, dup := m[k]; dup {
			w.ps.addType(p, "duplicate field %q", k)
			continue
		}
		if !slices.Contains(known, k) {
			w.ps.addType(p, "unknown field %q; known fields are %s", k, strings.Join(known, ", "))
			continue
		}
		m[k] = n.vals[i]
	}
	return m, true
}

func (w walker) str(path string, n *jsonNode) string {
	if n == nil {
		return ""
	}
	if n.kind != kindString {
		w.ps.addType(path, "must be a string, not %s", n.kind)
		return ""
	}
	return n.text
}

func (w walker) boolean(path string, n *jsonNode) bool {
	if n == nil {
		return false
	}
	if n.kind != kindBool {
		w.ps.addType(path, "must be true or false, not %s", n.kind)
		return false
	}
	return n.b
}

func (w walker) integer(path string, n *jsonNode) int64 {
	if n == nil {
		return 0
	}
	if n.kind != kindNumber {
		w.ps.addType(path, "must be an integer, not %s", n.kind)
		return 0
	}
	v, err := strconv.ParseInt(n.text, 10, 64)
	if err != nil || v > math.MaxInt32*int64(1<<16) || v < -math.MaxInt32 {
		w.ps.addType(path, "must be an integer in range, not %s", n.text)
		return 0
	}
	return v
}

func (w walker) duration(path string, n *jsonNode) Duration {
	s := w.str(path, n)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		w.ps.addType(path, "invalid duration %q; write a Go duration such as \"500ms\" or \"10s\"", s)
		return 0
	}
	return Duration(d)
}

func (w walker) strings(path string, n *jsonNode) []string {
	if n == nil {
		return nil
	}
	if n.kind != kindArray {
		w.ps.addType(path, "must be an array of strings, not %s", n.kind)
		return nil
	}
	out := make([]string, 0, len(n.vals))
	for i, item := range n.vals {
		out = append(out, w.str(ptr(path, i), item))
	}
	return out
}

func (w walker) table(n *jsonNode) *Table {
	t := &Table{}
	f, ok := w.fields("", n, "cors_policies", "routes")
	if !ok {
		return t
	}
	if n := f["cors_policies"]; n != nil {
		t.CORSPolicies = w.corsPolicies("/cors_policies", n)
	}
	routes := f["routes"]
	if routes == nil {
		return t
	}
	if routes.kind != kindArray {
		w.ps.addType("/routes", "must be an array of routes, not %s", routes.kind)
		return t
	}
	for i, r := range routes.vals {
		t.Routes = append(t.Routes, w.route(ptr("/routes", i), r))
	}
	return t
}

func (w walker) route(path string, n *jsonNode) RouteConfig {
	var r RouteConfig
	f, ok := w.fields(path, n, "name", "prefix", "class", "methods", "target", "versions", "rewrite",
		"timeout", "try_timeout", "retries", "health", "cors", "max_body_bytes", "convert", "errors", "rate_limits")
	if !ok {
		return r
	}
	r.Name = w.str(ptr(path, "name"), f["name"])
	r.Prefix = w.str(ptr(path, "prefix"), f["prefix"])
	r.Class = Class(w.str(ptr(path, "class"), f["class"]))
	r.Methods = w.strings(ptr(path, "methods"), f["methods"])

	if n := f["target"]; n != nil {
		r.Target = w.target(ptr(path, "target"), n)
	}
	if n := f["versions"]; n != nil {
		r.Versions = w.versions(ptr(path, "versions"), n)
	}
	if n := f["rewrite"]; n != nil {
		r.Rewrite = w.rewrite(ptr(path, "rewrite"), n)
	}
	r.Timeout = w.duration(ptr(path, "timeout"), f["timeout"])
	r.TryTimeout = w.duration(ptr(path, "try_timeout"), f["try_timeout"])
	r.Retries = int(w.integer(ptr(path, "retries"), f["retries"]))

	if n := f["health"]; n != nil {
		r.Health = w.health(ptr(path, "health"), n)
	}
	if n := f["cors"]; n != nil {
		r.CORS, r.CORSPolicy = w.corsRef(ptr(path, "cors"), n)
	}
	r.MaxBodyBytes = w.integer(ptr(path, "max_body_bytes"), f["max_body_bytes"])
	if n := f["convert"]; n != nil {
		r.Convert = w.convert(ptr(path, "convert"), n)
	}
	if n := f["errors"]; n != nil {
		r.Errors = w.errorTemplates(ptr(path, "errors"), n)
	}
	if n := f["rate_limits"]; n != nil {
		r.RateLimits = w.rateLimits(ptr(path, "rate_limits"), n)
	}
	return r
}

func (w walker) target(path string, n *jsonNode) TargetConfig {
	var t TargetConfig
	f, ok := w.fields(path, n, "function", "upstreams", "balance")
	if !ok {
		return t
	}
	t.Function = w.str(ptr(path, "function"), f["function"])
	t.Balance = w.str(ptr(path, "balance"), f["balance"])
	ups := f["upstreams"]
	if ups == nil {
		return t
	}
	if ups.kind != kindArray {
		w.ps.addType(ptr(path, "upstreams"), "must be an array of upstreams, not %s", ups.kind)
		return t
	}
	for i, u := range ups.vals {
		p := ptr(path, "upstreams", i)
		uf, ok := w.fields(p, u, "url", "weight")
		if !ok {
			t.Upstreams = append(t.Upstreams, UpstreamConfig{})
			continue
		}
		t.Upstreams = append(t.Upstreams, UpstreamConfig{
			URL:    w.str(ptr(p, "url"), uf["url"]),
			Weight: int(w.integer(ptr(p, "weight"), uf["weight"])),
		})
	}
	return t
}

func (w walker) versions(path string, n *jsonNode) *VersionsConfig {
	v := &VersionsConfig{}
	f, ok := w.fields(path, n, "header", "query", "default", "targets")
	if !ok {
		return v
	}
	v.Header = w.str(ptr(path, "header"), f["header"])
	v.Query = w.str(ptr(path, "query"), f["query"])
	v.Default = w.str(ptr(path, "default"), f["default"])
	targets := f["targets"]
	if targets == nil {
		return v
	}
	tf, ok := w.fields(ptr(path, "targets"), targets, targets.keys...)
	if !ok {
		return v
	}
	v.Targets = make(map[string]TargetConfig, len(tf))
	for name, t := range tf {
		v.Targets[name] = w.target(ptr(path, "targets", name), t)
	}
	return v
}

func (w walker) rewrite(path string, n *jsonNode) *RewriteConfig {
	rw := &RewriteConfig{}
	f, ok := w.fields(path, n, "strip_prefix", "replace_prefix", "regexp")
	if !ok {
		return rw
	}
	rw.StripPrefix = w.boolean(ptr(path, "strip_prefix"), f["strip_prefix"])
	rw.ReplacePrefix = w.str(ptr(path, "replace_prefix"), f["replace_prefix"])
	if re := f["regexp"]; re != nil {
		p := ptr(path, "regexp")
		rf, ok := w.fields(p, re, "pattern", "replacement")
		rw.Regexp = &RegexpRewrite{}
		if ok {
			rw.Regexp.Pattern = w.str(ptr(p, "pattern"), rf["pattern"])
			rw.Regexp.Replacement = w.str(ptr(p, "replacement"), rf["replacement"])
		}
	}
	return rw
}

func (w walker) health(path string, n *jsonNode) *HealthConfig {
	h := &HealthConfig{}
	f, ok := w.fields(path, n, "active", "passive")
	if !ok {
		return h
	}
	if a := f["active"]; a != nil {
		p := ptr(path, "active")
		h.Active = &ActiveHealthConfig{}
		if af, ok := w.fields(p, a, "path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold"); ok {
			h.Active.Path = w.str(ptr(p, "path"), af["path"])
			h.Active.Interval = w.duration(ptr(p, "interval"), af["interval"])
			h.Active.Timeout = w.duration(ptr(p, "timeout"), af["timeout"])
			h.Active.HealthyThreshold = int(w.integer(ptr(p, "healthy_threshold"), af["healthy_threshold"]))
			h.Active.UnhealthyThreshold = int(w.integer(ptr(p, "unhealthy_threshold"), af["unhealthy_threshold"]))
		}
	}
	if pv := f["passive"]; pv != nil {
		p := ptr(path, "passive")
		h.Passive = &PassiveHealthConfig{}
		if pf, ok := w.fields(p, pv, "max_failures", "cool_down"); ok {
			h.Passive.MaxFailures = int(w.integer(ptr(p, "max_failures"), pf["max_failures"]))
			h.Passive.CoolDown = w.duration(ptr(p, "cool_down"), pf["cool_down"])
		}
	}
	return h
}

// corsPolicies reads the top-level cors_policies object. A policy with a
// type problem is kept, empty, so that the routes naming it are not also
// reported as naming an undefined policy.
func (w walker) corsPolicies(path string, n *jsonNode) map[string]CORSConfig {
	if n.kind != kindObject {
		w.ps.addType(path, "must be an object of CORS policies by name, not %s", n.kind)
		return nil
	}
	// Policies are read in table order, so that their problems are
	// reported in the same order on every load.
	out := make(map[string]CORSConfig, len(n.keys))
	for i, name := range n.keys {
		p := ptr(path, name)
		if _, dup := out[name]; dup {
			w.ps.addType(p, "duplicate field %q", name)
			continue
		}
		out[name] = *w.cors(p, n.vals[i])
	}
	return out
}

// corsRef reads a route's "cors": a policy object, returned as the inline
// policy, or a string, returned as the name of a policy in cors_policies.
// Table.validate checks that the name is defined.
func (w walker) corsRef(path string, n *jsonNode) (*CORSConfig, string) {
	switch n.kind {
	case kindObject:
		return w.cors(path, n), ""
	case kindString:
		if n.text == "" {
			w.ps.addType(path, "CORS policy name must not be empty; name a policy in cors_policies or write the policy as an object")
		}
		return nil, n.text
	default:
		w.ps.addType(path, "must be a CORS policy object or the name of a policy in cors_policies, not %s", n.kind)
		return nil, ""
	}
}

func (w walker) cors(path string, n *jsonNode) *CORSConfig {
	c := &CORSConfig{}
	f, ok := w.fields(path, n, "allow_origins", "allow_methods", "allow_headers", "expose_headers", "allow_credentials", "max_age")
	if !ok {
		return c
	}
	c.AllowOrigins = w.strings(ptr(path, "allow_origins"), f["allow_origins"])
	c.AllowMethods = w.strings(ptr(path, "allow_methods"), f["allow_methods"])
	c.AllowHeaders = w.strings(ptr(path, "allow_headers"), f["allow_headers"])
	c.ExposeHeaders = w.strings(ptr(path, "expose_headers"), f["expose_headers"])
	c.AllowCredentials = w.boolean(ptr(path, "allow_credentials"), f["allow_credentials"])
	c.MaxAge = w.duration(ptr(path, "max_age"), f["max_age"])
	return c
}

func (w walker) convert(path string, n *jsonNode) *ConvertConfig {
	c := &ConvertConfig{}
	f, ok := w.fields(path, n, "request", "response", "xml_root", "arrays", "max_depth", "max_bytes")
	if !ok {
		return c
	}
	c.Request = w.str(ptr(path, "request"), f["request"])
	c.Response = w.str(ptr(path, "response"), f["response"])
	c.XMLRoot = w.str(ptr(path, "xml_root"), f["xml_root"])
	c.Arrays = w.strings(ptr(path, "arrays"), f["arrays"])
	c.MaxDepth = int(w.integer(ptr(path, "max_depth"), f["max_depth"]))
	c.MaxBytes = w.integer(ptr(path, "max_bytes"), f["max_bytes"])
	return c
}

func (w walker) errorTemplates(path string, n *jsonNode) map[string]ErrorTemplate {
	f, ok := w.fields(path, n, ErrorTimeout, ErrorUnavailable, ErrorUpstream, ErrorUpstream5xx)
	if !ok {
		return nil
	}
	out := make(map[string]ErrorTemplate, len(f))
	for key, t := range f {
		p := ptr(path, key)
		tf, ok := w.fields(p, t, "code", "status", "zh", "en")
		if !ok {
			out[key] = ErrorTemplate{}
			continue
		}
		out[key] = ErrorTemplate{
			Code:   w.str(ptr(p, "code"), tf["code"]),
			Status: int(w.integer(ptr(p, "status"), tf["status"])),
			ZH:     w.str(ptr(p, "zh"), tf["zh"]),
			EN:     w.str(ptr(p, "en"), tf["en"]),
		}
	}
	return out
}

func (w walker) rateLimits(path string, n *jsonNode) []RateLimitConfig {
	if n.kind != kindArray {
		w.ps.addType(path, "must be an array of rate limits, not %s", n.kind)
		return nil
	}
	out := make([]RateLimitConfig, 0, len(n.vals))
	for i, item := range n.vals {
		p := ptr(path, i)
		var l RateLimitConfig
		if f, ok := w.fields(p, item, "name", "rate", "period", "burst", "by", "zone_pattern"); ok {
			l.Name = w.str(ptr(p, "name"), f["name"])
			l.Rate = int(w.integer(ptr(p, "rate"), f["rate"]))
			l.Period = w.duration(ptr(p, "period"), f["period"])
			l.Burst = int(w.integer(ptr(p, "burst"), f["burst"]))
			l.By = w.strings(ptr(p, "by"), f["by"])
			l.ZonePattern = w.str(ptr(p, "zone_pattern"), f["zone_pattern"])
		}
		out = append(out, l)
	}
	return out
}

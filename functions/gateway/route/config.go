package route

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Class sets who may reach a route.
type Class string

// Route classes.
const (
	// ClassPublic routes accept plaintext requests without a user: health,
	// public keys, session open and published catalogue reads that stay
	// cacheable.
	ClassPublic Class = "public"

	// ClassIdentified routes need a user, and their requests are always
	// SM-enveloped. The gateway assembly enforces both after Match.
	ClassIdentified Class = "identified"

	// ClassInternal routes are never reachable from the public edge. The
	// router responds to them exactly as to a path with no route.
	ClassInternal Class = "internal"
)

// Balance algorithms for upstream targets.
const (
	BalanceRoundRobin = "round_robin"
	BalanceWeighted   = "weighted"
)

// Request and response formats of ConvertConfig.
const (
	FormatJSON = "json"
	FormatXML  = "xml"
	FormatForm = "form"
)

// Error template keys of RouteConfig.Errors.
const (
	ErrorTimeout     = "timeout"      // no response within the route timeout (default 504 UPSTREAM_TIMEOUT)
	ErrorUnavailable = "unavailable"  // every target is down (default 503 UPSTREAM_UNAVAILABLE)
	ErrorUpstream    = "error"        // connection failed or the response was unusable (default 502 UPSTREAM_ERROR)
	ErrorUpstream5xx = "upstream_5xx" // the upstream responded with 5xx (default: its response passes through)
)

// Table is a route table. The package documentation describes its JSON form.
type Table struct {
	// CORSPolicies are CORS policies that routes share by naming one in
	// RouteConfig.CORSPolicy. Names follow the rules of route names. A
	// policy that no route names is allowed.
	CORSPolicies map[string]CORSConfig `json:"cors_policies,omitempty"`

	Routes []RouteConfig `json:"routes"`
}

// RouteConfig is one route as written in the table.
type RouteConfig struct {
	// Name identifies the route in logs, metrics and rate-limit keys: 1 to
	// 63 characters of a-z, 0-9, ".", "_" and "-", starting with a letter
	// or digit. Names are unique within a table.
	Name string `json:"name"`

	// Prefix is the path prefix the route serves, such as /api/zones/zones.
	// It matches at segment boundaries: /api/zones matches /api/zones and
	// /api/zones/x but not /api/zonesx. The longest matching prefix wins.
	Prefix string `json:"prefix"`

	Class Class `json:"class"`

	// Methods lists the allowed request methods in upper case. GET also
	// allows HEAD. Default: GET and HEAD.
	Methods []string `json:"methods,omitempty"`

	// Target is the destination of matched requests. Internal routes may
	// leave it empty.
	Target TargetConfig `json:"target"`

	Versions *VersionsConfig `json:"versions,omitempty"`
	Rewrite  *RewriteConfig  `json:"rewrite,omitempty"`

	// Timeout bounds the whole exchange with the target, retries and the
	// response body included. Default 10s, at most 5m.
	Timeout Duration `json:"timeout,omitempty"`

	// TryTimeout bounds one attempt when Retries is set. Default: Timeout.
	TryTimeout Duration `json:"try_timeout,omitempty"`

	// Retries is how many more attempts an idempotent request (GET, HEAD,
	// OPTIONS, PUT, DELETE) gets, each on another target, after a connection
	// failure, a timeout of one attempt or a 502, 503 or 504 response. At
	// most 4. Default 0.
	Retries int `json:"retries,omitempty"`

	Health *HealthConfig `json:"health,omitempty"`

	// CORS is the route's own CORS policy. At most one of CORS and
	// CORSPolicy is set, and without either the route sends no CORS headers.
	CORS *CORSConfig `json:"cors,omitempty"`

	// CORSPolicy names a policy in Table.CORSPolicies, which the route uses
	// exactly as if it were written in CORS. In the JSON table it is the
	// string form of "cors".
	// NOTE: encoding/json neither reads nor writes that string form, so
	// read tables with Parse or Load.
	CORSPolicy string `json:"-"`

	// MaxBodyBytes caps the request body. Default 1 MiB, at most 64 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`

	Convert *ConvertConfig `json:"convert,omitempty"`

	// Errors replaces the gateway's error responses on this route, keyed by
	// ErrorTimeout, ErrorUnavailable, ErrorUpstream or ErrorUpstream5xx.
	Errors map[string]ErrorTemplate `json:"errors,omitempty"`

	// RateLimits are page-level limits (页面限流) that the gateway assembly
	// enforces through a ratelimit.Limiter.
	RateLimits []RateLimitConfig `json:"rate_limits,omitempty"`
}

// TargetConfig names an in-process function or a list of upstream URLs.
// Exactly one of Function and Upstreams is set.
type TargetConfig struct {
	// Function is the name of a handler in Options.Functions.
	Function string `json:"function,omitempty"`

	// Upstreams are http or https base URLs with weights, at most 64.
	Upstreams []UpstreamConfig `json:"upstreams,omitempty"`

	// Balance is BalanceRoundRobin (the default) or BalanceWeighted
	// (smooth weighted round robin).
	Balance string `json:"balance,omitempty"`
}

// UpstreamConfig is one upstream server. The request path is appended to
// the URL's path.
type UpstreamConfig struct {
	URL string `json:"url"`

	// Weight is the share of requests under BalanceWeighted, 1 to 1000.
	// Default 1.
	Weight int `json:"weight,omitempty"`
}

// VersionsConfig selects a target by API version. A request names its
// version in Header or, when the header is absent, in the Query parameter.
// A request that names none goes to Default, or to the route's Target when
// Default is empty. A version that Targets does not list gets 400
// API_VERSION_UNSUPPORTED.
type VersionsConfig struct {
	Header  string                  `json:"header,omitempty"` // such as X-API-Version
	Query   string                  `json:"query,omitempty"`  // such as version
	Default string                  `json:"default,omitempty"`
	Targets map[string]TargetConfig `json:"targets"`
}

// RewriteConfig changes the path before forwarding. Exactly one field is
// set. The query string is kept.
type RewriteConfig struct {
	// StripPrefix removes the route prefix: /api/zones/zones/x with prefix
	// /api/zones becomes /zones/x. An empty result becomes /.
	StripPrefix bool `json:"strip_prefix,omitempty"`

	// ReplacePrefix replaces the route prefix with this path.
	ReplacePrefix string `json:"replace_prefix,omitempty"`

	// Regexp rewrites the whole path with a regular expression (RE2 syntax).
	Regexp *RegexpRewrite `json:"regexp,omitempty"`
}

// RegexpRewrite replaces the first match of Pattern in the path with
// Replacement, in which $1 or ${name} refer to submatches.
type RegexpRewrite struct {
	Pattern     string `json:"pattern"`
	Replacement string `json:"replacement"`
}

// HealthConfig enables health checks of upstream targets.
type HealthConfig struct {
	Active  *ActiveHealthConfig  `json:"active,omitempty"`
	Passive *PassiveHealthConfig `json:"passive,omitempty"`
}

// ActiveHealthConfig probes every upstream with GET Path each Interval. A
// 2xx or 3xx response within Timeout is a success.
type ActiveHealthConfig struct {
	Path string `json:"path"`

	// Interval between probes, 10ms to 1h. Default 10s.
	Interval Duration `json:"interval,omitempty"`

	// Timeout of one probe, at most Interval. Default: Interval, capped at 2s.
	Timeout Duration `json:"timeout,omitempty"`

	// HealthyThreshold consecutive successes bring a down target back,
	// 1 to 100. Default 2.
	HealthyThreshold int `json:"healthy_threshold,omitempty"`

	// UnhealthyThreshold consecutive failures take a target down, 1 to 100.
	// Default 3.
	UnhealthyThreshold int `json:"unhealthy_threshold,omitempty"`
}

// PassiveHealthConfig takes a target out of rotation for CoolDown after
// MaxFailures consecutive failed requests: connection failures, timeouts
// and 502, 503 or 504 responses.
type PassiveHealthConfig struct {
	// MaxFailures, 1 to 100. Default 5.
	MaxFailures int `json:"max_failures,omitempty"`

	// CoolDown, 10ms to 1h. Default 30s.
	CoolDown Duration `json:"cool_down,omitempty"`
}

// CORSConfig lets H5 pages on other origins call the route.
type CORSConfig struct {
	// AllowOrigins lists origins as scheme://host[:port]. "*" allows any
	// origin (not with AllowCredentials), and scheme://*.example.cn allows
	// every subdomain of example.cn.
	AllowOrigins []string `json:"allow_origins"`

	// AllowMethods lists the methods sent in preflight responses. Default:
	// the route's methods.
	AllowMethods []string `json:"allow_methods,omitempty"`

	// AllowHeaders lists the request headers sent in preflight responses,
	// such as Content-Type.
	AllowHeaders []string `json:"allow_headers,omitempty"`

	// ExposeHeaders lists response headers scripts may read.
	ExposeHeaders []string `json:"expose_headers,omitempty"`

	AllowCredentials bool `json:"allow_credentials,omitempty"`

	// MaxAge lets browsers cache a preflight response, at most 24h.
	// Default 10m.
	MaxAge Duration `json:"max_age,omitempty"`
}

// ConvertConfig converts payloads for a legacy upstream. The package
// documentation gives the mapping rules.
type ConvertConfig struct {
	// Request is the format the upstream expects: FormatJSON (no change),
	// FormatXML or FormatForm. Only JSON request bodies are converted.
	Request string `json:"request,omitempty"`

	// Response FormatJSON converts XML and form responses, recognised by
	// their Content-Type, to JSON. Empty passes responses through.
	Response string `json:"response,omitempty"`

	// XMLRoot names the root element of XML requests. Default "request".
	XMLRoot string `json:"xml_root,omitempty"`

	// Arrays lists XML element names and form keys that always become JSON
	// arrays, even with one occurrence.
	Arrays []string `json:"arrays,omitempty"`

	// MaxDepth bounds nesting, 1 to 64. Default 32.
	MaxDepth int `json:"max_depth,omitempty"`

	// MaxBytes bounds a converted response, at most 64 MiB. Default 1 MiB.
	MaxBytes int64 `json:"max_bytes,omitempty"`
}

// ErrorTemplate is a custom error response. The body has the shape of every
// gateway error, with Code and the message in the request's language.
type ErrorTemplate struct {
	// Code is a stable code of A-Z, 0-9 and "_", 3 to 64 characters, that
	// no built-in code uses.
	Code string `json:"code"`

	// Status is the HTTP status, 400 to 599.
	Status int `json:"status"`

	ZH string `json:"zh"`
	EN string `json:"en"`
}

// RateLimitConfig is a page-level limit (页面限流): Rate requests per
// Period with bursts of Burst, counted per route and per the parts in By.
type RateLimitConfig struct {
	// Name identifies the limit in RateLimit headers and limiter keys, with
	// the characters ratelimit.Policy allows. Names are unique per route.
	Name string `json:"name"`

	Rate   int      `json:"rate"`
	Period Duration `json:"period"`

	// Burst defaults to Rate.
	Burst int `json:"burst,omitempty"`

	// By adds parts to the key: "zone", "user", "ip", "channel" or "app".
	// Without parts, one quota is shared by every caller of the route.
	By []string `json:"by,omitempty"`

	// ZonePattern extracts the zone id from the path: the submatch named
	// zone, or else the first submatch. Required when By has "zone". A path
	// that does not match is not counted by this limit.
	ZonePattern string `json:"zone_pattern,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string such
// as "1.5s" or "10m".
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(data []byte) error {
	s, err := strconv.Unquote(string(data))
	if err != nil {
		return fmt.Errorf("route: duration must be a string such as \"5s\", got %s", data)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("route: invalid duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

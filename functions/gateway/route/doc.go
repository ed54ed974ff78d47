// Package route is the gateway's routing layer. A route table loaded from
// JSON lists the routes, a Router matches requests to them, and a lean
// reverse proxy forwards the requests to in-process functions or upstream
// URLs. The proxy does load balancing, health checks, retries, timeouts,
// CORS, payload conversion and custom error responses.
//
// # Use
//
//	table, err := route.Load(os.Getenv("JT_GATEWAY_ROUTES")) // file path or inline JSON
//	router, err := route.New(table, route.Options{Functions: handlers, Logger: logger})
//	defer router.Close()
//	edge := router.Handler(func(rt *route.Route, next http.Handler) http.Handler {
//		return chainFor(rt.Class, next) // envelope, auth, rate limits
//	})
//
// Handler responds to 404s, 405s, CORS preflights and CORS rejections
// before the middleware runs, so that cheap rejections cost no SM2 work. Match and
// ServeHTTP are there for assemblies that build the chain themselves.
//
// # Route table
//
// A table is a JSON object with a "routes" array and, optionally, a
// "cors_policies" object of shared CORS policies. Parse reports every
// problem at once, each with the JSON Pointer of the value at fault, in a
// *ValidationError: unknown and duplicate fields, wrong types, bad values
// and routes that overlap. The RouteConfig fields document each setting,
// its default and its bounds. An example:
//
//	{"cors_policies": {"h5-public": {"allow_origins": ["https://h5.example.cn"], "max_age": "10m"}},
//	 "routes": [
//	  {"name": "zones-catalogue", "prefix": "/api/zones/zones", "class": "public",
//	   "methods": ["GET"], "target": {"function": "zones"},
//	   "rewrite": {"replace_prefix": "/zones"}, "timeout": "5s",
//	   "cors": "h5-public",
//	   "rate_limits": [{"name": "zone-page", "rate": 200, "period": "1s", "burst": 400,
//	                    "by": ["zone"], "zone_pattern": "^/api/zones/zones/(?P<zone>[^/]+)/page$"}]},
//	  {"name": "social-insurance", "prefix": "/api/si", "class": "identified",
//	   "methods": ["GET", "POST"],
//	   "target": {"upstreams": [{"url": "http://10.0.0.5:8080/si", "weight": 3},
//	                            {"url": "http://10.0.0.6:8080/si", "weight": 1}],
//	              "balance": "weighted"},
//	   "versions": {"header": "X-API-Version", "query": "version",
//	                "targets": {"v2": {"upstreams": [{"url": "http://10.0.0.7:8080/si"}]}}},
//	   "rewrite": {"strip_prefix": true}, "timeout": "8s", "try_timeout": "3s", "retries": 2,
//	   "health": {"active": {"path": "/healthz", "interval": "5s"},
//	              "passive": {"max_failures": 5, "cool_down": "30s"}},
//	   "convert": {"request": "xml", "response": "json", "xml_root": "req", "arrays": ["record"]},
//	   "errors": {"timeout": {"code": "SI_BUSY", "status": 503,
//	                          "zh": "社保查询繁忙，请稍后再试", "en": "social insurance queries are busy; try again later"}}},
//	  {"name": "function-internal", "prefix": "/function", "class": "internal"}
//	]}
//
// # CORS policies
//
// A route's "cors" is either a policy object with the CORSConfig fields or
// the name of a policy in "cors_policies", as zones-catalogue above does.
// Routes that name the same policy share one definition instead of
// repeating it. A named policy behaves exactly as the same object written
// in the route, and it compiles for each route on its own: without
// allow_methods, each route's preflight responses list that route's
// methods. Policy names follow the rules of route names. Parse rejects an
// empty or undefined name at /routes/<i>/cors, and a bad policy name or
// invalid policy content once under /cors_policies/<name>, not at each
// route that names the policy. A policy that no route names is allowed.
//
// # Matching
//
// The longest prefix that matches the path at a segment boundary wins.
// Routes may share a prefix when their methods differ. An internal route
// ends the search: the public edge returns the ROUTE_NOT_FOUND
// response and never falls back to a shorter prefix. Paths with empty,
// "." or ".." segments get 400 ROUTE_INVALID_PATH, because an upstream
// that resolves them could be reached outside its route.
//
// # Forwarding
//
// Upstream requests lose the hop-by-hop fields of RFC 9110, section 7.6.1
// (and the fields Connection names), get the client address appended to
// X-Forwarded-For, and get X-Forwarded-Host and X-Forwarded-Proto. Bodies
// stream in both directions; trailers are dropped. The route timeout bounds
// the whole exchange, and a cancelled client request cancels the upstream
// one. Idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) are retried on
// another upstream after a connection failure, an attempt timeout or a 502,
// 503 or 504, when their body is empty or buffered (at most
// Options.RetryBufferBytes, or converted). Passive health checks count the
// same failures.
//
// # Payload conversion
//
// JSON to XML (convert.request "xml"). The body must be a JSON object; it
// becomes the content of the root element xml_root (default "request").
//   - A member becomes a child element of the same name, in document order.
//     Names must be XML names without a namespace prefix.
//   - A string, number or boolean becomes the element's text, escaped; a
//     number keeps its literal; null becomes an empty element.
//   - An array becomes one element per item, all with the member's name.
//     Arrays inside arrays are rejected.
//   - A member "@name" with a scalar value becomes the attribute name, and
//     "#text" becomes text beside child elements.
//
// XML to JSON (convert.response "json", for application/xml, text/xml and
// +xml responses). The root element's content becomes the JSON value.
//   - An element with text only becomes a string: XML has no types, so
//     numbers and booleans come back as strings.
//   - An element with attributes or children becomes an object: "@name"
//     for each attribute, "#text" for its non-blank text, trimmed, and a
//     member per child name in order of first appearance.
//   - A child name that occurs more than once, or is listed in
//     convert.arrays, becomes an array.
//   - Namespace prefixes are dropped and xmlns declarations ignored.
//   - DOCTYPE and other declarations are rejected. UTF-8, GBK, GB2312 and
//     GB18030 documents are read.
//
// JSON to form (convert.request "form"). The body must be a JSON object.
// A scalar member becomes key=value, nested objects give dotted keys
// (a.b=v), and an array of scalars repeats its key. Keys containing "."
// and arrays of objects or arrays are rejected. Pairs keep document order.
//
// Form to JSON (application/x-www-form-urlencoded responses). Dotted keys
// build nested objects; a repeated key, or one whose last segment is in
// convert.arrays, becomes an array of strings; every value is a string.
//
// Both directions allow nesting to convert.max_depth (default 32) and at
// most 10,000 elements, attributes or fields. Converted responses are
// read up to convert.max_bytes (default 1 MiB); a larger, undecodable or
// unconvertible response gets 502 UPSTREAM_ERROR. A request body that
// cannot be converted gets 400 PAYLOAD_CONVERSION_FAILED. Only JSON
// request bodies are converted; others pass through.
//
// # Errors
//
// The router writes errors through httpx.WriteError: ROUTE_NOT_FOUND 404,
// ROUTE_INVALID_PATH 400, METHOD_NOT_ALLOWED 405 with Allow,
// API_VERSION_UNSUPPORTED 400, BODY_TOO_LARGE 413, CORS_ORIGIN_DENIED 403,
// PAYLOAD_CONVERSION_FAILED 400, UPSTREAM_UNAVAILABLE 503 when every
// upstream is down, UPSTREAM_TIMEOUT 504 and UPSTREAM_ERROR 502. A route's
// "errors" templates replace the last three, and "upstream_5xx" replaces
// 5xx responses from the upstream, which otherwise pass through.
package route

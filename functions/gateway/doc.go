// Package gateway is the gateway function: the public edge in front of
// every other function. It terminates the SM2/SM3/SM4 transport envelope
// (docs/protocol.md), verifies user tokens, enforces rate and concurrency
// limits, and forwards each request along its route with the verified
// identity in HMAC-SM3 signed headers, keeping an audit chain of the
// requests it protects.
//
// # Middleware
//
// Every request passes these steps in order; the first rejection ends it:
//
//  1. request ID (X-Request-Id);
//  2. logger: one Debug line per request with its route, caller and
//     status;
//  3. recoverer: a panic becomes a 500 without internal details;
//  4. body limit (JT_GATEWAY_MAX_BODY): 413 BODY_TOO_LARGE;
//  5. per-IP rate limit (JT_GATEWAY_IP_RATE), in process: 429
//     RATE_LIMITED with Retry-After, RateLimit and RateLimit-Policy;
//  6. concurrency shedding (JT_GATEWAY_MAX_CONCURRENT, JT_GATEWAY_QUEUE,
//     JT_GATEWAY_MAX_WAIT): 503 OVERLOADED;
//  7. route match (package route): 404 ROUTE_NOT_FOUND for unknown and
//     internal paths, 405, and CORS;
//  8. audit: a record for each protected request once its response is
//     sent (package audit);
//  9. SM envelope (package envelope): required on identified routes (401
//     ENVELOPE_REQUIRED for plaintext), optional on public ones, where a
//     request with X-JT-Session is unwrapped and its response protected
//     while plaintext reads stay cacheable with ETag;
//  10. auth: the bearer token is verified (package identity). Identified
//     routes reject anonymous callers with 401 UNAUTHORIZED. The user is
//     bound to the session, and a token for another user gets 401
//     SESSION_SUBJECT_MISMATCH;
//  11. per-caller and per-route rate limits: per user
//     (JT_GATEWAY_USER_RATE), per channel and app (JT_GATEWAY_APP_RATE),
//     and the route table's own limits by route, zone, user, IP, channel
//     or app;
//  12. identity headers: incoming Authorization, X-JT-Identity* and
//     X-JT-Platform* headers are removed, and the verified identity is
//     signed onto the forwarded request with auth.SignIdentity;
//  13. forwarding to the route's in-process function or upstream.
//
// Steps 1 to 7 reject oversized, over-limit and misrouted requests before
// any SM2 or SM4 work. A request is protected when its route is
// identified or it carries X-JT-Session; its audit record holds the
// subject, route, method, path, status and latency.
//
// # Routes
//
// The route table (JT_GATEWAY_ROUTES, default route.Default) maps public
// paths to functions. The gateway's own routes are the function "gateway":
//
//	GET  /keys        the public key listing (also /.well-known/jingtong-keys.json)
//	POST /session     open an envelope session
//	DELETE /session   close the session the request is sent in
//	POST /login       mini-program login: exchange a platform code for a token
//	POST /dev/login   development login as a test user (JT_DEV_LOGIN=true only)
//	GET  /dev/users   the test users (JT_DEV_LOGIN=true only)
//	GET  /openapi.json
//
// The default table serves them at /api/gateway/....
//
// # Client address
//
// The per-IP limit and the logs use the TCP peer address, unless
// JT_GATEWAY_TRUSTED_PROXIES lists the proxies in front of the gateway.
// A request from a listed proxy is attributed to the rightmost address in
// X-Forwarded-For that is not a listed proxy. List only proxies that
// append the address they received from and drop nothing, such as a
// cloud load balancer. Trusting any other address lets clients choose
// their own.
//
// # Configuration
//
// Config documents every variable with its default. JT_IDENTITY_SECRET
// (or _FILE), JT_AUDIT_KEY (or _FILE) and either JT_GATEWAY_KEY_DIR or
// JT_GATEWAY_REMOTE_KEYS_URL are required. The binary also takes the
// arguments "migrate" (the identity and audit schemas) and
// "audit-verify" (see audit.VerifyCommand).
package gateway

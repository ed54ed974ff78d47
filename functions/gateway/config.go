package gateway

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jingtong/backend/functions/gateway/audit"
	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/functions/gateway/identity"
	"github.com/jingtong/backend/functions/gateway/route"
	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/ratelimit"
	"github.com/jingtong/backend/shared/smcrypto"
)

// Configuration defaults.
const (
	// DefaultSigningKID is the ID of the SM2 key that signs session-open
	// responses and user tokens.
	DefaultSigningKID = "gw-1"
	// DefaultIPRate is the per-IP limit: a steady 100 requests a second
	// with bursts of 200, enough for a page that fires a dozen requests at
	// once behind a shared carrier-grade NAT address (an estimate).
	DefaultIPRate = "100/1s burst 200"
	// DefaultUserRate is the per-user limit across every route.
	DefaultUserRate = "20/1s burst 40"
	// DefaultAppRate turns the per-app limit off.
	DefaultAppRate = "off"
	// DefaultMaxConcurrent is how many requests run at once before new
	// ones queue.
	DefaultMaxConcurrent = 512
	// DefaultQueue is how many requests may wait for a slot.
	DefaultQueue = 1024
	// DefaultMaxWait is how long a queued request waits before it gets
	// 503 OVERLOADED.
	DefaultMaxWait = 500 * time.Millisecond
	// DefaultMaxBody is the largest request body the edge reads, in bytes
	// as sent: the envelope's limit of 1.5 MiB of base64, which holds a
	// sealed plaintext of just over 1 MiB.
	DefaultMaxBody = envelope.DefaultMaxBody

	// maxBodyCeiling bounds JT_GATEWAY_MAX_BODY at the route table's own
	// ceiling for one route.
	maxBodyCeiling = 64 << 20
)

// Config is the gateway's configuration, read from the environment at
// start-up by LoadConfig. Secrets are kept in auth.Secret, which never
// prints its value.
type Config struct {
	// KeyDir is the directory of the software SM2 keys, one <kid>.pem file
	// each (JT_GATEWAY_KEY_DIR). Required unless RemoteKeysURL is set.
	// localdev generates DataDir/gateway-keys/gw-1.pem at first start.
	KeyDir string
	// SigningKID names the key that signs (JT_GATEWAY_SIGNING_KID; default
	// gw-1).
	SigningKID string
	// RemoteKeysURL is the base URL of a remote key service that keeps the
	// private keys (JT_GATEWAY_REMOTE_KEYS_URL; https, or http on
	// loopback). When set, KeyDir must be empty.
	RemoteKeysURL string
	// RemoteKeysToken is the bearer token of the key service, read from the
	// file JT_GATEWAY_REMOTE_KEYS_TOKEN_FILE. Required with RemoteKeysURL.
	RemoteKeysToken auth.Secret

	// RedisURL selects Redis for sessions, nonces and the per-caller and
	// per-route limits (JT_REDIS_URL, such as redis://127.0.0.1:6379/0).
	// Empty keeps them in process memory, which suits one instance only.
	RedisURL string

	// Routes is the route table (JT_GATEWAY_ROUTES: a file path, or inline
	// JSON starting with "{"). The default is route.Default, the table
	// localdev uses.
	Routes *route.Table

	// IdentitySecret is the HMAC-SM3 key of the identity headers that the
	// gateway signs for functions (JT_IDENTITY_SECRET or
	// JT_IDENTITY_SECRET_FILE, at least 32 bytes). Required.
	IdentitySecret auth.Secret
	// AuditKey is the HMAC-SM3 key of the audit chain (JT_AUDIT_KEY or
	// JT_AUDIT_KEY_FILE, in hex, at least 16 bytes). Required.
	AuditKey auth.Secret
	// AuditReplica names this instance's audit chain (JT_AUDIT_REPLICA;
	// default the host name when it is a valid replica ID, which a
	// Kubernetes pod name usually is, else "default").
	AuditReplica string

	// Identity configures tokens and mini-program login: JT_TOKEN_*,
	// JT_LOGIN_TIMEOUT, JT_DEV_LOGIN and the platform variables (see
	// identity.LoadConfig).
	Identity identity.Config

	// RateLimits turns the per-IP, per-caller and per-route limits on
	// (JT_GATEWAY_RATE_LIMITS, true or false; default true). localdev
	// turns them off: every local client shares 127.0.0.1, and the
	// benchmark sends tens of thousands of requests a second from it.
	RateLimits bool
	// IPRate is the per-client-address limit, checked before any SM2 work
	// in each instance's memory (JT_GATEWAY_IP_RATE; default
	// DefaultIPRate). Nil means off.
	IPRate *ratelimit.Limit
	// UserRate is the per-user limit across every route, for callers with
	// a verified token (JT_GATEWAY_USER_RATE; default DefaultUserRate).
	// Nil means off.
	UserRate *ratelimit.Limit
	// AppRate is the limit per channel and app ID, shared by every user
	// of one mini-program (JT_GATEWAY_APP_RATE; default off). Nil means
	// off.
	AppRate *ratelimit.Limit

	// MaxConcurrent is how many requests run at once
	// (JT_GATEWAY_MAX_CONCURRENT; default 512).
	MaxConcurrent int
	// Queue is how many more requests wait for a slot (JT_GATEWAY_QUEUE;
	// default 1024; 0 sheds at once).
	Queue int
	// MaxWait is how long a request waits in the queue before it gets 503
	// OVERLOADED (JT_GATEWAY_MAX_WAIT; default 500ms).
	MaxWait time.Duration

	// MaxBody is the largest request body in bytes as sent
	// (JT_GATEWAY_MAX_BODY; default 1572864, at most 64 MiB). It is the
	// ceiling for every route and the envelope's body limit.
	MaxBody int64

	// TrustedProxies are the addresses of the proxies in front of the
	// gateway, such as a cloud load balancer (JT_GATEWAY_TRUSTED_PROXIES,
	// comma-separated CIDR prefixes or addresses; default none). Without
	// them the client address is the TCP peer (RemoteAddr). With them, a
	// request from a trusted peer is attributed to the rightmost
	// X-Forwarded-For address that is not itself trusted.
	TrustedProxies []netip.Prefix

	// SessionTTL is how long an envelope session lasts
	// (JT_GATEWAY_SESSION_TTL; default 30m, from 1m to 24h).
	SessionTTL time.Duration
	// Skew is how far a request timestamp may be from the gateway clock
	// (JT_GATEWAY_SKEW; default 5m, from 10s to 15m). Nonces are kept for
	// twice as long.
	Skew time.Duration
	// MaxNonces caps the nonces that the in-memory nonce store keeps
	// (JT_GATEWAY_MAX_NONCES; default envelope.DefaultMaxNonces, from 1024
	// to 67,108,864). A full store rejects protected requests with 503. Size
	// it above twice the skew times the peak protected requests per second,
	// at roughly 100 bytes a nonce (an estimate). Redis nonces have no cap.
	MaxNonces int
}

// DefaultConfig returns the configuration with every default filled in.
// It has no keys or secrets, so it does not pass LoadConfig's checks.
func DefaultConfig() Config {
	ip, _ := ParseRate(DefaultIPRate)
	user, _ := ParseRate(DefaultUserRate)
	return Config{
		SigningKID:    DefaultSigningKID,
		AuditReplica:  defaultReplica(),
		Identity:      identity.DefaultConfig(),
		RateLimits:    true,
		IPRate:        ip,
		UserRate:      user,
		MaxConcurrent: DefaultMaxConcurrent,
		Queue:         DefaultQueue,
		MaxWait:       DefaultMaxWait,
		MaxBody:       DefaultMaxBody,
		SessionTTL:    envelope.DefaultSessionTTL,
		Skew:          envelope.DefaultSkew,
		MaxNonces:     envelope.DefaultMaxNonces,
	}
}

// LoadConfig reads the configuration through lookup and reports every
// invalid or missing variable in one error. Secret values never appear in
// the error.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	l := loader{lookup: lookup}
	cfg := DefaultConfig()

	l.keys(&cfg)
	cfg.RedisURL = l.get("JT_REDIS_URL")
	if cfg.RedisURL != "" {
		if _, err := redis.ParseURL(cfg.RedisURL); err != nil {
			l.fail("JT_REDIS_URL: %v", err)
		}
	}
	l.routes(&cfg)
	l.secrets(&cfg)

	identityCfg, err := identity.LoadConfig(lookup)
	if err != nil {
		l.problems = append(l.problems, err)
	}
	cfg.Identity = identityCfg

	l.limits(&cfg)
	l.duration("JT_GATEWAY_SESSION_TTL", time.Minute, 24*time.Hour, &cfg.SessionTTL)
	l.duration("JT_GATEWAY_SKEW", 10*time.Second, 15*time.Minute, &cfg.Skew)
	l.integer("JT_GATEWAY_MAX_NONCES", 1024, 1<<26, func(n int64) { cfg.MaxNonces = int(n) })
	if v := l.get("JT_GATEWAY_TRUSTED_PROXIES"); v != "" {
		prefixes, err := ParseTrustedProxies(v)
		if err != nil {
			l.fail("JT_GATEWAY_TRUSTED_PROXIES: %v", err)
		}
		cfg.TrustedProxies = prefixes
	}

	if len(l.problems) > 0 {
		return cfg, fmt.Errorf("gateway: invalid configuration: %w", errors.Join(l.problems...))
	}
	return cfg, nil
}

// loader reads variables and collects the problems it finds.
type loader struct {
	lookup   func(string) (string, bool)
	problems []error
}

func (l *loader) get(key string) string {
	if l.lookup == nil {
		return ""
	}
	v, _ := l.lookup(key)
	return strings.TrimSpace(v)
}

func (l *loader) fail(format string, args ...any) {
	l.problems = append(l.problems, fmt.Errorf(format, args...))
}

// keys reads where the SM2 keys come from.
func (l *loader) keys(cfg *Config) {
	cfg.KeyDir = l.get("JT_GATEWAY_KEY_DIR")
	if v := l.get("JT_GATEWAY_SIGNING_KID"); v != "" {
		cfg.SigningKID = v
	}
	if err := smcrypto.ValidateKeyID(cfg.SigningKID); err != nil {
		l.fail("JT_GATEWAY_SIGNING_KID: %v", err)
	}

	cfg.RemoteKeysURL = l.get("JT_GATEWAY_REMOTE_KEYS_URL")
	tokenFile := l.get("JT_GATEWAY_REMOTE_KEYS_TOKEN_FILE")
	switch {
	case cfg.RemoteKeysURL != "" && cfg.KeyDir != "":
		l.fail("both JT_GATEWAY_KEY_DIR and JT_GATEWAY_REMOTE_KEYS_URL are set; set one")
	case cfg.RemoteKeysURL == "" && cfg.KeyDir == "":
		l.fail("JT_GATEWAY_KEY_DIR is required: a directory of <kid>.pem SM2 keys, or set JT_GATEWAY_REMOTE_KEYS_URL for a key service")
	case cfg.RemoteKeysURL != "" && tokenFile == "":
		l.fail("JT_GATEWAY_REMOTE_KEYS_URL is set without JT_GATEWAY_REMOTE_KEYS_TOKEN_FILE")
	case cfg.RemoteKeysURL != "":
		token, err := readSecretFile(tokenFile)
		if err != nil {
			l.fail("JT_GATEWAY_REMOTE_KEYS_TOKEN_FILE: %v", err)
		}
		cfg.RemoteKeysToken = token
	}
}

// routes reads the route table.
func (l *loader) routes(cfg *Config) {
	src := l.get("JT_GATEWAY_ROUTES")
	if src == "" {
		cfg.Routes = route.Default()
		return
	}
	table, err := route.Load(src)
	if err != nil {
		l.fail("JT_GATEWAY_ROUTES: %w", err)
		return
	}
	cfg.Routes = table
}

// secrets reads the identity secret and the audit key, both required.
func (l *loader) secrets(cfg *Config) {
	secret, err := auth.LoadSecret(l.lookup, auth.IdentitySecretVar)
	switch {
	case err != nil:
		l.problems = append(l.problems, err)
	case len(secret) == 0:
		l.fail("%s or %s_FILE is required: the key that signs identity headers for functions, such as the output of `openssl rand -hex 32`",
			auth.IdentitySecretVar, auth.IdentitySecretVar)
	}
	cfg.IdentitySecret = secret

	value, path := l.get("JT_AUDIT_KEY"), l.get("JT_AUDIT_KEY_FILE")
	var key []byte
	switch {
	case value != "" && path != "":
		l.fail("both JT_AUDIT_KEY and JT_AUDIT_KEY_FILE are set; set one")
	case path != "":
		key, err = audit.LoadKeyFile(path)
	case value != "":
		key, err = audit.ParseKey(value)
	default:
		l.fail("JT_AUDIT_KEY or JT_AUDIT_KEY_FILE is required: the audit chain's HMAC-SM3 key in hex, such as the output of `openssl rand -hex 32`")
	}
	if err != nil {
		// The audit errors never quote the key.
		l.fail("JT_AUDIT_KEY: %w", err)
	}
	cfg.AuditKey = key

	if v := l.get("JT_AUDIT_REPLICA"); v != "" {
		if !validReplica(v) {
			l.fail("JT_AUDIT_REPLICA=%q: use 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-', starting with a letter or digit", v)
		}
		cfg.AuditReplica = v
	}
}

// limits reads the rate and concurrency limits.
func (l *loader) limits(cfg *Config) {
	if v := l.get("JT_GATEWAY_RATE_LIMITS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			l.fail("JT_GATEWAY_RATE_LIMITS=%q: want true or false", v)
		}
		cfg.RateLimits = b
	}
	l.rate("JT_GATEWAY_IP_RATE", &cfg.IPRate)
	l.rate("JT_GATEWAY_USER_RATE", &cfg.UserRate)
	l.rate("JT_GATEWAY_APP_RATE", &cfg.AppRate)

	l.integer("JT_GATEWAY_MAX_CONCURRENT", 1, 1_000_000, func(n int64) { cfg.MaxConcurrent = int(n) })
	l.integer("JT_GATEWAY_QUEUE", 0, 1_000_000, func(n int64) { cfg.Queue = int(n) })
	l.duration("JT_GATEWAY_MAX_WAIT", 0, time.Minute, &cfg.MaxWait)
	l.integer("JT_GATEWAY_MAX_BODY", 1024, maxBodyCeiling, func(n int64) { cfg.MaxBody = n })
}

func (l *loader) rate(key string, dst **ratelimit.Limit) {
	v := l.get(key)
	if v == "" {
		return
	}
	limit, err := ParseRate(v)
	if err != nil {
		l.fail("%s=%q: %v", key, v, err)
		return
	}
	*dst = limit
}

func (l *loader) integer(key string, lo, hi int64, set func(int64)) {
	v := l.get(key)
	if v == "" {
		return
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		l.fail("%s=%q: want a whole number from %d to %d", key, v, lo, hi)
		return
	}
	set(n)
}

func (l *loader) duration(key string, lo, hi time.Duration, dst *time.Duration) {
	v := l.get(key)
	if v == "" {
		return
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		l.fail("%s=%q: want a duration from %s to %s", key, v, lo, hi)
		return
	}
	*dst = d
}

// ParseRate parses a rate limit written as "<rate>/<period>", optionally
// followed by " burst <n>": "100/1s burst 200", "600/1m" or "5/s". The
// period is a Go duration, or a bare unit (s, m, h) meaning one of it.
// The burst defaults to the rate. "off" returns nil and no error.
func ParseRate(s string) (*ratelimit.Limit, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return nil, nil
	}
	spec, burstText, hasBurst := strings.Cut(s, " burst ")
	rateText, periodText, ok := strings.Cut(strings.TrimSpace(spec), "/")
	if !ok {
		return nil, errors.New(`want "<rate>/<period>[ burst <n>]", such as "100/1s burst 200", or "off"`)
	}

	rate, err := strconv.Atoi(rateText)
	if err != nil {
		return nil, fmt.Errorf("rate %q is not a whole number", rateText)
	}
	if periodText == "s" || periodText == "m" || periodText == "h" {
		periodText = "1" + periodText
	}
	period, err := time.ParseDuration(periodText)
	if err != nil {
		return nil, fmt.Errorf("period %q is not a duration such as 1s or 1m", periodText)
	}
	limit := ratelimit.Limit{Rate: rate, Period: period, Burst: rate}
	if hasBurst {
		if limit.Burst, err = strconv.Atoi(strings.TrimSpace(burstText)); err != nil {
			return nil, fmt.Errorf("burst %q is not a whole number", burstText)
		}
	}
	if err := limit.Validate(); err != nil {
		return nil, err
	}
	return &limit, nil
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes and
// single addresses, such as "10.0.0.0/8, 192.0.2.7". A single address
// becomes a prefix that contains only that address.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8", item)
			}
			out = append(out, p.Masked())
			continue
		}
		addr, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", item)
		}
		addr = addr.Unmap()
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return out, nil
}

// readSecretFile reads a secret from path, trimming surrounding white
// space.
func readSecretFile(path string) (auth.Secret, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	value := strings.TrimSpace(string(data))
	if value == "" {
		return nil, fmt.Errorf("file %q is empty", path)
	}
	return auth.Secret(value), nil
}

// defaultReplica returns the host name when it is a valid audit replica
// ID, and audit.DefaultReplica otherwise.
func defaultReplica() string {
	host, err := os.Hostname()
	if err != nil || !validReplica(host) {
		return audit.DefaultReplica
	}
	return host
}

// validReplica reports whether id is a replica ID that audit.NewWriter
// accepts: 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-',
// starting with a letter or digit.
func validReplica(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != ':' && c != '-')) {
			return false
		}
	}
	return true
}

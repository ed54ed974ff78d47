package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/gateway/audit"
	"github.com/jingtong/backend/functions/gateway/envelope"
	"github.com/jingtong/backend/functions/gateway/identity"
	"github.com/jingtong/backend/functions/gateway/route"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/ratelimit"
	"github.com/jingtong/backend/shared/smcrypto"
)

// Name is the function's name on every platform, and the function name
// that route tables give the gateway's own routes.
const Name = "gateway"

// closeTimeout bounds how long Close waits for queued audit records.
const closeTimeout = 10 * time.Second

// redisLimitPrefix starts the limiter's keys in Redis, after the "rate:"
// that the limiter adds.
const redisLimitPrefix = "jt:gateway:"

// Gateway is an assembled gateway: the public edge in front of the
// functions and the gateway's own routes.
type Gateway struct {
	cfg    Config
	logger *slog.Logger
	now    func() time.Time

	db          *bun.DB
	redis       *redis.Client
	keys        smcrypto.KeyProvider
	envelope    *envelope.Server
	issuer      *identity.Issuer
	verifier    *identity.Verifier
	login       *identity.Login
	audit       *audit.Writer
	router      *route.Router
	transport   *signingTransport
	proxies     trustedProxies
	ipLimiter   ratelimit.Limiter
	limiter     ratelimit.Limiter
	concurrency *ratelimit.Concurrency

	// callerPolicies are the per-user and per-app limits.
	callerPolicies []ratelimit.Policy

	own      http.Handler
	function *fn.Function

	closeOnce sync.Once
	closeErr  error
}

// New builds the gateway for a deployed binary: every route target other
// than the gateway's own routes must be an upstream URL in the route
// table (JT_GATEWAY_ROUTES).
func New(ctx context.Context, env *fn.Env) (*fn.Function, error) {
	g, err := Build(ctx, env, nil)
	if err != nil {
		return nil, err
	}
	return g.Function(), nil
}

// Build assembles the gateway from env. functions are the in-process
// handlers that route targets may name, keyed by function name, such as
// the functions localdev hosts. The gateway adds its own handler under
// Name. Each handler receives paths relative to its function root, as its
// route rewrites them. Close the gateway, or its Function, when done.
func Build(ctx context.Context, env *fn.Env, functions map[string]http.Handler) (*Gateway, error) {
	cfg, err := LoadConfig(env.Lookup)
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, logger: env.Logger, now: env.Now, proxies: trustedProxies{prefixes: cfg.TrustedProxies}}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	g.logger = g.logger.With("function", Name)
	if g.now == nil {
		g.now = time.Now
	}

	if err := g.build(ctx, env, functions); err != nil {
		return nil, errors.Join(err, g.Close())
	}
	return g, nil
}

// build opens the dependencies and assembles the handlers. On error the
// caller closes what it opened.
func (g *Gateway) build(ctx context.Context, env *fn.Env, functions map[string]http.Handler) error {
	if env.OpenDB == nil {
		return errors.New("gateway: the host provides no database")
	}
	db, err := env.OpenDB(ctx)
	if err != nil {
		return fmt.Errorf("gateway: opening the database: %w", err)
	}
	g.db = db

	steps := []func(context.Context) error{g.openKeys, g.openStores, g.openIdentity, g.openAudit}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	g.concurrency = ratelimit.NewConcurrency(g.cfg.MaxConcurrent, g.cfg.Queue, g.cfg.MaxWait)
	g.callerPolicies = callerPolicies(g.cfg)
	g.own = g.ownHandler()
	if err := g.openRouter(functions); err != nil {
		return err
	}

	g.function = &fn.Function{
		Name:    Name,
		Handler: g.logReady(g.edgeHandler()),
		Migrate: g.Migrate,
		Ready:   g.Ready,
		Close:   g.Close,

		PublicEdge: true,
	}
	return nil
}

// openKeys opens the key provider: the key service when configured, else
// the key files.
func (g *Gateway) openKeys(context.Context) error {
	if g.cfg.RemoteKeysURL != "" {
		provider, err := smcrypto.NewRemoteProvider(g.cfg.RemoteKeysURL, string(g.cfg.RemoteKeysToken))
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		g.keys = provider
		return nil
	}
	set, err := smcrypto.LoadKeySet(g.cfg.KeyDir, g.cfg.SigningKID)
	if err != nil {
		return fmt.Errorf("gateway: loading the keys in JT_GATEWAY_KEY_DIR %q: %w", g.cfg.KeyDir, err)
	}
	g.keys = set
	return nil
}

// openStores opens the session and nonce stores and the limiters: in
// Redis when JT_REDIS_URL is set, in memory otherwise. The per-IP limiter
// is always in memory.
func (g *Gateway) openStores(context.Context) error {
	var sessions envelope.SessionStore = envelope.NewMemorySessionStore(envelope.WithClock(g.now))
	var nonces envelope.NonceStore = envelope.NewMemoryNonceStore(envelope.WithClock(g.now), envelope.WithMaxEntries(g.cfg.MaxNonces))
	memory := ratelimit.NewMemory(ratelimit.WithNow(g.now))
	g.ipLimiter = ratelimit.NewMemory(ratelimit.WithNow(g.now))
	g.limiter = memory

	if g.cfg.RedisURL != "" {
		opts, err := redis.ParseURL(g.cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("gateway: JT_REDIS_URL: %w", err)
		}
		g.redis = redis.NewClient(opts)
		sessions = envelope.NewRedisSessionStore(g.redis, "")
		nonces = envelope.NewRedisNonceStore(g.redis, "")
		g.limiter = ratelimit.NewRedis(g.redis,
			ratelimit.WithPrefix(redisLimitPrefix),
			ratelimit.WithFallback(memory),
			ratelimit.WithErrorHandler(g.redisLimitError()))
	}

	server, err := envelope.New(envelope.Config{
		Keys:       g.keys,
		Sessions:   sessions,
		Nonces:     nonces,
		Now:        g.now,
		Skew:       g.cfg.Skew,
		SessionTTL: g.cfg.SessionTTL,
		MaxBody:    g.cfg.MaxBody,
		Logger:     g.logger,
	})
	if err != nil {
		return err
	}
	g.envelope = server
	return nil
}

// redisLimitError returns the limiter's handler of Redis failures, which
// logs at Warn at most once every 10 seconds while the memory fallback
// decides.
func (g *Gateway) redisLimitError() func(context.Context, error) {
	var mu sync.Mutex
	var last time.Time
	return func(ctx context.Context, err error) {
		mu.Lock()
		now := time.Now()
		quiet := now.Sub(last) < 10*time.Second
		if !quiet {
			last = now
		}
		mu.Unlock()
		if !quiet {
			g.logger.WarnContext(ctx, "rate limiter cannot reach Redis; each instance limits on its own", "err", err)
		}
	}
}

// openIdentity builds the token issuer and verifier, which share the
// gateway's SM2 keys, and the mini-program login.
func (g *Gateway) openIdentity(ctx context.Context) error {
	ic := g.cfg.Identity
	issuer, err := identity.NewIssuer(g.keys, identity.IssuerConfig{Issuer: ic.Issuer, Audience: ic.Audience, TTL: ic.TTL, Now: g.now})
	if err != nil {
		return err
	}

	// NOTE: the verifier trusts the keys listed at start-up. A key that
	// the key service adds later verifies tokens only after a restart.
	list, err := g.keys.PublicKeys(ctx)
	if err != nil {
		return fmt.Errorf("gateway: listing the public keys: %w", err)
	}
	trusted, err := identity.KeysFromList(list)
	if err != nil {
		return err
	}
	verifier, err := identity.NewVerifier(identity.VerifierConfig{
		Keys: trusted, Issuer: ic.Issuer, Audience: ic.Audience, Leeway: ic.Leeway, Now: g.now,
	})
	if err != nil {
		return err
	}

	exchangers, err := ic.Exchangers(nil)
	if err != nil {
		return err
	}
	login, err := identity.NewLogin(identity.NewLinkStore(g.db, g.now), issuer, nil, exchangers...)
	if err != nil {
		return err
	}
	g.issuer, g.verifier, g.login = issuer, verifier, login
	return nil
}

// openAudit starts the audit writer. It writes after Migrate has created
// the audit table.
func (g *Gateway) openAudit(context.Context) error {
	w, err := audit.NewWriter(g.db, g.cfg.AuditKey, audit.WriterOptions{Replica: g.cfg.AuditReplica, Logger: g.logger})
	if err != nil {
		return err
	}
	g.audit = w
	return nil
}

// openRouter builds the router over the route table, with functions and
// the gateway's own handler as in-process targets.
func (g *Gateway) openRouter(functions map[string]http.Handler) error {
	targets := make(map[string]http.Handler, len(functions)+1)
	for name, h := range functions {
		targets[name] = forwardTrace(g.signFunction(h))
	}
	targets[Name] = g.own

	g.transport = &signingTransport{next: &tracingTransport{next: route.NewLeanTransport()}, secret: g.cfg.IdentitySecret, now: g.now}
	router, err := route.New(g.cfg.Routes, route.Options{
		Functions: targets,
		Transport: g.transport,
		Now:       g.now,
		Logger:    g.logger,
	})
	if err != nil && len(functions) == 0 {
		return fmt.Errorf("gateway: building the router: %w; a deployed gateway hosts only its own routes, so every other route target in JT_GATEWAY_ROUTES must be an upstream URL", err)
	}
	if err != nil {
		return fmt.Errorf("gateway: building the router: %w", err)
	}
	g.router = router
	return nil
}

// callerPolicies returns the per-user and per-app policies that cfg
// enables.
func callerPolicies(cfg Config) []ratelimit.Policy {
	var out []ratelimit.Policy
	if cfg.UserRate != nil {
		out = append(out, ratelimit.Policy{Name: "user", Limit: *cfg.UserRate, Parts: ratelimit.PartUser})
	}
	if cfg.AppRate != nil {
		out = append(out, ratelimit.Policy{Name: "app", Limit: *cfg.AppRate, Parts: ratelimit.PartChannel | ratelimit.PartApp})
	}
	return out
}

// logReady wraps the edge so that the first request logs a summary of the
// configuration at Info. The builder cannot log it: hosts also build the
// function to run `gateway migrate`, which serves nothing.
func (g *Gateway) logReady(next http.Handler) http.Handler {
	ready := sync.OnceFunc(func() {
		keySource, store := "files", "memory"
		if g.cfg.RemoteKeysURL != "" {
			keySource = "key service"
		}
		if g.redis != nil {
			store = "redis"
		}
		g.logger.Info("gateway ready", "keys", keySource, "signing_kid", g.cfg.SigningKID, "store", store,
			"routes", len(g.cfg.Routes.Routes), "rate_limits", g.cfg.RateLimits, "dev_login", g.cfg.Identity.DevLogin,
			"max_concurrent", g.cfg.MaxConcurrent, "trusted_proxies", len(g.cfg.TrustedProxies), "audit_replica", g.cfg.AuditReplica)
		if g.cfg.Identity.DevLogin {
			g.logger.Warn("development login is on: anyone who reaches /dev/login can act as any test user, the operator included")
		}
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ready()
		next.ServeHTTP(w, r)
	})
}

// Function returns the gateway as an fn.Function. Its handler is the
// public edge, which serves paths as the route table names them, such as
// /api/zones/zones.
func (g *Gateway) Function() *fn.Function { return g.function }

// Handler returns the gateway's own routes (keys, session, login,
// development login and openapi.json) relative to the function root, the
// handler that localdev serves at /function/gateway/.
func (g *Gateway) Handler() http.Handler { return g.own }

// Migrate brings the identity and audit schemas to the newest version.
func (g *Gateway) Migrate(ctx context.Context) error {
	if err := identity.Migrate(ctx, g.db); err != nil {
		return err
	}
	return audit.Migrate(ctx, g.db)
}

// Ready pings the database, and Redis when configured, and returns the
// first failure.
func (g *Gateway) Ready(ctx context.Context) error {
	if err := g.db.PingContext(ctx); err != nil {
		return fmt.Errorf("gateway: pinging the database: %w", err)
	}
	if g.redis != nil {
		if err := g.redis.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("gateway: pinging Redis: %w", err)
		}
	}
	return nil
}

// Close flushes the audit records still queued, waiting up to 10 seconds,
// stops the router's health checks and closes the Redis client. It does
// not close the database, which the host owns. Calls after the first
// return the first result.
func (g *Gateway) Close() error {
	g.closeOnce.Do(func() {
		var errs []error
		if g.audit != nil {
			ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
			errs = append(errs, g.audit.Close(ctx))
			cancel()
		}
		if g.router != nil {
			errs = append(errs, g.router.Close())
		}
		if g.transport != nil {
			g.transport.CloseIdleConnections()
		}
		if g.redis != nil {
			errs = append(errs, g.redis.Close())
		}
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}

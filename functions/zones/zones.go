// Package zones is the zones function. It serves themed service zones
// (专区), the services attached to them, one-thing items (一件事) with their
// mobile guides, and seasonal templates. It also serves zone pages, which
// operators build once and every channel renders: the WeChat, Alipay and
// Baidu mini-programs, the app and H5.
//
// Public reads need no identity and return published content only, with
// every text in the request's language: Chinese by default, English for
// Accept-Language: en or ?lang=en, falling back to Chinese where no English
// text exists. Admin routes under /admin/ need an operator and work on the
// bilingual records, drafts included. An operator is a caller with the
// operator token, or a user with the operator role in identity headers
// that the gateway signed (see auth.Middleware). openapi.json describes every
// route.
//
// The rendered page of a zone is served from memory; see pageCache.
package zones

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jingtong/backend/functions/zones/seed"
	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
)

// Name is the function's name on every platform.
const Name = "zones"

// New builds the zones function from env. It reads its configuration,
// opens the database and, when JT_ZONES_SEED is true, migrates the schema
// and loads the demo catalogue.
func New(ctx context.Context, env *fn.Env) (*fn.Function, error) {
	_, f, err := build(ctx, env)
	return f, err
}

// build is New, also returning the server so tests can reach its store
// and cache.
func build(ctx context.Context, env *fn.Env) (*server, *fn.Function, error) {
	cfg, err := LoadConfig(env.Lookup)
	if err != nil {
		return nil, nil, err
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("function", Name)
	now := env.Now
	if now == nil {
		now = time.Now
	}
	if env.OpenDB == nil {
		return nil, nil, errors.New("zones: the host provides no database")
	}
	db, err := env.OpenDB(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("zones: open database: %w", err)
	}

	st := NewStore(db, now)
	srv := &server{cfg: cfg, store: st, cache: newPageCache(cfg.CacheTTL), logger: logger, now: now, publisher: env.Publisher}
	st.onCommit = srv.cache.invalidate

	token := loadOperatorToken(cfg.OperatorTokenFile, logger)
	identitySecret, platformSecret, err := loadSecrets(env.Lookup)
	if err != nil {
		return nil, nil, err
	}
	identify, err := auth.Middleware(auth.Options{
		OperatorToken:  token,
		IdentitySecret: identitySecret,
		PlatformSecret: platformSecret,
		Now:            now,
		Logger:         logger,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("zones: %w", err)
	}
	f := &fn.Function{
		Name:    Name,
		Handler: srv.logReady(srv.handler(identify), token != "", len(identitySecret) > 0),
		// Every service write refreshes its search row. The nightly rebuild
		// repairs rows after a change to the pinyin library or to the
		// indexing rules.
		Jobs: []fn.Job{{
			Name:     "refresh-search-index",
			Schedule: "17 3 * * *",
			Missed:   fn.MissedSkip,
			Run:      st.RefreshSearchIndex,
		}},
		Consumers: []fn.Consumer{{
			Subject: SubjectPagePublished,
			Handle:  srv.prerenderPublished,
		}},
		Migrate: func(ctx context.Context) error { return Migrate(ctx, db) },
		Ready:   func(ctx context.Context) error { return checkSchema(ctx, db) },
	}

	if cfg.Seed {
		if err := Migrate(ctx, db); err != nil {
			return nil, nil, err
		}
		res, err := st.Seed(ctx, seed.FS)
		if err != nil {
			return nil, nil, err
		}
		logger.Info("seeded the demo catalogue", "zones", res.Zones, "services", res.Services,
			"items", res.Items, "templates", res.Templates, "pages", res.Pages)
	}

	return srv, f, nil
}

// logReady wraps the function's handler so that the first request logs
// "zones function ready" with a summary of the configuration. The builder
// cannot log it: hosts also build the function to run `zones migrate`,
// which serves nothing.
func (s *server) logReady(next http.Handler, operatorToken, identityHeaders bool) http.Handler {
	ready := sync.OnceFunc(func() {
		s.logger.Info("zones function ready", "cache_ttl", s.cfg.CacheTTL.String(), "max_body", s.cfg.MaxBody,
			"seed", s.cfg.Seed, "operator_token", operatorToken, "identity_headers", identityHeaders)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ready()
		next.ServeHTTP(w, r)
	})
}

// loadOperatorToken reads the operator token file. When the file is not
// configured or cannot be read it logs why and returns "", so every admin
// request gets 401. The token itself is never logged.
func loadOperatorToken(path string, logger *slog.Logger) string {
	if path == "" {
		logger.Warn("JT_OPERATOR_TOKEN_FILE is not set; admin routes reject every request")
		return ""
	}
	token, err := auth.ReadTokenFile(path)
	if err != nil {
		logger.Warn("operator token unavailable; admin routes reject every request", "path", path, "err", err)
		return ""
	}
	return token
}

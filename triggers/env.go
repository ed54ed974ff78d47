package triggers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/obs"
	"github.com/jingtong/backend/shared/store"
)

// Defaults for the environment variables that Run reads.
const (
	DefaultDataDir = "./.data"
	// DefaultDatabaseFile is the SQLite file in the data directory used when
	// JT_DATABASE_URL is unset.
	DefaultDatabaseFile = "jingtong.db"
)

// newLogger returns a JSON logger writing to stdout at the JT_LOG_LEVEL level.
func newLogger(lookup func(string) (string, bool), stdout io.Writer) (*slog.Logger, error) {
	level := slog.LevelInfo
	if v, ok := lookup("JT_LOG_LEVEL"); ok && v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return nil, fmt.Errorf("triggers: invalid JT_LOG_LEVEL %q: want debug, info, warn or error", v)
		}
	}
	return obs.NewLogger(stdout, level), nil
}

// newEnv returns the Env for a builder and the database opener behind its
// OpenDB, which the caller closes after the function.
func newEnv(lookup func(string) (string, bool), logger *slog.Logger) (*fn.Env, *dbOpener) {
	env := &fn.Env{Lookup: lookup, Logger: logger, Now: time.Now}
	env.DataDir = env.Getenv("JT_DATA_DIR", DefaultDataDir)

	db := &dbOpener{
		dsn:  env.Getenv("JT_DATABASE_URL", "sqlite:"+filepath.Join(env.DataDir, DefaultDatabaseFile)),
		open: store.Open,
	}
	env.OpenDB = db.Open
	return env, db
}

// dbOpener opens the database on first use and returns the same handle after
// that. A failed open is not remembered, so a later call retries.
type dbOpener struct {
	dsn  string
	open func(ctx context.Context, dsn string) (*bun.DB, error)

	mu sync.Mutex
	db *bun.DB
}

// Open returns the shared database handle, opening it on the first call.
func (o *dbOpener) Open(ctx context.Context) (*bun.DB, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db != nil {
		return o.db, nil
	}

	db, err := o.open(ctx, o.dsn)
	if err != nil {
		return nil, fmt.Errorf("triggers: opening database: %w", err)
	}
	o.db = db
	return db, nil
}

// Close closes the database if it was opened.
func (o *dbOpener) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.db == nil {
		return nil
	}

	err := o.db.Close()
	o.db = nil
	if err != nil {
		return fmt.Errorf("triggers: closing database: %w", err)
	}
	return nil
}

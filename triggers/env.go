package triggers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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
// OpenDB, which the caller closes after the function. It fails when the
// database URL names SQLite in a binary built without it.
func newEnv(lookup func(string) (string, bool), logger *slog.Logger) (*fn.Env, *dbOpener, error) {
	env := &fn.Env{Lookup: lookup, Logger: logger, Now: time.Now}
	env.DataDir = env.Getenv("JT_DATA_DIR", DefaultDataDir)

	dsn, err := databaseURL(env, store.SQLiteBuilt)
	if err != nil {
		return nil, nil, err
	}
	db := &dbOpener{dsn: dsn, open: store.Open}
	env.OpenDB = db.Open
	return env, db, nil
}

// databaseURL returns JT_DATABASE_URL, or the SQLite file in the data
// directory when it is unset. Without SQLite in the binary (sqliteBuilt is
// false in release builds, which use the jt_nosqlite tag) anything but a
// PostgreSQL URL is an error, so the binary stops at start-up instead of
// at its first query.
func databaseURL(env *fn.Env, sqliteBuilt bool) (string, error) {
	dsn := env.Getenv("JT_DATABASE_URL", "")
	if dsn == "" {
		if !sqliteBuilt {
			return "", errors.New("triggers: JT_DATABASE_URL is not set, and this binary was built without SQLite (build tag jt_nosqlite), so it has no default database: set JT_DATABASE_URL to a postgres:// URL")
		}
		return "sqlite:" + filepath.Join(env.DataDir, DefaultDatabaseFile), nil
	}
	if !sqliteBuilt && !store.IsPostgresDSN(dsn) {
		return "", fmt.Errorf("triggers: JT_DATABASE_URL %q is not a postgres:// or postgresql:// URL, and this binary was built without SQLite (build tag jt_nosqlite): set a PostgreSQL URL", store.Redact(dsn))
	}
	return dsn, nil
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

// SecretFileVars are the variables whose values may carry credentials, such
// as a password in a database URL. Each may instead come from the file that
// the variable with the suffix "_FILE" names, as OpenFaaS
// (/var/openfaas/secrets), Knative and Kubernetes mount secrets. The
// gateway's keys and the HMAC secrets have _FILE forms of their own (see
// auth.LoadSecret).
var SecretFileVars = []string{"JT_DATABASE_URL", "JT_REDIS_URL", "JT_CRON_REDIS_URL", "JT_NATS_URL"}

// maxSecretFileSize bounds a secret file, so a wrong path such as a log
// file fails instead of filling memory.
const maxSecretFileSize = 64 << 10

// WithSecretFiles returns lookup with the SecretFileVars read from their
// _FILE files where the variable itself is unset. It reads the files at
// once, so a missing file fails at start, and trims one trailing newline.
// Setting both a variable and its _FILE form is an error. The errors name
// the variables and paths, never the contents.
func WithSecretFiles(lookup func(string) (string, bool)) (func(string) (string, bool), error) {
	values := map[string]string{}
	var problems []error
	for _, key := range SecretFileVars {
		path, ok := lookup(key + "_FILE")
		if !ok || path == "" {
			continue
		}
		if v, set := lookup(key); set && v != "" {
			problems = append(problems, fmt.Errorf("triggers: both %s and %s_FILE are set; set one", key, key))
			continue
		}
		v, err := readSecretFile(path)
		if err != nil {
			problems = append(problems, fmt.Errorf("triggers: %s_FILE: %w", key, err))
			continue
		}
		values[key] = v
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if len(values) == 0 {
		return lookup, nil
	}
	return func(key string) (string, bool) {
		if v, ok := values[key]; ok {
			return v, true
		}
		return lookup(key)
	}, nil
}

func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileSize+1))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxSecretFileSize {
		return "", fmt.Errorf("%s is larger than %d bytes", path, maxSecretFileSize)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

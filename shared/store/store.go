// Package store opens the database behind a function and runs its
// migrations.
//
// Two databases are supported, chosen by the DSN: PostgreSQL (and the
// PostgreSQL-compatible domestic databases) through pgx's database/sql driver
// with bun's pgdialect, and SQLite through the pure-Go modernc.org/sqlite
// driver with bun's sqlitedialect, so local development needs no cgo and no
// server. Code above this package uses bun's query builder only, with SQL
// that both dialects accept.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Open connects to the database named by dsn and checks that it answers.
//
// A dsn starting with postgres:// or postgresql:// opens PostgreSQL. Anything
// else is a SQLite file path, optionally prefixed with "sqlite:" or "file:";
// its directory is created when missing. SQLite runs in WAL mode with a
// 5-second busy timeout, foreign keys on, and transactions that take the
// write lock at BEGIN so concurrent writers wait instead of failing.
func Open(ctx context.Context, dsn string) (*bun.DB, error) {
	if dsn == "" {
		return nil, fmt.Errorf("store: empty database DSN")
	}

	var db *bun.DB
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sqldb, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: opening postgres: %w", err)
		}
		sqldb.SetMaxOpenConns(32)
		sqldb.SetMaxIdleConns(8)
		db = bun.NewDB(sqldb, pgdialect.New())
	} else {
		sqldb, err := openSQLite(dsn)
		if err != nil {
			return nil, err
		}
		db = bun.NewDB(sqldb, sqlitedialect.New())
	}

	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: connecting to %s: %w", Redact(dsn), err)
	}
	return db, nil
}

func openSQLite(dsn string) (*sql.DB, error) {
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		return nil, fmt.Errorf("store: SQLite DSN %q names no file", dsn)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: creating the SQLite directory: %w", err)
	}
	// The database holds operation logs, identity links and audit records,
	// so only the owner may read it. SQLite gives its -wal and -shm files
	// the database file's permissions.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: creating the SQLite file: %w", err)
	}
	_ = f.Close()

	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: opening SQLite %q: %w", path, err)
	}
	// SQLite allows one writer at a time; a small pool keeps readers
	// concurrent under WAL without piling up writers on the busy timeout.
	sqldb.SetMaxOpenConns(4)
	return sqldb, nil
}

// IsPostgres reports whether db speaks the PostgreSQL dialect.
func IsPostgres(db bun.IDB) bool {
	return db.Dialect().Name() == dialect.PG
}

// passwordParam matches the password and sslpassword parameters that pgx
// also reads from a DSN's query string.
var passwordParam = regexp.MustCompile(`((?:^|[?&])(?:ssl)?password=)[^&]*`)

// Redact returns dsn with any password replaced, for logs and errors: the
// password in the user info and the password and sslpassword query
// parameters. When dsn does not parse as a URL, everything between the user
// name and the last "@" is replaced, because the password may be there.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return redactUnparsed(dsn)
	}

	changed := false
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
		changed = true
	}
	q := u.Query()
	for _, key := range []string{"password", "sslpassword"} {
		if q.Has(key) {
			q.Set(key, "xxxxx")
			changed = true
		}
	}
	if !changed {
		return dsn
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func redactUnparsed(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			if user, _, ok := strings.Cut(rest[:at], ":"); ok {
				dsn = dsn[:i+3] + user + ":xxxxx" + rest[at:]
			}
		}
	}
	return passwordParam.ReplaceAllString(dsn, "${1}xxxxx")
}

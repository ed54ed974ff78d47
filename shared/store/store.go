// Package store opens the database behind a function and runs its
// migrations.
//
// Two databases are supported, chosen by the DSN: PostgreSQL (and the
// PostgreSQL-compatible domestic databases) through pgx's database/sql driver
// with bun's pgdialect, and SQLite through the pure-Go modernc.org/sqlite
// driver with bun's sqlitedialect, so local development needs no cgo and no
// server. Code above this package uses bun's query builder only, with SQL
// that both dialects accept.
//
// The build tag jt_nosqlite leaves the SQLite driver out. Release builds of
// the functions use it, because deployed functions run on PostgreSQL and the
// driver is one of the largest parts of a binary. In such a binary
// SQLiteBuilt is false and Open rejects every DSN that is not PostgreSQL's
// with ErrNoSQLite. localdev and the tests build without the tag.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// ErrNoSQLite is returned by Open for a SQLite DSN in a binary built with the
// jt_nosqlite tag.
var ErrNoSQLite = errors.New("store: SQLite is not built into this binary (build tag jt_nosqlite)")

// Open connects to the database named by dsn and checks that it answers.
//
// A dsn starting with postgres:// or postgresql:// opens PostgreSQL. Anything
// else is a SQLite file path, optionally prefixed with "sqlite:" or "file:";
// its directory is created when missing. SQLite runs in WAL mode with a
// 5-second busy timeout, foreign keys on, and transactions that take the
// write lock at BEGIN so concurrent writers wait instead of failing. A binary
// built with the jt_nosqlite tag returns an error wrapping ErrNoSQLite for a
// SQLite DSN, before it touches the file system.
func Open(ctx context.Context, dsn string) (*bun.DB, error) {
	if dsn == "" {
		return nil, fmt.Errorf("store: empty database DSN")
	}

	scheme, rest, isURL := strings.Cut(dsn, "://")
	if isURL && !IsPostgresDSN(dsn) && !strings.EqualFold(scheme, "file") && !strings.EqualFold(scheme, "sqlite") {
		return nil, fmt.Errorf("store: unsupported database URL scheme %q: use a postgres:// URL or a SQLite path", scheme)
	}

	var db *bun.DB
	if IsPostgresDSN(dsn) {
		// pgx reads only lower-case schemes as URLs.
		sqldb, err := sql.Open("pgx", strings.ToLower(scheme)+"://"+rest)
		if err != nil {
			return nil, fmt.Errorf("store: opening postgres: %w", err)
		}
		sqldb.SetMaxOpenConns(32)
		sqldb.SetMaxIdleConns(8)
		db = bun.NewDB(sqldb, pgdialect.New())
	} else {
		var err error
		if db, err = openSQLite(dsn); err != nil {
			return nil, err
		}
	}

	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("store: connecting to %s: %w", Redact(dsn), err)
	}
	return db, nil
}

// IsPostgresDSN reports whether dsn names a PostgreSQL database, which Open
// does for a postgres:// or postgresql:// URL in any letter case. Open
// treats a DSN without a URL scheme as a SQLite file.
func IsPostgresDSN(dsn string) bool {
	scheme, _, ok := strings.Cut(dsn, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// IsPostgres reports whether db speaks the PostgreSQL dialect.
func IsPostgres(db bun.IDB) bool {
	return db.Dialect().Name() == dialect.PG
}

// passwordParam matches the password and sslpassword parameters that pgx
// also reads from a DSN's query string.
var passwordParam = regexp.MustCompile(`((?:^|[?&])(?:ssl)?password=)[^&]*`)

// keywordPassword matches the password of a keyword/value DSN such as
// "host=db password='a b' dbname=zones": quoted, with backslash escapes,
// or up to the next space.
var keywordPassword = regexp.MustCompile(`((?:^|\s)(?:ssl)?password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|\S*)`)

// Redact returns dsn with any password replaced, for logs and errors: the
// password in the user info and the password and sslpassword query
// parameters. When dsn does not parse as a URL, everything between the user
// name and the last "@" is replaced, because the password may be there.
func Redact(dsn string) string {
	if !strings.Contains(dsn, "://") {
		// A keyword/value DSN, as libpq and pgx accept, or a SQLite path.
		return keywordPassword.ReplaceAllString(dsn, "${1}xxxxx")
	}
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

//go:build jt_nosqlite

package store

import (
	"fmt"

	"github.com/uptrace/bun"
)

// SQLiteBuilt is true when this binary contains the SQLite driver, and false
// in builds with the jt_nosqlite tag.
const SQLiteBuilt = false

// openSQLite rejects dsn without creating its file or directory, because
// this build has no SQLite driver.
func openSQLite(dsn string) (*bun.DB, error) {
	return nil, fmt.Errorf("%w, so it cannot open %q: use a postgres:// or postgresql:// DSN", ErrNoSQLite, Redact(dsn))
}

// IsSQLiteUniqueViolation returns false, because a build without SQLite
// never returns a SQLite error.
func IsSQLiteUniqueViolation(error) bool { return false }

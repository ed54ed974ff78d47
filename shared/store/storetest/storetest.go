// Package storetest runs store tests against every supported database.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store"
)

// PostgresURLVar names the environment variable with the PostgreSQL DSN for
// tests, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const PostgresURLVar = "JT_TEST_POSTGRES_URL"

// EachDB runs fn as a subtest on a fresh SQLite database and, when
// JT_TEST_POSTGRES_URL is set, on a fresh PostgreSQL schema. Without the
// variable the PostgreSQL subtest is skipped with the reason printed, and in
// a build without SQLite the SQLite subtest is.
func EachDB(t *testing.T, fn func(t *testing.T, db *bun.DB)) {
	t.Helper()

	t.Run("sqlite", func(t *testing.T) {
		fn(t, OpenSQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, OpenPostgres(t))
	})
}

// OpenSQLite returns a database in a new file under t.TempDir, closed when
// the test ends. It skips the test in a build without SQLite.
func OpenSQLite(t testing.TB) *bun.DB {
	t.Helper()
	RequireSQLite(t)
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("open SQLite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// RequireSQLite skips the test when the binary was built without SQLite
// (build tag jt_nosqlite), so that the PostgreSQL runs of a package still
// run under that tag.
func RequireSQLite(t testing.TB) {
	t.Helper()
	if !store.SQLiteBuilt {
		t.Skip("built with the jt_nosqlite tag, without SQLite; skipping the SQLite run")
	}
}

// OpenPostgres returns a database whose search path is a new schema, dropped
// when the test ends, so parallel tests never see each other's tables. It
// skips the test when JT_TEST_POSTGRES_URL is unset.
func OpenPostgres(t testing.TB) *bun.DB {
	t.Helper()
	dsn := PostgresDSN(t)
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open PostgreSQL schema: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// PostgresDSN creates a new schema, dropped when the test ends, and returns
// a DSN whose search path is that schema. Tests that need several handles on
// one schema, such as concurrent migrations, open it more than once. It skips
// the test when JT_TEST_POSTGRES_URL is unset.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLVar)
	if base == "" {
		t.Skipf("%s is not set; skipping the PostgreSQL run", PostgresURLVar)
	}
	ctx := context.Background()

	admin, err := store.Open(ctx, base)
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	defer admin.Close()

	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "jt_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}

	// Registered before any handle on the schema is opened, so it runs after
	// their cleanups have closed them.
	t.Cleanup(func() {
		cleanup, err := store.Open(context.Background(), base)
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer cleanup.Close()
		if _, err := cleanup.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

//go:build jt_nosqlite

package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jingtong/backend/shared/store"
)

func TestOpen_withoutSQLiteRejectsSQLiteDSN(t *testing.T) {
	t.Parallel()
	if store.SQLiteBuilt {
		t.Fatal("SQLiteBuilt = true under the jt_nosqlite tag, want false")
	}

	dir := filepath.Join(t.TempDir(), "missing")
	path := filepath.Join(dir, "zones.db")
	for _, dsn := range []string{path, "sqlite:" + path, "file:" + path + "?mode=rwc"} {
		t.Run(dsn, func(t *testing.T) {
			t.Parallel()
			db, err := store.Open(context.Background(), dsn)
			if err == nil {
				_ = db.Close()
				t.Fatalf("Open(%q) error = nil, want ErrNoSQLite", dsn)
			}
			if !errors.Is(err, store.ErrNoSQLite) {
				t.Errorf("Open(%q) error = %v, want it to wrap ErrNoSQLite", dsn, err)
			}
			msg := err.Error()
			for _, part := range []string{"store: ", "jt_nosqlite", dsn, "postgres://"} {
				if !strings.Contains(msg, part) {
					t.Errorf("Open(%q) error %q does not contain %q", dsn, msg, part)
				}
			}
		})
	}

	t.Cleanup(func() {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stat %s = %v, want it never created", dir, err)
		}
	})
}

func TestIsSQLiteUniqueViolation_withoutSQLite(t *testing.T) {
	t.Parallel()
	if store.IsSQLiteUniqueViolation(errors.New("UNIQUE constraint failed: zones.id")) {
		t.Error("IsSQLiteUniqueViolation = true without SQLite, want false")
	}
}

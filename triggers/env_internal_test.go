package triggers

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store"
)

func TestDBOpenerRetriesAfterFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	errRefused := errors.New("connection refused")
	var calls atomic.Int32
	o := &dbOpener{dsn: "sqlite:" + filepath.Join(t.TempDir(), "retry.db")}
	o.open = func(ctx context.Context, dsn string) (*bun.DB, error) {
		if calls.Add(1) == 1 {
			return nil, errRefused
		}
		return store.Open(ctx, dsn)
	}

	if _, err := o.Open(ctx); !errors.Is(err, errRefused) {
		t.Fatalf("first Open = %v, want the opener's error", err)
	}
	db, err := o.Open(ctx)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if again, _ := o.Open(ctx); again != db {
		t.Error("third Open returned a new handle, want the cached one")
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("opener called %d times, want 2", got)
	}

	if err := o.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := o.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestDBOpenerOpensOnceConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var calls atomic.Int32
	o := &dbOpener{dsn: "sqlite:" + filepath.Join(t.TempDir(), "once.db")}
	o.open = func(ctx context.Context, dsn string) (*bun.DB, error) {
		calls.Add(1)
		return store.Open(ctx, dsn)
	}
	defer o.Close()

	var wg sync.WaitGroup
	handles := make([]*bun.DB, 8)
	for i := range handles {
		wg.Go(func() {
			db, err := o.Open(ctx)
			if err != nil {
				t.Errorf("Open: %v", err)
			}
			handles[i] = db
		})
	}
	wg.Wait()

	if got := calls.Load(); got != 1 {
		t.Errorf("opener called %d times, want 1", got)
	}
	for i, db := range handles {
		if db != handles[0] {
			t.Errorf("handle %d differs from handle 0", i)
		}
	}
}

func TestDatabaseURL(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join("var", "jt")
	defaultSQLite := "sqlite:" + filepath.Join(dataDir, DefaultDatabaseFile)
	tests := []struct {
		name        string
		value       string // JT_DATABASE_URL; empty means unset
		sqliteBuilt bool
		want        string
	}{
		{name: "unset with SQLite", sqliteBuilt: true, want: defaultSQLite},
		{name: "SQLite path with SQLite", value: "/var/lib/jt/zones.db", sqliteBuilt: true, want: "/var/lib/jt/zones.db"},
		{name: "postgres with SQLite", value: "postgres://jt@db/zones", sqliteBuilt: true, want: "postgres://jt@db/zones"},
		{name: "postgres without SQLite", value: "postgres://jt@db/zones", want: "postgres://jt@db/zones"},
		{name: "postgresql without SQLite", value: "postgresql://jt@db/zones", want: "postgresql://jt@db/zones"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := databaseURL(testEnv(dataDir, tt.value), tt.sqliteBuilt)
			if err != nil {
				t.Fatalf("databaseURL: %v", err)
			}
			if got != tt.want {
				t.Errorf("databaseURL = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDatabaseURLRejectsSQLiteWhenLeftOut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string // JT_DATABASE_URL; empty means unset
		want  string
	}{
		{name: "unset", want: "JT_DATABASE_URL is not set"},
		{name: "sqlite prefix", value: "sqlite:/var/lib/jt/zones.db", want: `"sqlite:/var/lib/jt/zones.db" is not a postgres:// or postgresql:// URL`},
		{name: "file prefix", value: "file:zones.db?mode=rwc", want: `"file:zones.db?mode=rwc" is not a postgres:// or postgresql:// URL`},
		{name: "plain path", value: "/var/lib/jt/zones.db", want: `"/var/lib/jt/zones.db" is not a postgres:// or postgresql:// URL`},
		{name: "other scheme", value: "mysql://jt:hunter2@db/zones", want: `"mysql://jt:xxxxx@db/zones" is not a postgres:// or postgresql:// URL`},
		{name: "keyword/value DSN", value: "host=db user=jt password=hunter2 dbname=zones", want: `"host=db user=jt password=xxxxx dbname=zones" is not a postgres:// or postgresql:// URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := databaseURL(testEnv("data", tt.value), false)
			if err == nil {
				t.Fatalf("databaseURL = %q, nil; want an error", got)
			}
			msg := err.Error()
			for _, part := range []string{tt.want, "jt_nosqlite", "postgres://"} {
				if !strings.Contains(msg, part) {
					t.Errorf("error %q does not contain %q", msg, part)
				}
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("error %q contains the password", msg)
			}
		})
	}
}

// testEnv returns an Env whose only variable is JT_DATABASE_URL, set to
// databaseURL unless that is empty.
func testEnv(dataDir, databaseURL string) *fn.Env {
	return &fn.Env{DataDir: dataDir, Lookup: func(key string) (string, bool) {
		if key == "JT_DATABASE_URL" && databaseURL != "" {
			return databaseURL, true
		}
		return "", false
	}}
}

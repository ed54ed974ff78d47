package store_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store"
	"github.com/jingtong/backend/shared/store/storetest"
)

func TestOpen_createsSQLiteDirectory(t *testing.T) {
	t.Parallel()
	storetest.RequireSQLite(t)

	tests := []struct {
		name   string
		prefix string
		suffix string
	}{
		{name: "plain path", prefix: ""},
		{name: "sqlite: prefix", prefix: "sqlite:"},
		{name: "file: prefix with query", prefix: "file:", suffix: "?mode=rwc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "missing", "nested", "zones.db")
			ctx := context.Background()

			db, err := store.Open(ctx, tt.prefix+path+tt.suffix)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { _ = db.Close() })

			if _, err := db.ExecContext(ctx, "CREATE TABLE zones (id INTEGER PRIMARY KEY)"); err != nil {
				t.Fatalf("create table: %v", err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatalf("stat database file: %v", err)
			}
			if !info.Mode().IsRegular() {
				t.Errorf("%s mode = %v, want a regular file", path, info.Mode())
			}
			if store.IsPostgres(db) {
				t.Errorf("IsPostgres(SQLite) = true, want false")
			}
		})
	}
}

func TestOpen_sqliteSettings(t *testing.T) {
	t.Parallel()

	db := storetest.OpenSQLite(t)
	ctx := context.Background()

	tests := []struct {
		pragma string
		want   string
	}{
		{pragma: "journal_mode", want: "wal"},
		{pragma: "busy_timeout", want: "5000"},
		{pragma: "foreign_keys", want: "1"},
		{pragma: "synchronous", want: "1"}, // NORMAL
	}
	for _, tt := range tests {
		t.Run(tt.pragma, func(t *testing.T) {
			var got string
			if err := db.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
}

func TestOpen_rejectsMissingPath(t *testing.T) {
	t.Parallel()

	for _, dsn := range []string{"", "sqlite:", "file:", "file:?mode=rwc"} {
		t.Run("dsn "+strconv.Quote(dsn), func(t *testing.T) {
			t.Parallel()
			db, err := store.Open(context.Background(), dsn)
			if err == nil {
				_ = db.Close()
				t.Fatalf("Open(%q) error = nil, want an error", dsn)
			}
			if !strings.HasPrefix(err.Error(), "store: ") {
				t.Errorf("Open(%q) error = %q, want the store: prefix", dsn, err)
			}
		})
	}
}

func TestOpen_badPostgresHostRedacted(t *testing.T) {
	t.Parallel()

	const password = "Sup3r-Secret"
	addr := closedLoopbackAddr(t)
	tests := []struct {
		name string
		dsn  string
	}{
		{name: "password in user info", dsn: "postgres://jt:" + password + "@" + addr + "/test?sslmode=disable"},
		{name: "postgresql scheme", dsn: "postgresql://jt:" + password + "@" + addr + "/test?sslmode=disable"},
		{name: "password query parameter", dsn: "postgres://jt@" + addr + "/test?sslmode=disable&password=" + password},
		{name: "unparseable URL with password", dsn: "postgres://jt:" + password + "/x@" + addr + "/test?sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			db, err := store.Open(ctx, tt.dsn)
			if err == nil {
				_ = db.Close()
				t.Fatalf("Open(closed port) error = nil, want an error")
			}
			msg := err.Error()
			if strings.Contains(msg, password) {
				t.Errorf("error %q contains the password", msg)
			}
			if !strings.HasPrefix(msg, "store: connecting to ") {
				t.Errorf("error %q, want it to start with %q", msg, "store: connecting to ")
			}
			if !strings.Contains(msg, "xxxxx") {
				t.Errorf("error %q, want the password shown as xxxxx", msg)
			}
		})
	}
}

func TestIsPostgresDSN_schemes(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]bool{
		"postgres://db/zones":   true,
		"POSTGRES://db/zones":   true,
		"PostgreSQL://db/zones": true,
		"pg://db/zones":         false,
		"host=db dbname=zones":  false,
		"/var/lib/jt/zones.db":  false,
		" postgres://db/zones":  false,
		"postgres:/db/zones":    false,
	} {
		if got := store.IsPostgresDSN(dsn); got != want {
			t.Errorf("IsPostgresDSN(%q) = %v, want %v", dsn, got, want)
		}
	}
}

func TestOpen_rejectsUnknownScheme(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := store.Open(context.Background(), "mysql://jt@"+dir+"/zones")
	if err == nil || !strings.Contains(err.Error(), `unsupported database URL scheme "mysql"`) {
		t.Fatalf("Open(mysql://...) = %v, want an unsupported scheme error", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Open(mysql://...) created %d entries in %s, want none", len(entries), dir)
	}
}

func TestRedact_hidesPasswords(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		dsn  string
		want string
	}{
		{name: "password in user info", dsn: "postgres://jt:hunter2@db.internal:5432/zones?sslmode=disable", want: "postgres://jt:xxxxx@db.internal:5432/zones?sslmode=disable"},
		{name: "escaped password", dsn: "postgres://jt:hun%40ter2@db.internal/zones", want: "postgres://jt:xxxxx@db.internal/zones"},
		{name: "user without password", dsn: "postgres://jt@db.internal/zones", want: "postgres://jt@db.internal/zones"},
		{name: "empty password", dsn: "postgres://jt:@db.internal/zones", want: "postgres://jt:xxxxx@db.internal/zones"},
		{name: "password query parameter", dsn: "postgres://jt@db.internal/zones?password=hunter2&sslmode=require", want: "postgres://jt@db.internal/zones?password=xxxxx&sslmode=require"},
		{name: "sslpassword query parameter", dsn: "postgres://jt@db.internal/zones?sslpassword=hunter2", want: "postgres://jt@db.internal/zones?sslpassword=xxxxx"},
		{name: "unparseable URL with password", dsn: "postgres://jt:hun/ter2@db.internal:bad/zones", want: "postgres://jt:xxxxx@db.internal:bad/zones"},
		{name: "keyword/value password", dsn: "host=127.0.0.1 user=app password=hunter2 dbname=x", want: "host=127.0.0.1 user=app password=xxxxx dbname=x"},
		{name: "keyword/value quoted password", dsn: `password = 'hun ter\'2' host=db`, want: "password = xxxxx host=db"},
		{name: "SQLite path unchanged", dsn: "/var/lib/jingtong/zones.db", want: "/var/lib/jingtong/zones.db"},
		{name: "SQLite URI unchanged", dsn: "file:./.data/zones.db?mode=rwc", want: "file:./.data/zones.db?mode=rwc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := store.Redact(tt.dsn)
			if got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.dsn, got, tt.want)
			}
			if strings.Contains(got, "hunter2") || strings.Contains(got, "hun/ter2") {
				t.Errorf("Redact(%q) = %q still contains the password", tt.dsn, got)
			}
		})
	}
}

func TestIsPostgres_dialect(t *testing.T) {
	t.Parallel()

	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		want := strings.HasSuffix(t.Name(), "/postgres")
		if got := store.IsPostgres(db); got != want {
			t.Errorf("IsPostgres = %t, want %t", got, want)
		}
	})
}

// closedLoopbackAddr returns a loopback address on which nothing listens,
// so connecting to it fails at once without leaving the machine.
func closedLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return addr
}

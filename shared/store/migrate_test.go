package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store"
	"github.com/jingtong/backend/shared/store/storetest"
)

// runLog records which migrations ran, in order.
type runLog struct {
	mu    sync.Mutex
	names []string
}

func (l *runLog) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.names = append(l.names, name)
}

func (l *runLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.names)
}

// execMigration returns a migration that runs query and records its name.
func execMigration(log *runLog, name, query string) store.Migration {
	return store.Migration{Name: name, Up: func(ctx context.Context, tx bun.Tx) error {
		log.add(name)
		_, err := tx.ExecContext(ctx, query)
		return err
	}}
}

func TestMigrate_appliesInNameOrderOnce(t *testing.T) {
	t.Parallel()

	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		var log runLog
		// Listed out of order on purpose: Migrate sorts by name.
		migrations := []store.Migration{
			execMigration(&log, "0003_add_zone_rows", "INSERT INTO zones (name) VALUES ('东城')"),
			execMigration(&log, "0001_create_zones", "CREATE TABLE zones (name VARCHAR(64) NOT NULL)"),
			execMigration(&log, "0002_index_zones", "CREATE UNIQUE INDEX zones_name ON zones (name)"),
		}
		want := []string{"0001_create_zones", "0002_index_zones", "0003_add_zone_rows"}

		if err := store.Migrate(ctx, db, "zones", migrations); err != nil {
			t.Fatalf("first Migrate: %v", err)
		}
		if got := log.get(); !slices.Equal(got, want) {
			t.Errorf("first run applied %v, want %v", got, want)
		}

		if err := store.Migrate(ctx, db, "zones", migrations); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if got := log.get(); !slices.Equal(got, want) {
			t.Errorf("after second run applied %v, want still %v", got, want)
		}
		if got := countRows(t, db, "zones"); got != 1 {
			t.Errorf("zones rows = %d, want 1", got)
		}
		if got := countRows(t, db, "zones_migrations"); got != 3 {
			t.Errorf("zones_migrations rows = %d, want 3", got)
		}

		// A later release adds one migration; only that one runs.
		migrations = append(migrations, execMigration(&log, "0004_add_more_rows", "INSERT INTO zones (name) VALUES ('西城')"))
		if err := store.Migrate(ctx, db, "zones", migrations); err != nil {
			t.Fatalf("third Migrate: %v", err)
		}
		want = append(want, "0004_add_more_rows")
		if got := log.get(); !slices.Equal(got, want) {
			t.Errorf("after third run applied %v, want %v", got, want)
		}
	})
}

func TestMigrate_failureRollsBack(t *testing.T) {
	t.Parallel()

	errBroken := errors.New("broken migration")
	tests := []struct {
		name string
		up   func(ctx context.Context, tx bun.Tx) error
	}{
		{name: "returned error", up: func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "CREATE TABLE floors (zone VARCHAR(64) NOT NULL)"); err != nil {
				return err
			}
			return errBroken
		}},
		{name: "failed statement", up: func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, "CREATE TABLE floors (zone VARCHAR(64) NOT NULL)"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO no_such_table (zone) VALUES ('x')")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
				ctx := context.Background()
				var log runLog
				create := execMigration(&log, "0001_create_zones", "CREATE TABLE zones (name VARCHAR(64) NOT NULL)")
				broken := store.Migration{Name: "0002_create_floors", Up: func(ctx context.Context, tx bun.Tx) error {
					log.add("0002_create_floors")
					return tt.up(ctx, tx)
				}}

				err := store.Migrate(ctx, db, "zones", []store.Migration{create, broken})
				if err == nil {
					t.Fatalf("Migrate with a failing migration = nil, want an error")
				}
				if !strings.Contains(err.Error(), "0002_create_floors") {
					t.Errorf("error %q, want it to name the failing migration", err)
				}
				if !tableExists(t, db, "zones") {
					t.Errorf("table zones missing, want the first migration kept")
				}
				if tableExists(t, db, "floors") {
					t.Errorf("table floors exists, want the failed migration rolled back")
				}
				if got := countRows(t, db, "zones_migrations"); got != 1 {
					t.Errorf("zones_migrations rows = %d, want 1", got)
				}

				// The fixed migration is retried on the next run.
				fixed := execMigration(&log, "0002_create_floors", "CREATE TABLE floors (zone VARCHAR(64) NOT NULL)")
				if err := store.Migrate(ctx, db, "zones", []store.Migration{create, fixed}); err != nil {
					t.Fatalf("Migrate after the fix: %v", err)
				}
				if !tableExists(t, db, "floors") {
					t.Errorf("table floors missing after the retry")
				}
				want := []string{"0001_create_zones", "0002_create_floors", "0002_create_floors"}
				if got := log.get(); !slices.Equal(got, want) {
					t.Errorf("applied %v, want %v", got, want)
				}
			})
		})
	}
}

func TestMigrate_rejectsInvalidNames(t *testing.T) {
	t.Parallel()

	valid := func(context.Context, bun.Tx) error { return nil }
	tests := []struct {
		name      string
		set       string
		migration string
		wantQuote string
	}{
		{name: "empty set name", set: "", migration: "0001_init", wantQuote: `""`},
		{name: "upper-case set name", set: "Zones", migration: "0001_init", wantQuote: `"Zones"`},
		{name: "set name with digit first", set: "1zones", migration: "0001_init", wantQuote: `"1zones"`},
		{name: "set name with hyphen", set: "zones-v2", migration: "0001_init", wantQuote: `"zones-v2"`},
		{name: "set name too long", set: "z" + strings.Repeat("a", 41), migration: "0001_init", wantQuote: `"z` + strings.Repeat("a", 41) + `"`},
		{name: "set name with SQL", set: "zones; drop table x", migration: "0001_init", wantQuote: `"zones; drop table x"`},
		{name: "migration without version", set: "zones", migration: "create_zones", wantQuote: `"create_zones"`},
		{name: "three-digit version", set: "zones", migration: "001_create", wantQuote: `"001_create"`},
		{name: "hyphen after version", set: "zones", migration: "0001-create", wantQuote: `"0001-create"`},
		{name: "version without description", set: "zones", migration: "0001_", wantQuote: `"0001_"`},
		{name: "upper-case description", set: "zones", migration: "0001_Create", wantQuote: `"0001_Create"`},
		{name: "empty migration name", set: "zones", migration: "", wantQuote: `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
				migrations := []store.Migration{{Name: "0001_valid", Up: valid}, {Name: tt.migration, Up: valid}}
				err := store.Migrate(context.Background(), db, tt.set, migrations)
				if err == nil {
					t.Fatalf("Migrate(set %q, migration %q) = nil, want an error", tt.set, tt.migration)
				}
				if !strings.HasPrefix(err.Error(), "store: invalid ") {
					t.Errorf("error %q, want the prefix %q", err, "store: invalid ")
				}
				if !strings.Contains(err.Error(), tt.wantQuote) {
					t.Errorf("error %q, want the quoted name %s", err, tt.wantQuote)
				}
				if tableExists(t, db, "zones_migrations") {
					t.Errorf("zones_migrations exists, want nothing created")
				}
			})
		})
	}
}

func TestMigrate_concurrentPostgres(t *testing.T) {
	t.Parallel()
	testConcurrentMigrate(t, storetest.PostgresDSN(t))
}

func TestMigrate_concurrentSQLite(t *testing.T) {
	t.Parallel()
	storetest.RequireSQLite(t)
	testConcurrentMigrate(t, filepath.Join(t.TempDir(), "concurrent.db"))
}

// testConcurrentMigrate runs Migrate from five handles on one database at
// once and checks that each migration ran exactly once.
func testConcurrentMigrate(t *testing.T, dsn string) {
	t.Helper()
	const handles = 5
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var runs [2]atomic.Int32
	migrations := []store.Migration{
		{Name: "0001_create_runs", Up: func(ctx context.Context, tx bun.Tx) error {
			runs[0].Add(1)
			_, err := tx.ExecContext(ctx, "CREATE TABLE runs (note VARCHAR(64) NOT NULL)")
			return err
		}},
		{Name: "0002_insert_run", Up: func(ctx context.Context, tx bun.Tx) error {
			runs[1].Add(1)
			// Hold the transaction open so that an unserialised run would
			// overlap with the others.
			time.Sleep(100 * time.Millisecond)
			_, err := tx.ExecContext(ctx, "INSERT INTO runs (note) VALUES ('applied')")
			return err
		}},
	}

	dbs := make([]*bun.DB, handles)
	for i := range dbs {
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("open handle %d: %v", i, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}

	start := make(chan struct{})
	errs := make(chan error, handles)
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Go(func() {
			<-start
			errs <- store.Migrate(ctx, db, "jobs", migrations)
		})
	}
	close(start)
	wg.Wait()
	close(errs)

	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	for i := range runs {
		if got := runs[i].Load(); got != 1 {
			t.Errorf("%s ran %d times, want 1", migrations[i].Name, got)
		}
	}
	if got := countRows(t, dbs[0], "runs"); got != 1 {
		t.Errorf("runs rows = %d, want 1", got)
	}
	if got := countRows(t, dbs[0], "jobs_migrations"); got != len(migrations) {
		t.Errorf("jobs_migrations rows = %d, want %d", got, len(migrations))
	}
}

// countRows returns the number of rows in table.
func countRows(t testing.TB, db bun.IDB, table string) int {
	t.Helper()
	var n int
	if err := db.NewRaw("SELECT count(*) FROM ?", bun.Ident(table)).Scan(context.Background(), &n); err != nil {
		t.Fatalf("count rows in %s: %v", table, err)
	}
	return n
}

// tableExists reports whether table exists in the database's current schema.
func tableExists(t testing.TB, db bun.IDB, table string) bool {
	t.Helper()
	query := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if store.IsPostgres(db) {
		query = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
	}
	var n int
	if err := db.NewRaw(query, table).Scan(context.Background(), &n); err != nil {
		t.Fatalf("look up table %s: %v", table, err)
	}
	return n > 0
}

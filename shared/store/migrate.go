package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"regexp"
	"sync"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

// Migration is one versioned schema change. Up runs inside a transaction, so
// a failed migration leaves nothing half-applied.
type Migration struct {
	// Name orders migrations and is recorded once applied: a 4-digit
	// version followed by a description, such as "0001_create_zones". The
	// fixed width keeps text order and version order the same.
	Name string
	Up   func(ctx context.Context, tx bun.Tx) error
}

var (
	setName       = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)
	migrationName = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+$`)
	// sqliteMigrateMu serialises migrations of SQLite databases within this
	// process; SQLite's own write lock covers other processes.
	sqliteMigrateMu sync.Mutex
)

// Migrate applies the migrations of set that db has not seen yet, in name
// order. Applied migrations are recorded in the table <set>_migrations.
//
// On PostgreSQL the run holds a session advisory lock derived from set, so
// replicas that start together apply each migration once: the others wait
// and then find nothing left to do.
func Migrate(ctx context.Context, db *bun.DB, set string, migrations []Migration) error {
	if !setName.MatchString(set) {
		return fmt.Errorf("store: invalid migration set name %q", set)
	}
	ms := migrate.NewMigrations()
	for _, m := range migrations {
		if !migrationName.MatchString(m.Name) {
			return fmt.Errorf("store: invalid migration name %q: want a 4-digit version, an underscore and a description", m.Name)
		}
		ms.Add(migrate.Migration{Name: m.Name, Up: transactional(m.Up)})
	}

	unlock, err := lockMigrations(ctx, db, set)
	if err != nil {
		return err
	}
	defer unlock()

	migrator := migrate.NewMigrator(db, ms,
		migrate.WithTableName(set+"_migrations"),
		migrate.WithLocksTableName(set+"_migration_locks"),
		migrate.WithMarkAppliedOnSuccess(true))
	if err := migrator.Init(ctx); err != nil {
		return fmt.Errorf("store: creating the %s migration tables: %w", set, err)
	}
	if _, err := migrator.Migrate(ctx); err != nil {
		return fmt.Errorf("store: migrating %s: %w", set, err)
	}
	return nil
}

func transactional(up func(ctx context.Context, tx bun.Tx) error) func(context.Context, *migrate.Migrator, *migrate.Migration) error {
	return func(ctx context.Context, m *migrate.Migrator, _ *migrate.Migration) error {
		return m.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			return up(ctx, tx)
		})
	}
}

func lockMigrations(ctx context.Context, db *bun.DB, set string) (unlock func(), err error) {
	if !IsPostgres(db) {
		sqliteMigrateMu.Lock()
		return sqliteMigrateMu.Unlock, nil
	}

	h := fnv.New64a()
	_, _ = h.Write([]byte("jingtong-migrate:" + set))
	key := int64(h.Sum64())

	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: reserving a connection for the migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", key); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("store: taking the %s migration lock: %w", set, err)
	}
	return func() {
		// Unlock with a fresh context: the caller's may be cancelled already,
		// and closing the connection releases the lock in any case.
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(?)", key)
		_ = conn.Close()
	}, nil
}

// Pending returns how many of migrations db has not applied yet. A function
// reports itself not ready while any are pending, so a deployment that
// skipped its migrate step fails its readiness check instead of answering
// every request with a database error.
func Pending(ctx context.Context, db *bun.DB, set string, migrations []Migration) (int, error) {
	if !setName.MatchString(set) {
		return 0, fmt.Errorf("store: invalid migration set name %q", set)
	}
	table := set + "_migrations"
	var applied []string
	err := db.NewSelect().Table(table).Column("name").Scan(ctx, &applied)
	if err != nil {
		// A missing table means nothing was ever applied; any other error
		// is a database problem the caller reports.
		exists, existsErr := tableExists(ctx, db, table)
		if existsErr != nil || exists {
			return 0, fmt.Errorf("store: reading the %s migrations: %w", set, err)
		}
		return len(migrations), nil
	}

	done := make(map[string]bool, len(applied))
	for _, name := range applied {
		done[name] = true
	}
	pending := 0
	for _, m := range migrations {
		if !done[m.Name] {
			pending++
		}
	}
	return pending, nil
}

func tableExists(ctx context.Context, db *bun.DB, table string) (bool, error) {
	var n int
	var err error
	if IsPostgres(db) {
		err = db.NewRaw("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?", table).Scan(ctx, &n)
	} else {
		err = db.NewRaw("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(ctx, &n)
	}
	return n > 0, err
}

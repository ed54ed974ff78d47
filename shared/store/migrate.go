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

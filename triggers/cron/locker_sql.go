package cron

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store"
)

// DefaultRetention is how long SQLLocker keeps the rows of claimed ticks.
const DefaultRetention = 7 * 24 * time.Hour

// migrations create the tick table. Each row is one claimed tick: tick is in
// Unix seconds, started_at and finished_at in Unix milliseconds, and status
// is "running" or "succeeded". A failed run deletes its row.
var migrations = []store.Migration{{
	Name: "0001_create_cron_ticks",
	Up: func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE cron_ticks (
			job VARCHAR(255) NOT NULL,
			tick BIGINT NOT NULL,
			status VARCHAR(16) NOT NULL,
			started_at BIGINT NOT NULL,
			finished_at BIGINT,
			PRIMARY KEY (job, tick)
		)`)
		return err
	},
}}

// Migrate creates or updates the cron_ticks table that SQLLocker uses. Hosts
// run it with the function's own migrations.
func Migrate(ctx context.Context, db *bun.DB) error {
	return store.Migrate(ctx, db, "cron", migrations)
}

// SQLLocker is a Locker on the cron_ticks table of a SQLite or PostgreSQL
// database, which Migrate creates. A claim inserts the row (job, tick) in a
// transaction that first checks for a later tick. Transactions on one job
// are serialised: SQLite takes its write lock at BEGIN (store.Open sets
// _txlock=immediate), and on PostgreSQL the transaction holds
// pg_advisory_xact_lock on a hash of the job key. The primary key (job, tick)
// rejects a second row for the same tick in any case.
type SQLLocker struct {
	db        *bun.DB
	now       func() time.Time
	retention time.Duration
}

var _ Locker = (*SQLLocker)(nil)

// SQLLockerOptions configure NewSQLLocker. The zero value takes the
// defaults.
type SQLLockerOptions struct {
	// Now stamps started_at and finished_at and dates the pruning of old
	// rows. Default time.Now.
	Now func() time.Time
	// Retention is how long the rows of claimed ticks are kept. When a run
	// of a job succeeds, the job's rows older than the retention are
	// deleted, but never the row of that run. Default DefaultRetention
	// (7 days).
	Retention time.Duration
}

// NewSQLLocker returns a Locker on db, which must be opened with store.Open.
func NewSQLLocker(db *bun.DB, opts SQLLockerOptions) *SQLLocker {
	l := &SQLLocker{db: db, now: opts.Now, retention: opts.Retention}
	if l.now == nil {
		l.now = time.Now
	}
	if l.retention <= 0 {
		l.retention = DefaultRetention
	}
	return l
}

// tickRow is one row of cron_ticks.
type tickRow struct {
	bun.BaseModel `bun:"table:cron_ticks"`

	Job        string        `bun:"job,pk"`
	Tick       int64         `bun:"tick,pk"`
	Status     string        `bun:"status,notnull"`
	StartedAt  int64         `bun:"started_at,notnull"`
	FinishedAt sql.NullInt64 `bun:"finished_at"`
}

// Claim implements Locker.
func (l *SQLLocker) Claim(ctx context.Context, job string, tick time.Time) (bool, error) {
	claimed := false
	err := l.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if store.IsPostgres(l.db) {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", advisoryKey(job)); err != nil {
				return err
			}
		}

		last, ok, err := lastTick(ctx, tx, job)
		if err != nil {
			return err
		}
		if ok && last >= tick.Unix() {
			return nil
		}

		row := &tickRow{Job: job, Tick: tick.Unix(), Status: "running", StartedAt: l.now().UnixMilli()}
		if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		claimed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("cron: claiming tick %s of %q: %w", tick.UTC().Format(time.RFC3339), job, err)
	}
	return claimed, nil
}

// Finish implements Locker.
func (l *SQLLocker) Finish(ctx context.Context, job string, tick time.Time, runErr error) error {
	if runErr != nil {
		_, err := l.db.NewDelete().Model((*tickRow)(nil)).
			Where("job = ?", job).Where("tick = ?", tick.Unix()).Exec(ctx)
		if err != nil {
			return fmt.Errorf("cron: releasing tick %s of %q: %w", tick.UTC().Format(time.RFC3339), job, err)
		}
		return nil
	}

	now := l.now()
	_, err := l.db.NewUpdate().Model((*tickRow)(nil)).
		Set("status = ?", "succeeded").Set("finished_at = ?", now.UnixMilli()).
		Where("job = ?", job).Where("tick = ?", tick.Unix()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("cron: recording the end of tick %s of %q: %w", tick.UTC().Format(time.RFC3339), job, err)
	}

	// Prune rows older than the retention, but never this tick's. A row
	// left "running" by a crashed process goes the same way.
	cutoff := min(now.Add(-l.retention).Unix(), tick.Unix())
	_, err = l.db.NewDelete().Model((*tickRow)(nil)).
		Where("job = ?", job).Where("tick < ?", cutoff).Exec(ctx)
	if err != nil {
		return fmt.Errorf("cron: pruning old ticks of %q: %w", job, err)
	}
	return nil
}

// Last implements Locker.
func (l *SQLLocker) Last(ctx context.Context, job string) (time.Time, bool, error) {
	last, ok, err := lastTick(ctx, l.db, job)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("cron: reading the last tick of %q: %w", job, err)
	}
	if !ok {
		return time.Time{}, false, nil
	}
	return time.Unix(last, 0), true, nil
}

func lastTick(ctx context.Context, db bun.IDB, job string) (int64, bool, error) {
	var last sql.NullInt64
	err := db.NewSelect().Model((*tickRow)(nil)).ColumnExpr("max(tick)").
		Where("job = ?", job).Scan(ctx, &last)
	return last.Int64, last.Valid, err
}

// advisoryKey returns the PostgreSQL advisory lock key of a job.
func advisoryKey(job string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("jingtong-cron:" + job))
	return int64(h.Sum64())
}

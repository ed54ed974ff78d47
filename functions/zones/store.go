package zones

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/store"
)

// Store reads and writes the zones catalogue on SQLite or PostgreSQL.
//
// Every write runs in one transaction together with its operation-log
// entries, so a failed write changes nothing. Updates carry the version the
// caller read and fail with VERSION_CONFLICT when the row has moved on.
//
// SQLite write transactions take the write lock at BEGIN, so they run one
// at a time. On PostgreSQL, writes that number rows from MAX() (page
// versions, link positions) or change a zone's service list first lock the
// rows they depend on with SELECT ... FOR NO KEY UPDATE, zones before
// services. A create that loses a race to insert an id gets the
// ALREADY_EXISTS code of its entity. A transaction that PostgreSQL aborts
// as a deadlock or a serialization failure runs again, at most
// maxWriteAttempts times in all.
type Store struct {
	db  *bun.DB
	now func() time.Time

	// onCommit runs after every committed write. The page cache uses it to
	// drop rendered pages.
	onCommit func()
	// beforeCommit, when set, runs as the last step of every write
	// transaction, and an error from it rolls the transaction back. Tests use
	// it to inject a failure.
	beforeCommit func(ctx context.Context, tx bun.Tx) error
}

// NewStore returns a store over db. now may be nil for time.Now.
func NewStore(db *bun.DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, now: now}
}

// timestamp returns the current time in UTC, truncated to the microsecond
// precision that PostgreSQL stores, so a value read back equals the value
// written.
func (s *Store) timestamp() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// maxWriteAttempts bounds how often write runs a transaction that
// PostgreSQL aborted as a deadlock or a serialization failure.
const maxWriteAttempts = 3

// write runs fn in a transaction and calls onCommit once it has committed.
// fn may run more than once, so it must keep all its state in the
// transaction and in variables it assigns afresh on every run.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	var err error
	for range maxWriteAttempts {
		err = s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if err := fn(ctx, tx); err != nil {
				return err
			}
			if s.beforeCommit != nil {
				return s.beforeCommit(ctx, tx)
			}
			return nil
		})
		if !isRetryable(err) {
			break
		}
	}
	if err != nil {
		return err
	}
	if s.onCommit != nil {
		s.onCommit()
	}
	return nil
}

// PostgreSQL error codes (SQLSTATE) that the store handles.
const (
	pgUniqueViolation      = "23505"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

// isRetryable reports whether err is a PostgreSQL deadlock or serialization
// failure, after which running the whole transaction again may succeed.
func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == pgDeadlockDetected || pgErr.Code == pgSerializationFailure)
}

// isUniqueViolation reports whether err is a primary key or unique
// constraint violation on PostgreSQL or SQLite.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == pgUniqueViolation
	}
	return store.IsSQLiteUniqueViolation(err)
}

// lockRows locks the rows of model's table with the given ids, in id order,
// until tx ends. It is a no-op on SQLite, whose write transactions already
// exclude each other. FOR NO KEY UPDATE leaves inserts that reference the
// rows, which take FOR KEY SHARE, free to run.
func lockRows(ctx context.Context, tx bun.Tx, model any, ids []string) error {
	if len(ids) == 0 || !store.IsPostgres(tx) {
		return nil
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	var locked []string
	return tx.NewSelect().Model(model).Column("id").Where("id IN (?)", bun.List(slices.Compact(ids))).
		OrderExpr("id").For("NO KEY UPDATE").Scan(ctx, &locked)
}

// bumpVersions adds one to the version of the rows of model's table with
// the given ids and sets their updated_at, so that writers holding an older
// version get VERSION_CONFLICT.
func (s *Store) bumpVersions(ctx context.Context, tx bun.Tx, model any, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.NewUpdate().Model(model).Set("version = version + 1").Set("updated_at = ?", s.timestamp()).
		Where("id IN (?)", bun.List(ids)).Exec(ctx)
	return err
}

// Paging selects one page of a list query. Number counts from 1.
type Paging struct {
	Number int
	Size   int
}

// offset returns the number of rows before the page.
func (p Paging) offset() int {
	return (p.Number - 1) * p.Size
}

// checkVersion returns VERSION_CONFLICT when the version the caller read
// differs from the stored one.
func checkVersion(stored, read int64) error {
	if stored != read {
		return httpx.E(httpx.CodeVersionConflict, stored)
	}
	return nil
}

// checkUpdated turns an UPDATE or DELETE guarded by "version = ?" that
// matched no row into VERSION_CONFLICT: another transaction changed the row
// between our read and our write.
func checkUpdated(res sql.Result, current int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return httpx.E(httpx.CodeVersionConflict, current)
	}
	return nil
}

func isNoRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows)
}

// likeEscaper escapes the LIKE wildcards in user input. Queries pair it with
// ESCAPE '\', which SQLite and PostgreSQL (with standard_conforming_strings,
// the default since 9.1) both read as a single backslash.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// channelPattern returns the LIKE pattern that finds ch in a channels column
// that contains a JSON array such as ["wechat","alipay"].
func channelPattern(ch Channel) string {
	return `%"` + likeEscaper.Replace(string(ch)) + `"%`
}

// whereChannel limits q to rows whose channels column is empty (every
// channel) or lists ch.
func whereChannel(q *bun.SelectQuery, column string, ch Channel) *bun.SelectQuery {
	if ch == "" {
		return q
	}
	return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Where("? = '[]'", bun.Ident(column)).
			WhereOr(`? LIKE ? ESCAPE '\'`, bun.Ident(column), channelPattern(ch))
	})
}

// nonNil returns list, or an empty list when it is nil, so JSON columns
// contain [] rather than null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// scanPage limits q to page p, scans it into its model and returns the
// number of rows matching q without the limit.
func scanPage(ctx context.Context, q *bun.SelectQuery, p Paging) (int, error) {
	total, err := q.Limit(int64(p.Size)).Offset(int64(p.offset())).ScanAndCount(ctx)
	return int(total), err
}

package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store"
)

// Store records which messages each consumer has processed. Keys are the
// consumer name (ConsumerName) and the message's idempotency key.
type Store interface {
	// Seen reports whether the pair was recorded.
	Seen(ctx context.Context, consumer, key string) (bool, error)
	// Record records the pair. Recording a pair twice is not an error.
	Record(ctx context.Context, consumer, key string) error
}

// MigrationSet names the queue migrations in store.Migrate.
const MigrationSet = "queue"

// Migrations are the queue schema changes in order. Applied migrations
// never change: add a new one instead.
var Migrations = []store.Migration{
	{Name: "0001_create_queue_processed", Up: createProcessed},
}

// Migrate brings the queue schema in db to the newest version. Run it on
// every database that a DBStore or InTx uses.
func Migrate(ctx context.Context, db *bun.DB) error {
	return store.Migrate(ctx, db, MigrationSet, Migrations)
}

// createProcessed creates queue_processed. The key columns are sized for
// ConsumerName (a 63-byte function name, "_" and a 128-byte subject) and
// for a CloudEvents key (escaped source, a space and the ID), and stay
// within PostgreSQL's B-tree entry limit even in multi-byte text.
func createProcessed(ctx context.Context, tx bun.Tx) error {
	for _, stmt := range []string{
		`CREATE TABLE queue_processed (
			consumer VARCHAR(200) NOT NULL,
			message_id VARCHAR(512) NOT NULL,
			processed_at TIMESTAMP NOT NULL,
			PRIMARY KEY (consumer, message_id)
		)`,
		`CREATE INDEX queue_processed_at_idx ON queue_processed (processed_at)`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("queue: creating queue_processed: %w", err)
		}
	}
	return nil
}

// processedRow is one row of queue_processed.
type processedRow struct {
	bun.BaseModel `bun:"table:queue_processed"`

	Consumer    string    `bun:"consumer,pk"`
	MessageID   string    `bun:"message_id,pk"`
	ProcessedAt time.Time `bun:"processed_at,notnull"`
}

// insertProcessed records the pair in db unless it is there, and reports
// whether it inserted the row.
func insertProcessed(ctx context.Context, db bun.IDB, consumer, key string, now time.Time) (bool, error) {
	row := &processedRow{Consumer: consumer, MessageID: key, ProcessedAt: now.UTC()}
	res, err := db.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("queue: recording message %q of %s: %w", key, consumer, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("queue: recording message %q of %s: %w", key, consumer, err)
	}
	return n == 1, nil
}

// DBStore is a Store in the queue_processed table of a bun database,
// SQLite or PostgreSQL, after Migrate.
type DBStore struct {
	db  *bun.DB
	now func() time.Time
}

// NewDBStore returns a Store in db. Use the database that the consumers
// write their effects to, so that InTx and the store see the same rows.
func NewDBStore(db *bun.DB) *DBStore {
	return &DBStore{db: db, now: time.Now}
}

// Seen reports whether the pair is in queue_processed.
func (s *DBStore) Seen(ctx context.Context, consumer, key string) (bool, error) {
	ok, err := s.db.NewSelect().Model((*processedRow)(nil)).
		Where("consumer = ?", consumer).
		Where("message_id = ?", key).
		Exists(ctx)
	if err != nil {
		return false, fmt.Errorf("queue: looking up message %q of %s: %w", key, consumer, err)
	}
	return ok, nil
}

// Record inserts the pair into queue_processed unless it is there.
func (s *DBStore) Record(ctx context.Context, consumer, key string) error {
	_, err := insertProcessed(ctx, s.db, consumer, key, s.now())
	return err
}

// Prune deletes the records processed before cutoff and returns how many
// it deleted. Keep records at least as long as the stream keeps messages
// (NATSOptions.MaxAge), or a redelivery of an older message would run its
// consumer again.
func (s *DBStore) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.NewDelete().Model((*processedRow)(nil)).
		Where("processed_at < ?", cutoff.UTC()).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("queue: pruning processed messages: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("queue: pruning processed messages: %w", err)
	}
	return n, nil
}

// DefaultMemoryStoreSize is how many pairs a memory store keeps.
const DefaultMemoryStoreSize = 100_000

// MemoryStore is a Store in process memory for local development. It keeps
// the most recent pairs only, and loses all of them when the process exits,
// so it de-duplicates redeliveries within one run.
type MemoryStore struct {
	mu    sync.Mutex
	max   int
	seen  map[[2]string]struct{}
	order [][2]string // insertion order, for eviction
}

// NewMemoryStore returns a store that keeps the max most recent pairs.
// max ≤ 0 means DefaultMemoryStoreSize.
func NewMemoryStore(max int) *MemoryStore {
	if max <= 0 {
		max = DefaultMemoryStoreSize
	}
	return &MemoryStore{max: max, seen: make(map[[2]string]struct{})}
}

// Seen reports whether the pair is kept.
func (s *MemoryStore) Seen(_ context.Context, consumer, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.seen[[2]string{consumer, key}]
	return ok, nil
}

// Record keeps the pair, evicting the oldest one when the store is full.
func (s *MemoryStore) Record(_ context.Context, consumer, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{consumer, key}
	if _, ok := s.seen[k]; ok {
		return nil
	}
	if len(s.order) >= s.max {
		delete(s.seen, s.order[0])
		s.order = s.order[1:]
	}
	s.seen[k] = struct{}{}
	s.order = append(s.order, k)
	return nil
}

// Errors of InTx.
var (
	// ErrNoDelivery means InTx was called with a context that does not
	// come from a queue delivery.
	ErrNoDelivery = errors.New("queue: InTx needs the context of a queue delivery")
	// ErrTxReused means InTx was called a second time for one delivery.
	// Make all of a message's effects in one transaction.
	ErrTxReused = errors.New("queue: InTx was already called for this delivery")
)

// InTx runs fn in a transaction on db that also records the delivery's
// message as processed, so the effect and the record commit or roll back
// together. When the message is already recorded, InTx commits nothing and
// returns nil without calling fn: the effect was made by an earlier
// delivery. db needs the queue migrations (Migrate).
//
// ctx must be the context that the consumer was called with. InTx returns
// ErrNoDelivery for any other context and ErrTxReused when called twice in
// one delivery. Code that runs after InTx, such as publishing a follow-up
// message, runs again on a redelivery. Give such messages IDs derived from
// this message's ID, so that publish drops the duplicates.
func InTx(ctx context.Context, db *bun.DB, fn func(ctx context.Context, tx bun.Tx) error) error {
	d := deliveryFrom(ctx)
	if d == nil {
		return ErrNoDelivery
	}
	if !d.txUsed.CompareAndSwap(false, true) {
		return ErrTxReused
	}

	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		inserted, err := insertProcessed(ctx, tx, d.Consumer, d.Key, d.now())
		if err != nil {
			return err
		}
		if !inserted {
			return nil
		}
		return fn(ctx, tx)
	})
}

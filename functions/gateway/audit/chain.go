package audit

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/smcrypto"
)

// maxTipRetries bounds how often Append reloads the tip after another
// process appended to the same chain.
const maxTipRetries = 3

// Chain appends records to one replica's chain. Appends are serialized,
// so concurrent callers never fork the chain.
type Chain struct {
	db      *bun.DB
	key     []byte
	replica string

	mu     sync.Mutex
	loaded bool
	seq    int64
	mac    [smcrypto.SM3Size]byte
}

// NewChain returns the chain of replica in db, whose audit schema must be
// migrated. key must have at least MinKeyBytes bytes; the chain keeps a
// copy.
func NewChain(db *bun.DB, key []byte, replica string) (*Chain, error) {
	if len(key) < MinKeyBytes {
		return nil, ErrShortKey
	}
	if err := checkReplica(replica); err != nil {
		return nil, err
	}
	return &Chain{db: db, key: append([]byte(nil), key...), replica: replica}, nil
}

// Replica returns the chain's replica id.
func (c *Chain) Replica() string { return c.replica }

// Tip returns the sequence number and mac of the last record this chain
// appended or loaded; seq is 0 before the first append.
func (c *Chain) Tip() (seq int64, mac string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq, hex.EncodeToString(c.mac[:])
}

// Append chains and inserts records in one statement, in order. On error
// nothing is inserted and the chain's tip is unchanged.
func (c *Chain) Append(ctx context.Context, records ...Record) error {
	if len(records) == 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()

	for try := 0; ; try++ {
		if !c.loaded {
			if err := c.loadTip(ctx); err != nil {
				return err
			}
		}
		rows, seq, mac := c.link(records)
		// Returning("NULL") skips the RETURNING id that bun adds for the
		// autoincrement key, which nothing reads.
		_, err := c.db.NewInsert().Model(&rows).Returning("NULL").Exec(ctx)
		if err == nil {
			c.seq, c.mac = seq, mac
			return nil
		}

		// Another process may have appended to this replica's chain, so
		// that the unique (replica, seq) constraint failed. Reload the tip
		// and try again if it moved.
		before := c.seq
		c.loaded = false
		if lerr := c.loadTip(ctx); lerr != nil || c.seq == before || try >= maxTipRetries {
			return fmt.Errorf("audit: appending %d records to chain %q: %w", len(records), c.replica, err)
		}
	}
}

// link computes the rows for records after the current tip, and the new
// tip.
func (c *Chain) link(records []Record) ([]row, int64, [smcrypto.SM3Size]byte) {
	rows := make([]row, len(records))
	seq, prev := c.seq, c.mac
	for i, r := range records {
		r = r.normalize()
		seq++
		mac := computeMAC(c.key, prev[:], c.replica, seq, r)
		rows[i] = newRow(c.replica, seq, r, prev[:], mac[:])
		prev = mac
	}
	return rows, seq, prev
}

// loadTip reads the last record of the chain.
func (c *Chain) loadTip(ctx context.Context) error {
	var last row
	err := c.db.NewSelect().Model(&last).Column("seq", "mac").
		Where("replica = ?", c.replica).Order("seq DESC").Limit(1).Scan(ctx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		c.seq, c.mac = 0, [smcrypto.SM3Size]byte{}
	case err != nil:
		return fmt.Errorf("audit: reading the tip of chain %q: %w", c.replica, err)
	default:
		mac, derr := hex.DecodeString(last.MAC)
		if derr != nil || len(mac) != smcrypto.SM3Size {
			return fmt.Errorf("audit: the tip of chain %q (seq %d) has a malformed mac; run audit-verify", c.replica, last.Seq)
		}
		c.seq = last.Seq
		copy(c.mac[:], mac)
	}
	c.loaded = true
	return nil
}

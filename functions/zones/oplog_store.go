package zones

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/httpx"
)

type opRow struct {
	bun.BaseModel `bun:"table:zone_oplog"`

	ID         string    `bun:"id,pk"`
	Actor      string    `bun:"actor"`
	At         time.Time `bun:"at"`
	Action     string    `bun:"action"`
	EntityType string    `bun:"entity_type"`
	EntityID   string    `bun:"entity_id"`
	BeforeJSON *string   `bun:"before_json"`
	AfterJSON  *string   `bun:"after_json"`

	// BeforeOmitted and AfterOmitted are 1 when a list left the value out.
	BeforeOmitted int `bun:"before_omitted,scanonly"`
	AfterOmitted  int `bun:"after_omitted,scanonly"`
}

// logOp appends an operation-log entry inside tx. before and after are
// encoded as JSON; a nil value is stored as NULL.
func (s *Store) logOp(ctx context.Context, tx bun.Tx, actor, action, entityType, entityID string, before, after any) error {
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("oplog id: %w", err)
	}
	row := opRow{
		ID:         id.String(),
		Actor:      actor,
		At:         s.timestamp(),
		Action:     action,
		EntityType: entityType,
		EntityID:   entityID,
	}
	if row.BeforeJSON, err = jsonText(before); err != nil {
		return err
	}
	if row.AfterJSON, err = jsonText(after); err != nil {
		return err
	}
	if _, err := tx.NewInsert().Model(&row).Exec(ctx); err != nil {
		return fmt.Errorf("insert oplog entry: %w", err)
	}
	return nil
}

// jsonText encodes v for the operation log. It leaves <, > and & as they
// are: json.Marshal writes each as a 6-byte escape, which made one entry
// for a page full of them several times the page's size.
func jsonText(v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode oplog value: %w", err)
	}
	text := strings.TrimSuffix(b.String(), "\n")
	return &text, nil
}

// ListOps returns the operation-log entries matching f, newest first, and
// the number of matching entries. Values longer than opListValueLimit stay
// in the database, and the entry marks them omitted.
func (s *Store) ListOps(ctx context.Context, f OpFilter, p Paging) ([]OpEntry, int, error) {
	var rows []opRow
	q := s.db.NewSelect().Model(&rows).
		Column("id", "actor", "at", "action", "entity_type", "entity_id").
		ColumnExpr("CASE WHEN octet_length(before_json) <= ? THEN before_json END AS before_json", opListValueLimit).
		ColumnExpr("CASE WHEN octet_length(after_json) <= ? THEN after_json END AS after_json", opListValueLimit).
		ColumnExpr("CASE WHEN octet_length(before_json) > ? THEN 1 ELSE 0 END AS before_omitted", opListValueLimit).
		ColumnExpr("CASE WHEN octet_length(after_json) > ? THEN 1 ELSE 0 END AS after_omitted", opListValueLimit)
	if f.EntityType != "" {
		q = q.Where("entity_type = ?", f.EntityType)
	}
	if f.EntityID != "" {
		q = q.Where("entity_id = ?", f.EntityID)
	}
	total, err := scanPage(ctx, q.OrderExpr("at DESC, id DESC"), p)
	if err != nil {
		return nil, 0, fmt.Errorf("list oplog: %w", err)
	}

	out := make([]OpEntry, len(rows))
	for i, r := range rows {
		out[i] = r.entry()
	}
	return out, total, nil
}

// GetOp returns the operation-log entry with id, with its before and after
// values in full.
func (s *Store) GetOp(ctx context.Context, id string) (OpEntry, error) {
	var row opRow
	err := s.db.NewSelect().Model(&row).
		Column("id", "actor", "at", "action", "entity_type", "entity_id", "before_json", "after_json").
		Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return OpEntry{}, httpx.E(CodeOpNotFound, id)
	}
	if err != nil {
		return OpEntry{}, fmt.Errorf("get oplog entry %q: %w", id, err)
	}
	return row.entry(), nil
}

func (r opRow) entry() OpEntry {
	e := OpEntry{ID: r.ID, Actor: r.Actor, At: r.At.UTC(), Action: r.Action, EntityType: r.EntityType, EntityID: r.EntityID,
		BeforeOmitted: r.BeforeOmitted == 1, AfterOmitted: r.AfterOmitted == 1}
	if r.BeforeJSON != nil {
		e.Before = json.RawMessage(*r.BeforeJSON)
	}
	if r.AfterJSON != nil {
		e.After = json.RawMessage(*r.AfterJSON)
	}
	return e
}

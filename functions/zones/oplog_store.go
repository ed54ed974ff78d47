package zones

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
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

func jsonText(v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode oplog value: %w", err)
	}
	text := string(data)
	return &text, nil
}

// ListOps returns the operation-log entries matching f, newest first, and
// the number of matching entries.
func (s *Store) ListOps(ctx context.Context, f OpFilter, p Paging) ([]OpEntry, int, error) {
	var rows []opRow
	q := s.db.NewSelect().Model(&rows)
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
		out[i] = OpEntry{ID: r.ID, Actor: r.Actor, At: r.At.UTC(), Action: r.Action, EntityType: r.EntityType, EntityID: r.EntityID}
		if r.BeforeJSON != nil {
			out[i].Before = json.RawMessage(*r.BeforeJSON)
		}
		if r.AfterJSON != nil {
			out[i].After = json.RawMessage(*r.AfterJSON)
		}
	}
	return out, total, nil
}

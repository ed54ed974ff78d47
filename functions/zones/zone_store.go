package zones

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/httpx"
)

type zoneRow struct {
	bun.BaseModel `bun:"table:zones,alias:z"`

	ID          string    `bun:"id,pk"`
	Kind        ZoneKind  `bun:"kind"`
	SortOrder   int       `bun:"sort_order"`
	Name        Text      `bun:"name"`
	Description Text      `bun:"description"`
	Icon        string    `bun:"icon"`
	Category    string    `bun:"category"`
	Owner       string    `bun:"owner"`
	Channels    []Channel `bun:"channels"`
	rowMeta
}

func newZoneRow(z Zone) *zoneRow {
	return &zoneRow{
		ID: z.ID, Kind: z.Kind, SortOrder: z.Order, Name: z.Name, Description: z.Description,
		Icon: z.Icon, Category: z.Category, Owner: z.Owner, Channels: nonNil(z.Channels),
	}
}

func (r *zoneRow) zone() Zone {
	return Zone{
		ID: r.ID, Kind: r.Kind, Name: r.Name, Description: r.Description, Icon: r.Icon,
		Category: r.Category, Order: r.SortOrder, Owner: r.Owner, Channels: nonNil(r.Channels),
		Status: r.Status, Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

// linkRow attaches a service to a zone at a display position.
type linkRow struct {
	bun.BaseModel `bun:"table:zone_service_links,alias:l"`

	ZoneID    string `bun:"zone_id,pk"`
	ServiceID string `bun:"service_id,pk"`
	Position  int    `bun:"position"`
}

var zoneKind = &entityKind[zoneRow]{
	name:     EntityZone,
	notFound: CodeZoneNotFound,
	view: func(_ context.Context, _ bun.IDB, r *zoneRow) (any, error) {
		return r.zone(), nil
	},
	beforeDelete: func(ctx context.Context, tx bun.Tx, r *zoneRow) error {
		n, err := tx.NewSelect().Model((*itemRow)(nil)).Where("zone_id = ?", r.ID).Count(ctx)
		if err != nil {
			return fmt.Errorf("count items of zone %q: %w", r.ID, err)
		}
		if n > 0 {
			return httpx.E(CodeZoneInUse, r.ID, n)
		}
		return nil
	},
	// Deleting a zone detaches its services, which changes their zone
	// lists. The zone's search row goes with it, through ON DELETE CASCADE.
	onDelete: func(ctx context.Context, s *Store, tx bun.Tx, r *zoneRow) error {
		ids, err := zoneServiceIDs(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		if err := lockRows(ctx, tx, (*serviceRow)(nil), ids); err != nil {
			return fmt.Errorf("lock services of zone %q: %w", r.ID, err)
		}
		if _, err := tx.NewDelete().Model((*linkRow)(nil)).Where("zone_id = ?", r.ID).Exec(ctx); err != nil {
			return fmt.Errorf("unlink services of zone %q: %w", r.ID, err)
		}
		if err := s.bumpVersions(ctx, tx, (*serviceRow)(nil), ids); err != nil {
			return fmt.Errorf("bump services of zone %q: %w", r.ID, err)
		}
		return nil
	},
}

// ZoneFilter selects zones. Empty fields match everything.
type ZoneFilter struct {
	Kind    ZoneKind
	Channel Channel
	Status  Status
}

// ListZones returns the zones matching f in display order, and the number
// of matching zones.
func (s *Store) ListZones(ctx context.Context, f ZoneFilter, p Paging) ([]Zone, int, error) {
	var rows []zoneRow
	q := s.db.NewSelect().Model(&rows)
	q = whereStatus(q, "z.status", f.Status)
	q = whereChannel(q, "z.channels", f.Channel)
	if f.Kind != "" {
		q = q.Where("z.kind = ?", f.Kind)
	}
	total, err := scanPage(ctx, q.Order("z.sort_order", "z.id"), p)
	if err != nil {
		return nil, 0, fmt.Errorf("list zones: %w", err)
	}

	out := make([]Zone, len(rows))
	for i := range rows {
		out[i] = rows[i].zone()
	}
	return out, total, nil
}

// GetZone returns the zone with id. With publishedOnly, a zone that is not
// published is reported as not found.
func (s *Store) GetZone(ctx context.Context, id string, publishedOnly bool) (Zone, error) {
	r, err := loadRow[zoneRow](ctx, s.db, zoneKind, id)
	if err != nil {
		return Zone{}, err
	}
	if publishedOnly && r.Status != StatusPublished {
		return Zone{}, httpx.E(CodeZoneNotFound, id)
	}
	return r.zone(), nil
}

// CreateZone inserts z as a draft.
func (s *Store) CreateZone(ctx context.Context, actor string, z Zone) (Zone, error) {
	r := newZoneRow(z)
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		found, err := exists[zoneRow](ctx, tx, z.ID)
		if err != nil {
			return fmt.Errorf("check zone %q: %w", z.ID, err)
		}
		if found {
			return httpx.E(CodeZoneExists, z.ID)
		}

		now := s.timestamp()
		r.rowMeta = rowMeta{Status: StatusDraft, Version: 1, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			if isUniqueViolation(err) {
				return httpx.E(CodeZoneExists, z.ID) // a concurrent create won
			}
			return fmt.Errorf("insert zone %q: %w", z.ID, err)
		}
		if err := s.refreshZoneSearch(ctx, tx, z.ID); err != nil {
			return err
		}
		return s.logOp(ctx, tx, actor, ActionCreate, EntityZone, z.ID, nil, r.zone())
	})
	if err != nil {
		return Zone{}, err
	}
	return r.zone(), nil
}

// UpdateZone replaces the editable fields of the zone z.ID. z.Version is
// the version the caller read; status and timestamps are not taken from z.
func (s *Store) UpdateZone(ctx context.Context, actor string, z Zone) (Zone, error) {
	var out Zone
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		old, err := lockRow[zoneRow](ctx, tx, zoneKind, z.ID)
		if err != nil {
			return err
		}
		if err := checkVersion(old.Version, z.Version); err != nil {
			return err
		}

		r := newZoneRow(z)
		r.rowMeta = old.rowMeta
		r.Version = old.Version + 1
		r.UpdatedAt = s.timestamp()
		if err := updateRow[zoneRow](ctx, tx, r, old.Version); err != nil {
			return err
		}

		// Zone names are search terms of the zone's services.
		if old.Name != r.Name {
			if err := s.refreshZoneSearch(ctx, tx, z.ID); err != nil {
				return err
			}
		}
		out = r.zone()
		return s.logOp(ctx, tx, actor, ActionUpdate, EntityZone, z.ID, old.zone(), out)
	})
	return out, err
}

// SetZoneStatus publishes or unpublishes the zone id.
func (s *Store) SetZoneStatus(ctx context.Context, actor, id string, version int64, publish bool) (Zone, error) {
	r, err := setStatus[zoneRow](ctx, s, zoneKind, actor, id, version, publish)
	if err != nil {
		return Zone{}, err
	}
	return r.zone(), nil
}

// DeleteZone deletes a zone that is not published and has no items, with
// its service links and page history.
func (s *Store) DeleteZone(ctx context.Context, actor, id string, version int64) error {
	return deleteRow[zoneRow](ctx, s, zoneKind, actor, id, version)
}

// ZoneServiceIDs returns the ids of the services attached to the zone, in
// display order.
func (s *Store) ZoneServiceIDs(ctx context.Context, zoneID string) ([]string, error) {
	return zoneServiceIDs(ctx, s.db, zoneID)
}

func zoneServiceIDs(ctx context.Context, db bun.IDB, zoneID string) ([]string, error) {
	ids := []string{}
	err := db.NewSelect().Model((*linkRow)(nil)).Column("service_id").
		Where("zone_id = ?", zoneID).Order("position", "service_id").Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("list services of zone %q: %w", zoneID, err)
	}
	return ids, nil
}

// SetZoneServices replaces the services attached to the zone with ids, in
// that display order. version is the zone version the caller read. The
// zone version goes up by one. So does the version of every service that
// the call attaches or detaches, because its zone list changes.
func (s *Store) SetZoneServices(ctx context.Context, actor, zoneID string, version int64, ids []string) (Zone, error) {
	var out Zone
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		z, err := lockRow[zoneRow](ctx, tx, zoneKind, zoneID)
		if err != nil {
			return err
		}
		if err := checkVersion(z.Version, version); err != nil {
			return err
		}
		if err := checkServicesExist(ctx, tx, "/services", ids); err != nil {
			return err
		}

		before, err := zoneServiceIDs(ctx, tx, zoneID)
		if err != nil {
			return err
		}
		changed := symmetricDifference(before, ids)
		if err := lockRows(ctx, tx, (*serviceRow)(nil), changed); err != nil {
			return fmt.Errorf("lock services of zone %q: %w", zoneID, err)
		}

		if _, err := tx.NewDelete().Model((*linkRow)(nil)).Where("zone_id = ?", zoneID).Exec(ctx); err != nil {
			return fmt.Errorf("unlink services of zone %q: %w", zoneID, err)
		}
		for i, id := range ids {
			if err := insertLink(ctx, tx, zoneID, id, i+1); err != nil {
				return err
			}
		}
		if err := s.bumpVersions(ctx, tx, (*serviceRow)(nil), changed); err != nil {
			return fmt.Errorf("bump services of zone %q: %w", zoneID, err)
		}

		z.Version++
		z.UpdatedAt = s.timestamp()
		if err := updateRow[zoneRow](ctx, tx, z, version); err != nil {
			return err
		}
		// Links change no search row, because a search joins the zone's
		// names through them.
		out = z.zone()
		return s.logOp(ctx, tx, actor, ActionReorder, EntityZone, zoneID,
			map[string]any{"services": before}, map[string]any{"services": nonNil(ids)})
	})
	return out, err
}

// symmetricDifference returns the ids in exactly one of a and b.
func symmetricDifference(a, b []string) []string {
	var out []string
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	for _, id := range b {
		if !slices.Contains(a, id) {
			out = append(out, id)
		}
	}
	return out
}

func insertLink(ctx context.Context, tx bun.Tx, zoneID, serviceID string, position int) error {
	link := &linkRow{ZoneID: zoneID, ServiceID: serviceID, Position: position}
	_, err := tx.NewInsert().Model(link).Exec(ctx)
	if err != nil {
		return fmt.Errorf("link service %q to zone %q: %w", serviceID, zoneID, err)
	}
	return nil
}

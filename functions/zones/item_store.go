package zones

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/httpx"
)

type itemRow struct {
	bun.BaseModel `bun:"table:zone_items,alias:i"`

	ID         string `bun:"id,pk"`
	ZoneID     string `bun:"zone_id"`
	Name       Text   `bun:"name"`
	Summary    Text   `bun:"summary"`
	Department Text   `bun:"department"`
	Guide      Guide  `bun:"guide"`
	rowMeta
}

// itemServiceRow bundles a service into a one-thing item at a position.
type itemServiceRow struct {
	bun.BaseModel `bun:"table:zone_item_services,alias:isv"`

	ItemID    string `bun:"item_id,pk"`
	ServiceID string `bun:"service_id,pk"`
	Position  int    `bun:"position"`
}

func newItemRow(it Item) *itemRow {
	return &itemRow{
		ID: it.ID, ZoneID: it.ZoneID, Name: it.Name, Summary: it.Summary,
		Department: it.Department, Guide: normalizeGuide(it.Guide),
	}
}

func (r *itemRow) item(services []string) Item {
	return Item{
		ID: r.ID, ZoneID: r.ZoneID, Name: r.Name, Summary: r.Summary, Department: r.Department,
		Services: nonNil(services), Guide: normalizeGuide(r.Guide), Status: r.Status,
		Version: r.Version, Created: r.CreatedAt.UTC(), Updated: r.UpdatedAt.UTC(),
	}
}

var itemKind = &entityKind[itemRow]{
	name:     EntityItem,
	notFound: CodeItemNotFound,
	view: func(ctx context.Context, db bun.IDB, r *itemRow) (any, error) {
		services, err := itemServiceIDs(ctx, db, []string{r.ID})
		if err != nil {
			return nil, err
		}
		return r.item(services[r.ID]), nil
	},
}

// ItemFilter selects one-thing items. Empty fields match everything.
type ItemFilter struct {
	Zone   string
	Status Status
	// PublishedZones limits the result to items whose zone is published.
	PublishedZones bool
}

// ListItems returns the items matching f ordered by id, and the number of
// matching items.
func (s *Store) ListItems(ctx context.Context, f ItemFilter, p Paging) ([]Item, int, error) {
	var rows []itemRow
	q := s.db.NewSelect().Model(&rows)
	q = whereStatus(q, "i.status", f.Status)
	if f.Zone != "" {
		q = q.Where("i.zone_id = ?", f.Zone)
	}
	if f.PublishedZones {
		q = q.Where("EXISTS (SELECT 1 FROM zones AS z WHERE z.id = i.zone_id AND z.status = ?)", StatusPublished)
	}
	total, err := scanPage(ctx, q.Order("i.id"), p)
	if err != nil {
		return nil, 0, fmt.Errorf("list items: %w", err)
	}

	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	services, err := itemServiceIDs(ctx, s.db, ids)
	if err != nil {
		return nil, 0, err
	}
	out := make([]Item, len(rows))
	for i := range rows {
		out[i] = rows[i].item(services[rows[i].ID])
	}
	return out, total, nil
}

// GetItem returns the item with id. With publishedOnly, an item that is not
// published or whose zone is not published is reported as not found.
func (s *Store) GetItem(ctx context.Context, id string, publishedOnly bool) (Item, error) {
	r, err := loadRow[itemRow](ctx, s.db, itemKind, id)
	if err != nil {
		return Item{}, err
	}
	if publishedOnly {
		if r.Status != StatusPublished {
			return Item{}, httpx.E(CodeItemNotFound, id)
		}
		zone, err := loadRow[zoneRow](ctx, s.db, zoneKind, r.ZoneID)
		if err != nil {
			return Item{}, err
		}
		if zone.Status != StatusPublished {
			return Item{}, httpx.E(CodeItemNotFound, id)
		}
	}
	v, err := itemKind.view(ctx, s.db, r)
	if err != nil {
		return Item{}, err
	}
	return v.(Item), nil
}

func itemServiceIDs(ctx context.Context, db bun.IDB, itemIDs []string) (map[string][]string, error) {
	out := make(map[string][]string, len(itemIDs))
	if len(itemIDs) == 0 {
		return out, nil
	}
	var links []itemServiceRow
	err := db.NewSelect().Model(&links).Where("item_id IN (?)", bun.List(itemIDs)).
		Order("item_id", "position").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list services of items: %w", err)
	}
	for _, l := range links {
		out[l.ItemID] = append(out[l.ItemID], l.ServiceID)
	}
	return out, nil
}

// CreateItem inserts it as a draft.
func (s *Store) CreateItem(ctx context.Context, actor string, it Item) (Item, error) {
	var out Item
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		found, err := exists[itemRow](ctx, tx, it.ID)
		if err != nil {
			return fmt.Errorf("check item %q: %w", it.ID, err)
		}
		if found {
			return httpx.E(CodeItemExists, it.ID)
		}
		if err := checkItemRefs(ctx, tx, it); err != nil {
			return err
		}

		r := newItemRow(it)
		now := s.timestamp()
		r.rowMeta = rowMeta{Status: StatusDraft, Version: 1, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			if isUniqueViolation(err) {
				return httpx.E(CodeItemExists, it.ID) // a concurrent create won
			}
			return fmt.Errorf("insert item %q: %w", it.ID, err)
		}
		if err := setItemServices(ctx, tx, it.ID, it.Services); err != nil {
			return err
		}
		out = r.item(it.Services)
		return s.logOp(ctx, tx, actor, ActionCreate, EntityItem, it.ID, nil, out)
	})
	return out, err
}

// UpdateItem replaces the editable fields of the item it.ID. it.Version is
// the version the caller read.
func (s *Store) UpdateItem(ctx context.Context, actor string, it Item) (Item, error) {
	var out Item
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		old, err := loadRow[itemRow](ctx, tx, itemKind, it.ID)
		if err != nil {
			return err
		}
		if err := checkVersion(old.Version, it.Version); err != nil {
			return err
		}
		if err := checkItemRefs(ctx, tx, it); err != nil {
			return err
		}
		before, err := itemKind.view(ctx, tx, old)
		if err != nil {
			return err
		}

		r := newItemRow(it)
		r.rowMeta = old.rowMeta
		r.Version = old.Version + 1
		r.UpdatedAt = s.timestamp()
		if err := updateRow[itemRow](ctx, tx, r, old.Version); err != nil {
			return err
		}
		if err := setItemServices(ctx, tx, it.ID, it.Services); err != nil {
			return err
		}
		out = r.item(it.Services)
		return s.logOp(ctx, tx, actor, ActionUpdate, EntityItem, it.ID, before, out)
	})
	return out, err
}

func checkItemRefs(ctx context.Context, tx bun.Tx, it Item) error {
	found, err := exists[zoneRow](ctx, tx, it.ZoneID)
	if err != nil {
		return fmt.Errorf("check zone %q: %w", it.ZoneID, err)
	}
	if !found {
		var c checker
		c.add("/zone_id", "not_found",
			fmt.Sprintf("专区 %q 不存在", it.ZoneID),
			fmt.Sprintf("zone %q does not exist", it.ZoneID))
		return c.err()
	}
	return checkServicesExist(ctx, tx, "/services", it.Services)
}

func setItemServices(ctx context.Context, tx bun.Tx, itemID string, services []string) error {
	if _, err := tx.NewDelete().Model((*itemServiceRow)(nil)).Where("item_id = ?", itemID).Exec(ctx); err != nil {
		return fmt.Errorf("clear services of item %q: %w", itemID, err)
	}
	if len(services) == 0 {
		return nil
	}
	rows := make([]itemServiceRow, len(services))
	for i, id := range services {
		rows[i] = itemServiceRow{ItemID: itemID, ServiceID: id, Position: i + 1}
	}
	if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return fmt.Errorf("bundle services into item %q: %w", itemID, err)
	}
	return nil
}

// SetItemStatus publishes or unpublishes the item id.
func (s *Store) SetItemStatus(ctx context.Context, actor, id string, version int64, publish bool) (Item, error) {
	r, err := setStatus[itemRow](ctx, s, itemKind, actor, id, version, publish)
	if err != nil {
		return Item{}, err
	}
	v, err := itemKind.view(ctx, s.db, r)
	if err != nil {
		return Item{}, err
	}
	return v.(Item), nil
}

// DeleteItem deletes an item that is not published.
func (s *Store) DeleteItem(ctx context.Context, actor, id string, version int64) error {
	return deleteRow[itemRow](ctx, s, itemKind, actor, id, version)
}

// publishedItems returns the published items among ids whose zones are
// published, ordered by id.
func (s *Store) publishedItems(ctx context.Context, ids []string) ([]Item, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []itemRow
	err := s.db.NewSelect().Model(&rows).Where("i.status = ?", StatusPublished).
		Where("i.id IN (?)", bun.List(ids)).
		Where("EXISTS (SELECT 1 FROM zones AS z WHERE z.id = i.zone_id AND z.status = ?)", StatusPublished).
		Order("i.id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load items: %w", err)
	}
	out := make([]Item, len(rows))
	for i := range rows {
		out[i] = rows[i].item(nil)
	}
	return out, nil
}

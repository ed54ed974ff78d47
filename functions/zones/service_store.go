package zones

import (
	"context"
	"fmt"
	"slices"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/httpx"
)

type serviceRow struct {
	bun.BaseModel `bun:"table:zone_services,alias:s"`

	ID            string      `bun:"id,pk"`
	Type          ServiceType `bun:"type"`
	Name          Text        `bun:"name"`
	Summary       Text        `bun:"summary"`
	Icon          string      `bun:"icon"`
	Badge         Badge       `bun:"badge"`
	URL           string      `bun:"url"`
	Endpoint      string      `bun:"endpoint"`
	Channels      []Channel   `bun:"channels"`
	LoginRequired bool        `bun:"login_required"`
	Licences      []string    `bun:"licences"`
	Prefill       []string    `bun:"prefill"`
	Keywords      []string    `bun:"keywords"`
	rowMeta
}

func newServiceRow(v Service) *serviceRow {
	return &serviceRow{
		ID: v.ID, Type: v.Type, Name: v.Name, Summary: v.Summary, Icon: v.Icon, Badge: v.Badge,
		URL: v.URL, Endpoint: v.Endpoint, Channels: nonNil(v.Channels), LoginRequired: v.LoginRequired,
		Licences: nonNil(v.Licences), Prefill: nonNil(v.Prefill), Keywords: nonNil(v.Keywords),
	}
}

func (r *serviceRow) service(zones []string) Service {
	return Service{
		ID: r.ID, Type: r.Type, Name: r.Name, Summary: r.Summary, Icon: r.Icon, Badge: r.Badge,
		URL: r.URL, Endpoint: r.Endpoint, Channels: nonNil(r.Channels), LoginRequired: r.LoginRequired,
		Licences: nonNil(r.Licences), Prefill: nonNil(r.Prefill), Keywords: nonNil(r.Keywords),
		Zones: nonNil(zones), Status: r.Status, Version: r.Version,
		Created: r.CreatedAt.UTC(), Updated: r.UpdatedAt.UTC(),
	}
}

var serviceKind = &entityKind[serviceRow]{
	name:     EntityService,
	notFound: CodeServiceNotFound,
	view: func(ctx context.Context, db bun.IDB, r *serviceRow) (any, error) {
		zones, err := serviceZones(ctx, db, []string{r.ID}, false)
		if err != nil {
			return nil, err
		}
		return r.service(zones[r.ID]), nil
	},
	beforeDelete: func(ctx context.Context, tx bun.Tx, r *serviceRow) error {
		n, err := tx.NewSelect().Model((*itemServiceRow)(nil)).Where("service_id = ?", r.ID).Count(ctx)
		if err != nil {
			return fmt.Errorf("count items bundling service %q: %w", r.ID, err)
		}
		if n > 0 {
			return httpx.E(CodeServiceInUse, r.ID, n)
		}
		return nil
	},
	lockBefore: func(ctx context.Context, tx bun.Tx, id string) error {
		zones, err := linkedZones(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := lockRows(ctx, tx, (*zoneRow)(nil), zones); err != nil {
			return fmt.Errorf("lock zones of service %q: %w", id, err)
		}
		return nil
	},
	// The delete removes the service's links, so its zones' lists change.
	onDelete: func(ctx context.Context, s *Store, tx bun.Tx, r *serviceRow) error {
		zones, err := linkedZones(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		if err := s.bumpVersions(ctx, tx, (*zoneRow)(nil), zones); err != nil {
			return fmt.Errorf("bump zones of service %q: %w", r.ID, err)
		}
		return nil
	},
}

// ServiceFilter selects services. Empty fields match everything.
type ServiceFilter struct {
	Status  Status
	Channel Channel
	Zone    string
}

// ListServices returns the services matching f ordered by id, and the
// number of matching services. With f.Zone set they come in the zone's
// display order instead.
func (s *Store) ListServices(ctx context.Context, f ServiceFilter, p Paging) ([]Service, int, error) {
	var rows []serviceRow
	q := s.db.NewSelect().Model(&rows)
	q = whereStatus(q, "s.status", f.Status)
	q = whereChannel(q, "s.channels", f.Channel)
	if f.Zone != "" {
		q = q.Join("JOIN zone_service_links AS l ON l.service_id = s.id").
			Where("l.zone_id = ?", f.Zone).Order("l.position")
	}
	total, err := scanPage(ctx, q.Order("s.id"), p)
	if err != nil {
		return nil, 0, fmt.Errorf("list services: %w", err)
	}
	out, err := s.withZones(ctx, rows, f.Status == StatusPublished)
	return out, total, err
}

// ZoneServices returns the services attached to the zone in display order,
// limited to those available on ch when ch is set. With publishedOnly,
// unpublished services are left out.
func (s *Store) ZoneServices(ctx context.Context, zoneID string, ch Channel, publishedOnly bool) ([]Service, error) {
	f := ServiceFilter{Channel: ch, Zone: zoneID}
	if publishedOnly {
		f.Status = StatusPublished
	}
	out, _, err := s.ListServices(ctx, f, Paging{Number: 1, Size: maxZoneServices})
	return out, err
}

// GetService returns the service with id. With publishedOnly, a service
// that is not published is reported as not found.
func (s *Store) GetService(ctx context.Context, id string, publishedOnly bool) (Service, error) {
	r, err := loadRow[serviceRow](ctx, s.db, serviceKind, id)
	if err != nil {
		return Service{}, err
	}
	if publishedOnly && r.Status != StatusPublished {
		return Service{}, httpx.E(CodeServiceNotFound, id)
	}
	out, err := s.withZones(ctx, []serviceRow{*r}, publishedOnly)
	if err != nil {
		return Service{}, err
	}
	return out[0], nil
}

// withZones converts rows to services with their zone ids.
func (s *Store) withZones(ctx context.Context, rows []serviceRow, publishedZonesOnly bool) ([]Service, error) {
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	zones, err := serviceZones(ctx, s.db, ids, publishedZonesOnly)
	if err != nil {
		return nil, err
	}

	out := make([]Service, len(rows))
	for i := range rows {
		out[i] = rows[i].service(zones[rows[i].ID])
	}
	return out, nil
}

// serviceZones returns the ids of the zones each service is attached to, in
// zone display order.
func serviceZones(ctx context.Context, db bun.IDB, serviceIDs []string, publishedOnly bool) (map[string][]string, error) {
	out := make(map[string][]string, len(serviceIDs))
	if len(serviceIDs) == 0 {
		return out, nil
	}
	var links []struct {
		ZoneID    string `bun:"zone_id"`
		ServiceID string `bun:"service_id"`
	}
	q := db.NewSelect().Model((*linkRow)(nil)).Column("l.zone_id", "l.service_id").
		Join("JOIN zones AS z ON z.id = l.zone_id").
		Where("l.service_id IN (?)", bun.List(serviceIDs))
	if publishedOnly {
		q = q.Where("z.status = ?", StatusPublished)
	}
	if err := q.Order("z.sort_order", "z.id").Scan(ctx, &links); err != nil {
		return nil, fmt.Errorf("list zones of services: %w", err)
	}
	for _, l := range links {
		out[l.ServiceID] = append(out[l.ServiceID], l.ZoneID)
	}
	return out, nil
}

// CreateService inserts v as a draft and attaches it to v.Zones, last in
// each zone's display order. The version of each of those zones goes up by
// one.
func (s *Store) CreateService(ctx context.Context, actor string, v Service) (Service, error) {
	var out Service
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := lockRows(ctx, tx, (*zoneRow)(nil), v.Zones); err != nil {
			return fmt.Errorf("lock zones of service %q: %w", v.ID, err)
		}
		found, err := exists[serviceRow](ctx, tx, v.ID)
		if err != nil {
			return fmt.Errorf("check service %q: %w", v.ID, err)
		}
		if found {
			return httpx.E(CodeServiceExists, v.ID)
		}
		if err := checkZonesExist(ctx, tx, "/zones", v.Zones); err != nil {
			return err
		}

		r := newServiceRow(v)
		now := s.timestamp()
		r.rowMeta = rowMeta{Status: StatusDraft, Version: 1, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			if isUniqueViolation(err) {
				return httpx.E(CodeServiceExists, v.ID) // a concurrent create won
			}
			return fmt.Errorf("insert service %q: %w", v.ID, err)
		}
		if err := s.syncServiceZones(ctx, tx, v.ID, v.Zones, nil); err != nil {
			return err
		}
		if err := s.refreshSearch(ctx, tx, v.ID); err != nil {
			return err
		}

		after, err := serviceKind.view(ctx, tx, r)
		if err != nil {
			return err
		}
		out = after.(Service)
		return s.logOp(ctx, tx, actor, ActionCreate, EntityService, v.ID, nil, out)
	})
	return out, err
}

// UpdateService replaces the editable fields and zone links of the service
// v.ID. v.Version is the version the caller read. The version of each zone
// the service joins or leaves goes up by one.
func (s *Store) UpdateService(ctx context.Context, actor string, v Service) (Service, error) {
	var out Service
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		// Lock the zones whose lists may change before the service row, the
		// order every writer uses. Every link change also bumps the
		// service's version, so once the version check below passes under
		// the lock, the links read here are still current.
		current, err := linkedZones(ctx, tx, v.ID)
		if err != nil {
			return err
		}
		if err := lockRows(ctx, tx, (*zoneRow)(nil), append(current, v.Zones...)); err != nil {
			return fmt.Errorf("lock zones of service %q: %w", v.ID, err)
		}
		old, err := lockRow[serviceRow](ctx, tx, serviceKind, v.ID)
		if err != nil {
			return err
		}
		if err := checkVersion(old.Version, v.Version); err != nil {
			return err
		}
		if err := checkZonesExist(ctx, tx, "/zones", v.Zones); err != nil {
			return err
		}
		before, err := serviceKind.view(ctx, tx, old)
		if err != nil {
			return err
		}

		r := newServiceRow(v)
		r.rowMeta = old.rowMeta
		r.Version = old.Version + 1
		r.UpdatedAt = s.timestamp()
		if err := updateRow[serviceRow](ctx, tx, r, old.Version); err != nil {
			return err
		}
		if err := s.syncServiceZones(ctx, tx, v.ID, v.Zones, nil); err != nil {
			return err
		}
		if err := s.refreshSearch(ctx, tx, v.ID); err != nil {
			return err
		}

		after, err := serviceKind.view(ctx, tx, r)
		if err != nil {
			return err
		}
		out = after.(Service)
		return s.logOp(ctx, tx, actor, ActionUpdate, EntityService, v.ID, before, out)
	})
	return out, err
}

// linkedZones returns the ids of the zones the service is attached to.
func linkedZones(ctx context.Context, db bun.IDB, serviceID string) ([]string, error) {
	var zones []string
	err := db.NewSelect().Model((*linkRow)(nil)).Column("zone_id").Where("service_id = ?", serviceID).Scan(ctx, &zones)
	if err != nil {
		return nil, fmt.Errorf("list zones of service %q: %w", serviceID, err)
	}
	return zones, nil
}

// syncServiceZones makes the service's links match zones: links to other
// zones are removed, and the service goes last in each newly listed zone.
// Existing links keep their position. The version of every zone whose list
// changed goes up by one, except for the zones in fresh, which the caller
// inserted in this transaction. The caller must hold the locks of the zones
// concerned, so that two services never take the same position.
func (s *Store) syncServiceZones(ctx context.Context, tx bun.Tx, serviceID string, zones []string, fresh map[string]bool) error {
	current, err := linkedZones(ctx, tx, serviceID)
	if err != nil {
		return err
	}

	var removed, changed []string
	for _, z := range current {
		if !slices.Contains(zones, z) {
			removed = append(removed, z)
		}
	}
	if len(removed) > 0 {
		_, err := tx.NewDelete().Model((*linkRow)(nil)).
			Where("service_id = ?", serviceID).Where("zone_id IN (?)", bun.List(removed)).Exec(ctx)
		if err != nil {
			return fmt.Errorf("unlink service %q: %w", serviceID, err)
		}
	}
	changed = append(changed, removed...)

	for _, z := range zones {
		if slices.Contains(current, z) {
			continue
		}
		var last int
		err := tx.NewSelect().Model((*linkRow)(nil)).ColumnExpr("COALESCE(MAX(position), 0)").
			Where("zone_id = ?", z).Scan(ctx, &last)
		if err != nil {
			return fmt.Errorf("find last position in zone %q: %w", z, err)
		}
		if err := insertLink(ctx, tx, z, serviceID, last+1); err != nil {
			return err
		}
		changed = append(changed, z)
	}

	changed = slices.DeleteFunc(changed, func(z string) bool { return fresh[z] })
	if err := s.bumpVersions(ctx, tx, (*zoneRow)(nil), changed); err != nil {
		return fmt.Errorf("bump zones of service %q: %w", serviceID, err)
	}
	return nil
}

// SetServiceStatus publishes or unpublishes the service id.
func (s *Store) SetServiceStatus(ctx context.Context, actor, id string, version int64, publish bool) (Service, error) {
	r, err := setStatus[serviceRow](ctx, s, serviceKind, actor, id, version, publish)
	if err != nil {
		return Service{}, err
	}
	v, err := serviceKind.view(ctx, s.db, r)
	if err != nil {
		return Service{}, err
	}
	return v.(Service), nil
}

// DeleteService deletes a service that is not published and that no item
// bundles, with its zone links and search row.
func (s *Store) DeleteService(ctx context.Context, actor, id string, version int64) error {
	return deleteRow[serviceRow](ctx, s, serviceKind, actor, id, version)
}

// publishedServices returns the published services among ids, in the order
// of ids.
func (s *Store) publishedServices(ctx context.Context, ids []string) ([]Service, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []serviceRow
	err := s.db.NewSelect().Model(&rows).Where("s.status = ?", StatusPublished).
		Where("s.id IN (?)", bun.List(ids)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load services: %w", err)
	}
	list, err := s.withZones(ctx, rows, true)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]Service, len(list))
	for _, v := range list {
		byID[v.ID] = v
	}
	out := make([]Service, 0, len(list))
	for _, id := range ids {
		if v, ok := byID[id]; ok {
			out = append(out, v)
		}
	}
	return out, nil
}

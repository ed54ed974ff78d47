package zones

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/zones/seed"
	"github.com/jingtong/backend/shared/httpx"
)

// SeedResult counts the rows a seed run inserted. Rows that already existed
// are left alone and not counted.
type SeedResult struct {
	Zones     int
	Services  int
	Items     int
	Templates int
	Pages     int
}

// catalogue is the decoded demo catalogue.
type catalogue struct {
	zones     []Zone
	services  []Service
	items     []Item
	templates []Template
	pages     []seed.Page
}

// Seed applies the zones migrations to db and loads the demo catalogue
// embedded in package seed. It is idempotent: a row whose id already exists
// is kept as it is, operator edits included, so running it twice inserts
// nothing the second time. New zones, services, items and templates are
// published, and each new page is published as version 1. Every insert is
// logged with the actor "seed", and everything happens in one transaction.
// The result counts the rows inserted.
func Seed(ctx context.Context, db *bun.DB) (SeedResult, error) {
	if err := Migrate(ctx, db); err != nil {
		return SeedResult{}, err
	}
	return NewStore(db, nil).Seed(ctx, seed.FS)
}

// Seed loads the catalogue in fsys, laid out like seed.FS, as the package
// function Seed describes, and counts the rows it inserted.
func (s *Store) Seed(ctx context.Context, fsys fs.FS) (SeedResult, error) {
	cat, err := readCatalogue(fsys)
	if err != nil {
		return SeedResult{}, err
	}

	var res SeedResult
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		res = SeedResult{}
		steps := []func(context.Context, bun.Tx, *catalogue, *SeedResult) error{
			s.seedZones, s.seedServices, s.seedTemplates, s.seedItems, s.seedPages,
		}
		for _, step := range steps {
			if err := step(ctx, tx, cat, &res); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return SeedResult{}, fmt.Errorf("seed: %w", err)
	}
	return res, nil
}

// readCatalogue decodes and validates the seed files, reporting every
// invalid entry.
func readCatalogue(fsys fs.FS) (*catalogue, error) {
	cat := &catalogue{}
	files := []struct {
		name string
		dst  any
	}{
		{"zones.json", &cat.zones}, {"services.json", &cat.services}, {"items.json", &cat.items},
		{"templates.json", &cat.templates}, {"pages.json", &cat.pages},
	}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f.name)
		if err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		if err := json.Unmarshal(data, f.dst); err != nil {
			return nil, fmt.Errorf("seed: decode %s: %w", f.name, err)
		}
	}

	var problems []error
	check := func(kind, id string, err error) {
		if err == nil {
			return
		}
		var e *httpx.Error
		if !errors.As(err, &e) || len(e.Details) == 0 {
			problems = append(problems, fmt.Errorf("%s %q: %w", kind, id, err))
			return
		}
		for _, d := range e.Details {
			problems = append(problems, fmt.Errorf("%s %q: %s %s: %s", kind, id, d.Path, d.Reason, d.EN))
		}
	}
	for _, z := range cat.zones {
		check("zone", z.ID, validateZone(z))
	}
	for _, v := range cat.services {
		check("service", v.ID, validateService(v))
	}
	for _, it := range cat.items {
		check("item", it.ID, validateItem(it))
	}
	for _, t := range cat.templates {
		check("template", t.ID, validateTemplate(t))
	}
	for _, p := range cat.pages {
		_, err := parsePage("/document", p.Document)
		check("page of zone", p.ZoneID, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("seed: invalid catalogue: %w", errors.Join(problems...))
	}
	return cat, nil
}

func (s *Store) seedMeta() rowMeta {
	now := s.timestamp()
	return rowMeta{Status: StatusPublished, Version: 1, CreatedAt: now, UpdatedAt: now}
}

func (s *Store) seedZones(ctx context.Context, tx bun.Tx, cat *catalogue, res *SeedResult) error {
	for _, z := range cat.zones {
		found, err := exists[zoneRow](ctx, tx, z.ID)
		if err != nil {
			return err
		}
		if found {
			continue
		}
		r := newZoneRow(z)
		r.rowMeta = s.seedMeta()
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return fmt.Errorf("insert zone %q: %w", z.ID, err)
		}
		if err := s.logOp(ctx, tx, ActorSeed, ActionCreate, EntityZone, z.ID, nil, r.zone()); err != nil {
			return err
		}
		res.Zones++
	}
	return nil
}

// seedServices inserts the missing services, attaches them to their zones
// and indexes them for search.
func (s *Store) seedServices(ctx context.Context, tx bun.Tx, cat *catalogue, res *SeedResult) error {
	var inserted []string
	for _, v := range cat.services {
		found, err := exists[serviceRow](ctx, tx, v.ID)
		if err != nil {
			return err
		}
		if found {
			continue
		}
		if err := checkZonesExist(ctx, tx, "/zones", v.Zones); err != nil {
			return fmt.Errorf("service %q: %w", v.ID, err)
		}
		r := newServiceRow(v)
		r.rowMeta = s.seedMeta()
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return fmt.Errorf("insert service %q: %w", v.ID, err)
		}
		if err := syncServiceZones(ctx, tx, v.ID, v.Zones); err != nil {
			return err
		}
		if err := s.logOp(ctx, tx, ActorSeed, ActionCreate, EntityService, v.ID, nil, r.service(v.Zones)); err != nil {
			return err
		}
		inserted = append(inserted, v.ID)
		res.Services++
	}
	return s.refreshSearch(ctx, tx, inserted...)
}

func (s *Store) seedTemplates(ctx context.Context, tx bun.Tx, cat *catalogue, res *SeedResult) error {
	for _, t := range cat.templates {
		found, err := exists[templateRow](ctx, tx, t.ID)
		if err != nil {
			return err
		}
		if found {
			continue
		}
		r := newTemplateRow(t)
		r.rowMeta = s.seedMeta()
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return fmt.Errorf("insert template %q: %w", t.ID, err)
		}
		if err := s.logOp(ctx, tx, ActorSeed, ActionCreate, EntityTemplate, t.ID, nil, r.template()); err != nil {
			return err
		}
		res.Templates++
	}
	return nil
}

func (s *Store) seedItems(ctx context.Context, tx bun.Tx, cat *catalogue, res *SeedResult) error {
	for _, it := range cat.items {
		found, err := exists[itemRow](ctx, tx, it.ID)
		if err != nil {
			return err
		}
		if found {
			continue
		}
		if err := checkItemRefs(ctx, tx, it); err != nil {
			return fmt.Errorf("item %q: %w", it.ID, err)
		}
		r := newItemRow(it)
		r.rowMeta = s.seedMeta()
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return fmt.Errorf("insert item %q: %w", it.ID, err)
		}
		if err := setItemServices(ctx, tx, it.ID, it.Services); err != nil {
			return err
		}
		if err := s.logOp(ctx, tx, ActorSeed, ActionCreate, EntityItem, it.ID, nil, r.item(it.Services)); err != nil {
			return err
		}
		res.Items++
	}
	return nil
}

// seedPages gives every zone that has neither a draft nor a published
// version its seed page, as draft version 1 and published version 1.
func (s *Store) seedPages(ctx context.Context, tx bun.Tx, cat *catalogue, res *SeedResult) error {
	for _, p := range cat.pages {
		found, err := exists[zoneRow](ctx, tx, p.ZoneID)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("page of zone %q: the zone does not exist", p.ZoneID)
		}
		draft, err := loadDraft(ctx, tx, p.ZoneID)
		if err != nil {
			return err
		}
		latest, err := latestPageVersion(ctx, tx, p.ZoneID)
		if err != nil {
			return err
		}
		if draft != nil || latest > 0 {
			continue
		}

		if _, _, err := s.putDraft(ctx, tx, ActorSeed, p.ZoneID, p.Document, nil, 0); err != nil {
			return err
		}
		v, err := s.insertPageVersion(ctx, tx, ActorSeed, p.ZoneID, p.Document, 0)
		if err != nil {
			return err
		}
		if err := s.logOp(ctx, tx, ActorSeed, ActionPagePublish, EntityPage, p.ZoneID, nil, v.pageVersion()); err != nil {
			return err
		}
		res.Pages++
	}
	return nil
}

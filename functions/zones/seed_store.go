package zones

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/zones/seed"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/store"
)

// SeedResult counts the rows a seed run inserted. Rows that already existed
// and ids that an earlier run handled are left alone and not counted.
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
// embedded in package seed. New zones, services, items and templates are
// published, and each new page is published as version 1. Every insert is
// logged with the actor "seed", and everything happens in one transaction.
// The result counts the rows inserted.
//
// Seeding inserts each catalogue id at most once per database. The table
// zone_seed_ledger records every id that a run inserted or found already
// present, and later runs skip those ids. So a row that exists is kept as
// it is, operator edits included, and an entity that an operator deleted
// stays deleted; running Seed twice inserts nothing the second time. Ids
// that a release adds to the catalogue are inserted by the next run. A
// service whose zone was deleted joins its other zones, an item bundles
// only the services that exist, and an item or page whose zone was deleted
// is skipped without being recorded, so it comes back if an operator
// creates the zone again.
//
// Runs that start together on one database, such as several instances
// with JT_ZONES_SEED=true, take turns: on PostgreSQL through a transaction
// advisory lock, on SQLite through SQLite's write lock and, within one
// process, a mutex.
func Seed(ctx context.Context, db *bun.DB) (SeedResult, error) {
	if err := Migrate(ctx, db); err != nil {
		return SeedResult{}, err
	}
	return NewStore(db, nil).Seed(ctx, seed.FS)
}

// sqliteSeedMu serialises seed runs on SQLite within this process. Runs in
// one process then never wait for each other on SQLite's busy timeout,
// which a long seed run could outlast.
var sqliteSeedMu sync.Mutex

// seedLockKey is the PostgreSQL advisory lock key of seed runs.
var seedLockKey = func() int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("jingtong-seed:zones"))
	return int64(h.Sum64())
}()

// Seed loads the catalogue in fsys, laid out like seed.FS, as the package
// function Seed describes, and counts the rows it inserted.
func (s *Store) Seed(ctx context.Context, fsys fs.FS) (SeedResult, error) {
	cat, err := readCatalogue(fsys)
	if err != nil {
		return SeedResult{}, err
	}
	if !store.IsPostgres(s.db) {
		sqliteSeedMu.Lock()
		defer sqliteSeedMu.Unlock()
	}

	var res SeedResult
	err = s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		if store.IsPostgres(tx) {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", seedLockKey); err != nil {
				return fmt.Errorf("take the seed lock: %w", err)
			}
		}
		ledger, err := loadSeedLedger(ctx, tx)
		if err != nil {
			return err
		}

		run := &seedRun{s: s, tx: tx, cat: cat, ledger: ledger, freshZones: map[string]bool{}}
		steps := []func(context.Context) error{
			run.zones, run.services, run.templates, run.items, run.pages,
		}
		for _, step := range steps {
			if err := step(ctx); err != nil {
				return err
			}
		}
		if err := ledger.save(ctx, tx, s.timestamp()); err != nil {
			return err
		}
		res = run.res
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

// seedRun is one seed transaction.
type seedRun struct {
	s      *Store
	tx     bun.Tx
	cat    *catalogue
	ledger *seedLedger
	res    SeedResult
	// freshZones are the zones this run inserted. Attaching services to
	// them does not bump their versions, so seeded zones start at version 1.
	freshZones map[string]bool
}

// claim reports whether the run should insert the catalogue entry id of
// entityType, which it should when neither the ledger nor the table has
// the id. An id missing from the ledger is added to it in both cases.
func (run *seedRun) claim(ctx context.Context, entityType, id string, exists func(context.Context, bun.IDB, string) (bool, error)) (bool, error) {
	if run.ledger.has(entityType, id) {
		return false, nil
	}
	found, err := exists(ctx, run.tx, id)
	if err != nil {
		return false, fmt.Errorf("check %s %q: %w", entityType, id, err)
	}
	run.ledger.add(entityType, id)
	return !found, nil
}

// zones inserts the missing zones and indexes their names for search.
func (run *seedRun) zones(ctx context.Context) error {
	var inserted []string
	for _, z := range run.cat.zones {
		insert, err := run.claim(ctx, EntityZone, z.ID, exists[zoneRow])
		if err != nil {
			return err
		}
		if !insert {
			continue
		}
		r := newZoneRow(z)
		r.rowMeta = run.s.seedMeta()
		if _, err := run.tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return fmt.Errorf("insert zone %q: %w", z.ID, err)
		}
		if err := run.s.logOp(ctx, run.tx, ActorSeed, ActionCreate, EntityZone, z.ID, nil, r.zone()); err != nil {
			return err
		}
		run.freshZones[z.ID] = true
		inserted = append(inserted, z.ID)
		run.res.Zones++
	}
	return run.s.refreshZoneSearch(ctx, run.tx, inserted...)
}

// services inserts the missing services, attaches them to those of their
// zones that exist and indexes them for search.
func (run *seedRun) services(ctx context.Context) error {
	var inserted []string
	for _, v := range run.cat.services {
		insert, err := run.claim(ctx, EntityService, v.ID, exists[serviceRow])
		if err != nil {
			return err
		}
		if !insert {
			continue
		}
		zones, err := existingIDs[zoneRow](ctx, run.tx, v.Zones)
		if err != nil {
			return err
		}
		if err := lockRows(ctx, run.tx, (*zoneRow)(nil), zones); err != nil {
			return fmt.Errorf("lock zones of service %q: %w", v.ID, err)
		}
		r := newServiceRow(v)
		r.rowMeta = run.s.seedMeta()
		if _, err := run.tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return fmt.Errorf("insert service %q: %w", v.ID, err)
		}
		if err := run.s.syncServiceZones(ctx, run.tx, v.ID, zones, run.freshZones); err != nil {
			return err
		}
		if err := run.s.logOp(ctx, run.tx, ActorSeed, ActionCreate, EntityService, v.ID, nil, r.service(zones)); err != nil {
			return err
		}
		inserted = append(inserted, v.ID)
		run.res.Services++
	}
	return run.s.refreshSearch(ctx, run.tx, inserted...)
}

func (run *seedRun) templates(ctx context.Context) error {
	for _, t := range run.cat.templates {
		insert, err := run.claim(ctx, EntityTemplate, t.ID, exists[templateRow])
		if err != nil {
			return err
		}
		if !insert {
			continue
		}
		r := newTemplateRow(t)
		r.rowMeta = run.s.seedMeta()
		if _, err := run.tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return fmt.Errorf("insert template %q: %w", t.ID, err)
		}
		if err := run.s.logOp(ctx, run.tx, ActorSeed, ActionCreate, EntityTemplate, t.ID, nil, r.template()); err != nil {
			return err
		}
		run.res.Templates++
	}
	return nil
}

func (run *seedRun) items(ctx context.Context) error {
	for _, it := range run.cat.items {
		if run.ledger.has(EntityItem, it.ID) {
			continue
		}
		zoneFound, err := exists[zoneRow](ctx, run.tx, it.ZoneID)
		if err != nil {
			return fmt.Errorf("check zone %q: %w", it.ZoneID, err)
		}
		if !zoneFound {
			continue // the zone was deleted; see Seed
		}
		insert, err := run.claim(ctx, EntityItem, it.ID, exists[itemRow])
		if err != nil {
			return err
		}
		if !insert {
			continue
		}
		services, err := existingIDs[serviceRow](ctx, run.tx, it.Services)
		if err != nil {
			return err
		}
		r := newItemRow(it)
		r.rowMeta = run.s.seedMeta()
		if _, err := run.tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return fmt.Errorf("insert item %q: %w", it.ID, err)
		}
		if err := setItemServices(ctx, run.tx, it.ID, services); err != nil {
			return err
		}
		if err := run.s.logOp(ctx, run.tx, ActorSeed, ActionCreate, EntityItem, it.ID, nil, r.item(services)); err != nil {
			return err
		}
		run.res.Items++
	}
	return nil
}

// pages gives every zone that has neither a draft nor a published version
// its seed page, as draft version 1 and published version 1.
func (run *seedRun) pages(ctx context.Context) error {
	for _, p := range run.cat.pages {
		if run.ledger.has(EntityPage, p.ZoneID) {
			continue
		}
		zoneFound, err := exists[zoneRow](ctx, run.tx, p.ZoneID)
		if err != nil {
			return fmt.Errorf("check zone %q: %w", p.ZoneID, err)
		}
		if !zoneFound {
			continue // the zone was deleted; see Seed
		}
		insert, err := run.claim(ctx, EntityPage, p.ZoneID, pageExists)
		if err != nil {
			return err
		}
		if !insert {
			continue
		}

		if _, err := lockRow[zoneRow](ctx, run.tx, zoneKind, p.ZoneID); err != nil {
			return err
		}
		if _, _, err := run.s.putDraft(ctx, run.tx, ActorSeed, p.ZoneID, p.Document, nil, 0); err != nil {
			return err
		}
		v, err := run.s.insertPageVersion(ctx, run.tx, ActorSeed, p.ZoneID, p.Document, 0)
		if err != nil {
			return err
		}
		if err := run.s.logOp(ctx, run.tx, ActorSeed, ActionPagePublish, EntityPage, p.ZoneID, nil, v.pageVersion()); err != nil {
			return err
		}
		run.res.Pages++
	}
	return nil
}

// pageExists reports whether the zone has a draft page or a published
// version.
func pageExists(ctx context.Context, db bun.IDB, zoneID string) (bool, error) {
	draft, err := loadDraft(ctx, db, zoneID)
	if err != nil || draft != nil {
		return draft != nil, err
	}
	latest, err := latestPageVersion(ctx, db, zoneID)
	return latest > 0, err
}

// existingIDs returns the ids that have a row in the table of R, in the
// order of ids.
func existingIDs[R any](ctx context.Context, db bun.IDB, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var found []string
	if err := db.NewSelect().Model((*R)(nil)).Column("id").Where("id IN (?)", bun.List(ids)).Scan(ctx, &found); err != nil {
		return nil, fmt.Errorf("check ids: %w", err)
	}
	return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !slices.Contains(found, id) }), nil
}

// seedLedgerRow is a catalogue id that seeding has handled.
type seedLedgerRow struct {
	bun.BaseModel `bun:"table:zone_seed_ledger"`

	EntityType string    `bun:"entity_type,pk"`
	EntityID   string    `bun:"entity_id,pk"`
	RecordedAt time.Time `bun:"recorded_at"`
}

// seedLedger is zone_seed_ledger as a seed run reads and extends it.
type seedLedger struct {
	handled map[string]bool // entity type + "/" + id
	added   []seedLedgerRow
}

func loadSeedLedger(ctx context.Context, db bun.IDB) (*seedLedger, error) {
	var rows []seedLedgerRow
	if err := db.NewSelect().Model(&rows).Scan(ctx); err != nil {
		return nil, fmt.Errorf("load the seed ledger: %w", err)
	}
	l := &seedLedger{handled: make(map[string]bool, len(rows))}
	for _, r := range rows {
		l.handled[r.EntityType+"/"+r.EntityID] = true
	}
	return l, nil
}

func (l *seedLedger) has(entityType, id string) bool {
	return l.handled[entityType+"/"+id]
}

func (l *seedLedger) add(entityType, id string) {
	l.handled[entityType+"/"+id] = true
	l.added = append(l.added, seedLedgerRow{EntityType: entityType, EntityID: id})
}

// save inserts the ids added in this run. An id that is already recorded
// is left as it is.
func (l *seedLedger) save(ctx context.Context, tx bun.Tx, now time.Time) error {
	for chunk := range slices.Chunk(l.added, 200) {
		for i := range chunk {
			chunk[i].RecordedAt = now
		}
		_, err := tx.NewInsert().Model(&chunk).On("CONFLICT (entity_type, entity_id) DO NOTHING").Exec(ctx)
		if err != nil {
			return fmt.Errorf("record seeded ids: %w", err)
		}
	}
	return nil
}

package zones

import (
	"context"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/zones/seed"
	"github.com/jingtong/backend/shared/store"
	"github.com/jingtong/backend/shared/store/storetest"
)

// catalogueSize returns the number of entries per entity type in fsys.
func catalogueSize(t testing.TB, fsys fs.FS) SeedResult {
	t.Helper()
	cat, err := readCatalogue(fsys)
	if err != nil {
		t.Fatalf("read catalogue: %v", err)
	}
	return SeedResult{Zones: len(cat.zones), Services: len(cat.services), Items: len(cat.items),
		Templates: len(cat.templates), Pages: len(cat.pages)}
}

func (r SeedResult) total() int {
	return r.Zones + r.Services + r.Items + r.Templates + r.Pages
}

// deleteSeeded unpublishes and deletes one seeded entity of each type.
func deleteSeeded(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	z, err := s.GetZone(ctx, "business-tax", false)
	must(err)
	z, err = s.SetZoneStatus(ctx, "op", z.ID, z.Version, false)
	must(err)
	must(s.DeleteZone(ctx, "op", z.ID, z.Version))

	v, err := s.GetService(ctx, "marriage-registration-booking", false)
	must(err)
	v, err = s.SetServiceStatus(ctx, "op", v.ID, v.Version, false)
	must(err)
	must(s.DeleteService(ctx, "op", v.ID, v.Version))

	it, err := s.GetItem(ctx, "one-thing-newborn", false)
	must(err)
	it, err = s.SetItemStatus(ctx, "op", it.ID, it.Version, false)
	must(err)
	must(s.DeleteItem(ctx, "op", it.ID, it.Version))

	tpl, err := s.GetTemplate(ctx, "gaokao-2027")
	must(err)
	tpl, err = s.SetTemplateStatus(ctx, "op", tpl.ID, tpl.Version, false)
	must(err)
	must(s.DeleteTemplate(ctx, "op", tpl.ID, tpl.Version))
}

// expectDeleted fails unless the entities deleteSeeded removed are absent.
func expectDeleted(t *testing.T, s *Store, db *bun.DB) {
	t.Helper()
	ctx := context.Background()
	_, err := s.GetZone(ctx, "business-tax", false)
	expectCode(t, err, CodeZoneNotFound)
	_, err = s.GetService(ctx, "marriage-registration-booking", false)
	expectCode(t, err, CodeServiceNotFound)
	_, err = s.GetItem(ctx, "one-thing-newborn", false)
	expectCode(t, err, CodeItemNotFound)
	_, err = s.GetTemplate(ctx, "gaokao-2027")
	expectCode(t, err, CodeTemplateNotFound)
	if n, _ := db.NewSelect().Model((*pageRow)(nil)).Where("zone_id = ?", "business-tax").Count(ctx); n != 0 {
		t.Errorf("business-tax has %d draft pages, want none", n)
	}

	// This service was attached to the deleted zone only.
	v, err := s.GetService(ctx, "tax-payment-certificate", false)
	if err != nil || len(v.Zones) != 0 {
		t.Errorf("tax-payment-certificate = zones %v (%v), want no zones", v.Zones, err)
	}
}

func TestSeedKeepsDeletedEntitiesDeleted(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		e := newSeededEnv(t, db)
		s := e.srv.store
		size := catalogueSize(t, seed.FS)
		if n := countRows(t, db, "zone_seed_ledger"); n != size.total() {
			t.Fatalf("ledger rows after the first seed = %d, want one per catalogue entry, %d", n, size.total())
		}

		deleteSeeded(t, s)
		z, _ := s.GetZone(ctx, "life-marriage", false)
		z.Name = Text{ZH: "婚育（运营修改）"}
		if _, err := s.UpdateZone(ctx, "op", z); err != nil {
			t.Fatalf("edit zone: %v", err)
		}
		counts := map[string]int{}
		for _, table := range []string{"zones", "zone_services", "zone_items", "zone_templates", "zone_pages", "zone_oplog"} {
			counts[table] = countRows(t, db, table)
		}

		// A restart with JT_ZONES_SEED=true seeds again.
		e = newSeededEnv(t, db)
		expectDeleted(t, e.srv.store, db)
		if res, err := e.srv.store.Seed(ctx, seed.FS); err != nil || res != (SeedResult{}) {
			t.Fatalf("seed after deletes = %+v (%v), want nothing inserted", res, err)
		}
		for table, want := range counts {
			if got := countRows(t, db, table); got != want {
				t.Errorf("%s rows = %d after reseeding, want %d", table, got, want)
			}
		}
		if z, _ := s.GetZone(ctx, "life-marriage", false); z.Name.ZH != "婚育（运营修改）" {
			t.Errorf("edited zone name = %q after reseeding, want the edit", z.Name.ZH)
		}
	})
}

// TestSeedNewEntriesAfterDeletes seeds a later catalogue that adds entries
// referring to entities an operator deleted.
func TestSeedNewEntriesAfterDeletes(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		if _, err := s.Seed(ctx, seed.FS); err != nil {
			t.Fatalf("seed: %v", err)
		}
		deleteSeeded(t, s)

		next := extendCatalogue(t,
			Service{ID: "new-tax-service", Type: ServiceH5, Name: Text{ZH: "新税务服务"}, URL: "/h5/new-tax-service",
				Zones: []string{"business-tax", "business-startup"}},
			Item{ID: "new-newborn-item", ZoneID: "one-thing", Name: Text{ZH: "新事项"},
				Services: []string{"marriage-registration-booking", "birth-medical-certificate"}},
			Item{ID: "new-tax-item", ZoneID: "business-tax", Name: Text{ZH: "税务事项"}},
		)
		res, err := s.Seed(ctx, next)
		if err != nil {
			t.Fatalf("seed the next catalogue: %v", err)
		}
		if want := (SeedResult{Services: 1, Items: 1}); res != want {
			t.Fatalf("seed inserted %+v, want %+v", res, want)
		}
		expectDeleted(t, s, db)

		v, err := s.GetService(ctx, "new-tax-service", false)
		if err != nil || !slices.Equal(v.Zones, []string{"business-startup"}) {
			t.Errorf("new service zones = %v (%v), want only the zone that exists", v.Zones, err)
		}
		it, err := s.GetItem(ctx, "new-newborn-item", false)
		if err != nil || !slices.Equal(it.Services, []string{"birth-medical-certificate"}) {
			t.Errorf("new item services = %v (%v), want only the service that exists", it.Services, err)
		}
		_, err = s.GetItem(ctx, "new-tax-item", false)
		expectCode(t, err, CodeItemNotFound)
	})
}

// extendCatalogue returns seed.FS with the services and items appended.
func extendCatalogue(t *testing.T, extra ...any) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	for _, name := range []string{"zones.json", "services.json", "items.json", "templates.json", "pages.json"} {
		data, err := fs.ReadFile(seed.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		var list []any
		if err := json.Unmarshal(data, &list); err != nil {
			t.Fatal(err)
		}
		for _, x := range extra {
			_, isService := x.(Service)
			_, isItem := x.(Item)
			if (isService && name == "services.json") || (isItem && name == "items.json") {
				list = append(list, x)
			}
		}
		if data, err = json.Marshal(list); err != nil {
			t.Fatal(err)
		}
		out[name] = &fstest.MapFile{Data: data}
	}
	return out
}

// TestSeedLedgerBackfill upgrades a database seeded before the ledger
// existed: migration 0002 records the ids in the operation log.
func TestSeedLedgerBackfill(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		if _, err := s.Seed(ctx, seed.FS); err != nil {
			t.Fatalf("seed: %v", err)
		}
		deleteSeeded(t, s)

		// Take the database back to before migration 0002.
		if _, err := db.NewDropTable().Table("zone_seed_ledger").Exec(ctx); err != nil {
			t.Fatalf("drop ledger: %v", err)
		}
		if _, err := db.NewDelete().Table("zones_migrations").Where("name = ?", "0002_create_seed_ledger").Exec(ctx); err != nil {
			t.Fatalf("forget migration 0002: %v", err)
		}

		if err := Migrate(ctx, db); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if res, err := s.Seed(ctx, seed.FS); err != nil || res != (SeedResult{}) {
			t.Fatalf("seed after the upgrade = %+v (%v), want nothing inserted", res, err)
		}
		expectDeleted(t, s, db)
	})
}

func TestSeedConcurrentPostgres(t *testing.T) {
	testConcurrentSeed(t, storetest.PostgresDSN(t))
}

func TestSeedConcurrentSQLite(t *testing.T) {
	testConcurrentSeed(t, filepath.Join(t.TempDir(), "seed.db"))
}

// testConcurrentSeed runs Seed from three handles on one fresh database at
// once, as three instances starting together do.
func testConcurrentSeed(t *testing.T, dsn string) {
	t.Helper()
	const handles = 3
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dbs := make([]*bun.DB, handles)
	for i := range dbs {
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("open handle %d: %v", i, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}

	results := make([]SeedResult, handles)
	errs := make([]error, handles)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() {
			<-start
			results[i], errs[i] = Seed(ctx, db)
		})
	}
	close(start)
	wg.Wait()

	var sum SeedResult
	for i, err := range errs {
		if err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
		r := results[i]
		sum = SeedResult{Zones: sum.Zones + r.Zones, Services: sum.Services + r.Services, Items: sum.Items + r.Items,
			Templates: sum.Templates + r.Templates, Pages: sum.Pages + r.Pages}
	}
	want := catalogueSize(t, seed.FS)
	if sum != want {
		t.Errorf("the runs inserted %+v together, want one copy of the catalogue, %+v", sum, want)
	}
	for table, n := range map[string]int{
		"zones": want.Zones, "zone_services": want.Services, "zone_items": want.Items,
		"zone_templates": want.Templates, "zone_pages": want.Pages, "zone_page_versions": want.Pages,
		"zone_seed_ledger": want.total(),
	} {
		if got := countRows(t, dbs[0], table); got != n {
			t.Errorf("%s rows = %d, want %d", table, got, n)
		}
	}
}

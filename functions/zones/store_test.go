package zones

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/zones/seed"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/store/storetest"
)

// newTestStore returns a migrated store over db with a fixed clock.
func newTestStore(t testing.TB, db *bun.DB) *Store {
	t.Helper()
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return NewStore(db, func() time.Time { return startTime })
}

// expectCode fails the test unless err is an *httpx.Error with code.
func expectCode(t testing.TB, err error, code httpx.Code) *httpx.Error {
	t.Helper()
	var e *httpx.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want code %s", err, code.ID)
	}
	if e.Code.ID != code.ID {
		t.Fatalf("err code = %s (%v), want %s", e.Code.ID, err, code.ID)
	}
	return e
}

func testZone(id string) Zone {
	return Zone{
		ID: id, Kind: KindLife, Name: Text{ZH: "测试专区 " + id, EN: "Test zone " + id},
		Description: Text{ZH: "用于测试"}, Icon: "test", Order: 5, Channels: []Channel{ChannelWeChat},
	}
}

func testService(id string, zones ...string) Service {
	return Service{
		ID: id, Type: ServiceH5, Name: Text{ZH: "测试服务", EN: "Test service"}, URL: "/h5/" + id,
		Channels: []Channel{}, Licences: []string{"居民身份证"}, Prefill: []string{"ethnicity"},
		Keywords: []string{"测试"}, Zones: zones,
	}
}

// countRows returns the number of rows in table.
func countRows(t testing.TB, db *bun.DB, table string) int {
	t.Helper()
	n, err := db.NewSelect().Table(table).Count(context.Background())
	if err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return int(n)
}

func opsFor(t testing.TB, s *Store, entityType, id string) []OpEntry {
	t.Helper()
	ops, _, err := s.ListOps(context.Background(), OpFilter{EntityType: entityType, EntityID: id}, Paging{Number: 1, Size: 100})
	if err != nil {
		t.Fatalf("list ops: %v", err)
	}
	return ops
}

func TestStoreZoneLifecycle(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)

		z, err := s.CreateZone(ctx, "alice", testZone("test-zone"))
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		if z.Version != 1 || z.Status != StatusDraft || !z.CreatedAt.Equal(startTime) {
			t.Fatalf("created zone = version %d, status %s, created %v; want 1, draft, %v", z.Version, z.Status, z.CreatedAt, startTime)
		}

		_, err = s.CreateZone(ctx, "alice", testZone("test-zone"))
		expectCode(t, err, CodeZoneExists)

		got, err := s.GetZone(ctx, "test-zone", false)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if got.Name != z.Name || !slices.Equal(got.Channels, []Channel{ChannelWeChat}) {
			t.Fatalf("read back %+v, want %+v", got, z)
		}
		_, err = s.GetZone(ctx, "test-zone", true)
		expectCode(t, err, CodeZoneNotFound)

		upd := got
		upd.Name = Text{ZH: "改名"}
		upd, err = s.UpdateZone(ctx, "bob", upd)
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		if upd.Version != 2 || upd.Status != StatusDraft {
			t.Fatalf("updated zone = version %d, status %s; want 2, draft", upd.Version, upd.Status)
		}

		stale := got // still carries version 1
		_, err = s.UpdateZone(ctx, "carol", stale)
		e := expectCode(t, err, httpx.CodeVersionConflict)
		if len(e.Args) != 1 || e.Args[0] != int64(2) {
			t.Fatalf("conflict args = %v, want the current version 2", e.Args)
		}

		pub, err := s.SetZoneStatus(ctx, "bob", "test-zone", 2, true)
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
		if pub.Status != StatusPublished || pub.Version != 3 {
			t.Fatalf("published zone = %s version %d, want published version 3", pub.Status, pub.Version)
		}
		expectCode(t, s.DeleteZone(ctx, "bob", "test-zone", 3), CodeDeletePublished)

		off, err := s.SetZoneStatus(ctx, "bob", "test-zone", 3, false)
		if err != nil {
			t.Fatalf("unpublish: %v", err)
		}
		if off.Status != StatusOffline {
			t.Fatalf("unpublished zone status = %s, want offline", off.Status)
		}
		expectCode(t, s.DeleteZone(ctx, "bob", "test-zone", 3), httpx.CodeVersionConflict)
		if err := s.DeleteZone(ctx, "bob", "test-zone", off.Version); err != nil {
			t.Fatalf("delete: %v", err)
		}
		expectCode(t, s.DeleteZone(ctx, "bob", "test-zone", off.Version), CodeZoneNotFound)

		ops := opsFor(t, s, EntityZone, "test-zone")
		var actions []string
		for i := len(ops) - 1; i >= 0; i-- {
			actions = append(actions, ops[i].Actor+":"+ops[i].Action)
		}
		want := []string{"alice:create", "bob:update", "bob:publish", "bob:unpublish", "bob:delete"}
		if !slices.Equal(actions, want) {
			t.Fatalf("oplog = %v, want %v", actions, want)
		}
		if ops[len(ops)-1].Before != nil || ops[0].After != nil {
			t.Fatalf("create entry before = %s, delete entry after = %s; want both null", ops[len(ops)-1].Before, ops[0].After)
		}
		var before Zone
		if err := json.Unmarshal(ops[3].Before, &before); err != nil || before.Name.ZH != "测试专区 test-zone" {
			t.Fatalf("update entry before = %s (%v), want the original name", ops[3].Before, err)
		}
	})
}

func TestStoreFailedWriteChangesNothing(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		if _, err := s.CreateZone(ctx, "alice", testZone("zone-a")); err != nil {
			t.Fatalf("create zone: %v", err)
		}
		zonesBefore, opsBefore := countRows(t, db, "zones"), countRows(t, db, "zone_oplog")

		injected := errors.New("injected failure")
		s.beforeCommit = func(context.Context, bun.Tx) error { return injected }

		_, err := s.CreateZone(ctx, "alice", testZone("zone-b"))
		if !errors.Is(err, injected) {
			t.Fatalf("create err = %v, want the injected failure", err)
		}
		_, err = s.CreateService(ctx, "alice", testService("svc-b", "zone-a"))
		if !errors.Is(err, injected) {
			t.Fatalf("create service err = %v, want the injected failure", err)
		}
		_, err = s.SetZoneStatus(ctx, "alice", "zone-a", 1, true)
		if !errors.Is(err, injected) {
			t.Fatalf("publish err = %v, want the injected failure", err)
		}

		for table, want := range map[string]int{
			"zones": zonesBefore, "zone_oplog": opsBefore, "zone_services": 0,
			"zone_service_links": 0, "zone_service_search": 0,
		} {
			if got := countRows(t, db, table); got != want {
				t.Errorf("%s rows = %d after failed writes, want %d", table, got, want)
			}
		}
		z, err := s.GetZone(ctx, "zone-a", false)
		if err != nil || z.Status != StatusDraft || z.Version != 1 {
			t.Fatalf("zone-a = %+v, %v; want the untouched draft at version 1", z, err)
		}
	})
}

func TestStoreJSONColumnsRoundTrip(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		if _, err := s.CreateZone(ctx, "alice", testZone("zone-a")); err != nil {
			t.Fatalf("create zone: %v", err)
		}

		in := testService("svc-a", "zone-a")
		in.Name = Text{ZH: `引号'与"反斜杠\和%下划线_`, EN: "it's"}
		in.Keywords = []string{"甲", "乙"}
		in.Channels = []Channel{ChannelAlipay, ChannelH5}
		out, err := s.CreateService(ctx, "alice", in)
		if err != nil {
			t.Fatalf("create service: %v", err)
		}
		got, err := s.GetService(ctx, "svc-a", false)
		if err != nil {
			t.Fatalf("get service: %v", err)
		}
		if got.Name != in.Name || !slices.Equal(got.Keywords, in.Keywords) ||
			!slices.Equal(got.Channels, in.Channels) || !slices.Equal(got.Zones, []string{"zone-a"}) {
			t.Fatalf("service read back as %+v, want %+v", got, out)
		}

		start := time.Date(2027, 1, 22, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
		tpl := Template{
			ID: "tpl-a", Theme: "spring_festival", Name: Text{ZH: "春节"}, StartAt: &start,
			Body: json.RawMessage(`{"schema_version":1,"theme":{"primary_color":"#C8102E"}}`),
		}
		if _, err := s.CreateTemplate(ctx, "alice", tpl); err != nil {
			t.Fatalf("create template: %v", err)
		}
		gotTpl, err := s.GetTemplate(ctx, "tpl-a")
		if err != nil {
			t.Fatalf("get template: %v", err)
		}
		if gotTpl.StartAt == nil || !gotTpl.StartAt.Equal(start) || gotTpl.StartAt.Location() != time.UTC || gotTpl.EndAt != nil {
			t.Fatalf("template window = %v..%v, want %v (UTC)..nil", gotTpl.StartAt, gotTpl.EndAt, start)
		}
		var body map[string]any
		if err := json.Unmarshal(gotTpl.Body, &body); err != nil || body["schema_version"] != float64(1) {
			t.Fatalf("template body = %s (%v)", gotTpl.Body, err)
		}
	})
}

func TestStoreServiceLinks(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		for _, id := range []string{"zone-a", "zone-b"} {
			if _, err := s.CreateZone(ctx, "alice", testZone(id)); err != nil {
				t.Fatalf("create zone: %v", err)
			}
		}
		for _, id := range []string{"svc-1", "svc-2", "svc-3"} {
			if _, err := s.CreateService(ctx, "alice", testService(id, "zone-a")); err != nil {
				t.Fatalf("create %s: %v", id, err)
			}
		}
		ids, _ := s.ZoneServiceIDs(ctx, "zone-a")
		if want := []string{"svc-1", "svc-2", "svc-3"}; !slices.Equal(ids, want) {
			t.Fatalf("zone-a services = %v, want %v in creation order", ids, want)
		}

		_, err := s.CreateService(ctx, "alice", testService("svc-4", "zone-a", "no-such-zone"))
		e := expectCode(t, err, httpx.CodeInvalidRequest)
		if len(e.Details) != 1 || e.Details[0].Path != "/zones/1" || e.Details[0].Reason != "not_found" {
			t.Fatalf("details = %+v, want /zones/1 not_found", e.Details)
		}

		// Each of the three services attached bumped the zone: version 4.
		z, err := s.SetZoneServices(ctx, "alice", "zone-a", 4, []string{"svc-3", "svc-1"})
		if err != nil {
			t.Fatalf("reorder: %v", err)
		}
		ids, _ = s.ZoneServiceIDs(ctx, "zone-a")
		if want := []string{"svc-3", "svc-1"}; !slices.Equal(ids, want) || z.Version != 5 {
			t.Fatalf("after reorder services = %v, version %d; want %v, 5", ids, z.Version, want)
		}

		svc, _ := s.GetService(ctx, "svc-2", false)
		svc.Zones = []string{"zone-b", "zone-a"}
		if _, err := s.UpdateService(ctx, "alice", svc); err != nil {
			t.Fatalf("update svc-2: %v", err)
		}
		ids, _ = s.ZoneServiceIDs(ctx, "zone-a")
		if want := []string{"svc-3", "svc-1", "svc-2"}; !slices.Equal(ids, want) {
			t.Fatalf("zone-a services = %v, want %v: a re-attached service goes last", ids, want)
		}
		got, _ := s.GetService(ctx, "svc-2", false)
		if want := []string{"zone-a", "zone-b"}; !slices.Equal(got.Zones, want) {
			t.Fatalf("svc-2 zones = %v, want %v in zone display order", got.Zones, want)
		}
	})
}

func TestStoreDeleteInUse(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		if _, err := s.CreateZone(ctx, "alice", testZone("zone-a")); err != nil {
			t.Fatalf("create zone: %v", err)
		}
		if _, err := s.CreateService(ctx, "alice", testService("svc-1", "zone-a")); err != nil {
			t.Fatalf("create service: %v", err)
		}
		item := Item{ID: "item-a", ZoneID: "zone-a", Name: Text{ZH: "一件事"}, Services: []string{"svc-1"}}
		if _, err := s.CreateItem(ctx, "alice", item); err != nil {
			t.Fatalf("create item: %v", err)
		}

		// Attaching svc-1 bumped zone-a to version 2.
		expectCode(t, s.DeleteZone(ctx, "alice", "zone-a", 2), CodeZoneInUse)
		expectCode(t, s.DeleteService(ctx, "alice", "svc-1", 1), CodeServiceInUse)

		if err := s.DeleteItem(ctx, "alice", "item-a", 1); err != nil {
			t.Fatalf("delete item: %v", err)
		}
		if err := s.DeleteService(ctx, "alice", "svc-1", 1); err != nil {
			t.Fatalf("delete service: %v", err)
		}
		// Deleting svc-1 removed it from zone-a's list: version 3.
		if err := s.DeleteZone(ctx, "alice", "zone-a", 3); err != nil {
			t.Fatalf("delete zone: %v", err)
		}
		for _, table := range []string{"zone_service_links", "zone_service_search", "zone_item_services"} {
			if n := countRows(t, db, table); n != 0 {
				t.Errorf("%s has %d rows after deleting everything, want 0", table, n)
			}
		}
	})
}

func TestSeedIdempotent(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if err := Migrate(ctx, db); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		first, err := NewStore(db, nil).Seed(ctx, seed.FS)
		if err != nil {
			t.Fatalf("first seed: %v", err)
		}
		if first.Zones < 15 || first.Services < 20 || first.Items < 15 || first.Pages != first.Zones {
			t.Fatalf("first seed inserted %+v; want at least 15 zones, 20 services, 15 items and a page per zone", first)
		}

		tables := []string{"zones", "zone_services", "zone_service_links", "zone_items", "zone_item_services",
			"zone_templates", "zone_pages", "zone_page_versions", "zone_oplog", "zone_service_search"}
		counts := map[string]int{}
		for _, table := range tables {
			counts[table] = countRows(t, db, table)
		}

		// An operator edit must survive a second seed run.
		s := NewStore(db, nil)
		z, err := s.GetZone(ctx, "life-marriage", false)
		if err != nil {
			t.Fatalf("get seeded zone: %v", err)
		}
		if z.Status != StatusPublished || z.Version != 1 {
			t.Fatalf("seeded zone = %s version %d, want published version 1", z.Status, z.Version)
		}
		z.Name = Text{ZH: "婚育（运营修改）", EN: "Edited"}
		if _, err := s.UpdateZone(ctx, "operator", z); err != nil {
			t.Fatalf("edit: %v", err)
		}
		counts["zone_oplog"]++

		second, err := NewStore(db, nil).Seed(ctx, seed.FS)
		if err != nil {
			t.Fatalf("second seed: %v", err)
		}
		third, err := Seed(ctx, db)
		if err != nil || third != (SeedResult{}) {
			t.Fatalf("third seed through the package function inserted %+v (%v), want nothing", third, err)
		}
		if second != (SeedResult{}) {
			t.Fatalf("second seed inserted %+v, want nothing", second)
		}
		for _, table := range tables {
			if got := countRows(t, db, table); got != counts[table] {
				t.Errorf("%s rows = %d after the second seed, want %d", table, got, counts[table])
			}
		}
		z, _ = s.GetZone(ctx, "life-marriage", false)
		if z.Name.ZH != "婚育（运营修改）" || z.Version != 2 {
			t.Fatalf("edited zone after reseed = %q version %d, want the operator's edit at version 2", z.Name.ZH, z.Version)
		}

		ops := opsFor(t, s, EntityPage, "life-marriage")
		if len(ops) != 1 || ops[0].Actor != ActorSeed || ops[0].Action != ActionPagePublish {
			t.Fatalf("page oplog = %+v, want one page_publish by seed", ops)
		}
		live, err := s.LivePage(ctx, "life-marriage")
		if err != nil || live.Version != 1 {
			t.Fatalf("live page = version %d (%v), want 1", live.Version, err)
		}
	})
}

func TestStorePageVersions(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		if _, err := s.CreateZone(ctx, "alice", testZone("zone-a")); err != nil {
			t.Fatalf("create zone: %v", err)
		}
		_, err := s.LivePage(ctx, "zone-a")
		expectCode(t, err, CodePageNotFound)
		_, err = s.PublishPage(ctx, "alice", "zone-a", 1)
		expectCode(t, err, CodePageNotFound)

		docV1 := json.RawMessage(`{"schema_version":1,"title":{"zh":"一"},"body":{"type":"page","id":"root"}}`)
		docV2 := json.RawMessage(`{"schema_version":1,"title":{"zh":"二"},"body":{"type":"page","id":"root"}}`)
		_, err = s.SavePageDraft(ctx, "alice", "zone-a", docV1, 3)
		expectCode(t, err, httpx.CodeVersionConflict)
		d, err := s.SavePageDraft(ctx, "alice", "zone-a", docV1, 0)
		if err != nil || d.Version != 1 {
			t.Fatalf("first save = version %d (%v), want 1", d.Version, err)
		}
		v1, err := s.PublishPage(ctx, "alice", "zone-a", 1)
		if err != nil || v1.Version != 1 || v1.DraftVersion != 2 {
			t.Fatalf("publish 1 = %+v (%v), want version 1 with draft version 2", v1, err)
		}
		_, err = s.SavePageDraft(ctx, "alice", "zone-a", docV2, 1)
		expectCode(t, err, httpx.CodeVersionConflict)
		if d, err = s.SavePageDraft(ctx, "alice", "zone-a", docV2, 2); err != nil || d.PublishedVersion != 1 || d.Version != 3 {
			t.Fatalf("second save = %+v (%v), want draft version 3, published version 1", d, err)
		}
		_, err = s.PublishPage(ctx, "alice", "zone-a", 1)
		expectCode(t, err, httpx.CodeVersionConflict)
		if _, err := s.PublishPage(ctx, "alice", "zone-a", 3); err != nil {
			t.Fatalf("publish 2: %v", err)
		}

		_, err = s.RollbackPage(ctx, "alice", "zone-a", 4, 9)
		expectCode(t, err, CodePageVersionNotFound)
		_, err = s.RollbackPage(ctx, "alice", "zone-a", 3, 1)
		expectCode(t, err, httpx.CodeVersionConflict)
		v3, err := s.RollbackPage(ctx, "bob", "zone-a", 4, 1)
		if err != nil {
			t.Fatalf("rollback: %v", err)
		}
		if v3.Version != 3 || v3.SourceVersion != 1 || v3.PublishedBy != "bob" || v3.DraftVersion != 5 {
			t.Fatalf("rollback version = %+v, want version 3 from 1 by bob, draft version 5", v3)
		}
		live, _ := s.LivePage(ctx, "zone-a")
		if string(live.Document) != string(docV1) {
			t.Fatalf("live document = %s, want version 1's", live.Document)
		}
		draft, _ := s.GetPageDraft(ctx, "zone-a")
		if string(draft.Document) != string(docV1) || draft.Version != 5 {
			t.Fatalf("draft after rollback = version %d %s, want version 5 with version 1's document", draft.Version, draft.Document)
		}

		list, total, err := s.ListPageVersions(ctx, "zone-a", Paging{Number: 1, Size: 10})
		if err != nil || total != 3 || len(list) != 3 || list[0].Version != 3 || list[2].Version != 1 || list[0].Document != nil {
			t.Fatalf("versions = %+v, total %d (%v); want 3, 2, 1 without documents", list, total, err)
		}
	})
}

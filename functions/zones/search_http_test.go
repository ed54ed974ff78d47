package zones

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store"
	"github.com/jingtong/backend/shared/store/storetest"
)

// searchBody returns the decoded response of a search with the query
// string query, which must succeed.
func searchBody(t testing.TB, e *testEnv, query string) serviceListBody {
	t.Helper()
	w := e.get("/services/search?" + query)
	expectStatus(t, w, http.StatusOK)
	var list serviceListBody
	decodeBody(t, w, &list)
	return list
}

// TestSearchHTTPHidesDraftZone checks that public search does not show a
// draft zone that an operator attached a seeded service to.
func TestSearchHTTPHidesDraftZone(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones",
			map[string]any{"id": "draft-secret", "kind": "life", "name": map[string]string{"zh": "秘密筹备专区"}}), http.StatusCreated)
		expectStatus(t, e.admin(http.MethodPut, "/admin/zones/draft-secret/services",
			map[string]any{"version": 1, "services": []string{"marriage-registration-booking"}}), http.StatusOK)
		expectError(t, e.get("/zones/draft-secret/services"), http.StatusNotFound, "ZONE_NOT_FOUND")

		for _, q := range []string{"秘密筹备", "mmcb", "mimichoubei"} {
			if list := searchBody(t, e, "q="+url.QueryEscape(q)); list.Total != 0 || len(list.Data) != 0 {
				t.Errorf("search %q = %d results %+v, want none: the zone is a draft", q, list.Total, list.Data)
			}
		}

		unknown := e.get("/services/search?q=hun&zone=no-such-zone")
		draft := e.get("/services/search?q=hun&zone=draft-secret")
		expectStatus(t, unknown, http.StatusOK)
		if draft.Code != unknown.Code || draft.Body.String() != unknown.Body.String() {
			t.Errorf("search in the draft zone = %d %s, want what an unknown zone gives: %d %s",
				draft.Code, draft.Body.String(), unknown.Code, unknown.Body.String())
		}

		for _, v := range searchBody(t, e, "q=hun&page_size=100").Data {
			if slices.Contains(v.Zones, "draft-secret") {
				t.Errorf("search hun lists %s with zones %v, want no draft zone", v.ID, v.Zones)
			}
		}

		// Once published, the zone is public and search finds it.
		z := e.admin(http.MethodPost, "/admin/zones/draft-secret/publish", map[string]any{"version": 2})
		expectStatus(t, z, http.StatusOK)
		list := searchBody(t, e, "q=mmcb")
		if len(list.Data) != 1 || list.Data[0].ID != "marriage-registration-booking" ||
			!slices.Contains(list.Data[0].Zones, "draft-secret") {
			t.Errorf("search mmcb after publishing = %+v, want marriage-registration-booking in draft-secret", list.Data)
		}
	})
}

// TestSearchHTTPZoneChannel checks search against the zone routes for a
// zone that is not shown on Baidu.
func TestSearchHTTPZoneChannel(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		expectError(t, e.get("/zones/foreigner/services?channel=baidu"), http.StatusNotFound, "ZONE_NOT_FOUND")

		if list := searchBody(t, e, "q=work&zone=foreigner&channel=baidu"); list.Total != 0 || len(list.Data) != 0 {
			t.Errorf("search in foreigner on baidu = %+v, want none: the zone is not shown on Baidu", list.Data)
		}
		if list := searchBody(t, e, "q=work&zone=foreigner&channel=wechat"); len(list.Data) == 0 {
			t.Errorf("search in foreigner on wechat found nothing, want foreigner-work-permit")
		}

		found := false
		for _, v := range searchBody(t, e, "q=work&channel=baidu&page_size=100").Data {
			if slices.Contains(v.Zones, "foreigner") {
				t.Errorf("search on baidu lists %s with zones %v, want no foreigner zone", v.ID, v.Zones)
			}
			if v.ID == "foreigner-work-permit" {
				found = true
				if !slices.Equal(v.Zones, []string{"business-hiring"}) {
					t.Errorf("zones of foreigner-work-permit on baidu = %v, want [business-hiring]", v.Zones)
				}
			}
		}
		if !found {
			t.Errorf("search work on baidu misses foreigner-work-permit, which every channel offers")
		}
		for _, v := range searchBody(t, e, "q=work&channel=wechat&page_size=100").Data {
			if v.ID == "foreigner-work-permit" && !slices.Contains(v.Zones, "foreigner") {
				t.Errorf("zones of foreigner-work-permit on wechat = %v, want foreigner among them", v.Zones)
			}
		}
	})
}

// TestMigrateReindexesZoneNames starts from a database at migration 0002
// whose search row contains the name of a draft zone, as the index of
// earlier releases did. Migrating must leave the name out.
func TestMigrateReindexesZoneNames(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if err := store.Migrate(ctx, db, "zones", migrations[:2]); err != nil {
			t.Fatalf("migrate to 0002: %v", err)
		}
		now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		meta := func(st Status) rowMeta { return rowMeta{Status: st, Version: 1, CreatedAt: now, UpdatedAt: now} }
		zones := []zoneRow{
			{ID: "zone-open", Kind: KindLife, SortOrder: 1, Name: Text{ZH: "婚育"}, Channels: []Channel{}, rowMeta: meta(StatusPublished)},
			{ID: "draft-secret", Kind: KindLife, SortOrder: 2, Name: Text{ZH: "秘密筹备专区"}, Channels: []Channel{}, rowMeta: meta(StatusDraft)},
		}
		svc := &serviceRow{ID: "wedding", Type: ServiceH5, Name: Text{ZH: "结婚登记预约"}, URL: "/h5/wedding",
			Channels: []Channel{}, Licences: []string{}, Prefill: []string{}, Keywords: []string{}, rowMeta: meta(StatusPublished)}
		links := []linkRow{{ZoneID: "zone-open", ServiceID: "wedding", Position: 1}, {ZoneID: "draft-secret", ServiceID: "wedding", Position: 1}}
		stale := &searchRow{ServiceID: "wedding", Name: "结婚登记预约", NamePinyin: "jiehundengjiyuyue", NameInitials: "jhdjyy",
			Terms:    "|结婚登记预约|婚育|秘密筹备专区|",
			Pinyin:   "|jiehundengjiyuyue|hunyu|yu|mimichoubeizhuanqu|michoubeizhuanqu|choubeizhuanqu|beizhuanqu|zhuanqu|qu|",
			Initials: "|jhdjyy|hy|y|mmcbzq|mcbzq|cbzq|bzq|zq|q|", UpdatedAt: now}
		for _, m := range []any{&zones, svc, &links, stale} {
			if _, err := db.NewInsert().Model(m).Exec(ctx); err != nil {
				t.Fatalf("insert %T: %v", m, err)
			}
		}

		s := newTestStore(t, db) // applies the remaining migrations
		for _, q := range []string{"秘密筹备", "mmcb", "choubei"} {
			if ids := searchIDs(t, s, q, SearchFilter{}); len(ids) != 0 {
				t.Errorf("search %q after migrating = %v, want nothing: the zone is a draft", q, ids)
			}
		}
		for _, q := range []string{"婚育", "hy", "jhdj"} {
			if ids := searchIDs(t, s, q, SearchFilter{}); !slices.Equal(ids, []string{"wedding"}) {
				t.Errorf("search %q after migrating = %v, want [wedding]", q, ids)
			}
		}
	})
}

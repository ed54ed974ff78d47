package zones

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
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

// TestSearchHTTPNormalisesQuery checks the search route with queries typed
// with full-width characters, the ideographic space or spaces between
// Chinese characters: each finds what its plain form finds. A query without
// a letter or digit gets a detail that names that problem.
func TestSearchHTTPNormalisesQuery(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		ids := func(q string) (int, []string) {
			t.Helper()
			list := searchBody(t, e, "page_size=100&q="+url.QueryEscape(q))
			var out []string
			for _, v := range list.Data {
				out = append(out, v.ID)
			}
			return list.Total, out
		}

		for _, tt := range []struct{ q, like string }{
			{"ｈｕｎｙｕ", "hunyu"},
			{"婚 育", "婚育"},
			{"进 京 证", "进京证"},
			{"１２３４５", "12345"},
			{"婚\u3000育", "婚育"},
			{"ｈｕｎ\u3000ｙｕ", "hunyu"},
			{"ＨｕｎＹｕ", "HunYu"},
			{"hun yu", "hunyu"},
			{"e 窗通", "e窗通"},
			{"ｗｏｒｋ\u3000ｐｅｒｍｉｔ", "work permit"},
		} {
			wantTotal, want := ids(tt.like)
			if wantTotal == 0 {
				t.Fatalf("search %q found nothing; the seeded catalogue should match it", tt.like)
			}
			if total, got := ids(tt.q); total != wantTotal || !slices.Equal(got, want) {
				t.Errorf("search %q = %d %v, want %d %v as for %q", tt.q, total, got, wantTotal, want, tt.like)
			}
		}

		// The 64-character limit counts the query as sent.
		for _, q := range []string{strings.Repeat("ａ", maxQueryRunes), strings.Repeat("婚 ", maxQueryRunes/2)} {
			expectStatus(t, e.get("/services/search?q="+url.QueryEscape(q)), http.StatusOK)
		}

		for _, tt := range []struct {
			q, reason, zh, en string
		}{
			{"|", "invalid_format", "不含可搜索的字符", "has no searchable characters"},
			{"｜", "invalid_format", "不含可搜索的字符", "has no searchable characters"},
			{" ", "invalid_format", "不含可搜索的字符", "has no searchable characters"},
			{"\u3000", "invalid_format", "不含可搜索的字符", "has no searchable characters"},
			{"%", "invalid_format", "不含可搜索的字符", "has no searchable characters"},
			{"（，。）", "invalid_format", "不含可搜索的字符", "has no searchable characters"},
			{"", "required", "必填", "is required"},
			{"婚\x00育", "invalid_format", "无效的 UTF-8", "invalid UTF-8"},
			{"\xff", "invalid_format", "无效的 UTF-8", "invalid UTF-8"},
			{strings.Repeat("ａ", maxQueryRunes+1), "too_long", "最多 64 个字符，当前 65 个", "at most 64 characters, got 65"},
			{strings.Repeat(" ", maxQueryRunes+1), "too_long", "最多 64 个字符", "at most 64 characters"},
		} {
			for _, lang := range []string{"zh", "en"} {
				b := expectError(t, e.get("/services/search?lang="+lang+"&q="+url.QueryEscape(tt.q)),
					http.StatusBadRequest, "INVALID_REQUEST")
				want := tt.zh
				if lang == "en" {
					want = tt.en
				}
				if len(b.Error.Details) != 1 {
					t.Errorf("search %q in %s: details %+v, want one", tt.q, lang, b.Error.Details)
					continue
				}
				d := b.Error.Details[0]
				if d.Path != "q" || d.Reason != tt.reason {
					t.Errorf("search %q in %s: detail %s %s, want q %s", tt.q, lang, d.Path, d.Reason, tt.reason)
				}
				if !strings.Contains(d.Message, want) {
					t.Errorf("search %q in %s: message %q, want it to contain %q", tt.q, lang, d.Message, want)
				}
			}
		}
		b := expectError(t, e.get("/services/search"), http.StatusBadRequest, "INVALID_REQUEST")
		if len(b.Error.Details) != 1 || b.Error.Details[0].Reason != "required" {
			t.Errorf("search without q: details %+v, want one required", b.Error.Details)
		}
	})
}

// TestMigrateNormalisesSearchTerms starts from a database at migration 0003
// whose search row contains terms as earlier releases wrote them, with
// full-width characters and spaces next to Chinese characters. Normalised
// queries do not match such rows, so migrating must rebuild them.
func TestMigrateNormalisesSearchTerms(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if err := store.Migrate(ctx, db, "zones", migrations[:3]); err != nil {
			t.Fatalf("migrate to 0003: %v", err)
		}
		now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		meta := rowMeta{Status: StatusPublished, Version: 1, CreatedAt: now, UpdatedAt: now}
		svc := &serviceRow{ID: "etc-apply", Type: ServiceH5, Name: Text{ZH: "ETC 办理（高速）", EN: "ETC application"},
			URL: "/h5/etc-apply", Channels: []Channel{}, Licences: []string{}, Prefill: []string{},
			Keywords: []string{"１２３４５ 热线"}, rowMeta: meta}
		stale := &searchRow{ServiceID: "etc-apply", Name: "etc 办理（高速）", NameEN: "etc application",
			NamePinyin: "etcbanligaosu", NameInitials: "eblgs",
			Terms:    "|etc 办理（高速）|etc application|１２３４５ 热线|",
			Pinyin:   "|etcbanligaosu|banligaosu|ligaosu|gaosu|su|rexian|xian|",
			Initials: "|eblgs|blgs|lgs|gs|s|rx|x|", UpdatedAt: now}
		for _, m := range []any{svc, stale} {
			if _, err := db.NewInsert().Model(m).Exec(ctx); err != nil {
				t.Fatalf("insert %T: %v", m, err)
			}
		}

		s := newTestStore(t, db) // applies the remaining migrations
		for _, q := range []string{"ETC 办理", "etc办理", "办理（高速）", "办理(高速)", "１２３４５ 热线", "12345热线",
			"12345rexian", "etc application", "ebl", "gaosu"} {
			if ids := searchIDs(t, s, q, SearchFilter{}); !slices.Equal(ids, []string{"etc-apply"}) {
				t.Errorf("search %q after migrating = %v, want [etc-apply]", q, ids)
			}
		}
		// The indexed name is in the normalised form, which a query for the
		// whole name must equal to rank first.
		var row searchRow
		if err := db.NewSelect().Model(&row).Where("service_id = ?", "etc-apply").Scan(ctx); err != nil {
			t.Fatalf("read search row: %v", err)
		}
		if row.Name != parseSearchQuery("ETC 办理（高速）").Text {
			t.Errorf("indexed name = %q, want the normalised query %q", row.Name, parseSearchQuery("ETC 办理（高速）").Text)
		}
	})
}

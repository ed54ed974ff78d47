package zones

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store/storetest"
)

type zoneListBody struct {
	Data     []zoneView `json:"data"`
	Page     int        `json:"page"`
	PageSize int        `json:"page_size"`
	Total    int        `json:"total"`
	Lang     string     `json:"lang"`
}

type serviceListBody struct {
	Data  []serviceView `json:"data"`
	Total int           `json:"total"`
	Lang  string        `json:"lang"`
}

func TestListZonesByKindAndChannel(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)

		w := e.get("/zones?kind=life&page_size=100")
		expectStatus(t, w, http.StatusOK)
		var life zoneListBody
		decodeBody(t, w, &life)
		if life.Total < 10 || len(life.Data) != life.Total || life.Lang != "zh" {
			t.Fatalf("life zones: total %d, %d on the page, lang %q; want at least 10, all, zh", life.Total, len(life.Data), life.Lang)
		}
		for i, z := range life.Data {
			if z.Kind != KindLife {
				t.Errorf("zone %s has kind %s in a kind=life list", z.ID, z.Kind)
			}
			if i > 0 && z.Order < life.Data[i-1].Order {
				t.Errorf("zone %s (order %d) listed after order %d", z.ID, z.Order, life.Data[i-1].Order)
			}
		}
		if life.Data[0].ID != "life-marriage" || life.Data[0].Name != "婚育" {
			t.Fatalf("first life zone = %s %q, want life-marriage 婚育", life.Data[0].ID, life.Data[0].Name)
		}

		for _, req := range []request{
			{method: http.MethodGet, path: "/zones?kind=life&lang=en"},
			{method: http.MethodGet, path: "/zones?kind=life", headers: map[string]string{"Accept-Language": "en-US,en;q=0.9"}},
		} {
			w := e.do(req)
			var en zoneListBody
			decodeBody(t, w, &en)
			if en.Lang != "en" || en.Data[0].Name != "Marriage and Childbirth" {
				t.Errorf("%s %v: lang %q, first name %q; want en, Marriage and Childbirth", req.path, req.headers, en.Lang, en.Data[0].Name)
			}
		}

		// The foreigner edition is on WeChat and Alipay only.
		for ch, want := range map[string]bool{"wechat": true, "alipay": true, "baidu": false, "h5": false} {
			var list zoneListBody
			decodeBody(t, e.get("/zones?kind=foreigner&channel="+ch), &list)
			found := len(list.Data) == 1 && list.Data[0].ID == "foreigner"
			if found != want {
				t.Errorf("foreigner zone listed on %s = %v, want %v", ch, found, want)
			}
		}
		var baidu zoneListBody
		decodeBody(t, e.get("/zones?channel=baidu&page_size=100"), &baidu)
		var all zoneListBody
		decodeBody(t, e.get("/zones?page_size=100"), &all)
		if baidu.Total != all.Total-1 {
			t.Errorf("zones on baidu = %d, want %d (all but the foreigner zone)", baidu.Total, all.Total-1)
		}

		var page2 zoneListBody
		decodeBody(t, e.get("/zones?kind=life&page=2&page_size=3"), &page2)
		if page2.Page != 2 || page2.PageSize != 3 || page2.Total != life.Total || len(page2.Data) != 3 || page2.Data[0].ID != life.Data[3].ID {
			t.Fatalf("page 2 of 3 = %+v, want zones 4 to 6 of %d", page2, life.Total)
		}

		for _, path := range []string{"/zones?kind=cinema", "/zones?channel=tiktok", "/zones?page_size=101", "/zones?page=0", "/zones?page=x"} {
			body := expectError(t, e.get(path), http.StatusBadRequest, "INVALID_REQUEST")
			param := strings.SplitN(strings.TrimPrefix(path, "/zones?"), "=", 2)[0]
			if paths := detailPaths(body); !slices.Equal(paths, []string{param}) {
				t.Errorf("%s: detail paths %v, want [%s]", path, paths, param)
			}
		}
	})
}

func TestGetZoneAndServices(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)

		var z zoneResponse
		w := e.get("/zones/life-marriage?lang=en")
		expectStatus(t, w, http.StatusOK)
		decodeBody(t, w, &z)
		if z.ID != "life-marriage" || z.Name != "Marriage and Childbirth" || z.Lang != "en" {
			t.Fatalf("zone = %+v", z)
		}

		body := expectError(t, e.do(request{method: http.MethodGet, path: "/zones/no-such-zone", headers: map[string]string{"Accept-Language": "en"}}),
			http.StatusNotFound, "ZONE_NOT_FOUND")
		if !strings.Contains(body.Error.Message, `zone "no-such-zone" not found`) {
			t.Fatalf("message = %q, want the English not-found message", body.Error.Message)
		}

		var services serviceListBody
		decodeBody(t, e.get("/zones/life-marriage/services?channel=alipay"), &services)
		ids, err := e.srv.store.ZoneServiceIDs(t.Context(), "life-marriage")
		if err != nil {
			t.Fatalf("zone service ids: %v", err)
		}
		if len(services.Data) == 0 || services.Data[0].ID != ids[0] {
			t.Fatalf("services of life-marriage start with %v, want %s first", services.Data, ids[0])
		}
		expectError(t, e.get("/zones/life-marriage/services?channel=fax"), http.StatusBadRequest, "INVALID_REQUEST")
		expectError(t, e.get("/zones/no-such-zone/services"), http.StatusNotFound, "ZONE_NOT_FOUND")
	})
}

func TestSearchHTTP(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)

		for _, q := range []string{"hunyu", "hy", "婚育"} {
			var list serviceListBody
			decodeBody(t, e.get("/services/search?q="+url.QueryEscape(q)), &list)
			found := false
			for _, v := range list.Data {
				found = found || v.ID == "marriage-registration-booking"
			}
			if !found || list.Total < len(list.Data) {
				t.Errorf("search %q: %d of %d results, marriage-registration-booking found %v", q, len(list.Data), list.Total, found)
			}
		}
		for _, q := range []string{"jjz", "进京证"} {
			var list serviceListBody
			decodeBody(t, e.get("/services/search?q="+url.QueryEscape(q)+"&lang=en"), &list)
			if len(list.Data) == 0 || list.Data[0].ID != "beijing-entry-permit" || list.Lang != "en" {
				t.Errorf("search %q = %+v, want beijing-entry-permit first, in English", q, list.Data)
			}
		}

		var paged serviceListBody
		decodeBody(t, e.get("/services/search?q=hy&page_size=2&page=1"), &paged)
		if len(paged.Data) != 2 || paged.Total <= 2 {
			t.Fatalf("search hy page 1 of size 2: %d results of %d, want 2 of more", len(paged.Data), paged.Total)
		}

		expectError(t, e.get("/services/search"), http.StatusBadRequest, "INVALID_REQUEST")
		expectError(t, e.get("/services/search?q=hy&zone=NOT%20A%20SLUG"), http.StatusBadRequest, "INVALID_REQUEST")
		expectError(t, e.get("/services/search?q="+strings.Repeat("婚", 65)), http.StatusBadRequest, "INVALID_REQUEST")
	})
}

func TestGetService(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		var v serviceResponse
		w := e.get("/services/beijing-entry-permit")
		expectStatus(t, w, http.StatusOK)
		decodeBody(t, w, &v)
		if v.Name != "机动车进京通行证办理" || v.URL != "/h5/beijing-entry-permit" || !slices.Contains(v.Zones, "cross-province") {
			t.Fatalf("service = %+v", v)
		}
		expectError(t, e.get("/services/no-such-service"), http.StatusNotFound, "SERVICE_NOT_FOUND")
	})
}

func TestItemGuide(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)

		var zh, en itemResponse
		decodeBody(t, e.get("/items/one-thing-newborn"), &zh)
		decodeBody(t, e.get("/items/one-thing-newborn?lang=en"), &en)
		if zh.Guide == nil || en.Guide == nil {
			t.Fatalf("item detail without a guide: %+v", zh)
		}
		g := zh.Guide
		if len(g.Situations) == 0 || len(g.Materials) == 0 || len(g.Policies) == 0 || len(g.Notes) == 0 || len(g.Steps) == 0 {
			t.Fatalf("guide = %+v, want situations, materials, policies, notes and steps", g)
		}
		if zh.Name != "新生儿出生" || en.Name != "Newborn birth" || zh.Lang != "zh" || en.Lang != "en" {
			t.Fatalf("names = %q (%s), %q (%s)", zh.Name, zh.Lang, en.Name, en.Lang)
		}
		if g.Materials[0].Name == en.Guide.Materials[0].Name {
			t.Fatalf("material name %q is the same in both languages", g.Materials[0].Name)
		}
		if len(zh.Services) == 0 || zh.Services[0].ID != "birth-medical-certificate" {
			t.Fatalf("bundled services = %+v", zh.Services)
		}

		var list struct {
			Data  []itemView `json:"data"`
			Total int        `json:"total"`
		}
		decodeBody(t, e.get("/items?zone=one-thing&page_size=100"), &list)
		if list.Total < 15 || len(list.Data) != list.Total {
			t.Fatalf("one-thing items: %d listed of %d, want at least 15", len(list.Data), list.Total)
		}
		for _, it := range list.Data {
			if it.Guide != nil || it.ZoneID != "one-thing" {
				t.Errorf("listed item %s: zone %s, guide present %v; want one-thing without guide", it.ID, it.ZoneID, it.Guide != nil)
			}
		}
		expectError(t, e.get("/items/no-such-item"), http.StatusNotFound, "ITEM_NOT_FOUND")
	})
}

func TestETagNotModified(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)

		for _, path := range []string{
			"/zones?kind=life",
			"/zones/life-marriage",
			"/zones/life-marriage/page?channel=wechat",
			"/services/search?q=hy",
			"/items/one-thing-newborn",
		} {
			w := e.get(path)
			expectStatus(t, w, http.StatusOK)
			etag := w.Header().Get("ETag")
			if !strings.HasPrefix(etag, `"`) || len(etag) != 34 {
				t.Fatalf("%s: ETag %q, want a quoted 32-digit hash", path, etag)
			}
			if cc := w.Header().Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
				t.Errorf("%s: Cache-Control %q", path, cc)
			}
			if v := w.Header().Get("Vary"); v != "Accept-Language" {
				t.Errorf("%s: Vary %q, want Accept-Language", path, v)
			}

			for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
				nm := e.do(request{method: http.MethodGet, path: path, headers: map[string]string{"If-None-Match": inm}})
				if nm.Code != http.StatusNotModified || nm.Body.Len() != 0 || nm.Header().Get("ETag") != etag {
					t.Errorf("%s with If-None-Match %s: status %d, %d body bytes, ETag %q; want 304, empty, same ETag",
						path, inm, nm.Code, nm.Body.Len(), nm.Header().Get("ETag"))
				}
			}

			stale := e.do(request{method: http.MethodGet, path: path, headers: map[string]string{"If-None-Match": `"stale"`}})
			expectStatus(t, stale, http.StatusOK)
			en := e.do(request{method: http.MethodGet, path: path, headers: map[string]string{"Accept-Language": "en"}})
			if en.Header().Get("ETag") == etag {
				t.Errorf("%s: the English response has the Chinese ETag", path)
			}
		}
	})
}

func TestUnmatchedRoutes(t *testing.T) {
	e := newTestEnv(t, storetest.OpenSQLite(t))

	expectError(t, e.get("/no/such/path"), http.StatusNotFound, "NOT_FOUND")

	w := e.do(request{method: http.MethodDelete, path: "/zones"})
	expectError(t, w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	if allow := w.Header().Get("Allow"); allow != "GET, HEAD" {
		t.Fatalf("Allow = %q, want GET, HEAD", allow)
	}

	w = e.do(request{method: http.MethodPatch, path: "/admin/zones/life-marriage", admin: true})
	expectError(t, w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	if allow := w.Header().Get("Allow"); allow != "GET, HEAD, PUT, DELETE" {
		t.Fatalf("Allow = %q, want GET, HEAD, PUT, DELETE", allow)
	}

	w = e.get("/openapi.json")
	expectStatus(t, w, http.StatusOK)
	if !strings.Contains(w.Body.String(), `"openapi"`) {
		t.Fatalf("openapi.json body starts %q", w.Body.String()[:40])
	}
}

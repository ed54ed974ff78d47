package zones

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/store/storetest"
)

func zoneBody(id string) map[string]any {
	return map[string]any{
		"id": id, "kind": "business", "name": map[string]string{"zh": "人才服务", "en": "Talent services"},
		"description": map[string]string{"zh": "人才引进与认定"}, "icon": "talent", "order": 7,
		"channels": []string{"wechat", "alipay"},
	}
}

func TestAdminRequiresOperator(t *testing.T) {
	e := newTestEnv(t, storetest.OpenSQLite(t))
	routes := []struct{ method, path string }{
		{http.MethodGet, "/admin/zones"},
		{http.MethodPost, "/admin/zones"},
		{http.MethodGet, "/admin/zones/life-marriage"},
		{http.MethodPut, "/admin/zones/life-marriage"},
		{http.MethodDelete, "/admin/zones/life-marriage?version=1"},
		{http.MethodPost, "/admin/zones/life-marriage/publish"},
		{http.MethodPut, "/admin/zones/life-marriage/services"},
		{http.MethodGet, "/admin/zones/life-marriage/page"},
		{http.MethodPut, "/admin/zones/life-marriage/page"},
		{http.MethodGet, "/admin/zones/life-marriage/page/preview?channel=wechat"},
		{http.MethodPost, "/admin/zones/life-marriage/page/publish"},
		{http.MethodGet, "/admin/zones/life-marriage/page/versions"},
		{http.MethodPost, "/admin/zones/life-marriage/page/rollback"},
		{http.MethodGet, "/admin/services"},
		{http.MethodPost, "/admin/items"},
		{http.MethodPut, "/admin/templates/x1"},
		{http.MethodGet, "/admin/oplog"},
		{http.MethodPost, "/admin/search/refresh"},
	}
	for _, rt := range routes {
		for _, auth := range []string{"", "Bearer wrong-token", "Basic " + testToken, "Bearer " + testToken + "x"} {
			w := e.do(request{method: rt.method, path: rt.path, body: "{}", headers: map[string]string{"Authorization": auth}})
			expectError(t, w, http.StatusUnauthorized, "UNAUTHORIZED")
		}
	}
	if countRows(t, e.db, "zone_oplog") != 0 {
		t.Fatal("a rejected request wrote to the operation log")
	}
}

func TestAdminForbidsOtherIdentities(t *testing.T) {
	e := newTestEnv(t, storetest.OpenSQLite(t))
	r := httptest.NewRequest(http.MethodGet, "/admin/zones", nil)
	r = r.WithContext(auth.WithIdentity(r.Context(), &auth.Identity{Subject: "citizen-1"}))
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	expectError(t, w, http.StatusForbidden, "FORBIDDEN")
}

func TestLogsNeverContainToken(t *testing.T) {
	e := newTestEnv(t, storetest.OpenSQLite(t))
	expectStatus(t, e.admin(http.MethodGet, "/admin/zones", nil), http.StatusOK)
	expectError(t, e.admin(http.MethodGet, "/admin/zones/no-such-zone", nil), http.StatusNotFound, "ZONE_NOT_FOUND")
	e.srv.store.beforeCommit = func(context.Context, bun.Tx) error { return errors.New("injected") }
	expectError(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-a")), http.StatusInternalServerError, "INTERNAL")

	if e.logs.Len() == 0 {
		t.Fatal("nothing was logged")
	}
	if strings.Contains(e.logs.String(), testToken) || strings.Contains(e.logs.String(), "Bearer") {
		t.Fatalf("the log contains the operator token: %s", e.logs.String())
	}
}

func TestAdminWithoutTokenFile(t *testing.T) {
	db := storetest.OpenSQLite(t)
	e := newTestEnv(t, db, withVar("JT_OPERATOR_TOKEN_FILE", ""))
	expectError(t, e.admin(http.MethodGet, "/admin/zones", nil), http.StatusUnauthorized, "UNAUTHORIZED")

	e = newTestEnv(t, db, withVar("JT_OPERATOR_TOKEN_FILE", t.TempDir()+"/missing"))
	expectError(t, e.admin(http.MethodGet, "/admin/zones", nil), http.StatusUnauthorized, "UNAUTHORIZED")
	if strings.Contains(e.logs.String(), testToken) {
		t.Fatal("the log contains the operator token")
	}
}

func TestAdminZoneCRUD(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)

		w := e.admin(http.MethodPost, "/admin/zones", zoneBody("business-talent"))
		expectStatus(t, w, http.StatusCreated)
		var z Zone
		decodeBody(t, w, &z)
		if z.Version != 1 || z.Status != StatusDraft || z.Name.EN != "Talent services" {
			t.Fatalf("created = %+v", z)
		}
		expectError(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("business-talent")), http.StatusConflict, "ZONE_ALREADY_EXISTS")
		expectError(t, e.get("/zones/business-talent"), http.StatusNotFound, "ZONE_NOT_FOUND")

		var list struct {
			Data  []Zone `json:"data"`
			Total int    `json:"total"`
		}
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones?status=draft", nil), &list)
		if list.Total != 1 || list.Data[0].ID != "business-talent" {
			t.Fatalf("draft zones = %+v", list)
		}
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones?status=published", nil), &list)
		if list.Total != 0 {
			t.Fatalf("published zones = %+v, want none", list)
		}

		upd := zoneBody("business-talent")
		upd["name"] = map[string]string{"zh": "人才"}
		upd["version"] = 1
		w = e.admin(http.MethodPut, "/admin/zones/business-talent", upd)
		expectStatus(t, w, http.StatusOK)
		decodeBody(t, w, &z)
		if z.Version != 2 || z.Name.ZH != "人才" {
			t.Fatalf("updated = %+v", z)
		}

		// Stale version: someone else updated in between.
		body := expectError(t, e.admin(http.MethodPut, "/admin/zones/business-talent", upd), http.StatusConflict, "VERSION_CONFLICT")
		if !strings.Contains(body.Error.Message, "2") {
			t.Fatalf("conflict message %q does not name the current version", body.Error.Message)
		}
		expectError(t, e.admin(http.MethodPost, "/admin/zones/business-talent/publish", map[string]int{"version": 1}),
			http.StatusConflict, "VERSION_CONFLICT")

		w = e.admin(http.MethodPost, "/admin/zones/business-talent/publish", map[string]int{"version": 2})
		expectStatus(t, w, http.StatusOK)
		decodeBody(t, w, &z)
		if z.Status != StatusPublished || z.Version != 3 {
			t.Fatalf("published = %+v", z)
		}
		expectStatus(t, e.get("/zones/business-talent"), http.StatusOK)
		expectError(t, e.admin(http.MethodDelete, "/admin/zones/business-talent?version=3", nil), http.StatusConflict, "DELETE_PUBLISHED")

		w = e.admin(http.MethodPost, "/admin/zones/business-talent/unpublish", map[string]int{"version": 3})
		expectStatus(t, w, http.StatusOK)
		decodeBody(t, w, &z)
		expectError(t, e.get("/zones/business-talent"), http.StatusNotFound, "ZONE_NOT_FOUND")
		expectError(t, e.admin(http.MethodDelete, "/admin/zones/business-talent", nil), http.StatusBadRequest, "INVALID_REQUEST")
		expectStatus(t, e.admin(http.MethodDelete, "/admin/zones/business-talent?version=4", nil), http.StatusNoContent)
		expectError(t, e.admin(http.MethodGet, "/admin/zones/business-talent", nil), http.StatusNotFound, "ZONE_NOT_FOUND")

		var ops struct {
			Data []OpEntry `json:"data"`
		}
		decodeBody(t, e.admin(http.MethodGet, "/admin/oplog?entity_type=zone&entity_id=business-talent", nil), &ops)
		var actions []string
		for _, op := range ops.Data {
			actions = append(actions, op.Action)
			if op.Actor != "dev-operator" {
				t.Errorf("op %s actor = %q, want dev-operator", op.Action, op.Actor)
			}
		}
		if want := []string{"delete", "unpublish", "publish", "update", "create"}; !slices.Equal(actions, want) {
			t.Fatalf("oplog actions = %v, want %v", actions, want)
		}
		expectError(t, e.admin(http.MethodGet, "/admin/oplog?entity_type=planet", nil), http.StatusBadRequest, "INVALID_REQUEST")
	})
}

func TestAdminValidation(t *testing.T) {
	e := newTestEnv(t, storetest.OpenSQLite(t))

	bad := map[string]any{
		"id": "Bad_ID", "kind": "cinema", "name": map[string]string{"en": "No Chinese"},
		"icon": "http://example.com/a.png", "channels": []string{"wechat", "wechat", "tiktok"}, "order": -1,
	}
	body := expectError(t, e.admin(http.MethodPost, "/admin/zones", bad), http.StatusBadRequest, "INVALID_REQUEST")
	want := []string{"/id", "/kind", "/name/zh", "/icon", "/order", "/channels/1", "/channels/2"}
	if got := detailPaths(body); !slices.Equal(got, want) {
		t.Fatalf("detail paths = %v, want %v", got, want)
	}
	for _, d := range body.Error.Details {
		if d.Reason == "" || d.Message == "" {
			t.Errorf("detail %+v lacks a reason or message", d)
		}
	}

	svc := map[string]any{
		"id": "svc-x", "type": "h5", "name": map[string]string{"zh": strings.Repeat("长", 61)},
		"url": "http://insecure.example.com/", "badge": "COOL", "prefill": []string{"Ethnicity"},
		"zones": []string{"no-such-zone"},
	}
	body = expectError(t, e.admin(http.MethodPost, "/admin/services", svc), http.StatusBadRequest, "INVALID_REQUEST")
	want = []string{"/name/zh", "/badge", "/url", "/prefill/0"}
	if got := detailPaths(body); !slices.Equal(got, want) {
		t.Fatalf("service detail paths = %v, want %v", got, want)
	}

	svc = map[string]any{"id": "svc-x", "type": "api", "name": map[string]string{"zh": "接口"}, "endpoint": "GET /x", "zones": []string{"no-such-zone"}}
	body = expectError(t, e.admin(http.MethodPost, "/admin/services", svc), http.StatusBadRequest, "INVALID_REQUEST")
	if got := detailPaths(body); !slices.Equal(got, []string{"/zones/0"}) || body.Error.Details[0].Reason != "not_found" {
		t.Fatalf("unknown zone details = %+v", body.Error.Details)
	}

	body = expectError(t, e.admin(http.MethodPut, "/admin/zones/other-id", zoneBody("business-talent")), http.StatusBadRequest, "INVALID_REQUEST")
	if got := detailPaths(body); !slices.Equal(got, []string{"/id"}) {
		t.Fatalf("id mismatch details = %v", got)
	}
	body = expectError(t, e.admin(http.MethodPut, "/admin/zones/business-talent", zoneBody("business-talent")), http.StatusBadRequest, "INVALID_REQUEST")
	if got := detailPaths(body); !slices.Equal(got, []string{"/version"}) {
		t.Fatalf("missing version details = %v", got)
	}
	if got := body.Error.Details[0].Reason; got != "required" {
		t.Errorf("missing version reason = %q, want required", got)
	}
	negative := zoneBody("business-talent")
	negative["version"] = -1
	body = expectError(t, e.admin(http.MethodPut, "/admin/zones/business-talent", negative), http.StatusBadRequest, "INVALID_REQUEST")
	if got := detailPaths(body); !slices.Equal(got, []string{"/version"}) || body.Error.Details[0].Reason != "out_of_range" {
		t.Errorf("negative version details = %+v, want out_of_range at /version", body.Error.Details)
	}
	body = expectError(t, e.admin(http.MethodPost, "/admin/zones/business-talent/publish", map[string]int{"version": -2}), http.StatusBadRequest, "INVALID_REQUEST")
	if len(body.Error.Details) != 1 || body.Error.Details[0].Reason != "out_of_range" {
		t.Errorf("negative publish version details = %+v, want out_of_range", body.Error.Details)
	}
	for query, reason := range map[string]string{"-1": "out_of_range", "0": "out_of_range", "99999999999999999999": "out_of_range", "abc": "invalid_format"} {
		body = expectError(t, e.admin(http.MethodDelete, "/admin/zones/business-talent?version="+query, nil), http.StatusBadRequest, "INVALID_REQUEST")
		if len(body.Error.Details) != 1 || body.Error.Details[0].Reason != reason {
			t.Errorf("DELETE ?version=%s details = %+v, want %s", query, body.Error.Details, reason)
		}
	}

	item := map[string]any{
		"id": "item-x", "zone_id": "zone-x", "name": map[string]string{"zh": "一件事"},
		"guide": map[string]any{
			"situations":      []map[string]any{{"id": "s1", "name": map[string]string{"zh": "情形"}}},
			"materials":       []map[string]any{{"name": map[string]string{"zh": "材料"}, "situations": []string{"s2"}}},
			"steps":           []map[string]any{{"title": map[string]string{"en": "no zh"}}},
			"time_limit_days": 400,
		},
	}
	body = expectError(t, e.admin(http.MethodPost, "/admin/items", item), http.StatusBadRequest, "INVALID_REQUEST")
	want = []string{"/guide/materials/0/situations/0", "/guide/steps/0/title/zh", "/guide/time_limit_days"}
	if got := detailPaths(body); !slices.Equal(got, want) {
		t.Fatalf("item detail paths = %v, want %v", got, want)
	}
}

func TestAdminServiceItemTemplate(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-a")), http.StatusCreated)

		svc := map[string]any{
			"id": "svc-a", "type": "h5", "name": map[string]string{"zh": "进京证办理"}, "url": "/h5/svc-a",
			"keywords": []string{"进京证"}, "zones": []string{"zone-a"},
		}
		expectStatus(t, e.admin(http.MethodPost, "/admin/services", svc), http.StatusCreated)
		expectError(t, e.admin(http.MethodPost, "/admin/services", svc), http.StatusConflict, "SERVICE_ALREADY_EXISTS")
		expectStatus(t, e.admin(http.MethodPost, "/admin/services/svc-a/publish", map[string]int{"version": 1}), http.StatusOK)
		// Attaching svc-a changed the zone's service list: version 2.
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones/zone-a/publish", map[string]int{"version": 2}), http.StatusOK)

		var found serviceListBody
		decodeBody(t, e.get("/services/search?q=jjz"), &found)
		if len(found.Data) != 1 || found.Data[0].ID != "svc-a" {
			t.Fatalf("search jjz = %+v, want the new service", found.Data)
		}

		item := map[string]any{
			"id": "item-a", "zone_id": "zone-a", "name": map[string]string{"zh": "车辆进京"}, "services": []string{"svc-a"},
			"guide": map[string]any{"steps": []map[string]any{{"title": map[string]string{"zh": "在线申请"}}}},
		}
		expectStatus(t, e.admin(http.MethodPost, "/admin/items", item), http.StatusCreated)
		expectError(t, e.admin(http.MethodPost, "/admin/items", item), http.StatusConflict, "ITEM_ALREADY_EXISTS")
		expectError(t, e.get("/items/item-a"), http.StatusNotFound, "ITEM_NOT_FOUND")
		expectStatus(t, e.admin(http.MethodPost, "/admin/items/item-a/publish", map[string]int{"version": 1}), http.StatusOK)
		var it itemResponse
		decodeBody(t, e.get("/items/item-a"), &it)
		if it.Guide == nil || len(it.Guide.Steps) != 1 || len(it.Services) != 1 {
			t.Fatalf("published item = %+v", it)
		}
		expectError(t, e.admin(http.MethodDelete, "/admin/services/svc-a?version=2", nil), http.StatusConflict, "DELETE_PUBLISHED")

		tpl := map[string]any{
			"id": "tpl-a", "theme": "gaokao", "name": map[string]string{"zh": "高考"},
			"start_at": "2027-06-01T00:00:00+08:00", "end_at": "2027-06-11T00:00:00+08:00",
			"body": map[string]any{"schema_version": 1, "theme": map[string]string{"primary_color": "#123456"}},
		}
		w := e.admin(http.MethodPost, "/admin/templates", tpl)
		expectStatus(t, w, http.StatusCreated)
		var created Template
		decodeBody(t, w, &created)
		if created.StartAt == nil || created.StartAt.UTC().Hour() != 16 {
			t.Fatalf("template start = %v, want 2027-05-31T16:00Z", created.StartAt)
		}
		expectError(t, e.admin(http.MethodPost, "/admin/templates", tpl), http.StatusConflict, "TEMPLATE_ALREADY_EXISTS")
		expectError(t, e.admin(http.MethodGet, "/admin/templates/nope", nil), http.StatusNotFound, "TEMPLATE_NOT_FOUND")

		tpl["id"] = "tpl-b"
		tpl["body"] = map[string]any{"schema_version": 2}
		tpl["end_at"] = "2027-05-01T00:00:00+08:00"
		body := expectError(t, e.admin(http.MethodPost, "/admin/templates", tpl), http.StatusBadRequest, "INVALID_REQUEST")
		paths := detailPaths(body)
		if !slices.Contains(paths, "/end_at") || !slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, "/body") }) {
			t.Fatalf("template detail paths = %v, want /end_at and a /body problem", paths)
		}
	})
}

const validPage = `{"schema_version":1,"title":{"zh":"专区","en":"Zone"},"body":{"type":"page","id":"root","children":[
	{"type":"app_grid","id":"grid","props":{"columns":4,"services":["svc-a"]}}]}}`

func TestAdminPagePublishHistoryRollback(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-a")), http.StatusCreated)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones/zone-a/publish", map[string]int{"version": 1}), http.StatusOK)
		expectError(t, e.admin(http.MethodGet, "/admin/zones/zone-a/page", nil), http.StatusNotFound, "PAGE_NOT_FOUND")

		invalid := `{"version":0,"document":{"schema_version":1,"title":{"zh":""},"templates":["no-such-template"],
			"body":{"type":"page","id":"root","children":[{"type":"hologram","id":"x"},{"type":"app_grid","id":"g","props":{"columns":9}}]}}}`
		body := expectError(t, e.admin(http.MethodPut, "/admin/zones/zone-a/page", invalid), http.StatusBadRequest, "INVALID_PAGE")
		paths := detailPaths(body)
		for _, want := range []string{"/document/title/zh", "/document/body/children/0/type", "/document/body/children/1/props/columns"} {
			if !slices.Contains(paths, want) {
				t.Errorf("INVALID_PAGE details %v lack %s", paths, want)
			}
		}

		unknownTemplate := `{"version":0,"document":{"schema_version":1,"title":{"zh":"专区"},"templates":["no-such-template"],"body":{"type":"page","id":"root"}}}`
		body = expectError(t, e.admin(http.MethodPut, "/admin/zones/zone-a/page", unknownTemplate), http.StatusBadRequest, "INVALID_PAGE")
		if got := detailPaths(body); !slices.Equal(got, []string{"/document/templates/0"}) || body.Error.Details[0].Reason != "unknown_template" {
			t.Fatalf("unknown template details = %+v", body.Error.Details)
		}

		save := func(doc string, version int64) PageDraft {
			t.Helper()
			w := e.admin(http.MethodPut, "/admin/zones/zone-a/page", map[string]any{"version": version, "document": json.RawMessage(doc)})
			expectStatus(t, w, http.StatusOK)
			var d PageDraft
			decodeBody(t, w, &d)
			return d
		}
		publish := func(version int64) PageVersion {
			t.Helper()
			w := e.admin(http.MethodPost, "/admin/zones/zone-a/page/publish", map[string]int64{"version": version})
			expectStatus(t, w, http.StatusCreated)
			var v PageVersion
			decodeBody(t, w, &v)
			return v
		}

		d := save(validPage, 0)
		expectError(t, e.get("/zones/zone-a/page?channel=wechat"), http.StatusNotFound, "PAGE_NOT_FOUND")
		w := e.admin(http.MethodGet, "/admin/zones/zone-a/page/preview?channel=alipay&lang=en", nil)
		expectStatus(t, w, http.StatusOK)
		var preview renderedBody
		decodeBody(t, w, &preview)
		if preview.Title != "Zone" || preview.Channel.Name != "alipay" || w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("preview = %+v, Cache-Control %q", preview, w.Header().Get("Cache-Control"))
		}

		v1 := publish(d.Version)
		second := strings.Replace(validPage, `"zh":"专区"`, `"zh":"专区第二版"`, 1)
		d = save(second, v1.DraftVersion)
		expectError(t, e.admin(http.MethodPut, "/admin/zones/zone-a/page", map[string]any{"version": 1, "document": json.RawMessage(validPage)}),
			http.StatusConflict, "VERSION_CONFLICT")
		v2 := publish(d.Version)
		if v1.Version != 1 || v2.Version != 2 {
			t.Fatalf("published versions %d, %d; want 1, 2", v1.Version, v2.Version)
		}
		live, _ := getPage(t, e, "/zones/zone-a/page?channel=wechat", nil)
		if live.Title != "专区第二版" || live.Version != 2 {
			t.Fatalf("live page = %q version %d", live.Title, live.Version)
		}

		expectError(t, e.admin(http.MethodPost, "/admin/zones/zone-a/page/rollback", map[string]int64{"version": v2.DraftVersion, "to": 7}),
			http.StatusNotFound, "PAGE_VERSION_NOT_FOUND")
		w = e.admin(http.MethodPost, "/admin/zones/zone-a/page/rollback", map[string]int64{"version": v2.DraftVersion, "to": 1})
		expectStatus(t, w, http.StatusCreated)
		var v3 PageVersion
		decodeBody(t, w, &v3)
		if v3.Version != 3 || v3.SourceVersion != 1 {
			t.Fatalf("rollback = %+v, want version 3 from 1", v3)
		}
		live, _ = getPage(t, e, "/zones/zone-a/page?channel=wechat", nil)
		if live.Title != "专区" || live.Version != 3 {
			t.Fatalf("live page after rollback = %q version %d, want 专区 version 3", live.Title, live.Version)
		}

		var history struct {
			Data  []PageVersion `json:"data"`
			Total int           `json:"total"`
		}
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/zone-a/page/versions", nil), &history)
		if history.Total != 3 || history.Data[0].Version != 3 || history.Data[2].Version != 1 {
			t.Fatalf("history = %+v", history)
		}
		w = e.admin(http.MethodGet, "/admin/zones/zone-a/page/versions/2", nil)
		expectStatus(t, w, http.StatusOK)
		var old PageVersion
		decodeBody(t, w, &old)
		if !strings.Contains(string(old.Document), "专区第二版") {
			t.Fatalf("version 2 document = %s", old.Document)
		}
		for _, v := range []string{"x", "01", "+1", "0"} {
			expectError(t, e.admin(http.MethodGet, "/admin/zones/zone-a/page/versions/"+v, nil), http.StatusNotFound, "PAGE_VERSION_NOT_FOUND")
		}
	})
}

func TestAdminBodyErrors(t *testing.T) {
	db := storetest.OpenSQLite(t)
	e := newTestEnv(t, db, withVar("JT_ZONES_MAX_BODY", "4096"))

	big := zoneBody("zone-big")
	big["description"] = map[string]string{"zh": strings.Repeat("长", 2000)}
	expectError(t, e.admin(http.MethodPost, "/admin/zones", big), http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE")

	w := e.do(request{method: http.MethodPost, path: "/admin/zones", body: `{"id":"x"}`, admin: true,
		headers: map[string]string{"Content-Type": "text/plain"}})
	expectError(t, w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE")

	body := expectError(t, e.admin(http.MethodPost, "/admin/zones", `{"id":"zone-a","colour":"red"}`), http.StatusBadRequest, "INVALID_REQUEST")
	if got := detailPaths(body); !slices.Equal(got, []string{"/colour"}) || body.Error.Details[0].Reason != "unknown_field" {
		t.Fatalf("unknown field details = %+v, want /colour unknown_field", body.Error.Details)
	}
	expectError(t, e.admin(http.MethodPost, "/admin/zones", `{"id":`), http.StatusBadRequest, "INVALID_JSON")
	expectError(t, e.admin(http.MethodPost, "/admin/zones/zone-a/publish", `{}`), http.StatusBadRequest, "INVALID_REQUEST")

	if n := countRows(t, db, "zones"); n != 0 {
		t.Fatalf("rejected requests left %d zones", n)
	}
}

// TestAdminRejectsLoneSurrogates checks that every text field rejects an
// unpaired UTF-16 surrogate escape with a detail at the field's path.
// encoding/json would silently store U+FFFD instead. A surrogate pair is
// stored as its character.
func TestAdminRejectsLoneSurrogates(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-a")), http.StatusCreated)
		expectStatus(t, e.admin(http.MethodPost, "/admin/services",
			`{"id":"svc-a","type":"h5","name":{"zh":"服务"},"url":"/h5/a"}`), http.StatusCreated)
		expectStatus(t, e.admin(http.MethodPost, "/admin/items",
			`{"id":"item-a","zone_id":"zone-a","name":{"zh":"一件事"}}`), http.StatusCreated)
		expectStatus(t, e.admin(http.MethodPost, "/admin/templates",
			`{"id":"tpl-a","theme":"holiday","name":{"zh":"模板"},"body":{"schema_version":1,"theme":{"primary_color":"#FF0000"}}}`),
			http.StatusCreated)
		before := countRows(t, db, "zone_oplog")

		for _, tt := range []struct {
			name, method, path, body, detail, reason string
		}{
			{"zone name", http.MethodPost, "/admin/zones",
				`{"id":"zone-b","kind":"life","name":{"zh":"a\ud800"}}`, "/name/zh", "invalid_format"},
			{"zone description on update", http.MethodPut, "/admin/zones/zone-a",
				`{"version":1,"kind":"life","name":{"zh":"专区"},"description":{"zh":"说明","en":"\udc00"}}`, "/description/en", "invalid_format"},
			{"zone owner", http.MethodPost, "/admin/zones",
				`{"id":"zone-b","kind":"life","name":{"zh":"专区"},"owner":"\ud83dx"}`, "/owner", "invalid_format"},
			{"service keyword", http.MethodPost, "/admin/services",
				`{"id":"svc-b","type":"h5","name":{"zh":"服务"},"url":"/h5/b","keywords":["ok","\ude00\ud83d"]}`, "/keywords/1", "invalid_format"},
			{"service summary on update", http.MethodPut, "/admin/services/svc-a",
				`{"version":1,"type":"h5","name":{"zh":"服务"},"summary":{"zh":"\ud800\ud800"},"url":"/h5/a"}`, "/summary/zh", "invalid_format"},
			{"item guide step", http.MethodPost, "/admin/items",
				`{"id":"item-b","zone_id":"zone-a","name":{"zh":"一件事"},"guide":{"steps":[{"title":{"zh":"第一步\udbff"}}]}}`,
				"/guide/steps/0/title/zh", "invalid_format"},
			{"item policy reference on update", http.MethodPut, "/admin/items/item-a",
				`{"version":1,"zone_id":"zone-a","name":{"zh":"一件事"},"guide":{"policies":[{"title":{"zh":"政策"},"ref":"\udfff"}]}}`,
				"/guide/policies/0/ref", "invalid_format"},
			{"template name", http.MethodPost, "/admin/templates",
				`{"id":"tpl-b","theme":"holiday","name":{"zh":"\ud800"},"body":{"schema_version":1,"theme":{"primary_color":"#FF0000"}}}`,
				"/name/zh", "invalid_format"},
			{"template body text on update", http.MethodPut, "/admin/templates/tpl-a",
				`{"version":1,"theme":"holiday","name":{"zh":"模板"},"body":{"schema_version":1,
				"prepend":[{"type":"section","id":"s","props":{"title":{"zh":"\ud800"}}}]}}`,
				"/body/prepend/0/props/title/zh", "invalid_text"},
		} {
			w := e.do(request{method: tt.method, path: tt.path + "?lang=en", body: tt.body, admin: true})
			body := expectError(t, w, http.StatusBadRequest, "INVALID_REQUEST")
			if len(body.Error.Details) != 1 || body.Error.Details[0].Path != tt.detail || body.Error.Details[0].Reason != tt.reason ||
				!strings.Contains(body.Error.Details[0].Message, "unpaired UTF-16 surrogate") {
				t.Errorf("%s: details %+v, want one %s at %s", tt.name, body.Error.Details, tt.reason, tt.detail)
			}
		}
		if n := countRows(t, db, "zone_oplog"); n != before {
			t.Fatalf("rejected requests wrote %d operation-log entries", n-before)
		}

		w := e.admin(http.MethodPost, "/admin/zones", `{"id":"zone-b","kind":"life","name":{"zh":"专区\ud83d\ude00","en":"\u00e9\ufffd"}}`)
		expectStatus(t, w, http.StatusCreated)
		var z Zone
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/zone-b", nil), &z)
		if z.Name.ZH != "专区😀" || z.Name.EN != "é\uFFFD" {
			t.Fatalf("stored name = %+v, want the pair as 😀 and the escaped U+FFFD kept", z.Name)
		}
	})
}

func TestFailedWriteReturnsGeneric500(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-a")), http.StatusCreated)
		opsBefore := countRows(t, db, "zone_oplog")

		const secret = "pq: relation zone_secret_internal_detail is broken"
		e.srv.store.beforeCommit = func(context.Context, bun.Tx) error { return errors.New(secret) }

		svc := map[string]any{"id": "svc-a", "type": "h5", "name": map[string]string{"zh": "服务"}, "url": "/h5/a", "zones": []string{"zone-a"}}
		for _, req := range []request{
			{method: http.MethodPost, path: "/admin/zones", body: zoneBody("zone-b"), admin: true},
			{method: http.MethodPost, path: "/admin/services", body: svc, admin: true},
			{method: http.MethodPost, path: "/admin/zones/zone-a/publish", body: map[string]int{"version": 1}, admin: true},
			{method: http.MethodPut, path: "/admin/zones/zone-a/page", body: map[string]any{"version": 0, "document": json.RawMessage(validPage)}, admin: true},
		} {
			w := e.do(req)
			body := expectError(t, w, http.StatusInternalServerError, "INTERNAL")
			if strings.Contains(w.Body.String(), "secret_internal") || strings.Contains(w.Body.String(), "pq:") {
				t.Fatalf("%s %s: 500 body leaks the cause: %s", req.method, req.path, w.Body.String())
			}
			if body.Error.RequestID == "" || !strings.Contains(body.Error.Message, body.Error.RequestID) {
				t.Fatalf("500 body %s lacks the request id", w.Body.String())
			}
		}
		if !strings.Contains(e.logs.String(), "secret_internal") {
			t.Fatal("the log lacks the internal cause")
		}

		for table, want := range map[string]int{"zones": 1, "zone_services": 0, "zone_pages": 0, "zone_oplog": opsBefore} {
			if got := countRows(t, db, table); got != want {
				t.Errorf("%s rows = %d after failed writes, want %d", table, got, want)
			}
		}
		var z Zone
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/zone-a", nil), &z)
		if z.Status != StatusDraft || z.Version != 1 {
			t.Fatalf("zone-a = %s version %d, want the untouched draft", z.Status, z.Version)
		}
	})
}

func TestAdminZoneServicesOrder(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		var cur zoneServicesResponse
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/life-marriage/services", nil), &cur)
		if len(cur.Services) < 3 {
			t.Fatalf("life-marriage services = %v", cur.Services)
		}
		reversed := slices.Clone(cur.Services)
		slices.Reverse(reversed)

		w := e.admin(http.MethodPut, "/admin/zones/life-marriage/services", map[string]any{"services": reversed, "version": cur.Version})
		expectStatus(t, w, http.StatusOK)
		var services serviceListBody
		decodeBody(t, e.get("/zones/life-marriage/services"), &services)
		if services.Data[0].ID != reversed[0] {
			t.Fatalf("first public service = %s, want %s after reordering", services.Data[0].ID, reversed[0])
		}

		body := expectError(t, e.admin(http.MethodPut, "/admin/zones/life-marriage/services",
			map[string]any{"services": []string{"no-such-service"}, "version": cur.Version + 1}), http.StatusBadRequest, "INVALID_REQUEST")
		if got := detailPaths(body); !slices.Equal(got, []string{"/services/0"}) {
			t.Fatalf("details = %v", got)
		}
		expectError(t, e.admin(http.MethodPut, "/admin/zones/life-marriage/services",
			map[string]any{"services": reversed, "version": cur.Version}), http.StatusConflict, "VERSION_CONFLICT")
	})
}

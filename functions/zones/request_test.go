package zones

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/store/storetest"
)

// TestInvalidPathIDs sends ids that can name no row, a NUL character among
// them, which PostgreSQL rejects with an error.
func TestInvalidPathIDs(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		long := strings.Repeat("x", 100)
		ids := []string{"%00", "a%00b", "UPPER", "a", "%E4%B8%AD", "%FF", "-lead", long}

		routes := []struct {
			method, pattern, code string
			admin                 bool
		}{
			{http.MethodGet, "/zones/ID", "ZONE_NOT_FOUND", false},
			{http.MethodGet, "/zones/ID/services", "ZONE_NOT_FOUND", false},
			{http.MethodGet, "/zones/ID/page?channel=wechat", "ZONE_NOT_FOUND", false},
			{http.MethodGet, "/services/ID", "SERVICE_NOT_FOUND", false},
			{http.MethodGet, "/items/ID", "ITEM_NOT_FOUND", false},
			{http.MethodGet, "/admin/zones/ID", "ZONE_NOT_FOUND", true},
			{http.MethodPut, "/admin/zones/ID", "ZONE_NOT_FOUND", true},
			{http.MethodDelete, "/admin/zones/ID?version=1", "ZONE_NOT_FOUND", true},
			{http.MethodPost, "/admin/zones/ID/publish", "ZONE_NOT_FOUND", true},
			{http.MethodGet, "/admin/zones/ID/services", "ZONE_NOT_FOUND", true},
			{http.MethodPut, "/admin/zones/ID/services", "ZONE_NOT_FOUND", true},
			{http.MethodGet, "/admin/zones/ID/page", "ZONE_NOT_FOUND", true},
			{http.MethodPut, "/admin/zones/ID/page", "ZONE_NOT_FOUND", true},
			{http.MethodGet, "/admin/zones/ID/page/preview?channel=wechat", "ZONE_NOT_FOUND", true},
			{http.MethodPost, "/admin/zones/ID/page/publish", "ZONE_NOT_FOUND", true},
			{http.MethodPost, "/admin/zones/ID/page/rollback", "ZONE_NOT_FOUND", true},
			{http.MethodGet, "/admin/zones/ID/page/versions", "ZONE_NOT_FOUND", true},
			{http.MethodGet, "/admin/zones/ID/page/versions/1", "ZONE_NOT_FOUND", true},
			{http.MethodGet, "/admin/services/ID", "SERVICE_NOT_FOUND", true},
			{http.MethodPost, "/admin/services/ID/unpublish", "SERVICE_NOT_FOUND", true},
			{http.MethodGet, "/admin/items/ID", "ITEM_NOT_FOUND", true},
			{http.MethodDelete, "/admin/items/ID?version=1", "ITEM_NOT_FOUND", true},
			{http.MethodGet, "/admin/templates/ID", "TEMPLATE_NOT_FOUND", true},
			{http.MethodPut, "/admin/templates/ID", "TEMPLATE_NOT_FOUND", true},
		}
		for _, rt := range routes {
			for _, id := range ids {
				path := strings.Replace(rt.pattern, "ID", id, 1)
				w := e.do(request{method: rt.method, path: path, body: `{"version":1}`, admin: rt.admin,
					headers: map[string]string{"Accept-Language": "en"}})
				if w.Code != http.StatusNotFound {
					t.Errorf("%s %s: status %d, want 404; body %s", rt.method, path, w.Code, w.Body.String())
					continue
				}
				var body errorBody
				decodeBody(t, w, &body)
				if body.Error.Code != rt.code {
					t.Errorf("%s %s: code %s, want %s", rt.method, path, body.Error.Code, rt.code)
				}
				if id == long && (len(body.Error.Message) > 120 || !strings.Contains(body.Error.Message, "…")) {
					t.Errorf("%s %s: message %q, want the id shortened", rt.method, path, body.Error.Message)
				}
			}
		}
		if n := countRows(t, db, "zone_oplog"); n != 0 {
			t.Fatalf("requests with invalid ids wrote %d oplog entries", n)
		}
	})
}

func TestLangParameter(t *testing.T) {
	e := newSeededEnv(t, storetest.OpenSQLite(t))

	for _, tt := range []struct {
		path, want string
	}{
		{"/zones/life-marriage?lang=EN", "en"},
		{"/zones/life-marriage?lang=en-US", "en"},
		{"/zones/life-marriage?lang=En-gb", "en"},
		{"/zones/life-marriage?lang=ZH", "zh"},
		{"/zones/life-marriage?lang=zh-Hans-CN", "zh"},
		{"/zones?kind=life&lang=EN", "en"},
		{"/zones/life-marriage/services?lang=EN", "en"},
		{"/zones/life-marriage/page?channel=wechat&lang=EN", "en"},
		{"/zones/life-marriage/page?channel=wechat&lang=en-US", "en"},
		{"/services/search?q=hy&lang=EN", "en"},
		{"/services/beijing-entry-permit?lang=EN", "en"},
		{"/items?lang=EN", "en"},
		{"/items/one-thing-newborn?lang=EN", "en"},
		{"/admin/zones/life-marriage/page/preview?channel=wechat&lang=EN", "en"},
	} {
		w := e.do(request{method: http.MethodGet, path: tt.path, admin: strings.HasPrefix(tt.path, "/admin/"),
			headers: map[string]string{"Accept-Language": "zh-CN"}})
		expectStatus(t, w, http.StatusOK)
		var body struct {
			Lang string `json:"lang"`
		}
		decodeBody(t, w, &body)
		if body.Lang != tt.want {
			t.Errorf("%s: lang %q, want %q", tt.path, body.Lang, tt.want)
		}
	}

	for _, path := range []string{
		"/zones?lang=fr",
		"/zones?lang=english",
		"/zones?lang=en_US",
		"/zones?lang=en-",
		"/zones/life-marriage?lang=fr",
		"/zones/life-marriage/services?lang=fr",
		"/zones/life-marriage/page?channel=wechat&lang=fr",
		"/services/search?q=hy&lang=fr",
		"/services/beijing-entry-permit?lang=fr",
		"/items?lang=fr",
		"/items/one-thing-newborn?lang=fr",
		"/admin/zones/life-marriage/page/preview?channel=wechat&lang=fr",
	} {
		w := e.do(request{method: http.MethodGet, path: path, admin: strings.HasPrefix(path, "/admin/")})
		body := expectError(t, w, http.StatusBadRequest, "INVALID_REQUEST")
		if got := detailPaths(body); !slices.Equal(got, []string{"lang"}) {
			t.Errorf("%s: detail paths %v, want [lang]", path, got)
		}
	}

	// Both problems of the page route are listed, in English for ?lang=EN.
	body := expectError(t, e.get("/zones/life-marriage/page?lang=fr"), http.StatusBadRequest, "INVALID_REQUEST")
	if got := detailPaths(body); !slices.Equal(got, []string{"channel", "lang"}) {
		t.Errorf("page without channel and with lang=fr: detail paths %v, want [channel lang]", got)
	}
	body = expectError(t, e.get("/zones?kind=cinema&lang=EN"), http.StatusBadRequest, "INVALID_REQUEST")
	if !strings.HasPrefix(body.Error.Message, "invalid request") {
		t.Errorf("message for lang=EN = %q, want English", body.Error.Message)
	}

	// An empty value counts as absent, and routes that do not document the
	// parameter ignore it.
	w := e.do(request{method: http.MethodGet, path: "/zones/life-marriage?lang=", headers: map[string]string{"Accept-Language": "en"}})
	expectStatus(t, w, http.StatusOK)
	if !strings.Contains(w.Body.String(), `"lang":"en"`) {
		t.Errorf("?lang= with Accept-Language: en = %s, want English", w.Body.String())
	}
	expectStatus(t, e.admin(http.MethodGet, "/admin/zones?lang=fr", nil), http.StatusOK)
}

func TestAdminPathsNeedOperatorBeforeRouting(t *testing.T) {
	e := newTestEnv(t, storetest.OpenSQLite(t))

	for _, req := range []struct{ method, path string }{
		{http.MethodPatch, "/admin/zones/life-marriage"},
		{http.MethodDelete, "/admin/zones"},
		{http.MethodGet, "/admin/no/such/route"},
		{"PROPFIND", "/admin"},
		{http.MethodGet, "/admin/"},
		{http.MethodPost, "/admin/oplog"},
	} {
		w := e.do(request{method: req.method, path: req.path})
		expectError(t, w, http.StatusUnauthorized, "UNAUTHORIZED")
		if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="jingtong"` {
			t.Errorf("%s %s: WWW-Authenticate %q, want Bearer realm=\"jingtong\"", req.method, req.path, got)
		}
		if allow := w.Header().Get("Allow"); allow != "" {
			t.Errorf("%s %s: Allow %q reveals the admin route", req.method, req.path, allow)
		}

		r := httptest.NewRequest(req.method, req.path, nil)
		r = r.WithContext(auth.WithIdentity(r.Context(), &auth.Identity{Subject: "citizen-1"}))
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, r)
		expectError(t, rec, http.StatusForbidden, "FORBIDDEN")
	}

	// Operators still get 404 and 405 from routing.
	expectError(t, e.admin(http.MethodGet, "/admin/no/such/route", nil), http.StatusNotFound, "NOT_FOUND")
	expectError(t, e.admin(http.MethodPatch, "/admin/zones", nil), http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")

	// Every 401 carries the challenge, also from a route's own check.
	w := e.do(request{method: http.MethodGet, path: "/admin/zones", headers: map[string]string{"Authorization": "Bearer wrong"}})
	expectError(t, w, http.StatusUnauthorized, "UNAUTHORIZED")
	if got := w.Header().Get("WWW-Authenticate"); got != `Bearer realm="jingtong"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
}

func TestErrorMessages(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-a")), http.StatusCreated)
		en := map[string]string{"Accept-Language": "en"}

		for _, tt := range []struct {
			path, code, want string
		}{
			{"/admin/zones/no-such-zone", "ZONE_NOT_FOUND", `zone "no-such-zone" not found`},
			{"/admin/services/no-such-service", "SERVICE_NOT_FOUND", `service "no-such-service" not found`},
			{"/admin/items/no-such-item", "ITEM_NOT_FOUND", `one-thing item "no-such-item" not found`},
			{"/admin/zones/zone-a/page", "PAGE_NOT_FOUND", `zone "zone-a" has no page yet`},
			{"/admin/zones/zone-a/page/versions/9", "PAGE_VERSION_NOT_FOUND", `the page of zone "zone-a" has no version 9`},
			{"/admin/zones/zone-a/page/versions/x", "PAGE_VERSION_NOT_FOUND", `the page of zone "zone-a" has no version "x"`},
		} {
			body := expectError(t, e.do(request{method: http.MethodGet, path: tt.path, admin: true, headers: en}), http.StatusNotFound, tt.code)
			if body.Error.Message != tt.want {
				t.Errorf("%s: message %q, want %q", tt.path, body.Error.Message, tt.want)
			}
			if strings.Contains(body.Error.Message, "publish") {
				t.Errorf("%s: admin message %q mentions publishing", tt.path, body.Error.Message)
			}
		}

		for _, tt := range []struct{ query, reason string }{
			{"page=abc", "invalid_format"},
			{"page=1.5", "invalid_format"},
			{"page_size=ten", "invalid_format"},
			{"page=0", "out_of_range"},
			{"page=99999999999999999999", "out_of_range"},
			{"page_size=101", "out_of_range"},
		} {
			body := expectError(t, e.get("/zones?"+tt.query), http.StatusBadRequest, "INVALID_REQUEST")
			if len(body.Error.Details) != 1 || body.Error.Details[0].Reason != tt.reason {
				t.Errorf("?%s: details %+v, want reason %s", tt.query, body.Error.Details, tt.reason)
			}
		}
	})
}

func TestZoneServicesFollowChannel(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)

		// The foreigner edition is on WeChat and Alipay only.
		for ch, want := range map[string]int{"": http.StatusOK, "wechat": http.StatusOK, "baidu": http.StatusNotFound, "h5": http.StatusNotFound} {
			services := e.get("/zones/foreigner/services?channel=" + ch)
			page := e.get("/zones/foreigner/page?channel=" + ch)
			if services.Code != want {
				t.Errorf("services on %q: status %d, want %d", ch, services.Code, want)
			}
			if ch != "" && services.Code != page.Code {
				t.Errorf("channel %s: services %d but page %d", ch, services.Code, page.Code)
			}
			if want == http.StatusNotFound {
				expectError(t, services, http.StatusNotFound, "ZONE_NOT_FOUND")
			}
		}
	})
}

func TestSearchPolyphonicHTTP(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		for _, tt := range []struct{ q, want string }{
			{"yinhang", "bank-account-booking"},
			{"yh", "bank-account-booking"},
			{"yinhangkaihu", "bank-account-booking"},
			{"yhkh", "bank-account-booking"},
			{"shichang", "volunteer-hours-query"},
			{"shoudu", "library-reader-card"},
			{"fanhuan", "job-stabilisation-refund"},
			{"hunyu", "marriage-registration-booking"},
			{"hy", "marriage-registration-booking"},
			{"jjz", "beijing-entry-permit"},
			{"进京证", "beijing-entry-permit"},
		} {
			var list serviceListBody
			decodeBody(t, e.get("/services/search?page_size=100&q="+url.QueryEscape(tt.q)), &list)
			var ids []string
			for _, v := range list.Data {
				ids = append(ids, v.ID)
			}
			if !slices.Contains(ids, tt.want) {
				t.Errorf("search %q = %v, want %s among them", tt.q, ids, tt.want)
			}
		}
	})
}

// TestReadyLoggedWhenServing builds the function the way `zones migrate`
// does and checks that only serving logs that it is ready.
func TestReadyLoggedWhenServing(t *testing.T) {
	e := newTestEnv(t, storetest.OpenSQLite(t))
	if strings.Contains(e.logs.String(), "zones function ready") {
		t.Fatalf("building and migrating logged the ready line: %s", e.logs.String())
	}

	e.get("/zones")
	e.get("/zones")
	if n := strings.Count(e.logs.String(), `"msg":"zones function ready"`); n != 1 {
		t.Fatalf("ready lines after two requests = %d, want 1; log: %s", n, e.logs.String())
	}
	if !strings.Contains(e.logs.String(), `"cache_ttl":"10s"`) {
		t.Errorf("ready line lacks cache_ttl as a duration string: %s", e.logs.String())
	}
}

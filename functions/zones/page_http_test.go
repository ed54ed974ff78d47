package zones

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/zones/page"
	"github.com/jingtong/backend/shared/store/storetest"
)

// renderedBody is the part of a rendered page the tests read.
type renderedBody struct {
	ZoneID    string            `json:"zone_id"`
	Version   int64             `json:"version"`
	Lang      string            `json:"lang"`
	Title     string            `json:"title"`
	Templates []string          `json:"templates"`
	Channel   page.ChannelInfo  `json:"channel"`
	Body      page.RenderedNode `json:"body"`
}

// serviceIDsIn returns the ids of the service cards anywhere under n.
func serviceIDsIn(n *page.RenderedNode) []string {
	var out []string
	if cards, ok := n.Props["services"].([]any); ok {
		for _, c := range cards {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m["id"].(string))
			}
		}
	}
	for _, c := range n.Children {
		out = append(out, serviceIDsIn(c)...)
	}
	return out
}

func getPage(t testing.TB, e *testEnv, path string, headers map[string]string) (renderedBody, *http.Response) {
	t.Helper()
	w := e.do(request{method: http.MethodGet, path: path, headers: headers})
	expectStatus(t, w, http.StatusOK)
	var body renderedBody
	decodeBody(t, w, &body)
	return body, w.Result()
}

func TestPageDiffersByChannel(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		ctx := context.Background()
		st := e.srv.store

		// A service only WeChat offers, bound into a page of a new zone.
		svc := testService("wechat-only-service", "life-marriage")
		svc.Channels = []Channel{ChannelWeChat}
		svc.LoginRequired = true
		created, err := st.CreateService(ctx, "alice", svc)
		if err != nil {
			t.Fatalf("create service: %v", err)
		}
		if _, err := st.SetServiceStatus(ctx, "alice", svc.ID, created.Version, true); err != nil {
			t.Fatalf("publish service: %v", err)
		}
		doc := `{"schema_version":1,"title":{"zh":"婚育","en":"Marriage"},"body":{"type":"page","id":"root","children":[
			{"type":"app_grid","id":"grid","props":{"columns":4,"services":["wechat-only-service","marriage-registration-booking"]}}]}}`
		d, err := st.SavePageDraft(ctx, "alice", "life-marriage", json.RawMessage(doc), 1)
		if err != nil {
			t.Fatalf("save page: %v", err)
		}
		if _, err := st.PublishPage(ctx, "alice", "life-marriage", d.Version); err != nil {
			t.Fatalf("publish page: %v", err)
		}

		bodies := map[Channel]string{}
		for _, ch := range Channels {
			w := e.get("/zones/life-marriage/page?channel=" + string(ch))
			expectStatus(t, w, http.StatusOK)
			bodies[ch] = w.Body.String()
			var p renderedBody
			decodeBody(t, w, &p)

			if p.ZoneID != "life-marriage" || p.Version != 2 || p.Channel.Name != page.Channel(ch) {
				t.Fatalf("%s: zone %s version %d channel %s", ch, p.ZoneID, p.Version, p.Channel.Name)
			}
			// Every capability annotation matches the channel matrix.
			for _, c := range p.Channel.Capabilities {
				want, ok := page.Lookup(page.Channel(ch), c.Name)
				if !ok || c.Supported != want.Supported || c.API != want.API || c.Fallback != want.Fallback {
					t.Errorf("%s %s = %+v, want %+v", ch, c.Name, c, want)
				}
			}

			ids := serviceIDsIn(&p.Body)
			if got, want := slices.Contains(ids, "wechat-only-service"), ch == ChannelWeChat; got != want {
				t.Errorf("%s: wechat-only service rendered = %v, want %v (cards %v)", ch, got, want, ids)
			}
			if !slices.Contains(ids, "marriage-registration-booking") {
				t.Errorf("%s: cards %v miss the service available everywhere", ch, ids)
			}
		}
		if bodies[ChannelWeChat] == bodies[ChannelAlipay] {
			t.Fatal("wechat and alipay renderings are identical")
		}
		wechatLogin, _ := page.Lookup(page.ChannelWeChat, page.CapLogin)
		alipayLogin, _ := page.Lookup(page.ChannelAlipay, page.CapLogin)
		if !strings.Contains(bodies[ChannelWeChat], wechatLogin.API) || !strings.Contains(bodies[ChannelAlipay], alipayLogin.API) ||
			strings.Contains(bodies[ChannelAlipay], wechatLogin.API) {
			t.Fatalf("login APIs: wechat page lacks %q or alipay page lacks %q or contains %q", wechatLogin.API, alipayLogin.API, wechatLogin.API)
		}
	})
}

func TestPageLanguageAndErrors(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)

		zh, _ := getPage(t, e, "/zones/life-marriage/page?channel=alipay", nil)
		en, resp := getPage(t, e, "/zones/life-marriage/page?channel=alipay", map[string]string{"Accept-Language": "en"})
		enQuery, _ := getPage(t, e, "/zones/life-marriage/page?channel=alipay&lang=en", nil)
		if zh.Title != "婚育" || zh.Lang != "zh" || en.Title != "Marriage and Childbirth" || en.Lang != "en" || enQuery.Lang != "en" {
			t.Fatalf("titles = %q (%s), %q (%s), ?lang=en %s", zh.Title, zh.Lang, en.Title, en.Lang, enQuery.Lang)
		}
		if resp.Header.Get("Vary") != "Accept-Language" || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("headers = %v", resp.Header)
		}

		expectError(t, e.get("/zones/life-marriage/page"), http.StatusBadRequest, "INVALID_REQUEST")
		expectError(t, e.get("/zones/life-marriage/page?channel=douyin"), http.StatusBadRequest, "INVALID_REQUEST")
		expectError(t, e.get("/zones/no-such-zone/page?channel=wechat"), http.StatusNotFound, "ZONE_NOT_FOUND")
		expectError(t, e.get("/zones/Bad%20Id/page?channel=wechat"), http.StatusNotFound, "ZONE_NOT_FOUND")
		expectError(t, e.get("/zones/foreigner/page?channel=baidu"), http.StatusNotFound, "ZONE_NOT_FOUND")
		getPage(t, e, "/zones/foreigner/page?channel=alipay", nil)

		ctx := context.Background()
		if _, err := e.srv.store.CreateZone(ctx, "alice", testZone("no-page")); err != nil {
			t.Fatalf("create zone: %v", err)
		}
		if _, err := e.srv.store.SetZoneStatus(ctx, "alice", "no-page", 1, true); err != nil {
			t.Fatalf("publish zone: %v", err)
		}
		expectError(t, e.get("/zones/no-page/page?channel=wechat"), http.StatusNotFound, "PAGE_NOT_FOUND")
	})
}

func TestPreviewShownOnChannel(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)

		// The foreigner edition is on WeChat and Alipay only, and a zone
		// without channels is on every channel.
		for _, tt := range []struct {
			zone      string
			ch        Channel
			wantShown bool
		}{
			{"foreigner", ChannelBaidu, false},
			{"foreigner", ChannelH5, false},
			{"foreigner", ChannelWeChat, true},
			{"life-marriage", ChannelBaidu, true},
		} {
			w := e.admin(http.MethodGet, "/admin/zones/"+tt.zone+"/page/preview?channel="+string(tt.ch), nil)
			expectStatus(t, w, http.StatusOK)
			var fields map[string]json.RawMessage
			decodeBody(t, w, &fields)
			if got, want := string(fields["shown_on_channel"]), strconv.FormatBool(tt.wantShown); got != want {
				t.Errorf("%s on %s: shown_on_channel = %s, want %s", tt.zone, tt.ch, got, want)
			}
			var p renderedBody
			decodeBody(t, w, &p)
			if p.ZoneID != tt.zone {
				t.Errorf("%s on %s: preview zone_id = %q", tt.zone, tt.ch, p.ZoneID)
			}
			if p.Channel.Name != page.Channel(tt.ch) {
				t.Errorf("%s on %s: preview rendered for channel %q", tt.zone, tt.ch, p.Channel.Name)
			}
			if p.Title == "" {
				t.Errorf("%s on %s: preview has no title", tt.zone, tt.ch)
			}

			// The flag agrees with the live page.
			live := e.get("/zones/" + tt.zone + "/page?channel=" + string(tt.ch))
			if got := live.Code == http.StatusOK; got != tt.wantShown {
				t.Errorf("%s on %s: live page status %d, but shown_on_channel is %v", tt.zone, tt.ch, live.Code, tt.wantShown)
			}
		}
	})
}

func TestPageCache(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db, withVar("JT_ZONES_CACHE_TTL", "10s"))
		ctx := context.Background()
		path := "/zones/life-marriage/page?channel=wechat"

		first := e.get(path)
		expectStatus(t, first, http.StatusOK)
		if cc := first.Header().Get("Cache-Control"); cc != "public, max-age=10" {
			t.Fatalf("Cache-Control = %q, want public, max-age=10", cc)
		}

		// A change made behind the function's back is invisible until the
		// entry expires, which proves the hit path reads no database.
		_, err := db.NewUpdate().Model((*pageVersionRow)(nil)).
			Set("document = ?", `{"schema_version":1,"title":{"zh":"改过"},"body":{"type":"page","id":"root"}}`).
			Where("zone_id = ?", "life-marriage").Exec(ctx)
		if err != nil {
			t.Fatalf("change page behind the cache: %v", err)
		}
		e.clock.Advance(4 * time.Second)
		cached := e.get(path)
		if cached.Body.String() != first.Body.String() {
			t.Fatal("the page changed before the cache entry expired")
		}
		if cc := cached.Header().Get("Cache-Control"); cc != "public, max-age=6" {
			t.Fatalf("Cache-Control after 4s = %q, want public, max-age=6", cc)
		}

		e.clock.Advance(6 * time.Second)
		var expired renderedBody
		decodeBody(t, e.get(path), &expired)
		if expired.Title != "改过" {
			t.Fatalf("title after expiry = %q, want the changed page", expired.Title)
		}

		// A local write drops the cache at once.
		z, _ := e.srv.store.GetZone(ctx, "life-marriage", false)
		d, err := e.srv.store.SavePageDraft(ctx, "alice", "life-marriage",
			json.RawMessage(`{"schema_version":1,"title":{"zh":"新版"},"body":{"type":"page","id":"root"}}`), 1)
		if err != nil {
			t.Fatalf("save draft: %v", err)
		}
		if _, err := e.srv.store.PublishPage(ctx, "alice", z.ID, d.Version); err != nil {
			t.Fatalf("publish: %v", err)
		}
		var fresh renderedBody
		decodeBody(t, e.get(path), &fresh)
		if fresh.Title != "新版" || fresh.Version != 2 {
			t.Fatalf("after publishing: title %q version %d, want 新版 version 2", fresh.Title, fresh.Version)
		}
	})
}

func TestPageCacheTemplateBoundary(t *testing.T) {
	db := storetest.OpenSQLite(t)
	e := newSeededEnv(t, db, withVar("JT_ZONES_CACHE_TTL", "30s"))

	// The seed's spring festival template starts at 2027-01-22 00:00 in
	// Beijing, 2027-01-21 16:00 UTC; the new year template ends on 4 January.
	boundary := time.Date(2027, 1, 21, 16, 0, 0, 0, time.UTC)
	e.clock.Set(boundary.Add(-5 * time.Second))
	path := "/zones/life-marriage/page?channel=h5"

	before, resp := getPage(t, e, path, nil)
	if slices.Contains(before.Templates, "spring-festival-2027") {
		t.Fatalf("templates before the window = %v", before.Templates)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=5" {
		t.Fatalf("Cache-Control = %q, want max-age=5: the entry must expire at the template boundary", cc)
	}

	e.clock.Set(boundary)
	after, _ := getPage(t, e, path, nil)
	if !slices.Contains(after.Templates, "spring-festival-2027") {
		t.Fatalf("templates at the window start = %v, want spring-festival-2027", after.Templates)
	}
}

func TestPageCacheDisabled(t *testing.T) {
	db := storetest.OpenSQLite(t)
	e := newSeededEnv(t, db, withVar("JT_ZONES_CACHE_TTL", "0s"))
	path := "/zones/life-marriage/page?channel=wechat"

	w := e.get(path)
	expectStatus(t, w, http.StatusOK)
	if cc := w.Header().Get("Cache-Control"); cc != "public, max-age=0" {
		t.Fatalf("Cache-Control = %q, want max-age=0", cc)
	}
	_, err := db.NewUpdate().Model((*pageVersionRow)(nil)).
		Set("document = ?", `{"schema_version":1,"title":{"zh":"改过"},"body":{"type":"page","id":"root"}}`).
		Where("zone_id = ?", "life-marriage").Exec(context.Background())
	if err != nil {
		t.Fatalf("change page: %v", err)
	}
	var p renderedBody
	decodeBody(t, e.get(path), &p)
	if p.Title != "改过" {
		t.Fatalf("title = %q, want the change seen at once with the cache off", p.Title)
	}
}

func TestPageLinks_followZoneAvailability(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		targets := func(ch Channel) []string {
			t.Helper()
			w := e.get("/zones/life-marriage/page?channel=" + string(ch))
			expectStatus(t, w, http.StatusOK)
			var doc any
			decodeBody(t, w, &doc)
			return pageLinkTargets(doc)
		}

		wechat := targets(ChannelWeChat)
		for _, want := range []string{"foreigner", "cross-province"} {
			if !slices.Contains(wechat, want) {
				t.Errorf("wechat page links to %v, want a link to %s", wechat, want)
			}
		}
		// The foreigner edition is shown on WeChat and Alipay only.
		if baidu := targets(ChannelBaidu); slices.Contains(baidu, "foreigner") {
			t.Errorf("baidu page links to %v, want no link to foreigner", baidu)
		}

		var z Zone
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/cross-province", nil), &z)
		w := e.admin(http.MethodPost, "/admin/zones/cross-province/unpublish", map[string]int64{"version": z.Version})
		expectStatus(t, w, http.StatusOK)
		if got := targets(ChannelWeChat); slices.Contains(got, "cross-province") {
			t.Errorf("after unpublishing cross-province, wechat page links to %v", got)
		}
	})
}

// pageLinkTargets returns the targets of the page links in a decoded
// rendered page, at any depth.
func pageLinkTargets(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		if target, ok := v["target"].(string); ok && v["type"] == "page" {
			out = append(out, target)
		}
		for _, child := range v {
			out = append(out, pageLinkTargets(child)...)
		}
	case []any:
		for _, child := range v {
			out = append(out, pageLinkTargets(child)...)
		}
	}
	return out
}

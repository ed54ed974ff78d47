package zones

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/zones/page"
	"github.com/jingtong/backend/shared/store/storetest"
)

// itemIDsIn returns the ids of the item cards anywhere under n.
func itemIDsIn(n *page.RenderedNode) []string {
	var out []string
	if cards, ok := n.Props["items"].([]any); ok {
		for _, c := range cards {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m["id"].(string))
			}
		}
	}
	for _, c := range n.Children {
		out = append(out, itemIDsIn(c)...)
	}
	return out
}

// TestPageRendersTemplateBindings binds a service and an item only through
// a template: the page document names neither.
func TestPageRendersTemplateBindings(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		ctx := context.Background()
		st := e.srv.store
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}

		_, err := st.CreateZone(ctx, "alice", testZone("zone-a"))
		must(err)
		svc, err := st.CreateService(ctx, "alice", testService("svc-in-template", "zone-a"))
		must(err)
		_, err = st.SetServiceStatus(ctx, "alice", svc.ID, svc.Version, true)
		must(err)
		it, err := st.CreateItem(ctx, "alice", Item{ID: "item-in-template", ZoneID: "zone-a", Name: Text{ZH: "模板事项"}})
		must(err)
		_, err = st.SetItemStatus(ctx, "alice", it.ID, it.Version, true)
		must(err)
		z, err := st.GetZone(ctx, "zone-a", false)
		must(err)
		_, err = st.SetZoneStatus(ctx, "alice", "zone-a", z.Version, true)
		must(err)

		tpl, err := st.CreateTemplate(ctx, "alice", Template{
			ID: "always-on", Theme: "livelihood", Name: Text{ZH: "民生"},
			Body: json.RawMessage(`{"schema_version":1,"append":[
				{"type":"app_grid","id":"grid","props":{"columns":4,"services":["svc-in-template"]}},
				{"type":"item_list","id":"items","props":{"items":["item-in-template"]}}]}`),
		})
		must(err)
		_, err = st.SetTemplateStatus(ctx, "alice", tpl.ID, tpl.Version, true)
		must(err)

		doc := `{"schema_version":1,"title":{"zh":"专区"},"templates":["always-on"],"body":{"type":"page","id":"root"}}`
		d, err := st.SavePageDraft(ctx, "alice", "zone-a", json.RawMessage(doc), 0)
		must(err)
		_, err = st.PublishPage(ctx, "alice", "zone-a", d.Version)
		must(err)

		live, _ := getPage(t, e, "/zones/zone-a/page?channel=wechat", nil)
		var preview renderedBody
		w := e.admin(http.MethodGet, "/admin/zones/zone-a/page/preview?channel=wechat", nil)
		expectStatus(t, w, http.StatusOK)
		decodeBody(t, w, &preview)

		for name, p := range map[string]renderedBody{"live page": live, "preview": preview} {
			if !slices.Equal(p.Templates, []string{"always-on"}) {
				t.Fatalf("%s templates = %v, want [always-on]", name, p.Templates)
			}
			if got := serviceIDsIn(&p.Body); !slices.Equal(got, []string{"svc-in-template"}) {
				t.Errorf("%s service cards = %v, want the template's [svc-in-template]", name, got)
			}
			if got := itemIDsIn(&p.Body); !slices.Equal(got, []string{"item-in-template"}) {
				t.Errorf("%s item cards = %v, want the template's [item-in-template]", name, got)
			}
		}
	})
}

// TestSeedLivelihoodGridRenders checks the seeded case the tester found:
// the livelihood template's service grid on the life-elderly page.
func TestSeedLivelihoodGridRenders(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		p, _ := getPage(t, e, "/zones/life-elderly/page?channel=h5", nil)
		if !slices.Contains(p.Templates, "livelihood") {
			t.Fatalf("templates = %v, want livelihood", p.Templates)
		}
		var grid *page.RenderedNode
		for _, c := range p.Body.Children {
			if c.ID == "livelihood:livelihood-grid" {
				grid = c
			}
		}
		if grid == nil {
			t.Fatalf("no livelihood:livelihood-grid node among %d children", len(p.Body.Children))
		}
		if ids := serviceIDsIn(grid); len(ids) < 4 {
			t.Fatalf("livelihood grid cards = %v, want the template's services", ids)
		}
	})
}

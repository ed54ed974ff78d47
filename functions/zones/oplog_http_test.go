package zones

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store/storetest"
)

// largePageDoc returns a valid page document of more than
// opListValueLimit bytes: a hundred list nodes with long subtitles of fill.
func largePageDoc(t *testing.T, fill string) string {
	t.Helper()
	children := make([]string, 100)
	for i := range children {
		children[i] = fmt.Sprintf(`{"type":"list","id":"list-%03d","props":{"items":[{"title":{"zh":"服务 %d"},"subtitle":{"zh":%q},"link":{"type":"page","target":"zone-a"}}]}}`,
			i, i, strings.Repeat(fill, 190))
	}
	doc := `{"schema_version":1,"title":{"zh":"大页面"},"body":{"type":"page","id":"root","children":[` + strings.Join(children, ",") + `]}}`
	if len(doc) <= opListValueLimit {
		t.Fatalf("document is %d bytes, want more than %d", len(doc), opListValueLimit)
	}
	return doc
}

// opList is the body of an operation-log list.
type opList struct {
	Data []OpEntry `json:"data"`
}

func TestOplogLargeValues(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := pageEnv(t, db)
		doc := largePageDoc(t, "x")
		first := saveDraft(t, e, doc, 0)
		saveDraft(t, e, doc, first.Version)

		var list opList
		decodeBody(t, e.admin(http.MethodGet, "/admin/oplog?entity_type=page&entity_id=zone-a", nil), &list)
		if len(list.Data) != 2 {
			t.Fatalf("page entries = %d, want 2", len(list.Data))
		}
		latest, created := list.Data[0], list.Data[1]
		if !latest.BeforeOmitted || !latest.AfterOmitted || string(latest.Before) != "null" || string(latest.After) != "null" {
			t.Errorf("second save in the list: before_omitted %t after_omitted %t, before %d bytes, after %d bytes; want both omitted",
				latest.BeforeOmitted, latest.AfterOmitted, len(latest.Before), len(latest.After))
		}
		if created.BeforeOmitted || !created.AfterOmitted {
			t.Errorf("first save in the list: before_omitted %t after_omitted %t, want only after omitted", created.BeforeOmitted, created.AfterOmitted)
		}

		// Small values stay in the list.
		var zoneOps opList
		decodeBody(t, e.admin(http.MethodGet, "/admin/oplog?entity_type=zone&entity_id=zone-a", nil), &zoneOps)
		if len(zoneOps.Data) == 0 || !strings.Contains(string(zoneOps.Data[0].After), `"id":"zone-a"`) || zoneOps.Data[0].AfterOmitted {
			t.Errorf("zone entries = %+v, want the zone after the change in the list", zoneOps.Data)
		}

		w := e.admin(http.MethodGet, "/admin/oplog/"+latest.ID, nil)
		expectStatus(t, w, http.StatusOK)
		var full OpEntry
		decodeBody(t, w, &full)
		if full.BeforeOmitted || full.AfterOmitted {
			t.Errorf("single entry marks values omitted: %+v", full)
		}
		var after struct {
			Document json.RawMessage `json:"document"`
		}
		if err := json.Unmarshal(full.After, &after); err != nil {
			t.Fatalf("decode the entry's after value: %v", err)
		}
		if !jsonEqual(t, after.Document, json.RawMessage(doc)) {
			t.Error("the entry's after value does not hold the saved document")
		}
		if full.ID != latest.ID || full.Action != ActionPageSave || full.Before == nil {
			t.Errorf("entry = id %s action %s before %d bytes, want the second save with its before value", full.ID, full.Action, len(full.Before))
		}
	})
}

func TestOplogEntryNotFound(t *testing.T) {
	e := newTestEnv(t, storetest.OpenSQLite(t))
	for _, id := range []string{"0190d6a4-0000-7000-8000-000000000000", "not-a-uuid", strings.Repeat("a", 200)} {
		body := expectError(t, e.admin(http.MethodGet, "/admin/oplog/"+id, nil), http.StatusNotFound, "OPLOG_ENTRY_NOT_FOUND")
		if len(body.Error.Message) > 200 {
			t.Errorf("message for id of %d bytes is %d bytes long", len(id), len(body.Error.Message))
		}
	}
	expectError(t, e.do(request{method: http.MethodGet, path: "/admin/oplog/0190d6a4-0000-7000-8000-000000000000"}), http.StatusUnauthorized, "UNAUTHORIZED")
}

// TestOplogKeepsHTMLCharacters checks that a page full of <, > and & is
// logged at about its own size: json.Marshal's 6-byte escapes made an
// entry too large for the gateway to return.
func TestOplogKeepsHTMLCharacters(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := pageEnv(t, db)
		doc := largePageDoc(t, "<")
		// A string body is sent unchanged. Encoding a map would escape
		// the < characters before the request reaches the server.
		expectStatus(t, e.admin(http.MethodPut, "/admin/zones/zone-a/page", `{"version":0,"document":`+doc+`}`), http.StatusOK)

		var list opList
		decodeBody(t, e.admin(http.MethodGet, "/admin/oplog?entity_type=page&entity_id=zone-a", nil), &list)
		if len(list.Data) != 1 {
			t.Fatalf("page entries = %d, want 1", len(list.Data))
		}
		var full OpEntry
		decodeBody(t, e.admin(http.MethodGet, "/admin/oplog/"+list.Data[0].ID, nil), &full)
		if len(full.After) > 2*len(doc) {
			t.Errorf("logged value is %d bytes for a %d-byte document, want less than twice the document", len(full.After), len(doc))
		}
		if !strings.Contains(string(full.After), strings.Repeat("<", 190)) {
			t.Error("the logged value does not contain the subtitle as sent")
		}
	})
}

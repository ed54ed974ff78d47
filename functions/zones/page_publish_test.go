package zones

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/zones/page"
	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/store/storetest"
)

// pageEnv is a test environment with the published zone zone-a.
func pageEnv(t *testing.T, db *bun.DB) *testEnv {
	t.Helper()
	e := newTestEnv(t, db)
	expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-a")), http.StatusCreated)
	expectStatus(t, e.admin(http.MethodPost, "/admin/zones/zone-a/publish", map[string]int{"version": 1}), http.StatusOK)
	return e
}

// saveDraft saves doc as zone-a's draft over version and returns the draft.
func saveDraft(t *testing.T, e *testEnv, doc string, version int64) PageDraft {
	t.Helper()
	w := e.admin(http.MethodPut, "/admin/zones/zone-a/page", map[string]any{"version": version, "document": json.RawMessage(doc)})
	expectStatus(t, w, http.StatusOK)
	var d PageDraft
	decodeBody(t, w, &d)
	return d
}

func TestPagePublishConsumesDraftVersion(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := pageEnv(t, db)
		d := saveDraft(t, e, validPage, 0)

		w := e.admin(http.MethodPost, "/admin/zones/zone-a/page/publish", map[string]int64{"version": d.Version})
		expectStatus(t, w, http.StatusCreated)
		var v1 PageVersion
		decodeBody(t, w, &v1)
		if v1.Version != 1 || v1.DraftVersion != d.Version+1 {
			t.Fatalf("publish = version %d, draft version %d; want 1 and %d", v1.Version, v1.DraftVersion, d.Version+1)
		}

		// A repeated publish, such as a double click, creates nothing.
		expectError(t, e.admin(http.MethodPost, "/admin/zones/zone-a/page/publish", map[string]int64{"version": d.Version}),
			http.StatusConflict, "VERSION_CONFLICT")
		if n := countRows(t, db, "zone_page_versions"); n != 1 {
			t.Fatalf("page versions = %d after a repeated publish, want 1", n)
		}

		var draft PageDraft
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/zone-a/page", nil), &draft)
		if draft.Version != v1.DraftVersion || draft.PublishedVersion != 1 || !jsonEqual(t, draft.Document, json.RawMessage(validPage)) {
			t.Fatalf("draft after publish = %+v, want version %d with the same document", draft, v1.DraftVersion)
		}
		saveDraft(t, e, validPage, v1.DraftVersion)
	})
}

func TestPageRollbackChecksDraftVersion(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := pageEnv(t, db)
		d := saveDraft(t, e, validPage, 0)
		w := e.admin(http.MethodPost, "/admin/zones/zone-a/page/publish", map[string]int64{"version": d.Version})
		expectStatus(t, w, http.StatusCreated)
		var v1 PageVersion
		decodeBody(t, w, &v1)

		// An operator saves edits that are not published yet.
		edited := strings.Replace(validPage, `"zh":"专区"`, `"zh":"未发布的修改"`, 1)
		d = saveDraft(t, e, edited, v1.DraftVersion)

		rollback := "/admin/zones/zone-a/page/rollback"
		expectError(t, e.admin(http.MethodPost, rollback, map[string]int64{"version": v1.DraftVersion, "to": 1}),
			http.StatusConflict, "VERSION_CONFLICT")
		var draft PageDraft
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/zone-a/page", nil), &draft)
		if !strings.Contains(string(draft.Document), "未发布的修改") {
			t.Fatalf("a stale rollback replaced the draft: %s", draft.Document)
		}

		for _, tt := range []struct {
			body     map[string]int64
			path, en string
		}{
			{map[string]int64{"to": 1}, "/version", "must be the draft version you read"},
			{map[string]int64{"version": d.Version}, "/to", "must be the published version to restore"},
		} {
			w := e.do(request{method: http.MethodPost, path: rollback + "?lang=en", body: tt.body, admin: true})
			body := expectError(t, w, http.StatusBadRequest, "INVALID_REQUEST")
			if len(body.Error.Details) != 1 || body.Error.Details[0].Path != tt.path || !strings.Contains(body.Error.Details[0].Message, tt.en) {
				t.Errorf("rollback %v: details %+v, want %s: %q", tt.body, body.Error.Details, tt.path, tt.en)
			}
		}

		w = e.admin(http.MethodPost, rollback, map[string]int64{"version": d.Version, "to": 1})
		expectStatus(t, w, http.StatusCreated)
		var v2 PageVersion
		decodeBody(t, w, &v2)
		if v2.Version != 2 || v2.SourceVersion != 1 || v2.DraftVersion != d.Version+1 {
			t.Fatalf("rollback = %+v, want version 2 from 1 with draft version %d", v2, d.Version+1)
		}

		ops := opsFor(t, e.srv.store, EntityPage, "zone-a")
		if ops[0].Action != ActionPageRollback {
			t.Fatalf("newest page op = %s, want %s", ops[0].Action, ActionPageRollback)
		}
		var before pageLogView
		if err := json.Unmarshal(ops[0].Before, &before); err != nil {
			t.Fatalf("rollback op before = %s: %v", ops[0].Before, err)
		}
		if before.Version != d.Version || !strings.Contains(string(before.Document), "未发布的修改") {
			t.Fatalf("rollback op before = %s, want the replaced draft at version %d", ops[0].Before, d.Version)
		}
	})
}

func TestPageSaveErrors(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := pageEnv(t, db)
		save := func(body string) errorBody {
			t.Helper()
			w := e.do(request{method: http.MethodPut, path: "/admin/zones/zone-a/page?lang=en", body: body, admin: true})
			if w.Code != http.StatusBadRequest {
				t.Fatalf("PUT %s: status %d, want 400; body %s", body, w.Code, w.Body.String())
			}
			var out errorBody
			decodeBody(t, w, &out)
			return out
		}

		body := save(`{"version":-1,"document":` + validPage + `}`)
		if body.Error.Code != "INVALID_REQUEST" || !slices.Equal(detailPaths(body), []string{"/version"}) {
			t.Errorf("version -1: %+v, want INVALID_REQUEST at /version", body.Error)
		}

		duplicate := `{"version":0,"document":{"schema_version":1,"title":{"zh":"专区"},"body":{"type":"page","id":"root","children":[
			{"type":"section","id":"twice"},{"type":"section","id":"twice"}]}}}`
		body = save(duplicate)
		if len(body.Error.Details) != 1 || body.Error.Details[0].Path != "/document/body/children/1/id" {
			t.Fatalf("duplicate id details = %+v", body.Error.Details)
		}
		if msg := body.Error.Details[0].Message; !strings.Contains(msg, "at /document/body/children/0") {
			t.Errorf("duplicate id message = %q, want it to name /document/body/children/0 like the path", msg)
		}

		for name, title := range map[string]string{
			"NUL character":        `"a\u0000b"`,
			"lone high surrogate":  `"a\ud800b"`,
			"lone low surrogate":   `"\udc00"`,
			"reversed surrogates":  `"\ude00\ud83d"`,
			"high before a letter": `"\ud83dx"`,
		} {
			doc := `{"version":0,"document":{"schema_version":1,"title":{"zh":` + title + `},"body":{"type":"page","id":"root"}}}`
			body := save(doc)
			if body.Error.Code != "INVALID_PAGE" || len(body.Error.Details) != 1 ||
				body.Error.Details[0].Path != "/document/title/zh" || body.Error.Details[0].Reason != string(page.CodeInvalidText) {
				t.Errorf("%s: %+v, want INVALID_PAGE invalid_text at /document/title/zh", name, body.Error)
			}
		}
		if n := countRows(t, db, "zone_pages"); n != 0 {
			t.Fatalf("rejected saves stored %d drafts", n)
		}
		saveDraft(t, e, `{"schema_version":1,"title":{"zh":"专区\ud83d\ude00"},"body":{"type":"page","id":"root"}}`, 0)
	})
}

// TestPageTemplatesMustExist checks that saving, publishing and rolling back
// apply one rule to the templates a page names. Each must exist, in any
// state, and a rejected publish or rollback changes nothing.
func TestPageTemplatesMustExist(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := pageEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/templates",
			`{"id":"tpl-a","theme":"holiday","name":{"zh":"节日"},"body":{"schema_version":1,"theme":{"primary_color":"#FF0000"}}}`),
			http.StatusCreated)
		named := `{"schema_version":1,"title":{"zh":"专区"},"templates":["tpl-a"],"body":{"type":"page","id":"root"}}`
		plain := `{"schema_version":1,"title":{"zh":"专区"},"body":{"type":"page","id":"root"}}`
		publish := func(version int64) *httptest.ResponseRecorder {
			return e.do(request{method: http.MethodPost, path: "/admin/zones/zone-a/page/publish?lang=en",
				body: map[string]int64{"version": version}, admin: true})
		}
		expectUnknown := func(w *httptest.ResponseRecorder) {
			t.Helper()
			body := expectError(t, w, http.StatusBadRequest, "INVALID_PAGE")
			if len(body.Error.Details) != 1 || body.Error.Details[0].Path != "/document/templates/0" ||
				body.Error.Details[0].Reason != string(page.CodeUnknownTemplate) {
				t.Fatalf("details = %+v, want unknown_template at /document/templates/0", body.Error.Details)
			}
			if msg := body.Error.Details[0].Message; msg != `template "tpl-a" does not exist; a page may name only templates that exist, published or not` {
				t.Errorf("message = %q", msg)
			}
		}

		// A draft template passes: the page renders without it until it is
		// published.
		d := saveDraft(t, e, named, 0)
		w := publish(d.Version)
		expectStatus(t, w, http.StatusCreated)
		var v1 PageVersion
		decodeBody(t, w, &v1)

		// Deleting the template leaves the live version rendering without it,
		// but the draft naming it can no longer be published or saved.
		expectStatus(t, e.admin(http.MethodDelete, "/admin/templates/tpl-a?version=1", nil), http.StatusNoContent)
		expectStatus(t, e.get("/zones/zone-a/page?channel=wechat"), http.StatusOK)
		ops := countRows(t, db, "zone_oplog")
		expectUnknown(publish(v1.DraftVersion))
		expectUnknown(e.do(request{method: http.MethodPut, path: "/admin/zones/zone-a/page?lang=en", admin: true,
			body: map[string]any{"version": v1.DraftVersion, "document": json.RawMessage(named)}}))
		if n := countRows(t, db, "zone_page_versions"); n != 1 {
			t.Fatalf("page versions = %d after a rejected publish, want 1", n)
		}
		var draft PageDraft
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/zone-a/page", nil), &draft)
		if draft.Version != v1.DraftVersion {
			t.Fatalf("draft version = %d after a rejected publish, want %d", draft.Version, v1.DraftVersion)
		}
		if _, err := e.srv.store.SavePageDraft(context.Background(), "alice", "zone-a", json.RawMessage(named), draft.Version); httpx.AsError(err).Code.ID != "INVALID_PAGE" {
			t.Fatalf("SavePageDraft naming a deleted template = %v, want INVALID_PAGE", err)
		}

		// Rolling back to the version that names the template would restore
		// it to the draft and to the live page.
		d = saveDraft(t, e, plain, v1.DraftVersion)
		w = publish(d.Version)
		expectStatus(t, w, http.StatusCreated)
		var v2 PageVersion
		decodeBody(t, w, &v2)
		expectUnknown(e.do(request{method: http.MethodPost, path: "/admin/zones/zone-a/page/rollback?lang=en", admin: true,
			body: map[string]int64{"version": v2.DraftVersion, "to": v1.Version}}))
		if n := countRows(t, db, "zone_page_versions"); n != 2 {
			t.Fatalf("page versions = %d after a rejected rollback, want 2", n)
		}
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/zone-a/page", nil), &draft)
		if draft.Version != v2.DraftVersion || strings.Contains(string(draft.Document), "tpl-a") {
			t.Fatalf("draft after a rejected rollback = %+v, want version %d without tpl-a", draft, v2.DraftVersion)
		}
		if n := countRows(t, db, "zone_oplog"); n != ops+2 {
			t.Fatalf("operation-log entries = %d, want %d: only the save and the publish", n, ops+2)
		}

		// A template created again under the same id makes the version valid.
		expectStatus(t, e.admin(http.MethodPost, "/admin/templates",
			`{"id":"tpl-a","theme":"holiday","name":{"zh":"节日"},"body":{"schema_version":1,"theme":{"primary_color":"#00FF00"}}}`),
			http.StatusCreated)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones/zone-a/page/rollback",
			map[string]int64{"version": v2.DraftVersion, "to": v1.Version}), http.StatusCreated)
	})
}

// TestPageSaveListsUnknownTemplates checks that a save with other problems
// also lists the templates that do not exist, unless the templates list
// itself has problems.
func TestPageSaveListsUnknownTemplates(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := pageEnv(t, db)
		for _, tt := range []struct {
			name, templates string
			want            []string // path and reason of each detail, sorted
		}{
			{"unknown template", `["no-such"]`, []string{"/document/templates/0 unknown_template", "/document/title/zh schema"}},
			{"invalid id", `["Bad Id"]`, []string{"/document/templates/0 schema", "/document/title/zh schema"}},
			{"repeated id", `["no-such","no-such"]`, []string{"/document/templates schema", "/document/title/zh schema"}},
		} {
			doc := `{"version":0,"document":{"schema_version":1,"title":{"zh":""},"templates":` + tt.templates + `,"body":{"type":"page","id":"root"}}}`
			body := expectError(t, e.admin(http.MethodPut, "/admin/zones/zone-a/page", doc), http.StatusBadRequest, "INVALID_PAGE")
			var got []string
			for _, d := range body.Error.Details {
				got = append(got, d.Path+" "+d.Reason)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: details %v, want %v", tt.name, got, tt.want)
			}
		}
	})
}

// TestPageDocumentAtSizeLimit saves a document of exactly
// page.MaxDocumentBytes with the default body limit.
func TestPageDocumentAtSizeLimit(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := pageEnv(t, db)
		const rest = `"schema_version":1,"title":{"zh":"大"},"body":{"type":"page","id":"root"}}`
		padded := func(size int) string {
			return "{" + strings.Repeat(" ", size-1-len(rest)) + rest
		}

		// The bodies are strings: encoding a json.RawMessage would compact
		// the padding away.
		doc := padded(page.MaxDocumentBytes)
		if len(doc) != page.MaxDocumentBytes {
			t.Fatalf("document is %d bytes, want %d", len(doc), page.MaxDocumentBytes)
		}
		w := e.admin(http.MethodPut, "/admin/zones/zone-a/page", `{"version":0,"document":`+doc+`}`)
		expectStatus(t, w, http.StatusOK)
		var d PageDraft
		decodeBody(t, w, &d)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones/zone-a/page/publish", map[string]int64{"version": d.Version}), http.StatusCreated)

		over := `{"version":2,"document":` + padded(page.MaxDocumentBytes+1) + `}`
		body := expectError(t, e.admin(http.MethodPut, "/admin/zones/zone-a/page", over), http.StatusBadRequest, "INVALID_PAGE")
		if len(body.Error.Details) != 1 || body.Error.Details[0].Reason != string(page.CodeTooLarge) {
			t.Fatalf("document one byte over = %+v, want too_large", body.Error.Details)
		}
	})
}

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(t *testing.T, a, b json.RawMessage) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

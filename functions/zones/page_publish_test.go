package zones

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/zones/page"
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

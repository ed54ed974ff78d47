package localdev

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jingtong/backend/shared/httpx"
)

// TestDocsUpToDate checks that docs/errors.md and docs/api/<function>.json
// match the code. `make docs` (JT_UPDATE_DOCS=1) rewrites them.
func TestDocsUpToDate(t *testing.T) {
	srv := newTestServer(t)
	update := os.Getenv("JT_UPDATE_DOCS") == "1"

	check := func(path string, want []byte) {
		t.Helper()
		full := filepath.Join("..", path)
		if update {
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, want, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		got, err := os.ReadFile(full)
		if err != nil {
			t.Fatalf("%s: %v; run `make docs`", path, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s is out of date; run `make docs`", path)
		}
	}

	check("docs/errors.md", errorsMarkdown())
	for _, f := range srv.Functions() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/function/"+f.Name+"/openapi.json", nil)
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("GET /function/%s/openapi.json = %d, want 200", f.Name, rec.Code)
			continue
		}
		body, _ := io.ReadAll(rec.Body)
		check("docs/api/"+f.Name+".json", body)
	}
}

func errorsMarkdown() []byte {
	var b strings.Builder
	b.WriteString("# Error codes\n\n")
	b.WriteString("Every error response has the body\n")
	b.WriteString("`{\"error\": {\"code\", \"message\", \"request_id\", \"details\"}}`. The message is in\n")
	b.WriteString("Chinese by default and in English for `Accept-Language: en` (or `?lang=en`).\n")
	b.WriteString("`%s`, `%d` and `%q` stand for values filled in at run time.\n")
	b.WriteString("This page is generated from the code by `make docs`.\n\n")
	b.WriteString("Go's HTTP server rejects some requests before any handler runs. Their responses\n")
	b.WriteString("are plain text without a request id. A malformed request line or header gets 400, and\n")
	b.WriteString("so does a request target with an invalid percent escape such as `%zz`. A request line\n")
	b.WriteString("and headers over 1 MiB get 431. Between 64 KiB and 1 MiB, the JSON\n")
	b.WriteString("`HEADERS_TOO_LARGE` below applies.\n\n")
	b.WriteString("| code | HTTP status | 中文 | English |\n| --- | --- | --- | --- |\n")
	for _, c := range httpx.Codes() {
		fmt.Fprintf(&b, "| `%s` | %d | %s | %s |\n", c.ID, c.Status, escapeCell(c.ZH), escapeCell(c.EN))
	}
	return []byte(b.String())
}

func escapeCell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

func newTestServer(t testing.TB) *Server {
	t.Helper()
	cfg := Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), DrainTimeout: DefaultDrainTimeout}
	lookup := func(string) (string, bool) { return "", false }
	srv, err := New(context.Background(), cfg, lookup, discardLogger())
	if err != nil {
		t.Fatalf("localdev.New: %v", err)
	}
	t.Cleanup(srv.Close)
	return srv
}

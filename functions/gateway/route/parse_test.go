package route_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jingtong/backend/functions/gateway/route"
)

func TestParse_reportsEveryProblem(t *testing.T) {
	t.Parallel()

	src := `{"routes": [
	  {"name": "Bad Name", "prefix": "api/x/", "class": "secret", "methods": ["GET", "FETCH", "GET"],
	   "target": {"function": "zones", "upstreams": [{"url": "http://a"}]},
	   "timeout": "soon", "retries": 9, "max_body_bytes": -1, "surprise": true},
	  {"name": "up", "prefix": "/api/up", "class": "public",
	   "target": {"upstreams": [{"url": "ftp://a"}, {"url": "http://b?x=1", "weight": 5000}, {"url": 7}], "balance": "random"},
	   "rewrite": {"strip_prefix": true, "replace_prefix": "/x"},
	   "health": {"active": {"path": "healthz", "interval": "1ms"}, "passive": {"max_failures": 0, "cool_down": "2h"}},
	   "cors": {"allow_origins": ["*", "HTTPS://Upper.example.cn", "https://a.example.cn/path"], "allow_credentials": true, "max_age": "48h"},
	   "convert": {"request": "yaml", "response": "xml", "xml_root": "1bad", "max_depth": 65},
	   "errors": {"timeout": {"code": "UPSTREAM_TIMEOUT", "status": 200, "zh": "", "en": "busy"}, "later": {}},
	   "rate_limits": [{"name": "p", "rate": 0, "period": "1s", "by": ["zone", "planet"]}, {"name": "p", "rate": 1, "period": "1s", "zone_pattern": "("}],
	   "versions": {"header": "X API", "default": "v9", "targets": {"v1": {"function": "zones"}}}},
	  {"name": "up", "prefix": "/api/up", "class": "public", "methods": ["GET"], "target": {"function": "zones"}}
	]}`

	_, err := route.Parse([]byte(src))
	var verr *route.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Parse error = %v, want a *ValidationError", err)
	}
	var paths []string
	for _, p := range verr.Problems {
		paths = append(paths, p.Path)
	}

	want := []string{
		"/routes/0/name",
		"/routes/0/prefix",
		"/routes/0/class",
		"/routes/0/methods/1",
		"/routes/0/methods/2",
		"/routes/0/target",
		"/routes/0/timeout",
		"/routes/0/retries",
		"/routes/0/max_body_bytes",
		"/routes/0/surprise",
		"/routes/1/target/upstreams/0/url",
		"/routes/1/target/upstreams/1/url",
		"/routes/1/target/upstreams/1/weight",
		"/routes/1/target/upstreams/2/url",
		"/routes/1/target/balance",
		"/routes/1/rewrite",
		"/routes/1/health/active/path",
		"/routes/1/health/active/interval",
		"/routes/1/health/passive/cool_down",
		"/routes/1/cors/allow_origins/0",
		"/routes/1/cors/allow_origins/1",
		"/routes/1/cors/allow_origins/2",
		"/routes/1/cors/max_age",
		"/routes/1/convert/request",
		"/routes/1/convert/response",
		"/routes/1/convert/xml_root",
		"/routes/1/convert/max_depth",
		"/routes/1/errors/timeout/code",
		"/routes/1/errors/timeout/status",
		"/routes/1/errors/timeout/zh",
		"/routes/1/errors/later",
		"/routes/1/rate_limits/0",
		"/routes/1/rate_limits/0/by/1",
		"/routes/1/rate_limits/0/zone_pattern",
		"/routes/1/rate_limits/1/name",
		"/routes/1/rate_limits/1/zone_pattern",
		"/routes/1/versions/header",
		"/routes/1/versions/default",
		"/routes/2/name",
		"/routes/2/methods",
	}
	for _, w := range want {
		if !slices.Contains(paths, w) {
			t.Errorf("no problem reported at %s", w)
		}
	}
	if t.Failed() {
		t.Logf("reported:\n%v", verr)
	}
	// The type problem at /routes/1/target/upstreams/2/url must not come
	// back as "url is required".
	count := 0
	for _, p := range paths {
		if p == "/routes/1/target/upstreams/2/url" {
			count++
		}
	}
	if count != 1 {
		t.Errorf("problems at /routes/1/target/upstreams/2/url = %d, want 1", count)
	}
}

func TestParse_syntaxAndShapeErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name, src, path, text string
	}{
		{name: "syntax", src: `{"routes": [`, path: "", text: "end of JSON"},
		{name: "trailing data", src: `{"routes": []} {}`, path: "", text: "trailing data"},
		{name: "not an object", src: `[]`, path: "", text: "must be an object"},
		{name: "no routes", src: `{}`, path: "/routes", text: "at least one route"},
		{name: "routes not array", src: `{"routes": {}}`, path: "/routes", text: "must be an array"},
		{name: "duplicate field", src: `{"routes": [{"name": "a", "name": "b", "prefix": "/a", "class": "internal"}]}`, path: "/routes/0/name", text: "duplicate"},
		{name: "too deep", src: strings.Repeat("[", 40) + strings.Repeat("]", 40), path: "", text: "nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := route.Parse([]byte(tt.src))
			var verr *route.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse error = %v, want a *ValidationError", err)
			}
			p := verr.Problems[0]
			if p.Path != tt.path || !strings.Contains(p.Message, tt.text) {
				t.Errorf("first problem = %q, want path %q containing %q", p, tt.path, tt.text)
			}
		})
	}
}

func TestLoad_inlineAndFile(t *testing.T) {
	t.Parallel()

	src := `{"routes": [{"name": "a", "prefix": "/a", "class": "internal"}]}`
	inline, err := route.Load("  " + src)
	if err != nil {
		t.Fatalf("Load(inline): %v", err)
	}
	path := filepath.Join(t.TempDir(), "routes.json")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, err := route.Load(path)
	if err != nil {
		t.Fatalf("Load(file): %v", err)
	}
	if inline.Routes[0].Name != "a" || fromFile.Routes[0].Name != "a" {
		t.Errorf("routes = %+v and %+v, want one route named a", inline.Routes, fromFile.Routes)
	}

	if _, err := route.Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Load(missing file) error = nil, want an error")
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"routes": [{"name": "a"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = route.Load(bad)
	var verr *route.ValidationError
	if !errors.As(err, &verr) || !strings.Contains(err.Error(), bad) {
		t.Errorf("Load(bad file) error = %v, want a *ValidationError naming the file", err)
	}
}

func TestDefault_servesLocaldevRoutes(t *testing.T) {
	t.Parallel()

	table := route.Default()
	seen := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Path", r.URL.Path)
		w.WriteHeader(http.StatusOK)
	}
	rt := newRouterFromTable(t, table, route.Options{Functions: map[string]http.Handler{
		"zones":   http.HandlerFunc(seen),
		"gateway": http.HandlerFunc(seen),
	}})

	tests := []struct {
		method, path string
		class        route.Class
		forwarded    string // path the function receives, or "" when no route serves it
	}{
		{"GET", "/api/zones/zones", route.ClassPublic, "/zones"},
		{"GET", "/api/zones/zones/life-marriage", route.ClassPublic, "/zones/life-marriage"},
		{"GET", "/api/zones/zones/life-marriage/page", route.ClassPublic, "/zones/life-marriage/page"},
		{"GET", "/api/zones/zones/life-marriage/services", route.ClassPublic, "/zones/life-marriage/services"},
		{"GET", "/api/zones/services/search", route.ClassPublic, "/services/search"},
		{"GET", "/api/zones/items/one-thing-newborn", route.ClassPublic, "/items/one-thing-newborn"},
		{"GET", "/api/zones/openapi.json", route.ClassPublic, "/openapi.json"},
		{"POST", "/api/zones/admin/zones", route.ClassIdentified, "/admin/zones"},
		{"GET", "/api/gateway/keys", route.ClassPublic, "/keys"},
		{"POST", "/api/gateway/session", route.ClassPublic, "/session"},
		{"POST", "/api/gateway/login", route.ClassPublic, "/login"},
		{"GET", "/function/zones/zones", "", ""},
		{"POST", "/api/zones/zones", "", ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, "http://gw"+tt.path, nil)
		r, ok := rt.Match(req)
		if tt.forwarded == "" {
			if ok {
				t.Errorf("Match(%s %s) = %s, want no route", tt.method, tt.path, r.Name)
			}
			continue
		}
		if !ok || r.Class != tt.class {
			t.Errorf("Match(%s %s) = %v, %t, want class %s", tt.method, tt.path, r, ok, tt.class)
			continue
		}
		rec := serve(rt, req)
		if got := rec.Header().Get("X-Seen-Path"); got != tt.forwarded {
			t.Errorf("%s %s reached the function as %q, want %q", tt.method, tt.path, got, tt.forwarded)
		}
	}
}

func TestNew_missingFunction(t *testing.T) {
	t.Parallel()

	_, err := route.New(route.Default(), route.Options{Functions: map[string]http.Handler{"zones": http.NotFoundHandler()}})
	if err == nil || !strings.Contains(err.Error(), `function "gateway"`) {
		t.Errorf("New error = %v, want one naming the gateway function", err)
	}
}

// newRouterFromTable builds a router and closes it when the test ends.
func newRouterFromTable(t testing.TB, table *route.Table, opts route.Options) *route.Router {
	t.Helper()
	rt, err := route.New(table, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

package route_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jingtong/backend/functions/gateway/route"
)

// nameHandler responds with the function name and the path it received.
func nameHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Function", name)
		w.Header().Set("X-Seen-Path", r.URL.EscapedPath())
		w.WriteHeader(http.StatusOK)
	})
}

const matchTable = `{"routes": [
  {"name": "api", "prefix": "/api", "class": "public", "target": {"function": "a"}},
  {"name": "zones", "prefix": "/api/zones", "class": "public", "target": {"function": "b"}},
  {"name": "zones-write", "prefix": "/api/zones", "class": "identified", "methods": ["POST", "DELETE"], "target": {"function": "c"}},
  {"name": "admin", "prefix": "/api/zones/admin", "class": "internal"},
  {"name": "root", "prefix": "/", "class": "public", "methods": ["GET"], "target": {"function": "a"}},
  {"name": "versioned", "prefix": "/api/v", "class": "public",
   "target": {"function": "a"},
   "versions": {"header": "X-API-Version", "query": "version", "targets": {"v2": {"function": "b"}, "v3": {"function": "c"}}}},
  {"name": "defaulted", "prefix": "/api/d", "class": "public",
   "target": {"function": "a"},
   "versions": {"query": "version", "default": "v2", "targets": {"v2": {"function": "b"}}}}
]}`

func matchRouter(t testing.TB) *route.Router {
	return newRouter(t, matchTable, route.Options{Functions: map[string]http.Handler{
		"a": nameHandler("a"), "b": nameHandler("b"), "c": nameHandler("c"),
	}})
}

func TestMatch_longestPrefixAndMethod(t *testing.T) {
	t.Parallel()
	rt := matchRouter(t)

	tests := []struct {
		method, path, want string // want "" means no match
	}{
		{"GET", "/api", "api"},
		{"GET", "/api/", "api"},
		{"GET", "/api/other", "api"},
		{"GET", "/api/zonesx", "api"},
		{"GET", "/api/zones", "zones"},
		{"GET", "/api/zones/a/b", "zones"},
		{"HEAD", "/api/zones/a", "zones"},
		{"POST", "/api/zones/a", "zones-write"},
		{"DELETE", "/api/zones", "zones-write"},
		{"PUT", "/api/zones", ""},
		{"GET", "/api/zones/admin", ""},
		{"GET", "/api/zones/admin/x", ""},
		{"GET", "/elsewhere", "root"},
		{"GET", "/", "root"},
		{"GET", "/api/../function/x", ""},
		{"GET", "/api//zones", ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, "http://gw"+tt.path, nil)
		r, ok := rt.Match(req)
		got := ""
		if ok {
			got = r.Name
		}
		if got != tt.want {
			t.Errorf("Match(%s %s) = %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestServeHTTP_notFoundMethodAndInternal(t *testing.T) {
	t.Parallel()
	rt := newRouter(t, `{"routes": [
	  {"name": "zones", "prefix": "/api/zones", "class": "public", "methods": ["GET"], "target": {"function": "a"}},
	  {"name": "internal", "prefix": "/api/zones/admin", "class": "internal"},
	  {"name": "fn", "prefix": "/function", "class": "internal"}
	]}`, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}})

	rec := serve(rt, httptest.NewRequest("POST", "/api/zones/x", nil))
	wantError(t, rec, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q, want %q", got, "GET, HEAD")
	}

	missing := serve(rt, httptest.NewRequest("GET", "/api/nothing", nil))
	wantError(t, missing, http.StatusNotFound, "ROUTE_NOT_FOUND")

	for _, p := range []string{"/api/zones/admin", "/api/zones/admin/zones", "/function/zones/zones"} {
		rec := serve(rt, httptest.NewRequest("GET", p, nil))
		wantError(t, rec, http.StatusNotFound, "ROUTE_NOT_FOUND")
		if rec.Body.String() != missing.Body.String() {
			t.Errorf("GET %s body = %s, want the body of a missing route %s", p, rec.Body, missing.Body)
		}
		if rec.Header().Get("X-Function") != "" {
			t.Errorf("GET %s reached a function", p)
		}
	}

	bad := serve(rt, httptest.NewRequest("GET", "/api/zones/./x", nil))
	wantError(t, bad, http.StatusBadRequest, "ROUTE_INVALID_PATH")
}

func TestServeHTTP_versions(t *testing.T) {
	t.Parallel()
	rt := matchRouter(t)

	tests := []struct {
		name, target, header, want string
	}{
		{name: "no version", target: "/api/v/x", want: "a"},
		{name: "header", target: "/api/v/x", header: "v2", want: "b"},
		{name: "query", target: "/api/v/x?version=v3", want: "c"},
		{name: "header beats query", target: "/api/v/x?version=v3", header: "v2", want: "b"},
		{name: "default version", target: "/api/d/x", want: "b"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", tt.target, nil)
		if tt.header != "" {
			req.Header.Set("X-API-Version", tt.header)
		}
		rec := serve(rt, req)
		if got := rec.Header().Get("X-Function"); got != tt.want {
			t.Errorf("%s: served by %q, want %q", tt.name, got, tt.want)
		}
	}

	req := httptest.NewRequest("GET", "/api/v/x?version=v9", nil)
	req.Header.Set("Accept-Language", "en")
	e := wantError(t, serve(rt, req), http.StatusBadRequest, "API_VERSION_UNSUPPORTED")
	if !strings.Contains(e.Error.Message, `"v9"`) || !strings.Contains(e.Error.Message, "v2, v3") {
		t.Errorf("message = %q, want the version and the available ones", e.Error.Message)
	}
}

func TestHandler_wrapsEachRouteOnce(t *testing.T) {
	t.Parallel()
	rt := matchRouter(t)

	built := map[string]int{}
	h := rt.Handler(func(r *route.Route, next http.Handler) http.Handler {
		built[r.Name]++
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("X-Class", string(r.Class))
			next.ServeHTTP(w, req)
		})
	})
	if built["admin"] != 0 || built["zones"] != 1 || built["zones-write"] != 1 {
		t.Errorf("wrap calls = %v, want one per public or identified route and none for internal ones", built)
	}

	rec := serve(h, httptest.NewRequest("POST", "/api/zones/x", nil))
	if rec.Header().Get("X-Class") != "identified" || rec.Header().Get("X-Function") != "c" {
		t.Errorf("POST /api/zones/x: class %q function %q, want identified and c", rec.Header().Get("X-Class"), rec.Header().Get("X-Function"))
	}
	rec = serve(h, httptest.NewRequest("GET", "/api/zones/admin", nil))
	wantError(t, rec, http.StatusNotFound, "ROUTE_NOT_FOUND")
	if rec.Header().Get("X-Class") != "" {
		t.Error("an internal route ran a middleware chain")
	}
}

func TestServeHTTP_routeFromContext(t *testing.T) {
	t.Parallel()
	rt := matchRouter(t)

	req := httptest.NewRequest("GET", "/api/zones/x", nil)
	r, ok := rt.Match(req)
	if !ok {
		t.Fatal("Match found no route")
	}
	// A route stored in the context is used as is, even for another path.
	other := httptest.NewRequest("GET", "/elsewhere", nil)
	rec := serve(rt, other.WithContext(route.WithRoute(other.Context(), r)))
	if got := rec.Header().Get("X-Function"); got != "b" {
		t.Errorf("served by %q, want b (the zones route from the context)", got)
	}
	if route.FromContext(req.Context()) != nil {
		t.Error("FromContext(plain context) != nil")
	}
}

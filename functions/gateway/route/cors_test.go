package route_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jingtong/backend/functions/gateway/route"
)

const corsTable = `{"routes": [
  {"name": "h5", "prefix": "/api/h5", "class": "public", "methods": ["GET", "POST"], "target": {"function": "a"},
   "cors": {"allow_origins": ["https://h5.example.cn", "https://*.zwfw.example.cn"],
            "allow_headers": ["Content-Type", "X-Request-Id"], "expose_headers": ["X-Request-Id"],
            "allow_credentials": true, "max_age": "5m"}},
  {"name": "open", "prefix": "/api/open", "class": "public", "target": {"function": "a"},
   "cors": {"allow_origins": ["*"]}},
  {"name": "plain", "prefix": "/api/plain", "class": "public", "target": {"function": "a"}}
]}`

func corsRouter(t testing.TB) *route.Router {
	return newRouter(t, corsTable, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}})
}

func preflight(path, origin, method string) *http.Request {
	req := httptest.NewRequest("OPTIONS", path, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	return req
}

func TestCORS_preflight(t *testing.T) {
	t.Parallel()
	rt := corsRouter(t)

	rec := serve(rt, preflight("/api/h5/x", "https://h5.example.cn", "POST"))
	if rec.Code != http.StatusNoContent {
		t.Fatalf("allowed preflight: status %d, want 204", rec.Code)
	}
	want := map[string]string{
		"Access-Control-Allow-Origin":      "https://h5.example.cn",
		"Access-Control-Allow-Methods":     "GET, POST, HEAD",
		"Access-Control-Allow-Headers":     "Content-Type, X-Request-Id",
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Max-Age":           "300",
	}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if vary := rec.Header().Values("Vary"); len(vary) != 3 {
		t.Errorf("Vary = %q, want Origin and the two request headers", vary)
	}
	if rec.Header().Get("X-Function") != "" {
		t.Error("the preflight reached the function")
	}

	sub := serve(rt, preflight("/api/h5/x", "https://bj.zwfw.example.cn", "GET"))
	if sub.Code != http.StatusNoContent || sub.Header().Get("Access-Control-Allow-Origin") != "https://bj.zwfw.example.cn" {
		t.Errorf("wildcard subdomain preflight: %d %q", sub.Code, sub.Header().Get("Access-Control-Allow-Origin"))
	}

	for _, origin := range []string{"https://evil.example", "https://zwfw.example.cn", "http://h5.example.cn", "https://x.zwfw.example.cn.evil"} {
		wantError(t, serve(rt, preflight("/api/h5/x", origin, "GET")), http.StatusForbidden, "CORS_ORIGIN_DENIED")
	}
	wantError(t, serve(rt, preflight("/api/h5/x", "https://h5.example.cn", "DELETE")), http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED")
	wantError(t, serve(rt, preflight("/api/plain", "https://h5.example.cn", "GET")), http.StatusForbidden, "CORS_ORIGIN_DENIED")

	open := serve(rt, preflight("/api/open", "https://anyone.example", "GET"))
	if open.Code != http.StatusNoContent || open.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("open preflight: %d %q, want 204 and *", open.Code, open.Header().Get("Access-Control-Allow-Origin"))
	}
}

func TestCORS_simpleRequests(t *testing.T) {
	t.Parallel()
	rt := corsRouter(t)

	req := httptest.NewRequest("GET", "/api/h5/x", nil)
	req.Header.Set("Origin", "https://h5.example.cn")
	rec := serve(rt, req)
	if rec.Code != http.StatusOK || rec.Header().Get("X-Function") != "a" {
		t.Fatalf("allowed origin: status %d", rec.Code)
	}
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "https://h5.example.cn" {
		t.Errorf("Allow-Origin = %q", got)
	}
	if got := rec.Header().Get("Access-Control-Expose-Headers"); got != "X-Request-Id" {
		t.Errorf("Expose-Headers = %q", got)
	}

	denied := httptest.NewRequest("POST", "/api/h5/x", nil)
	denied.Header.Set("Origin", "https://evil.example")
	denied.Header.Set("Accept-Language", "en")
	e := wantError(t, serve(rt, denied), http.StatusForbidden, "CORS_ORIGIN_DENIED")
	if e.Error.Message != `origin "https://evil.example" may not call this API across origins` {
		t.Errorf("message = %q", e.Error.Message)
	}

	same := httptest.NewRequest("POST", "http://gw.example/api/h5/x", nil)
	same.Header.Set("Origin", "http://gw.example")
	if rec := serve(rt, same); rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("same origin: status %d, Allow-Origin %q; want 200 without CORS headers", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}

	plain := httptest.NewRequest("GET", "/api/plain", nil)
	plain.Header.Set("Origin", "https://h5.example.cn")
	if rec := serve(rt, plain); rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("route without CORS: status %d, Allow-Origin %q; want 200 without CORS headers", rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}
}

func TestCORS_upstreamHeadersDoNotOverride(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Vary", "Accept-Encoding")
		w.WriteHeader(http.StatusOK)
	})
	rt := newRouter(t, upstreamTable(`"cors": {"allow_origins": ["https://h5.example.cn"]}`, up.URL), route.Options{})
	req := httptest.NewRequest("GET", "/api/x", nil)
	req.Header.Set("Origin", "https://h5.example.cn")
	rec := serve(rt, req)
	if got := rec.Header().Values("Access-Control-Allow-Origin"); len(got) != 1 || got[0] != "https://h5.example.cn" {
		t.Errorf("Allow-Origin = %q, want only the gateway's", got)
	}
	if got := rec.Header().Values("Vary"); len(got) != 2 {
		t.Errorf("Vary = %q, want Origin and Accept-Encoding", got)
	}
}

// TestCORS_varyWithoutOrigin checks that a route whose responses name the
// caller's origin sends Vary: Origin once on every response. Requests
// without Origin and from the gateway's own origin get it too, so that a
// shared cache never serves their responses to a cross-origin page.
func TestCORS_varyWithoutOrigin(t *testing.T) {
	t.Parallel()
	rt := corsRouter(t)

	noOrigin := httptest.NewRequest("GET", "/api/h5/x", nil)
	same := httptest.NewRequest("GET", "http://gw.example/api/h5/x", nil)
	same.Header.Set("Origin", "http://gw.example")
	allowed := httptest.NewRequest("GET", "/api/h5/x", nil)
	allowed.Header.Set("Origin", "https://h5.example.cn")
	for name, req := range map[string]*http.Request{"no origin": noOrigin, "same origin": same, "allowed origin": allowed} {
		rec := serve(rt, req)
		if got := rec.Header().Values("Vary"); len(got) != 1 || got[0] != "Origin" {
			t.Errorf("%s: Vary = %q, want Origin once", name, got)
		}
	}

	open := httptest.NewRequest("GET", "/api/open/x", nil)
	open.Header.Set("Origin", "https://any.example")
	if got := serve(rt, open).Header().Values("Vary"); len(got) != 0 {
		t.Errorf("route allowing every origin: Vary = %q, want none", got)
	}
	if got := serve(rt, httptest.NewRequest("GET", "/api/plain", nil)).Header().Values("Vary"); len(got) != 0 {
		t.Errorf("route without CORS: Vary = %q, want none", got)
	}
}

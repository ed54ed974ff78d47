package route_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jingtong/backend/functions/gateway/route"
)

func TestRewrite_paths(t *testing.T) {
	t.Parallel()
	rt := newRouter(t, `{"routes": [
	  {"name": "strip", "prefix": "/api/strip", "class": "public", "target": {"function": "a"}, "rewrite": {"strip_prefix": true}},
	  {"name": "replace", "prefix": "/api/replace", "class": "public", "target": {"function": "a"}, "rewrite": {"replace_prefix": "/v1/"}},
	  {"name": "regexp", "prefix": "/api/re", "class": "public", "target": {"function": "a"},
	   "rewrite": {"regexp": {"pattern": "^/api/re/zones/([^/]+)/page$", "replacement": "/pages/${1}.json"}}},
	  {"name": "keep", "prefix": "/keep", "class": "public", "target": {"function": "a"}}
	]}`, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}})

	tests := []struct {
		target, want string
	}{
		{"/api/strip", "/"},
		{"/api/strip/", "/"},
		{"/api/strip/a/b", "/a/b"},
		{"/api/strip/a%2Fb/c", "/a%2Fb/c"},
		{"/api/replace", "/v1/"},
		{"/api/replace/zones", "/v1/zones"},
		{"/api/re/zones/life/page", "/pages/life.json"},
		{"/api/re/other", "/api/re/other"},
		{"/keep/x?y=1", "/keep/x"},
	}
	for _, tt := range tests {
		rec := serve(rt, httptest.NewRequest("GET", tt.target, nil))
		if got := rec.Header().Get("X-Seen-Path"); got != tt.want {
			t.Errorf("GET %s reached the function as %q, want %q", tt.target, got, tt.want)
		}
	}
}

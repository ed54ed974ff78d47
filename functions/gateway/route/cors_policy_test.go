package route_test

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/jingtong/backend/functions/gateway/route"
)

// sharedCORS is a CORS policy without allow_methods, so that preflight
// responses list each route's own methods.
const sharedCORS = `{"allow_origins": ["https://h5.example.cn", "https://*.zwfw.example.cn"],
  "allow_headers": ["Content-Type", "X-Request-Id"], "expose_headers": ["X-Request-Id", "ETag"],
  "allow_credentials": true, "max_age": "5m"}`

// corsPolicyTable returns a table with two routes of different methods
// whose "cors" is cors, and sharedCORS defined as the policy "h5".
func corsPolicyTable(cors string) string {
	return `{"cors_policies": {"h5": ` + sharedCORS + `},
	"routes": [
	  {"name": "read", "prefix": "/api/read", "class": "public", "methods": ["GET"], "target": {"function": "a"}, "cors": ` + cors + `},
	  {"name": "write", "prefix": "/api/write", "class": "public", "methods": ["GET", "POST", "OPTIONS"], "target": {"function": "a"}, "cors": ` + cors + `}
	]}`
}

// response is what a CORS comparison looks at in a recorded response.
type response struct {
	status int
	header http.Header
	body   string
}

func record(h http.Handler, req *http.Request) response {
	rec := serve(h, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

// corsRequests returns preflight and actual requests for path, from
// allowed, denied, same and missing origins.
func corsRequests(path string) map[string]*http.Request {
	withOrigin := func(method, origin string) *http.Request {
		req := httptest.NewRequest(method, "http://gw.example"+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		return req
	}
	return map[string]*http.Request{
		"preflight GET":              preflight(path, "https://h5.example.cn", "GET"),
		"preflight POST":             preflight(path, "https://h5.example.cn", "POST"),
		"preflight DELETE":           preflight(path, "https://h5.example.cn", "DELETE"),
		"preflight subdomain":        preflight(path, "https://bj.zwfw.example.cn", "GET"),
		"preflight denied origin":    preflight(path, "https://evil.example", "GET"),
		"GET allowed origin":         withOrigin("GET", "https://h5.example.cn"),
		"GET subdomain":              withOrigin("GET", "https://bj.zwfw.example.cn"),
		"GET denied origin":          withOrigin("GET", "https://evil.example"),
		"GET same origin":            withOrigin("GET", "http://gw.example"),
		"GET without origin":         withOrigin("GET", ""),
		"POST allowed origin":        withOrigin("POST", "https://h5.example.cn"),
		"OPTIONS without method":     withOrigin("OPTIONS", "https://h5.example.cn"),
		"HEAD allowed origin":        withOrigin("HEAD", "https://h5.example.cn"),
		"OPTIONS without origin":     withOrigin("OPTIONS", ""),
		"preflight subdomain denied": preflight(path, "https://zwfw.example.cn", "GET"),
	}
}

func TestCORSPolicy_namedMatchesInline(t *testing.T) {
	t.Parallel()

	opts := route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}}
	inline := newRouter(t, corsPolicyTable(sharedCORS), opts)
	named := newRouter(t, corsPolicyTable(`"h5"`), opts)

	for _, path := range []string{"/api/read/x", "/api/write/x"} {
		requests := corsRequests(path)
		for _, name := range slices.Sorted(maps.Keys(requests)) {
			req := requests[name]
			want := record(inline, req.Clone(req.Context()))
			got := record(named, req.Clone(req.Context()))
			if got.status != want.status {
				t.Errorf("%s %s: status = %d with the named policy, %d inline", path, name, got.status, want.status)
			}
			if !maps.EqualFunc(got.header, want.header, slices.Equal) {
				t.Errorf("%s %s: headers = %v with the named policy, %v inline", path, name, got.header, want.header)
			}
			if got.body != want.body {
				t.Errorf("%s %s: body = %q with the named policy, %q inline", path, name, got.body, want.body)
			}
		}
	}

	// The comparison above means something only if the policy applies, and
	// each route lists its own methods, because newCORS compiles per route.
	for path, methods := range map[string]string{"/api/read/x": "GET, HEAD", "/api/write/x": "GET, POST, HEAD"} {
		rec := serve(named, preflight(path, "https://h5.example.cn", "GET"))
		if rec.Code != http.StatusNoContent {
			t.Errorf("preflight %s: status = %d, want 204", path, rec.Code)
		}
		if got := rec.Header().Get("Access-Control-Allow-Methods"); got != methods {
			t.Errorf("preflight %s: Access-Control-Allow-Methods = %q, want %q", path, got, methods)
		}
		if got := rec.Header().Get("Access-Control-Max-Age"); got != "300" {
			t.Errorf("preflight %s: Access-Control-Max-Age = %q, want 300", path, got)
		}
	}
}

func TestCORSPolicy_parsedAsName(t *testing.T) {
	t.Parallel()

	table := mustParse(t, corsPolicyTable(`"h5"`))
	for _, r := range table.Routes {
		if r.CORSPolicy != "h5" {
			t.Errorf("route %s: CORSPolicy = %q, want h5", r.Name, r.CORSPolicy)
		}
		if r.CORS != nil {
			t.Errorf("route %s: CORS = %+v, want nil for a named policy", r.Name, r.CORS)
		}
	}
	policy, ok := table.CORSPolicies["h5"]
	if !ok {
		t.Fatalf("CORSPolicies = %v, want h5", table.CORSPolicies)
	}
	if !slices.Equal(policy.AllowOrigins, []string{"https://h5.example.cn", "https://*.zwfw.example.cn"}) {
		t.Errorf("h5 allow_origins = %q", policy.AllowOrigins)
	}
}

func TestCORSPolicy_unusedAllowed(t *testing.T) {
	t.Parallel()

	table := mustParse(t, `{"cors_policies": {"spare": {"allow_origins": ["*"]}},
	  "routes": [{"name": "a", "prefix": "/a", "class": "public", "target": {"function": "a"}}]}`)
	if _, ok := table.CORSPolicies["spare"]; !ok {
		t.Errorf("CORSPolicies = %v, want spare", table.CORSPolicies)
	}
	rt := newRouterFromTable(t, table, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}})
	wantError(t, serve(rt, preflight("/a", "https://h5.example.cn", "GET")), http.StatusForbidden, "CORS_ORIGIN_DENIED")
}

func TestCORSPolicy_errors(t *testing.T) {
	t.Parallel()

	// table returns a table whose cors_policies member is policies (none
	// when empty) and whose one route has "cors": cors.
	table := func(policies, cors string) string {
		member := ""
		if policies != "" {
			member = `"cors_policies": ` + policies + `, `
		}
		return `{` + member + `"routes": [{"name": "r", "prefix": "/r", "class": "public", "target": {"function": "a"}, "cors": ` + cors + `}]}`
	}
	valid := `{"allow_origins": ["https://h5.example.cn"]}`

	tests := []struct {
		name, src, path, text string
	}{
		{name: "unknown name", src: table(`{"h5": `+valid+`}`, `"h6"`),
			path: "/routes/0/cors", text: `CORS policy "h6" is not defined in cors_policies (defined policies: "h5")`},
		{name: "unknown name without policies", src: table("", `"h5"`),
			path: "/routes/0/cors", text: "cors_policies defines none"},
		{name: "unknown name among many policies", src: table(manyPolicies(12, valid), `"h6"`),
			path: "/routes/0/cors", text: `defined policies: "p00", "p01", "p02", "p03", "p04", "p05", "p06", "p07", "p08", "p09", and 2 more)`},
		{name: "empty name", src: table(`{"h5": `+valid+`}`, `""`),
			path: "/routes/0/cors", text: "CORS policy name must not be empty"},
		{name: "upper-case policy name", src: table(`{"H5": `+valid+`}`, `"H5"`),
			path: "/cors_policies/H5", text: `CORS policy name "H5" must be 1 to 63 characters`},
		{name: "policy name with a slash", src: table(`{"h5/x": `+valid+`}`, `"h5/x"`),
			path: "/cors_policies/h5~1x", text: `CORS policy name "h5/x" must be`},
		{name: "empty policy name", src: table(`{"": `+valid+`}`, valid),
			path: "/cors_policies/", text: `CORS policy name "" must be`},
		{name: "policy name too long", src: table(`{"`+strings.Repeat("a", 64)+`": `+valid+`}`, valid),
			path: "/cors_policies/" + strings.Repeat("a", 64), text: "must be 1 to 63 characters"},
		{name: "invalid origin", src: table(`{"h5": {"allow_origins": ["https://h5.example.cn/path"]}}`, `"h5"`),
			path: "/cors_policies/h5/allow_origins/0", text: "must be a lowercase scheme://host[:port]"},
		{name: "no origins", src: table(`{"h5": {"allow_headers": ["Content-Type"]}}`, `"h5"`),
			path: "/cors_policies/h5/allow_origins", text: "at least one origin is required"},
		{name: "any origin with credentials", src: table(`{"h5": {"allow_origins": ["*"], "allow_credentials": true}}`, `"h5"`),
			path: "/cors_policies/h5/allow_origins/0", text: "cannot be combined with allow_credentials"},
		{name: "max age too long", src: table(`{"h5": {"allow_origins": ["*"], "max_age": "48h"}}`, `"h5"`),
			path: "/cors_policies/h5/max_age", text: "must be between 0 and 24h0m0s"},
		{name: "unknown method", src: table(`{"h5": {"allow_origins": ["*"], "allow_methods": ["FETCH"]}}`, `"h5"`),
			path: "/cors_policies/h5/allow_methods/0", text: `method "FETCH" must be one of`},
		{name: "invalid header", src: table(`{"h5": {"allow_origins": ["*"], "allow_headers": ["Bad Header"]}}`, `"h5"`),
			path: "/cors_policies/h5/allow_headers/0", text: "is not a valid header name"},
		{name: "bad duration", src: table(`{"h5": {"allow_origins": ["*"], "max_age": "soon"}}`, `"h5"`),
			path: "/cors_policies/h5/max_age", text: "invalid duration"},
		{name: "unknown policy field", src: table(`{"h5": {"allow_origins": ["*"], "origins": []}}`, `"h5"`),
			path: "/cors_policies/h5/origins", text: `unknown field "origins"`},
		{name: "policy not an object", src: table(`{"h5": "h4"}`, `"h5"`),
			path: "/cors_policies/h5", text: "must be an object, not string"},
		{name: "duplicate policy", src: table(`{"h5": `+valid+`, "h5": `+valid+`}`, `"h5"`),
			path: "/cors_policies/h5", text: `duplicate field "h5"`},
		{name: "policies not an object", src: table(`[`+valid+`]`, valid),
			path: "/cors_policies", text: "must be an object of CORS policies by name, not array"},
		{name: "cors a number", src: table(`{"h5": `+valid+`}`, `5`),
			path: "/routes/0/cors", text: "must be a CORS policy object or the name of a policy in cors_policies, not number"},
		{name: "cors an array", src: table(`{"h5": `+valid+`}`, `["h5"]`),
			path: "/routes/0/cors", text: "not array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := route.Parse([]byte(tt.src))
			var verr *route.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse error = %v, want a *ValidationError", err)
			}
			if len(verr.Problems) != 1 {
				t.Errorf("problems = %d, want 1:\n%v", len(verr.Problems), verr)
			}
			p := verr.Problems[0]
			if p.Path != tt.path {
				t.Errorf("problem path = %q, want %q (%s)", p.Path, tt.path, p)
			}
			if !strings.Contains(p.Message, tt.text) {
				t.Errorf("problem message = %q, want it to contain %q", p.Message, tt.text)
			}
		})
	}
}

// manyPolicies returns a cors_policies object that defines count copies of
// policy, named p00, p01 and so on.
func manyPolicies(count int, policy string) string {
	var members []string
	for i := range count {
		members = append(members, fmt.Sprintf(`"p%02d": %s`, i, policy))
	}
	return "{" + strings.Join(members, ", ") + "}"
}

// TestCORSPolicy_invalidPolicyReportedOnce checks that a broken policy named
// by several routes gets one problem, under /cors_policies, and that the
// routes are not also reported as naming an undefined policy.
func TestCORSPolicy_invalidPolicyReportedOnce(t *testing.T) {
	t.Parallel()

	_, err := route.Parse([]byte(`{"cors_policies": {"h5": {"allow_origins": ["HTTPS://H5.example.cn"]}, "typed": 7},
	  "routes": [
	    {"name": "a", "prefix": "/a", "class": "public", "target": {"function": "a"}, "cors": "h5"},
	    {"name": "b", "prefix": "/b", "class": "public", "target": {"function": "a"}, "cors": "h5"},
	    {"name": "c", "prefix": "/c", "class": "public", "target": {"function": "a"}, "cors": "typed"}
	  ]}`))
	var verr *route.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("Parse error = %v, want a *ValidationError", err)
	}
	var paths []string
	for _, p := range verr.Problems {
		paths = append(paths, p.Path)
	}
	want := []string{"/cors_policies/typed", "/cors_policies/h5/allow_origins/0"}
	if !slices.Equal(paths, want) {
		t.Errorf("problem paths = %q, want %q:\n%v", paths, want, verr)
	}
}

func TestCORSPolicy_tableBuiltInGo(t *testing.T) {
	t.Parallel()

	policy := route.CORSConfig{AllowOrigins: []string{"https://h5.example.cn"}}
	table := &route.Table{
		CORSPolicies: map[string]route.CORSConfig{"h5": policy},
		Routes: []route.RouteConfig{
			{Name: "a", Prefix: "/a", Class: route.ClassPublic, Target: route.TargetConfig{Function: "a"}, CORSPolicy: "h5"},
		},
	}
	rt := newRouterFromTable(t, table, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}})
	rec := serve(rt, preflight("/a", "https://h5.example.cn", "GET"))
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://h5.example.cn" {
		t.Errorf("preflight: status %d, Access-Control-Allow-Origin %q; want 204 naming the origin",
			rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
	}

	tests := []struct {
		name string
		edit func(r *route.RouteConfig)
		text string
	}{
		{name: "unknown name", edit: func(r *route.RouteConfig) { r.CORSPolicy = "h6" }, text: `CORS policy "h6" is not defined`},
		{name: "inline and named", edit: func(r *route.RouteConfig) { r.CORS = &policy }, text: "not both"},
	}
	for _, tt := range tests {
		bad := *table
		bad.Routes = slices.Clone(table.Routes)
		tt.edit(&bad.Routes[0])
		err := bad.Validate()
		var verr *route.ValidationError
		if !errors.As(err, &verr) {
			t.Errorf("%s: Validate error = %v, want a *ValidationError", tt.name, err)
			continue
		}
		p := verr.Problems[0]
		if p.Path != "/routes/0/cors" || !strings.Contains(p.Message, tt.text) {
			t.Errorf("%s: first problem = %q, want path /routes/0/cors containing %q", tt.name, p, tt.text)
		}
		if _, err := route.New(&bad, route.Options{Functions: map[string]http.Handler{"a": nameHandler("a")}}); err == nil {
			t.Errorf("%s: New error = nil, want the validation error", tt.name)
		}
	}
}

// zonesPublicRoutes are the routes of the default table that share the
// CORS policy zones-public.
var zonesPublicRoutes = []string{"zones-catalogue", "zones-services", "zones-items", "zones-openapi"}

func TestDefault_zonesRoutesShareCORSPolicy(t *testing.T) {
	t.Parallel()

	table := route.Default()
	policy, ok := table.CORSPolicies["zones-public"]
	if !ok {
		t.Fatalf("CORSPolicies = %v, want zones-public", slices.Sorted(maps.Keys(table.CORSPolicies)))
	}
	if !slices.Equal(policy.AllowOrigins, []string{"http://127.0.0.1:8080", "http://localhost:8080"}) {
		t.Errorf("zones-public allow_origins = %q", policy.AllowOrigins)
	}
	var named []string
	for _, r := range table.Routes {
		if r.CORS != nil {
			t.Errorf("route %s has an inline CORS policy, want only the shared one", r.Name)
		}
		if r.CORSPolicy != "" {
			named = append(named, r.Name)
			if r.CORSPolicy != "zones-public" {
				t.Errorf("route %s: CORSPolicy = %q, want zones-public", r.Name, r.CORSPolicy)
			}
		}
	}
	if !slices.Equal(named, zonesPublicRoutes) {
		t.Errorf("routes naming a CORS policy = %q, want %q", named, zonesPublicRoutes)
	}

	// The same table with the policy written into each route must behave
	// the same.
	inlined := *table
	inlined.Routes = slices.Clone(table.Routes)
	for i := range inlined.Routes {
		if inlined.Routes[i].CORSPolicy != "" {
			inlined.Routes[i].CORS = &policy
			inlined.Routes[i].CORSPolicy = ""
		}
	}
	functions := map[string]http.Handler{"zones": nameHandler("zones"), "gateway": nameHandler("gateway")}
	namedRouter := newRouterFromTable(t, table, route.Options{Functions: functions})
	inlineRouter := newRouterFromTable(t, &inlined, route.Options{Functions: functions})

	for _, path := range []string{"/api/zones/zones/life-marriage/page", "/api/zones/services/search", "/api/zones/items/x", "/api/zones/openapi.json"} {
		for _, origin := range []string{"http://localhost:8080", "https://evil.example"} {
			pre := preflight(path, origin, "GET")
			pre.Header.Set("Access-Control-Request-Headers", "accept-language, x-jt-session")
			get := httptest.NewRequest("GET", path, nil)
			get.Header.Set("Origin", origin)
			for kind, req := range map[string]*http.Request{"preflight": pre, "GET": get} {
				want := record(inlineRouter, req.Clone(req.Context()))
				got := record(namedRouter, req.Clone(req.Context()))
				if got.status != want.status || !maps.EqualFunc(got.header, want.header, slices.Equal) || got.body != want.body {
					t.Errorf("%s %s from %s = %d %v %q, want %d %v %q as with the policy inline",
						kind, path, origin, got.status, got.header, got.body, want.status, want.header, want.body)
				}
			}
		}
		rec := serve(namedRouter, preflight(path, "http://localhost:8080", "GET"))
		if rec.Code != http.StatusNoContent || !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "X-JT-Session") {
			t.Errorf("preflight %s: status %d, Allow-Headers %q; want 204 allowing X-JT-Session",
				path, rec.Code, rec.Header().Get("Access-Control-Allow-Headers"))
		}
	}
}

func TestCORSPolicy_problemOrderStable(t *testing.T) {
	src := []byte(`{"cors_policies": {"e": 1, "d": 2, "c": 3, "b": 4, "a": 5}, "routes": []}`)
	_, err := route.Parse(src)
	if err == nil {
		t.Fatal("Parse accepted five policies that are not objects")
	}
	first := err.Error()
	for i := range 20 {
		_, again := route.Parse(src)
		if again == nil || again.Error() != first {
			t.Fatalf("parse %d: problems %v, want the same as the first parse: %s", i+2, again, first)
		}
	}
	if e, a := strings.Index(first, "/cors_policies/e"), strings.Index(first, "/cors_policies/a"); e < 0 || a < 0 || e > a {
		t.Errorf("problems %q, want /cors_policies/e before /cors_policies/a, in table order", first)
	}
}

func TestCORSPolicy_nameQuotedInMessage(t *testing.T) {
	_, err := route.Parse([]byte(corsPolicyTable(`"h5\nx"`)))
	if err == nil {
		t.Fatal("Parse accepted a route naming an undefined policy")
	}
	if !strings.Contains(err.Error(), `"h5\nx"`) {
		t.Errorf("error %q, want the name quoted with its newline escaped", err)
	}
}

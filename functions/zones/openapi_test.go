package zones

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/jingtong/backend/shared/store/storetest"
)

// openAPIHost is the server URL the tests put into the document, so the
// router can match absolute request URLs.
const openAPIHost = "http://zones.test"

func loadOpenAPI(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3.0 document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: openAPIHost}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("build router: %v", err)
	}
	return doc, router
}

// checkAgainstOpenAPI sends req to the handler and validates the request
// and the response against openapi.json.
func checkAgainstOpenAPI(t *testing.T, e *testEnv, router routers.Router, req request, wantStatus int) {
	t.Helper()

	var body []byte
	switch b := req.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			t.Fatalf("encode body: %v", err)
		}
	}
	newRequest := func() *http.Request {
		r := httptest.NewRequest(req.method, openAPIHost+req.path, bytes.NewReader(body))
		if body != nil {
			r.Header.Set("Content-Type", "application/json")
		}
		if req.admin {
			r.Header.Set("Authorization", "Bearer "+testToken)
		}
		for k, v := range req.headers {
			r.Header.Set(k, v)
		}
		return r
	}

	r := newRequest()
	route, pathParams, err := router.FindRoute(r)
	if err != nil {
		t.Fatalf("%s %s: no route in openapi.json: %v", req.method, req.path, err)
	}
	input := &openapi3filter.RequestValidationInput{
		Request: r, PathParams: pathParams, Route: route,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		},
	}
	if wantStatus < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
			t.Errorf("%s %s: request does not match openapi.json: %v", req.method, req.path, err)
		}
	}

	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, newRequest())
	if w.Code != wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body %s", req.method, req.path, w.Code, wantStatus, w.Body.String())
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 w.Code,
		Header:                 w.Header(),
		Body:                   io.NopCloser(bytes.NewReader(w.Body.Bytes())),
		Options:                input.Options,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s %s: %d response does not match openapi.json: %v\nbody: %.400s", req.method, req.path, w.Code, err, w.Body.String())
	}
}

func TestOpenAPIPublicRoutes(t *testing.T) {
	_, router := loadOpenAPI(t)
	e := newSeededEnv(t, storetest.OpenSQLite(t))

	etag := e.get("/zones?kind=life").Header().Get("ETag")
	cases := []struct {
		req    request
		status int
	}{
		{request{method: "GET", path: "/openapi.json"}, 200},
		{request{method: "GET", path: "/zones"}, 200},
		{request{method: "GET", path: "/zones?kind=life&channel=wechat&lang=en&page=1&page_size=5"}, 200},
		{request{method: "GET", path: "/zones?kind=life", headers: map[string]string{"If-None-Match": etag}}, 304},
		{request{method: "GET", path: "/zones?kind=cinema"}, 400},
		{request{method: "GET", path: "/zones/life-marriage"}, 200},
		{request{method: "GET", path: "/zones/no-such-zone"}, 404},
		{request{method: "GET", path: "/zones/life-marriage/services?channel=alipay"}, 200},
		{request{method: "GET", path: "/zones/no-such-zone/services"}, 404},
		{request{method: "GET", path: "/zones/life-marriage/page?channel=wechat"}, 200},
		{request{method: "GET", path: "/zones/life-marriage/page?channel=h5&lang=en"}, 200},
		{request{method: "GET", path: "/zones/one-thing/page?channel=alipay"}, 200},
		{request{method: "GET", path: "/zones/cross-province/page?channel=app"}, 200},
		{request{method: "GET", path: "/zones/foreigner/page?channel=baidu"}, 404},
		{request{method: "GET", path: "/zones/life-marriage/page"}, 400},
		{request{method: "GET", path: "/services/search?q=hunyu"}, 200},
		{request{method: "GET", path: "/services/search?q=jjz&channel=wechat&zone=cross-province&page_size=5"}, 200},
		{request{method: "GET", path: "/services/search"}, 400},
		{request{method: "GET", path: "/services/beijing-entry-permit"}, 200},
		{request{method: "GET", path: "/services/no-such-service"}, 404},
		{request{method: "GET", path: "/items?zone=one-thing"}, 200},
		{request{method: "GET", path: "/items/one-thing-newborn?lang=en"}, 200},
		{request{method: "GET", path: "/items/no-such-item"}, 404},
	}
	for _, c := range cases {
		checkAgainstOpenAPI(t, e, router, c.req, c.status)
	}

	// Every seeded zone's page, on every channel, matches the schema.
	for _, z := range []string{"life-marriage", "life-education", "business-talent", "one-thing", "cross-province", "foreigner"} {
		for _, ch := range []Channel{ChannelWeChat, ChannelAlipay} {
			checkAgainstOpenAPI(t, e, router, request{method: "GET", path: "/zones/" + z + "/page?channel=" + string(ch)}, 200)
		}
	}
}

func TestOpenAPIAdminRoutes(t *testing.T) {
	_, router := loadOpenAPI(t)
	e := newSeededEnv(t, storetest.OpenSQLite(t))
	admin := func(method, path string, body any) request {
		return request{method: method, path: path, body: body, admin: true}
	}

	zone := zoneBody("business-newzone")
	svc := map[string]any{"id": "svc-new", "type": "h5", "name": map[string]string{"zh": "新服务"}, "url": "/h5/svc-new", "zones": []string{"business-newzone"}}
	item := map[string]any{"id": "item-new", "zone_id": "business-newzone", "name": map[string]string{"zh": "新事项"}, "services": []string{"svc-new"}}
	tpl := map[string]any{"id": "tpl-new", "theme": "holiday", "name": map[string]string{"zh": "假日"}, "start_at": nil, "end_at": nil,
		"body": map[string]any{"schema_version": 1, "theme": map[string]string{"primary_color": "#112233"}}}
	updatedZone := zoneBody("business-newzone")
	updatedZone["version"] = 1
	page := map[string]any{"version": 0, "document": json.RawMessage(validPage)}

	cases := []struct {
		req    request
		status int
	}{
		{request{method: "GET", path: "/admin/zones"}, 401},
		{admin("GET", "/admin/zones?status=published&kind=life&page_size=3", nil), 200},
		{admin("POST", "/admin/zones", zone), 201},
		{admin("POST", "/admin/zones", zone), 409},
		{admin("POST", "/admin/zones", map[string]any{"id": "X"}), 400},
		{admin("GET", "/admin/zones/business-newzone", nil), 200},
		{admin("PUT", "/admin/zones/business-newzone", updatedZone), 200},
		{admin("PUT", "/admin/zones/business-newzone", updatedZone), 409},
		{admin("POST", "/admin/zones/business-newzone/publish", map[string]int{"version": 2}), 200},
		{admin("GET", "/admin/zones/no-such-zone", nil), 404},
		{admin("POST", "/admin/services", svc), 201},
		{admin("GET", "/admin/services?zone=business-newzone", nil), 200},
		{admin("GET", "/admin/services/svc-new", nil), 200},
		{admin("POST", "/admin/services/svc-new/publish", map[string]int{"version": 1}), 200},
		{admin("GET", "/admin/zones/business-newzone/services", nil), 200},
		// Version 4: creating svc-new in the zone bumped it.
		{admin("PUT", "/admin/zones/business-newzone/services", map[string]any{"services": []string{"svc-new"}, "version": 4}), 200},
		{admin("POST", "/admin/items", item), 201},
		{admin("GET", "/admin/items?zone=business-newzone", nil), 200},
		{admin("GET", "/admin/items/item-new", nil), 200},
		{admin("DELETE", "/admin/items/item-new?version=1", nil), 204},
		{admin("POST", "/admin/templates", tpl), 201},
		{admin("GET", "/admin/templates?theme=holiday", nil), 200},
		{admin("GET", "/admin/templates/tpl-new", nil), 200},
		{admin("POST", "/admin/templates/tpl-new/unpublish", map[string]int{"version": 1}), 200},
		{admin("PUT", "/admin/zones/business-newzone/page", page), 200},
		{admin("PUT", "/admin/zones/business-newzone/page", `{"version":1,"document":{"schema_version":1}}`), 400},
		{admin("GET", "/admin/zones/business-newzone/page", nil), 200},
		{admin("GET", "/admin/zones/business-newzone/page/preview?channel=alipay", nil), 200},
		// The zone is on WeChat and Alipay only, but the preview still renders.
		{admin("GET", "/admin/zones/business-newzone/page/preview?channel=baidu&lang=en", nil), 200},
		{admin("POST", "/admin/zones/business-newzone/page/publish", `{"version":9223372036854775808}`), 400},
		{admin("POST", "/admin/zones/business-newzone/page/publish", map[string]int{"version": 1}), 201},
		{admin("POST", "/admin/zones/business-newzone/page/publish", map[string]int{"version": 1}), 409},
		{admin("POST", "/admin/zones/business-newzone/page/rollback", map[string]int{"version": 2, "to": 1}), 201},
		{admin("POST", "/admin/zones/business-newzone/page/rollback", map[string]int{"version": 3}), 400},
		{admin("GET", "/admin/zones/business-newzone/page/versions", nil), 200},
		{admin("GET", "/admin/zones/business-newzone/page/versions/1", nil), 200},
		{admin("GET", "/admin/zones/business-newzone/page/versions/9", nil), 404},
		{admin("GET", "/admin/zones/business-newzone/page/versions/9223372036854775808", nil), 404},
		{admin("GET", "/admin/oplog?entity_type=zone&entity_id=business-newzone", nil), 200},
		{admin("POST", "/admin/search/refresh", nil), 204},
		{request{method: "POST", path: "/admin/zones", body: strings.Repeat(" ", 2<<20), admin: true}, 413},
		{request{method: "POST", path: "/admin/zones", body: "{}", admin: true, headers: map[string]string{"Content-Type": "text/plain"}}, 415},
	}
	for _, c := range cases {
		checkAgainstOpenAPI(t, e, router, c.req, c.status)
	}
}

// TestOpenAPICoversRoutes checks that every route the handler registers is
// in openapi.json and the other way round.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}

	registered := map[string]bool{}
	e := newTestEnv(t, storetest.OpenSQLite(t))
	for _, pattern := range e.srv.patterns {
		registered[pattern] = true
	}
	for route := range registered {
		if !documented[route] {
			t.Errorf("route %s is not in openapi.json", route)
		}
	}
	for route := range documented {
		if !registered[route] {
			t.Errorf("openapi.json documents %s, which the handler does not serve", route)
		}
	}
}

// TestOpenAPITextLimits checks that the zh and en maxLength of each bilingual
// text schema in openapi.json equals the Go limit that the server applies.
func TestOpenAPITextLimits(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	limits := map[string]int{
		"NameText":    maxNameRunes,
		"TitleText":   maxTitleRunes,
		"SummaryText": maxSummaryRunes,
		"LongText":    maxLongRunes,
	}

	for name, ref := range doc.Components.Schemas {
		props := ref.Value.Properties
		if props["zh"] == nil || props["en"] == nil {
			continue
		}
		if _, ok := limits[name]; !ok {
			t.Errorf("schema %s has zh and en properties but no entry in TestOpenAPITextLimits; add it with its Go limit", name)
		}
	}

	for name, limit := range limits {
		ref := doc.Components.Schemas[name]
		if ref == nil {
			t.Errorf("schema %s not found in openapi.json", name)
			continue
		}
		for _, lang := range []string{"zh", "en"} {
			prop := ref.Value.Properties[lang]
			switch {
			case prop == nil:
				t.Errorf("schema %s: %s property not found", name, lang)
			case prop.Value.MaxLength == nil:
				t.Errorf("schema %s: %s has no maxLength, expected %d", name, lang, limit)
			case *prop.Value.MaxLength != uint64(limit):
				t.Errorf("schema %s: %s maxLength is %d, expected %d", name, lang, *prop.Value.MaxLength, limit)
			}
		}
	}
}

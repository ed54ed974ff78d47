package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// ownRoutes are the gateway's own routes, by path and method.
var ownRoutes = map[string][]string{
	"/keys":         {"GET"},
	"/session":      {"DELETE", "POST"},
	"/login":        {"POST"},
	"/dev/login":    {"POST"},
	"/dev/users":    {"GET"},
	"/openapi.json": {"GET"},
}

func TestOpenAPIDocumentsOwnRoutes(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)
	rec := httptest.NewRecorder()
	tg.gw.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d", rec.Code)
	}

	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3.0 document: %v", err)
	}
	for path, methods := range ownRoutes {
		item := doc.Paths.Value(path)
		if item == nil {
			t.Errorf("openapi.json lacks %s", path)
			continue
		}
		var documented []string
		for method := range item.Operations() {
			documented = append(documented, method)
		}
		slices.Sort(documented)
		if !slices.Equal(documented, methods) {
			t.Errorf("openapi.json documents %s %v, want %v", path, documented, methods)
		}
	}
	if n := doc.Paths.Len(); n != len(ownRoutes) {
		t.Errorf("openapi.json has %d paths, want %d", n, len(ownRoutes))
	}
}

func TestOpenAPIMatchesResponses(t *testing.T) {
	t.Parallel()
	tg := newTestGateway(t, nil)
	doc, err := openapi3.NewLoader().LoadFromData(openAPIBytes(t, tg))
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: "http://gateway.test"}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		method, path, body string
		status             int
	}{
		{"GET", "/keys", "", 200},
		{"GET", "/dev/users", "", 200},
		{"POST", "/dev/login", `{"user": "citizen"}`, 200},
		{"POST", "/dev/login", `{"user": "nobody"}`, 400},
		{"POST", "/login", `{"platform": "dev", "code": "dev-elderly"}`, 200},
		{"POST", "/login", `{"platform": "wechat", "code": "x"}`, 400},
		{"POST", "/session", `{"kid": "gw-1"}`, 400},
		{"DELETE", "/session", "", 401},
	}
	for _, tc := range cases {
		req := httptest.NewRequest(tc.method, "http://gateway.test"+tc.path, strings.NewReader(tc.body))
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("%s %s: no route in openapi.json: %v", tc.method, tc.path, err)
		}
		rec := httptest.NewRecorder()
		tg.gw.Handler().ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s %s = %d, want %d: %s", tc.method, tc.path, rec.Code, tc.status, rec.Body)
			continue
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 rec.Code,
			Header:                 rec.Header(),
			Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
			t.Errorf("%s %s: %d response does not match openapi.json: %v", tc.method, tc.path, rec.Code, err)
		}
	}
}

func openAPIBytes(t testing.TB, tg *testGateway) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	tg.gw.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	return rec.Body.Bytes()
}

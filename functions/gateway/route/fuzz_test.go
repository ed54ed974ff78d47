package route_test

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/jingtong/backend/functions/gateway/route"
)

// failingTransport fails every request without touching the network, so
// that health probes of fuzzed upstream hosts go nowhere.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in this test")
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(limitTable))
	f.Add([]byte(corsTable))
	f.Add([]byte(matchTable))
	f.Add([]byte(`{"routes": [{"name": "x", "prefix": "/x", "class": "public", "target": {"upstreams": [{"url": "http://a", "weight": 2}]},
	  "health": {"active": {"path": "/h"}}, "convert": {"request": "xml"}, "errors": {"timeout": {"code": "ABC", "status": 503, "zh": "忙", "en": "busy"}}}]}`))
	f.Add([]byte(`{"routes": [{}]}`))
	f.Add([]byte(corsPolicyTable(`"h5"`)))
	f.Add([]byte(corsPolicyTable(`"h6"`)))
	f.Add([]byte(corsPolicyTable(`""`)))
	f.Add([]byte(`{"cors_policies": {"Bad": {"allow_origins": ["*"]}, "open": {"allow_origins": ["*"], "allow_methods": ["GET"]}},
	  "routes": [{"name": "x", "prefix": "/x", "class": "public", "target": {"function": "a"}, "cors": "open"},
	             {"name": "y", "prefix": "/y", "class": "internal", "cors": "Bad"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := route.Parse(data)
		if err != nil {
			return
		}
		// A table that parses must validate and compile.
		if err := table.Validate(); err != nil {
			t.Fatalf("Parse accepted a table that Validate rejects: %v", err)
		}
		functions := map[string]http.Handler{}
		for _, r := range table.Routes {
			functions[r.Target.Function] = http.NotFoundHandler()
			if r.Versions != nil {
				for _, v := range r.Versions.Targets {
					functions[v.Function] = http.NotFoundHandler()
				}
			}
		}
		rt, err := route.New(table, route.Options{Functions: functions, Transport: failingTransport{}})
		if err != nil {
			t.Fatalf("New rejected a valid table: %v", err)
		}
		defer rt.Close()

		// A route that names a CORS policy responds to preflights exactly as
		// it does with the policy written inline.
		inlined := *table
		inlined.Routes = slices.Clone(table.Routes)
		for i, r := range inlined.Routes {
			if r.CORSPolicy != "" {
				policy := table.CORSPolicies[r.CORSPolicy]
				inlined.Routes[i].CORS = &policy
				inlined.Routes[i].CORSPolicy = ""
			}
		}
		inlineRouter, err := route.New(&inlined, route.Options{Functions: functions, Transport: failingTransport{}})
		if err != nil {
			t.Fatalf("New rejected the table with its CORS policies inline: %v", err)
		}
		defer inlineRouter.Close()
		for _, r := range table.Routes {
			if r.CORSPolicy == "" {
				continue
			}
			origins := []string{"https://h5.example.cn"}
			if first := table.CORSPolicies[r.CORSPolicy].AllowOrigins[0]; !strings.Contains(first, "*") {
				origins = append(origins, first)
			}
			for _, origin := range origins {
				got := serve(rt, fuzzPreflight(r.Prefix, origin))
				want := serve(inlineRouter, fuzzPreflight(r.Prefix, origin))
				if got.Code != want.Code || !maps.EqualFunc(got.Header(), want.Header(), slices.Equal) {
					t.Fatalf("preflight %s from %s = %d %v with the named policy, %d %v inline",
						r.Prefix, origin, got.Code, got.Header(), want.Code, want.Header())
				}
			}
		}
	})
}

// fuzzPreflight returns a preflight request for GET on path. It sets the
// path after building the request, because httptest.NewRequest panics on
// paths that a valid prefix may contain, such as control characters.
func fuzzPreflight(path, origin string) *http.Request {
	req := preflight("/", origin, "GET")
	req.URL.Path = path
	return req
}

func FuzzXMLToJSON(f *testing.F) {
	f.Add([]byte(`<r a="1"><b>x</b><b>y</b><c/></r>`))
	f.Add([]byte(`<?xml version="1.0" encoding="GBK"?><r>社保</r>`))
	f.Add([]byte(`<r xmlns:n="urn:x"><n:a>1</n:a>text<![CDATA[<x>]]></r>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := route.XMLToJSON(data, map[string]bool{"b": true}, 16)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("XMLToJSON(%q) = %q, not valid JSON", data, out)
		}
	})
}

func FuzzFormToJSON(f *testing.F) {
	f.Add([]byte("a=1&b.c=2&b.c=3"))
	f.Add([]byte("a=%E5%BC%A0&x=&=y"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := route.FormToJSON(data, map[string]bool{"a": true}, 8)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("FormToJSON(%q) = %q, not valid JSON", data, out)
		}
	})
}

func FuzzJSONToXMLRoundTrip(f *testing.F) {
	f.Add([]byte(`{"a":"1","b":{"c":["x","y"]},"@d":"e"}`))
	f.Add([]byte(`{"名字":"张三","list":[{"a":"1"},{"a":"2"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := route.JSONToXML(data, "request", 16)
		if err != nil {
			return
		}
		if _, err := route.XMLToJSON(x, nil, 17); err != nil {
			t.Fatalf("XMLToJSON rejected the output of JSONToXML(%q) = %q: %v", data, x, err)
		}
		form, err := route.JSONToForm(data, 16)
		if err != nil {
			return
		}
		if _, err := route.FormToJSON(form, nil, 16); err != nil {
			t.Fatalf("FormToJSON rejected the output of JSONToForm(%q) = %q: %v", data, form, err)
		}
	})
}

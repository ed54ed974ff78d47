package route_test

import (
	"encoding/json"
	"errors"
	"net/http"
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
		_ = rt.Close()
	})
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

package route_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/jingtong/backend/functions/gateway/route"
)

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("decode %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestJSONToXML_mapping(t *testing.T) {
	t.Parallel()
	in := `{"@version": "2", "name": "张三 <A&B>", "age": 30, "married": false, "note": null,
	  "child": [{"name": "a"}, {"name": "b"}], "addr": {"@type": "home", "#text": "北京", "zip": "100000"}}`
	got, err := route.JSONToXML([]byte(in), "req", 32)
	if err != nil {
		t.Fatal(err)
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<req version="2"><name>张三 &lt;A&amp;B&gt;</name><age>30</age><married>false</married><note/>` +
		`<child><name>a</name></child><child><name>b</name></child><addr type="home">北京<zip>100000</zip></addr></req>`
	if string(got) != want {
		t.Errorf("JSONToXML =\n%s\nwant\n%s", got, want)
	}
}

func TestJSONToXML_rejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"not an object", `[1]`},
		{"bad element name", `{"1abc": 1}`},
		{"name with space", `{"a b": 1}`},
		{"nested arrays", `{"a": [[1]]}`},
		{"object attribute", `{"@a": {}}`},
		{"too deep", `{"a":{"a":{"a":{"a":1}}}}`},
		{"invalid JSON", `{"a":`},
	}
	for _, tt := range tests {
		if _, err := route.JSONToXML([]byte(tt.in), "req", 3); err == nil {
			t.Errorf("%s: JSONToXML(%s) error = nil, want an error", tt.name, tt.in)
		}
	}
}

func TestXMLToJSON_mapping(t *testing.T) {
	t.Parallel()
	in := `<?xml version="1.0" encoding="UTF-8"?>
<ns:resp xmlns:ns="urn:x" code="0">
  <msg>成功</msg>
  <record id="1"><name>a</name></record>
  <record id="2"><name>b</name></record>
  <single>x</single>
  <empty/>
  <mixed kind="k">text</mixed>
</ns:resp>`
	got, err := route.XMLToJSON([]byte(in), map[string]bool{"single": true}, 32)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@code":"0","msg":"成功","record":[{"@id":"1","name":"a"},{"@id":"2","name":"b"}],"single":["x"],"empty":"","mixed":{"@kind":"k","#text":"text"}}`
	if string(got) != want {
		t.Errorf("XMLToJSON =\n%s\nwant\n%s", got, want)
	}
}

func TestXMLToJSON_gbk(t *testing.T) {
	t.Parallel()
	doc, err := simplifiedchinese.GBK.NewEncoder().String(`<?xml version="1.0" encoding="GBK"?><r><name>社保</name></r>`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := route.XMLToJSON([]byte(doc), nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"name":"社保"}` {
		t.Errorf("XMLToJSON(GBK) = %s", got)
	}
}

func TestXMLToJSON_rejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"doctype", `<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>`},
		{"unknown entity", `<r>&x;</r>`},
		{"two roots", `<a/><b/>`},
		{"no root", `  `},
		{"unclosed", `<a><b></a>`},
		{"too deep", `<a><a><a><a>1</a></a></a></a>`},
		{"unknown charset", `<?xml version="1.0" encoding="KOI8-R"?><a/>`},
		{"too many elements", "<a>" + strings.Repeat("<b/>", 10001) + "</a>"},
	}
	for _, tt := range tests {
		if _, err := route.XMLToJSON([]byte(tt.in), nil, 3); err == nil {
			t.Errorf("%s: XMLToJSON error = nil, want an error", tt.name)
		}
	}
}

func TestConvert_roundTrips(t *testing.T) {
	t.Parallel()
	// String values, as XML and forms carry no types.
	docs := []string{
		`{"name":"张三","id":"110101199001011234","tags":["a","b"],"addr":{"city":"北京","zip":"100000"}}`,
		`{"a":"x & y = z?","b":{"c":{"d":"深"}}}`,
		`{"empty":""}`,
	}
	for _, doc := range docs {
		x, err := route.JSONToXML([]byte(doc), "request", 32)
		if err != nil {
			t.Fatalf("JSONToXML(%s): %v", doc, err)
		}
		back, err := route.XMLToJSON(x, nil, 32)
		if err != nil {
			t.Fatalf("XMLToJSON(%s): %v", x, err)
		}
		if !jsonEqual(t, []byte(doc), back) {
			t.Errorf("JSON→XML→JSON: %s became %s (via %s)", doc, back, x)
		}

		f, err := route.JSONToForm([]byte(doc), 32)
		if err != nil {
			t.Fatalf("JSONToForm(%s): %v", doc, err)
		}
		back, err = route.FormToJSON(f, nil, 32)
		if err != nil {
			t.Fatalf("FormToJSON(%s): %v", f, err)
		}
		if !jsonEqual(t, []byte(doc), back) {
			t.Errorf("JSON→form→JSON: %s became %s (via %s)", doc, back, f)
		}
	}
}

func TestJSONToForm_mapping(t *testing.T) {
	t.Parallel()
	got, err := route.JSONToForm([]byte(`{"z":1,"a":{"b":true,"c":null},"list":["x","y z"]}`), 32)
	if err != nil {
		t.Fatal(err)
	}
	if want := "z=1&a.b=true&a.c=&list=x&list=y+z"; string(got) != want {
		t.Errorf("JSONToForm = %s, want %s", got, want)
	}
	for _, bad := range []string{`{"a.b":1}`, `{"a":[{"b":1}]}`, `{"":1}`, `"s"`} {
		if _, err := route.JSONToForm([]byte(bad), 32); err == nil {
			t.Errorf("JSONToForm(%s) error = nil, want an error", bad)
		}
	}
}

func TestFormToJSON_mapping(t *testing.T) {
	t.Parallel()
	got, err := route.FormToJSON([]byte("code=0&data.name=%E5%BC%A0&data.ids=1&data.ids=2&one=x"), map[string]bool{"one": true}, 32)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"code":"0","data":{"name":"张","ids":["1","2"]},"one":["x"]}`; string(got) != want {
		t.Errorf("FormToJSON = %s, want %s", got, want)
	}
	for _, bad := range []string{"a=1&a.b=2", "a.b=1&a=2", "a..b=1", "a=%zz", "a=1;b=2", "a.b.c.d=1"} {
		if _, err := route.FormToJSON([]byte(bad), nil, 3); err == nil {
			t.Errorf("FormToJSON(%q) error = nil, want an error", bad)
		}
	}
}

func TestProxy_convertsForLegacyUpstream(t *testing.T) {
	t.Parallel()
	xmlUp := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = io.WriteString(w, `<resp><code>0</code><item>a</item></resp>`)
	})
	formUp := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = io.WriteString(w, `code=0&data.name=a`)
	})
	xmlRT := newRouter(t, upstreamTable(`"convert": {"request": "xml", "response": "json", "xml_root": "req", "arrays": ["item"]}`, xmlUp.URL), route.Options{})
	formRT := newRouter(t, upstreamTable(`"convert": {"request": "form", "response": "json"}`, formUp.URL), route.Options{})

	req := httptest.NewRequest("POST", "/api/x", strings.NewReader(`{"name":"张三","ids":[1,2]}`))
	req.Header.Set("Content-Type", "application/json")
	rec := serve(xmlRT, req)
	if got := *xmlUp.body.Load(); !strings.Contains(got, "<req><name>张三</name><ids>1</ids><ids>2</ids></req>") {
		t.Errorf("upstream XML body = %s", got)
	}
	if ct := xmlUp.last.Load().Header.Get("Content-Type"); ct != "application/xml; charset=utf-8" {
		t.Errorf("upstream Content-Type = %q", ct)
	}
	if rec.Body.String() != `{"code":"0","item":["a"]}` || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("converted response = %q (%s)", rec.Body, rec.Header().Get("Content-Type"))
	}

	req = httptest.NewRequest("POST", "/api/x", strings.NewReader(`{"name":"张三","page":{"size":10}}`))
	req.Header.Set("Content-Type", "application/json")
	rec = serve(formRT, req)
	if got := *formUp.body.Load(); got != "name=%E5%BC%A0%E4%B8%89&page.size=10" {
		t.Errorf("upstream form body = %s", got)
	}
	if rec.Body.String() != `{"code":"0","data":{"name":"a"}}` {
		t.Errorf("converted response = %s", rec.Body)
	}

	bad := httptest.NewRequest("POST", "/api/x", strings.NewReader(`[1,2]`))
	bad.Header.Set("Content-Type", "application/json")
	wantError(t, serve(xmlRT, bad), http.StatusBadRequest, "PAYLOAD_CONVERSION_FAILED")
}

func TestProxy_unconvertibleResponseIs502(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, `<a><b></a>`)
	})
	rt := newRouter(t, upstreamTable(`"convert": {"response": "json"}`, up.URL), route.Options{})
	wantError(t, serve(rt, httptest.NewRequest("GET", "/api/x", nil)), http.StatusBadGateway, "UPSTREAM_ERROR")

	big := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		_, _ = io.WriteString(w, "<a>"+strings.Repeat("x", 2000)+"</a>")
	})
	rt = newRouter(t, upstreamTable(`"convert": {"response": "json", "max_bytes": 1024}`, big.URL), route.Options{})
	wantError(t, serve(rt, httptest.NewRequest("GET", "/api/x", nil)), http.StatusBadGateway, "UPSTREAM_ERROR")
}

func TestXMLToJSON_deepInputFails(t *testing.T) {
	t.Parallel()
	doc := bytes.Repeat([]byte("<a>"), 100)
	_, err := route.XMLToJSON(doc, nil, 64)
	if err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("error = %v, want a depth error", err)
	}
}

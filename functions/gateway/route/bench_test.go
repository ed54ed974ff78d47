package route_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/jingtong/backend/functions/gateway/route"
)

// payload1K is the 1 KB body of the proxy benchmarks.
var payload1K = bytes.Repeat([]byte("x"), 1024)

// discardWriter is a ResponseWriter that drops everything, so the
// benchmarks measure the proxy and not a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }

// benchUpstream returns a loopback server that reads each request body and
// responds with 1 KB.
func benchUpstream(b *testing.B) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = r.Body.Read(make([]byte, 0))
		var buf [2048]byte
		for {
			if _, err := r.Body.Read(buf[:]); err != nil {
				break
			}
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(payload1K)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// runProxy drives h with GET requests (1 KB responses) or POST requests
// (1 KB bodies both ways) from parallel goroutines.
func runProxy(b *testing.B, h http.Handler, method string) {
	b.ReportAllocs()
	b.SetBytes(1024)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			var req *http.Request
			if method == http.MethodPost {
				req = httptest.NewRequest(method, "http://gw.example/api/x/items", bytes.NewReader(payload1K))
				req.Header.Set("Content-Type", "application/octet-stream")
			} else {
				req = httptest.NewRequest(method, "http://gw.example/api/x/items", nil)
			}
			req.RemoteAddr = "203.0.113.7:5555"
			req.Header.Set("Accept", "*/*")
			clear(w.h)
			w.status = 0
			h.ServeHTTP(w, req)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	})
}

// BenchmarkProxyLean measures the router forwarding to a loopback
// upstream, with its default transport.
func BenchmarkProxyLean(b *testing.B) {
	up := benchUpstream(b)
	rt := newRouter(b, upstreamTable(`"rewrite": {"strip_prefix": true}`, up.URL), route.Options{})
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		b.Run(m, func(b *testing.B) { runProxy(b, rt, m) })
	}
}

// BenchmarkProxyHTTPUtil measures net/http/httputil.ReverseProxy doing the
// same work, with a transport tuned the same way, as the baseline.
func BenchmarkProxyHTTPUtil(b *testing.B) {
	up := benchUpstream(b)
	target, _ := url.Parse(up.URL)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/api/x")
			pr.SetXForwarded()
		},
		Transport: route.NewTransport(),
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		b.Run(m, func(b *testing.B) { runProxy(b, rp, m) })
	}
}

// BenchmarkMatch matches against the default localdev table plus 40 more
// routes.
func BenchmarkMatch(b *testing.B) {
	table := route.Default()
	for i := range 40 {
		table.Routes = append(table.Routes, route.RouteConfig{
			Name:   "extra-" + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			Prefix: "/api/extra" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "/v1",
			Class:  route.ClassPublic,
			Target: route.TargetConfig{Upstreams: []route.UpstreamConfig{{URL: "http://127.0.0.1:1"}}},
		})
	}
	rt := newRouterFromTable(b, table, route.Options{Functions: map[string]http.Handler{
		"zones": http.NotFoundHandler(), "gateway": http.NotFoundHandler(),
	}})
	reqs := []*http.Request{
		httptest.NewRequest("GET", "/api/zones/zones/life-marriage/page", nil),
		httptest.NewRequest("POST", "/api/zones/admin/zones/life-marriage/publish", nil),
		httptest.NewRequest("GET", "/api/extraz/v1/a/b/c", nil),
		httptest.NewRequest("GET", "/function/zones/x", nil),
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		rt.Match(reqs[i%len(reqs)])
	}
}

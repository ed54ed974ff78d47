package route_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jingtong/backend/functions/gateway/route"
)

// mustParse parses an inline route table or fails the test.
func mustParse(t testing.TB, src string) *route.Table {
	t.Helper()
	table, err := route.Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return table
}

// newRouter builds a router from an inline table and closes it when the
// test ends.
func newRouter(t testing.TB, src string, opts route.Options) *route.Router {
	t.Helper()
	rt, err := route.New(mustParse(t, src), opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	return rt
}

// serve sends req through h and returns the recorded response.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// errorBody is the JSON error shape that httpx writes.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// decodeError decodes an error response or fails the test.
func decodeError(t testing.TB, body []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("decode error body %q: %v", body, err)
	}
	return e
}

// wantError checks the status and error code of a recorded response.
func wantError(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) errorBody {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d (body %s)", rec.Code, status, rec.Body)
	}
	e := decodeError(t, rec.Body.Bytes())
	if e.Error.Code != code {
		t.Fatalf("error code = %q, want %q (body %s)", e.Error.Code, code, rec.Body)
	}
	return e
}

// upstream is an httptest server that counts its requests and records
// the last one.
type upstream struct {
	*httptest.Server
	hits atomic.Int64
	last atomic.Pointer[http.Request]
	body atomic.Pointer[string]
}

// newUpstream starts an upstream that runs h after recording the request.
func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		data, _ := io.ReadAll(r.Body)
		s := string(data)
		u.body.Store(&s)
		u.last.Store(r.Clone(r.Context()))
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

// textHandler writes status and body.
func textHandler(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// upstreamTable returns a one-route table forwarding /api/x to urls,
// with extra JSON members added to the route.
func upstreamTable(extra string, urls ...string) string {
	var ups []string
	for _, u := range urls {
		ups = append(ups, `{"url": "`+u+`"}`)
	}
	if extra != "" {
		extra = ", " + extra
	}
	return `{"routes": [{"name": "x", "prefix": "/api/x", "class": "public",
		"methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
		"target": {"upstreams": [` + strings.Join(ups, ", ") + `]}` + extra + `}]}`
}

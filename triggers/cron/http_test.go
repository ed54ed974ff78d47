package cron_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store/storetest"
	"github.com/jingtong/backend/triggers/cron"
)

var testSecret = auth.Secret("0123456789abcdef0123456789abcdef-cron-test")

// httpFixture is a Handler mounted beside an application handler, with a
// job that counts its runs.
type httpFixture struct {
	handler http.Handler
	runs    atomic.Int32
	appHits atomic.Int32
	now     time.Time
}

// newHTTPFixture mounts the Handler of the function "zones" with the job
// "refresh-search-index" (every minute) on SQLite, with the clock at now.
func newHTTPFixture(t *testing.T, now time.Time, opts cron.Options) *httpFixture {
	t.Helper()
	fx := &httpFixture{now: now}
	db := storetest.OpenSQLite(t)
	if err := cron.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	f := &fn.Function{Name: "zones", Jobs: []fn.Job{{
		Name: "refresh-search-index", Schedule: "* * * * *",
		Run: func(ctx context.Context) error {
			fx.runs.Add(1)
			if ctx.Value(failKey{}) != nil {
				return errors.New("secret database detail")
			}
			return nil
		},
	}}}
	opts.Locker = cron.NewSQLLocker(db, cron.SQLLockerOptions{})
	opts.Now = func() time.Time { return now }
	ticks, err := cron.Handler(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fx.appHits.Add(1)
		w.WriteHeader(http.StatusTeapot)
	})
	fx.handler = cron.Mount(app, ticks)
	return fx
}

type failKey struct{}

func (fx *httpFixture) serve(req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	fx.handler.ServeHTTP(w, req)
	return w
}

// errorCode returns the code of an httpx error body.
func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", w.Body, err)
	}
	return body.Error.Code
}

// pingEvent returns a PingSource event as the adapter builds it.
func pingEvent(at time.Time) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID("d2b1d6c0-6a4e-4c8e-8f0a-3f7a2b9c1e55")
	e.SetType(cron.PingSourceEventType)
	e.SetSource("/apis/v1/namespaces/jingtong/pingsources/zones-refresh-search-index")
	e.SetTime(at)
	_ = e.SetData(cloudevents.ApplicationJSON, map[string]string{"message": "refresh"})
	return e
}

func binaryRequest(t *testing.T, e cloudevents.Event, path string) *http.Request {
	t.Helper()
	req, err := cehttp.NewHTTPRequestFromEvent(context.Background(), "http://zones.jingtong.svc.cluster.local"+path, e)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func structuredRequest(body []byte, path string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/cloudevents+json; charset=UTF-8")
	return req
}

func TestHandlerPingSourceBinary(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 10, 0, 1, 0, time.UTC)
	fx := newHTTPFixture(t, now, cron.Options{Sources: []cron.Source{cron.SourcePingSource}})
	e := pingEvent(now.Add(-800 * time.Millisecond))

	req := binaryRequest(t, e, "/_jt/cron/refresh-search-index")
	if req.Header.Get("Ce-Specversion") == "" {
		t.Fatal("the SDK did not build a binary-mode request")
	}
	w := fx.serve(req)
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("status %d body %q, want 204 with no body", w.Code, w.Body)
	}
	if got := w.Header().Get(cron.OutcomeHeader); got != string(cron.OutcomeSucceeded) {
		t.Errorf("%s = %q, want succeeded", cron.OutcomeHeader, got)
	}

	// A redelivery of the same event runs nothing.
	w = fx.serve(binaryRequest(t, e, "/_jt/cron/refresh-search-index"))
	if w.Code != http.StatusNoContent || w.Header().Get(cron.OutcomeHeader) != string(cron.OutcomeAlreadyClaimed) {
		t.Errorf("redelivery: status %d outcome %q, want 204 already_claimed", w.Code, w.Header().Get(cron.OutcomeHeader))
	}
	if got := fx.runs.Load(); got != 1 {
		t.Errorf("job ran %d times, want 1", got)
	}
}

func TestHandlerPingSourceStructured(t *testing.T) {
	t.Parallel()
	sample, err := os.ReadFile(filepath.Join("testdata", "pingsource-structured.json"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 2, 0, 1, 0, time.UTC)
	fx := newHTTPFixture(t, now, cron.Options{Sources: []cron.Source{cron.SourcePingSource}})

	w := fx.serve(structuredRequest(sample, "/_jt/cron/refresh-search-index"))
	if w.Code != http.StatusNoContent {
		t.Fatalf("status %d body %s, want 204", w.Code, w.Body)
	}
	if got := fx.runs.Load(); got != 1 {
		t.Errorf("job ran %d times, want 1", got)
	}
}

func TestHandlerPingSourceMalformed(t *testing.T) {
	t.Parallel()
	sample, err := os.ReadFile(filepath.Join("testdata", "pingsource-structured.json"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 2, 0, 1, 0, time.UTC)
	edit := func(from, to string) []byte { return bytes.Replace(sample, []byte(from), []byte(to), 1) }

	tests := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
		code   string
	}{
		{"binary without id", func(t *testing.T) *http.Request {
			req := binaryRequest(t, pingEvent(now), "/_jt/cron/refresh-search-index")
			req.Header.Del("Ce-Id")
			return req
		}, http.StatusBadRequest, "CRON_INVALID_EVENT"},
		{"binary of another type", func(t *testing.T) *http.Request {
			e := pingEvent(now)
			e.SetType("dev.knative.sources.apiserver.resource.add")
			return binaryRequest(t, e, "/_jt/cron/refresh-search-index")
		}, http.StatusBadRequest, "CRON_INVALID_EVENT"},
		{"structured not JSON", func(*testing.T) *http.Request {
			return structuredRequest([]byte(`{"specversion": "1.0",`), "/_jt/cron/refresh-search-index")
		}, http.StatusBadRequest, "CRON_INVALID_EVENT"},
		{"structured without source", func(*testing.T) *http.Request {
			return structuredRequest(edit(`"source": "/apis/v1/namespaces/jingtong/pingsources/zones-refresh-search-index",`, ""), "/_jt/cron/refresh-search-index")
		}, http.StatusBadRequest, "CRON_INVALID_EVENT"},
		{"structured time in the future", func(*testing.T) *http.Request {
			return structuredRequest(edit(`"2026-03-01T02:00:00.214Z"`, `"2026-03-01T02:30:00Z"`), "/_jt/cron/refresh-search-index")
		}, http.StatusBadRequest, "CRON_INVALID_EVENT"},
		{"batch", func(*testing.T) *http.Request {
			req := structuredRequest([]byte("["+string(sample)+"]"), "/_jt/cron/refresh-search-index")
			req.Header.Set("Content-Type", "application/cloudevents-batch+json")
			return req
		}, http.StatusBadRequest, "CRON_INVALID_EVENT"},
		{"too large", func(*testing.T) *http.Request {
			big := edit(`"refresh"`, `"`+strings.Repeat("x", cron.MaxEventBytes)+`"`)
			return structuredRequest(big, "/_jt/cron/refresh-search-index")
		}, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE"},
		{"unknown job", func(*testing.T) *http.Request {
			return structuredRequest(sample, "/_jt/cron/nope")
		}, http.StatusNotFound, "CRON_JOB_NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newHTTPFixture(t, now, cron.Options{Sources: []cron.Source{cron.SourcePingSource}})
			w := fx.serve(tt.req(t))
			if w.Code != tt.status || errorCode(t, w) != tt.code {
				t.Errorf("status %d code %q, want %d %s (body %s)", w.Code, errorCode(t, w), tt.status, tt.code, w.Body)
			}
			if got := fx.runs.Load(); got != 0 {
				t.Errorf("job ran %d times, want 0", got)
			}
		})
	}
}

// connectorRequest returns the request that the OpenFaaS gateway forwards
// for a cron-connector invocation: POST to the function root, no body.
func connectorRequest(path string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.Header.Set("X-Topic", "cron-function")
	req.Header.Set("X-Connector", "cron-connector")
	return req
}

func TestHandlerCronConnector(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 3, 17, 4, 0, time.UTC)
	fx := newHTTPFixture(t, now, cron.Options{Sources: []cron.Source{cron.SourceCronConnector}, ConnectorJob: "refresh-search-index"})

	w := fx.serve(connectorRequest("/"))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d body %s, want 200", w.Code, w.Body)
	}
	var body struct {
		Function, Job, Source, Tick, Outcome string
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Function != "zones" || body.Job != "refresh-search-index" || body.Source != "cron-connector" ||
		body.Outcome != "succeeded" || body.Tick != "2026-03-01T11:17:00+08:00" {
		t.Errorf("body = %+v, want the zones job succeeded at the 11:17 Beijing tick", body)
	}

	// The path form works for the connector too; the tick has run already.
	w = fx.serve(connectorRequest("/_jt/cron/refresh-search-index"))
	if w.Code != http.StatusOK || w.Header().Get(cron.OutcomeHeader) != "already_claimed" {
		t.Errorf("second request: status %d outcome %q, want 200 already_claimed", w.Code, w.Header().Get(cron.OutcomeHeader))
	}
	if got := fx.runs.Load(); got != 1 {
		t.Errorf("job ran %d times, want 1", got)
	}

	// A root POST without the connector header is the function's own.
	if w := fx.serve(httptest.NewRequest(http.MethodPost, "/", nil)); w.Code != http.StatusTeapot {
		t.Errorf("plain POST / status %d, want the application's 418", w.Code)
	}
}

func TestHandlerCronConnectorNeedsConfiguration(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 3, 17, 4, 0, time.UTC)

	fx := newHTTPFixture(t, now, cron.Options{Sources: []cron.Source{cron.SourceCronConnector}})
	if w := fx.serve(connectorRequest("/")); w.Code != http.StatusNotFound || errorCode(t, w) != "CRON_CONNECTOR_JOB_UNSET" {
		t.Errorf("without a connector job: status %d code %q, want 404 CRON_CONNECTOR_JOB_UNSET", w.Code, errorCode(t, w))
	}

	fx = newHTTPFixture(t, now, cron.Options{ConnectorJob: "refresh-search-index"})
	if w := fx.serve(connectorRequest("/")); w.Code != http.StatusUnauthorized {
		t.Errorf("connector not in Sources: status %d, want 401", w.Code)
	}
	if got := fx.runs.Load(); got != 0 {
		t.Errorf("job ran %d times, want 0", got)
	}
}

// signed returns POST path with a platform token signed at signedAt.
func signed(t *testing.T, path string, signedAt time.Time, secret auth.Secret) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, nil)
	if err := auth.SignPlatform(secret, req, signedAt); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestHandlerPlatformCall(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 3, 17, 4, 0, time.UTC)
	other := auth.Secret("fedcba9876543210fedcba9876543210-other")
	path := "/_jt/cron/refresh-search-index"

	tests := []struct {
		name   string
		opts   cron.Options
		req    func(t *testing.T) *http.Request
		status int
		runs   int32
	}{
		{"valid token", cron.Options{PlatformSecret: testSecret}, func(t *testing.T) *http.Request {
			return signed(t, path, now, testSecret)
		}, http.StatusOK, 1},
		{"no token", cron.Options{PlatformSecret: testSecret}, func(*testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, path, nil)
		}, http.StatusUnauthorized, 0},
		{"other secret", cron.Options{PlatformSecret: testSecret}, func(t *testing.T) *http.Request {
			return signed(t, path, now, other)
		}, http.StatusUnauthorized, 0},
		{"signed for another path", cron.Options{PlatformSecret: testSecret}, func(t *testing.T) *http.Request {
			req := signed(t, "/_jt/cron/other-job", now, testSecret)
			req.URL.Path, req.RequestURI = path, path
			return req
		}, http.StatusUnauthorized, 0},
		{"stale token", cron.Options{PlatformSecret: testSecret}, func(t *testing.T) *http.Request {
			return signed(t, path, now.Add(-2*time.Minute), testSecret)
		}, http.StatusUnauthorized, 0},
		{"signature only", cron.Options{PlatformSecret: testSecret}, func(t *testing.T) *http.Request {
			req := signed(t, path, now, testSecret)
			req.Header.Del(auth.PlatformTimeHeader)
			return req
		}, http.StatusUnauthorized, 0},
		{"no secret configured", cron.Options{}, func(t *testing.T) *http.Request {
			return signed(t, path, now, testSecret)
		}, http.StatusUnauthorized, 0},
		{"bad token beats accepted source", cron.Options{PlatformSecret: testSecret, Sources: []cron.Source{cron.SourceCronConnector}}, func(t *testing.T) *http.Request {
			req := signed(t, path, now, other)
			req.Header.Set("X-Connector", "cron-connector")
			return req
		}, http.StatusUnauthorized, 0},
		{"connector header not accepted", cron.Options{PlatformSecret: testSecret}, func(*testing.T) *http.Request {
			return connectorRequest(path)
		}, http.StatusUnauthorized, 0},
		{"cloudevent not accepted", cron.Options{PlatformSecret: testSecret}, func(t *testing.T) *http.Request {
			return binaryRequest(t, pingEvent(now), path)
		}, http.StatusUnauthorized, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fx := newHTTPFixture(t, now, tt.opts)
			w := fx.serve(tt.req(t))
			if w.Code != tt.status {
				t.Errorf("status %d body %s, want %d", w.Code, w.Body, tt.status)
			}
			if tt.status == http.StatusUnauthorized && errorCode(t, w) != "UNAUTHORIZED" {
				t.Errorf("code %q, want UNAUTHORIZED", errorCode(t, w))
			}
			if got := fx.runs.Load(); got != tt.runs {
				t.Errorf("job ran %d times, want %d", got, tt.runs)
			}
		})
	}
}

// Behind auth.Middleware the platform headers are gone, and the identity
// in the context admits the call.
func TestHandlerBehindAuthMiddleware(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 3, 17, 4, 0, time.UTC)
	fx := newHTTPFixture(t, now, cron.Options{})
	mw, err := auth.Middleware(auth.Options{PlatformSecret: testSecret, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	h := mw(fx.handler)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, signed(t, "/_jt/cron/refresh-search-index", now, testSecret))
	if w.Code != http.StatusOK {
		t.Errorf("status %d body %s, want 200", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, signed(t, "/_jt/cron/refresh-search-index", now, auth.Secret("fedcba9876543210fedcba9876543210-other")))
	if w.Code != http.StatusUnauthorized {
		t.Errorf("bad token behind middleware: status %d, want 401", w.Code)
	}
	if got := fx.runs.Load(); got != 1 {
		t.Errorf("job ran %d times, want 1", got)
	}
}

func TestHandlerRoutes(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 3, 17, 4, 0, time.UTC)
	fx := newHTTPFixture(t, now, cron.Options{PlatformSecret: testSecret})

	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"unknown job", signed(t, "/_jt/cron/nope", now, testSecret), http.StatusNotFound, "CRON_JOB_NOT_FOUND"},
		{"nested path", signed(t, "/_jt/cron/refresh-search-index/x", now, testSecret), http.StatusNotFound, "NOT_FOUND"},
		{"empty job", signed(t, "/_jt/cron/", now, testSecret), http.StatusNotFound, "NOT_FOUND"},
		{"impossible job name", signed(t, "/_jt/cron/"+strings.Repeat("a", 61), now, testSecret), http.StatusNotFound, "NOT_FOUND"},
		{"upper-case job name", signed(t, "/_jt/cron/Refresh", now, testSecret), http.StatusNotFound, "NOT_FOUND"},
		{"GET", httptest.NewRequest(http.MethodGet, "/_jt/cron/refresh-search-index", nil), http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := fx.serve(tt.req)
			if w.Code != tt.status || errorCode(t, w) != tt.code {
				t.Errorf("status %d code %q, want %d %s", w.Code, errorCode(t, w), tt.status, tt.code)
			}
		})
	}
	w := fx.serve(httptest.NewRequest(http.MethodGet, "/_jt/cron/x", nil))
	if got := w.Header().Get("Allow"); got != http.MethodPost {
		t.Errorf("Allow = %q, want POST", got)
	}
	if got := fx.runs.Load(); got != 0 {
		t.Errorf("job ran %d times, want 0", got)
	}

	// Everything else goes to the application.
	for _, path := range []string{"/", "/zones", "/_jt/cron", "/_jt/other"} {
		if w := fx.serve(httptest.NewRequest(http.MethodGet, path, nil)); w.Code != http.StatusTeapot {
			t.Errorf("GET %s status %d, want the application's 418", path, w.Code)
		}
	}
	if got := fx.appHits.Load(); got != 4 {
		t.Errorf("application served %d requests, want 4", got)
	}
}

func TestHandlerJobFailureHidesDetail(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 3, 17, 4, 0, time.UTC)
	fx := newHTTPFixture(t, now, cron.Options{PlatformSecret: testSecret})
	req := signed(t, "/_jt/cron/refresh-search-index", now, testSecret)
	req = req.WithContext(context.WithValue(req.Context(), failKey{}, true))

	w := fx.serve(req)
	if w.Code != http.StatusInternalServerError || errorCode(t, w) != "INTERNAL" {
		t.Errorf("status %d code %q, want 500 INTERNAL", w.Code, errorCode(t, w))
	}
	body, _ := io.ReadAll(w.Body)
	if bytes.Contains(body, []byte("secret database detail")) || bytes.Contains(body, []byte("refresh-search-index")) {
		t.Errorf("500 body leaks the error: %s", body)
	}

	// The failed tick was released, so the platform's retry runs it again.
	w = fx.serve(signed(t, "/_jt/cron/refresh-search-index", now, testSecret))
	if w.Code != http.StatusOK {
		t.Errorf("retry status %d, want 200", w.Code)
	}
	if got := fx.runs.Load(); got != 2 {
		t.Errorf("job ran %d times, want 2", got)
	}
}

// TestHandlerOverHTTP sends a signed call through a real server on
// loopback, where the server sets RequestURI as in production.
func TestHandlerOverHTTP(t *testing.T) {
	t.Parallel()
	now := time.Now()
	fx := newHTTPFixture(t, now, cron.Options{PlatformSecret: testSecret})
	srv := httptest.NewServer(fx.handler)
	t.Cleanup(srv.Close)

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/_jt/cron/refresh-search-index", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.SignPlatform(testSecret, req, now); err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d body %s, want 200", resp.StatusCode, body)
	}
	if got := resp.Header.Get(cron.OutcomeHeader); got != "succeeded" {
		t.Errorf("outcome %q, want succeeded", got)
	}
	if got := fx.runs.Load(); got != 1 {
		t.Errorf("job ran %d times, want 1", got)
	}
}

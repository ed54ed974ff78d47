package zones

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/fn"
)

// testToken is the operator token the test environments accept.
const testToken = "jtdev_test_operator_token_0123456789"

// testClock is a settable clock for fn.Env.Now.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// testEnv is the zones function built through New's code path over a real
// database.
type testEnv struct {
	t       testing.TB
	db      *bun.DB
	srv     *server
	fn      *fn.Function
	handler http.Handler
	clock   *testClock
	logs    *bytes.Buffer
	logw    *lockedWriter // writes logs; logText reads under its lock
}

// envOption changes the variables a test environment is built with.
type envOption func(vars map[string]string)

func withVar(key, value string) envOption {
	return func(vars map[string]string) { vars[key] = value }
}

// startTime is a fixed instant inside no seed template window, so rendered
// pages do not depend on when the tests run.
var startTime = time.Date(2027, 3, 10, 9, 0, 0, 0, time.UTC)

// newTestEnv builds the function over db with the operator token file set,
// seeding disabled unless an option enables it, and migrations applied.
func newTestEnv(t testing.TB, db *bun.DB, opts ...envOption) *testEnv {
	t.Helper()

	tokenFile := filepath.Join(t.TempDir(), "operator-token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatalf("write token file: %v", err)
	}
	vars := map[string]string{"JT_OPERATOR_TOKEN_FILE": tokenFile}
	for _, o := range opts {
		o(vars)
	}

	clock := &testClock{now: startTime}
	logs := &bytes.Buffer{}
	logw := &lockedWriter{w: logs}
	env := &fn.Env{
		Lookup: func(key string) (string, bool) { v, ok := vars[key]; return v, ok },
		Logger: slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    clock.Now,
		OpenDB: func(context.Context) (*bun.DB, error) { return db, nil },
	}
	srv, f, err := build(context.Background(), env)
	if err != nil {
		t.Fatalf("build zones function: %v", err)
	}
	if err := f.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return &testEnv{t: t, db: db, srv: srv, fn: f, handler: f.Handler, clock: clock, logs: logs, logw: logw}
}

// logText returns the log so far. Unlike logs.String it is safe while
// background goroutines still log.
func (e *testEnv) logText() string {
	e.logw.mu.Lock()
	defer e.logw.mu.Unlock()
	return e.logs.String()
}

// newSeededEnv is newTestEnv with the demo catalogue loaded.
func newSeededEnv(t testing.TB, db *bun.DB, opts ...envOption) *testEnv {
	t.Helper()
	return newTestEnv(t, db, append([]envOption{withVar("JT_ZONES_SEED", "true")}, opts...)...)
}

// lockedWriter serialises writes from concurrent handlers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// request describes one call to the handler.
type request struct {
	method  string
	path    string
	body    any // encoded as JSON unless it is a string or []byte
	admin   bool
	headers map[string]string
}

func (e *testEnv) do(req request) *httptest.ResponseRecorder {
	e.t.Helper()

	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("encode request body: %v", err)
		}
		body = bytes.NewReader(data)
	}

	r := httptest.NewRequest(req.method, req.path, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if req.admin {
		r.Header.Set("Authorization", "Bearer "+testToken)
	}
	for k, v := range req.headers {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	return w
}

func (e *testEnv) get(path string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(request{method: http.MethodGet, path: path})
}

func (e *testEnv) admin(method, path string, body any) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(request{method: method, path: path, body: body, admin: true})
}

// decodeBody decodes a JSON response into v.
func decodeBody(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("decode response %q: %v", w.Body.String(), err)
	}
}

// expectStatus fails the test unless w has status want.
func expectStatus(t testing.TB, w *httptest.ResponseRecorder, want int) {
	t.Helper()
	if w.Code != want {
		t.Fatalf("status = %d, want %d; body: %s", w.Code, want, w.Body.String())
	}
}

// errorBody is the error response shape.
type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
		Details   []struct {
			Path    string `json:"path"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

// expectError fails the test unless w is an error response with status and
// code, and returns the decoded body.
func expectError(t testing.TB, w *httptest.ResponseRecorder, status int, code string) errorBody {
	t.Helper()
	expectStatus(t, w, status)
	var body errorBody
	decodeBody(t, w, &body)
	if body.Error.Code != code {
		t.Fatalf("error code = %q, want %q; body: %s", body.Error.Code, code, w.Body.String())
	}
	return body
}

// detailPaths returns the paths of an error's details.
func detailPaths(b errorBody) []string {
	var out []string
	for _, d := range b.Error.Details {
		out = append(out, d.Path)
	}
	return out
}

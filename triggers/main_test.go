package triggers_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/obs/obstest"
	"github.com/jingtong/backend/triggers"
)

// fakeFunction records the calls a host makes to its function.
type fakeFunction struct {
	built    atomic.Int32
	migrated atomic.Int32
	closed   atomic.Int32
	env      *fn.Env

	migrateErr error
	noMigrate  bool
	noHandler  bool
}

func (ff *fakeFunction) build(_ context.Context, env *fn.Env) (*fn.Function, error) {
	ff.built.Add(1)
	ff.env = env

	f := &fn.Function{
		Name: "fake",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hello "+r.URL.Path)
		}),
		Migrate: func(context.Context) error {
			ff.migrated.Add(1)
			return ff.migrateErr
		},
		Close: func() error {
			ff.closed.Add(1)
			return nil
		},
	}
	if ff.noMigrate {
		f.Migrate = nil
	}
	if ff.noHandler {
		f.Handler = nil
	}
	return f, nil
}

func testEnv(t *testing.T, extra map[string]string) map[string]string {
	t.Helper()
	env := map[string]string{"JT_PLATFORM": "http", "JT_DATA_DIR": t.TempDir()}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func TestRunMigrate(t *testing.T) {
	t.Parallel()
	errSchema := errors.New("schema conflict")

	tests := []struct {
		name         string
		ff           *fakeFunction
		wantErr      error
		wantMigrated int32
	}{
		{"runs migrations", &fakeFunction{}, nil, 1},
		{"no migrations", &fakeFunction{noMigrate: true}, nil, 0},
		{"migration fails", &fakeFunction{migrateErr: errSchema}, errSchema, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stdout obstest.Buffer

			err := triggers.Run(context.Background(), []string{"migrate"}, lookupMap(testEnv(t, nil)), &stdout, tt.ff.build)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Run = %v, want %v", err, tt.wantErr)
			}
			if got := tt.ff.migrated.Load(); got != tt.wantMigrated {
				t.Errorf("Migrate called %d times, want %d", got, tt.wantMigrated)
			}
			if got := tt.ff.closed.Load(); got != 1 {
				t.Errorf("Close called %d times, want 1", got)
			}
			if !strings.Contains(stdout.String(), `"function":"fake"`) {
				t.Errorf("log = %s, want JSON lines naming the function", stdout.String())
			}
		})
	}
}

func TestRunRejectsConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"unknown command", []string{"serve"}, nil, `"serve"`},
		{"extra argument", []string{"migrate", "now"}, nil, `"now"`},
		{"unknown platform", nil, map[string]string{"JT_PLATFORM": "knative"}, `"knative"`},
		{"invalid log level", nil, map[string]string{"JT_LOG_LEVEL": "loud"}, `JT_LOG_LEVEL "loud"`},
		{"invalid port", nil, map[string]string{"PORT": "web"}, `PORT "web"`},
		{"invalid strip stage", nil, map[string]string{"JT_PLATFORM": "lambda", "JT_STRIP_STAGE": "maybe"}, `JT_STRIP_STAGE "maybe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ff := &fakeFunction{}

			err := triggers.Run(context.Background(), tt.args, lookupMap(testEnv(t, tt.env)), io.Discard, ff.build)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run = %v, want an error mentioning %s", err, tt.wantErr)
			}
			if got := ff.built.Load(); got != 0 {
				t.Errorf("builder called %d times, want 0 before the configuration is valid", got)
			}
		})
	}
}

func TestRunBuilderFailures(t *testing.T) {
	t.Parallel()
	errBuild := errors.New("missing key")

	tests := []struct {
		name    string
		build   fn.Builder
		wantErr string
	}{
		{
			name:    "builder error",
			build:   func(context.Context, *fn.Env) (*fn.Function, error) { return nil, errBuild },
			wantErr: "missing key",
		},
		{
			name:    "nil function",
			build:   func(context.Context, *fn.Env) (*fn.Function, error) { return nil, nil },
			wantErr: "nil function",
		},
		{
			name:    "no handler",
			build:   (&fakeFunction{noHandler: true}).build,
			wantErr: "no HTTP handler",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := triggers.Run(context.Background(), nil, lookupMap(testEnv(t, nil)), io.Discard, tt.build)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run = %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestRunServesHTTP(t *testing.T) {
	t.Parallel()
	addr := freeLoopbackAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ff := &fakeFunction{}
	var stdout obstest.Buffer

	done := make(chan error, 1)
	env := testEnv(t, map[string]string{"JT_HTTP_ADDR": addr, "JT_LOG_LEVEL": "debug"})
	go func() { done <- triggers.Run(ctx, nil, lookupMap(env), &stdout, ff.build) }()

	client := &http.Client{Timeout: 5 * time.Second}
	resp := waitGet(t, client, "http://"+addr+"/zones/1")
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello /zones/1" {
		t.Errorf("GET /zones/1 = %d %q, want 200 from the function", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("response has no X-Request-Id, want the obs middleware in front of the function")
	}

	health, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	_ = health.Body.Close()
	if health.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", health.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the context ended")
	}
	if got := ff.closed.Load(); got != 1 {
		t.Errorf("Close called %d times, want 1", got)
	}
	for _, want := range []string{`"msg":"function starting"`, `"platform":"http"`, `"msg":"request served"`, `"msg":"http server stopped","function":"fake"`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("log does not contain %s:\n%s", want, stdout.String())
		}
	}
	for line := range strings.Lines(stdout.String()) {
		if strings.Count(line, `"function":`) > 1 {
			t.Errorf("log line repeats the function key: %s", line)
		}
	}
}

// waitGet retries GET until the server started by a goroutine accepts it.
func waitGet(t *testing.T, client *http.Client, url string) *http.Response {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunEnv(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	var db1, db2 *bun.DB
	var openErr error

	build := func(ctx context.Context, env *fn.Env) (*fn.Function, error) {
		if env.DataDir != dataDir {
			t.Errorf("DataDir = %q, want %q", env.DataDir, dataDir)
		}
		if v, _ := env.Lookup("JT_PLATFORM"); v != "http" {
			t.Errorf("Lookup(JT_PLATFORM) = %q, want the environment passed to Run", v)
		}
		if env.Now == nil || time.Since(env.Now()) > time.Minute {
			t.Error("Now is not the wall clock")
		}
		if !env.Logger.Enabled(ctx, slog.LevelDebug) {
			t.Error("logger is not at JT_LOG_LEVEL=debug")
		}

		db1, openErr = env.OpenDB(ctx)
		if openErr == nil {
			db2, openErr = env.OpenDB(ctx)
		}
		return &fn.Function{Name: "envcheck", Handler: http.NotFoundHandler()}, nil
	}

	env := map[string]string{"JT_PLATFORM": "http", "JT_DATA_DIR": dataDir, "JT_LOG_LEVEL": "debug"}
	if err := triggers.Run(context.Background(), []string{"migrate"}, lookupMap(env), io.Discard, build); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if openErr != nil {
		t.Fatalf("OpenDB: %v", openErr)
	}
	if db1 != db2 {
		t.Error("OpenDB returned two handles, want the first one again")
	}
	if _, err := os.Stat(filepath.Join(dataDir, triggers.DefaultDatabaseFile)); err != nil {
		t.Errorf("default SQLite file: %v", err)
	}
	if err := db1.Ping(); err == nil {
		t.Error("database still open after Run returned")
	}
}

func TestRunDatabaseURL(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nested", "custom.db")
	build := func(ctx context.Context, env *fn.Env) (*fn.Function, error) {
		if _, err := env.OpenDB(ctx); err != nil {
			return nil, err
		}
		return &fn.Function{Name: "dbcheck", Handler: http.NotFoundHandler()}, nil
	}

	env := testEnv(t, map[string]string{"JT_DATABASE_URL": "sqlite:" + path})
	if err := triggers.Run(context.Background(), []string{"migrate"}, lookupMap(env), io.Discard, build); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("SQLite file from JT_DATABASE_URL: %v", err)
	}
}

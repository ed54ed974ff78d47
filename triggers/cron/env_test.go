package cron

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store"
)

func testEnv(t *testing.T, vars map[string]string) *fn.Env {
	t.Helper()
	return &fn.Env{
		Lookup: mapLookup(vars),
		Logger: slog.New(slog.DiscardHandler),
		Now:    time.Now,
		OpenDB: func(ctx context.Context) (*bun.DB, error) {
			db, err := store.Open(ctx, filepath.Join(t.TempDir(), "env.db"))
			if err == nil {
				t.Cleanup(func() { _ = db.Close() })
			}
			return db, err
		},
	}
}

func TestOptionsFromEnvDefaults(t *testing.T) {
	t.Parallel()
	opts, closeFn, err := OptionsFromEnv(context.Background(), testEnv(t, nil))
	if err != nil {
		t.Fatalf("OptionsFromEnv: %v", err)
	}
	defer closeFn()

	if _, ok := opts.Locker.(*SQLLocker); !ok {
		t.Errorf("Locker is %T, want *SQLLocker on the function's database", opts.Locker)
	}
	if opts.Location != nil || opts.Grace != 0 || opts.Timeout != 0 || len(opts.Sources) != 0 ||
		opts.ConnectorJob != "" || opts.PlatformSecret != nil {
		t.Errorf("opts = %+v, want zero values that New turns into defaults", opts)
	}
}

func TestOptionsFromEnvValues(t *testing.T) {
	t.Parallel()
	env := testEnv(t, map[string]string{
		TimezoneVar:              "UTC",
		GraceVar:                 "2m",
		TimeoutVar:               "90s",
		SourcesVar:               " pingsource , cron-connector,",
		ConnectorJobVar:          "refresh-search-index",
		"JT_PLATFORM_SECRET":     "0123456789abcdef0123456789abcdef",
		RedisURLVar:              "redis://:hunter2@127.0.0.1:1/0",
		"JT_CRON_UNRELATED_NAME": "ignored",
	})
	opts, closeFn, err := OptionsFromEnv(context.Background(), env)
	if err != nil {
		t.Fatalf("OptionsFromEnv: %v", err)
	}
	defer closeFn()

	if _, ok := opts.Locker.(*RedisLocker); !ok {
		t.Errorf("Locker is %T, want *RedisLocker", opts.Locker)
	}
	if opts.Location != time.UTC || opts.Grace != 2*time.Minute || opts.Timeout != 90*time.Second {
		t.Errorf("location, grace, timeout = %v, %s, %s; want UTC, 2m, 90s", opts.Location, opts.Grace, opts.Timeout)
	}
	if len(opts.Sources) != 2 || opts.Sources[0] != SourcePingSource || opts.Sources[1] != SourceCronConnector {
		t.Errorf("Sources = %v, want [pingsource cron-connector]", opts.Sources)
	}
	if opts.ConnectorJob != "refresh-search-index" || string(opts.PlatformSecret) != "0123456789abcdef0123456789abcdef" {
		t.Errorf("connector job %q, secret set %v", opts.ConnectorJob, opts.PlatformSecret != nil)
	}
}

func TestOptionsFromEnvReportsEveryProblem(t *testing.T) {
	t.Parallel()
	env := testEnv(t, map[string]string{
		TimezoneVar:          "Mars/Olympus",
		GraceVar:             "soon",
		TimeoutVar:           "-5m",
		SourcesVar:           "pingsource,scf",
		"JT_PLATFORM_SECRET": "short",
	})
	_, closeFn, err := OptionsFromEnv(context.Background(), env)
	defer closeFn()
	if err == nil {
		t.Fatal("OptionsFromEnv succeeded, want errors")
	}
	for _, want := range []string{
		`invalid JT_CRON_TIMEZONE "Mars/Olympus"`,
		`invalid JT_CRON_GRACE "soon"`,
		`invalid JT_CRON_TIMEOUT "-5m"`,
		`invalid JT_CRON_SOURCES entry "scf"`,
		`JT_PLATFORM_SECRET has 5 bytes`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "short") {
		t.Errorf("error contains the secret: %v", err)
	}
}

func TestOptionsFromEnvRedisURLHidesPassword(t *testing.T) {
	t.Parallel()
	_, closeFn, err := OptionsFromEnv(context.Background(), testEnv(t, map[string]string{RedisURLVar: "rediss://:hunter2@[::1"}))
	defer closeFn()
	if err == nil || !strings.Contains(err.Error(), "invalid JT_CRON_REDIS_URL") {
		t.Fatalf("error = %v, want invalid JT_CRON_REDIS_URL", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error contains the password: %v", err)
	}
}

func TestOptionsFromEnvDatabaseErrors(t *testing.T) {
	t.Parallel()
	env := testEnv(t, nil)
	env.OpenDB = nil
	if _, _, err := OptionsFromEnv(context.Background(), env); err == nil || !strings.Contains(err.Error(), RedisURLVar) {
		t.Errorf("without a database: error = %v, want a hint to set %s", err, RedisURLVar)
	}

	errDown := errors.New("database down")
	env.OpenDB = func(context.Context) (*bun.DB, error) { return nil, errDown }
	if _, _, err := OptionsFromEnv(context.Background(), env); !errors.Is(err, errDown) {
		t.Errorf("failing database: error = %v, want it wrapped", err)
	}
}

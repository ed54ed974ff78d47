package zones

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store/storetest"
)

func lookupMap(vars map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := LoadConfig(lookupMap(nil))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg != DefaultConfig() || cfg.CacheTTL != 10*time.Second || cfg.MaxBody != 1<<20+64<<10 || cfg.Seed || cfg.OperatorTokenFile != "" {
		t.Fatalf("defaults = %+v", cfg)
	}
}

func TestLoadConfigValues(t *testing.T) {
	cfg, err := LoadConfig(lookupMap(map[string]string{
		"JT_OPERATOR_TOKEN_FILE": "/run/secrets/operator",
		"JT_ZONES_SEED":          "true",
		"JT_ZONES_CACHE_TTL":     "1m30s",
		"JT_ZONES_MAX_BODY":      "65536",
	}))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	want := Config{OperatorTokenFile: "/run/secrets/operator", Seed: true, CacheTTL: 90 * time.Second, MaxBody: 65536}
	if cfg != want {
		t.Fatalf("config = %+v, want %+v", cfg, want)
	}
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	_, err := LoadConfig(lookupMap(map[string]string{
		"JT_ZONES_SEED":      "yes please",
		"JT_ZONES_CACHE_TTL": "-1s",
		"JT_ZONES_MAX_BODY":  "1k",
	}))
	if err == nil {
		t.Fatal("LoadConfig accepted invalid values")
	}
	for _, name := range []string{"JT_ZONES_SEED", "JT_ZONES_CACHE_TTL", "JT_ZONES_MAX_BODY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}

	for _, v := range []string{"2h", "soon"} {
		if _, err := LoadConfig(lookupMap(map[string]string{"JT_ZONES_CACHE_TTL": v})); err == nil {
			t.Errorf("JT_ZONES_CACHE_TTL=%s accepted", v)
		}
	}
	for _, v := range []string{"100", "999999999", "-5"} {
		if _, err := LoadConfig(lookupMap(map[string]string{"JT_ZONES_MAX_BODY": v})); err == nil {
			t.Errorf("JT_ZONES_MAX_BODY=%s accepted", v)
		}
	}
}

func TestNewFunction(t *testing.T) {
	db := storetest.OpenSQLite(t)
	env := &fn.Env{
		Lookup: lookupMap(map[string]string{"JT_ZONES_SEED": "true"}),
		OpenDB: func(context.Context) (*bun.DB, error) { return db, nil },
	}
	f, err := New(context.Background(), env)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if f.Name != "zones" || f.Handler == nil || f.Migrate == nil || f.Ready == nil || len(f.Jobs) != 1 {
		t.Fatalf("function = %+v", f)
	}
	if err := f.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if err := f.Jobs[0].Run(context.Background()); err != nil {
		t.Fatalf("job %s: %v", f.Jobs[0].Name, err)
	}
	if n := countRows(t, db, "zones"); n == 0 {
		t.Fatal("JT_ZONES_SEED=true loaded no zones")
	}

	env.Lookup = lookupMap(map[string]string{"JT_ZONES_MAX_BODY": "huge"})
	if _, err := New(context.Background(), env); err == nil || !strings.Contains(err.Error(), "JT_ZONES_MAX_BODY") {
		t.Fatalf("New with an invalid variable: err = %v", err)
	}
}

package gateway_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway"
	"github.com/jingtong/backend/shared/ratelimit"
)

func lookupMap(vars map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

// minimalVars are the variables LoadConfig requires.
func minimalVars() map[string]string {
	return map[string]string{
		"JT_GATEWAY_KEY_DIR": "/run/keys",
		"JT_IDENTITY_SECRET": string(testIdentitySecret),
		"JT_AUDIT_KEY":       testAuditKey,
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := gateway.LoadConfig(lookupMap(minimalVars()))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.SigningKID != "gw-1" || cfg.KeyDir != "/run/keys" || cfg.RedisURL != "" || cfg.Routes == nil {
		t.Errorf("keys and stores = %q %q %q %v", cfg.SigningKID, cfg.KeyDir, cfg.RedisURL, cfg.Routes != nil)
	}
	if !cfg.RateLimits || *cfg.IPRate != (ratelimit.Limit{Rate: 100, Period: time.Second, Burst: 200}) ||
		*cfg.UserRate != (ratelimit.Limit{Rate: 20, Period: time.Second, Burst: 40}) || cfg.AppRate != nil {
		t.Errorf("limits = %v %v %v %v", cfg.RateLimits, cfg.IPRate, cfg.UserRate, cfg.AppRate)
	}
	if cfg.MaxConcurrent != 512 || cfg.Queue != 1024 || cfg.MaxWait != 500*time.Millisecond || cfg.MaxBody != 1572864 {
		t.Errorf("concurrency and body = %d %d %s %d", cfg.MaxConcurrent, cfg.Queue, cfg.MaxWait, cfg.MaxBody)
	}
	if cfg.SessionTTL != 30*time.Minute || cfg.Skew != 5*time.Minute || len(cfg.TrustedProxies) != 0 || cfg.Identity.DevLogin {
		t.Errorf("sessions and proxies = %s %s %v %v", cfg.SessionTTL, cfg.Skew, cfg.TrustedProxies, cfg.Identity.DevLogin)
	}
	if len(cfg.AuditKey) != 32 || string(cfg.IdentitySecret) != string(testIdentitySecret) || cfg.AuditReplica == "" {
		t.Errorf("secrets: audit key %d bytes, replica %q", len(cfg.AuditKey), cfg.AuditReplica)
	}
}

func TestLoadConfigValues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	keyFile := filepath.Join(dir, "audit-key")
	if err := os.WriteFile(tokenFile, []byte("service-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(testAuditKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	vars := map[string]string{
		"JT_GATEWAY_REMOTE_KEYS_URL":        "https://keys.example.cn",
		"JT_GATEWAY_REMOTE_KEYS_TOKEN_FILE": tokenFile,
		"JT_GATEWAY_SIGNING_KID":            "gw-2027",
		"JT_REDIS_URL":                      "redis://127.0.0.1:6379/2",
		"JT_GATEWAY_ROUTES":                 `{"routes": [{"name": "x", "prefix": "/api/x", "class": "public", "target": {"upstreams": [{"url": "http://127.0.0.1:9"}]}}]}`,
		"JT_IDENTITY_SECRET":                string(testIdentitySecret),
		"JT_AUDIT_KEY_FILE":                 keyFile,
		"JT_AUDIT_REPLICA":                  "gateway-7f9c:1",
		"JT_DEV_LOGIN":                      "true",
		"JT_GATEWAY_RATE_LIMITS":            "false",
		"JT_GATEWAY_IP_RATE":                "off",
		"JT_GATEWAY_USER_RATE":              "600/1m burst 50",
		"JT_GATEWAY_APP_RATE":               "2000/s",
		"JT_GATEWAY_MAX_CONCURRENT":         "64",
		"JT_GATEWAY_QUEUE":                  "0",
		"JT_GATEWAY_MAX_WAIT":               "0s",
		"JT_GATEWAY_MAX_BODY":               "65536",
		"JT_GATEWAY_TRUSTED_PROXIES":        "10.0.0.0/8, 192.0.2.7",
		"JT_GATEWAY_SESSION_TTL":            "1h",
		"JT_GATEWAY_SKEW":                   "1m",
		"JT_GATEWAY_MAX_NONCES":             "4194304",
	}

	cfg, err := gateway.LoadConfig(lookupMap(vars))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.RemoteKeysURL != "https://keys.example.cn" || string(cfg.RemoteKeysToken) != "service-token" || cfg.SigningKID != "gw-2027" {
		t.Errorf("remote keys = %q %q", cfg.RemoteKeysURL, cfg.SigningKID)
	}
	if cfg.RedisURL == "" || len(cfg.Routes.Routes) != 1 || len(cfg.AuditKey) != 32 || cfg.AuditReplica != "gateway-7f9c:1" || !cfg.Identity.DevLogin {
		t.Errorf("stores, routes and audit = %q %d %d %q", cfg.RedisURL, len(cfg.Routes.Routes), len(cfg.AuditKey), cfg.AuditReplica)
	}
	if cfg.RateLimits || cfg.IPRate != nil || *cfg.UserRate != (ratelimit.Limit{Rate: 600, Period: time.Minute, Burst: 50}) ||
		*cfg.AppRate != (ratelimit.Limit{Rate: 2000, Period: time.Second, Burst: 2000}) {
		t.Errorf("limits = %v %v %v %v", cfg.RateLimits, cfg.IPRate, cfg.UserRate, cfg.AppRate)
	}
	if cfg.MaxConcurrent != 64 || cfg.Queue != 0 || cfg.MaxWait != 0 || cfg.MaxBody != 65536 || cfg.SessionTTL != time.Hour || cfg.Skew != time.Minute ||
		cfg.MaxNonces != 4194304 {
		t.Errorf("numbers = %+v", cfg)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}
	if !slices.Equal(cfg.TrustedProxies, want) {
		t.Errorf("TrustedProxies = %v, want %v", cfg.TrustedProxies, want)
	}
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"JT_GATEWAY_KEY_DIR":         "/run/keys",
		"JT_GATEWAY_REMOTE_KEYS_URL": "https://keys.example.cn",
		"JT_GATEWAY_SIGNING_KID":     "../etc",
		"JT_REDIS_URL":               "mysql://nope",
		"JT_GATEWAY_ROUTES":          `{"routes": 5}`,
		"JT_IDENTITY_SECRET":         "short",
		"JT_AUDIT_KEY":               "not hex",
		"JT_AUDIT_REPLICA":           "-bad",
		"JT_DEV_LOGIN":               "maybe",
		"JT_GATEWAY_RATE_LIMITS":     "sometimes",
		"JT_GATEWAY_IP_RATE":         "fast",
		"JT_GATEWAY_USER_RATE":       "10/1s burst 0",
		"JT_GATEWAY_APP_RATE":        "x/1s",
		"JT_GATEWAY_MAX_CONCURRENT":  "0",
		"JT_GATEWAY_QUEUE":           "-1",
		"JT_GATEWAY_MAX_WAIT":        "forever",
		"JT_GATEWAY_MAX_BODY":        "1",
		"JT_GATEWAY_TRUSTED_PROXIES": "10.0.0.0/33",
		"JT_GATEWAY_SESSION_TTL":     "1s",
		"JT_GATEWAY_SKEW":            "1h",
		"JT_GATEWAY_MAX_NONCES":      "10",
	}
	_, err := gateway.LoadConfig(lookupMap(vars))
	if err == nil {
		t.Fatal("LoadConfig accepted invalid values")
	}
	for name := range vars {
		if name == "JT_GATEWAY_KEY_DIR" {
			continue // named in the same problem as JT_GATEWAY_REMOTE_KEYS_URL
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	if strings.Contains(err.Error(), "short") {
		t.Error("error quotes the identity secret")
	}
}

func TestLoadConfigRequiresSecretsAndKeys(t *testing.T) {
	t.Parallel()
	_, err := gateway.LoadConfig(lookupMap(nil))
	for _, name := range []string{"JT_GATEWAY_KEY_DIR", "JT_IDENTITY_SECRET", "JT_AUDIT_KEY"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("LoadConfig(nothing) error %v does not name %s", err, name)
		}
	}

	vars := minimalVars()
	delete(vars, "JT_GATEWAY_KEY_DIR")
	vars["JT_GATEWAY_REMOTE_KEYS_URL"] = "https://keys.example.cn"
	if _, err := gateway.LoadConfig(lookupMap(vars)); err == nil || !strings.Contains(err.Error(), "JT_GATEWAY_REMOTE_KEYS_TOKEN_FILE") {
		t.Errorf("remote keys without a token: error %v", err)
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want *ratelimit.Limit
		ok   bool
	}{
		{"100/1s burst 200", &ratelimit.Limit{Rate: 100, Period: time.Second, Burst: 200}, true},
		{"600/1m", &ratelimit.Limit{Rate: 600, Period: time.Minute, Burst: 600}, true},
		{"5/s", &ratelimit.Limit{Rate: 5, Period: time.Second, Burst: 5}, true},
		{" 2/h burst 1 ", &ratelimit.Limit{Rate: 2, Period: time.Hour, Burst: 1}, true},
		{"OFF", nil, true},
		{"100", nil, false},
		{"0/1s", nil, false},
		{"10/1s burst", nil, false},
		{"10/1s burst -1", nil, false},
		{"10/soon", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := gateway.ParseRate(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseRate(%q) error = %v, want ok %v", tt.in, err, tt.ok)
			}
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("ParseRate(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	got, err := gateway.ParseTrustedProxies("10.1.2.3/8,, ::ffff:192.0.2.1 ,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.1/32"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("ParseTrustedProxies = %v, want %v", got, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.local", "10.0.0.1:80"} {
		if _, err := gateway.ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
		}
	}
}

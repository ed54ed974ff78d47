package identity_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/identity"
)

func lookupMap(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestLoadConfig_defaults(t *testing.T) {
	t.Parallel()
	cfg, err := identity.LoadConfig(lookupMap(nil))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.Issuer != identity.DefaultIssuer || cfg.TTL != 2*time.Hour || cfg.Leeway != time.Minute || cfg.LoginTimeout != 5*time.Second || cfg.DevLogin {
		t.Errorf("defaults = %+v", cfg)
	}
	exchangers, err := cfg.Exchangers(nil)
	if err != nil || len(exchangers) != 0 {
		t.Errorf("Exchangers with nothing configured = %d, %v; want none", len(exchangers), err)
	}
}

func TestLoadConfig_everyPlatform(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	appKey, platformKey := alipayKeys(t)
	privPath := filepath.Join(dir, "app.pem")
	pubPath := filepath.Join(dir, "alipay.pem")
	secretPath := filepath.Join(dir, "baidu-secret")
	pkix, err := x509.MarshalPKIXPublicKey(&platformKey.PublicKey)
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey: %v", err)
	}
	for path, data := range map[string][]byte{
		privPath:   pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(appKey)}),
		pubPath:    pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		secretPath: []byte("baidu-secret-value\n"),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
	}

	cfg, err := identity.LoadConfig(lookupMap(map[string]string{
		"JT_TOKEN_TTL": "30m", "JT_LOGIN_TIMEOUT": "2s", "JT_DEV_LOGIN": "true",
		"JT_WECHAT_APP_ID": "wx1", "JT_WECHAT_APP_SECRET": "wechat-secret-value",
		"JT_ALIPAY_APP_ID": "2021", "JT_ALIPAY_PRIVATE_KEY_FILE": privPath, "JT_ALIPAY_PUBLIC_KEY_FILE": pubPath,
		"JT_BAIDU_CLIENT_ID": "bd1", "JT_BAIDU_CLIENT_SECRET_FILE": secretPath,
	}))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.TTL != 30*time.Minute || string(cfg.BaiduClientSecret) != "baidu-secret-value" {
		t.Errorf("config = %+v, want TTL 30m and the Baidu secret from its file", cfg)
	}
	exchangers, err := cfg.Exchangers(nil)
	if err != nil {
		t.Fatalf("Exchangers: %v", err)
	}
	var got []string
	for _, ex := range exchangers {
		got = append(got, string(ex.Platform())+":"+ex.AppID())
	}
	if strings.Join(got, ",") != "wechat:wx1,alipay:2021,baidu:bd1,dev:dev" {
		t.Errorf("exchangers = %v, want wechat, alipay, baidu and dev", got)
	}
}

func TestLoadConfig_invalid(t *testing.T) {
	t.Parallel()
	_, err := identity.LoadConfig(lookupMap(map[string]string{
		"JT_TOKEN_TTL":                "48h",
		"JT_TOKEN_LEEWAY":             "soon",
		"JT_DEV_LOGIN":                "maybe",
		"JT_WECHAT_APP_ID":            "wx1",
		"JT_BAIDU_CLIENT_SECRET":      "baidu-secret-value",
		"JT_BAIDU_CLIENT_SECRET_FILE": "/nonexistent",
		"JT_ALIPAY_APP_ID":            "2021",
	}))
	if err == nil {
		t.Fatalf("LoadConfig error = nil, want every problem reported")
	}
	for _, want := range []string{"JT_TOKEN_TTL", "JT_TOKEN_LEEWAY", "JT_DEV_LOGIN", "JT_WECHAT_APP_SECRET", "JT_BAIDU_CLIENT_SECRET_FILE are set", "JT_ALIPAY_PRIVATE_KEY_FILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "baidu-secret-value") {
		t.Errorf("error %q contains a secret", err)
	}
}

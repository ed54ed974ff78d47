package identity

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jingtong/backend/shared/auth"
)

// Limits of the configured login timeout.
const (
	minLoginTimeout = 100 * time.Millisecond
	maxLoginTimeout = 30 * time.Second
)

// Config is the configuration of tokens and mini-program login, read from
// the environment at start-up. A platform is configured when its app ID is
// set; its secret is then required.
type Config struct {
	// Issuer is the iss claim (JT_TOKEN_ISSUER; default "jingtong-gateway").
	Issuer string
	// Audience is the aud claim (JT_TOKEN_AUDIENCE; default "jingtong").
	Audience string
	// TTL is the token lifetime (JT_TOKEN_TTL, a Go duration; default 2h,
	// from 1s to 24h).
	TTL time.Duration
	// Leeway is the clock skew allowed in token checks (JT_TOKEN_LEEWAY;
	// default 60s, from 0s to 5m).
	Leeway time.Duration
	// LoginTimeout bounds each call to a platform (JT_LOGIN_TIMEOUT;
	// default 5s, from 100ms to 30s).
	LoginTimeout time.Duration
	// DevLogin enables the development exchanger and the development login
	// handler (JT_DEV_LOGIN, true or false; default false). Never enable it
	// in production: it lets anyone act as any test user.
	DevLogin bool

	// WeChat: JT_WECHAT_APP_ID, JT_WECHAT_APP_SECRET or
	// JT_WECHAT_APP_SECRET_FILE, and JT_WECHAT_API_URL (default
	// DefaultWeChatBaseURL).
	WeChatAppID     string
	WeChatAppSecret auth.Secret
	WeChatBaseURL   string

	// Alipay: JT_ALIPAY_APP_ID, JT_ALIPAY_PRIVATE_KEY_FILE (the app private
	// key, PEM or base64 DER), JT_ALIPAY_PUBLIC_KEY_FILE (Alipay's public
	// key, which verifies responses; required) and JT_ALIPAY_GATEWAY_URL
	// (default DefaultAlipayGatewayURL).
	AlipayAppID          string
	AlipayPrivateKeyFile string
	AlipayPublicKeyFile  string
	AlipayGatewayURL     string

	// Baidu: JT_BAIDU_CLIENT_ID (AppKey), JT_BAIDU_CLIENT_SECRET or
	// JT_BAIDU_CLIENT_SECRET_FILE (AppSecret), and JT_BAIDU_API_URL (default
	// DefaultBaiduBaseURL).
	BaiduClientID     string
	BaiduClientSecret auth.Secret
	BaiduBaseURL      string
}

// DefaultConfig returns the configuration used when no variable is set.
func DefaultConfig() Config {
	return Config{
		Issuer: DefaultIssuer, Audience: DefaultAudience, TTL: DefaultTTL, Leeway: DefaultLeeway,
		LoginTimeout:  DefaultExchangeTimeout,
		WeChatBaseURL: DefaultWeChatBaseURL, AlipayGatewayURL: DefaultAlipayGatewayURL, BaiduBaseURL: DefaultBaiduBaseURL,
	}
}

// LoadConfig reads the configuration through lookup and reports every
// invalid variable in one error. Secret values never appear in the error.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	get := func(key string) string {
		if lookup == nil {
			return ""
		}
		v, _ := lookup(key)
		return strings.TrimSpace(v)
	}
	var problems []error
	duration := func(key string, min, max time.Duration, dst *time.Duration) {
		v := get(key)
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < min || d > max {
			problems = append(problems, fmt.Errorf("%s=%q: want a duration from %s to %s", key, v, min, max))
			return
		}
		*dst = d
	}
	text := func(key string, dst *string) {
		if v := get(key); v != "" {
			*dst = v
		}
	}
	secret := func(key string) auth.Secret {
		s, err := readSecret(get, key)
		if err != nil {
			problems = append(problems, err)
		}
		return s
	}

	text("JT_TOKEN_ISSUER", &cfg.Issuer)
	text("JT_TOKEN_AUDIENCE", &cfg.Audience)
	duration("JT_TOKEN_TTL", time.Second, MaxTTL, &cfg.TTL)
	duration("JT_TOKEN_LEEWAY", 0, MaxLeeway, &cfg.Leeway)
	duration("JT_LOGIN_TIMEOUT", minLoginTimeout, maxLoginTimeout, &cfg.LoginTimeout)
	if v := get("JT_DEV_LOGIN"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("JT_DEV_LOGIN=%q: want true or false", v))
		}
		cfg.DevLogin = b
	}

	text("JT_WECHAT_APP_ID", &cfg.WeChatAppID)
	cfg.WeChatAppSecret = secret("JT_WECHAT_APP_SECRET")
	text("JT_WECHAT_API_URL", &cfg.WeChatBaseURL)
	if cfg.WeChatAppID != "" && len(cfg.WeChatAppSecret) == 0 {
		problems = append(problems, errors.New("JT_WECHAT_APP_ID is set without JT_WECHAT_APP_SECRET or JT_WECHAT_APP_SECRET_FILE"))
	}

	text("JT_ALIPAY_APP_ID", &cfg.AlipayAppID)
	text("JT_ALIPAY_PRIVATE_KEY_FILE", &cfg.AlipayPrivateKeyFile)
	text("JT_ALIPAY_PUBLIC_KEY_FILE", &cfg.AlipayPublicKeyFile)
	text("JT_ALIPAY_GATEWAY_URL", &cfg.AlipayGatewayURL)
	if cfg.AlipayAppID != "" && (cfg.AlipayPrivateKeyFile == "" || cfg.AlipayPublicKeyFile == "") {
		problems = append(problems, errors.New("JT_ALIPAY_APP_ID is set without JT_ALIPAY_PRIVATE_KEY_FILE and JT_ALIPAY_PUBLIC_KEY_FILE"))
	}

	text("JT_BAIDU_CLIENT_ID", &cfg.BaiduClientID)
	cfg.BaiduClientSecret = secret("JT_BAIDU_CLIENT_SECRET")
	text("JT_BAIDU_API_URL", &cfg.BaiduBaseURL)
	if cfg.BaiduClientID != "" && len(cfg.BaiduClientSecret) == 0 {
		problems = append(problems, errors.New("JT_BAIDU_CLIENT_ID is set without JT_BAIDU_CLIENT_SECRET or JT_BAIDU_CLIENT_SECRET_FILE"))
	}

	if len(problems) > 0 {
		return cfg, fmt.Errorf("identity: invalid configuration: %w", errors.Join(problems...))
	}
	return cfg, nil
}

// readSecret reads the variable key, or the file that key+"_FILE" names.
func readSecret(get func(string) string, key string) (auth.Secret, error) {
	value, path := get(key), get(key+"_FILE")
	switch {
	case value != "" && path != "":
		return nil, fmt.Errorf("both %s and %s_FILE are set; set one", key, key)
	case path != "":
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s_FILE: %w", key, err)
		}
		value = strings.TrimSpace(string(data))
		if value == "" {
			return nil, fmt.Errorf("%s_FILE %q is empty", key, path)
		}
	}
	if value == "" {
		return nil, nil
	}
	return auth.Secret(value), nil
}

// Exchangers builds an exchanger for each configured platform, plus the
// development exchanger when DevLogin is set. client sends the requests;
// nil means a new http.Client.
func (c Config) Exchangers(client *http.Client) ([]CodeExchanger, error) {
	var out []CodeExchanger
	if c.WeChatAppID != "" {
		ex, err := NewWeChatExchanger(WeChatConfig{AppID: c.WeChatAppID, AppSecret: c.WeChatAppSecret, BaseURL: c.WeChatBaseURL, Client: client, Timeout: c.LoginTimeout})
		if err != nil {
			return nil, err
		}
		out = append(out, ex)
	}
	if c.AlipayAppID != "" {
		ex, err := c.alipayExchanger(client)
		if err != nil {
			return nil, err
		}
		out = append(out, ex)
	}
	if c.BaiduClientID != "" {
		ex, err := NewBaiduExchanger(BaiduConfig{ClientID: c.BaiduClientID, ClientSecret: c.BaiduClientSecret, BaseURL: c.BaiduBaseURL, Client: client, Timeout: c.LoginTimeout})
		if err != nil {
			return nil, err
		}
		out = append(out, ex)
	}
	if c.DevLogin {
		out = append(out, DevExchanger{})
	}
	return out, nil
}

func (c Config) alipayExchanger(client *http.Client) (*AlipayExchanger, error) {
	privPEM, err := os.ReadFile(c.AlipayPrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("identity: reading JT_ALIPAY_PRIVATE_KEY_FILE: %w", err)
	}
	defer clear(privPEM)
	priv, err := ParseRSAPrivateKey(privPEM)
	if err != nil {
		return nil, err
	}
	signer, err := NewRSA2Signer(priv)
	if err != nil {
		return nil, err
	}

	pubPEM, err := os.ReadFile(c.AlipayPublicKeyFile)
	if err != nil {
		return nil, fmt.Errorf("identity: reading JT_ALIPAY_PUBLIC_KEY_FILE: %w", err)
	}
	pub, err := ParseRSAPublicKey(pubPEM)
	if err != nil {
		return nil, err
	}
	return NewAlipayExchanger(AlipayConfig{
		AppID: c.AlipayAppID, Signer: signer, AlipayPublicKey: pub,
		GatewayURL: c.AlipayGatewayURL, Client: client, Timeout: c.LoginTimeout,
	})
}

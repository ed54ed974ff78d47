package identity_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/identity"
	"github.com/jingtong/backend/shared/auth"
)

const (
	testAppSecret = "wechat-app-secret-do-not-log-0123456789"
	testTimeout   = 300 * time.Millisecond
)

// exchangeCase is one code sent to a stand-in platform.
type exchangeCase struct {
	name        string
	code        string
	wantKind    error // nil means success
	wantUserID  string
	wantUnionID string
}

// runExchangeCases runs cases against ex and checks each result.
func runExchangeCases(t *testing.T, ex identity.CodeExchanger, cases []exchangeCase, secrets ...string) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			user, err := ex.Exchange(context.Background(), tt.code)
			if tt.wantKind == nil {
				if err != nil {
					t.Fatalf("Exchange: %v", err)
				}
				if user.UserID != tt.wantUserID || user.UnionID != tt.wantUnionID {
					t.Errorf("user = %+v, want user ID %q and union ID %q", user, tt.wantUserID, tt.wantUnionID)
				}
				if user.Platform != ex.Platform() || user.AppID != ex.AppID() {
					t.Errorf("user platform and app = %s %q, want %s %q", user.Platform, user.AppID, ex.Platform(), ex.AppID())
				}
				return
			}
			if err == nil {
				t.Fatalf("Exchange returned %+v, want an error wrapping %v", user, tt.wantKind)
			}
			if !errors.Is(err, tt.wantKind) {
				t.Errorf("error = %v, want one wrapping %v", err, tt.wantKind)
			}
			var pe *identity.PlatformError
			if !errors.As(err, &pe) || pe.Platform != ex.Platform() {
				t.Errorf("error = %v, want a *PlatformError of %s", err, ex.Platform())
			}
			for _, secret := range append(secrets, tt.code) {
				if secret != "" && len(secret) > 8 && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret or the code", err)
				}
			}
		})
	}
}

// slowOrBig handles the codes every stand-in shares: a response slower than
// the exchanger's timeout, a non-200 status and an oversized body. It
// reports whether it handled the request.
func slowOrBig(w http.ResponseWriter, r *http.Request, code string) bool {
	switch code {
	case "slow-code-0001":
		select {
		case <-r.Context().Done():
		case <-time.After(5 * testTimeout):
		}
		return true
	case "http500-code-01":
		http.Error(w, "internal error", http.StatusInternalServerError)
		return true
	case "big-body-code-01":
		_, _ = w.Write([]byte(`{"openid":"` + strings.Repeat("a", 70<<10) + `"}`))
		return true
	}
	return false
}

func commonFailureCases() []exchangeCase {
	return []exchangeCase{
		{name: "timeout", code: "slow-code-0001", wantKind: identity.ErrPlatformUnavailable},
		{name: "non-200 status", code: "http500-code-01", wantKind: identity.ErrPlatformUnavailable},
		{name: "oversized response", code: "big-body-code-01", wantKind: identity.ErrPlatformUnavailable},
		{name: "empty code", code: "", wantKind: identity.ErrCodeInvalid},
		{name: "code with space", code: "a b", wantKind: identity.ErrCodeInvalid},
		{name: "oversized code", code: strings.Repeat("c", identity.MaxCodeSize+1), wantKind: identity.ErrCodeInvalid},
	}
}

func newWeChatStandIn(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodGet || r.URL.Path != "/sns/jscode2session" ||
			q.Get("appid") != "wx-test-app" || q.Get("secret") != testAppSecret || q.Get("grant_type") != "authorization_code" {
			http.Error(w, "unexpected request "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		code := q.Get("js_code")
		if slowOrBig(w, r, code) {
			return
		}
		// WeChat labels its JSON text/plain.
		w.Header().Set("Content-Type", "text/plain")
		responses := map[string]string{
			"good-code-0001":  `{"openid":"o-wechat-1","session_key":"c2Vzc2lvbg==","unionid":"union-1"}`,
			"nounion-code-01": `{"session_key":"c2Vzc2lvbg==","openid":"o-wechat-2"}`,
			"zero-errcode-01": `{"openid":"o-wechat-3","session_key":"c2Vzc2lvbg==","errcode":0,"errmsg":"ok"}`,
			"bad-code-00001":  `{"errcode":40029,"errmsg":"invalid code, rid: 1"}`,
			"used-code-0001":  `{"errcode":40163,"errmsg":"code been used, rid: 2"}`,
			"busy-code-0001":  `{"errcode":-1,"errmsg":"system error"}`,
			"limit-code-001":  `{"errcode":45011,"errmsg":"api minute-quota reach limit"}`,
			"risky-code-001":  `{"errcode":40226,"errmsg":"high risk user"}`,
			"badapp-code-01":  `{"errcode":40013,"errmsg":"invalid appid"}`,
			"malformed-code1": `<html>gateway error</html>`,
			"noopenid-code1":  `{"session_key":"c2Vzc2lvbg=="}`,
		}
		body, ok := responses[code]
		if !ok {
			http.Error(w, "unknown test code", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestWeChatExchanger_standIn(t *testing.T) {
	t.Parallel()
	srv := newWeChatStandIn(t)
	ex, err := identity.NewWeChatExchanger(identity.WeChatConfig{
		AppID: "wx-test-app", AppSecret: auth.Secret(testAppSecret), BaseURL: srv.URL, Client: srv.Client(), Timeout: testTimeout,
	})
	if err != nil {
		t.Fatalf("NewWeChatExchanger: %v", err)
	}

	cases := []exchangeCase{
		{name: "success with unionid", code: "good-code-0001", wantUserID: "o-wechat-1", wantUnionID: "union-1"},
		{name: "success without unionid", code: "nounion-code-01", wantUserID: "o-wechat-2"},
		{name: "success with errcode 0", code: "zero-errcode-01", wantUserID: "o-wechat-3"},
		{name: "invalid code", code: "bad-code-00001", wantKind: identity.ErrCodeInvalid},
		{name: "used code", code: "used-code-0001", wantKind: identity.ErrCodeInvalid},
		{name: "system busy", code: "busy-code-0001", wantKind: identity.ErrPlatformUnavailable},
		{name: "rate limited", code: "limit-code-001", wantKind: identity.ErrPlatformRateLimited},
		{name: "risky user", code: "risky-code-001", wantKind: identity.ErrLoginRejected},
		{name: "invalid app ID", code: "badapp-code-01", wantKind: identity.ErrPlatformUnavailable},
		{name: "malformed JSON", code: "malformed-code1", wantKind: identity.ErrPlatformUnavailable},
		{name: "no openid", code: "noopenid-code1", wantKind: identity.ErrPlatformUnavailable},
	}
	runExchangeCases(t, ex, append(cases, commonFailureCases()...), testAppSecret)
}

func TestWeChatExchanger_transportErrorHidesSecret(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there any more

	ex, err := identity.NewWeChatExchanger(identity.WeChatConfig{AppID: "wx-test-app", AppSecret: auth.Secret(testAppSecret), BaseURL: base, Timeout: testTimeout})
	if err != nil {
		t.Fatalf("NewWeChatExchanger: %v", err)
	}
	_, err = ex.Exchange(context.Background(), "good-code-0001")
	if !errors.Is(err, identity.ErrPlatformUnavailable) {
		t.Fatalf("error = %v, want ErrPlatformUnavailable", err)
	}
	if strings.Contains(err.Error(), testAppSecret) || strings.Contains(err.Error(), "good-code-0001") {
		t.Errorf("error %q contains the app secret or the code", err)
	}
}

// Alipay stand-in keys: the app key signs requests, the platform key signs
// responses. RSA key generation is slow, so both are made once.
var (
	alipayKeysOnce sync.Once
	alipayAppKey   *rsa.PrivateKey
	alipayKey      *rsa.PrivateKey
)

func alipayKeys(t testing.TB) (app, platform *rsa.PrivateKey) {
	t.Helper()
	alipayKeysOnce.Do(func() {
		var err error
		if alipayAppKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if alipayKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return alipayAppKey, alipayKey
}

// newAlipayStandIn checks each request's parameters and RSA2 signature
// with the app public key. It responds according to the code and signs its
// responses with the platform key.
func newAlipayStandIn(t *testing.T, now time.Time) *httptest.Server {
	t.Helper()
	appKey, platformKey := alipayKeys(t)
	signer, err := identity.NewRSA2Signer(platformKey)
	if err != nil {
		t.Fatalf("NewRSA2Signer: %v", err)
	}
	respond := func(w http.ResponseWriter, key, node string, signed bool) {
		body := `{"` + key + `":` + node
		if signed {
			sig, err := signer.Sign([]byte(node))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			body += `,"sign":"` + sig + `"`
		}
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		_, _ = w.Write([]byte(body + "}"))
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/gateway.do" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		form := r.PostForm
		want := map[string]string{
			"app_id": "2021000000000001", "method": "alipay.system.oauth.token", "format": "JSON", "charset": "utf-8",
			"sign_type": "RSA2", "version": "1.0", "grant_type": "authorization_code",
			"timestamp": now.In(time.FixedZone("UTC+8", 8*3600)).Format("2006-01-02 15:04:05"),
		}
		for k, v := range want {
			if form.Get(k) != v {
				respond(w, "error_response", fmt.Sprintf(`{"code":"40001","msg":"Missing Required Arguments","sub_code":"isv.bad-%s","sub_msg":"got %q"}`, k, form.Get(k)), true)
				return
			}
		}
		if err := identity.VerifyRSA2(&appKey.PublicKey, []byte(identity.AlipaySignContent(form)), form.Get("sign")); err != nil {
			respond(w, "error_response", `{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature","sub_msg":"验签出错"}`, true)
			return
		}

		code := form.Get("code")
		if slowOrBig(w, r, code) {
			return
		}
		switch code {
		case "good-code-0001":
			respond(w, "alipay_system_oauth_token_response", `{"user_id":"2088102150477652","access_token":"token","expires_in":1296000,"refresh_token":"refresh","re_expires_in":2592000}`, true)
		case "openid-code-01":
			respond(w, "alipay_system_oauth_token_response", `{"open_id":"074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5","user_id":"","access_token":"token"}`, true)
		case "bad-code-00001":
			respond(w, "error_response", `{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.code-invalid","sub_msg":"授权码code无效"}`, true)
		case "busy-code-0001":
			respond(w, "error_response", `{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error","sub_msg":"系统繁忙"}`, true)
		case "forged-sign-01":
			_, _ = w.Write([]byte(`{"alipay_system_oauth_token_response":{"user_id":"2088000000000001"},"sign":"` + strings.Repeat("A", 344) + `"}`))
		case "unsigned-code1":
			respond(w, "alipay_system_oauth_token_response", `{"user_id":"2088000000000001"}`, false)
		case "malformed-code1":
			_, _ = w.Write([]byte(`{"alipay_system_oauth_token_response":`))
		case "empty-object-1":
			_, _ = w.Write([]byte(`{}`))
		default:
			http.Error(w, "unknown test code", http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newAlipayExchanger(t *testing.T, srv *httptest.Server, now time.Time, verifyResponses bool) *identity.AlipayExchanger {
	t.Helper()
	appKey, platformKey := alipayKeys(t)
	signer, err := identity.NewRSA2Signer(appKey)
	if err != nil {
		t.Fatalf("NewRSA2Signer: %v", err)
	}
	cfg := identity.AlipayConfig{
		AppID: "2021000000000001", Signer: signer, GatewayURL: srv.URL + "/gateway.do",
		Client: srv.Client(), Timeout: testTimeout, Now: func() time.Time { return now },
	}
	if verifyResponses {
		cfg.AlipayPublicKey = &platformKey.PublicKey
	}
	ex, err := identity.NewAlipayExchanger(cfg)
	if err != nil {
		t.Fatalf("NewAlipayExchanger: %v", err)
	}
	return ex
}

func TestAlipayExchanger_standIn(t *testing.T) {
	t.Parallel()
	srv := newAlipayStandIn(t, testNow)
	ex := newAlipayExchanger(t, srv, testNow, true)

	cases := []exchangeCase{
		{name: "success with user_id", code: "good-code-0001", wantUserID: "2088102150477652"},
		{name: "success with open_id", code: "openid-code-01", wantUserID: "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5"},
		{name: "invalid code", code: "bad-code-00001", wantKind: identity.ErrCodeInvalid},
		{name: "service unavailable", code: "busy-code-0001", wantKind: identity.ErrPlatformUnavailable},
		{name: "forged response signature", code: "forged-sign-01", wantKind: identity.ErrPlatformUnavailable},
		{name: "unsigned response", code: "unsigned-code1", wantKind: identity.ErrPlatformUnavailable},
		{name: "malformed JSON", code: "malformed-code1", wantKind: identity.ErrPlatformUnavailable},
		{name: "no response node", code: "empty-object-1", wantKind: identity.ErrPlatformUnavailable},
	}
	runExchangeCases(t, ex, append(cases, commonFailureCases()...))
}

func TestAlipayExchanger_requestSignatureChecked(t *testing.T) {
	t.Parallel()
	srv := newAlipayStandIn(t, testNow)

	// A signer with another key: the stand-in's check with the app public
	// key fails, so the exchange must fail too.
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	signer, err := identity.NewRSA2Signer(other)
	if err != nil {
		t.Fatalf("NewRSA2Signer: %v", err)
	}
	ex, err := identity.NewAlipayExchanger(identity.AlipayConfig{
		AppID: "2021000000000001", Signer: signer, GatewayURL: srv.URL + "/gateway.do",
		Client: srv.Client(), Timeout: testTimeout, Now: fixedNow,
	})
	if err != nil {
		t.Fatalf("NewAlipayExchanger: %v", err)
	}
	_, err = ex.Exchange(context.Background(), "good-code-0001")
	var pe *identity.PlatformError
	if !errors.As(err, &pe) || !strings.Contains(pe.Code, "isv.invalid-signature") {
		t.Errorf("error = %v, want the stand-in's isv.invalid-signature", err)
	}
}

func TestAlipayExchanger_withoutResponseKey(t *testing.T) {
	t.Parallel()
	srv := newAlipayStandIn(t, testNow)
	ex := newAlipayExchanger(t, srv, testNow, false)

	user, err := ex.Exchange(context.Background(), "unsigned-code1")
	if err != nil || user.UserID != "2088000000000001" {
		t.Errorf("Exchange = %+v, %v; want user 2088000000000001 when responses are not verified", user, err)
	}
}

func TestAlipaySignContent_documentedExample(t *testing.T) {
	t.Parallel()

	// The example of Alipay's signing page: sign is left out, empty values
	// are left out, names are sorted and values are not URL-encoded.
	params := url.Values{
		"app_id":      {"2014072300007148"},
		"method":      {"alipay.mobile.public.menu.add"},
		"charset":     {"GBK"},
		"sign_type":   {"RSA2"},
		"timestamp":   {"2014-07-24 03:07:50"},
		"biz_content": {`{"button":[{"actionParam":"ZFB_HFCZ","actionType":"out","name":"话费充值"}]}`},
		"sign":        {"e9zEAe4TTQ4LPLQvETPoLGXTiURcxiAKfMVQ6Hrrsx2hmyIEGvSfAQzbLxHrhyZ48w=="},
		"version":     {"1.0"},
		"empty":       {""},
	}
	want := `app_id=2014072300007148&biz_content={"button":[{"actionParam":"ZFB_HFCZ","actionType":"out","name":"话费充值"}]}` +
		`&charset=GBK&method=alipay.mobile.public.menu.add&sign_type=RSA2&timestamp=2014-07-24 03:07:50&version=1.0`
	if got := identity.AlipaySignContent(params); got != want {
		t.Errorf("AlipaySignContent =\n%s\nwant\n%s", got, want)
	}
}

func TestParseRSAKeys_formats(t *testing.T) {
	t.Parallel()
	appKey, _ := alipayKeys(t)

	pkcs8, err := x509.MarshalPKCS8PrivateKey(appKey)
	if err != nil {
		t.Fatalf("MarshalPKCS8PrivateKey: %v", err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(&appKey.PublicKey)
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey: %v", err)
	}
	b64 := func(b []byte) []byte {
		s := string(pem.EncodeToMemory(&pem.Block{Type: "X", Bytes: b}))
		lines := strings.Split(s, "\n")
		return []byte(strings.Join(lines[1:len(lines)-2], "\n"))
	}

	for name, data := range map[string][]byte{
		"PKCS #1 PEM":    pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(appKey)}),
		"PKCS #8 PEM":    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		"bare PKCS #8":   b64(pkcs8),
		"bare PKCS #1":   b64(x509.MarshalPKCS1PrivateKey(appKey)),
		"bare with CRLF": []byte(strings.ReplaceAll(string(b64(pkcs8)), "\n", "\r\n")),
	} {
		key, err := identity.ParseRSAPrivateKey(data)
		if err != nil || !key.Equal(appKey) {
			t.Errorf("ParseRSAPrivateKey(%s) = %v; want the key", name, err)
		}
	}
	for name, data := range map[string][]byte{
		"PKIX PEM":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"bare PKIX": b64(pkix),
	} {
		key, err := identity.ParseRSAPublicKey(data)
		if err != nil || !key.Equal(&appKey.PublicKey) {
			t.Errorf("ParseRSAPublicKey(%s) = %v; want the key", name, err)
		}
	}
	if _, err := identity.ParseRSAPrivateKey([]byte("not a key")); err == nil {
		t.Errorf("ParseRSAPrivateKey(garbage) error = nil, want an error")
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	if _, err := identity.NewRSA2Signer(small); err == nil {
		t.Errorf("NewRSA2Signer(1024-bit key) error = nil, want an error")
	}
}

func newBaiduStandIn(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/oauth/jscode2sessionkey" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("client_id") != "baidu-app-key" || r.PostForm.Get("sk") != testAppSecret {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"errno":10010100,"error":"parameter is invalid","error_description":"Key: 'Code2SessionKeyParam.ClientID' Error"}`))
			return
		}
		code := r.PostForm.Get("code")
		if slowOrBig(w, r, code) {
			return
		}
		responses := map[string]string{
			"good-code-0001":  `{"openid":"l214zFqNrEuIEnp6m7Y01sw8yj","session_key":"981ce8b151c0599acf7ad1a673c6ff5e"}`,
			"host@code-0001":  `{"openid":"open-source-host-user","session_key":"x"}`,
			"bad-code-00001":  `{"errno":10010101,"error":"invalid_grant","error_description":"code is invalid"}`,
			"param-code-001":  `{"errno":"10010100","error":"parameter is invalid","error_description":"bad"}`,
			"malformed-code1": `{"openid":`,
			"noopenid-code1":  `{"session_key":"x"}`,
		}
		body, ok := responses[code]
		if !ok {
			http.Error(w, "unknown test code", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestBaiduExchanger_standIn(t *testing.T) {
	t.Parallel()
	srv := newBaiduStandIn(t)
	ex, err := identity.NewBaiduExchanger(identity.BaiduConfig{
		ClientID: "baidu-app-key", ClientSecret: auth.Secret(testAppSecret), BaseURL: srv.URL, Client: srv.Client(), Timeout: testTimeout,
	})
	if err != nil {
		t.Fatalf("NewBaiduExchanger: %v", err)
	}

	cases := []exchangeCase{
		{name: "success", code: "good-code-0001", wantUserID: "l214zFqNrEuIEnp6m7Y01sw8yj"},
		{name: "open-source host code", code: "host@code-0001", wantUserID: "open-source-host-user"},
		{name: "invalid grant", code: "bad-code-00001", wantKind: identity.ErrCodeInvalid},
		{name: "parameter error", code: "param-code-001", wantKind: identity.ErrPlatformUnavailable},
		{name: "malformed JSON", code: "malformed-code1", wantKind: identity.ErrPlatformUnavailable},
		{name: "no openid", code: "noopenid-code1", wantKind: identity.ErrPlatformUnavailable},
	}
	runExchangeCases(t, ex, append(cases, commonFailureCases()...), testAppSecret)
}

func TestBaiduExchanger_wrongSecret(t *testing.T) {
	t.Parallel()
	srv := newBaiduStandIn(t)
	ex, err := identity.NewBaiduExchanger(identity.BaiduConfig{
		ClientID: "baidu-app-key", ClientSecret: auth.Secret("another-secret-0123456789"), BaseURL: srv.URL, Timeout: testTimeout,
	})
	if err != nil {
		t.Fatalf("NewBaiduExchanger: %v", err)
	}
	if _, err := ex.Exchange(context.Background(), "good-code-0001"); !errors.Is(err, identity.ErrPlatformUnavailable) {
		t.Errorf("error = %v, want ErrPlatformUnavailable for a configuration error", err)
	}
}

func TestDevExchanger_codes(t *testing.T) {
	t.Parallel()
	runExchangeCases(t, identity.DevExchanger{}, []exchangeCase{
		{name: "test user", code: "dev-citizen", wantUserID: "citizen"},
		{name: "operator", code: "dev-operator", wantUserID: "operator"},
		{name: "unknown user", code: "dev-root", wantKind: identity.ErrCodeInvalid},
		{name: "no prefix", code: "citizen", wantKind: identity.ErrCodeInvalid},
	})
}

func TestNewExchangers_invalidConfig(t *testing.T) {
	t.Parallel()

	if _, err := identity.NewWeChatExchanger(identity.WeChatConfig{AppID: "wx"}); err == nil {
		t.Errorf("WeChat without secret: error = nil")
	}
	if _, err := identity.NewWeChatExchanger(identity.WeChatConfig{AppID: "wx", AppSecret: auth.Secret("s"), BaseURL: "ftp://127.0.0.1"}); err == nil {
		t.Errorf("WeChat with ftp URL: error = nil")
	}
	if _, err := identity.NewAlipayExchanger(identity.AlipayConfig{AppID: "2021"}); err == nil {
		t.Errorf("Alipay without signer: error = nil")
	}
	if _, err := identity.NewBaiduExchanger(identity.BaiduConfig{ClientID: "k"}); err == nil {
		t.Errorf("Baidu without secret: error = nil")
	}
}

// Fail the build if an exchanger stops satisfying the interface.
var _ = []identity.CodeExchanger{
	(*identity.WeChatExchanger)(nil), (*identity.AlipayExchanger)(nil), (*identity.BaiduExchanger)(nil), identity.DevExchanger{},
}

package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jingtong/backend/shared/auth"
)

// DefaultBaiduBaseURL is the Baidu smart program server API.
const DefaultBaiduBaseURL = "https://spapi.baidu.com"

// BaiduConfig configures a BaiduExchanger.
type BaiduConfig struct {
	// ClientID is the smart program's AppKey. Required.
	ClientID string
	// ClientSecret is the smart program's AppSecret, sent as "sk". Required.
	ClientSecret auth.Secret
	// BaseURL is the API base (default DefaultBaiduBaseURL). Tests point it
	// at a stand-in.
	BaseURL string
	// Client sends the requests (default: a new http.Client).
	Client *http.Client
	// Timeout bounds each exchange (default DefaultExchangeTimeout, 5 s).
	Timeout time.Duration
}

// BaiduExchanger exchanges swan.login codes through getSessionKeyByCode:
//
//	POST {BaseURL}/oauth/jscode2sessionkey, application/x-www-form-urlencoded:
//	  code, client_id, sk
//	→ 200 {"openid": "...", "session_key": "..."}
//	→ 200 {"errno": 10010100, "error": "parameter is invalid", "error_description": "..."}
//
// Sources: https://w3cschool.cn/baiduapp/baiduapp-kioq39sq.html and
// https://www.bookstack.cn/read/smartprogram-20210306/a4bcb54eb96e30d2.md.
// The session_key is dropped, as for WeChat.
type BaiduExchanger struct {
	httpCaller
	clientID string
	secret   auth.Secret
	endpoint string
}

var _ CodeExchanger = (*BaiduExchanger)(nil)

// NewBaiduExchanger returns a BaiduExchanger for cfg.
func NewBaiduExchanger(cfg BaiduConfig) (*BaiduExchanger, error) {
	if cfg.ClientID == "" || len(cfg.ClientSecret) == 0 {
		return nil, errors.New("identity: Baidu login needs a client ID (AppKey) and a secret (AppSecret)")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaiduBaseURL
	}
	base, err := parseBaseURL("Baidu API URL", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	return &BaiduExchanger{
		httpCaller: newHTTPCaller(PlatformBaidu, cfg.Client, cfg.Timeout),
		clientID:   cfg.ClientID,
		secret:     cfg.ClientSecret,
		endpoint:   base.JoinPath("oauth", "jscode2sessionkey").String(),
	}, nil
}

// Platform returns PlatformBaidu.
func (e *BaiduExchanger) Platform() Platform { return PlatformBaidu }

// AppID returns the smart program's AppKey.
func (e *BaiduExchanger) AppID() string { return e.clientID }

type baiduSession struct {
	OpenID      string          `json:"openid"`
	Errno       json.RawMessage `json:"errno"`
	Error       string          `json:"error"`
	Description string          `json:"error_description"`
}

// baiduInvalidGrant is the OAuth 2.0 error for an invalid, used or expired
// authorization code (RFC 6749, section 5.2).
const baiduInvalidGrant = "invalid_grant"

// Exchange calls jscode2sessionkey with code.
func (e *BaiduExchanger) Exchange(ctx context.Context, code string) (*PlatformUser, error) {
	if err := checkCode(PlatformBaidu, code); err != nil {
		return nil, err
	}

	form := url.Values{"code": {code}, "client_id": {e.clientID}, "sk": {string(e.secret)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, e.fail(ErrPlatformUnavailable, "building the request failed")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	body, err := e.do(ctx, req)
	if err != nil {
		return nil, err
	}

	var s baiduSession
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, e.fail(ErrPlatformUnavailable, "response is not the documented JSON object")
	}
	errno := string(bytes.Trim(s.Errno, `"`))
	if s.Error != "" || (errno != "" && errno != "0") {
		// NOTE: Baidu's errno list was not available when this was written,
		// so only the OAuth 2.0 error name marks a bad code. Every other
		// error, including bad codes reported another way, is treated as
		// the service being unavailable.
		kind := ErrPlatformUnavailable
		if s.Error == baiduInvalidGrant {
			kind = ErrCodeInvalid
		}
		return nil, &PlatformError{Platform: PlatformBaidu, Kind: kind, StatusCode: http.StatusOK,
			Code: strings.Trim(errno+" "+s.Error, " "), Message: s.Description}
	}
	if err := checkUserID(e.httpCaller, "openid", s.OpenID); err != nil {
		return nil, err
	}
	return &PlatformUser{Platform: PlatformBaidu, AppID: e.clientID, UserID: s.OpenID}, nil
}

package identity

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/jingtong/backend/shared/auth"
)

// DefaultWeChatBaseURL is the WeChat server API.
const DefaultWeChatBaseURL = "https://api.weixin.qq.com"

// WeChatConfig configures a WeChatExchanger.
type WeChatConfig struct {
	// AppID is the mini-program's appid. Required.
	AppID string
	// AppSecret is the mini-program's AppSecret. Required.
	AppSecret auth.Secret
	// BaseURL is the API base (default DefaultWeChatBaseURL). Tests point it
	// at a stand-in.
	BaseURL string
	// Client sends the requests (default: a new http.Client).
	Client *http.Client
	// Timeout bounds each exchange (default DefaultExchangeTimeout, 5 s).
	Timeout time.Duration
}

// WeChatExchanger exchanges wx.login codes through auth.code2Session:
//
//	GET {BaseURL}/sns/jscode2session?appid=APPID&secret=SECRET&js_code=CODE&grant_type=authorization_code
//	→ 200 {"openid": "...", "session_key": "...", "unionid": "..."}
//	→ 200 {"errcode": 40029, "errmsg": "invalid code"}
//
// unionid comes only when the mini-program is bound to a WeChat Open
// Platform account. WeChat sends errcode 0 or no errcode on success, and may
// label the JSON body text/plain, so the content type is not checked.
// Sources: https://developers.weixin.qq.com/minigame/dev/api-backend/open-api/login/auth.code2Session.html
// and https://www.w3cschool.cn/weixinapp/weixinapp-8e3q38vk.html (the
// mini-program copy of the same page).
//
// The session_key in the response is not decoded or stored, because
// nothing here decrypts user data.
type WeChatExchanger struct {
	httpCaller
	appID    string
	secret   auth.Secret
	endpoint *url.URL
}

var _ CodeExchanger = (*WeChatExchanger)(nil)

// NewWeChatExchanger returns a WeChatExchanger for cfg.
func NewWeChatExchanger(cfg WeChatConfig) (*WeChatExchanger, error) {
	if cfg.AppID == "" || len(cfg.AppSecret) == 0 {
		return nil, errors.New("identity: WeChat login needs an app ID and an app secret")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultWeChatBaseURL
	}
	base, err := parseBaseURL("WeChat API URL", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	return &WeChatExchanger{
		httpCaller: newHTTPCaller(PlatformWeChat, cfg.Client, cfg.Timeout),
		appID:      cfg.AppID,
		secret:     cfg.AppSecret,
		endpoint:   base.JoinPath("sns", "jscode2session"),
	}, nil
}

// Platform returns PlatformWeChat.
func (e *WeChatExchanger) Platform() Platform { return PlatformWeChat }

// AppID returns the mini-program's appid.
func (e *WeChatExchanger) AppID() string { return e.appID }

type weChatSession struct {
	OpenID  string `json:"openid"`
	UnionID string `json:"unionid"`
	ErrCode int64  `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// WeChat errcode values with their own handling. Every other non-zero
// errcode, such as -1 (system busy) or 40013 (invalid appid), maps to
// ErrPlatformUnavailable.
const (
	weChatInvalidCode = 40029 // code 无效
	weChatCodeUsed    = 40163 // code been used; WeChat's developer community, https://developers.weixin.qq.com/community/personal/oCJUsw1zXrxgTSznFcl_LB4L2xHI/question
	weChatRateLimit   = 45011 // 100 calls per user per minute
	weChatRiskyUser   = 40226 // 高风险等级用户，小程序登录拦截
)

// Exchange calls jscode2session with code.
func (e *WeChatExchanger) Exchange(ctx context.Context, code string) (*PlatformUser, error) {
	if err := checkCode(PlatformWeChat, code); err != nil {
		return nil, err
	}

	u := *e.endpoint
	u.RawQuery = url.Values{
		"appid":      {e.appID},
		"secret":     {string(e.secret)},
		"js_code":    {code},
		"grant_type": {"authorization_code"},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		// The error would quote the URL, which holds the app secret.
		return nil, e.fail(ErrPlatformUnavailable, "building the request failed")
	}
	body, err := e.do(ctx, req)
	if err != nil {
		return nil, err
	}

	var s weChatSession
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, e.fail(ErrPlatformUnavailable, "response is not the documented JSON object")
	}
	if s.ErrCode != 0 {
		return nil, &PlatformError{Platform: PlatformWeChat, Kind: weChatErrorKind(s.ErrCode), StatusCode: http.StatusOK,
			Code: strconv.FormatInt(s.ErrCode, 10), Message: s.ErrMsg}
	}
	if err := checkUserID(e.httpCaller, "openid", s.OpenID); err != nil {
		return nil, err
	}
	if s.UnionID != "" {
		if err := checkUserID(e.httpCaller, "unionid", s.UnionID); err != nil {
			return nil, err
		}
	}
	return &PlatformUser{Platform: PlatformWeChat, AppID: e.appID, UserID: s.OpenID, UnionID: s.UnionID}, nil
}

func weChatErrorKind(code int64) error {
	switch code {
	case weChatInvalidCode, weChatCodeUsed:
		return ErrCodeInvalid
	case weChatRateLimit:
		return ErrPlatformRateLimited
	case weChatRiskyUser:
		return ErrLoginRejected
	}
	return ErrPlatformUnavailable
}

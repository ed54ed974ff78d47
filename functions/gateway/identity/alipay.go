package identity

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultAlipayGatewayURL is the Alipay OpenAPI gateway.
const DefaultAlipayGatewayURL = "https://openapi.alipay.com/gateway.do"

// AlipayConfig configures an AlipayExchanger.
type AlipayConfig struct {
	// AppID is the mini-program's app_id. Required.
	AppID string
	// Signer signs requests with the app private key, usually an
	// RSA2Signer. Required.
	Signer Signer
	// AlipayPublicKey, when set, verifies the "sign" of every response.
	// Leave it nil only in tests.
	AlipayPublicKey *rsa.PublicKey
	// GatewayURL is the OpenAPI gateway (default DefaultAlipayGatewayURL).
	// Tests point it at a stand-in.
	GatewayURL string
	// Client sends the requests (default: a new http.Client).
	Client *http.Client
	// Timeout bounds each exchange (default DefaultExchangeTimeout, 5 s).
	Timeout time.Duration
	// Now returns the current time for the timestamp parameter (default
	// time.Now).
	Now func() time.Time
}

// AlipayExchanger exchanges my.getAuthCode codes through
// alipay.system.oauth.token:
//
//	POST {GatewayURL}, application/x-www-form-urlencoded:
//	  app_id, method=alipay.system.oauth.token, format=JSON, charset=utf-8,
//	  sign_type=RSA2, timestamp="yyyy-MM-dd HH:mm:ss" (Beijing time),
//	  version=1.0, grant_type=authorization_code, code, sign
//	→ 200 {"alipay_system_oauth_token_response": {"user_id" or "open_id", "access_token", ...}, "sign": "..."}
//	→ 200 {"error_response": {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.code-invalid", "sub_msg": "..."}, "sign": "..."}
//
// Sources: https://docs.antom.com/ac/solution_api/oauth_token (parameters),
// https://w3cschool.cn/aliminiapp/aliminiapp-osfv2j24.html (response
// fields), https://developer.aliyun.com/ask/285679 (error_response shape)
// and https://cnblogs.com/imzhi/articles/15559220.html (isv.code-invalid).
//
// The user ID is open_id when the response has one and user_id otherwise:
// apps on Alipay's openid standard get open_id, older apps user_id. The
// access token is dropped.
type AlipayExchanger struct {
	httpCaller
	cfg      AlipayConfig
	endpoint string
}

var _ CodeExchanger = (*AlipayExchanger)(nil)

// beijing is UTC+8 without daylight saving, the zone of Alipay timestamps.
// A fixed zone needs no time zone database.
var beijing = time.FixedZone("CST", 8*60*60)

// NewAlipayExchanger returns an AlipayExchanger for cfg.
func NewAlipayExchanger(cfg AlipayConfig) (*AlipayExchanger, error) {
	if cfg.AppID == "" || cfg.Signer == nil {
		return nil, errors.New("identity: Alipay login needs an app ID and a request signer")
	}
	if cfg.GatewayURL == "" {
		cfg.GatewayURL = DefaultAlipayGatewayURL
	}
	u, err := parseBaseURL("Alipay gateway URL", cfg.GatewayURL)
	if err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &AlipayExchanger{httpCaller: newHTTPCaller(PlatformAlipay, cfg.Client, cfg.Timeout), cfg: cfg, endpoint: u.String()}, nil
}

// Platform returns PlatformAlipay.
func (e *AlipayExchanger) Platform() Platform { return PlatformAlipay }

// AppID returns the mini-program's app_id.
func (e *AlipayExchanger) AppID() string { return e.cfg.AppID }

const (
	alipayTokenMethod   = "alipay.system.oauth.token"
	alipayResponseKey   = "alipay_system_oauth_token_response"
	alipayErrorKey      = "error_response"
	alipaySuccessCode   = "10000"
	alipayCodeInvalid   = "isv.code-invalid"
	alipayTimestampForm = "2006-01-02 15:04:05"
)

// alipayResult is a response node, successful or not.
type alipayResult struct {
	Code    string `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code"`
	SubMsg  string `json:"sub_msg"`
	UserID  string `json:"user_id"`
	OpenID  string `json:"open_id"`
}

// Exchange calls alipay.system.oauth.token with code.
func (e *AlipayExchanger) Exchange(ctx context.Context, code string) (*PlatformUser, error) {
	if err := checkCode(PlatformAlipay, code); err != nil {
		return nil, err
	}
	params, err := e.requestParams(code)
	if err != nil {
		return nil, err
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, e.fail(ErrPlatformUnavailable, "building the request failed")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	body, err := e.do(ctx, req)
	if err != nil {
		return nil, err
	}

	result, err := e.parseResponse(body)
	if err != nil {
		return nil, err
	}
	userID := result.OpenID
	name := "open_id"
	if userID == "" {
		userID, name = result.UserID, "user_id"
	}
	if err := checkUserID(e.httpCaller, name, userID); err != nil {
		return nil, err
	}
	return &PlatformUser{Platform: PlatformAlipay, AppID: e.cfg.AppID, UserID: userID}, nil
}

// requestParams returns the signed form parameters.
func (e *AlipayExchanger) requestParams(code string) (url.Values, error) {
	params := url.Values{
		"app_id":     {e.cfg.AppID},
		"method":     {alipayTokenMethod},
		"format":     {"JSON"},
		"charset":    {"utf-8"},
		"sign_type":  {e.cfg.Signer.SignType()},
		"timestamp":  {e.cfg.Now().In(beijing).Format(alipayTimestampForm)},
		"version":    {"1.0"},
		"grant_type": {"authorization_code"},
		"code":       {code},
	}
	sig, err := e.cfg.Signer.Sign([]byte(AlipaySignContent(params)))
	if err != nil {
		return nil, e.fail(ErrPlatformUnavailable, "%w", err)
	}
	params.Set("sign", sig)
	return params, nil
}

// parseResponse returns the successful response node, or the error that
// the response reports. With AlipayPublicKey set, the sign member must be a
// valid signature of the node's raw JSON text.
func (e *AlipayExchanger) parseResponse(body []byte) (*alipayResult, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, e.fail(ErrPlatformUnavailable, "response is not a JSON object")
	}
	node, ok := top[alipayResponseKey]
	if !ok {
		node, ok = top[alipayErrorKey]
	}
	if !ok {
		return nil, e.fail(ErrPlatformUnavailable, "response has neither %s nor %s", alipayResponseKey, alipayErrorKey)
	}

	if e.cfg.AlipayPublicKey != nil {
		var sig string
		if err := json.Unmarshal(top["sign"], &sig); err != nil || sig == "" {
			return nil, e.fail(ErrPlatformUnavailable, "response is not signed")
		}
		if err := VerifyRSA2(e.cfg.AlipayPublicKey, node, sig); err != nil {
			return nil, e.fail(ErrPlatformUnavailable, "response %w", err)
		}
	}

	var result alipayResult
	if err := json.Unmarshal(node, &result); err != nil {
		return nil, e.fail(ErrPlatformUnavailable, "response node is not the documented JSON object")
	}
	if result.Code != "" && result.Code != alipaySuccessCode {
		kind := ErrPlatformUnavailable
		if result.SubCode == alipayCodeInvalid {
			kind = ErrCodeInvalid
		}
		code := result.Code
		if result.SubCode != "" {
			code += "/" + result.SubCode
		}
		return nil, &PlatformError{Platform: PlatformAlipay, Kind: kind, StatusCode: http.StatusOK, Code: code, Message: result.SubMsg}
	}
	return &result, nil
}

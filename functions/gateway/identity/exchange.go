package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Platform is a mini-program platform whose login codes the gateway
// exchanges.
type Platform string

// Platforms.
const (
	PlatformWeChat Platform = "wechat"
	PlatformAlipay Platform = "alipay"
	PlatformBaidu  Platform = "baidu"
	// PlatformDev is the development stand-in, see DevExchanger.
	PlatformDev Platform = "dev"
)

// PlatformUser is a user as a platform identifies them.
type PlatformUser struct {
	Platform Platform
	// AppID is the mini-program the user logged in to.
	AppID string
	// UserID is the platform's ID of the user within AppID: the WeChat or
	// Baidu openid, or the Alipay open_id or user_id.
	UserID string
	// UnionID is WeChat's ID of the user across the apps of one WeChat Open
	// Platform account; empty when WeChat sends none and on other platforms.
	UnionID string
}

// CodeExchanger exchanges the login code that a mini-program got from
// wx.login, my.getAuthCode or swan.login for the user's platform ID, by
// calling the platform's server API. Each exchanger serves one app.
type CodeExchanger interface {
	// Platform returns the platform the exchanger calls.
	Platform() Platform
	// AppID returns the app whose codes the exchanger accepts.
	AppID() string
	// Exchange returns the user that code belongs to. Errors are
	// *PlatformError values wrapping ErrCodeInvalid (the code is malformed,
	// used or expired), ErrLoginRejected (the platform blocks the user),
	// ErrPlatformRateLimited, or ErrPlatformUnavailable (transport failure,
	// timeout, non-200 status, malformed response, or a platform error that
	// points at our configuration).
	Exchange(ctx context.Context, code string) (*PlatformUser, error)
}

// Kinds of exchange failure, for errors.Is.
var (
	ErrCodeInvalid         = errors.New("login code is invalid, used or expired")
	ErrLoginRejected       = errors.New("platform rejected the login")
	ErrPlatformRateLimited = errors.New("platform rate limit reached")
	ErrPlatformUnavailable = errors.New("platform login service unavailable")
)

// PlatformError is a failed code exchange. Its text contains no code, app
// secret or request URL, so it is safe to log.
type PlatformError struct {
	Platform Platform
	// Kind is ErrCodeInvalid, ErrLoginRejected, ErrPlatformRateLimited or
	// ErrPlatformUnavailable.
	Kind error
	// StatusCode is the HTTP status of the platform's response, 0 when
	// there was none.
	StatusCode int
	// Code and Message are the platform's error code and message, when it
	// sent them.
	Code    string
	Message string
	// Err is the transport or decoding error, if any.
	Err error
}

func (e *PlatformError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "identity: %s login: %v", e.Platform, e.Kind)
	if e.StatusCode != 0 && e.StatusCode != http.StatusOK {
		fmt.Fprintf(&b, " (HTTP status %d)", e.StatusCode)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, ": platform error %s", e.Code)
		if e.Message != "" {
			fmt.Fprintf(&b, " %q", e.Message)
		}
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns Kind and Err, so errors.Is matches either.
func (e *PlatformError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Exchange limits.
const (
	// DefaultExchangeTimeout bounds one call to a platform's server API.
	DefaultExchangeTimeout = 5 * time.Second
	// MaxCodeSize is the longest login code in bytes accepted before calling
	// the platform. Codes of the three platforms are 32 to 64 characters.
	MaxCodeSize = 256
	// maxResponseSize bounds a platform response body. The documented
	// responses are a few hundred bytes.
	maxResponseSize = 64 << 10
	// maxPlatformUserIDSize bounds an openid or user_id in bytes.
	maxPlatformUserIDSize = 128
)

// httpCaller holds what every HTTP exchanger shares.
type httpCaller struct {
	platform Platform
	client   *http.Client
	timeout  time.Duration
}

func newHTTPCaller(platform Platform, client *http.Client, timeout time.Duration) httpCaller {
	if client == nil {
		client = &http.Client{}
	}
	if timeout <= 0 {
		timeout = DefaultExchangeTimeout
	}
	return httpCaller{platform: platform, client: client, timeout: timeout}
}

func (c httpCaller) fail(kind error, format string, args ...any) *PlatformError {
	return &PlatformError{Platform: c.platform, Kind: kind, Err: fmt.Errorf(format, args...)}
}

// do sends req with the exchanger's timeout and returns the body of a 200
// response. Transport errors lose their URL, which may hold the app secret.
func (c httpCaller) do(ctx context.Context, req *http.Request) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	resp, err := c.client.Do(req.WithContext(ctx))
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, c.fail(ErrPlatformUnavailable, "no response within %s", c.timeout)
		}
		return nil, c.fail(ErrPlatformUnavailable, "sending the request: %w", err)
	}
	defer resp.Body.Close()

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, c.fail(ErrPlatformUnavailable, "reading the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &PlatformError{Platform: c.platform, Kind: ErrPlatformUnavailable, StatusCode: resp.StatusCode}
	}
	if len(body) > maxResponseSize {
		return nil, c.fail(ErrPlatformUnavailable, "response is larger than %d bytes", maxResponseSize)
	}
	return body, nil
}

// checkCode rejects codes that no platform issues, before any request.
func checkCode(platform Platform, code string) error {
	if code == "" || len(code) > MaxCodeSize || !visibleASCII(code) {
		return &PlatformError{Platform: platform, Kind: ErrCodeInvalid, Err: fmt.Errorf("code must have 1 to %d visible ASCII characters", MaxCodeSize)}
	}
	return nil
}

// checkUserID checks an ID that a platform returned.
func checkUserID(c httpCaller, name, id string) error {
	if id == "" {
		return c.fail(ErrPlatformUnavailable, "response has no %s", name)
	}
	if len(id) > maxPlatformUserIDSize || !visibleASCII(id) {
		return c.fail(ErrPlatformUnavailable, "response %s is not 1 to %d visible ASCII characters", name, maxPlatformUserIDSize)
	}
	return nil
}

func visibleASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// parseBaseURL checks a configured API base URL.
func parseBaseURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("identity: %s %q is not an http or https URL", name, raw)
	}
	return u, nil
}

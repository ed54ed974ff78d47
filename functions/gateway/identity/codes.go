package identity

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

// Error codes of token verification and login.
var (
	CodeTokenInvalid = httpx.NewCode("TOKEN_INVALID", http.StatusUnauthorized,
		"身份令牌无效，请重新登录",
		"the identity token is invalid; log in again")
	CodeTokenExpired = httpx.NewCode("TOKEN_EXPIRED", http.StatusUnauthorized,
		"身份令牌已过期，请重新登录",
		"the identity token has expired; log in again")
	CodeLoginCodeInvalid = httpx.NewCode("LOGIN_CODE_INVALID", http.StatusUnauthorized,
		"登录凭证 code 无效、已使用或已过期，请重新调用平台登录接口获取",
		"the login code is invalid, already used or expired; call the platform's login API for a new code")
	CodeLoginPlatformUnknown = httpx.NewCode("LOGIN_PLATFORM_UNKNOWN", http.StatusBadRequest,
		"不支持平台 %q、应用 %q 的登录",
		"login is not configured for platform %q and app %q")
	CodeLoginRejected = httpx.NewCode("LOGIN_REJECTED", http.StatusForbidden,
		"%s 平台拒绝了此次登录，请在平台内核实账号状态",
		"%s rejected this login; check the account's status on that platform")
	CodePlatformRateLimited = httpx.NewCode("PLATFORM_RATE_LIMITED", http.StatusTooManyRequests,
		"%s 平台登录过于频繁，请一分钟后重试",
		"too many logins through %s; try again in a minute")
	CodePlatformUnavailable = httpx.NewCode("PLATFORM_UNAVAILABLE", http.StatusBadGateway,
		"%s 平台登录服务暂不可用，请稍后重试",
		"the %s login service is unavailable; try again later")
	CodeDevUserUnknown = httpx.NewCode("DEV_USER_UNKNOWN", http.StatusBadRequest,
		"测试用户 %q 不存在，可用的测试用户：%s",
		"unknown test user %q; use one of %s")
)

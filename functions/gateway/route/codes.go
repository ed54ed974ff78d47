package route

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

// Error codes of the router. Method mismatches use httpx.CodeMethodNotAllowed
// and oversized bodies httpx.CodeBodyTooLarge.
var (
	CodeRouteNotFound = httpx.NewCode("ROUTE_NOT_FOUND", http.StatusNotFound,
		"请求的接口不存在，请检查地址",
		"no API at this path; check the URL")

	// CodeInternalOnly marks a request for an internal route. The public
	// edge never sends it: such requests get the ROUTE_NOT_FOUND response,
	// byte for byte, so the edge does not reveal which internal paths exist.
	// The code appears in logs, and on an internal listener that chooses to
	// send it.
	CodeInternalOnly = httpx.NewCode("ROUTE_INTERNAL_ONLY", http.StatusNotFound,
		"请求的接口不存在，请检查地址",
		"no API at this path; check the URL")

	CodeInvalidPath = httpx.NewCode("ROUTE_INVALID_PATH", http.StatusBadRequest,
		"请求路径不规范（含 //、. 或 .. 段），请使用规范路径",
		"the request path is not canonical (it has //, . or .. segments); send the canonical path")

	CodeVersionUnsupported = httpx.NewCode("API_VERSION_UNSUPPORTED", http.StatusBadRequest,
		"不支持接口版本 %q，可用版本：%s",
		"API version %q is not supported; available versions: %s")

	CodeUpstreamUnavailable = httpx.NewCode("UPSTREAM_UNAVAILABLE", http.StatusServiceUnavailable,
		"服务暂时不可用，请稍后重试",
		"the service is unavailable; try again later")

	CodeUpstreamTimeout = httpx.NewCode("UPSTREAM_TIMEOUT", http.StatusGatewayTimeout,
		"服务响应超时，请稍后重试",
		"the service did not respond in time; try again later")

	CodeUpstreamError = httpx.NewCode("UPSTREAM_ERROR", http.StatusBadGateway,
		"服务返回了无效的响应，请稍后重试",
		"the service returned an invalid response; try again later")

	CodeCORSOriginDenied = httpx.NewCode("CORS_ORIGIN_DENIED", http.StatusForbidden,
		"不允许来源 %q 跨域访问此接口",
		"origin %q may not call this API across origins")

	CodeConvertFailed = httpx.NewCode("PAYLOAD_CONVERSION_FAILED", http.StatusBadRequest,
		"请求体无法转换为后端服务要求的格式：%s",
		"the request body cannot be converted to the format the service expects: %s")
)

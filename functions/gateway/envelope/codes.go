package envelope

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

// Error codes of the envelope. Unwrap and OpenSession also return the
// shared httpx codes BODY_TOO_LARGE (413), INVALID_JSON and INVALID_REQUEST
// (400), UNSUPPORTED_MEDIA_TYPE (415) for a session-open body that is not
// JSON, NOT_READY (503) when a store fails and INTERNAL (500).
var (
	// CodeEnvelopeInvalid is the error for every failure from signature
	// verification on: a wrong X-JT-Signature, a body that is not base64, a
	// wrong tag, bad padding, a truncated body, and an SM2 key ciphertext
	// that does not decrypt. Its message takes no arguments, so every such
	// failure gets a byte-identical body.
	CodeEnvelopeInvalid = httpx.NewCode("ENVELOPE_INVALID", http.StatusBadRequest,
		"请求未通过签名校验或无法解密，请检查会话密钥和签名算法，或重新建立会话",
		"the request failed signature verification or decryption; check the session keys and the signing steps, or open a new session")

	// CodeSessionNotFound is returned for an X-JT-Session that names no
	// session, because it never existed, expired or was closed.
	CodeSessionNotFound = httpx.NewCode("SESSION_NOT_FOUND", http.StatusUnauthorized,
		"会话不存在或已过期，请重新建立会话",
		"the session does not exist or has expired; open a new session")

	// CodeTimestampSkew is returned for a timestamp further from the
	// gateway's clock than the allowed skew. Arguments: the allowed skew in
	// seconds.
	CodeTimestampSkew = httpx.NewCode("TIMESTAMP_SKEW", http.StatusBadRequest,
		"请求时间戳与服务器时间相差超过 %d 秒，请按响应头 Date 校准时间后重试",
		"the request timestamp is more than %d seconds from the server time; correct the clock using the Date response header and try again")

	// CodeNonceReplayed is returned for a nonce that the session already
	// used.
	CodeNonceReplayed = httpx.NewCode("NONCE_REPLAYED", http.StatusConflict,
		"请求随机数已被使用，请为每个请求生成新的随机数",
		"the nonce was already used; send a new random nonce with every request")

	// CodeUnknownKeyID is returned for a session-open request for a gateway
	// key that does not exist. Arguments: the key ID.
	CodeUnknownKeyID = httpx.NewCode("UNKNOWN_KEY_ID", http.StatusBadRequest,
		"网关密钥 %q 不存在，请重新获取网关公钥列表",
		"gateway key %q does not exist; fetch the gateway's public key list again")

	// CodeMalformedHeader is returned for a protocol header that is missing,
	// repeated, too long or not in its format. Arguments: the header name.
	// The details name the header and the reason: "missing", "duplicated",
	// "too_long" or "invalid".
	CodeMalformedHeader = httpx.NewCode("MALFORMED_HEADER", http.StatusBadRequest,
		"请求头 %s 缺失或格式无效，详见 details",
		"header %s is missing or malformed; see details")
)

// Reasons in the details of CodeMalformedHeader.
const (
	reasonMissing    = "missing"
	reasonDuplicated = "duplicated"
	reasonTooLong    = "too_long"
	reasonInvalid    = "invalid"
)

var reasonMessages = map[string][2]string{
	reasonMissing:    {"缺少该请求头", "the header is missing"},
	reasonDuplicated: {"该请求头出现了不止一次", "the header appears more than once"},
	reasonTooLong:    {"该请求头过长", "the header value is too long"},
	reasonInvalid:    {"该请求头的格式不符合协议", "the header value does not have the format the protocol requires"},
}

// malformedHeader returns the MALFORMED_HEADER error for header and reason.
func malformedHeader(header, reason string) *httpx.Error {
	msg := reasonMessages[reason]
	return httpx.E(CodeMalformedHeader, header).WithDetails(httpx.Detail{
		Path: header, Reason: reason, ZH: msg[0], EN: msg[1],
	})
}

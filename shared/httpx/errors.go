// Package httpx holds the HTTP plumbing every function shares: JSON
// responses, the one error type with stable codes and bilingual messages,
// request ids, body limits and panic recovery.
//
// Error bodies always have the shape
//
//	{"error": {"code": "ZONE_NOT_FOUND", "message": "...", "request_id": "...", "details": [...]}}
//
// with the message in Chinese unless the request prefers English
// (Accept-Language: en). A 500 body never contains the internal error text;
// the log has it, under the same request id.
package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
)

// Code is a stable error code with its HTTP status and message templates.
// Templates are fmt formats; the Chinese and English templates take the same
// arguments in the same order.
type Code struct {
	ID     string
	Status int
	ZH     string
	EN     string
}

var (
	registryMu sync.Mutex
	registry   = map[string]Code{}
)

// NewCode registers and returns an error code. It panics when id is already
// registered with a different status or messages, because two packages would
// then answer the same code differently.
func NewCode(id string, status int, zh, en string) Code {
	c := Code{ID: id, Status: status, ZH: zh, EN: en}

	registryMu.Lock()
	defer registryMu.Unlock()
	if old, ok := registry[id]; ok && old != c {
		panic(fmt.Sprintf("httpx: error code %q registered twice with different content", id))
	}
	registry[id] = c
	return c
}

// Codes returns every registered code sorted by id, for documentation.
func Codes() []Code {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]Code, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Codes shared by every function.
var (
	CodeInternal = NewCode("INTERNAL", http.StatusInternalServerError,
		"服务器内部错误，请稍后重试；如持续出现，请提供请求编号 %s",
		"internal server error; try again later, and quote request id %s if it persists")
	CodeInvalidJSON = NewCode("INVALID_JSON", http.StatusBadRequest,
		"请求体不是有效的 JSON：%s",
		"request body is not valid JSON: %s")
	CodeInvalidRequest = NewCode("INVALID_REQUEST", http.StatusBadRequest,
		"请求参数无效，请按 details 中列出的位置修改",
		"invalid request; fix the fields listed in details")
	CodeBodyTooLarge = NewCode("BODY_TOO_LARGE", http.StatusRequestEntityTooLarge,
		"请求体超过 %d 字节的上限",
		"request body exceeds the limit of %d bytes")
	CodeHeadersTooLarge = NewCode("HEADERS_TOO_LARGE", http.StatusRequestHeaderFieldsTooLarge,
		"请求行和请求头超过 %d 字节的上限",
		"request line and headers exceed the limit of %d bytes")
	CodeUnsupportedMediaType = NewCode("UNSUPPORTED_MEDIA_TYPE", http.StatusUnsupportedMediaType,
		"不支持的内容类型 %q，请使用 application/json",
		"unsupported content type %q; send application/json")
	CodeUnsupportedEncoding = NewCode("UNSUPPORTED_CONTENT_ENCODING", http.StatusUnsupportedMediaType,
		"不支持的内容编码 %q，请发送未压缩的请求体",
		"unsupported content encoding %q; send the body uncompressed")
	CodeNotFound = NewCode("NOT_FOUND", http.StatusNotFound,
		"请求的路径不存在",
		"no such path")
	CodeMethodNotAllowed = NewCode("METHOD_NOT_ALLOWED", http.StatusMethodNotAllowed,
		"该路径不支持 %s 方法",
		"method %s is not allowed on this path")
	CodeUnauthorized = NewCode("UNAUTHORIZED", http.StatusUnauthorized,
		"需要有效的身份凭证",
		"valid credentials are required")
	CodeForbidden = NewCode("FORBIDDEN", http.StatusForbidden,
		"当前身份无权执行此操作",
		"the caller is not allowed to do this")
	CodeVersionConflict = NewCode("VERSION_CONFLICT", http.StatusConflict,
		"数据已被他人修改（当前版本 %d），请刷新后重试",
		"the record was changed by someone else (current version %d); reload and try again")
	CodeNotReady = NewCode("NOT_READY", http.StatusServiceUnavailable,
		"服务暂不可用，请稍后重试",
		"service unavailable; try again later")
)

// Detail points at one problem in the request, such as a field that failed
// validation. Path is an RFC 6901 JSON Pointer or a query parameter name.
type Detail struct {
	Path   string `json:"path"`
	Reason string `json:"reason"` // stable machine-readable reason, such as "required"
	ZH     string `json:"-"`
	EN     string `json:"-"`
}

// Error is an error with a stable code, an HTTP status and a message that
// renders in Chinese or English.
type Error struct {
	Code    Code
	Args    []any
	Details []Detail
	// Err is the cause, kept for logs and errors.Is; never sent to clients.
	Err error
}

// E returns an Error for code with message arguments.
func E(code Code, args ...any) *Error {
	return &Error{Code: code, Args: args}
}

// Wrap returns an Error for code that keeps err as its cause.
func Wrap(code Code, err error, args ...any) *Error {
	return &Error{Code: code, Args: args, Err: err}
}

// WithDetails returns e with details appended.
func (e *Error) WithDetails(d ...Detail) *Error {
	e.Details = append(e.Details, d...)
	return e
}

func (e *Error) Error() string {
	msg := e.Code.ID + ": " + fmt.Sprintf(e.Code.EN, e.Args...)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Message renders the message in lang ("zh" or "en"). A Localized
// argument is rendered in the same language.
func (e *Error) Message(lang string) string {
	format := e.Code.ZH
	if lang == "en" {
		format = e.Code.EN
	}
	args := e.Args
	cloned := false
	for i, a := range args {
		l, ok := a.(Localized)
		if !ok {
			continue
		}
		if !cloned {
			args = slices.Clone(args)
			cloned = true
		}
		args[i] = l.EN
		if lang != "en" {
			args[i] = l.ZH
		}
	}
	return fmt.Sprintf(format, args...)
}

// Localized is a message argument in Chinese and English, such as the
// reason in an INVALID_JSON message. Logs and Error use the English form.
type Localized struct{ ZH, EN string }

// String returns the English form.
func (l Localized) String() string { return l.EN }

// AsError converts any error into an *Error, mapping unknown errors to
// CodeInternal so their text never reaches a client.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Wrap(CodeInternal, err)
}

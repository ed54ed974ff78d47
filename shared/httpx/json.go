package httpx

import (
	"bytes"
	"context"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultMaxBody is the request body limit used when a handler names none:
// 1 MiB.
const DefaultMaxBody = 1 << 20

// MaxJSONDepth is the deepest nesting of objects and arrays that DecodeJSON
// accepts. It bounds the recursion of the body check, and it is well above
// what any request body of the functions needs: a zone page document nests
// at most 64 levels inside its request.
const MaxJSONDepth = 100

// maxBodyDetails bounds the details one DecodeJSON error lists.
const maxBodyDetails = 100

// CodeRequestTimeout is returned when reading the request body times out,
// for example because the client sends it more slowly than the server's
// read timeout allows.
var CodeRequestTimeout = NewCode("REQUEST_TIMEOUT", http.StatusRequestTimeout,
	"读取请求体超时，请检查网络后重试",
	"timed out reading the request body; check the connection and try again")

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WriteJSON writes v as a JSON response with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)

	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only a programming error (an unsupported type) gets here.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":{"code":"INTERNAL","message":"internal server error"}}` + "\n")
	}

	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code      string          `json:"code"`
	Message   string          `json:"message"`
	RequestID string          `json:"request_id,omitempty"`
	Details   []renderedError `json:"details,omitempty"`
}

type renderedError struct {
	Path    string `json:"path"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// WriteError writes err as an error response in the request's language.
// Internal errors are logged with their cause at Error level; client errors
// at Debug. The logger may be nil.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	e := AsError(err)
	id := RequestID(r.Context())
	if e.Code.ID == CodeInternal.ID {
		e = &Error{Code: CodeInternal, Args: []any{id}, Err: e.Err}
	}

	if logger != nil {
		level := slog.LevelDebug
		if e.Code.Status >= 500 {
			level = slog.LevelError
		}
		logger.Log(r.Context(), level, "request failed",
			"code", e.Code.ID, "status", e.Code.Status, "request_id", id, "err", e)
	}

	lang := Lang(r)
	body := errorBody{Error: errorPayload{Code: e.Code.ID, Message: e.Message(lang), RequestID: id}}
	for _, d := range e.Details {
		msg := d.ZH
		if lang == "en" {
			msg = d.EN
		}
		body.Error.Details = append(body.Error.Details, renderedError{Path: d.Path, Reason: d.Reason, Message: msg})
	}
	if e.Code.Status == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
		w.Header().Set("Allow", "GET, HEAD")
	}
	if e.Code.ID == CodeUnsupportedEncoding.ID {
		// RFC 9110, section 15.5.16: name the codings accepted.
		w.Header().Set("Accept-Encoding", "identity")
	}
	WriteJSON(w, e.Code.Status, body)
}

// DecodeJSON reads a JSON request body into v. It returns *Error values
// ready for WriteError:
//
//   - 415 UNSUPPORTED_MEDIA_TYPE unless the content type is
//     application/json, without a charset or with charset=utf-8 in any case;
//   - 413 BODY_TOO_LARGE for a body over maxBytes (0 means DefaultMaxBody);
//   - 408 REQUEST_TIMEOUT when reading the body times out;
//   - 400 INVALID_JSON for a body that is not UTF-8, not JSON, or has data
//     after the JSON value;
//   - 400 INVALID_REQUEST with one detail per problem, its path an RFC 6901
//     JSON Pointer such as /name/zh.
//
// Messages name JSON types, never Go types. The INVALID_REQUEST details
// have these reasons:
//
//   - duplicate_key: an object repeats a key, at any depth;
//   - unknown_field: v has no field of that name;
//   - invalid_type: the value has the wrong JSON type, or is a fraction
//     or an integer written with an exponent for an integer field;
//   - out_of_range: a number beyond the range of its field, with a
//     message that names the bound it crosses for an integer field;
//   - invalid_format: the value's type rejects it, as time.Time rejects a
//     malformed time, or a string bound for a Go string contains an
//     unpaired UTF-16 surrogate escape such as \ud800, which encoding/json
//     would silently replace with U+FFFD (see HasLoneSurrogate). Strings
//     inside json.RawMessage and interface values are not checked for it,
//     so the code that reads those values can report it in its own terms;
//   - too_deep: objects and arrays nest deeper than MaxJSONDepth.
func DecodeJSON(r *http.Request, v any, maxBytes int64) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBody
	}
	if err := requireJSON(r); err != nil {
		return err
	}

	body, err := ReadBody(r, maxBytes)
	if err != nil {
		return err
	}
	if !utf8.Valid(body) {
		return E(CodeInvalidJSON, Localized{"请求体不是 UTF-8 编码", "the body is not valid UTF-8"})
	}

	details, err := checkBody(body, reflect.TypeOf(v))
	if err != nil {
		return err
	}
	if len(details) > 0 {
		return E(CodeInvalidRequest).WithDetails(details...)
	}

	// checkBody reports the problems that Decode rejects. Should the two
	// disagree on a body, decodeError still keeps Go names out of the error.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

// ReadBody reads at most maxBytes of the request body. It returns a 413
// *Error when the body is larger and a 408 *Error when reading times out.
func ReadBody(r *http.Request, maxBytes int64) ([]byte, error) {
	if r.ContentLength > maxBytes {
		return nil, E(CodeBodyTooLarge, maxBytes)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, E(CodeBodyTooLarge, min(maxBytes, tooLarge.Limit))
	}
	if isTimeout(err) {
		return nil, Wrap(CodeRequestTimeout, err)
	}
	if err != nil {
		return nil, Wrap(CodeInvalidJSON, err, Localized{"无法读取请求体", "could not read the request body"})
	}
	if int64(len(data)) > maxBytes {
		return nil, E(CodeBodyTooLarge, maxBytes)
	}
	return data, nil
}

// isTimeout reports whether a body read failed because a deadline passed:
// the connection's read deadline or the request context's.
func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func requireJSON(r *http.Request) error {
	if coding, ok := unsupportedCoding(r.Header.Values("Content-Encoding")); ok {
		return E(CodeUnsupportedEncoding, coding)
	}
	ct := r.Header.Get("Content-Type")
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil || mediaType != "application/json" {
		return E(CodeUnsupportedMediaType, ct)
	}
	if charset, ok := params["charset"]; ok && !strings.EqualFold(charset, "utf-8") {
		return E(CodeUnsupportedMediaType, ct)
	}
	return nil
}

// unsupportedCoding returns the first content coding in values other than
// identity. Bodies are read as sent, so a compressed one would otherwise
// fail as invalid JSON, or pass when the header is wrong.
func unsupportedCoding(values []string) (string, bool) {
	for _, v := range values {
		for coding := range strings.SplitSeq(v, ",") {
			coding = strings.TrimSpace(coding)
			if coding != "" && !strings.EqualFold(coding, "identity") {
				return coding, true
			}
		}
	}
	return "", false
}

// decodeError maps an error of json.Decoder.Decode that checkBody did not
// predict.
func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		zh, en := jsonTypeName(typeErr.Type)
		path := "/" + strings.ReplaceAll(typeErr.Field, ".", "/")
		return E(CodeInvalidRequest).WithDetails(Detail{
			Path: path, Reason: "invalid_type", ZH: "类型错误：应为" + zh, EN: "must be " + en,
		})
	}
	return Wrap(CodeInvalidJSON, err, Localized{"结构与接口要求不符", "the body does not match the expected structure"})
}

// Types that checkBody treats specially.
var (
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
	timeType            = reflect.TypeFor[time.Time]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// errTooDeep stops checkBody at the first value nested beyond MaxJSONDepth.
var errTooDeep = errors.New("too deep")

// bodyChecker reads a JSON body token by token beside the Go type it will be
// decoded into, so that it can report every problem with its JSON Pointer.
// encoding/json stops at the first problem, leaves array indexes out of its
// field paths, names Go types, and silently keeps the last of repeated keys.
type bodyChecker struct {
	dec     *json.Decoder
	body    []byte // the input of dec
	path    []string
	details []Detail
	started bool // set once the first token has been read
}

// checkBody returns the problems of body for a value of type t, or a fatal
// *Error when body is not one JSON value or nests too deeply.
func checkBody(body []byte, t reflect.Type) ([]Detail, error) {
	c := &bodyChecker{dec: json.NewDecoder(bytes.NewReader(body)), body: body}
	c.dec.UseNumber()

	err := c.value(t, 0, false)
	if err == nil {
		if _, next := c.dec.Token(); !errors.Is(next, io.EOF) {
			return nil, E(CodeInvalidJSON, Localized{"JSON 值之后还有多余内容", "trailing data after the JSON value"})
		}
		return c.details, nil
	}

	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, errTooDeep):
		return nil, E(CodeInvalidRequest).WithDetails(Detail{
			Path: c.pointer(), Reason: "too_deep",
			ZH: fmt.Sprintf("JSON 嵌套超过 %d 层", MaxJSONDepth),
			EN: fmt.Sprintf("objects and arrays are nested deeper than %d levels", MaxJSONDepth),
		})
	case errors.As(err, &syntax):
		return nil, E(CodeInvalidJSON, Localized{"第 " + strconv.FormatInt(syntax.Offset, 10) + " 字节处有语法错误", "syntax error at byte " + strconv.FormatInt(syntax.Offset, 10)})
	case errors.Is(err, io.EOF) && !c.started:
		return nil, E(CodeInvalidJSON, Localized{"请求体为空", "empty body"})
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, E(CodeInvalidJSON, Localized{"请求体不完整，JSON 意外结束", "truncated body"})
	}
	return nil, Wrap(CodeInvalidJSON, err, Localized{"无法解析请求体", "the body could not be parsed"})
}

// pointerEscaper escapes a reference token of an RFC 6901 JSON Pointer.
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func (c *bodyChecker) pointer() string {
	var b strings.Builder
	for _, tok := range c.path {
		b.WriteByte('/')
		b.WriteString(pointerEscaper.Replace(tok))
	}
	return b.String()
}

func (c *bodyChecker) add(reason, zh, en string) {
	c.addDetail(Detail{Path: c.pointer(), Reason: reason, ZH: zh, EN: en})
}

func (c *bodyChecker) addDetail(d Detail) {
	if len(c.details) < maxBodyDetails {
		c.details = append(c.details, d)
	}
}

// TooLarge returns the out_of_range detail of a number at path above its
// maximum. DecodeJSON reports body numbers with it, and handlers can
// report query parameters and other input in the same words.
func TooLarge(path, maximum string) Detail {
	return Detail{Path: path, Reason: "out_of_range", ZH: "数值过大，最大为 " + maximum, EN: "is too large; the maximum is " + maximum}
}

// TooSmall returns the out_of_range detail of a number at path below its
// minimum.
func TooSmall(path, minimum string) Detail {
	return Detail{Path: path, Reason: "out_of_range", ZH: "数值过小，最小为 " + minimum, EN: "is too small; the minimum is " + minimum}
}

func (c *bodyChecker) invalidType(t reflect.Type) {
	zh, en := jsonTypeName(t)
	c.add("invalid_type", "类型错误：应为"+zh, "must be "+en)
}

// value checks the next value against t. A nil t accepts any JSON value.
// quoted is set for fields tagged `json:",string"`.
func (c *bodyChecker) value(t reflect.Type, depth int, quoted bool) error {
	t = indirect(t)
	if t != nil && t != rawMessageType && t.Kind() != reflect.Interface && customDecoded(t) {
		return c.custom(t)
	}

	start := c.dec.InputOffset()
	tok, err := c.dec.Token()
	if err != nil {
		return err
	}
	c.started = true

	switch tok := tok.(type) {
	case json.Delim:
		if depth >= MaxJSONDepth {
			return errTooDeep
		}
		if tok == '{' {
			return c.object(t, depth+1)
		}
		return c.array(t, depth+1)
	case string:
		c.checkString(t, tok, quoted)
		c.checkSurrogates(t, tok, start)
	case json.Number:
		c.checkNumber(t, tok)
	case bool:
		c.checkBool(t)
	}
	return nil // null leaves any Go value unchanged
}

// custom checks a value whose type decodes itself, by decoding it.
func (c *bodyChecker) custom(t reflect.Type) error {
	var raw json.RawMessage
	if err := c.dec.Decode(&raw); err != nil {
		return err
	}
	c.started = true
	if string(raw) == "null" {
		return nil
	}

	target := reflect.New(t).Interface()
	if u, ok := target.(json.Unmarshaler); ok {
		if u.UnmarshalJSON(raw) != nil {
			c.invalidFormat(t)
		}
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		c.invalidType(t)
		return nil
	}
	if target.(encoding.TextUnmarshaler).UnmarshalText([]byte(s)) != nil {
		c.invalidFormat(t)
	}
	return nil
}

func (c *bodyChecker) invalidFormat(t reflect.Type) {
	if t == timeType {
		c.add("invalid_format", "须为 RFC 3339 格式的日期时间，例如 2027-01-22T00:00:00+08:00",
			"must be an RFC 3339 date and time, such as 2027-01-22T00:00:00+08:00")
		return
	}
	c.add("invalid_format", "取值格式无效", "has an invalid format")
}

func (c *bodyChecker) object(t reflect.Type, depth int) error {
	var fields *structFields
	var elem reflect.Type
	switch {
	case t == nil || t.Kind() == reflect.Interface || t == rawMessageType:
		t = nil
	case t.Kind() == reflect.Struct:
		fields = fieldsOf(t)
	case t.Kind() == reflect.Map:
		elem = t.Elem()
	default:
		c.invalidType(t)
		t = nil
	}

	seen := map[string]bool{}
	for c.dec.More() {
		tok, err := c.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // json.Decoder yields only string keys here
		c.path = append(c.path, key)

		if seen[key] {
			c.add("duplicate_key", fmt.Sprintf("字段 %q 重复出现，每个字段只能出现一次", key),
				fmt.Sprintf("key %q appears more than once in the object; keep one", key))
		}
		seen[key] = true

		valueType, quoted := elem, false
		if fields != nil {
			f, ok := fields.lookup(key)
			if !ok {
				c.add("unknown_field", fmt.Sprintf("不支持字段 %q，请删除", key),
					fmt.Sprintf("field %q is not allowed here; remove it", key))
			}
			valueType, quoted = f.typ, f.quoted
		}
		if err := c.value(valueType, depth, quoted); err != nil {
			return err
		}
		c.path = c.path[:len(c.path)-1]
	}
	_, err := c.dec.Token() // the closing '}'
	return err
}

func (c *bodyChecker) array(t reflect.Type, depth int) error {
	var elem reflect.Type
	switch {
	case t == nil || t.Kind() == reflect.Interface || t == rawMessageType:
	case (t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8) || t.Kind() == reflect.Array:
		elem = t.Elem()
	default:
		c.invalidType(t)
	}

	for i := 0; c.dec.More(); i++ {
		c.path = append(c.path, strconv.Itoa(i))
		if err := c.value(elem, depth, false); err != nil {
			return err
		}
		c.path = c.path[:len(c.path)-1]
	}
	_, err := c.dec.Token() // the closing ']'
	return err
}

func (c *bodyChecker) checkString(t reflect.Type, s string, quoted bool) {
	if t == nil || t == rawMessageType {
		return
	}
	switch t.Kind() {
	case reflect.String, reflect.Interface:
		return
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			if _, err := base64.StdEncoding.DecodeString(s); err != nil {
				c.add("invalid_format", "须为 Base64 编码的字符串", "must be a base64 string")
			}
			return
		}
	case reflect.Bool:
		if quoted {
			if s != "true" && s != "false" {
				c.invalidType(t)
			}
			return
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if quoted {
			c.checkNumber(t, json.Number(s))
			return
		}
	}
	c.invalidType(t)
}

// checkSurrogates reports a string s bound for a Go string that came from
// an unpaired UTF-16 surrogate escape. start is the input offset before the
// string's token, so the input from there to the decoder's offset is the
// string literal, after separators that contain no backslash.
func (c *bodyChecker) checkSurrogates(t reflect.Type, s string, start int64) {
	if t == nil || t.Kind() != reflect.String || !strings.ContainsRune(s, utf8.RuneError) {
		return
	}
	if HasLoneSurrogate(c.body[start:c.dec.InputOffset()]) {
		c.add("invalid_format", "包含不成对的 UTF-16 代理项转义（例如 \\ud800），它不是有效字符，请删除",
			`contains an unpaired UTF-16 surrogate escape such as \ud800, which is not a character; remove it`)
	}
}

// HasLoneSurrogate reports whether the JSON string literal in src has a \u
// escape of an unpaired UTF-16 surrogate: a high surrogate that no escape
// of a low surrogate directly follows, or a low surrogate without a high
// one before it. encoding/json decodes such an escape to U+FFFD without an
// error, so only the source text shows it. A pair such as \ud83d\ude00 (😀)
// is valid. src may start with separators, such as ": ", that contain no
// backslash.
func HasLoneSurrogate(src []byte) bool {
	for i := 0; i < len(src); i++ {
		if src[i] != '\\' {
			continue
		}
		r, ok := unicodeEscape(src, i)
		if !ok {
			i++ // an escape such as \n or \\; skip the escaped character
			continue
		}
		i += 5 // the last hex digit
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			low, ok := unicodeEscape(src, i+1)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return true
			}
			i += 6
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		}
	}
	return false
}

// unicodeEscape decodes the \uXXXX escape at src[i:].
func unicodeEscape(src []byte, i int) (rune, bool) {
	if i+6 > len(src) || src[i] != '\\' || src[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(src[i+2:i+6]), 16, 16)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

func (c *bodyChecker) checkNumber(t reflect.Type, n json.Number) {
	if t == nil || t == rawMessageType {
		return
	}
	var err error
	switch t.Kind() {
	case reflect.Interface:
		return
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		_, err = strconv.ParseInt(string(n), 10, t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		_, err = strconv.ParseUint(string(n), 10, t.Bits())
	case reflect.Float32, reflect.Float64:
		if _, err := strconv.ParseFloat(string(n), t.Bits()); err != nil {
			c.add("out_of_range", "数值超出范围", "is a number out of range")
		}
		return
	default:
		c.invalidType(t)
		return
	}

	if err == nil {
		return
	}
	// A value beyond the type's range gets the bound it crosses, whole or
	// not, as 300, 1e23 and 300.5 do for an int8.
	switch integerClass(t, string(n)) {
	case aboveRange:
		_, hi := integerBounds(t)
		c.addDetail(TooLarge(c.pointer(), hi))
	case belowRange:
		lo, _ := integerBounds(t)
		c.addDetail(TooSmall(c.pointer(), lo))
	case negativeZero:
		c.add("invalid_type", "须为不带负号的整数", "must be an integer without a minus sign")
	case wholeInRange:
		// An exponent or a decimal point, as in 1e2 and 5.0.
		c.add("invalid_type", "须为不带小数点和指数的整数", "must be an integer written without a decimal point or exponent")
	default:
		c.invalidType(t)
	}
}

// numberClass is the position of a JSON number relative to an integer type.
type numberClass int

const (
	notWhole numberClass = iota // a fraction within the type's range
	wholeInRange
	aboveRange
	belowRange
	negativeZero // -0 for an unsigned type, which strconv.ParseUint rejects
)

// integerClass compares the JSON number n with the range of the integer
// type t, and separates whole numbers from fractions within that range. It
// reads the digits once, without converting the number, so its time grows
// linearly with the length of n, however long the literal is.
func integerClass(t reflect.Type, n string) numberClass {
	neg := strings.HasPrefix(n, "-")
	n = strings.TrimPrefix(n, "-")
	mantissa, exp, _ := strings.Cut(strings.ToLower(n), "e")
	intDigits, fracDigits, _ := strings.Cut(mantissa, ".")

	// The value is 0.D × 10^point, where D is the digits without leading
	// or trailing zeros.
	digits := strings.TrimLeft(intDigits, "0")
	point := len(digits)
	if digits == "" {
		frac := strings.TrimLeft(fracDigits, "0")
		point = -(len(fracDigits) - len(frac))
		digits = frac
	} else {
		digits += fracDigits
	}
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		if neg && n == "0" && isUnsigned(t) {
			return negativeZero
		}
		return wholeInRange
	}
	point += exponent(exp)

	lo, hi := integerBounds(t)
	bound := hi
	if neg {
		if isUnsigned(t) {
			return belowRange
		}
		bound = strings.TrimPrefix(lo, "-")
	}
	outside := aboveRange
	if neg {
		outside = belowRange
	}
	if point <= 0 {
		return notWhole // 0 < |value| < 1
	}
	if point > len(bound) {
		return outside
	}

	// The integer part has point digits, the first of them nonzero, so it
	// compares with bound as a string of the same length does.
	whole := digits
	if len(whole) > point {
		whole = whole[:point]
	} else {
		whole += strings.Repeat("0", point-len(whole))
	}
	fraction := len(digits) > point
	switch cmp := strings.Compare(whole, bound); {
	case point < len(bound) || cmp < 0:
	case cmp > 0 || fraction:
		return outside
	}
	if fraction {
		return notWhole
	}
	return wholeInRange
}

// exponent returns the value of the exponent digits of a JSON number,
// such as "+5" or "-12", clamped to ±1e9, beyond which every nonzero value
// is far outside any integer type's range or below 1.
func exponent(s string) int {
	const limit = 1_000_000_000
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	v := 0
	for i := 0; i < len(s) && v < limit; i++ {
		v = v*10 + int(s[i]-'0')
	}
	v = min(v, limit)
	if neg {
		return -v
	}
	return v
}

// isUnsigned reports whether t is an unsigned integer type.
func isUnsigned(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

// integerBounds returns the smallest and largest value of an integer type.
func integerBounds(t reflect.Type) (lo, hi string) {
	bits := t.Bits()
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "0", strconv.FormatUint(1<<bits-1, 10)
	}
	return strconv.FormatInt(-1<<(bits-1), 10), strconv.FormatInt(1<<(bits-1)-1, 10)
}

func (c *bodyChecker) checkBool(t reflect.Type) {
	if t == nil || t == rawMessageType || t.Kind() == reflect.Bool || t.Kind() == reflect.Interface {
		return
	}
	c.invalidType(t)
}

// indirect returns the type a pointer chain ends in.
func indirect(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// customDecoded reports whether encoding/json hands values of t to their
// own UnmarshalJSON or UnmarshalText method.
func customDecoded(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(jsonUnmarshalerType) || p.Implements(textUnmarshalerType)
}

// jsonTypeName names the JSON type that decodes into t, in Chinese and
// English.
func jsonTypeName(t reflect.Type) (zh, en string) {
	t = indirect(t)
	switch {
	case t == nil:
		return "JSON 值", "a JSON value"
	case t == timeType:
		return "RFC 3339 格式的日期时间字符串", "an RFC 3339 date and time string"
	case customDecoded(t) && t.Kind() != reflect.Struct:
		return "字符串", "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "字符串", "a string"
	case reflect.Bool:
		return "布尔值 true 或 false", "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "整数", "an integer"
	case reflect.Float32, reflect.Float64:
		return "数字", "a number"
	case reflect.Struct, reflect.Map:
		return "对象", "an object"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "Base64 编码的字符串", "a base64 string"
		}
		return "数组", "an array"
	case reflect.Array:
		return "数组", "an array"
	}
	return "JSON 值", "a JSON value"
}

// fieldInfo is a struct field as encoding/json decodes it.
type fieldInfo struct {
	typ    reflect.Type
	quoted bool // tagged `json:",string"`
}

// structFields are the JSON names of a struct's fields.
type structFields struct {
	byName map[string]fieldInfo
}

// lookup finds the field for a JSON key the way encoding/json does: an
// exact match first, then a case-insensitive one.
func (f *structFields) lookup(key string) (fieldInfo, bool) {
	if info, ok := f.byName[key]; ok {
		return info, true
	}
	for name, info := range f.byName {
		if strings.EqualFold(name, key) {
			return info, true
		}
	}
	return fieldInfo{}, false
}

var fieldCache sync.Map // reflect.Type to *structFields

func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{byName: map[string]fieldInfo{}}
	type candidate struct {
		info   fieldInfo
		depth  int
		tagged bool
		count  int
	}
	found := map[string]*candidate{}
	var collect func(t reflect.Type, depth int, visiting map[reflect.Type]bool)
	collect = func(t reflect.Type, depth int, visiting map[reflect.Type]bool) {
		if visiting[t] {
			return
		}
		visiting[t] = true
		defer delete(visiting, t)

		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := indirect(sf.Type)
			if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				collect(ft, depth+1, visiting)
				continue
			}
			if !sf.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = sf.Name
			}
			info := fieldInfo{typ: sf.Type, quoted: strings.Contains(","+opts+",", ",string,")}
			old := found[name]
			switch {
			case old == nil || depth < old.depth || (depth == old.depth && tagged && !old.tagged):
				found[name] = &candidate{info: info, depth: depth, tagged: tagged, count: 1}
			case depth == old.depth && tagged == old.tagged:
				old.count++ // ambiguous: encoding/json ignores both
			}
		}
	}
	collect(t, 0, map[reflect.Type]bool{})

	for name, c := range found {
		if c.count == 1 {
			f.byName[name] = c.info
		}
	}
	actual, _ := fieldCache.LoadOrStore(t, f)
	return actual.(*structFields)
}

package page

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jingtong/backend/shared/httpx"
)

// decodeJSON parses data into maps, slices, strings, json.Number, bools and
// nils, recording problems in ps. Unlike json.Unmarshal it rejects invalid
// UTF-8, nesting beyond MaxJSONDepth and trailing data, and it reports a
// repeated object key instead of keeping the last value silently, because
// other JSON parsers may keep the first and so read a different page. It
// returns ok=false when the data cannot be read as a whole.
func decodeJSON(data []byte, ps *problems) (v any, ok bool) {
	if len(data) > MaxDocumentBytes {
		ps.addf("", CodeTooLarge,
			fmt.Sprintf("文档大小为 %d 字节，超过上限 %d 字节。", len(data), MaxDocumentBytes),
			fmt.Sprintf("document is %d bytes, over the maximum of %d bytes", len(data), MaxDocumentBytes))

		return nil, false
	}

	if !utf8.Valid(data) {
		ps.addf("", CodeInvalidJSON, "文档不是有效的 UTF-8 文本。", "document is not valid UTF-8")

		return nil, false
	}

	d := &decoder{dec: json.NewDecoder(bytes.NewReader(data)), data: data, ps: ps}
	d.dec.UseNumber()

	v, err := d.value(0)
	if err == nil {
		err = d.expectEOF()
	}

	if err != nil {
		d.report(err)

		return nil, false
	}

	return v, true
}

type decoder struct {
	dec  *json.Decoder
	data []byte // the input of dec
	ps   *problems
	path []string // reference tokens of the value being read
}

// errTooDeep stops decoding at the first value nested beyond MaxJSONDepth.
var errTooDeep = errors.New("too deep")

func (d *decoder) value(depth int) (any, error) {
	start := d.dec.InputOffset()

	tok, err := d.dec.Token()
	if err != nil {
		return nil, err
	}

	if s, isString := tok.(string); isString {
		d.checkText(s, start)
	}

	delim, isDelim := tok.(json.Delim)
	if !isDelim {
		return tok, nil
	}

	if depth >= MaxJSONDepth {
		return nil, errTooDeep
	}

	if delim == '{' {
		return d.object(depth + 1)
	}

	return d.array(depth + 1)
}

func (d *decoder) object(depth int) (any, error) {
	obj := map[string]any{}

	for d.dec.More() {
		start := d.dec.InputOffset()

		tok, err := d.dec.Token()
		if err != nil {
			return nil, err
		}

		key, _ := tok.(string) // json.Decoder only yields string keys here
		d.path = append(d.path, key)
		d.checkText(key, start)

		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}

		if _, dup := obj[key]; dup {
			d.ps.addf(pointer(d.path...), CodeDuplicateKey,
				fmt.Sprintf("字段 %q 重复出现。每个字段只能出现一次。", key),
				fmt.Sprintf("key %q appears more than once in the object; keep one", key))
		}

		obj[key] = v
		d.path = d.path[:len(d.path)-1]
	}

	_, err := d.dec.Token() // the closing '}'

	return obj, err
}

func (d *decoder) array(depth int) (any, error) {
	arr := []any{}

	for i := 0; d.dec.More(); i++ {
		d.path = append(d.path, strconv.Itoa(i))

		v, err := d.value(depth)
		if err != nil {
			return nil, err
		}

		arr = append(arr, v)
		d.path = d.path[:len(d.path)-1]
	}

	_, err := d.dec.Token() // the closing ']'

	return arr, err
}

// checkText reports a string token s that contains a NUL character or that
// came from an unpaired UTF-16 surrogate escape such as \ud800, which
// encoding/json silently replaces with U+FFFD. PostgreSQL text cannot hold
// NUL, and neither is a character any front end can show. start is the
// input offset before the token. The input from there to the decoder's
// offset is the token's source text, after separators that hold no
// backslash.
func (d *decoder) checkText(s string, start int64) {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		d.ps.addf(pointer(d.path...), CodeInvalidText,
			"文本包含空字符（U+0000），请删除。",
			"text contains a NUL character (U+0000); remove it")
	case strings.ContainsRune(s, utf8.RuneError) && httpx.HasLoneSurrogate(d.data[start:d.dec.InputOffset()]):
		d.ps.addf(pointer(d.path...), CodeInvalidText,
			"文本包含不成对的 UTF-16 代理项转义（例如 \\ud800），它不是有效字符，请删除。",
			`text contains an unpaired UTF-16 surrogate escape such as \ud800, which is not a character; remove it`)
	}
}

// errTrailingData rejects documents such as `{} {}`.
var errTrailingData = errors.New("trailing data")

func (d *decoder) expectEOF() error {
	_, err := d.dec.Token()
	if errors.Is(err, io.EOF) {
		return nil
	}

	if err != nil {
		return err
	}

	return errTrailingData
}

// report records why decoding stopped, at the pointer of the value being
// read when it did.
func (d *decoder) report(err error) {
	path := pointer(d.path...)
	offset := d.dec.InputOffset()

	switch {
	case errors.Is(err, errTooDeep):
		d.ps.addf(path, CodeTooDeep,
			fmt.Sprintf("JSON 嵌套超过 %d 层。", MaxJSONDepth),
			fmt.Sprintf("JSON nesting is deeper than %d levels", MaxJSONDepth))
	case errors.Is(err, errTrailingData):
		d.ps.addf(path, CodeInvalidJSON,
			fmt.Sprintf("文档在第 %d 字节之后还有多余内容。", offset),
			fmt.Sprintf("unexpected data after the document at byte %d", offset))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		d.ps.addf(path, CodeInvalidJSON, "文档不完整，JSON 意外结束。", "document ends before the JSON value is complete")
	default:
		d.ps.addf(path, CodeInvalidJSON,
			fmt.Sprintf("JSON 格式错误（第 %d 字节附近）。", offset),
			fmt.Sprintf("invalid JSON near byte %d: %v", offset, err))
	}
}

package httpevent

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"
)

// DecodeBody returns the bytes of an event body. Platforms set a flag
// (isBase64Encoded) when the body is base64 in standard encoding with padding.
func DecodeBody(body string, base64Encoded bool) ([]byte, error) {
	if !base64Encoded {
		return []byte(body), nil
	}

	b, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("httpevent: invalid base64 request body: %w", err)
	}
	return b, nil
}

// EncodeBody returns body as the string for a JSON response event and whether
// that string is base64. A body is base64-encoded when it is not valid UTF-8,
// when Content-Encoding is set (a compressed body is binary) or when
// Content-Type names a binary type. Without a Content-Type only the UTF-8
// check applies.
func EncodeBody(header http.Header, body []byte) (string, bool) {
	if len(body) == 0 {
		return "", false
	}

	encoded := !utf8.Valid(body) ||
		isCompressed(header.Get("Content-Encoding")) ||
		IsBinaryContentType(header.Get("Content-Type"))
	if encoded {
		return base64.StdEncoding.EncodeToString(body), true
	}
	return string(body), false
}

// IsBinaryContentType reports whether a response with this Content-Type value
// must travel base64-encoded. Text types are text/*, JSON, XML, JavaScript,
// form data, YAML, GraphQL and any type with a +json, +xml or +yaml suffix.
// Every other type counts as binary. An empty value is not binary.
func IsBinaryContentType(contentType string) bool {
	if strings.TrimSpace(contentType) == "" {
		return false
	}

	mediaType, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType, _, _ = strings.Cut(contentType, ";")
		mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	}

	if strings.HasPrefix(mediaType, "text/") {
		return false
	}
	for _, suffix := range []string{"+json", "+xml", "+yaml"} {
		if strings.HasSuffix(mediaType, suffix) {
			return false
		}
	}
	switch mediaType {
	case "application/json", "application/x-ndjson", "application/xml",
		"application/javascript", "application/ecmascript",
		"application/x-www-form-urlencoded", "application/graphql",
		"application/yaml", "application/x-yaml":
		return false
	}
	return true
}

func isCompressed(contentEncoding string) bool {
	v := strings.TrimSpace(contentEncoding)
	return v != "" && !strings.EqualFold(v, "identity")
}

// FoldHeader converts a header to the single-valued map of event formats that
// have no multi-value headers. Repeated values are joined with ", ", which
// RFC 9110 allows for every field except Set-Cookie. The Set-Cookie values are
// returned apart, in order, for the caller to place.
func FoldHeader(h http.Header) (folded map[string]string, setCookies []string) {
	folded = make(map[string]string, len(h))
	for name, values := range h {
		if len(values) == 0 {
			continue
		}
		if name == "Set-Cookie" {
			setCookies = values
			continue
		}
		folded[name] = strings.Join(values, ", ")
	}
	return folded, setCookies
}

// DroppedCookies returns the names of the Set-Cookie values after the first,
// the ones that a single-valued header map cannot carry. A value that does not
// parse is listed as "".
func DroppedCookies(h http.Header) []string {
	cookies := h.Values("Set-Cookie")
	if len(cookies) < 2 {
		return nil
	}

	names := make([]string, 0, len(cookies)-1)
	for _, c := range cookies[1:] {
		var name string
		if parsed, err := http.ParseSetCookie(c); err == nil {
			name = parsed.Name
		}
		names = append(names, name)
	}
	return names
}

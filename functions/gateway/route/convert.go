package route

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// maxConvertItems bounds the elements, attributes or form fields one
// conversion handles, so that a small body of many empty elements cannot
// build a large tree.
const maxConvertItems = 10000

// errTooMany reports input with more than maxConvertItems items.
var errTooMany = fmt.Errorf("more than %d elements or fields", maxConvertItems)

// converter holds one route's conversion settings.
type converter struct {
	request  string
	response bool
	root     string
	arrays   map[string]bool
	maxDepth int
	maxBytes int64
}

func newConverter(c *ConvertConfig) *converter {
	if c == nil {
		return nil
	}
	cv := &converter{
		request:  c.Request,
		response: c.Response == FormatJSON,
		root:     c.XMLRoot,
		arrays:   map[string]bool{},
		maxDepth: c.MaxDepth,
		maxBytes: c.MaxBytes,
	}
	if cv.request == FormatJSON {
		cv.request = ""
	}
	if cv.root == "" {
		cv.root = "request"
	}
	if cv.maxDepth == 0 {
		cv.maxDepth = DefaultConvertDeep
	}
	if cv.maxBytes == 0 {
		cv.maxBytes = DefaultConvertMax
	}
	for _, a := range c.Arrays {
		cv.arrays[a] = true
	}
	return cv
}

// JSONToXML converts a JSON object into an XML document whose root element
// is named root. The package documentation gives the mapping. Nesting
// beyond maxDepth is an error.
func JSONToXML(data []byte, root string, maxDepth int) ([]byte, error) {
	n, err := decodeTree(data, maxDepth)
	if err != nil {
		return nil, err
	}
	if n.kind != kindObject {
		return nil, fmt.Errorf("the JSON value must be an object, not %s", n.kind)
	}
	if !validXMLName(root) {
		return nil, fmt.Errorf("root element name %q is not a valid XML name", root)
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	if err := writeXMLElement(&b, root, n); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeXMLElement writes n as the element name.
func writeXMLElement(b *bytes.Buffer, name string, n *jsonNode) error {
	if !validXMLName(name) {
		return fmt.Errorf("field %q is not a valid XML element name", name)
	}
	b.WriteByte('<')
	b.WriteString(name)

	if n.kind != kindObject {
		if n.kind == kindNull {
			b.WriteString("/>")
			return nil
		}
		b.WriteByte('>')
		_ = xml.EscapeText(b, []byte(scalarText(n)))
		return closeElement(b, name)
	}

	// Attributes go into the start tag, so they are written first.
	for i, k := range n.keys {
		attr, ok := strings.CutPrefix(k, "@")
		if !ok {
			continue
		}
		v := n.vals[i]
		if v.kind == kindObject || v.kind == kindArray {
			return fmt.Errorf("attribute %q must have a string, number, boolean or null value", k)
		}
		if !validXMLName(attr) {
			return fmt.Errorf("attribute %q is not a valid XML name", k)
		}
		b.WriteByte(' ')
		b.WriteString(attr)
		b.WriteString(`="`)
		_ = xml.EscapeText(b, []byte(scalarText(v)))
		b.WriteByte('"')
	}
	b.WriteByte('>')

	for i, k := range n.keys {
		v := n.vals[i]
		switch {
		case strings.HasPrefix(k, "@"):
		case k == "#text":
			if v.kind == kindObject || v.kind == kindArray {
				return errors.New(`"#text" must have a string, number, boolean or null value`)
			}
			_ = xml.EscapeText(b, []byte(scalarText(v)))
		case v.kind == kindArray:
			for _, item := range v.vals {
				if item.kind == kindArray {
					return fmt.Errorf("field %q contains nested arrays, which have no XML form", k)
				}
				if err := writeXMLElement(b, k, item); err != nil {
					return err
				}
			}
		default:
			if err := writeXMLElement(b, k, v); err != nil {
				return err
			}
		}
	}
	return closeElement(b, name)
}

func closeElement(b *bytes.Buffer, name string) error {
	b.WriteString("</")
	b.WriteString(name)
	b.WriteByte('>')
	return nil
}

// scalarText returns the text of a string, number, boolean or null.
func scalarText(n *jsonNode) string {
	switch n.kind {
	case kindBool:
		if n.b {
			return "true"
		}
		return "false"
	case kindNull:
		return ""
	}
	return n.text
}

// validXMLName reports whether s is an XML name without a namespace
// prefix: a letter or "_" followed by letters, digits, ".", "-" and "_".
func validXMLName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r)):
		default:
			return false
		}
	}
	return true
}

// XMLToJSON converts an XML document into JSON. The package documentation
// gives the mapping. Elements whose local name is in arrays always become
// arrays. Nesting beyond maxDepth, DOCTYPE declarations and more than
// 10,000 elements and attributes are errors. UTF-8, GBK, GB2312 and
// GB18030 documents are accepted.
func XMLToJSON(data []byte, arrays map[string]bool, maxDepth int) ([]byte, error) {
	root, err := parseXML(data, maxDepth)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	writeJSONValue(&b, root.toJSON(arrays))
	return b.Bytes(), nil
}

// xmlElement is a parsed element: attributes, text and children in order.
type xmlElement struct {
	name     string
	attrs    []xml.Attr
	text     strings.Builder
	children []*xmlElement
}

func parseXML(data []byte, maxDepth int) (*xmlElement, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	dec.CharsetReader = charsetReader

	var stack []*xmlElement
	var root *xmlElement
	items := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("invalid XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("invalid XML: more than one root element")
			}
			if len(stack) >= maxDepth {
				return nil, errTooDeep
			}
			items += 1 + len(t.Attr)
			if items > maxConvertItems {
				return nil, errTooMany
			}
			e := &xmlElement{name: t.Name.Local, attrs: t.Attr}
			if len(stack) == 0 {
				root = e
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, e)
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.Directive:
			return nil, errors.New("invalid XML: DOCTYPE and other declarations are not accepted")
		}
	}
	if root == nil {
		return nil, errors.New("invalid XML: no root element")
	}
	return root, nil
}

// charsetReader decodes the Chinese national encodings that legacy
// upstreams declare. encoding/xml reads UTF-8 by itself.
func charsetReader(label string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "gbk", "gb2312", "cp936":
		return simplifiedchinese.GBK.NewDecoder().Reader(input), nil
	case "gb18030":
		return simplifiedchinese.GB18030.NewDecoder().Reader(input), nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q; use UTF-8, GBK or GB18030", label)
}

// toJSON returns the JSON value of e: a string for an element with only
// text, otherwise an object of "@" attributes, "#text" and children.
func (e *xmlElement) toJSON(arrays map[string]bool) *jsonNode {
	var attrs []xml.Attr
	for _, a := range e.attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		attrs = append(attrs, a)
	}
	if len(attrs) == 0 && len(e.children) == 0 {
		return &jsonNode{kind: kindString, text: e.text.String()}
	}

	obj := &jsonNode{kind: kindObject}
	for _, a := range attrs {
		obj.set("@"+a.Name.Local, &jsonNode{kind: kindString, text: a.Value})
	}
	if text := strings.TrimSpace(e.text.String()); text != "" {
		obj.set("#text", &jsonNode{kind: kindString, text: text})
	}
	for _, c := range e.children {
		v := c.toJSON(arrays)
		i := obj.index(c.name)
		switch {
		case i < 0 && arrays[c.name]:
			obj.set(c.name, &jsonNode{kind: kindArray, vals: []*jsonNode{v}})
		case i < 0:
			obj.set(c.name, v)
		case obj.vals[i].kind == kindArray:
			// Element values are strings or objects, so an array here is
			// the list of this name's earlier occurrences.
			obj.vals[i].vals = append(obj.vals[i].vals, v)
		default:
			obj.vals[i] = &jsonNode{kind: kindArray, vals: []*jsonNode{obj.vals[i], v}}
		}
	}
	return obj
}

// set appends a member to the object n.
func (n *jsonNode) set(key string, v *jsonNode) {
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, v)
}

// index returns the position of the member key in the object n, or -1.
func (n *jsonNode) index(key string) int {
	for i, k := range n.keys {
		if k == key {
			return i
		}
	}
	return -1
}

// writeJSONValue writes n as compact JSON, keeping the member order.
func writeJSONValue(b *bytes.Buffer, n *jsonNode) {
	switch n.kind {
	case kindNull:
		b.WriteString("null")
	case kindBool, kindNumber:
		b.WriteString(scalarText(n))
	case kindString:
		writeJSONString(b, n.text)
	case kindArray:
		b.WriteByte('[')
		for i, v := range n.vals {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONValue(b, v)
		}
		b.WriteByte(']')
	case kindObject:
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			writeJSONValue(b, n.vals[i])
		}
		b.WriteByte('}')
	}
}

const hexDigits = "0123456789abcdef"

// writeJSONString writes s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func writeJSONString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			b.WriteString(`\u202`)
			b.WriteByte(hexDigits[r&0xf])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

package route

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// JSONToForm converts a JSON object into an
// application/x-www-form-urlencoded body. The package documentation gives
// the mapping.
func JSONToForm(data []byte, maxDepth int) ([]byte, error) {
	n, err := decodeTree(data, maxDepth)
	if err != nil {
		return nil, err
	}
	if n.kind != kindObject {
		return nil, fmt.Errorf("the JSON value must be an object, not %s", n.kind)
	}
	var b bytes.Buffer
	if err := writeFormObject(&b, "", n); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeFormObject(b *bytes.Buffer, prefix string, n *jsonNode) error {
	for i, k := range n.keys {
		if k == "" || strings.Contains(k, ".") {
			return fmt.Errorf("field %q cannot be a form key: keys must be non-empty and without '.'", k)
		}
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		v := n.vals[i]
		switch v.kind {
		case kindObject:
			if err := writeFormObject(b, key, v); err != nil {
				return err
			}
		case kindArray:
			for _, item := range v.vals {
				if item.kind == kindObject || item.kind == kindArray {
					return fmt.Errorf("field %q contains objects or arrays inside an array, which have no form encoding", key)
				}
				writeFormPair(b, key, scalarText(item))
			}
		default:
			writeFormPair(b, key, scalarText(v))
		}
	}
	return nil
}

func writeFormPair(b *bytes.Buffer, key, value string) {
	if b.Len() > 0 {
		b.WriteByte('&')
	}
	b.WriteString(url.QueryEscape(key))
	b.WriteByte('=')
	b.WriteString(url.QueryEscape(value))
}

// FormToJSON converts an application/x-www-form-urlencoded body into a JSON
// object. The package documentation gives the mapping. Keys whose last
// segment is in arrays always become arrays.
func FormToJSON(data []byte, arrays map[string]bool, maxDepth int) ([]byte, error) {
	root := &jsonNode{kind: kindObject}
	count := 0
	for pair := range strings.SplitSeq(string(data), "&") {
		if pair == "" {
			continue
		}
		if count++; count > maxConvertItems {
			return nil, errTooMany
		}
		if strings.Contains(pair, ";") {
			return nil, errors.New("invalid form: ';' is not a separator")
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err1 := url.QueryUnescape(rawKey)
		value, err2 := url.QueryUnescape(rawValue)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("invalid form: %w", err)
		}
		if err := insertFormValue(root, key, value, arrays, maxDepth); err != nil {
			return nil, err
		}
	}
	var b bytes.Buffer
	writeJSONValue(&b, root)
	return b.Bytes(), nil
}

func insertFormValue(root *jsonNode, key, value string, arrays map[string]bool, maxDepth int) error {
	segments := strings.Split(key, ".")
	if len(segments) > maxDepth {
		return errTooDeep
	}
	node := root
	for i, seg := range segments {
		if seg == "" {
			return fmt.Errorf("invalid form key %q: empty segment", key)
		}
		j := node.index(seg)
		last := i == len(segments)-1
		if !last {
			if j < 0 {
				child := &jsonNode{kind: kindObject}
				node.set(seg, child)
				node = child
				continue
			}
			if node.vals[j].kind != kindObject {
				return fmt.Errorf("form key %q conflicts with a value at %q", key, strings.Join(segments[:i+1], "."))
			}
			node = node.vals[j]
			continue
		}

		v := &jsonNode{kind: kindString, text: value}
		switch {
		case j < 0 && arrays[seg]:
			node.set(seg, &jsonNode{kind: kindArray, vals: []*jsonNode{v}})
		case j < 0:
			node.set(seg, v)
		case node.vals[j].kind == kindString:
			node.vals[j] = &jsonNode{kind: kindArray, vals: []*jsonNode{node.vals[j], v}}
		case node.vals[j].kind == kindArray:
			node.vals[j].vals = append(node.vals[j].vals, v)
		default:
			return fmt.Errorf("form key %q conflicts with nested keys below it", key)
		}
	}
	return nil
}

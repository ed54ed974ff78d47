package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jsonKind is the type of a JSON value.
type jsonKind uint8

const (
	kindNull jsonKind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// jsonNode is a decoded JSON value that keeps object members in document
// order, duplicates included. The route table parser needs the order and
// duplicates to report problems, and the XML converter needs the order to
// write elements as the client sent them.
type jsonNode struct {
	kind jsonKind
	text string // a string's value or a number's literal
	b    bool
	keys []string    // object member names, in order
	vals []*jsonNode // object member values, or array items
}

// errTooDeep reports nesting beyond the configured depth.
var errTooDeep = errors.New("nested too deeply")

// decodeTree decodes one JSON value from data. Nesting deeper than maxDepth
// arrays and objects returns errTooDeep. Trailing data is an error.
func decodeTree(data []byte, maxDepth int) (*jsonNode, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := decodeValue(dec, 0, maxDepth)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data after the JSON value at byte %d", dec.InputOffset())
	}
	return n, nil
}

func decodeValue(dec *json.Decoder, depth, maxDepth int) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonSyntax(dec, err)
	}
	switch v := tok.(type) {
	case nil:
		return &jsonNode{kind: kindNull}, nil
	case bool:
		return &jsonNode{kind: kindBool, b: v}, nil
	case json.Number:
		return &jsonNode{kind: kindNumber, text: v.String()}, nil
	case string:
		return &jsonNode{kind: kindString, text: v}, nil
	case json.Delim:
		if depth >= maxDepth {
			return nil, errTooDeep
		}
		if v == '[' {
			return decodeArray(dec, depth, maxDepth)
		}
		return decodeObject(dec, depth, maxDepth)
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

func decodeArray(dec *json.Decoder, depth, maxDepth int) (*jsonNode, error) {
	n := &jsonNode{kind: kindArray}
	for dec.More() {
		item, err := decodeValue(dec, depth+1, maxDepth)
		if err != nil {
			return nil, err
		}
		n.vals = append(n.vals, item)
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, jsonSyntax(dec, err)
	}
	return n, nil
}

func decodeObject(dec *json.Decoder, depth, maxDepth int) (*jsonNode, error) {
	n := &jsonNode{kind: kindObject}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonSyntax(dec, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key at byte %d is not a string", dec.InputOffset())
		}
		val, err := decodeValue(dec, depth+1, maxDepth)
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, key)
		n.vals = append(n.vals, val)
	}
	if _, err := dec.Token(); err != nil { // the closing }
		return nil, jsonSyntax(dec, err)
	}
	return n, nil
}

func jsonSyntax(dec *json.Decoder, err error) error {
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("unexpected end of JSON input at byte %d", dec.InputOffset())
	}
	return fmt.Errorf("invalid JSON at byte %d: %w", dec.InputOffset(), err)
}

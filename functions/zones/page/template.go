package page

import "strconv"

// Template is a validated template document: a theme and nodes that Render
// adds to the page body while the template is effective.
type Template struct {
	SchemaVersion int `json:"schema_version"`

	// Theme overrides the page's props.theme keys it sets.
	Theme map[string]any `json:"theme,omitempty"`

	// Prepend nodes go before the body's children and Append nodes after
	// them. Their ids are unique within the template, and Render prefixes
	// them with the template id, so they never collide with page node ids.
	Prepend []*Node `json:"prepend,omitempty"`
	Append  []*Node `json:"append,omitempty"`
}

// ValidateTemplate parses and checks a template document the way Validate
// checks a page. Template nodes are checked as children of the page root:
// they may not be pages and start at depth 2.
func ValidateTemplate(doc []byte) (*Template, []Problem) {
	var ps problems

	root, ok := decodeJSON(doc, &ps)
	if !ok {
		return nil, ps.list
	}

	reg := loadRegistry()
	validateSchema(reg.template, root, "", &ps)

	obj, _ := root.(map[string]any)
	w := newWalker(reg, &ps)
	t := &Template{SchemaVersion: SchemaVersion}
	t.Theme, _ = obj["theme"].(map[string]any)
	t.Prepend = w.nodeList(obj["prepend"], "/prepend")
	t.Append = w.nodeList(obj["append"], "/append")

	if !ps.empty() {
		return nil, ps.list
	}

	return t, nil
}

func (w *walker) nodeList(v any, path string) []*Node {
	arr, _ := v.([]any)

	var out []*Node

	for i, e := range arr {
		if n := w.node(e, path+pointer(strconv.Itoa(i)), 2, false); n != nil {
			out = append(out, n)
		}
	}

	return out
}

package page

import (
	"slices"
)

// Limits on a submitted document. Validate rejects documents beyond them
// before any schema work, because operators' input is untrusted.
const (
	// MaxDocumentBytes is the maximum size of a page or template document.
	MaxDocumentBytes = 1 << 20

	// MaxJSONDepth is the maximum nesting of JSON objects and arrays. It
	// bounds the parser's recursion. A page at MaxNodeDepth with nested
	// props stays below 40.
	MaxJSONDepth = 64

	// MaxNodes is the maximum number of nodes in one page, the root included.
	MaxNodes = 2000

	// MaxNodeDepth is the maximum depth of the node tree, with the root node
	// at depth 1.
	MaxNodeDepth = 12

	// MaxProblems is the number of problems Validate reports before it adds
	// a final too_many_problems entry and stops.
	MaxProblems = 100
)

// SchemaVersion is the only document format version this package reads.
const SchemaVersion = 1

// Text is a localised string. ZH is required, and EN falls back to ZH when
// empty.
type Text struct {
	ZH string `json:"zh"`
	EN string `json:"en,omitempty"`
}

// In returns the text in lang ("zh" or "en").
func (t Text) In(lang string) string {
	if lang == LangEN && t.EN != "" {
		return t.EN
	}

	return t.ZH
}

// Languages that Render accepts.
const (
	LangZH = "zh"
	LangEN = "en"
)

// Document is a validated zone page. Nothing in this package modifies a
// Document after Validate builds it, so one Document may be rendered from
// many goroutines at once.
type Document struct {
	SchemaVersion int      `json:"schema_version"`
	Title         Text     `json:"title"`
	Templates     []string `json:"templates,omitempty"`
	Body          *Node    `json:"body"`
}

// Node is one component instance in the page tree. Props holds decoded JSON
// values, with numbers as json.Number so they keep their exact text.
type Node struct {
	Type     string         `json:"type"`
	ID       string         `json:"id"`
	Props    map[string]any `json:"props,omitempty"`
	Children []*Node        `json:"children,omitempty"`
}

// References lists the ids a document or template binds, each sorted and
// without duplicates, so a caller knows what to load before Render.
type References struct {
	Services  []string `json:"services"`
	Items     []string `json:"items"`
	Pages     []string `json:"pages"` // zones whose pages links open
	Topics    []string `json:"topics"`
	Templates []string `json:"templates"`
}

// References returns the services, one-thing items, linked zone pages,
// topics and templates the document binds. Template contents are not included, so call
// Template.References for those.
func (d *Document) References() References {
	var refs refSet

	refs.templates = append(refs.templates, d.Templates...)
	refs.addNode(d.Body)

	return refs.sorted()
}

// References returns the services, one-thing items, linked zone pages and
// topics that the template's nodes bind.
func (t *Template) References() References {
	var refs refSet

	for _, n := range t.Prepend {
		refs.addNode(n)
	}

	for _, n := range t.Append {
		refs.addNode(n)
	}

	return refs.sorted()
}

type refSet struct {
	services, items, pages, topics, templates []string
}

func (r *refSet) addNode(n *Node) {
	if n == nil {
		return
	}

	switch n.Type {
	case TypeAppGrid:
		r.services = append(r.services, stringList(n.Props["services"])...)
	case TypeItemList:
		r.items = append(r.items, stringList(n.Props["items"])...)
	case TypeSubscription:
		r.topics = append(r.topics, stringList(n.Props["topics"])...)
	}

	walkLinks(n.Props, func(link map[string]any) {
		id, ok := link["target"].(string)
		if !ok {
			return
		}
		switch link["type"] {
		case linkService:
			r.services = append(r.services, id)
		case linkPage:
			r.pages = append(r.pages, id)
		}
	})

	for _, c := range n.Children {
		r.addNode(c)
	}
}

func (r *refSet) sorted() References {
	return References{
		Services:  sortedUnique(r.services),
		Items:     sortedUnique(r.items),
		Pages:     sortedUnique(r.pages),
		Topics:    sortedUnique(r.topics),
		Templates: sortedUnique(r.templates),
	}
}

func sortedUnique(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)

	return slices.Compact(out)
}

// stringList returns the strings of a decoded JSON array, skipping other
// values.
func stringList(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))

	for _, e := range arr {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}

	return out
}

// linkKeys are the props keys whose values are links.
var linkKeys = []string{"link", "more_link"}

// walkLinks calls fn for every link object inside props, at any depth.
func walkLinks(v any, fn func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		for key, child := range v {
			if link, ok := child.(map[string]any); ok && slices.Contains(linkKeys, key) {
				fn(link)

				continue
			}

			walkLinks(child, fn)
		}
	case []any:
		for _, child := range v {
			walkLinks(child, fn)
		}
	}
}

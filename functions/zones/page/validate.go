package page

import (
	"fmt"
)

// Validate parses a submitted page document and checks it against the
// format described in the package comment. It returns every problem it
// finds, up to MaxProblems: parse problems first, then envelope problems,
// then node problems in tree order. The Document is nil unless there are
// none. FuzzValidate checks that no input makes it panic.
func Validate(doc []byte) (*Document, []Problem) {
	var ps problems

	root, ok := decodeJSON(doc, &ps)
	if !ok {
		return nil, ps.list
	}

	reg := loadRegistry()
	validateSchema(reg.document, root, "", &ps)

	// Check the node tree even when the envelope has problems, so one save
	// reports everything that is wrong.
	obj, _ := root.(map[string]any)
	w := newWalker(reg, &ps)

	var body *Node
	if b, isObject := obj["body"].(map[string]any); isObject {
		body = w.node(b, "/body", 1, true)
	}

	if !ps.empty() {
		return nil, ps.list
	}

	return &Document{
		SchemaVersion: SchemaVersion,
		Title:         textValue(obj["title"]),
		Templates:     stringList(obj["templates"]),
		Body:          body,
	}, nil
}

// CheckTemplates reports an unknown_template problem for each template id
// of the document for which known returns false. known reports whether a
// template with the id exists, in any state, because the message states
// that a template need not be published. Validate cannot check this
// because it does not know which templates exist.
func (d *Document) CheckTemplates(known func(id string) bool) []Problem {
	var ps problems

	for i, id := range d.Templates {
		if !known(id) {
			ps.addf(joinIndex("", "templates", i), CodeUnknownTemplate,
				fmt.Sprintf("模板 %q 不存在。页面引用的模板必须存在，但不必已发布。", id),
				fmt.Sprintf("template %q does not exist; a page may name only templates that exist, published or not", id))
		}
	}

	return ps.list
}

// walker checks a node tree and builds its Nodes.
type walker struct {
	reg     *registry
	ps      *problems
	ids     map[string]string // node id to the pointer of its first node
	nodes   int
	stopped bool // set once the tree has more than MaxNodes nodes
}

func newWalker(reg *registry, ps *problems) *walker {
	return &walker{reg: reg, ps: ps, ids: map[string]string{}}
}

// node checks the node v at path and its subtree. depth is 1 for the root.
// It returns nil when v cannot be used as a node at all.
func (w *walker) node(v any, path string, depth int, isRoot bool) *Node {
	if w.stopped {
		return nil
	}

	w.nodes++
	if w.nodes > MaxNodes {
		w.stopped = true
		w.ps.addf(path, CodeTooManyNodes,
			fmt.Sprintf("节点数超过上限 %d 个，从此节点起未再检查。", MaxNodes),
			fmt.Sprintf("more than %d nodes; nodes from here on were not checked", MaxNodes))

		return nil
	}

	if depth > MaxNodeDepth {
		w.ps.addf(path, CodeTooDeep,
			fmt.Sprintf("节点层级超过上限 %d 层。", MaxNodeDepth),
			fmt.Sprintf("node is nested deeper than %d levels", MaxNodeDepth))

		return nil
	}

	validateSchema(w.reg.node, v, path, w.ps)

	obj, isObject := v.(map[string]any)
	if !isObject {
		return nil
	}

	n := &Node{}
	n.Type, _ = obj["type"].(string)
	n.ID, _ = obj["id"].(string)
	n.Props, _ = obj["props"].(map[string]any)

	w.checkID(n.ID, path)
	comp := w.checkType(n.Type, path, isRoot)

	if comp != nil {
		props := n.Props
		if props == nil {
			props = map[string]any{}
		}

		validateSchema(comp.compiled, props, join(path, "props"), w.ps)
	}

	children, _ := obj["children"].([]any)
	if len(children) > 0 && comp != nil && !comp.Container {
		w.ps.addf(join(path, "children"), CodeChildrenNotAllowed,
			fmt.Sprintf("组件 %q 不是容器，不能包含子节点。", n.Type),
			fmt.Sprintf("component %q is not a container and cannot have children", n.Type))

		return n
	}

	for i, c := range children {
		if child := w.node(c, joinIndex(path, "children", i), depth+1, false); child != nil {
			n.Children = append(n.Children, child)
		}
	}

	return n
}

func (w *walker) checkID(id, path string) {
	if id == "" {
		return // node.json reports the missing or empty id
	}

	if first, dup := w.ids[id]; dup {
		w.ps.add(Problem{
			Path: join(path, "id"), Code: CodeDuplicateID, Message: duplicateIDMessage(id, first),
			nodeID: id, firstUse: first,
		})

		return
	}

	w.ids[id] = path
}

// checkType reports type problems and returns the registry entry, or nil
// when the type is unknown.
func (w *walker) checkType(typ, path string, isRoot bool) *Component {
	at := join(path, "type")
	comp := w.reg.components[typ]

	switch {
	case typ == "":
		// node.json reports the missing type.
	case isRoot && typ != TypePage:
		w.ps.addf(at, CodeInvalidRoot,
			fmt.Sprintf("根节点必须是 %q，实际为 %q。", TypePage, typ),
			fmt.Sprintf("root node must be of type %q, not %q", TypePage, typ))
	case !isRoot && typ == TypePage:
		w.ps.addf(at, CodeNestedPage,
			fmt.Sprintf("%q 只能作为根节点。", TypePage),
			fmt.Sprintf("%q may only be the root node", TypePage))
	case comp == nil:
		w.ps.addf(at, CodeUnknownComponent,
			fmt.Sprintf("未知组件 %q。", typ),
			fmt.Sprintf("unknown component %q", typ))
	}

	return comp
}

// textValue converts a decoded localised value. The schemas guarantee its
// shape before this is called.
func textValue(v any) Text {
	m, _ := v.(map[string]any)
	zh, _ := m["zh"].(string)
	en, _ := m["en"].(string)

	return Text{ZH: zh, EN: en}
}

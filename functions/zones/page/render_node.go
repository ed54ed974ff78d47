package page

import (
	"slices"
)

// Link types of the link definition in schemas/common.json.
const (
	linkService     = "service"
	linkURL         = "url"
	linkPage        = "page"
	linkFile        = "file"
	linkMiniProgram = "mini_program"
)

// templateIDSeparator joins a template id and a node id in rendered ids.
// Node ids cannot contain it, so template nodes never collide with page
// nodes.
const templateIDSeparator = ":"

type renderer struct {
	in    RenderInput
	cells map[Capability]Support
}

// renderedService is a bound service card in rendered props.
type renderedService struct {
	ID            string         `json:"id"`
	Type          string         `json:"type"`
	Name          string         `json:"name"`
	Icon          string         `json:"icon,omitempty"`
	Badge         string         `json:"badge,omitempty"`
	URL           string         `json:"url,omitempty"`
	Endpoint      string         `json:"endpoint,omitempty"`
	LoginRequired bool           `json:"login_required"`
	Licences      []string       `json:"licences,omitempty"`
	Capability    *CapabilityUse `json:"capability,omitempty"`
}

// renderedItem is a bound one-thing item card in rendered props.
type renderedItem struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Summary string `json:"summary,omitempty"`
}

// root renders the page node with the applied templates' nodes around its
// children. The theme moves to Rendered.Theme, so it is left out of props.
//
// NOTE: MaxNodes and MaxNodeDepth bound the page and each template
// separately, so a rendering with templates can exceed them.
func (r *renderer) root(body *Node, applied []TemplateInput) *RenderedNode {
	out := &RenderedNode{Type: body.Type, ID: body.ID, Props: r.props(body, "theme")}

	for _, t := range applied {
		out.Children = r.appendNodes(out.Children, t.Template.Prepend, t.ID+templateIDSeparator)
	}

	out.Children = r.appendNodes(out.Children, body.Children, "")

	for _, t := range applied {
		out.Children = r.appendNodes(out.Children, t.Template.Append, t.ID+templateIDSeparator)
	}

	return out
}

func (r *renderer) appendNodes(dst []*RenderedNode, nodes []*Node, idPrefix string) []*RenderedNode {
	for _, n := range nodes {
		if rn := r.node(n, idPrefix); rn != nil {
			dst = append(dst, rn)
		}
	}

	return dst
}

// node renders n and its subtree, or returns nil when the channel's
// fallback for a capability the node needs is hide.
func (r *renderer) node(n *Node, idPrefix string) *RenderedNode {
	var use *CapabilityUse

	if c, ok := nodeCapability(n); ok {
		var keep bool
		if use, keep = r.use(c); !keep {
			return nil
		}
	}

	out := &RenderedNode{Type: n.Type, ID: idPrefix + n.ID, Props: r.props(n, ""), Capability: use}
	out.Children = r.appendNodes(nil, n.Children, idPrefix)

	return out
}

// nodeCapability returns the capability a node needs, if any.
func nodeCapability(n *Node) (Capability, bool) {
	switch n.Type {
	case TypeLoginPrompt:
		c, _ := n.Props["capability"].(string)

		return Capability(c), c != ""
	case TypeSubscription:
		return CapLogin, true
	}

	return "", false
}

// use returns how the channel performs capability c, or keep=false when
// its fallback is hide.
func (r *renderer) use(c Capability) (use *CapabilityUse, keep bool) {
	s := r.cells[c]

	if s.Supported {
		return &CapabilityUse{Name: c, API: s.API}, true
	}

	if s.Fallback == FallbackHide {
		return nil, false
	}

	return &CapabilityUse{Name: c, Fallback: s.Fallback}, true
}

// props returns a deep copy of the node's props with localised values
// resolved, links rendered and ids bound to cards. The key skip is left
// out.
func (r *renderer) props(n *Node, skip string) map[string]any {
	out := make(map[string]any, len(n.Props))

	for k, v := range n.Props {
		if k == skip {
			continue
		}

		if rv, keep := r.value(k, v); keep {
			out[k] = rv
		}
	}

	switch n.Type {
	case TypeAppGrid:
		out["services"] = r.serviceCards(stringList(n.Props["services"]))
	case TypeItemList:
		out["items"] = r.itemCards(stringList(n.Props["items"]))
	}

	return out
}

// value renders one props value found under key. It returns keep=false
// when the value is a link that cannot work on this channel.
func (r *renderer) value(key string, v any) (any, bool) {
	switch v := v.(type) {
	case map[string]any:
		if isText(v) {
			return textValue(v).In(r.in.Lang), true
		}

		if slices.Contains(linkKeys, key) {
			return r.link(v)
		}

		out := make(map[string]any, len(v))

		for k, c := range v {
			if rv, keep := r.value(k, c); keep {
				out[k] = rv
			}
		}

		return out, true
	case []any:
		out := make([]any, 0, len(v))

		for _, c := range v {
			if rv, keep := r.value("", c); keep {
				out = append(out, rv)
			}
		}

		return out, true
	}

	return v, true
}

// isText reports whether m is a localised value: an object whose only keys
// are zh and en, with a zh string. The schemas use no other object of that
// shape.
func isText(m map[string]any) bool {
	if _, ok := m["zh"].(string); !ok {
		return false
	}

	for k, v := range m {
		if _, isString := v.(string); !isString || (k != LangZH && k != LangEN) {
			return false
		}
	}

	return true
}

// link renders a link for the channel. It drops links to services and zone
// pages that are unknown or unavailable here, and links whose capability is
// hidden or that have no way to work on this channel.
func (r *renderer) link(l map[string]any) (any, bool) {
	typ, _ := l["type"].(string)
	target, _ := l["target"].(string)

	switch typ {
	case linkService:
		card, ok := r.service(target)
		if !ok {
			return nil, false
		}

		return map[string]any{"type": typ, "target": target, "service": card}, true
	case linkPage:
		if r.in.Pages != nil && !r.in.Pages[target] {
			return nil, false
		}
	case linkFile:
		use, keep := r.use(CapFileDownload)
		if !keep {
			return nil, false
		}

		if use.Fallback == FallbackOpenURL {
			typ = linkURL
		}

		return map[string]any{"type": typ, "target": target, "capability": use}, true
	case linkMiniProgram:
		return r.programLink(l)
	}

	return map[string]any{"type": typ, "target": target}, true
}

// programLink renders a link to another mini-program. Where the channel
// can launch programs and the link names one for it, the link carries the
// program's app id. Elsewhere it becomes a url link to fallback_url, and
// without a fallback_url it is dropped.
func (r *renderer) programLink(l map[string]any) (any, bool) {
	appIDs, _ := l["app_ids"].(map[string]any)
	appID, _ := appIDs[string(r.in.Channel)].(string)
	path, _ := l["path"].(string)
	fallbackURL, _ := l["fallback_url"].(string)
	s := r.cells[CapLaunch]

	if s.Supported && appID != "" {
		out := map[string]any{
			"type":       linkMiniProgram,
			"app_id":     appID,
			"capability": &CapabilityUse{Name: CapLaunch, API: s.API},
		}
		if path != "" {
			out["path"] = path
		}

		return out, true
	}

	fallback := s.Fallback
	if s.Supported {
		// The channel can launch programs, but not this one: it has no
		// build for this platform.
		fallback = FallbackOpenURL
	}

	if fallbackURL == "" || fallback == FallbackHide {
		return nil, false
	}

	return map[string]any{
		"type":       linkURL,
		"target":     fallbackURL,
		"capability": &CapabilityUse{Name: CapLaunch, Fallback: fallback},
	}, true
}

func (r *renderer) serviceCards(ids []string) []*renderedService {
	out := make([]*renderedService, 0, len(ids))

	for _, id := range ids {
		if card, ok := r.service(id); ok {
			out = append(out, card)
		}
	}

	return out
}

// service returns the card of a service available on this channel.
func (r *renderer) service(id string) (*renderedService, bool) {
	s, ok := r.in.Services[id]
	if !ok || (len(s.Channels) > 0 && !slices.Contains(s.Channels, r.in.Channel)) {
		return nil, false
	}

	card := &renderedService{
		ID:            id,
		Type:          s.Type,
		Name:          s.Name.In(r.in.Lang),
		Icon:          s.Icon,
		Badge:         s.Badge,
		URL:           s.URL,
		Endpoint:      s.Endpoint,
		LoginRequired: s.LoginRequired,
		Licences:      slices.Clone(s.Licences),
	}

	if s.LoginRequired {
		use, keep := r.use(CapLogin)
		if !keep {
			return nil, false
		}

		card.Capability = use
	}

	return card, true
}

func (r *renderer) itemCards(ids []string) []*renderedItem {
	out := make([]*renderedItem, 0, len(ids))

	for _, id := range ids {
		item, ok := r.in.Items[id]
		if !ok {
			continue
		}

		out = append(out, &renderedItem{ID: id, Name: item.Name.In(r.in.Lang), Summary: item.Summary.In(r.in.Lang)})
	}

	return out
}

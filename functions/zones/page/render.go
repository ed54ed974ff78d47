package page

import (
	"errors"
	"fmt"
	"maps"
	"time"
)

// Errors returned by Render. Callers branch on them with errors.Is, and the
// message of each names the offending value.
var (
	ErrUnknownChannel  = errors.New("page: unknown channel")
	ErrUnknownLanguage = errors.New("page: unknown language")
	ErrInvalidInput    = errors.New("page: invalid render input")
)

// RenderInput is everything Render needs besides the document. The caller
// loads it, because Render does no I/O.
type RenderInput struct {
	Channel Channel
	Lang    string // LangZH or LangEN
	Now     time.Time

	// Templates are the templates the page references, already loaded.
	// Render applies those listed in the document's templates whose window
	// contains Now. It ignores the others and skips referenced ids that are
	// missing here.
	Templates []TemplateInput

	// Services and Items map ids to the cards bound into the page. Render
	// drops ids missing here.
	Services map[string]ServiceCard
	Items    map[string]ItemCard

	// Pages lists the zones whose pages links may open on this channel.
	// Render drops page links to ids missing here. A nil map keeps every
	// page link.
	Pages map[string]bool
}

// TemplateInput is a loaded template and its effective window. The window
// starts at StartAt inclusive and ends at EndAt exclusive, and a nil bound
// is open.
type TemplateInput struct {
	ID       string
	StartAt  *time.Time
	EndAt    *time.Time
	Template *Template
}

// ServiceCard is a service as the zones package hands it to Render.
type ServiceCard struct {
	ID       string
	Type     string // "h5" or "api"
	Name     Text
	Icon     string
	Badge    string // "", "NEW" or "HOT"
	URL      string // h5 services: the page to open
	Endpoint string // api services: "METHOD /path"

	// Channels lists where the service is available, and empty means every
	// channel. Render drops the service elsewhere.
	Channels      []Channel
	LoginRequired bool
	Licences      []string
}

// ItemCard is a one-thing item as the zones package hands it to Render.
type ItemCard struct {
	ID      string
	Name    Text
	Summary Text
}

// Rendered is a page ready for one channel and language. Marshalled with
// encoding/json it is byte-identical for identical inputs, so a hash of it
// is a stable ETag.
type Rendered struct {
	SchemaVersion int            `json:"schema_version"`
	Lang          string         `json:"lang"`
	Title         string         `json:"title"`
	Theme         map[string]any `json:"theme,omitempty"`
	Channel       ChannelInfo    `json:"channel"`

	// Templates lists the applied templates in page order.
	Templates []string      `json:"templates"`
	Body      *RenderedNode `json:"body"`

	// ValidUntil is the earliest template window boundary after Now: the
	// rendering is stale from then on. It is nil when no boundary lies
	// ahead. It is left out of the JSON, because it is a caching hint for
	// the caller, not page content.
	ValidUntil *time.Time `json:"-"`
}

// RenderedNode is a node with localised text, bound cards and capability
// annotations.
type RenderedNode struct {
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Props      map[string]any  `json:"props"`
	Capability *CapabilityUse  `json:"capability,omitempty"`
	Children   []*RenderedNode `json:"children,omitempty"`
}

// CapabilityUse is the way a front end performs a capability on this
// channel: API when the channel supports it, and Fallback when not.
type CapabilityUse struct {
	Name     Capability `json:"name"`
	API      string     `json:"api,omitempty"`
	Fallback Fallback   `json:"fallback,omitempty"`
}

// ChannelInfo lists every capability of the channel, so front ends can wire
// share and favourite menus.
type ChannelInfo struct {
	Name         Channel             `json:"name"`
	Capabilities []ChannelCapability `json:"capabilities"`
}

// ChannelCapability is one capability of ChannelInfo.
type ChannelCapability struct {
	Name      Capability `json:"name"`
	Supported bool       `json:"supported"`
	API       string     `json:"api,omitempty"`
	Fallback  Fallback   `json:"fallback,omitempty"`
}

// Render prepares doc for one channel and language. It applies the
// effective templates, resolves localised values, binds service and item
// cards, and applies the channel's capabilities as the package comment
// describes. Render only reads doc and in, so concurrent calls may share
// them.
func Render(doc *Document, in RenderInput) (*Rendered, error) {
	if err := checkInput(doc, in); err != nil {
		return nil, err
	}

	applied, validUntil, err := selectTemplates(doc.Templates, in.Templates, in.Now)
	if err != nil {
		return nil, err
	}

	r := &renderer{in: in, cells: loadMatrix().Cells[in.Channel]}
	out := &Rendered{
		SchemaVersion: SchemaVersion,
		Lang:          in.Lang,
		Title:         doc.Title.In(in.Lang),
		Theme:         mergeTheme(doc.Body.Props, applied),
		Channel:       channelInfo(in.Channel),
		Templates:     make([]string, 0, len(applied)),
		Body:          r.root(doc.Body, applied),
		ValidUntil:    validUntil,
	}

	for _, t := range applied {
		out.Templates = append(out.Templates, t.ID)
	}

	return out, nil
}

func checkInput(doc *Document, in RenderInput) error {
	switch {
	case doc == nil || doc.Body == nil:
		return fmt.Errorf("%w: document is nil or has no body", ErrInvalidInput)
	case !KnownChannel(in.Channel):
		return fmt.Errorf("%w %q", ErrUnknownChannel, in.Channel)
	case in.Lang != LangZH && in.Lang != LangEN:
		return fmt.Errorf("%w %q", ErrUnknownLanguage, in.Lang)
	case in.Now.IsZero():
		return fmt.Errorf("%w: Now is zero", ErrInvalidInput)
	}

	return nil
}

// selectTemplates returns the templates referenced by the page whose window
// contains now, in page order, and the earliest window boundary after now
// among all referenced templates.
func selectTemplates(refs []string, inputs []TemplateInput, now time.Time) ([]TemplateInput, *time.Time, error) {
	byID := make(map[string]TemplateInput, len(inputs))

	for _, t := range inputs {
		if _, dup := byID[t.ID]; dup {
			return nil, nil, fmt.Errorf("%w: template %q is given twice", ErrInvalidInput, t.ID)
		}

		if t.Template == nil {
			return nil, nil, fmt.Errorf("%w: template %q has no parsed Template", ErrInvalidInput, t.ID)
		}

		byID[t.ID] = t
	}

	var (
		applied []TemplateInput
		next    *time.Time
	)

	for _, id := range refs {
		t, ok := byID[id]
		if !ok {
			continue
		}

		started := t.StartAt == nil || !now.Before(*t.StartAt)
		notEnded := t.EndAt == nil || now.Before(*t.EndAt)

		if started && notEnded {
			applied = append(applied, t)
		}

		for _, bound := range []*time.Time{t.StartAt, t.EndAt} {
			if bound != nil && bound.After(now) && (next == nil || bound.Before(*next)) {
				b := *bound
				next = &b
			}
		}
	}

	return applied, next, nil
}

// mergeTheme combines the page's props.theme with the applied templates'
// themes. A later template overrides keys set before it.
func mergeTheme(pageProps map[string]any, applied []TemplateInput) map[string]any {
	theme := map[string]any{}

	if base, ok := pageProps["theme"].(map[string]any); ok {
		maps.Copy(theme, base)
	}

	for _, t := range applied {
		maps.Copy(theme, t.Template.Theme)
	}

	if len(theme) == 0 {
		return nil
	}

	return theme
}

func channelInfo(ch Channel) ChannelInfo {
	m := loadMatrix()
	info := ChannelInfo{Name: ch, Capabilities: make([]ChannelCapability, 0, len(m.Capabilities))}

	for _, c := range m.Capabilities {
		s := m.Cells[ch][c]
		info.Capabilities = append(info.Capabilities, ChannelCapability{
			Name: c, Supported: s.Supported, API: s.API, Fallback: s.Fallback,
		})
	}

	return info
}

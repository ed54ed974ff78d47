package zones

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jingtong/backend/functions/zones/page"
	"github.com/jingtong/backend/shared/httpx"
)

// PageDraft is the working document of a zone's page. Public reads render
// only published versions, never the draft.
type PageDraft struct {
	ZoneID    string          `json:"zone_id"`
	Document  json.RawMessage `json:"document"`
	Version   int64           `json:"version"`
	UpdatedAt time.Time       `json:"updated_at"`
	UpdatedBy string          `json:"updated_by"`
	// PublishedVersion is the newest published version number, 0 when the
	// page was never published.
	PublishedVersion int64 `json:"published_version"`
}

// PageVersion is an immutable published version of a zone's page. The
// newest version is the live one.
type PageVersion struct {
	ZoneID   string          `json:"zone_id"`
	Version  int64           `json:"version"`
	Document json.RawMessage `json:"document,omitempty"`
	// SourceVersion is the version a rollback republished, 0 for a version
	// published from the draft.
	SourceVersion int64     `json:"source_version"`
	PublishedAt   time.Time `json:"published_at"`
	PublishedBy   string    `json:"published_by"`
	// DraftVersion is the draft version after a publish or rollback, which
	// the next draft save must send. Other reads leave it out.
	DraftVersion int64 `json:"draft_version,omitempty"`
}

// parsePage validates a page document. Problems become INVALID_PAGE with
// one detail per problem, its path under base.
func parsePage(base string, doc []byte) (*page.Document, error) {
	d, problems := page.Validate(doc)
	if len(problems) > 0 {
		return nil, httpx.E(CodeInvalidPage).WithDetails(problemDetails(base, problems)...)
	}
	return d, nil
}

// checkPageTemplates reports templates the document names that do not
// exist, as INVALID_PAGE details under base.
func (s *Store) checkPageTemplates(ctx context.Context, base string, d *page.Document) error {
	known, err := s.existingTemplates(ctx, d.Templates)
	if err != nil {
		return err
	}
	problems := d.CheckTemplates(func(id string) bool { return known[id] })
	if len(problems) > 0 {
		return httpx.E(CodeInvalidPage).WithDetails(problemDetails(base, problems)...)
	}
	return nil
}

// renderPage renders doc for ch and lang at now, with the published
// services, items and templates it binds, the bindings of those templates
// included.
func (s *Store) renderPage(ctx context.Context, doc []byte, ch Channel, lang string, now time.Time) (*page.Rendered, error) {
	d, problems := page.Validate(doc)
	if len(problems) > 0 {
		// Documents are validated when saved, so this means a stored page no
		// longer passes a stricter validator.
		return nil, fmt.Errorf("stored page document is invalid: %s", problems[0])
	}
	refs := d.References()

	in := page.RenderInput{
		Channel:  page.Channel(ch),
		Lang:     lang,
		Now:      now,
		Services: map[string]page.ServiceCard{},
		Items:    map[string]page.ItemCard{},
	}
	var err error
	if in.Templates, err = s.templateInputs(ctx, refs.Templates); err != nil {
		return nil, err
	}
	serviceIDs, itemIDs := refs.Services, refs.Items
	for _, t := range in.Templates {
		tr := t.Template.References()
		serviceIDs = append(serviceIDs, tr.Services...)
		itemIDs = append(itemIDs, tr.Items...)
	}

	services, err := s.publishedServices(ctx, sortedUnique(serviceIDs))
	if err != nil {
		return nil, err
	}
	for _, v := range services {
		in.Services[v.ID] = serviceCard(v)
	}
	items, err := s.publishedItems(ctx, sortedUnique(itemIDs))
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		in.Items[it.ID] = page.ItemCard{ID: it.ID, Name: pageText(it.Name), Summary: pageText(it.Summary)}
	}

	out, err := page.Render(d, in)
	if err != nil {
		return nil, fmt.Errorf("render page: %w", err)
	}
	return out, nil
}

// sortedUnique returns ids sorted, without duplicates.
func sortedUnique(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func (s *Store) templateInputs(ctx context.Context, ids []string) ([]page.TemplateInput, error) {
	templates, err := s.PublishedTemplates(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]page.TemplateInput, 0, len(templates))
	for _, t := range templates {
		parsed, problems := page.ValidateTemplate(t.Body)
		if len(problems) > 0 {
			return nil, fmt.Errorf("stored template %q is invalid: %s", t.ID, problems[0])
		}
		out = append(out, page.TemplateInput{ID: t.ID, StartAt: t.StartAt, EndAt: t.EndAt, Template: parsed})
	}
	return out, nil
}

func serviceCard(v Service) page.ServiceCard {
	channels := make([]page.Channel, len(v.Channels))
	for i, ch := range v.Channels {
		channels[i] = page.Channel(ch)
	}
	return page.ServiceCard{
		ID: v.ID, Type: string(v.Type), Name: pageText(v.Name), Icon: v.Icon, Badge: string(v.Badge),
		URL: v.URL, Endpoint: v.Endpoint, Channels: channels, LoginRequired: v.LoginRequired,
		Licences: v.Licences,
	}
}

func pageText(t Text) page.Text {
	return page.Text{ZH: t.ZH, EN: t.EN}
}

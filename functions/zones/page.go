package zones

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

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

// checkPageTemplates returns INVALID_PAGE with an unknown_template detail,
// its path under base, for each template that the page document doc names
// and that does not exist. Saving, publishing and rolling back call it in
// the transaction that writes the page. It locks no template, because a
// delete that commits meanwhile leaves the state that a delete just after
// the write leaves, and deleting a named template is allowed. A template
// in any state passes. Public reads and previews apply only published
// templates, so a page renders without a template until it is published,
// and again once it is unpublished or deleted.
func checkPageTemplates(ctx context.Context, db bun.IDB, base string, doc []byte) error {
	ids, err := documentTemplates(doc)
	if err != nil {
		return err
	}
	problems, err := unknownTemplates(ctx, db, ids)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return httpx.E(CodeInvalidPage).WithDetails(problemDetails(base, problems)...)
	}
	return nil
}

// unknownTemplates returns an unknown_template problem for each of ids that
// names no template.
func unknownTemplates(ctx context.Context, db bun.IDB, ids []string) ([]page.Problem, error) {
	known, err := existingTemplates(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	d := page.Document{Templates: ids}
	return d.CheckTemplates(func(id string) bool { return known[id] }), nil
}

// documentTemplates returns the template ids under the templates key of the
// page document doc. It matches the key exactly, whereas decoding into a
// struct would also take "Templates". It fails unless doc is an object
// whose templates value, if any, is a list of strings.
func documentTemplates(doc []byte) ([]string, error) {
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(doc, &envelope); err != nil {
		return nil, fmt.Errorf("parse page document: %w", err)
	}
	raw, ok := envelope["templates"]
	if !ok {
		return nil, nil
	}
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, fmt.Errorf("parse templates of page document: %w", err)
	}
	return ids, nil
}

// validatePageSave validates a page document that a request saves.
// Problems become INVALID_PAGE with one detail per problem, its path under
// base. When the document has problems, the response also lists the
// templates it names that do not exist, unless the problems make that list
// unreliable. A valid document gets its template check from SavePageDraft.
func (s *Store) validatePageSave(ctx context.Context, base string, doc []byte) error {
	_, problems := page.Validate(doc)
	if len(problems) == 0 {
		return nil
	}
	if templatesReadable(problems) {
		if ids, err := documentTemplates(doc); err == nil {
			unknown, err := unknownTemplates(ctx, s.db, ids)
			if err != nil {
				return err
			}
			problems = append(problems, unknown...)
		}
	}
	return httpx.E(CodeInvalidPage).WithDetails(problemDetails(base, problems)...)
}

// templatesReadable reports whether the templates list of a document with
// problems can be checked, which it can unless a problem concerns the list
// or the whole document. The too_many_problems entry that ends a full list
// also has the path of the whole document.
func templatesReadable(problems []page.Problem) bool {
	for _, p := range problems {
		if p.Path == "" || p.Path == "/templates" || strings.HasPrefix(p.Path, "/templates/") {
			return false
		}
	}
	return true
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
	serviceIDs, itemIDs, pageIDs := refs.Services, refs.Items, refs.Pages
	for _, t := range in.Templates {
		tr := t.Template.References()
		serviceIDs = append(serviceIDs, tr.Services...)
		itemIDs = append(itemIDs, tr.Items...)
		pageIDs = append(pageIDs, tr.Pages...)
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

	if in.Pages, err = s.linkablePages(ctx, sortedUnique(pageIDs), ch); err != nil {
		return nil, err
	}

	out, err := page.Render(d, in)
	if err != nil {
		return nil, fmt.Errorf("render page: %w", err)
	}
	return out, nil
}

// linkablePages returns the zones among ids whose pages a link may open on
// ch: those a public read of the page serves, because they are published,
// shown on ch and have a published page.
func (s *Store) linkablePages(ctx context.Context, ids []string, ch Channel) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []zoneRow
	err := s.db.NewSelect().Model(&rows).
		Where("z.status = ?", StatusPublished).
		Where("z.id IN (?)", bun.List(ids)).
		Where("EXISTS (SELECT 1 FROM zone_page_versions AS pv WHERE pv.zone_id = z.id)").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load linked zones: %w", err)
	}
	for _, z := range rows {
		if availableOn(z.Channels, ch) {
			out[z.ID] = true
		}
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

package zones

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/httpx"
)

type templateRow struct {
	bun.BaseModel `bun:"table:zone_templates,alias:t"`

	ID      string          `bun:"id,pk"`
	Theme   string          `bun:"theme"`
	Name    Text            `bun:"name"`
	StartAt *time.Time      `bun:"start_at"`
	EndAt   *time.Time      `bun:"end_at"`
	Body    json.RawMessage `bun:"body"`
	rowMeta
}

func newTemplateRow(t Template) *templateRow {
	return &templateRow{
		ID: t.ID, Theme: t.Theme, Name: t.Name,
		StartAt: utcPtr(t.StartAt), EndAt: utcPtr(t.EndAt), Body: t.Body,
	}
}

func (r *templateRow) template() Template {
	return Template{
		ID: r.ID, Theme: r.Theme, Name: r.Name, StartAt: utcPtr(r.StartAt), EndAt: utcPtr(r.EndAt),
		Body: r.Body, Status: r.Status, Version: r.Version,
		Created: r.CreatedAt.UTC(), Updated: r.UpdatedAt.UTC(),
	}
}

// utcPtr returns t in UTC at microsecond precision, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

var templateKind = &entityKind[templateRow]{
	name:     EntityTemplate,
	notFound: CodeTemplateNotFound,
	view: func(_ context.Context, _ bun.IDB, r *templateRow) (any, error) {
		return r.template(), nil
	},
}

// TemplateFilter selects templates. Empty fields match everything.
type TemplateFilter struct {
	Status Status
	Theme  string
}

// ListTemplates returns the templates matching f ordered by id, and the
// number of matching templates.
func (s *Store) ListTemplates(ctx context.Context, f TemplateFilter, p Paging) ([]Template, int, error) {
	var rows []templateRow
	q := s.db.NewSelect().Model(&rows)
	q = whereStatus(q, "t.status", f.Status)
	if f.Theme != "" {
		q = q.Where("t.theme = ?", f.Theme)
	}
	total, err := scanPage(ctx, q.Order("t.id"), p)
	if err != nil {
		return nil, 0, fmt.Errorf("list templates: %w", err)
	}
	out := make([]Template, len(rows))
	for i := range rows {
		out[i] = rows[i].template()
	}
	return out, total, nil
}

// PublishedTemplates returns the published templates with the given ids.
func (s *Store) PublishedTemplates(ctx context.Context, ids []string) ([]Template, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []templateRow
	err := s.db.NewSelect().Model(&rows).Where("t.status = ?", StatusPublished).
		Where("t.id IN (?)", bun.List(ids)).Order("t.id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("load templates: %w", err)
	}
	out := make([]Template, len(rows))
	for i := range rows {
		out[i] = rows[i].template()
	}
	return out, nil
}

// GetTemplate returns the template with id, in any state.
func (s *Store) GetTemplate(ctx context.Context, id string) (Template, error) {
	r, err := loadRow[templateRow](ctx, s.db, templateKind, id)
	if err != nil {
		return Template{}, err
	}
	return r.template(), nil
}

// CreateTemplate inserts t as a draft.
func (s *Store) CreateTemplate(ctx context.Context, actor string, t Template) (Template, error) {
	r := newTemplateRow(t)
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		found, err := exists[templateRow](ctx, tx, t.ID)
		if err != nil {
			return fmt.Errorf("check template %q: %w", t.ID, err)
		}
		if found {
			return httpx.E(CodeTemplateExists, t.ID)
		}

		now := s.timestamp()
		r.rowMeta = rowMeta{Status: StatusDraft, Version: 1, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			if isUniqueViolation(err) {
				return httpx.E(CodeTemplateExists, t.ID) // a concurrent create won
			}
			return fmt.Errorf("insert template %q: %w", t.ID, err)
		}
		return s.logOp(ctx, tx, actor, ActionCreate, EntityTemplate, t.ID, nil, r.template())
	})
	if err != nil {
		return Template{}, err
	}
	return r.template(), nil
}

// UpdateTemplate replaces the editable fields of the template t.ID.
// t.Version is the version the caller read.
func (s *Store) UpdateTemplate(ctx context.Context, actor string, t Template) (Template, error) {
	var out Template
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		old, err := loadRow[templateRow](ctx, tx, templateKind, t.ID)
		if err != nil {
			return err
		}
		if err := checkVersion(old.Version, t.Version); err != nil {
			return err
		}

		r := newTemplateRow(t)
		r.rowMeta = old.rowMeta
		r.Version = old.Version + 1
		r.UpdatedAt = s.timestamp()
		if err := updateRow[templateRow](ctx, tx, r, old.Version); err != nil {
			return err
		}
		out = r.template()
		return s.logOp(ctx, tx, actor, ActionUpdate, EntityTemplate, t.ID, old.template(), out)
	})
	return out, err
}

// SetTemplateStatus publishes or unpublishes the template id.
func (s *Store) SetTemplateStatus(ctx context.Context, actor, id string, version int64, publish bool) (Template, error) {
	r, err := setStatus[templateRow](ctx, s, templateKind, actor, id, version, publish)
	if err != nil {
		return Template{}, err
	}
	return r.template(), nil
}

// DeleteTemplate deletes a template that is not published. Published page
// versions that still name it render without it. A draft or version that
// names it can no longer be saved, published or rolled back to, until the
// name is removed or a template with the id is created again (see
// checkPageTemplates).
func (s *Store) DeleteTemplate(ctx context.Context, actor, id string, version int64) error {
	return deleteRow[templateRow](ctx, s, templateKind, actor, id, version)
}

// existingTemplates returns the subset of ids that name a template in any
// state.
func existingTemplates(ctx context.Context, db bun.IDB, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	var found []string
	if err := db.NewSelect().Model((*templateRow)(nil)).Column("id").Where("id IN (?)", bun.List(ids)).Scan(ctx, &found); err != nil {
		return nil, fmt.Errorf("check templates: %w", err)
	}
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

package zones

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/httpx"
)

type pageRow struct {
	bun.BaseModel `bun:"table:zone_pages,alias:p"`

	ZoneID    string          `bun:"zone_id,pk"`
	Document  json.RawMessage `bun:"document"`
	Version   int64           `bun:"version"`
	UpdatedAt time.Time       `bun:"updated_at"`
	UpdatedBy string          `bun:"updated_by"`
}

type pageVersionRow struct {
	bun.BaseModel `bun:"table:zone_page_versions,alias:pv"`

	ZoneID        string          `bun:"zone_id,pk"`
	Version       int64           `bun:"version,pk"`
	Document      json.RawMessage `bun:"document"`
	SourceVersion int64           `bun:"source_version"`
	PublishedAt   time.Time       `bun:"published_at"`
	PublishedBy   string          `bun:"published_by"`
}

func (r *pageRow) draft(published int64) PageDraft {
	return PageDraft{
		ZoneID: r.ZoneID, Document: r.Document, Version: r.Version,
		UpdatedAt: r.UpdatedAt.UTC(), UpdatedBy: r.UpdatedBy, PublishedVersion: published,
	}
}

func (r *pageVersionRow) pageVersion() PageVersion {
	return PageVersion{
		ZoneID: r.ZoneID, Version: r.Version, Document: r.Document, SourceVersion: r.SourceVersion,
		PublishedAt: r.PublishedAt.UTC(), PublishedBy: r.PublishedBy,
	}
}

// pageLogView is the operation-log value of a draft page.
type pageLogView struct {
	Version  int64           `json:"version"`
	Document json.RawMessage `json:"document"`
}

// GetPageDraft returns the draft page of the zone.
func (s *Store) GetPageDraft(ctx context.Context, zoneID string) (PageDraft, error) {
	if _, err := loadRow[zoneRow](ctx, s.db, zoneKind, zoneID); err != nil {
		return PageDraft{}, err
	}
	r, err := loadDraft(ctx, s.db, zoneID)
	if err != nil {
		return PageDraft{}, err
	}
	if r == nil {
		return PageDraft{}, httpx.E(CodePageNotFound, zoneID)
	}
	published, err := latestPageVersion(ctx, s.db, zoneID)
	if err != nil {
		return PageDraft{}, err
	}
	return r.draft(published), nil
}

// loadDraft returns the draft row of the zone, or nil when it has none.
func loadDraft(ctx context.Context, db bun.IDB, zoneID string) (*pageRow, error) {
	r := new(pageRow)
	err := db.NewSelect().Model(r).Where("zone_id = ?", zoneID).Scan(ctx)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load page draft of zone %q: %w", zoneID, err)
	}
	return r, nil
}

// latestPageVersion returns the newest published version number, or 0.
func latestPageVersion(ctx context.Context, db bun.IDB, zoneID string) (int64, error) {
	var v int64
	err := db.NewSelect().Model((*pageVersionRow)(nil)).ColumnExpr("COALESCE(MAX(version), 0)").
		Where("zone_id = ?", zoneID).Scan(ctx, &v)
	if err != nil {
		return 0, fmt.Errorf("find latest page version of zone %q: %w", zoneID, err)
	}
	return v, nil
}

// SavePageDraft stores doc, already validated, as the zone's draft page,
// after checking that the templates doc names exist. version is the draft
// version the caller read, 0 when the zone has no draft yet.
func (s *Store) SavePageDraft(ctx context.Context, actor, zoneID string, doc json.RawMessage, version int64) (PageDraft, error) {
	var out PageDraft
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := lockRow[zoneRow](ctx, tx, zoneKind, zoneID); err != nil {
			return err
		}
		if err := checkPageTemplates(ctx, tx, "/document", doc); err != nil {
			return err
		}
		old, err := loadDraft(ctx, tx, zoneID)
		if err != nil {
			return err
		}
		r, before, err := s.putDraft(ctx, tx, actor, zoneID, doc, old, version)
		if err != nil {
			return err
		}
		published, err := latestPageVersion(ctx, tx, zoneID)
		if err != nil {
			return err
		}
		out = r.draft(published)
		return s.logOp(ctx, tx, actor, ActionPageSave, EntityPage, zoneID, before,
			pageLogView{Version: r.Version, Document: r.Document})
	})
	return out, err
}

// putDraft inserts or updates the draft row, checking version against old.
// It returns the new row and the log view of the old one (nil when none).
func (s *Store) putDraft(ctx context.Context, tx bun.Tx, actor, zoneID string, doc json.RawMessage, old *pageRow, version int64) (*pageRow, any, error) {
	r := &pageRow{ZoneID: zoneID, Document: doc, UpdatedAt: s.timestamp(), UpdatedBy: actor}
	if old == nil {
		if err := checkVersion(0, version); err != nil {
			return nil, nil, err
		}
		r.Version = 1
		if _, err := tx.NewInsert().Model(r).Exec(ctx); err != nil {
			return nil, nil, fmt.Errorf("insert page draft of zone %q: %w", zoneID, err)
		}
		return r, nil, nil
	}

	if err := checkVersion(old.Version, version); err != nil {
		return nil, nil, err
	}
	r.Version = old.Version + 1
	res, err := tx.NewUpdate().Model(r).WherePK().Where("version = ?", old.Version).Exec(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("update page draft of zone %q: %w", zoneID, err)
	}
	if err := checkUpdated(res, old.Version); err != nil {
		return nil, nil, err
	}
	return r, pageLogView{Version: old.Version, Document: old.Document}, nil
}

// PublishPage publishes the zone's draft as a new immutable version.
// draftVersion is the draft version the caller read. Publishing consumes
// it: the draft version goes up by one, with the document unchanged, so
// repeating the request gets VERSION_CONFLICT instead of publishing a second
// identical version. A draft that names a template that no longer exists
// gets INVALID_PAGE. The result carries the new draft version.
func (s *Store) PublishPage(ctx context.Context, actor, zoneID string, draftVersion int64) (PageVersion, error) {
	var out PageVersion
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		// The zone lock serialises the page writes of one zone, so version
		// numbers taken from MAX(version) never collide.
		if _, err := lockRow[zoneRow](ctx, tx, zoneKind, zoneID); err != nil {
			return err
		}
		draft, err := loadDraft(ctx, tx, zoneID)
		if err != nil {
			return err
		}
		if draft == nil {
			return httpx.E(CodePageNotFound, zoneID)
		}
		if err := checkVersion(draft.Version, draftVersion); err != nil {
			return err
		}
		if err := checkPageTemplates(ctx, tx, "/document", draft.Document); err != nil {
			return err
		}

		v, err := s.insertPageVersion(ctx, tx, actor, zoneID, draft.Document, 0)
		if err != nil {
			return err
		}
		res, err := tx.NewUpdate().Model((*pageRow)(nil)).Set("version = version + 1").
			Where("zone_id = ?", zoneID).Where("version = ?", draft.Version).Exec(ctx)
		if err != nil {
			return fmt.Errorf("bump page draft of zone %q: %w", zoneID, err)
		}
		if err := checkUpdated(res, draft.Version); err != nil {
			return err
		}

		out = v.pageVersion()
		out.DraftVersion = draft.Version + 1
		return s.logOp(ctx, tx, actor, ActionPagePublish, EntityPage, zoneID,
			pageLogView{Version: draft.Version, Document: draft.Document}, out)
	})
	return out, err
}

// RollbackPage republishes the published version target as a new version
// and makes its document the draft, so a later publish does not bring back
// the rolled-back content. draftVersion is the draft version the caller
// read: the rollback replaces the draft, so it fails with VERSION_CONFLICT
// rather than overwrite edits the caller has not seen. A target that names a
// template that no longer exists gets INVALID_PAGE. The operation log keeps
// the replaced draft, and the result carries the new draft version.
func (s *Store) RollbackPage(ctx context.Context, actor, zoneID string, draftVersion, target int64) (PageVersion, error) {
	var out PageVersion
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := lockRow[zoneRow](ctx, tx, zoneKind, zoneID); err != nil {
			return err
		}
		old, err := loadDraft(ctx, tx, zoneID)
		if err != nil {
			return err
		}
		if old == nil {
			return httpx.E(CodePageNotFound, zoneID)
		}
		if err := checkVersion(old.Version, draftVersion); err != nil {
			return err
		}
		src, err := loadPageVersion(ctx, tx, zoneID, target)
		if err != nil {
			return err
		}
		if err := checkPageTemplates(ctx, tx, "/document", src.Document); err != nil {
			return err
		}

		v, err := s.insertPageVersion(ctx, tx, actor, zoneID, src.Document, target)
		if err != nil {
			return err
		}
		draft, before, err := s.putDraft(ctx, tx, actor, zoneID, src.Document, old, draftVersion)
		if err != nil {
			return err
		}
		out = v.pageVersion()
		out.DraftVersion = draft.Version
		return s.logOp(ctx, tx, actor, ActionPageRollback, EntityPage, zoneID, before, out)
	})
	return out, err
}

func (s *Store) insertPageVersion(ctx context.Context, tx bun.Tx, actor, zoneID string, doc json.RawMessage, source int64) (*pageVersionRow, error) {
	latest, err := latestPageVersion(ctx, tx, zoneID)
	if err != nil {
		return nil, err
	}
	v := &pageVersionRow{
		ZoneID: zoneID, Version: latest + 1, Document: doc, SourceVersion: source,
		PublishedAt: s.timestamp(), PublishedBy: actor,
	}
	if _, err := tx.NewInsert().Model(v).Exec(ctx); err != nil {
		return nil, fmt.Errorf("insert page version %d of zone %q: %w", v.Version, zoneID, err)
	}
	return v, nil
}

func loadPageVersion(ctx context.Context, db bun.IDB, zoneID string, version int64) (*pageVersionRow, error) {
	r := new(pageVersionRow)
	err := db.NewSelect().Model(r).Where("zone_id = ?", zoneID).Where("version = ?", version).Scan(ctx)
	if isNoRows(err) {
		return nil, httpx.E(CodePageVersionNotFound, zoneID, strconv.FormatInt(version, 10))
	}
	if err != nil {
		return nil, fmt.Errorf("load page version %d of zone %q: %w", version, zoneID, err)
	}
	return r, nil
}

// GetPageVersion returns one published version with its document.
func (s *Store) GetPageVersion(ctx context.Context, zoneID string, version int64) (PageVersion, error) {
	if _, err := loadRow[zoneRow](ctx, s.db, zoneKind, zoneID); err != nil {
		return PageVersion{}, err
	}
	r, err := loadPageVersion(ctx, s.db, zoneID, version)
	if err != nil {
		return PageVersion{}, err
	}
	return r.pageVersion(), nil
}

// LivePage returns the newest published version of the zone's page: the
// version that public reads render.
func (s *Store) LivePage(ctx context.Context, zoneID string) (PageVersion, error) {
	r := new(pageVersionRow)
	err := s.db.NewSelect().Model(r).Where("zone_id = ?", zoneID).OrderExpr("version DESC").Limit(1).Scan(ctx)
	if isNoRows(err) {
		return PageVersion{}, httpx.E(CodePageNotFound, zoneID)
	}
	if err != nil {
		return PageVersion{}, fmt.Errorf("load live page of zone %q: %w", zoneID, err)
	}
	return r.pageVersion(), nil
}

// ListPageVersions returns the published versions of the zone's page,
// newest first, without their documents, and the number of versions.
func (s *Store) ListPageVersions(ctx context.Context, zoneID string, p Paging) ([]PageVersion, int, error) {
	if _, err := loadRow[zoneRow](ctx, s.db, zoneKind, zoneID); err != nil {
		return nil, 0, err
	}
	var rows []pageVersionRow
	q := s.db.NewSelect().Model(&rows).
		Column("zone_id", "version", "source_version", "published_at", "published_by").
		Where("zone_id = ?", zoneID).OrderExpr("version DESC")
	total, err := scanPage(ctx, q, p)
	if err != nil {
		return nil, 0, fmt.Errorf("list page versions of zone %q: %w", zoneID, err)
	}
	out := make([]PageVersion, len(rows))
	for i := range rows {
		out[i] = rows[i].pageVersion()
	}
	return out, total, nil
}

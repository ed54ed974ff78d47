package zones

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/store"
)

// rowMeta contains the columns that zones, services, items and templates share.
// Row types embed it, so the generic writes below work on all four.
type rowMeta struct {
	Status    Status    `bun:"status"`
	Version   int64     `bun:"version"`
	CreatedAt time.Time `bun:"created_at"`
	UpdatedAt time.Time `bun:"updated_at"`
}

func (m *rowMeta) meta() *rowMeta { return m }

// rowPtr is a pointer to a row type that embeds rowMeta.
type rowPtr[R any] interface {
	*R
	meta() *rowMeta
}

// entityKind describes one entity type for the generic writes.
type entityKind[R any] struct {
	// name is the entity type in the operation log.
	name     string
	notFound httpx.Code
	// view returns the value recorded in the operation log for a row.
	view func(ctx context.Context, db bun.IDB, r *R) (any, error)
	// beforeDelete checks that nothing still refers to the row.
	beforeDelete func(ctx context.Context, tx bun.Tx, r *R) error
	// lockBefore, when set, locks the rows that must be locked before a row
	// of this kind, so that writers take locks in one order: zones before
	// services.
	lockBefore func(ctx context.Context, tx bun.Tx, id string) error
	// onDelete, when set, runs just before the row is deleted. It bumps the
	// versions of the rows whose link lists lose the row.
	onDelete func(ctx context.Context, s *Store, tx bun.Tx, r *R) error
}

// loadRow reads the row with id, or returns the kind's not-found error.
func loadRow[R any, P rowPtr[R]](ctx context.Context, db bun.IDB, kind *entityKind[R], id string) (P, error) {
	r := P(new(R))
	err := db.NewSelect().Model(r).Where("id = ?", id).Scan(ctx)
	if isNoRows(err) {
		return nil, httpx.E(kind.notFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s %q: %w", kind.name, id, err)
	}
	return r, nil
}

// lockRow is loadRow that also locks the row until tx ends, on PostgreSQL
// with FOR NO KEY UPDATE (see lockRows).
func lockRow[R any, P rowPtr[R]](ctx context.Context, tx bun.Tx, kind *entityKind[R], id string) (P, error) {
	r := P(new(R))
	q := tx.NewSelect().Model(r).Where("id = ?", id)
	if store.IsPostgres(tx) {
		q = q.For("NO KEY UPDATE")
	}
	err := q.Scan(ctx)
	if isNoRows(err) {
		return nil, httpx.E(kind.notFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s %q: %w", kind.name, id, err)
	}
	return r, nil
}

// exists reports whether a row with id is in the table of R.
func exists[R any](ctx context.Context, db bun.IDB, id string) (bool, error) {
	return db.NewSelect().Model((*R)(nil)).Where("id = ?", id).Exists(ctx)
}

// updateRow writes r, whose version the caller has already bumped, guarded
// by the version it had when read.
func updateRow[R any, P rowPtr[R]](ctx context.Context, tx bun.Tx, r P, readVersion int64) error {
	res, err := tx.NewUpdate().Model(r).WherePK().Where("version = ?", readVersion).Exec(ctx)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return checkUpdated(res, readVersion)
}

// setStatus publishes or unpublishes a row. Publishing a published row and
// unpublishing a row that is not published change nothing and log nothing.
func setStatus[R any, P rowPtr[R]](ctx context.Context, s *Store, kind *entityKind[R], actor, id string, version int64, publish bool) (P, error) {
	var out P
	err := s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		r, err := loadRow[R, P](ctx, tx, kind, id)
		if err != nil {
			return err
		}
		m := r.meta()
		if err := checkVersion(m.Version, version); err != nil {
			return err
		}

		target, action := StatusPublished, ActionPublish
		if !publish {
			target, action = StatusOffline, ActionUnpublish
		}
		if m.Status == target || (!publish && m.Status != StatusPublished) {
			out = r
			return nil
		}

		before, err := kind.view(ctx, tx, (*R)(r))
		if err != nil {
			return err
		}
		m.Status = target
		m.Version++
		m.UpdatedAt = s.timestamp()
		if err := updateRow[R, P](ctx, tx, r, version); err != nil {
			return err
		}
		after, err := kind.view(ctx, tx, (*R)(r))
		if err != nil {
			return err
		}
		out = r
		return s.logOp(ctx, tx, actor, action, kind.name, id, before, after)
	})
	return out, err
}

// deleteRow deletes a row that is not published, after kind.beforeDelete
// has found no references to it.
func deleteRow[R any, P rowPtr[R]](ctx context.Context, s *Store, kind *entityKind[R], actor, id string, version int64) error {
	return s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		if kind.lockBefore != nil {
			if err := kind.lockBefore(ctx, tx, id); err != nil {
				return err
			}
		}
		r, err := lockRow[R, P](ctx, tx, kind, id)
		if err != nil {
			return err
		}
		m := r.meta()
		if err := checkVersion(m.Version, version); err != nil {
			return err
		}
		if m.Status == StatusPublished {
			return httpx.E(CodeDeletePublished, id)
		}
		if kind.beforeDelete != nil {
			if err := kind.beforeDelete(ctx, tx, (*R)(r)); err != nil {
				return err
			}
		}

		before, err := kind.view(ctx, tx, (*R)(r))
		if err != nil {
			return err
		}
		if kind.onDelete != nil {
			if err := kind.onDelete(ctx, s, tx, (*R)(r)); err != nil {
				return err
			}
		}
		res, err := tx.NewDelete().Model(r).WherePK().Where("version = ?", version).Exec(ctx)
		if err != nil {
			return fmt.Errorf("delete %s %q: %w", kind.name, id, err)
		}
		if err := checkUpdated(res, version); err != nil {
			return err
		}
		return s.logOp(ctx, tx, actor, ActionDelete, kind.name, id, before, nil)
	})
}

func whereStatus(q *bun.SelectQuery, column string, status Status) *bun.SelectQuery {
	if status == "" {
		return q
	}
	return q.Where("? = ?", bun.Ident(column), status)
}

// checkRefs returns INVALID_REQUEST with one detail per id in ids that has
// no row in the table of R. path is the JSON pointer of the id list.
func checkRefs[R any](ctx context.Context, db bun.IDB, path string, ids []string, what Text) error {
	if len(ids) == 0 {
		return nil
	}
	var found []string
	err := db.NewSelect().Model((*R)(nil)).Column("id").Where("id IN (?)", bun.List(ids)).Scan(ctx, &found)
	if err != nil {
		return fmt.Errorf("check %s ids: %w", what.EN, err)
	}
	seen := make(map[string]bool, len(found))
	for _, id := range found {
		seen[id] = true
	}

	var c checker
	for i, id := range ids {
		if !seen[id] {
			c.add(fmt.Sprintf("%s/%d", path, i), "not_found",
				fmt.Sprintf("%s %q 不存在", what.ZH, id),
				fmt.Sprintf("%s %q does not exist", what.EN, id))
		}
	}
	return c.err()
}

func checkServicesExist(ctx context.Context, db bun.IDB, path string, ids []string) error {
	return checkRefs[serviceRow](ctx, db, path, ids, Text{ZH: "服务", EN: "service"})
}

func checkZonesExist(ctx context.Context, db bun.IDB, path string, ids []string) error {
	return checkRefs[zoneRow](ctx, db, path, ids, Text{ZH: "专区", EN: "zone"})
}

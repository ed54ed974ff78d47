package zones

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store"
)

// migrations are the zones schema changes in order. Applied migrations must
// never change: add a new one instead.
//
// The DDL uses only types and clauses that both SQLite and PostgreSQL (and
// the PostgreSQL-compatible domestic databases) accept. JSON values are
// TEXT, timestamps are TIMESTAMP holding UTC, and every table name starts
// with "zone" because functions may share one database.
var migrations = []store.Migration{
	{Name: "0001_create_catalogue", Up: execAll(
		`CREATE TABLE zones (
			id VARCHAR(63) PRIMARY KEY,
			kind VARCHAR(32) NOT NULL,
			status VARCHAR(16) NOT NULL,
			sort_order INTEGER NOT NULL,
			name TEXT NOT NULL,
			description TEXT NOT NULL,
			icon TEXT NOT NULL,
			category TEXT NOT NULL,
			owner TEXT NOT NULL,
			channels TEXT NOT NULL,
			version BIGINT NOT NULL,
			created_at TIMESTAMP NOT NULL,
			updated_at TIMESTAMP NOT NULL
		)`,
		`CREATE INDEX zones_status_order_idx ON zones (status, sort_order)`,

		`CREATE TABLE zone_services (
			id VARCHAR(63) PRIMARY KEY,
			type VARCHAR(8) NOT NULL,
			status VARCHAR(16) NOT NULL,
			name TEXT NOT NULL,
			summary TEXT NOT NULL,
			icon TEXT NOT NULL,
			badge VARCHAR(8) NOT NULL,
			url TEXT NOT NULL,
			endpoint TEXT NOT NULL,
			channels TEXT NOT NULL,
			login_required BOOLEAN NOT NULL,
			licences TEXT NOT NULL,
			prefill TEXT NOT NULL,
			keywords TEXT NOT NULL,
			version BIGINT NOT NULL,
			created_at TIMESTAMP NOT NULL,
			updated_at TIMESTAMP NOT NULL
		)`,

		`CREATE TABLE zone_service_links (
			zone_id VARCHAR(63) NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
			service_id VARCHAR(63) NOT NULL REFERENCES zone_services (id) ON DELETE CASCADE,
			position INTEGER NOT NULL,
			PRIMARY KEY (zone_id, service_id)
		)`,
		`CREATE INDEX zone_service_links_service_idx ON zone_service_links (service_id)`,

		`CREATE TABLE zone_items (
			id VARCHAR(63) PRIMARY KEY,
			zone_id VARCHAR(63) NOT NULL REFERENCES zones (id),
			status VARCHAR(16) NOT NULL,
			name TEXT NOT NULL,
			summary TEXT NOT NULL,
			department TEXT NOT NULL,
			guide TEXT NOT NULL,
			version BIGINT NOT NULL,
			created_at TIMESTAMP NOT NULL,
			updated_at TIMESTAMP NOT NULL
		)`,
		`CREATE INDEX zone_items_zone_idx ON zone_items (zone_id, status)`,

		`CREATE TABLE zone_item_services (
			item_id VARCHAR(63) NOT NULL REFERENCES zone_items (id) ON DELETE CASCADE,
			service_id VARCHAR(63) NOT NULL REFERENCES zone_services (id),
			position INTEGER NOT NULL,
			PRIMARY KEY (item_id, service_id)
		)`,
		`CREATE INDEX zone_item_services_service_idx ON zone_item_services (service_id)`,

		`CREATE TABLE zone_templates (
			id VARCHAR(63) PRIMARY KEY,
			theme VARCHAR(63) NOT NULL,
			status VARCHAR(16) NOT NULL,
			name TEXT NOT NULL,
			start_at TIMESTAMP NULL,
			end_at TIMESTAMP NULL,
			body TEXT NOT NULL,
			version BIGINT NOT NULL,
			created_at TIMESTAMP NOT NULL,
			updated_at TIMESTAMP NOT NULL
		)`,

		`CREATE TABLE zone_pages (
			zone_id VARCHAR(63) PRIMARY KEY REFERENCES zones (id) ON DELETE CASCADE,
			document TEXT NOT NULL,
			version BIGINT NOT NULL,
			updated_at TIMESTAMP NOT NULL,
			updated_by TEXT NOT NULL
		)`,

		`CREATE TABLE zone_page_versions (
			zone_id VARCHAR(63) NOT NULL REFERENCES zones (id) ON DELETE CASCADE,
			version BIGINT NOT NULL,
			document TEXT NOT NULL,
			source_version BIGINT NOT NULL,
			published_at TIMESTAMP NOT NULL,
			published_by TEXT NOT NULL,
			PRIMARY KEY (zone_id, version)
		)`,

		`CREATE TABLE zone_oplog (
			id VARCHAR(36) PRIMARY KEY,
			actor TEXT NOT NULL,
			at TIMESTAMP NOT NULL,
			action VARCHAR(32) NOT NULL,
			entity_type VARCHAR(32) NOT NULL,
			entity_id VARCHAR(63) NOT NULL,
			before_json TEXT NULL,
			after_json TEXT NULL
		)`,
		`CREATE INDEX zone_oplog_entity_idx ON zone_oplog (entity_type, entity_id, at)`,
		`CREATE INDEX zone_oplog_at_idx ON zone_oplog (at)`,

		`CREATE TABLE zone_service_search (
			service_id VARCHAR(63) PRIMARY KEY REFERENCES zone_services (id) ON DELETE CASCADE,
			name TEXT NOT NULL,
			name_en TEXT NOT NULL,
			name_pinyin TEXT NOT NULL,
			name_initials TEXT NOT NULL,
			terms TEXT NOT NULL,
			pinyin TEXT NOT NULL,
			initials TEXT NOT NULL,
			updated_at TIMESTAMP NOT NULL
		)`,
	)},

	// The seed ledger lists the catalogue ids that seeding has handled, so
	// that it never inserts an id twice, even after an operator deleted the
	// entity. Ids from before the ledger existed are in the operation log:
	// recording all of them keeps entities deleted before this migration
	// deleted too.
	{Name: "0002_create_seed_ledger", Up: execAll(
		`CREATE TABLE zone_seed_ledger (
			entity_type VARCHAR(32) NOT NULL,
			entity_id VARCHAR(63) NOT NULL,
			recorded_at TIMESTAMP NOT NULL,
			PRIMARY KEY (entity_type, entity_id)
		)`,
		`INSERT INTO zone_seed_ledger (entity_type, entity_id, recorded_at)
			SELECT entity_type, entity_id, MIN(at) FROM zone_oplog GROUP BY entity_type, entity_id`,
	)},

	// Until this migration the search row of a service contained the names
	// of every zone it was attached to, so search matched the names of draft
	// zones. Zone names now have rows of their own, which a search joins
	// only through zones that are published and shown on its channel. The
	// migration rebuilds the index, which drops zone names from the service
	// rows.
	//
	// NOTE: a replica of an older release that writes a service or a zone
	// while this release rolls out puts zone names back into service rows,
	// draft zones' included. Run POST /admin/search/refresh once the rollout
	// ends; the daily refresh-search-index job repairs them otherwise.
	{Name: "0003_index_zone_names", Up: func(ctx context.Context, tx bun.Tx) error {
		err := execAll(
			`CREATE TABLE zone_name_search (
				zone_id VARCHAR(63) PRIMARY KEY REFERENCES zones (id) ON DELETE CASCADE,
				terms TEXT NOT NULL,
				pinyin TEXT NOT NULL,
				initials TEXT NOT NULL,
				updated_at TIMESTAMP NOT NULL
			)`,
		)(ctx, tx)
		if err != nil {
			return err
		}
		return rebuildSearchIndex(ctx, tx, time.Now().UTC().Truncate(time.Microsecond))
	}},

	// Search terms are now width-folded and lose the white space next to a
	// Han character, as queries do (see normalizeTerm). Rows written before
	// keep full-width characters, as in 新生儿入户（出生登记）, and spaces, as in
	// "etc 办理", which normalised queries no longer match. The migration
	// rebuilds the index in the new form.
	//
	// NOTE: a replica of an older release that writes a service while this
	// release rolls out stores the old form. The daily refresh-search-index
	// job, or POST /admin/search/refresh after the rollout, rewrites it.
	{Name: "0004_normalize_search_terms", Up: func(ctx context.Context, tx bun.Tx) error {
		return rebuildSearchIndex(ctx, tx, time.Now().UTC().Truncate(time.Microsecond))
	}},

	// Pinyin and initials values that start inside a term, at a later
	// syllable, now carry suffixMarker, so that a pinyin query ranks a
	// match inside a term after matches at the start of a term, as a
	// Chinese query does. The migration rebuilds the index in the new form.
	//
	// NOTE: until the rebuild, or on rows that a replica of an older release
	// writes during the rollout, pinyin matches inside a term rank with
	// term-start matches. POST /admin/search/refresh after the rollout
	// rewrites them.
	{Name: "0005_mark_pinyin_suffixes", Up: func(ctx context.Context, tx bun.Tx) error {
		return rebuildSearchIndex(ctx, tx, time.Now().UTC().Truncate(time.Microsecond))
	}},
}

// Migrate brings the zones schema in db to the newest version.
func Migrate(ctx context.Context, db *bun.DB) error {
	return store.Migrate(ctx, db, "zones", migrations)
}

// checkSchema returns an error while db lacks migrations, so a deployment
// that skipped `zones migrate` reports not ready instead of failing every
// request.
func checkSchema(ctx context.Context, db *bun.DB) error {
	if err := db.PingContext(ctx); err != nil {
		return err
	}
	pending, err := store.Pending(ctx, db, "zones", migrations)
	if err != nil {
		return err
	}
	if pending > 0 {
		return fmt.Errorf("zones: %d migrations pending; run `zones migrate`", pending)
	}
	return nil
}

func execAll(statements ...string) func(ctx context.Context, tx bun.Tx) error {
	return func(ctx context.Context, tx bun.Tx) error {
		for i, stmt := range statements {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("statement %d: %w", i+1, err)
			}
		}
		return nil
	}
}

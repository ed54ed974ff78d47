package zones

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
)

type searchRow struct {
	bun.BaseModel `bun:"table:zone_service_search,alias:ss"`

	ServiceID    string    `bun:"service_id,pk"`
	Name         string    `bun:"name"`
	NameEN       string    `bun:"name_en"`
	NamePinyin   string    `bun:"name_pinyin"`
	NameInitials string    `bun:"name_initials"`
	Terms        string    `bun:"terms"`
	Pinyin       string    `bun:"pinyin"`
	Initials     string    `bun:"initials"`
	UpdatedAt    time.Time `bun:"updated_at"`
}

// zoneSearchRow is the search row of one zone. It contains the forms of the
// zone's names, which are search terms of the zone's services while
// citizens can open the zone.
type zoneSearchRow struct {
	bun.BaseModel `bun:"table:zone_name_search,alias:zs"`

	ZoneID    string    `bun:"zone_id,pk"`
	Terms     string    `bun:"terms"`
	Pinyin    string    `bun:"pinyin"`
	Initials  string    `bun:"initials"`
	UpdatedAt time.Time `bun:"updated_at"`
}

// searchColumns and zoneSearchColumns are the columns that the index writes
// besides the keys. Migrations 0003 and 0004 build the index with the
// functions below, so they read and write only columns that exist after
// 0003. A later migration that adds a search column must keep 0003 and 0004
// working.
//
// A change to what the index stores, such as to normalizeTerm or to the
// pinyin forms, needs a migration that rebuilds the index, as 0004 does.
// Rows written before keep the old forms, which new queries may not match.
var (
	searchColumns     = []string{"name", "name_en", "name_pinyin", "name_initials", "terms", "pinyin", "initials", "updated_at"}
	zoneSearchColumns = []string{"terms", "pinyin", "initials", "updated_at"}
)

// refreshSearch recomputes the search rows of the services ids inside tx.
// It upserts, so two transactions that refresh one service never collide
// on its row. The caller should hold the services' locks, so that the last
// writer computes the row from committed data. A service that no longer
// exists has lost its row already, through ON DELETE CASCADE.
func (s *Store) refreshSearch(ctx context.Context, tx bun.IDB, ids ...string) error {
	return indexServices(ctx, tx, s.timestamp(), ids)
}

// refreshZoneSearch recomputes the search rows of the zones ids inside tx,
// like refreshSearch. The caller should hold the zones' locks. A zone's
// row does not depend on its status, its channels or its services, because
// a search checks those when it runs.
func (s *Store) refreshZoneSearch(ctx context.Context, tx bun.IDB, ids ...string) error {
	return indexZones(ctx, tx, s.timestamp(), ids)
}

// indexServices writes the search rows of the services ids, computed from
// their names and keywords.
func indexServices(ctx context.Context, db bun.IDB, now time.Time, ids []string) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return nil
	}
	var services []serviceRow
	err := db.NewSelect().Model(&services).Column("s.id", "s.name", "s.keywords").
		Where("s.id IN (?)", bun.List(ids)).Scan(ctx)
	if err != nil {
		return fmt.Errorf("load services to index: %w", err)
	}
	if len(services) == 0 {
		return nil
	}

	rows := make([]searchRow, len(services))
	for i := range services {
		doc := buildSearchDoc(&services[i])
		rows[i] = searchRow{
			ServiceID: services[i].ID, Name: doc.Name, NameEN: doc.NameEN,
			NamePinyin: doc.NamePinyin, NameInitials: doc.NameInitials,
			Terms: doc.Terms, Pinyin: doc.Pinyin, Initials: doc.Initials, UpdatedAt: now,
		}
	}
	if err := upsert(ctx, db, &rows, "service_id", searchColumns); err != nil {
		return fmt.Errorf("write search rows: %w", err)
	}
	return nil
}

// indexZones writes the search rows of the zones ids, computed from their
// names.
func indexZones(ctx context.Context, db bun.IDB, now time.Time, ids []string) error {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	if len(ids) == 0 {
		return nil
	}
	var zones []zoneRow
	err := db.NewSelect().Model(&zones).Column("z.id", "z.name").Where("z.id IN (?)", bun.List(ids)).Scan(ctx)
	if err != nil {
		return fmt.Errorf("load zones to index: %w", err)
	}
	if len(zones) == 0 {
		return nil
	}

	rows := make([]zoneSearchRow, len(zones))
	for i := range zones {
		forms := buildZoneTerms(zones[i].Name)
		rows[i] = zoneSearchRow{
			ZoneID: zones[i].ID, Terms: forms.Terms, Pinyin: forms.Pinyin, Initials: forms.Initials, UpdatedAt: now,
		}
	}
	if err := upsert(ctx, db, &rows, "zone_id", zoneSearchColumns); err != nil {
		return fmt.Errorf("write zone search rows: %w", err)
	}
	return nil
}

// upsert inserts the rows of model, writing key and columns, and updates
// columns of the rows whose key exists.
func upsert(ctx context.Context, db bun.IDB, model any, key string, columns []string) error {
	q := db.NewInsert().Model(model).Column(append([]string{key}, columns...)...).
		On("CONFLICT (?) DO UPDATE", bun.Ident(key))
	for _, column := range columns {
		q = q.Set("? = EXCLUDED.?", bun.Ident(column), bun.Ident(column))
	}
	_, err := q.Exec(ctx)
	return err
}

// RefreshSearchIndex rebuilds the search rows of every service and zone in
// one transaction, for example after the pinyin library was upgraded.
func (s *Store) RefreshSearchIndex(ctx context.Context) error {
	return s.write(ctx, func(ctx context.Context, tx bun.Tx) error {
		return rebuildSearchIndex(ctx, tx, s.timestamp())
	})
}

// rebuildSearchIndex replaces the search rows of every service and zone in
// db, which should be a transaction.
func rebuildSearchIndex(ctx context.Context, db bun.IDB, now time.Time) error {
	tables := []struct {
		entities string
		rows     any
		model    any
		index    func(context.Context, bun.IDB, time.Time, []string) error
	}{
		{"services", (*searchRow)(nil), (*serviceRow)(nil), indexServices},
		{"zones", (*zoneSearchRow)(nil), (*zoneRow)(nil), indexZones},
	}
	for _, t := range tables {
		// Clearing before listing keeps the row of an entity that another
		// transaction commits in between, because the list then includes it.
		if _, err := db.NewDelete().Model(t.rows).Where("1 = 1").Exec(ctx); err != nil {
			return fmt.Errorf("clear search rows of %s: %w", t.entities, err)
		}
		var ids []string
		if err := db.NewSelect().Model(t.model).Column("id").Scan(ctx, &ids); err != nil {
			return fmt.Errorf("list %s to index: %w", t.entities, err)
		}
		for chunk := range slices.Chunk(ids, 200) {
			if err := t.index(ctx, db, now, chunk); err != nil {
				return err
			}
		}
	}
	return nil
}

// SearchFilter narrows a search. Empty fields match everything.
type SearchFilter struct {
	Channel Channel
	Zone    string
}

// SearchServices returns the published services matching q, best matches
// first, and the number of matches. parseSearchQuery normalises q as
// normalizeTerm normalised the terms, and a query without a letter or digit
// matches nothing. A query matches a service when it occurs in one of its
// terms, or when its letters start the full pinyin or the initials of a
// term at any syllable. The terms of a service are its
// names and keywords, and the names of the attached zones that a citizen
// could open, which are those published and shown on f.Channel. Exact
// matches of the service name (in either language, pinyin or initials)
// rank first, then name prefixes, then term prefixes, then the rest, each
// group by id.
//
// With f.Zone set to a zone that a citizen could not open, nothing matches,
// as for a zone that does not exist. Each service lists only the zones a
// citizen could open.
//
// NOTE: the patterns start with a wildcard, so no index helps and every
// search scans zone_service_search and zone_name_search. The zone names
// cost two uncorrelated subqueries in the search and one in the count,
// not a query per hit. BenchmarkSearch (go test -bench BenchmarkSearch)
// measures 1 to 3 ms a request for the seeded catalogue of 177 services on
// a 2-core machine, on SQLite and on PostgreSQL.
func (s *Store) SearchServices(ctx context.Context, query string, f SearchFilter, p Paging) ([]Service, int, error) {
	sq := parseSearchQuery(query)
	if sq.Text == "" {
		return []Service{}, 0, nil
	}
	contains := "%" + likeEscaper.Replace(sq.Text) + "%"
	prefix := likeEscaper.Replace(sq.Text) + "%"
	termPrefix := "%" + termSeparator + prefix
	compactPrefix := likeEscaper.Replace(sq.Compact) + "%"
	compactTermPrefix := "%" + termSeparator + compactPrefix
	compactSuffixPrefix := "%" + termSeparator + suffixMarker + compactPrefix

	// matches limits q to rows whose term columns, of the table alias,
	// match the query.
	matches := func(q *bun.SelectQuery, alias string) *bun.SelectQuery {
		return q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			q = q.Where(`?.terms LIKE ? ESCAPE '\'`, bun.Ident(alias), contains)
			if sq.Compact != "" {
				for _, pattern := range []string{compactTermPrefix, compactSuffixPrefix} {
					q = q.WhereOr(`?.pinyin LIKE ? ESCAPE '\'`, bun.Ident(alias), pattern).
						WhereOr(`?.initials LIKE ? ESCAPE '\'`, bun.Ident(alias), pattern)
				}
			}
			return q
		})
	}
	// termPrefixMatch is the condition that a term of the alias's row starts
	// with the query. It compares the compact form only for pinyin-like
	// queries. For other queries the compact form is empty and the pinyin
	// comparisons never match.
	termPrefixMatch := func(alias string) (string, []any) {
		a := bun.Ident(alias)
		return `(?.terms LIKE ? ESCAPE '\'
			OR (? <> '' AND (?.pinyin LIKE ? ESCAPE '\' OR ?.initials LIKE ? ESCAPE '\')))`,
			[]any{a, termPrefix, sq.Compact, a, compactTermPrefix, a, compactTermPrefix}
	}

	// zoneHits selects the services attached to an open zone whose names
	// match cond. It compares the names of each zone once, then follows the
	// links of the zones found. Both uses are uncorrelated IN subqueries,
	// which PostgreSQL and SQLite evaluate once per query into a hash or an
	// index.
	zoneHits := func(cond func(*bun.SelectQuery) *bun.SelectQuery) *bun.SelectQuery {
		zones := s.db.NewSelect().TableExpr("zone_name_search AS zs").ColumnExpr("zs.zone_id").
			Join("JOIN zones AS z ON z.id = zs.zone_id")
		zones = cond(whereOpenZone(zones, "z", f.Channel))
		return s.db.NewSelect().TableExpr("zone_service_links AS zl").ColumnExpr("zl.service_id").
			Where("zl.zone_id IN (?)", zones)
	}
	zoneMatches := zoneHits(func(q *bun.SelectQuery) *bun.SelectQuery { return matches(q, "zs") })
	zonePrefix, zonePrefixArgs := termPrefixMatch("zs")
	zonePrefixes := zoneHits(func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where(zonePrefix, zonePrefixArgs...) })

	var rows []serviceRow
	q := s.db.NewSelect().Model(&rows).
		Join("JOIN zone_service_search AS ss ON ss.service_id = s.id").
		Where("s.status = ?", StatusPublished)
	q = whereChannel(q, "s.channels", f.Channel)
	if f.Zone != "" {
		// (zone_id, service_id) is the key of the links, so the joins keep
		// one row per service.
		q = q.Join("JOIN zone_service_links AS fl ON fl.service_id = s.id AND fl.zone_id = ?", f.Zone).
			Join("JOIN zones AS fz ON fz.id = fl.zone_id")
		q = whereOpenZone(q, "fz", f.Channel)
	}
	q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
		return matches(q, "ss").WhereOr("s.id IN (?)", zoneMatches)
	})

	servicePrefix, servicePrefixArgs := termPrefixMatch("ss")
	rankArgs := []any{
		sq.Text, sq.Text, sq.Compact, sq.Compact, sq.Compact,
		prefix, prefix, sq.Compact, compactPrefix, compactPrefix,
	}
	rankArgs = append(rankArgs, servicePrefixArgs...)
	rankArgs = append(rankArgs, zonePrefixes)
	q = q.OrderExpr(`CASE
		WHEN ss.name = ? OR ss.name_en = ? OR (? <> '' AND (ss.name_pinyin = ? OR ss.name_initials = ?)) THEN 0
		WHEN ss.name LIKE ? ESCAPE '\' OR ss.name_en LIKE ? ESCAPE '\'
			OR (? <> '' AND (ss.name_pinyin LIKE ? ESCAPE '\' OR ss.name_initials LIKE ? ESCAPE '\')) THEN 1
		WHEN `+servicePrefix+` OR s.id IN (?) THEN 2
		ELSE 3 END`, rankArgs...,
	).Order("s.id")

	total, err := scanPage(ctx, q, p)
	if err != nil {
		return nil, 0, fmt.Errorf("search services: %w", err)
	}
	out, err := s.withOpenZones(ctx, rows, f.Channel)
	return out, total, err
}

// whereOpenZone limits q to the zones, of the table alias, that a citizen
// could open, which are those published and shown on ch.
func whereOpenZone(q *bun.SelectQuery, alias string, ch Channel) *bun.SelectQuery {
	q = q.Where("?.status = ?", bun.Ident(alias), StatusPublished)
	return whereChannel(q, alias+".channels", ch)
}

// withOpenZones converts rows to services with the ids of the zones a
// citizen could open on ch, in zone display order, in one query.
func (s *Store) withOpenZones(ctx context.Context, rows []serviceRow, ch Channel) ([]Service, error) {
	out := make([]Service, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	var links []struct {
		ZoneID    string `bun:"zone_id"`
		ServiceID string `bun:"service_id"`
	}
	q := s.db.NewSelect().Model((*linkRow)(nil)).Column("l.zone_id", "l.service_id").
		Join("JOIN zones AS z ON z.id = l.zone_id").
		Where("l.service_id IN (?)", bun.List(ids))
	q = whereOpenZone(q, "z", ch)
	if err := q.Order("z.sort_order", "z.id").Scan(ctx, &links); err != nil {
		return nil, fmt.Errorf("list zones of services: %w", err)
	}
	zones := make(map[string][]string, len(rows))
	for _, l := range links {
		zones[l.ServiceID] = append(zones[l.ServiceID], l.ZoneID)
	}
	for i := range rows {
		out[i] = rows[i].service(zones[rows[i].ID])
	}
	return out, nil
}

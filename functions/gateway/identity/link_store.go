package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store"
)

// ErrLinkNotFound is returned by LinkStore.Find for an account without a
// link.
var ErrLinkNotFound = errors.New("identity: account link not found")

// migrationSet names the identity migrations and their bookkeeping tables.
const migrationSet = "identity"

// migrations are the identity schema changes in order. Applied migrations
// must never change: add a new one instead. The DDL stays within what
// SQLite, PostgreSQL and the PostgreSQL-compatible domestic databases
// accept, and timestamps are TIMESTAMP holding UTC.
//
// TODO: platform user IDs are stored in plain text. Encrypt them with SM4
// and look them up through an HMAC-SM3 blind index once shared/store offers
// field encryption.
var migrations = []store.Migration{
	{Name: "0001_create_links", Up: func(ctx context.Context, tx bun.Tx) error {
		for _, stmt := range []string{
			`CREATE TABLE identity_links (
				platform VARCHAR(16) NOT NULL,
				app_id VARCHAR(64) NOT NULL,
				platform_user_id VARCHAR(128) NOT NULL,
				union_id VARCHAR(128) NOT NULL,
				subject VARCHAR(128) NOT NULL,
				created_at TIMESTAMP NOT NULL,
				last_login_at TIMESTAMP NOT NULL,
				PRIMARY KEY (platform, app_id, platform_user_id)
			)`,
			`CREATE INDEX identity_links_union_idx ON identity_links (platform, union_id)`,
			`CREATE INDEX identity_links_subject_idx ON identity_links (subject)`,
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	}},
}

// Migrate brings the identity schema to the newest version.
func Migrate(ctx context.Context, db *bun.DB) error {
	return store.Migrate(ctx, db, migrationSet, migrations)
}

type linkRow struct {
	bun.BaseModel `bun:"table:identity_links,alias:il"`

	Platform       string    `bun:"platform,pk"`
	AppID          string    `bun:"app_id,pk"`
	PlatformUserID string    `bun:"platform_user_id,pk"`
	UnionID        string    `bun:"union_id"`
	Subject        string    `bun:"subject"`
	CreatedAt      time.Time `bun:"created_at"`
	LastLoginAt    time.Time `bun:"last_login_at"`
}

func (r *linkRow) link() *Link {
	return &Link{
		Platform: Platform(r.Platform), AppID: r.AppID, PlatformUserID: r.PlatformUserID,
		UnionID: r.UnionID, Subject: r.Subject,
		CreatedAt: r.CreatedAt.UTC(), LastLoginAt: r.LastLoginAt.UTC(),
	}
}

// LinkStore keeps account links in the database.
type LinkStore struct {
	db  bun.IDB
	now func() time.Time
}

// NewLinkStore returns a LinkStore over db. now defaults to time.Now.
func NewLinkStore(db bun.IDB, now func() time.Time) *LinkStore {
	if now == nil {
		now = time.Now
	}
	return &LinkStore{db: db, now: now}
}

// Find returns the link of an account, or an error wrapping
// ErrLinkNotFound.
func (s *LinkStore) Find(ctx context.Context, platform Platform, appID, platformUserID string) (*Link, error) {
	row, err := s.find(ctx, platform, appID, platformUserID)
	if err != nil {
		return nil, err
	}
	return row.link(), nil
}

// ListBySubject returns every link of subject, oldest first.
func (s *LinkStore) ListBySubject(ctx context.Context, subject string) ([]*Link, error) {
	var rows []linkRow
	err := s.db.NewSelect().Model(&rows).Where("subject = ?", subject).
		OrderExpr("created_at ASC, platform ASC, app_id ASC").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("identity: listing links of a subject: %w", err)
	}
	links := make([]*Link, len(rows))
	for i := range rows {
		links[i] = rows[i].link()
	}
	return links, nil
}

// Resolve returns the link of u's account and records the login, creating
// the link on first login. A new link gets fixedSubject when it is not
// empty, else the subject of an earlier WeChat link with u's unionid, else a
// new random UUID. created reports whether the link is new. Two first logins
// of one account at once end with one link, which both return.
func (s *LinkStore) Resolve(ctx context.Context, u *PlatformUser, fixedSubject string) (link *Link, created bool, err error) {
	now := s.now().UTC().Truncate(time.Microsecond)

	row, err := s.find(ctx, u.Platform, u.AppID, u.UserID)
	switch {
	case err == nil:
		if err := s.touch(ctx, row, u.UnionID, now); err != nil {
			return nil, false, err
		}
		return row.link(), false, nil
	case !errors.Is(err, ErrLinkNotFound):
		return nil, false, err
	}

	subject := fixedSubject
	if subject == "" && u.Platform == PlatformWeChat && u.UnionID != "" {
		if subject, err = s.unionSubject(ctx, u.UnionID); err != nil {
			return nil, false, err
		}
	}
	if subject == "" {
		subject = uuid.NewString()
	}

	row = &linkRow{
		Platform: string(u.Platform), AppID: u.AppID, PlatformUserID: u.UserID,
		UnionID: u.UnionID, Subject: subject, CreatedAt: now, LastLoginAt: now,
	}
	if _, insertErr := s.db.NewInsert().Model(row).Exec(ctx); insertErr != nil {
		// A concurrent first login may have inserted the same key. Detecting
		// that by reading again avoids dialect-specific conflict clauses.
		existing, findErr := s.find(ctx, u.Platform, u.AppID, u.UserID)
		if findErr != nil {
			return nil, false, fmt.Errorf("identity: creating an account link: %w", insertErr)
		}
		return existing.link(), false, nil
	}
	return row.link(), true, nil
}

func (s *LinkStore) find(ctx context.Context, platform Platform, appID, platformUserID string) (*linkRow, error) {
	row := new(linkRow)
	err := s.db.NewSelect().Model(row).
		Where("platform = ? AND app_id = ? AND platform_user_id = ?", string(platform), appID, platformUserID).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s app %q", ErrLinkNotFound, platform, appID)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: finding an account link: %w", err)
	}
	return row, nil
}

// touch records a login on row, and the unionid when the link had none.
func (s *LinkStore) touch(ctx context.Context, row *linkRow, unionID string, now time.Time) error {
	row.LastLoginAt = now
	columns := []string{"last_login_at"}
	if row.UnionID == "" && unionID != "" {
		row.UnionID = unionID
		columns = append(columns, "union_id")
	}
	if _, err := s.db.NewUpdate().Model(row).Column(columns...).WherePK().Exec(ctx); err != nil {
		return fmt.Errorf("identity: recording a login: %w", err)
	}
	return nil
}

// unionSubject returns the subject of the oldest WeChat link with unionID,
// or "" when there is none.
func (s *LinkStore) unionSubject(ctx context.Context, unionID string) (string, error) {
	var subject string
	err := s.db.NewSelect().Model((*linkRow)(nil)).Column("subject").
		Where("platform = ? AND union_id = ?", string(PlatformWeChat), unionID).
		OrderExpr("created_at ASC").Limit(1).Scan(ctx, &subject)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("identity: finding a link by unionid: %w", err)
	}
	return subject, nil
}

package zones

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store/storetest"
)

func TestCheckSchemaNeedsMigrations(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if err := checkSchema(ctx, db); err == nil {
			t.Fatal("checkSchema on an empty database = nil, want a pending-migrations error")
		}
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := checkSchema(ctx, db); err != nil {
			t.Fatalf("checkSchema after Migrate = %v, want nil", err)
		}
	})
}

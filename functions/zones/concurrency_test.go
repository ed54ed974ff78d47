package zones

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store/storetest"
)

// parallelRequests is the number of goroutines the concurrency tests run.
const parallelRequests = 20

// inParallel runs do(i) for i from 0 to parallelRequests-1 in as many
// goroutines, released together, and returns the status codes in order.
func inParallel(do func(i int) int) []int {
	codes := make([]int, parallelRequests)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range parallelRequests {
		wg.Go(func() {
			<-start
			codes[i] = do(i)
		})
	}
	close(start)
	wg.Wait()
	return codes
}

// countCodes returns how often each status code occurs.
func countCodes(codes []int) map[int]int {
	out := map[int]int{}
	for _, c := range codes {
		out[c]++
	}
	return out
}

func TestZoneServiceListVersions(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-a")), http.StatusCreated)
		svc := map[string]any{"id": "svc-a", "type": "h5", "name": map[string]string{"zh": "服务"}, "url": "/h5/svc-a"}
		expectStatus(t, e.admin(http.MethodPost, "/admin/services", svc), http.StatusCreated)

		var list zoneServicesResponse
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/zone-a/services", nil), &list)

		// Another operator attaches svc-a through the service: the zone's
		// list changed, so the first operator's stale write must fail.
		svc["zones"], svc["version"] = []string{"zone-a"}, 1
		var updated Service
		w := e.admin(http.MethodPut, "/admin/services/svc-a", svc)
		expectStatus(t, w, http.StatusOK)
		decodeBody(t, w, &updated)
		expectError(t, e.admin(http.MethodPut, "/admin/zones/zone-a/services",
			map[string]any{"services": []string{}, "version": list.Version}), http.StatusConflict, "VERSION_CONFLICT")

		var after zoneServicesResponse
		decodeBody(t, e.admin(http.MethodGet, "/admin/zones/zone-a/services", nil), &after)
		if after.Version != list.Version+1 || !slices.Equal(after.Services, []string{"svc-a"}) {
			t.Fatalf("zone list = %+v, want svc-a at version %d", after, list.Version+1)
		}

		// The other way round: a zone list write that detaches svc-a bumps
		// the service, so a write of the service read before fails.
		w = e.admin(http.MethodPut, "/admin/zones/zone-a/services", map[string]any{"services": []string{}, "version": after.Version})
		expectStatus(t, w, http.StatusOK)
		expectError(t, e.admin(http.MethodPut, "/admin/services/svc-a", map[string]any{
			"id": "svc-a", "type": "h5", "name": map[string]string{"zh": "服务"}, "url": "/h5/svc-a",
			"zones": []string{"zone-a"}, "version": updated.Version,
		}), http.StatusConflict, "VERSION_CONFLICT")
		var current Service
		decodeBody(t, e.admin(http.MethodGet, "/admin/services/svc-a", nil), &current)
		if current.Version != updated.Version+1 || len(current.Zones) != 0 {
			t.Fatalf("svc-a = version %d zones %v, want version %d with no zones", current.Version, current.Zones, updated.Version+1)
		}

		// A reorder that keeps the same services leaves them alone.
		ctx := context.Background()
		st := e.srv.store
		if _, err := st.CreateService(ctx, "alice", testService("svc-b", "zone-a")); err != nil {
			t.Fatalf("create svc-b: %v", err)
		}
		if _, err := st.CreateService(ctx, "alice", testService("svc-c", "zone-a")); err != nil {
			t.Fatalf("create svc-c: %v", err)
		}
		z, _ := st.GetZone(ctx, "zone-a", false)
		if _, err := st.SetZoneServices(ctx, "alice", "zone-a", z.Version, []string{"svc-c", "svc-b"}); err != nil {
			t.Fatalf("reorder: %v", err)
		}
		b, _ := st.GetService(ctx, "svc-b", false)
		if b.Version != 1 {
			t.Errorf("svc-b version after a reorder = %d, want 1", b.Version)
		}

		// Deleting a service changes its zones' lists, and deleting a zone
		// changes its services' zone lists.
		z, _ = st.GetZone(ctx, "zone-a", false)
		if err := st.DeleteService(ctx, "alice", "svc-b", 1); err != nil {
			t.Fatalf("delete svc-b: %v", err)
		}
		if got, _ := st.GetZone(ctx, "zone-a", false); got.Version != z.Version+1 {
			t.Errorf("zone version after deleting an attached service = %d, want %d", got.Version, z.Version+1)
		}
		z, _ = st.GetZone(ctx, "zone-a", false)
		if err := st.DeleteZone(ctx, "alice", "zone-a", z.Version); err != nil {
			t.Fatalf("delete zone-a: %v", err)
		}
		if got, _ := st.GetService(ctx, "svc-c", false); got.Version != 2 || len(got.Zones) != 0 {
			t.Errorf("svc-c after deleting its zone = version %d zones %v, want version 2 without zones", got.Version, got.Zones)
		}
	})
}

func TestConcurrentDuplicateCreates(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-base")), http.StatusCreated)
		expectStatus(t, e.admin(http.MethodPost, "/admin/services",
			map[string]any{"id": "svc-base", "type": "h5", "name": map[string]string{"zh": "服务"}, "url": "/h5/svc-base"}), http.StatusCreated)

		tests := []struct {
			path, table, code string
			body              map[string]any
		}{
			{"/admin/zones", "zones", "ZONE_ALREADY_EXISTS", zoneBody("zone-dup")},
			{"/admin/services", "zone_services", "SERVICE_ALREADY_EXISTS", map[string]any{
				"id": "svc-dup", "type": "h5", "name": map[string]string{"zh": "服务"}, "url": "/h5/svc-dup", "zones": []string{"zone-base"}}},
			{"/admin/items", "zone_items", "ITEM_ALREADY_EXISTS", map[string]any{
				"id": "item-dup", "zone_id": "zone-base", "name": map[string]string{"zh": "事项"}, "services": []string{"svc-base"}}},
			{"/admin/templates", "zone_templates", "TEMPLATE_ALREADY_EXISTS", map[string]any{
				"id": "tpl-dup", "theme": "holiday", "name": map[string]string{"zh": "假日"},
				"body": map[string]any{"schema_version": 1, "theme": map[string]string{"primary_color": "#112233"}}}},
		}
		for _, tt := range tests {
			before := countRows(t, db, tt.table)
			var mu sync.Mutex
			var errorCodes []string
			codes := inParallel(func(int) int {
				w := e.admin(http.MethodPost, tt.path, tt.body)
				if w.Code == http.StatusConflict {
					var body errorBody
					decodeBody(t, w, &body)
					mu.Lock()
					errorCodes = append(errorCodes, body.Error.Code)
					mu.Unlock()
				}
				return w.Code
			})

			if got := countCodes(codes); got[http.StatusCreated] != 1 || got[http.StatusConflict] != parallelRequests-1 {
				t.Errorf("POST %s x%d: status counts %v, want one 201 and the rest 409", tt.path, parallelRequests, got)
			}
			for _, c := range errorCodes {
				if c != tt.code {
					t.Errorf("POST %s: 409 code %s, want %s", tt.path, c, tt.code)
				}
			}
			if got := countRows(t, db, tt.table); got != before+1 {
				t.Errorf("%s rows = %d, want %d", tt.table, got, before+1)
			}
		}
	})
}

func TestConcurrentLinksGetUniquePositions(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-a")), http.StatusCreated)

		codes := inParallel(func(i int) int {
			id := fmt.Sprintf("svc-%02d", i)
			body := map[string]any{"id": id, "type": "h5", "name": map[string]string{"zh": "服务"}, "url": "/h5/" + id, "zones": []string{"zone-a"}}
			return e.admin(http.MethodPost, "/admin/services", body).Code
		})
		if got := countCodes(codes); got[http.StatusCreated] != parallelRequests {
			t.Fatalf("status counts %v, want %d × 201", got, parallelRequests)
		}

		var positions []int
		err := db.NewSelect().Model((*linkRow)(nil)).Column("position").Where("zone_id = ?", "zone-a").
			Order("position").Scan(context.Background(), &positions)
		if err != nil {
			t.Fatalf("read positions: %v", err)
		}
		want := make([]int, parallelRequests)
		for i := range want {
			want[i] = i + 1
		}
		if !slices.Equal(positions, want) {
			t.Fatalf("positions = %v, want 1 to %d, each once", positions, parallelRequests)
		}
		z, _ := e.srv.store.GetZone(context.Background(), "zone-a", false)
		if z.Version != 1+parallelRequests {
			t.Errorf("zone version = %d, want %d: one bump per attached service", z.Version, 1+parallelRequests)
		}
	})
}

func TestConcurrentPageWrites(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody("zone-a")), http.StatusCreated)
		draftPath := "/admin/zones/zone-a/page"

		// Twenty first saves: one creates the draft, the rest are stale.
		codes := inParallel(func(int) int {
			return e.admin(http.MethodPut, draftPath, map[string]any{"version": 0, "document": json.RawMessage(validPage)}).Code
		})
		if got := countCodes(codes); got[http.StatusOK] != 1 || got[http.StatusConflict] != parallelRequests-1 {
			t.Fatalf("first saves: status counts %v, want one 200 and the rest 409", got)
		}
		expectStatus(t, e.admin(http.MethodPost, draftPath+"/publish", map[string]int{"version": 1}), http.StatusCreated)

		// Twenty workers publish or roll back, each retrying with the fresh
		// draft version after a conflict, until all have succeeded.
		codes = inParallel(func(i int) int {
			for range 200 {
				var d PageDraft
				w := e.admin(http.MethodGet, draftPath, nil)
				if w.Code != http.StatusOK {
					return w.Code
				}
				decodeBody(t, w, &d)
				if i%2 == 0 {
					w = e.admin(http.MethodPost, draftPath+"/publish", map[string]int64{"version": d.Version})
				} else {
					w = e.admin(http.MethodPost, draftPath+"/rollback", map[string]int64{"version": d.Version, "to": 1})
				}
				if w.Code != http.StatusConflict {
					return w.Code
				}
			}
			return http.StatusConflict
		})
		if got := countCodes(codes); got[http.StatusCreated] != parallelRequests {
			t.Fatalf("publishes and rollbacks: status counts %v, want %d × 201", got, parallelRequests)
		}

		var versions []int64
		err := db.NewSelect().Model((*pageVersionRow)(nil)).Column("version").Where("zone_id = ?", "zone-a").
			Order("version").Scan(context.Background(), &versions)
		if err != nil {
			t.Fatalf("read versions: %v", err)
		}
		if len(versions) != parallelRequests+1 || versions[0] != 1 || versions[len(versions)-1] != parallelRequests+1 {
			t.Fatalf("versions = %v, want 1 to %d, each once", versions, parallelRequests+1)
		}
	})
}

// TestConcurrentLinkWrites changes zone lists and service zones from both
// sides at once. Every response must be 200 or 409, and positions must
// stay unique in each zone.
func TestConcurrentLinkWrites(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newTestEnv(t, db)
		zones := []string{"zone-a", "zone-b", "zone-c"}
		for _, z := range zones {
			expectStatus(t, e.admin(http.MethodPost, "/admin/zones", zoneBody(z)), http.StatusCreated)
		}
		services := []string{"svc-1", "svc-2", "svc-3", "svc-4"}
		for _, id := range services {
			body := map[string]any{"id": id, "type": "h5", "name": map[string]string{"zh": "服务"}, "url": "/h5/" + id, "zones": []string{"zone-a"}}
			expectStatus(t, e.admin(http.MethodPost, "/admin/services", body), http.StatusCreated)
		}

		var mu sync.Mutex
		unexpected := map[int]int{}
		codes := inParallel(func(i int) int {
			for attempt := range 50 {
				var w int
				if i%2 == 0 {
					zone := zones[(i/2+attempt)%len(zones)]
					var list zoneServicesResponse
					decodeBody(t, e.admin(http.MethodGet, "/admin/zones/"+zone+"/services", nil), &list)
					ids := slices.Clone(services[:1+(i+attempt)%len(services)])
					slices.Reverse(ids)
					w = e.admin(http.MethodPut, "/admin/zones/"+zone+"/services", map[string]any{"services": ids, "version": list.Version}).Code
				} else {
					id := services[(i/2)%len(services)]
					var v Service
					decodeBody(t, e.admin(http.MethodGet, "/admin/services/"+id, nil), &v)
					v.Zones = []string{zones[(i+attempt)%len(zones)], zones[(i+attempt+1)%len(zones)]}
					w = e.admin(http.MethodPut, "/admin/services/"+id, v).Code
				}
				if w != http.StatusConflict {
					if w != http.StatusOK {
						mu.Lock()
						unexpected[w]++
						mu.Unlock()
					}
					return w
				}
			}
			return http.StatusConflict
		})
		if len(unexpected) > 0 {
			t.Fatalf("unexpected statuses %v among %v; log: %s", unexpected, countCodes(codes), e.logs.String())
		}

		for _, z := range zones {
			var positions []int
			err := db.NewSelect().Model((*linkRow)(nil)).Column("position").Where("zone_id = ?", z).Scan(context.Background(), &positions)
			if err != nil {
				t.Fatalf("read positions: %v", err)
			}
			if len(slices.Compact(slices.Sorted(slices.Values(positions)))) != len(positions) {
				t.Errorf("%s positions = %v, want each once", z, positions)
			}
		}
	})
}

func TestWriteRetriesDeadlocks(t *testing.T) {
	s := newTestStore(t, storetest.OpenSQLite(t))
	ctx := context.Background()

	var runs int
	s.beforeCommit = func(context.Context, bun.Tx) error {
		runs++
		if runs == 1 {
			return &pgconn.PgError{Code: pgDeadlockDetected}
		}
		return nil
	}
	if _, err := s.CreateZone(ctx, "alice", testZone("zone-a")); err != nil {
		t.Fatalf("create after one deadlock: %v", err)
	}
	if runs != 2 {
		t.Fatalf("transaction ran %d times, want 2", runs)
	}

	runs = 0
	s.beforeCommit = func(context.Context, bun.Tx) error {
		runs++
		return &pgconn.PgError{Code: pgSerializationFailure}
	}
	_, err := s.CreateZone(ctx, "alice", testZone("zone-b"))
	if !isRetryable(err) || runs != maxWriteAttempts {
		t.Fatalf("create that always fails = %v after %d runs, want the serialization failure after %d", err, runs, maxWriteAttempts)
	}
	if n := countRows(t, s.db, "zones"); n != 1 {
		t.Fatalf("zones rows = %d, want 1", n)
	}
}

func TestIsUniqueViolation(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		newTestStore(t, db)
		insert := func() error {
			_, err := db.NewInsert().Model(&linkRow{ZoneID: "z", ServiceID: "s", Position: 1}).Exec(ctx)
			return err
		}
		// Link rows need their zone and service.
		meta := rowMeta{Status: StatusDraft, Version: 1, CreatedAt: startTime, UpdatedAt: startTime}
		zone, svc := newZoneRow(testZone("z")), newServiceRow(testService("s"))
		zone.rowMeta, svc.rowMeta = meta, meta
		for _, row := range []any{zone, svc} {
			if _, err := db.NewInsert().Model(row).Exec(ctx); err != nil {
				t.Fatalf("insert %T: %v", row, err)
			}
		}
		if err := insert(); err != nil {
			t.Fatalf("first insert: %v", err)
		}
		if err := insert(); !isUniqueViolation(err) {
			t.Fatalf("second insert error %v is not a unique violation", err)
		}
		if isUniqueViolation(errors.New("unique")) || isUniqueViolation(nil) {
			t.Fatal("isUniqueViolation accepts other errors")
		}
	})
}

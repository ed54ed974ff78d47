package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/gateway/audit"
	"github.com/jingtong/backend/shared/store"
	"github.com/jingtong/backend/shared/store/storetest"
)

var testKey = bytes.Repeat([]byte{0x5a}, 32)

// migrated migrates the audit schema of db or fails the test.
func migrated(t testing.TB, db *bun.DB) *bun.DB {
	t.Helper()
	if err := audit.Migrate(context.Background(), db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// record returns a distinct test record.
func record(i int) audit.Record {
	return audit.Record{
		Subject:   fmt.Sprintf("user-%d", i%17),
		Route:     "zones-admin",
		Method:    "POST",
		Path:      fmt.Sprintf("/api/zones/admin/zones/z%d", i),
		Status:    200 + i%3,
		LatencyMS: int64(i % 50),
		RequestID: fmt.Sprintf("req-%06d", i),
		Time:      time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1500 * time.Microsecond),
	}
}

// appendN appends n records to the chain of replica, one call each.
func appendN(t testing.TB, db *bun.DB, replica string, n int) *audit.Chain {
	t.Helper()
	c, err := audit.NewChain(db, testKey, replica)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := c.Append(context.Background(), record(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	return c
}

// verify runs Verify or fails the test.
func verify(t testing.TB, db *bun.DB) audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), db, testKey)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

// rowID returns the id of the record seq of replica.
func rowID(t testing.TB, db *bun.DB, replica string, seq int) int64 {
	t.Helper()
	var id int64
	if err := db.NewRaw("SELECT id FROM gateway_audit WHERE replica = ? AND seq = ?", replica, seq).Scan(context.Background(), &id); err != nil {
		t.Fatalf("look up seq %d: %v", seq, err)
	}
	return id
}

func TestWriter_concurrentLogsVerify(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		w, err := audit.NewWriter(db, testKey, audit.WriterOptions{Replica: "gw-0", QueueSize: 2000, BatchSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Go(func() {
				if !w.Log(record(i)) {
					t.Errorf("Log(%d) dropped with room in the queue", i)
				}
			})
		}
		wg.Wait()
		if err := w.Close(context.Background()); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if s := w.Stats(); s.Written != 1000 || s.Dropped != 0 || s.Failed != 0 {
			t.Errorf("Stats = %+v, want 1000 written", s)
		}

		rep := verify(t, db)
		if !rep.OK() || rep.Records != 1000 || rep.Replicas != 1 {
			t.Errorf("Verify = %+v, want 1000 records in one intact chain", rep)
		}
	})
}

func TestChain_concurrentAppendsAcrossReplicas(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		var chains []*audit.Chain
		for _, id := range []string{"gw-a", "gw-b"} {
			c, err := audit.NewChain(db, testKey, id)
			if err != nil {
				t.Fatal(err)
			}
			chains = append(chains, c)
		}
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Go(func() {
				if err := chains[i%2].Append(context.Background(), record(i)); err != nil {
					t.Errorf("Append %d: %v", i, err)
				}
			})
		}
		wg.Wait()

		rep := verify(t, db)
		if !rep.OK() || rep.Records != 1000 || rep.Replicas != 2 {
			t.Errorf("Verify = %+v, want 1000 records in two intact chains", rep)
		}
		if seq, _ := chains[0].Tip(); seq != 500 {
			t.Errorf("tip of gw-a = %d, want 500", seq)
		}
	})
}

func TestChain_sharedReplicaIDStaysLinear(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		// Two processes that were wrongly given one replica id.
		first, _ := audit.NewChain(db, testKey, "gw-0")
		second, _ := audit.NewChain(db, testKey, "gw-0")
		for i := range 10 {
			c := first
			if i%2 == 1 {
				c = second
			}
			if err := c.Append(context.Background(), record(i), record(i+100)); err != nil {
				t.Fatalf("Append %d: %v", i, err)
			}
		}
		rep := verify(t, db)
		if !rep.OK() || rep.Records != 20 {
			t.Errorf("Verify = %+v, want 20 records in one intact chain", rep)
		}
	})
}

func TestVerify_reportsUpdatedRecord(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		appendN(t, db, "gw-0", 50)
		appendN(t, db, "gw-1", 5)
		id := rowID(t, db, "gw-0", 17)

		if _, err := db.ExecContext(context.Background(), "UPDATE gateway_audit SET status = 403 WHERE id = ?", id); err != nil {
			t.Fatal(err)
		}
		rep := verify(t, db)
		if len(rep.Broken) != 1 {
			t.Fatalf("Broken = %+v, want exactly one break", rep.Broken)
		}
		b := rep.Broken[0]
		if b.Replica != "gw-0" || b.ID != id || b.Seq != 17 || !strings.Contains(b.Reason, "mac mismatch") {
			t.Errorf("break = %+v, want record id %d (seq 17) with a mac mismatch", b, id)
		}
		if b.Expected == b.Stored || len(b.Expected) != 64 || len(b.Stored) != 64 {
			t.Errorf("expected %q and stored %q macs, want two different 64-digit values", b.Expected, b.Stored)
		}
		if rep.Records != 16+5 {
			t.Errorf("Records = %d, want 21 verified before the break", rep.Records)
		}
	})
}

func TestVerify_reportsDeletedRecord(t *testing.T) {
	tests := []struct {
		name      string
		deleteSeq int
		reportSeq int
		reason    string
	}{
		{name: "middle", deleteSeq: 10, reportSeq: 11, reason: "seq 10 to 10 are missing"},
		{name: "first", deleteSeq: 1, reportSeq: 2, reason: "seq 1 to 1 are missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
				migrated(t, db)
				appendN(t, db, "gw-0", 30)
				victim := rowID(t, db, "gw-0", tt.deleteSeq)
				reported := rowID(t, db, "gw-0", tt.reportSeq)
				if _, err := db.ExecContext(context.Background(), "DELETE FROM gateway_audit WHERE id = ?", victim); err != nil {
					t.Fatal(err)
				}
				rep := verify(t, db)
				if len(rep.Broken) != 1 {
					t.Fatalf("Broken = %+v, want exactly one break", rep.Broken)
				}
				b := rep.Broken[0]
				if b.ID != reported || b.Seq != int64(tt.reportSeq) || !strings.Contains(b.Reason, tt.reason) {
					t.Errorf("break = %+v, want record id %d (seq %d) reporting %q", b, reported, tt.reportSeq, tt.reason)
				}
			})
		})
	}
}

func TestVerify_reportsChangedPrevMAC(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		appendN(t, db, "gw-0", 5)
		id := rowID(t, db, "gw-0", 3)
		if _, err := db.ExecContext(context.Background(), "UPDATE gateway_audit SET prev_mac = ? WHERE id = ?", strings.Repeat("0", 64), id); err != nil {
			t.Fatal(err)
		}
		rep := verify(t, db)
		if len(rep.Broken) != 1 || rep.Broken[0].ID != id || !strings.Contains(rep.Broken[0].Reason, "prev_mac") {
			t.Errorf("Broken = %+v, want record id %d with a prev_mac mismatch", rep.Broken, id)
		}
	})
}

func TestVerify_wrongKeyFailsFirstRecord(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		appendN(t, db, "gw-0", 3)
		rep, err := audit.Verify(context.Background(), db, bytes.Repeat([]byte{1}, 32))
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Broken) != 1 || rep.Broken[0].Seq != 1 {
			t.Errorf("Broken = %+v, want a break at seq 1", rep.Broken)
		}
	})
}

func TestChain_storesAwkwardValuesExactly(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		migrated(t, db)
		c, _ := audit.NewChain(db, testKey, "gw-0")
		rec := record(1)
		rec.Path = "/api/\xff\x00zones/" + strings.Repeat("长", 2000)
		rec.Subject = "用户\x00"
		rec.Time = time.Date(2026, 3, 1, 8, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
		if err := c.Append(context.Background(), rec); err != nil {
			t.Fatalf("Append: %v", err)
		}
		if rep := verify(t, db); !rep.OK() {
			t.Errorf("Verify = %+v, want the record to verify after normalization", rep)
		}
	})
}

func TestWriter_writesLoneRecord(t *testing.T) {
	db := migrated(t, storetest.OpenSQLite(t))
	w, err := audit.NewWriter(db, testKey, audit.WriterOptions{BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close(context.Background()) }()

	// The batch is far from full, so only its time limit writes it.
	if !w.Log(record(0)) {
		t.Fatal("Log dropped the record")
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Stats().Written != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("Stats = %+v 5s after Log, want the record written without Close", w.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWriter_dropsWhenFullWithoutBlocking(t *testing.T) {
	db := migrated(t, storetest.OpenSQLite(t))
	w, err := audit.NewWriter(db, testKey, audit.WriterOptions{QueueSize: 4, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	// A closed database makes every append fail slowly, after retries, so
	// the queue fills.
	_ = db.Close()

	start := time.Now()
	accepted := 0
	for i := range 100 {
		if w.Log(record(i)) {
			accepted++
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("100 Log calls took %s, want no blocking", d)
	}
	if s := w.Stats(); s.Dropped == 0 || int(s.Dropped)+accepted != 100 {
		t.Errorf("Stats = %+v with %d accepted, want the rest counted as dropped", s, accepted)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = w.Close(ctx)
	if w.Log(record(0)) {
		t.Error("Log after Close queued a record")
	}
}

func TestNewChain_rejectsBadArguments(t *testing.T) {
	db := storetest.OpenSQLite(t)
	if _, err := audit.NewChain(db, []byte("short"), "gw"); !errors.Is(err, audit.ErrShortKey) {
		t.Errorf("short key: error = %v, want ErrShortKey", err)
	}
	if _, err := audit.NewChain(db, testKey, "bad replica"); err == nil {
		t.Error("bad replica id: error = nil")
	}
}

func TestVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "audit.db")
	keyFile := filepath.Join(dir, "audit.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	migrated(t, db)
	appendN(t, db, "gw-0", 12)

	var out bytes.Buffer
	if err := audit.VerifyCommand(context.Background(), []string{"-database-url", dsn, "-key-file", keyFile}, &out); err != nil {
		t.Fatalf("VerifyCommand: %v (output %s)", err, out.String())
	}
	if !strings.Contains(out.String(), "audit chain OK: 1 chains, 12 records") {
		t.Errorf("output = %q", out.String())
	}

	id := rowID(t, db, "gw-0", 4)
	if _, err := db.ExecContext(context.Background(), "UPDATE gateway_audit SET subject = 'someone-else' WHERE id = ?", id); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = audit.VerifyCommand(context.Background(), []string{"-database-url", dsn, "-key-file", keyFile, "-json"}, &out)
	if !errors.Is(err, audit.ErrBroken) {
		t.Fatalf("VerifyCommand error = %v, want ErrBroken", err)
	}
	if !strings.Contains(out.String(), fmt.Sprintf(`"id": %d`, id)) {
		t.Errorf("JSON output = %s, want record id %d", out.String(), id)
	}

	if err := audit.VerifyCommand(context.Background(), []string{"-key-file", keyFile}, &out); err == nil {
		t.Error("missing -database-url: error = nil")
	}
	if err := os.WriteFile(keyFile, []byte("abcd"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := audit.VerifyCommand(context.Background(), []string{"-database-url", dsn, "-key-file", keyFile}, &out); !errors.Is(err, audit.ErrShortKey) {
		t.Errorf("short key file: error = %v, want ErrShortKey", err)
	}
}

func BenchmarkAuditAppend(b *testing.B) {
	dbs := map[string]func(testing.TB) *bun.DB{"sqlite": func(tb testing.TB) *bun.DB { return storetest.OpenSQLite(tb) }}
	if os.Getenv(storetest.PostgresURLVar) != "" {
		dbs["postgres"] = func(tb testing.TB) *bun.DB { return storetest.OpenPostgres(tb) }
	}
	for _, name := range []string{"sqlite", "postgres"} {
		open, ok := dbs[name]
		if !ok {
			continue
		}
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/batch=%d", name, batch), func(b *testing.B) {
				db := migrated(b, open(b))
				c, _ := audit.NewChain(db, testKey, "bench")
				recs := make([]audit.Record, batch)
				for i := range recs {
					recs[i] = record(i)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for n := 0; b.Loop(); n++ {
					// A gateway appends records in time order, so each
					// batch is later than the one before it.
					for i := range recs {
						recs[i].Time = record(n*batch + i).Time
					}
					if err := c.Append(context.Background(), recs...); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

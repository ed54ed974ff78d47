package localdev

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/zones"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/obs/obstest"
	"github.com/jingtong/backend/shared/store/storetest"
)

// loggedServer builds localdev with vars and a JSON logger writing to the
// returned buffer.
func loggedServer(t *testing.T, vars map[string]string) (*Server, *obstest.Buffer, string) {
	t.Helper()
	dataDir := t.TempDir()
	cfg := Config{Addr: "127.0.0.1:0", DataDir: dataDir, DrainTimeout: DefaultDrainTimeout,
		OperatorTokenFile: filepath.Join(dataDir, OperatorTokenFile)}
	logs := &obstest.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	srv, err := New(context.Background(), cfg, lookup, logger)
	if err != nil {
		t.Fatalf("localdev.New: %v", err)
	}
	t.Cleanup(srv.Close)
	token, err := os.ReadFile(cfg.OperatorTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	return srv, logs, strings.TrimSpace(string(token))
}

// waitForLog waits up to 10s for a log line with msg whose attributes
// include every pair of attrs.
func waitForLog(t *testing.T, logs *obstest.Buffer, msg string, attrs map[string]any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for line := range strings.SplitSeq(logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != msg {
				continue
			}
			match := true
			for k, v := range attrs {
				match = match && fmt.Sprint(rec[k]) == fmt.Sprint(v)
			}
			if match {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log %q with %v within 10s; logs:\n%s", msg, attrs, logs.String())
}

// queueBackends returns the variables that select each queue backend: the
// in-process queue, and NATS JetStream when JT_TEST_NATS_URL is set.
func queueBackends(t *testing.T) map[string]map[string]string {
	backends := map[string]map[string]string{"memory": {}}
	if vars := storetest.NATSQueueVars(t, "jtlocaldev"); vars != nil {
		backends["nats"] = vars
	}
	return backends
}

func TestPublishedPageIsPrerendered(t *testing.T) {
	for name, vars := range queueBackends(t) {
		t.Run(name, func(t *testing.T) {
			srv, logs, token := loggedServer(t, vars)
			h := srv.Handler()
			admin := func(method, path, body string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(method, "/function/zones"+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				return w
			}

			w := admin(http.MethodGet, "/admin/zones/life-marriage/page", "")
			if w.Code != http.StatusOK {
				t.Fatalf("read draft: %d %s", w.Code, w.Body)
			}
			var draft struct {
				Version int64 `json:"version"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &draft); err != nil {
				t.Fatal(err)
			}
			w = admin(http.MethodPost, "/admin/zones/life-marriage/page/publish", fmt.Sprintf(`{"version":%d}`, draft.Version))
			if w.Code != http.StatusCreated {
				t.Fatalf("publish: %d %s", w.Code, w.Body)
			}
			var published struct {
				Version int64 `json:"version"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &published); err != nil {
				t.Fatal(err)
			}

			waitForLog(t, logs, "pre-rendered a published page",
				map[string]any{"zone": "life-marriage", "version": published.Version})
		})
	}
}

func TestZonesCronJobRuns(t *testing.T) {
	// Every second, in the seven-field form that SCF timers use.
	_, logs, _ := loggedServer(t, map[string]string{"JT_CRON_ZONES_REFRESH_SEARCH_INDEX": "* * * * * * *"})

	waitForLog(t, logs, "cron job finished", map[string]any{"function": "zones", "job": "refresh-search-index"})
}

func TestConsumerFollowsRebuild(t *testing.T) {
	srv, _, _ := loggedServer(t, nil)
	standIns := srv.platformFunctions()
	password, err := os.ReadFile(filepath.Join(srv.cfg.DataDir, FaaSDir, BasicAuthPasswordFile))
	if err != nil {
		t.Fatal(err)
	}

	// A new environment through the OpenFaaS API rebuilds zones.
	update := httptest.NewRequest(http.MethodPut, "/system/functions",
		strings.NewReader(`{"service": "zones", "envVars": {"JT_ZONES_CACHE_TTL": "20s"}}`))
	update.Header.Set("Content-Type", "application/json")
	update.SetBasicAuth(BasicAuthUser, strings.TrimSpace(string(password)))
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, update)
	if w.Code != http.StatusAccepted {
		t.Fatalf("update zones: %d %s", w.Code, w.Body)
	}

	// The new build's consumer records its calls.
	got := make(chan fn.Message, 1)
	zonesFn := srv.byName["zones"]
	zonesFn.mu.Lock()
	zonesFn.cur.fn.Consumers = []fn.Consumer{{Subject: zones.SubjectPagePublished, Handle: func(_ context.Context, msg fn.Message) error {
		got <- msg
		return nil
	}}}
	zonesFn.mu.Unlock()

	// The stand-in made before the rebuild delivers to the new build.
	var handle func(context.Context, fn.Message) error
	for _, f := range standIns {
		for _, c := range f.Consumers {
			if f.Name == "zones" && c.Subject == zones.SubjectPagePublished {
				handle = c.Handle
			}
		}
	}
	if handle == nil {
		t.Fatal("no stand-in consumer of zones.page.published")
	}
	if err := handle(context.Background(), fn.Message{ID: "m1", Subject: zones.SubjectPagePublished}); err != nil {
		t.Fatalf("stand-in consumer: %v", err)
	}
	select {
	case msg := <-got:
		if msg.ID != "m1" {
			t.Errorf("the new build got message %q, want m1", msg.ID)
		}
	default:
		t.Fatal("the stand-in did not call the running build's consumer")
	}
}

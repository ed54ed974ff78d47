package zones

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/store/storetest"
)

func TestPageCacheGeneration(t *testing.T) {
	c := newPageCache(time.Minute)
	key := cacheKey{zone: "z1", channel: ChannelWeChat, lang: "zh"}
	now := startTime

	gen := c.currentGeneration()
	c.invalidate() // a write commits while the rendering runs
	c.put(key, gen, newCachedPage([]byte("stale"), now, now.Add(time.Minute)))
	if _, ok := c.get(key, now); ok {
		t.Fatal("an entry rendered before a write was stored after it")
	}

	c.put(key, c.currentGeneration(), newCachedPage([]byte("fresh"), now, now.Add(time.Minute)))
	e, ok := c.get(key, now)
	if !ok || string(e.body) != "fresh" {
		t.Fatalf("get = %v, %v; want the fresh entry", e, ok)
	}
	if _, ok := c.get(key, now.Add(time.Minute)); ok {
		t.Fatal("an entry is served at its expiry time")
	}
}

func TestPageCacheExpiryAndMaxAge(t *testing.T) {
	c := newPageCache(10 * time.Second)
	boundary := startTime.Add(3 * time.Second)
	if got := c.expiry(startTime, &boundary); !got.Equal(boundary) {
		t.Fatalf("expiry = %v, want the template boundary %v", got, boundary)
	}
	later := startTime.Add(time.Hour)
	if got := c.expiry(startTime, &later); !got.Equal(startTime.Add(10 * time.Second)) {
		t.Fatalf("expiry = %v, want now + TTL", got)
	}
	for _, tt := range []struct {
		left time.Duration
		want int
	}{{-time.Second, 0}, {0, 0}, {1500 * time.Millisecond, 1}, {time.Hour, maxPageMaxAge}} {
		if got := maxAge(startTime, startTime.Add(tt.left)); got != tt.want {
			t.Errorf("maxAge with %v left = %d, want %d", tt.left, got, tt.want)
		}
	}
}

// TestPageCacheConcurrentWrites publishes new versions while readers hit
// the page; once the writes stop, every reader must see the last version.
func TestPageCacheConcurrentWrites(t *testing.T) {
	e := newSeededEnv(t, storetest.OpenSQLite(t), withVar("JT_ZONES_CACHE_TTL", "1h"))
	ctx := context.Background()
	path := "/zones/life-marriage/page?channel=wechat"

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if w := e.get(path); w.Code != http.StatusOK {
					t.Errorf("status %d", w.Code)
					return
				}
			}
		}()
	}

	draftVersion := int64(1)
	for i := range 20 {
		doc := fmt.Sprintf(`{"schema_version":1,"title":{"zh":"第%d版"},"body":{"type":"page","id":"root"}}`, i)
		d, err := e.srv.store.SavePageDraft(ctx, "alice", "life-marriage", json.RawMessage(doc), draftVersion)
		if err != nil {
			t.Fatalf("save %d: %v", i, err)
		}
		v, err := e.srv.store.PublishPage(ctx, "alice", "life-marriage", d.Version)
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		draftVersion = v.DraftVersion
	}
	close(stop)
	wg.Wait()

	var p renderedBody
	decodeBody(t, e.get(path), &p)
	if p.Title != "第19版" || p.Version != 21 {
		t.Fatalf("page after the writes = %q version %d, want 第19版 version 21", p.Title, p.Version)
	}
}

func TestPageCacheRefreshesBeforeExpiry(t *testing.T) {
	e := newSeededEnv(t, storetest.OpenSQLite(t), withVar("JT_ZONES_CACHE_TTL", "10s"))
	path := "/zones/life-marriage/page?channel=wechat"
	key := cacheKey{zone: "life-marriage", channel: ChannelWeChat, lang: "zh"}

	first := e.get(path)
	if first.Code != http.StatusOK {
		t.Fatalf("first read: status %d", first.Code)
	}
	entry, ok := e.srv.cache.get(key, startTime)
	if !ok {
		t.Fatal("the first read cached nothing")
	}

	e.clock.Advance(5 * time.Second)
	e.get(path)
	if entry.refreshing.Load() {
		t.Fatal("a hit before three quarters of the TTL started a refresh")
	}

	e.clock.Advance(3 * time.Second) // 8s: past the refresh time, before expiry
	hit := e.get(path)
	if hit.Code != http.StatusOK || hit.Header().Get("ETag") != first.Header().Get("ETag") {
		t.Fatalf("read during the refresh = %d, ETag %q; want 200 from the old entry", hit.Code, hit.Header().Get("ETag"))
	}
	if !entry.refreshing.Load() {
		t.Fatal("a hit past the refresh time did not start a refresh")
	}

	// The successor, rendered at 8s, lives until 18s.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := e.srv.cache.get(key, startTime.Add(15*time.Second)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no refreshed entry 5s after the refresh started")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A refresh that fails logs the id of the request that started it, so an
// operator can find the request and its trace.
func TestPageCacheRefreshFailureLogsRequest(t *testing.T) {
	e := newSeededEnv(t, storetest.OpenSQLite(t), withVar("JT_ZONES_CACHE_TTL", "10s"))
	path := "/zones/life-marriage/page?channel=wechat"
	if first := e.get(path); first.Code != http.StatusOK {
		t.Fatalf("first read: status %d", first.Code)
	}

	// Without its table, the refresh's zone query fails with a 500.
	ctx := context.Background()
	if _, err := e.db.ExecContext(ctx, "ALTER TABLE zones RENAME TO zones_away"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = e.db.ExecContext(ctx, "ALTER TABLE zones_away RENAME TO zones") })

	e.clock.Advance(8 * time.Second) // past the refresh time, before expiry
	const requestID = "refresh-trigger-1"
	hit := e.do(request{method: http.MethodGet, path: path, headers: map[string]string{"X-Request-Id": requestID}})
	if hit.Code != http.StatusOK {
		t.Fatalf("read from the cached entry: status %d", hit.Code)
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		line := findLogLine(e, "refreshing a cached page failed")
		if line != nil {
			if line["request_id"] != requestID || line["zone"] != "life-marriage" {
				t.Fatalf("log line = %v; want request_id %q and zone life-marriage", line, requestID)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line for the failed refresh; logs:\n%s", e.logText())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// findLogLine returns the first JSON log line whose msg is msg, or nil.
func findLogLine(e *testEnv, msg string) map[string]any {
	for _, raw := range strings.Split(e.logText(), "\n") {
		var line map[string]any
		if json.Unmarshal([]byte(raw), &line) == nil && line["msg"] == msg {
			return line
		}
	}
	return nil
}

package zones

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store/storetest"
)

// recordingPublisher keeps what the function publishes.
type recordingPublisher struct {
	mu   sync.Mutex
	sent []published
	err  error
}

type published struct {
	subject string
	data    []byte
	opts    fn.PublishOptions
}

func (p *recordingPublisher) Publish(_ context.Context, subject string, data []byte, opts fn.PublishOptions) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, published{subject: subject, data: data, opts: opts})
	return p.err
}

func (p *recordingPublisher) messages() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.sent...)
}

func TestPublishAnnouncesPage(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := pageEnv(t, db)
		pub := &recordingPublisher{}
		e.srv.publisher = pub
		d := saveDraft(t, e, validPage, 0)

		w := e.admin(http.MethodPost, "/admin/zones/zone-a/page/publish", map[string]int64{"version": d.Version})
		expectStatus(t, w, http.StatusCreated)
		var v1 PageVersion
		decodeBody(t, w, &v1)

		sent := pub.messages()
		if len(sent) != 1 {
			t.Fatalf("published %d messages, want 1", len(sent))
		}
		if sent[0].subject != SubjectPagePublished {
			t.Errorf("subject = %q, want %q", sent[0].subject, SubjectPagePublished)
		}
		if want := "zone-page-published:zone-a:1"; sent[0].opts.ID != want {
			t.Errorf("message ID = %q, want %q", sent[0].opts.ID, want)
		}
		var ev pagePublished
		if err := json.Unmarshal(sent[0].data, &ev); err != nil || ev != (pagePublished{ZoneID: "zone-a", Version: v1.Version}) {
			t.Errorf("payload = %s (%v), want zone-a version %d", sent[0].data, err, v1.Version)
		}

		// A rollback republishes, so it announces the new version too.
		saveDraft(t, e, validPage, v1.DraftVersion)
		w = e.admin(http.MethodPost, "/admin/zones/zone-a/page/publish", map[string]int64{"version": v1.DraftVersion + 1})
		expectStatus(t, w, http.StatusCreated)
		var v2 PageVersion
		decodeBody(t, w, &v2)
		w = e.admin(http.MethodPost, "/admin/zones/zone-a/page/rollback", map[string]int64{"version": v2.DraftVersion, "to": 1})
		expectStatus(t, w, http.StatusCreated)
		if sent := pub.messages(); len(sent) != 3 || !strings.HasSuffix(sent[2].opts.ID, ":3") {
			t.Errorf("after a publish and a rollback: %d messages, last ID %q; want 3 ending in :3", len(sent), sent[len(sent)-1].opts.ID)
		}
	})
}

func TestPublishSucceedsWhenAnnouncementFails(t *testing.T) {
	e := pageEnv(t, storetest.OpenSQLite(t))
	e.srv.publisher = &recordingPublisher{err: errors.New("queue down")}
	d := saveDraft(t, e, validPage, 0)

	w := e.admin(http.MethodPost, "/admin/zones/zone-a/page/publish", map[string]int64{"version": d.Version})
	expectStatus(t, w, http.StatusCreated)
	if !strings.Contains(e.logs.String(), "announcing a published page failed") {
		t.Error("the failed announcement was not logged")
	}
}

func TestPrerenderFillsCache(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		msg := fn.Message{Subject: SubjectPagePublished, Data: []byte(`{"zone_id":"life-marriage","version":1}`)}

		if err := e.srv.prerenderPublished(context.Background(), msg); err != nil {
			t.Fatalf("prerender: %v", err)
		}
		for _, ch := range []Channel{ChannelWeChat, ChannelAlipay} {
			for _, lang := range []string{"zh", "en"} {
				if _, ok := e.srv.cache.get(cacheKey{zone: "life-marriage", channel: ch, lang: lang}, startTime); !ok {
					t.Errorf("no cached rendering for %s in %s", ch, lang)
				}
			}
		}
		if !strings.Contains(e.logs.String(), "pre-rendered a published page") {
			t.Error("the pre-rendering was not logged")
		}
	})
}

func TestPrerenderUnknownZoneRendersNothing(t *testing.T) {
	e := newSeededEnv(t, storetest.OpenSQLite(t))
	msg := fn.Message{Subject: SubjectPagePublished, Data: []byte(`{"zone_id":"no-such-zone","version":1}`)}

	if err := e.srv.prerenderPublished(context.Background(), msg); err != nil {
		t.Fatalf("prerender of an unknown zone = %v, want nil", err)
	}
	if _, ok := e.srv.cache.get(cacheKey{zone: "no-such-zone", channel: ChannelWeChat, lang: "zh"}, startTime); ok {
		t.Error("an unknown zone was cached")
	}
}

func TestPrerenderRejectsBadPayload(t *testing.T) {
	e := newTestEnv(t, storetest.OpenSQLite(t))
	for _, data := range []string{``, `{`, `[]`, `{"zone_id":"a b","version":1}`, `{"zone_id":"zone-a","version":0}`,
		`{"zone_id":"zone-a","version":1,"extra":true}`} {
		err := e.srv.prerenderPublished(context.Background(), fn.Message{Subject: SubjectPagePublished, Data: []byte(data)})
		var perm *fn.PermanentError
		if !errors.As(err, &perm) {
			t.Errorf("payload %q: error %v, want a permanent error", data, err)
		}
	}
}

package zones

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/jingtong/backend/functions/zones/page"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
)

// SubjectPagePublished is the queue subject of a zone page that went
// live, by a publish or a rollback. The function's own consumer of it
// renders the page for every channel and language into the page cache,
// so that the first readers after a publish do not wait for the
// database.
//
// NOTE: the cache is per process and a queue delivers each message to one
// replica, so with several replicas only one of them starts warm. The
// others render on their first read, as they would without the event.
const SubjectPagePublished = "zones.page.published"

// pagePublished is the payload of SubjectPagePublished.
type pagePublished struct {
	ZoneID  string `json:"zone_id"`
	Version int64  `json:"version"`
}

// announcePublished publishes SubjectPagePublished for v. The page is
// live whether or not this succeeds, so a failure is logged, not
// returned: readers then render the page on demand.
func (s *server) announcePublished(ctx context.Context, v PageVersion) {
	if s.publisher == nil {
		return
	}
	data, err := json.Marshal(pagePublished{ZoneID: v.ZoneID, Version: v.Version})
	if err == nil {
		// The ID makes a repeated announcement of one version a duplicate.
		id := "zone-page-published:" + v.ZoneID + ":" + strconv.FormatInt(v.Version, 10)
		err = s.publisher.Publish(context.WithoutCancel(ctx), SubjectPagePublished, data, fn.PublishOptions{ID: id})
	}
	if err != nil {
		s.logger.WarnContext(ctx, "announcing a published page failed; readers will render it on demand",
			"zone", v.ZoneID, "version", v.Version, "err", err)
	}
}

// prerenderPublished is the consumer of SubjectPagePublished. It renders
// the zone's live page for each channel the zone is available on, in each
// language, and stores the renderings in the page cache. A payload that
// does not decode is a permanent error, so the message goes to the
// dead-letter subject. A database error is returned for a retry.
func (s *server) prerenderPublished(ctx context.Context, msg fn.Message) error {
	var ev pagePublished
	dec := json.NewDecoder(bytes.NewReader(msg.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return fn.Permanent(fmt.Errorf("zones: decoding a %s message: %w", SubjectPagePublished, err))
	}
	if !validSlug(ev.ZoneID) || ev.Version < 1 {
		return fn.Permanent(fmt.Errorf("zones: %s message with zone %q and version %d: want a zone id and a positive version",
			SubjectPagePublished, truncateForMessage(ev.ZoneID), ev.Version))
	}

	now := s.now()
	rendered := 0
	for _, ch := range Channels {
		for _, lang := range []string{page.LangZH, page.LangEN} {
			_, err := s.renderLive(ctx, cacheKey{zone: ev.ZoneID, channel: ch, lang: lang}, now)
			var he *httpx.Error
			switch {
			case err == nil:
				rendered++
			case errors.As(err, &he) && he.Code.Status < http.StatusInternalServerError:
				// The zone is not on this channel, or was unpublished
				// since: there is nothing to render.
			default:
				return fmt.Errorf("zones: pre-rendering zone %s for %s: %w", ev.ZoneID, ch, err)
			}
		}
	}
	s.logger.InfoContext(ctx, "pre-rendered a published page", "zone", ev.ZoneID, "version", ev.Version, "renderings", rendered)
	return nil
}

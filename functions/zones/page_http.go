package zones

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jingtong/backend/functions/zones/page"
	"github.com/jingtong/backend/shared/httpx"
)

func (s *server) adminPageRoutes() {
	s.handle("GET /admin/zones/{id}/page", s.operator(s.handleGetDraft))
	s.handle("PUT /admin/zones/{id}/page", s.operator(s.handleSaveDraft))
	s.handle("GET /admin/zones/{id}/page/preview", s.operator(s.handlePreview))
	s.handle("POST /admin/zones/{id}/page/publish", s.operator(s.handlePublishPage))
	s.handle("GET /admin/zones/{id}/page/versions", s.operator(s.handleListPageVersions))
	s.handle("GET /admin/zones/{id}/page/versions/{version}", s.operator(s.handleGetPageVersion))
	s.handle("POST /admin/zones/{id}/page/rollback", s.operator(s.handleRollbackPage))
}

// Response headers shared by every page response. Handlers assign these
// slices to the header map directly, so a cache hit allocates no header
// values. Nothing may modify them.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	varyLanguage    = []string{"Accept-Language"}
)

// renderedPage is the body of GET /zones/{id}/page.
type renderedPage struct {
	ZoneID  string `json:"zone_id"`
	Version int64  `json:"version"`
	*page.Rendered
}

// varyOnLanguage adds Accept-Language to the Vary header of a response that
// depends on it. It keeps the values already set, such as the Origin that
// the gateway's CORS step adds on the same header map.
func varyOnLanguage(h http.Header) {
	if len(h["Vary"]) == 0 {
		h["Vary"] = varyLanguage
		return
	}
	h["Vary"] = append(slices.Clip(h["Vary"]), "Accept-Language")
}

// handlePage serves the live page of a published zone rendered for one
// channel and language. It is the hottest route, so a cache hit reads no
// database, encodes nothing and allocates no header values of its own
// (BenchmarkPageCached measures it).
func (s *server) handlePage(w http.ResponseWriter, r *http.Request) {
	ch, chErr := pageChannel(r)
	lang, langErr := requestLang(r)
	if err := mergeProblems(chErr, langErr); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	key := cacheKey{zone: r.PathValue("id"), channel: ch, lang: lang}
	now := s.now()

	e, ok := s.cache.get(key, now)
	switch {
	case !ok:
		var err error
		if e, err = s.renderLive(r.Context(), key, now); err != nil {
			httpx.WriteError(w, r, s.logger, err)
			return
		}
	case e.claimRefresh(now):
		go s.refreshLive(r.Context(), key)
	}

	h := w.Header()
	h["Etag"] = e.etagHeader
	varyOnLanguage(h)
	h["Cache-Control"] = cacheControlValues[maxAge(now, e.expires)]
	if etagMatches(r.Header.Get("If-None-Match"), e.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = e.lengthHeader
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(e.body)
}

// renderLive renders and caches the live page for key. Concurrent misses
// of one key share one rendering, which runs on a context that the first
// caller's cancellation does not end, for at most renderTimeout.
//
// NOTE: errors are not cached, so every request for an unknown zone or an
// unpublished page reads the database.
func (s *server) renderLive(ctx context.Context, key cacheKey, now time.Time) (*cachedPage, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), renderTimeout)
	defer cancel()
	// The generation is part of the flight key, so a request that starts
	// after a write never shares a rendering that began before it.
	gen := s.cache.currentGeneration()
	flightKey := key.zone + "/" + string(key.channel) + "/" + key.lang + "/" + strconv.FormatUint(gen, 10)

	v, err, _ := s.cache.renders.Do(flightKey, func() (any, error) {
		z, err := s.store.GetZone(ctx, key.zone, true)
		if err != nil {
			return nil, err
		}
		if !availableOn(z.Channels, key.channel) {
			return nil, httpx.E(CodeZoneNotFound, key.zone)
		}
		live, err := s.store.LivePage(ctx, key.zone)
		if err != nil {
			return nil, err
		}
		rendered, err := s.store.renderPage(ctx, live.Document, key.channel, key.lang, now)
		if err != nil {
			return nil, err
		}
		body, err := encodePage(renderedPage{ZoneID: key.zone, Version: live.Version, Rendered: rendered})
		if err != nil {
			return nil, err
		}

		e := newCachedPage(body, now, s.cache.expiry(now, rendered.ValidUntil))
		s.cache.put(key, gen, e)
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*cachedPage), nil
}

// renderTimeout bounds one rendering, which no caller's cancellation
// ends, so that a stuck database query does not keep its goroutine and
// its singleflight slot for good.
const renderTimeout = 30 * time.Second

// refreshLive renders the live page for key in the background, so that
// it replaces a cached entry before the entry expires. A failure leaves
// the entry to expire, and the next reader renders it and gets the error.
// ctx is the context of the request that started the refresh: renderLive
// drops its cancellation, and its request and trace ids mark the refresh's
// log line and spans.
func (s *server) refreshLive(ctx context.Context, key cacheKey) {
	if _, err := s.renderLive(ctx, key, s.now()); err != nil && httpx.AsError(err).Code.Status >= http.StatusInternalServerError {
		s.logger.WarnContext(ctx, "refreshing a cached page failed", "zone", key.zone, "channel", string(key.channel),
			"request_id", httpx.RequestID(ctx), "err", err)
	}
}

func encodePage(p renderedPage) ([]byte, error) {
	body, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode rendered page: %w", err)
	}
	return append(body, '\n'), nil
}

// pageChannel reads the required channel parameter. It scans the raw query
// itself, because url.Values costs a map per request on the hottest route.
// Queries with escapes go through the standard parser.
func pageChannel(r *http.Request) (Channel, error) {
	raw := r.URL.RawQuery
	var v string
	if strings.ContainsAny(raw, "%+;") {
		v = r.URL.Query().Get("channel")
	} else {
		v = rawQueryValue(raw, "channel")
	}

	ch := Channel(v)
	if validChannel(ch) {
		return ch, nil
	}
	var c checker
	c.enum("channel", v, channelNames())
	return "", c.err()
}

// rawQueryValue returns the first value of key in a query without escapes.
func rawQueryValue(raw, key string) string {
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k == key {
			return v
		}
	}
	return ""
}

func (s *server) handleGetDraft(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.GetPageDraft(r.Context(), r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, d)
}

// draftBody is the body of PUT /admin/zones/{id}/page. Version is the draft
// version read, 0 for the first save.
type draftBody struct {
	Version  int64           `json:"version"`
	Document json.RawMessage `json:"document"`
}

func (s *server) handleSaveDraft(w http.ResponseWriter, r *http.Request) {
	var body draftBody
	if err := s.decode(r, &body); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	var c checker
	if body.Version < 0 {
		c.add("/version", "out_of_range", "须为读取时的草稿版本号，首次保存填 0",
			"must be the draft version you read, or 0 for the first save")
	}
	if len(body.Document) == 0 {
		c.required("/document")
	}
	if err := c.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	if err := s.store.validatePageSave(r.Context(), "/document", body.Document); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	d, err := s.store.SavePageDraft(r.Context(), actor(r), r.PathValue("id"), body.Document, body.Version)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, d)
}

// pagePreview is the body of GET /admin/zones/{id}/page/preview.
type pagePreview struct {
	ZoneID  string `json:"zone_id"`
	Version int64  `json:"version"`
	// ShownOnChannel is false when the zone's channels leave out the
	// channel of the preview, so users there get ZONE_NOT_FOUND instead
	// of the page. It does not tell whether the zone or the draft is
	// published.
	ShownOnChannel bool `json:"shown_on_channel"`
	*page.Rendered
}

// handlePreview renders the draft for one channel and language with the
// published services, items and templates it binds. It renders for any
// channel, including one the zone is not shown on, and reports in
// ShownOnChannel whether the zone is shown there. Previews are never
// cached.
func (s *server) handlePreview(w http.ResponseWriter, r *http.Request) {
	ch, chErr := pageChannel(r)
	lang, langErr := requestLang(r)
	if err := mergeProblems(chErr, langErr); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	d, err := s.store.GetPageDraft(r.Context(), r.PathValue("id"))
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	z, err := s.store.GetZone(r.Context(), d.ZoneID, false)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	rendered, err := s.store.renderPage(r.Context(), d.Document, ch, lang, s.now())
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, pagePreview{
		ZoneID: d.ZoneID, Version: d.Version, ShownOnChannel: availableOn(z.Channels, ch), Rendered: rendered,
	})
}

// handlePublishPage publishes the draft. The body's version is the draft
// version read; see Store.PublishPage.
func (s *server) handlePublishPage(w http.ResponseWriter, r *http.Request) {
	version, err := s.readVersion(r)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	v, err := s.store.PublishPage(r.Context(), actor(r), r.PathValue("id"), version)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	s.announcePublished(r.Context(), v)
	httpx.WriteJSON(w, http.StatusCreated, v)
}

// rollbackBody is the body of POST /admin/zones/{id}/page/rollback.
type rollbackBody struct {
	// Version is the draft version read, which the rollback replaces.
	Version int64 `json:"version"`
	// To is the published version to restore.
	To int64 `json:"to"`
}

func (s *server) handleRollbackPage(w http.ResponseWriter, r *http.Request) {
	var body rollbackBody
	if err := s.decode(r, &body); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	var c checker
	if body.Version < 1 {
		c.add("/version", versionReason(body.Version), "须填写读取时的草稿版本号（正整数）", "must be the draft version you read, a positive integer")
	}
	if body.To < 1 {
		c.add("/to", versionReason(body.To), "须填写要恢复的已发布版本号（正整数）", "must be the published version to restore, a positive integer")
	}
	if err := c.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	v, err := s.store.RollbackPage(r.Context(), actor(r), r.PathValue("id"), body.Version, body.To)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	s.announcePublished(r.Context(), v)
	httpx.WriteJSON(w, http.StatusCreated, v)
}

func (s *server) handleListPageVersions(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	p := q.paging()
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	list, total, err := s.store.ListPageVersions(r.Context(), r.PathValue("id"), p)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, newList(list, p, total))
}

func (s *server) handleGetPageVersion(w http.ResponseWriter, r *http.Request) {
	zoneID, raw := r.PathValue("id"), r.PathValue("version")
	// Only the canonical form names a version, so that each version has
	// one URL: 01 and +1 are not found, as x is.
	version, err := strconv.ParseInt(raw, 10, 64)
	if errors.Is(err, strconv.ErrRange) && raw[0] >= '1' && raw[0] <= '9' {
		// Digits without a sign or leading zero, above math.MaxInt64: a
		// canonical number that no version reaches.
		number := truncateForMessage(raw)
		httpx.WriteError(w, r, s.logger, httpx.E(CodePageVersionNotFound, zoneID, httpx.Localized{
			ZH: number + "（版本号过大，最大为 " + maxInt64Text + "）",
			EN: number + " (too large; the maximum version is " + maxInt64Text + ")",
		}))
		return
	}
	if err != nil || version < 1 || strconv.FormatInt(version, 10) != raw {
		httpx.WriteError(w, r, s.logger, httpx.E(CodePageVersionNotFound, zoneID, strconv.Quote(truncateForMessage(raw))))
		return
	}
	v, err := s.store.GetPageVersion(r.Context(), zoneID, version)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, v)
}

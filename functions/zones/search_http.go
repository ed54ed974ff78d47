package zones

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

// maxQueryRunes bounds a search query.
const maxQueryRunes = 64

// handleSearch finds published services by Chinese or English keyword,
// full pinyin or pinyin initials, best matches first.
func (s *server) handleSearch(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	text := q.values.Get("q")
	if normalizeTerm(text) == "" {
		q.c.required("q")
	} else {
		q.c.length("q", text, maxQueryRunes)
	}
	f := SearchFilter{Channel: q.channel(), Zone: q.slug("zone")}
	p := q.paging()
	lang := q.lang(r)
	if err := q.err(); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}

	list, total, err := s.store.SearchServices(r.Context(), text, f, p)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	resp := newList(newServiceViews(list, lang), p, total)
	resp.Lang = lang
	s.writeCacheable(w, r, resp)
}

// handleRefreshSearch rebuilds the search index.
func (s *server) handleRefreshSearch(w http.ResponseWriter, r *http.Request) {
	if err := s.store.RefreshSearchIndex(r.Context()); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

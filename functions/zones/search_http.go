package zones

import (
	"net/http"

	"github.com/jingtong/backend/shared/httpx"
)

// maxQueryRunes bounds a search query as sent, before normalisation.
const maxQueryRunes = 64

// handleSearch finds published services by Chinese or English keyword,
// full pinyin or pinyin initials, best matches first.
func (s *server) handleSearch(w http.ResponseWriter, r *http.Request) {
	q := newQuery(r)
	text := q.values.Get("q")
	q.c.searchText("q", text)
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

// searchText checks the search keyword v: present, valid UTF-8 without NUL
// characters, and at most maxQueryRunes characters as sent, so the server
// never normalises a longer text. A keyword without a letter or digit after
// normalisation, such as "|", gets its own detail rather than "required".
func (c *checker) searchText(path, v string) {
	if v == "" {
		c.required(path)
		return
	}
	n := len(c.details)
	c.length(path, v, maxQueryRunes)
	if len(c.details) == n && parseSearchQuery(v).Text == "" {
		c.add(path, "invalid_format",
			"关键词不含可搜索的字符，请至少输入一个汉字、字母或数字",
			"has no searchable characters; enter at least one Chinese character, letter or digit")
	}
}

// handleRefreshSearch rebuilds the search index.
func (s *server) handleRefreshSearch(w http.ResponseWriter, r *http.Request) {
	if err := s.store.RefreshSearchIndex(r.Context()); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

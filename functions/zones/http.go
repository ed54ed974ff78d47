package zones

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
)

// Pagination limits for list endpoints.
const (
	defaultPageSize = 20
	maxPageSize     = 100
	maxPageNumber   = 10000
)

// server contains the dependencies that the handlers share. Handlers are
// its methods.
type server struct {
	cfg    Config
	store  *Store
	cache  *pageCache
	logger *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
	// publisher announces published pages; nil when the host has no queue.
	publisher fn.Publisher
	// patterns lists the registered route patterns, for the test that
	// compares them with openapi.json.
	patterns []string
}

// handler returns the function's HTTP handler: request ids, panic recovery,
// caller identification by identify (auth.Middleware), the ?lang=
// rewrite, the admin guard and the routes.
func (s *server) handler(identify func(http.Handler) http.Handler) http.Handler {
	s.mux = http.NewServeMux()
	s.routes()
	var h http.Handler = s.mux
	h = s.guardAdmin(h)
	h = canonicalLang(h)
	h = identify(h)
	h = httpx.Recover(s.logger)(h)
	h = httpx.RequestIDs(h)
	return h
}

// routes registers every route. Paths are relative to the function root.
func (s *server) routes() {
	s.handleFunc("GET /openapi.json", s.handleOpenAPI)
	s.handleFunc("GET /zones", s.handleListZones)
	s.handleFunc("GET /zones/{id}", s.handleGetZone)
	s.handleFunc("GET /zones/{id}/services", s.handleZoneServices)
	s.handleFunc("GET /zones/{id}/page", s.handlePage)
	s.handleFunc("GET /services/search", s.handleSearch)
	s.handleFunc("GET /services/{id}", s.handleGetService)
	s.handleFunc("GET /items", s.handleListItems)
	s.handleFunc("GET /items/{id}", s.handleGetItem)

	s.adminZoneRoutes()
	s.adminServiceRoutes()
	s.adminItemRoutes()
	s.adminTemplateRoutes()
	s.adminPageRoutes()
	s.handle("GET /admin/oplog", s.operator(s.handleListOps))
	s.handle("GET /admin/oplog/{op}", s.operator(s.handleGetOp))
	s.handle("POST /admin/search/refresh", s.operator(s.handleRefreshSearch))

	s.mux.HandleFunc("/", s.handleUnmatched)
}

// handle registers h for pattern. When the pattern has an {id} wildcard, an
// id that is not a valid slug gets the not-found error of the resource the
// wildcard names, before h runs: it cannot name a row, and PostgreSQL
// rejects some such values, such as a NUL character, with an error.
func (s *server) handle(pattern string, h http.Handler) {
	if strings.Contains(pattern, "{id}") {
		h = s.requireSlugID(idResourceCode(pattern), h)
	}
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

func (s *server) handleFunc(pattern string, h http.HandlerFunc) {
	s.handle(pattern, h)
}

// idResourceCode returns the not-found code of the resource whose id the
// {id} wildcard of pattern holds: the path segment before the wildcard
// names it. It panics for a pattern it does not know, a programming error.
func idResourceCode(pattern string) httpx.Code {
	before, _, _ := strings.Cut(pattern, "/{id}")
	switch before[strings.LastIndexByte(before, '/')+1:] {
	case "zones":
		return CodeZoneNotFound
	case "services":
		return CodeServiceNotFound
	case "items":
		return CodeItemNotFound
	case "templates":
		return CodeTemplateNotFound
	}
	panic(fmt.Sprintf("zones: no not-found code for the {id} of route %q", pattern))
}

func (s *server) requireSlugID(notFound httpx.Code, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.PathValue("id"); !validSlug(id) {
			httpx.WriteError(w, r, s.logger, httpx.E(notFound, truncateForMessage(id)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// truncateForMessage shortens a value that a client sent to at most 64
// bytes, so an error message quoting it stays short.
func truncateForMessage(v string) string {
	const maxLen = 64
	if len(v) <= maxLen {
		return v
	}
	cut := maxLen
	for cut > 0 && !utf8.RuneStart(v[cut]) {
		cut--
	}
	return v[:cut] + "…"
}

// probeMethods are the methods tried to tell an unknown path from a known
// path requested with the wrong method.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}

// handleUnmatched handles requests that no route matched. It returns 405
// with an Allow header when the path exists for other methods, else 404.
func (s *server) handleUnmatched(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, method := range probeMethods {
		probe := &http.Request{Method: method, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allowed = append(allowed, method)
			if method == http.MethodGet {
				allowed = append(allowed, http.MethodHead)
			}
		}
	}
	if len(allowed) == 0 {
		httpx.WriteError(w, r, s.logger, httpx.E(httpx.CodeNotFound))
		return
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	httpx.WriteError(w, r, s.logger, httpx.E(httpx.CodeMethodNotAllowed, r.Method))
}

// bearerChallenge is the WWW-Authenticate value of every 401 response, as
// RFC 6750 section 3 describes it.
const bearerChallenge = `Bearer realm="jingtong"`

// checkOperator returns nil for an operator, 401 UNAUTHORIZED for an
// anonymous caller and 403 FORBIDDEN for any other identity. A 401 also
// sets the WWW-Authenticate header.
func checkOperator(w http.ResponseWriter, r *http.Request) error {
	id := auth.FromContext(r.Context())
	if id == nil {
		w.Header().Set("WWW-Authenticate", bearerChallenge)
		return httpx.E(httpx.CodeUnauthorized)
	}
	if !id.Has(auth.RoleOperator) {
		return httpx.E(httpx.CodeForbidden)
	}
	return nil
}

// guardAdmin rejects every request for /admin or a path under it with 401
// or 403 unless an operator sent it. It runs before routing, so a caller
// without the operator role cannot tell admin routes or their methods from
// unknown paths. It checks the path as sent. The ServeMux responds to a path
// that is not clean, such as /x/../admin, with a redirect to its clean
// form, which the guard then checks on the next request.
func (s *server) guardAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/admin" || strings.HasPrefix(p, "/admin/") {
			if err := checkOperator(w, r); err != nil {
				httpx.WriteError(w, r, s.logger, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// operator wraps an admin handler: anonymous callers get 401, identified
// callers without the operator role get 403. guardAdmin already rejects
// them; this keeps each admin handler safe on its own.
func (s *server) operator(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkOperator(w, r); err != nil {
			httpx.WriteError(w, r, s.logger, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		next(w, r)
	})
}

// actor returns the subject recorded in the operation log for r.
func actor(r *http.Request) string {
	if id := auth.FromContext(r.Context()); id != nil {
		return id.Subject
	}
	return "anonymous"
}

// listResponse is the envelope of every list response.
type listResponse[T any] struct {
	Data     []T    `json:"data"`
	Page     int    `json:"page"`
	PageSize int    `json:"page_size"`
	Total    int    `json:"total"`
	Lang     string `json:"lang,omitempty"`
}

func newList[T any](data []T, p Paging, total int) listResponse[T] {
	if data == nil {
		data = []T{}
	}
	return listResponse[T]{Data: data, Page: p.Number, PageSize: p.Size, Total: total}
}

// query reads and checks query parameters, collecting every problem.
type query struct {
	values url.Values
	c      checker
}

func newQuery(r *http.Request) *query {
	return &query{values: r.URL.Query()}
}

// paging reads page and page_size.
func (q *query) paging() Paging {
	return Paging{
		Number: q.intParam("page", 1, 1, maxPageNumber),
		Size:   q.intParam("page_size", defaultPageSize, 1, maxPageSize),
	}
}

func (q *query) intParam(name string, def, lo, hi int) int {
	v := q.values.Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		q.c.add(name, "invalid_format", "须为整数", "must be an integer")
		return def
	}
	if err != nil || n < lo || n > hi {
		q.c.add(name, "out_of_range",
			"须为 "+strconv.Itoa(lo)+" 到 "+strconv.Itoa(hi)+" 之间的整数",
			"must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		return def
	}
	return n
}

// lang returns the response language: the ?lang= parameter when it is set,
// else what httpx.Lang reads from Accept-Language. An invalid ?lang= value
// is reported as a problem. Only routes whose OpenAPI entry documents the
// parameter call it; the others ignore invalid values.
func (q *query) lang(r *http.Request) string {
	v := q.values.Get("lang")
	if v == "" {
		return httpx.Lang(r)
	}
	lang, ok := parseLang(v)
	if !ok {
		q.c.invalidLang()
	}
	return lang
}

// enum reads an optional parameter that must be one of allowed.
func (q *query) enum(name string, allowed []string) string {
	v := q.values.Get(name)
	if v != "" {
		q.c.enum(name, v, allowed)
	}
	return v
}

func (q *query) channel() Channel {
	return Channel(q.enum("channel", channelNames()))
}

// slug reads an optional id parameter.
func (q *query) slug(name string) string {
	v := q.values.Get(name)
	if v != "" {
		q.c.slug(name, v)
	}
	return v
}

// int64Param reads a required positive integer parameter.
func (q *query) int64Param(name string) int64 {
	v := q.values.Get(name)
	if v == "" {
		q.c.required(name)
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		q.c.add(name, "invalid_format", "须为正整数", "must be a positive integer")
	case err != nil && n > 0: // ParseInt returns math.MaxInt64 for a larger value
		q.c.details = append(q.c.details, httpx.TooLarge(name, maxInt64Text))
	case err != nil || n < 1:
		q.c.add(name, "out_of_range", "须为正整数", "must be a positive integer")
	}
	return n
}

func (q *query) err() error { return q.c.err() }

// writeCacheable writes v as JSON with a strong ETag and a public
// Cache-Control of at most maxPageMaxAge seconds. It returns 304 without a
// body when the request's If-None-Match names the ETag.
func (s *server) writeCacheable(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	body = append(body, '\n')
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`

	h := w.Header()
	h.Set("ETag", etag)
	varyOnLanguage(h)
	h["Cache-Control"] = cacheControlValues[min(int(s.cfg.CacheTTL/time.Second), maxPageMaxAge)]
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// etagMatches reports whether an If-None-Match header names etag. It uses
// the weak comparison that RFC 7232 section 3.2 requires for this header.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	if header == etag {
		return true
	}
	for header != "" {
		var candidate string
		candidate, header, _ = strings.Cut(header, ",")
		candidate = strings.TrimSpace(candidate)
		if candidate == "*" || strings.TrimPrefix(candidate, "W/") == etag {
			return true
		}
	}
	return false
}

// decode reads a JSON request body into v within the configured limit.
func (s *server) decode(r *http.Request, v any) error {
	return httpx.DecodeJSON(r, v, s.cfg.MaxBody)
}

// maxInt64Text is math.MaxInt64 as messages show it. It is the largest
// version number, because versions are int64 values in PostgreSQL bigint
// columns.
var maxInt64Text = strconv.FormatInt(math.MaxInt64, 10)

// versionBody is the body of publish and unpublish requests.
type versionBody struct {
	Version int64 `json:"version"`
}

// readVersion decodes a versionBody and checks that version is positive.
func (s *server) readVersion(r *http.Request) (int64, error) {
	var body versionBody
	if err := s.decode(r, &body); err != nil {
		return 0, err
	}
	if body.Version < 1 {
		var c checker
		c.add("/version", versionReason(body.Version), "须填写读取时的版本号（正整数）", "must be the version you read, a positive integer")
		return 0, c.err()
	}
	return body.Version, nil
}

// checkPathID returns INVALID_REQUEST when a body id disagrees with the
// path id. An empty body id takes the path id.
func checkPathID(pathID string, bodyID *string) error {
	if *bodyID == "" {
		*bodyID = pathID
		return nil
	}
	if *bodyID != pathID {
		var c checker
		c.add("/id", "mismatch", "与路径中的编号不一致", "does not match the id in the path")
		return c.err()
	}
	return nil
}

package zones

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/jingtong/backend/functions/zones/page"
	"github.com/jingtong/backend/shared/httpx"
)

// langPattern matches the ?lang= values the public routes accept: zh or en
// in any case, alone or followed by subtags, as in en-US or zh-Hans-CN.
// openapi.json states the same pattern.
var langPattern = regexp.MustCompile(`^([Zz][Hh]|[Ee][Nn])(-[A-Za-z0-9]+)*$`)

// parseLang returns "zh" or "en" for a ?lang= value that langPattern
// matches.
func parseLang(v string) (string, bool) {
	switch v {
	case page.LangZH, page.LangEN:
		return v, true
	}
	if !langPattern.MatchString(v) {
		return "", false
	}
	return strings.ToLower(v[:2]), true
}

// invalidLang reports an invalid ?lang= value.
func (c *checker) invalidLang() {
	c.add("lang", "invalid_enum",
		"须为 zh 或 en（不区分大小写），或以 zh- 或 en- 开头的语言标签，例如 en-US",
		"must be zh or en in any case, or a language tag that starts with zh- or en-, such as en-US")
}

// canonicalLang rewrites a valid ?lang= value that is not exactly zh or en,
// such as EN or en-US, to zh or en. Every later reader of the parameter
// then agrees on the language, httpx.Lang included, which picks the
// language of error messages. Invalid values are left for the routes that
// document the parameter to reject.
func canonicalLang(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.RawQuery, "lang=") {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		v := q.Get("lang")
		lang, ok := parseLang(v)
		if !ok || lang == v {
			next.ServeHTTP(w, r)
			return
		}

		q.Set("lang", lang)
		u := *r.URL
		u.RawQuery = q.Encode()
		r = r.WithContext(r.Context())
		r.URL = &u
		next.ServeHTTP(w, r)
	})
}

// requestLang returns the language of a request to the page route like
// query.lang, without parsing the query when it has no lang parameter and
// Accept-Language is absent or one of the common single values, which is
// what mini-programs send.
func requestLang(r *http.Request) (string, error) {
	raw := r.URL.RawQuery
	if !strings.Contains(raw, "lang") {
		switch r.Header.Get("Accept-Language") {
		case "", "zh", "zh-CN", "zh-Hans", "zh-Hans-CN":
			return page.LangZH, nil
		case "en", "en-US", "en-GB":
			return page.LangEN, nil
		}
		return httpx.Lang(r), nil
	}

	var v string
	if strings.ContainsAny(raw, "%+;") {
		v = r.URL.Query().Get("lang")
	} else {
		v = rawQueryValue(raw, "lang")
	}
	if v == "" {
		return httpx.Lang(r), nil
	}
	lang, ok := parseLang(v)
	if !ok {
		var c checker
		c.invalidLang()
		return "", c.err()
	}
	return lang, nil
}

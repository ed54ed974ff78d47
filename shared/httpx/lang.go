package httpx

import (
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

var langMatcher = language.NewMatcher([]language.Tag{language.SimplifiedChinese, language.English})

// Lang returns "en" when the request's Accept-Language prefers English over
// Chinese and "zh" otherwise, Chinese being the default. A ?lang=en or
// ?lang=zh query parameter takes precedence, for links opened in web views
// that cannot set headers.
func Lang(r *http.Request) string {
	if strings.Contains(r.URL.RawQuery, "lang=") {
		switch r.URL.Query().Get("lang") {
		case "en":
			return "en"
		case "zh":
			return "zh"
		}
	}

	accept := r.Header.Get("Accept-Language")
	if accept == "" {
		return "zh"
	}
	// Fast path for the common single-language headers sent by mini-programs.
	switch accept {
	case "zh", "zh-CN", "zh-Hans", "zh-Hans-CN":
		return "zh"
	case "en", "en-US", "en-GB":
		return "en"
	}
	tags, _, err := language.ParseAcceptLanguage(accept)
	if err != nil || len(tags) == 0 {
		return "zh"
	}
	_, index, conf := langMatcher.Match(tags...)
	if index == 1 && conf != language.No {
		return "en"
	}
	return "zh"
}

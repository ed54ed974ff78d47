package httpx_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jingtong/backend/shared/httpx"
)

func TestLang_choice(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		query  string
		accept string
		want   string
	}{
		{name: "no preference gives zh", want: "zh"},
		{name: "plain en header", accept: "en", want: "en"},
		{name: "upper-case EN header", accept: "EN", want: "en"},
		{name: "British English header", accept: "en-GB", want: "en"},
		{name: "weighted English list", accept: "en-US,en;q=0.9", want: "en"},
		{name: "Chinese before English", accept: "zh-CN,zh;q=0.9,en;q=0.8", want: "zh"},
		{name: "English weighted above Chinese", accept: "zh-CN;q=0.5,en;q=0.8", want: "en"},
		{name: "unsupported then English", accept: "fr-FR,en;q=0.5", want: "en"},
		{name: "only unsupported language", accept: "fr-FR", want: "zh"},
		{name: "traditional Chinese header", accept: "zh-TW", want: "zh"},
		{name: "wildcard header", accept: "*", want: "zh"},
		{name: "malformed header", accept: ";;;q=x", want: "zh"},
		{name: "lang=en query wins", query: "lang=en", accept: "zh-CN", want: "en"},
		{name: "lang=zh query wins", query: "lang=zh", accept: "en", want: "zh"},
		{name: "unknown lang query ignored", query: "lang=fr", accept: "en", want: "en"},
		{name: "unknown lang query defaults", query: "lang=EN", want: "zh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/?"+tt.query, nil)
			if tt.accept != "" {
				r.Header.Set("Accept-Language", tt.accept)
			}
			if got := httpx.Lang(r); got != tt.want {
				t.Errorf("Lang(query %q, Accept-Language %q) = %q, want %q", tt.query, tt.accept, got, tt.want)
			}
		})
	}
}

func FuzzLang(f *testing.F) {
	for _, seed := range []struct{ query, accept string }{
		{"", ""},
		{"lang=en", ""},
		{"lang=zh&lang=en", "en"},
		{"", "en-US,en;q=0.9"},
		{"", "zh-CN,zh;q=0.9,en;q=0.8"},
		{"", "x-klingon;q=1.5, en;q=-1"},
		{"%zz", "*;q=0"},
	} {
		f.Add(seed.query, seed.accept)
	}

	f.Fuzz(func(t *testing.T, query, accept string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = query
		r.Header.Set("Accept-Language", accept)
		if got := httpx.Lang(r); got != "zh" && got != "en" {
			t.Fatalf("Lang(query %q, Accept-Language %q) = %q, want zh or en", query, accept, got)
		}
	})
}

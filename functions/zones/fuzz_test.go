package zones

import (
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPageQuery checks that the hand-written query scanner of the page
// route reads the channel exactly as url.Values does.
func FuzzPageQuery(f *testing.F) {
	for _, seed := range []string{"channel=wechat", "lang=en&channel=alipay", "channel=", "channel=h5&channel=app",
		"channel=we%63hat", "a=1;channel=baidu", "channel", "&&channel=app&", "channel=wechat+x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u := &url.URL{Path: "/zones/z1/page", RawQuery: raw}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL = u

		want, parseErr := url.ParseQuery(raw)
		ch, err := pageChannel(r)
		if parseErr != nil {
			return
		}
		wantValid := validChannel(Channel(want.Get("channel")))
		if (err == nil) != wantValid {
			t.Fatalf("pageChannel(%q) = %q, %v; url.Values has %q", raw, ch, err, want.Get("channel"))
		}
		if err == nil && string(ch) != want.Get("channel") {
			t.Fatalf("pageChannel(%q) = %q, want %q", raw, ch, want.Get("channel"))
		}
	})
}

// FuzzETagMatches checks that any list holding the ETag matches and that
// the parser never panics.
func FuzzETagMatches(f *testing.F) {
	for _, seed := range []string{`"abc"`, `W/"abc"`, `"x", "abc"`, `*`, ``, `,,,`, `"abc`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		const etag = `"0123456789abcdef0123456789abcdef"`
		_ = etagMatches(header, etag)
		if !etagMatches(header+", "+etag, etag) {
			t.Fatalf("etagMatches(%q + the etag) = false", header)
		}
	})
}

// FuzzSearchQuery checks that query normalisation never keeps the term
// separator and that the compact form is plain ASCII.
func FuzzSearchQuery(f *testing.F) {
	for _, seed := range []string{"hunyu", "进京证", "a|b", "%_\\", "  HY  ", "\xff"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, q string) {
		sq := parseSearchQuery(q)
		if strings.Contains(sq.Text, termSeparator) || strings.Contains(sq.Compact, termSeparator) {
			t.Fatalf("parseSearchQuery(%q) = %+v keeps the separator", q, sq)
		}
		for _, r := range sq.Compact {
			if r >= utf8.RuneSelf || r == ' ' {
				t.Fatalf("parseSearchQuery(%q).Compact = %q, want ASCII letters and digits", q, sq.Compact)
			}
		}
		_, _, _, _ = pinyinForms(q)
	})
}

// FuzzValidSlug checks that validSlug accepts exactly what the regexp it
// replaces accepts.
func FuzzValidSlug(f *testing.F) {
	want := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	for _, seed := range []string{"life-marriage", "a", "ab", "-ab", "a-", "A1", "z" + strings.Repeat("9", 62),
		"z" + strings.Repeat("9", 63), "婚育", "a\x00b", "a/b", "a\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got := validSlug(v); got != want.MatchString(v) {
			t.Errorf("validSlug(%q) = %v, regexp says %v", v, got, !got)
		}
	})
}

package zones

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store/storetest"
)

// Messages of a version number above math.MaxInt64.
const (
	tooLargeZH = "数值过大，最大为 9223372036854775807"
	tooLargeEN = "is too large; the maximum is 9223372036854775807"
)

// int64RangeText is the lower bound of the int64 range, which a message
// about a version that is too large has no reason to show.
const int64RangeText = "-9223372036854775808"

var languages = []struct{ header, tooLarge string }{
	{"zh-CN", tooLargeZH},
	{"en", tooLargeEN},
}

func TestBodyVersionTooLarge(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		zone := zoneBody("life-marriage")
		zone["version"] = json.Number("9223372036854775808")

		for _, tt := range []struct {
			name, method, path string
			body               any
			field              string
		}{
			{"zone update", http.MethodPut, "/admin/zones/life-marriage", zone, "/version"},
			{"zone publish", http.MethodPost, "/admin/zones/life-marriage/publish", `{"version": 9223372036854775808}`, "/version"},
			{"service unpublish", http.MethodPost, "/admin/services/marriage-registration-booking/unpublish", `{"version": 1e30}`, "/version"},
			{"zone services", http.MethodPut, "/admin/zones/life-marriage/services", `{"services": [], "version": 99999999999999999999}`, "/version"},
			{"draft save", http.MethodPut, "/admin/zones/life-marriage/page", `{"version": 9223372036854775808, "document": {}}`, "/version"},
			{"page publish", http.MethodPost, "/admin/zones/life-marriage/page/publish", `{"version": 1e1000000000}`, "/version"},
			{"rounded exponent", http.MethodPost, "/admin/zones/life-marriage/page/publish", `{"version": 1e100}`, "/version"},
			{"fraction", http.MethodPost, "/admin/zones/life-marriage/page/publish", `{"version": 9223372036854775808.5}`, "/version"},
			{"rollback to", http.MethodPost, "/admin/zones/life-marriage/page/rollback", `{"version": 1, "to": 9223372036854775808}`, "/to"},
			{"key in other case", http.MethodPost, "/admin/zones/life-marriage/page/rollback", `{"Version": 9223372036854775808, "to": 1}`, "/Version"},
		} {
			for _, lang := range languages {
				w := e.do(request{method: tt.method, path: tt.path, body: tt.body, admin: true,
					headers: map[string]string{"Accept-Language": lang.header}})
				body := expectError(t, w, http.StatusBadRequest, "INVALID_REQUEST")
				if got := detailPaths(body); !slices.Equal(got, []string{tt.field}) {
					t.Errorf("%s (%s): detail paths %v, want [%s]", tt.name, lang.header, got, tt.field)
					continue
				}
				d := body.Error.Details[0]
				if d.Reason != "out_of_range" {
					t.Errorf("%s (%s): reason %q, want out_of_range", tt.name, lang.header, d.Reason)
				}
				if d.Message != lang.tooLarge {
					t.Errorf("%s (%s): message %q, want %q", tt.name, lang.header, d.Message, lang.tooLarge)
				}
			}
		}
	})
}

func TestBodyVersionBelowInt64(t *testing.T) {
	e := newSeededEnv(t, storetest.OpenSQLite(t))
	for _, lang := range []struct{ header, want string }{{"zh", "数值过小，最小为 "}, {"en", "is too small; the minimum is "}} {
		w := e.do(request{method: http.MethodPost, path: "/admin/zones/life-marriage/page/publish",
			body: `{"version": -9223372036854775809}`, admin: true, headers: map[string]string{"Accept-Language": lang.header}})
		body := expectError(t, w, http.StatusBadRequest, "INVALID_REQUEST")
		if len(body.Error.Details) != 1 {
			t.Fatalf("%s: details %+v, want one", lang.header, body.Error.Details)
		}
		d := body.Error.Details[0]
		if d.Path != "/version" {
			t.Errorf("%s: detail path %q, want /version", lang.header, d.Path)
		}
		if d.Reason != "out_of_range" {
			t.Errorf("%s: reason %q, want out_of_range", lang.header, d.Reason)
		}
		if !strings.HasPrefix(d.Message, lang.want) {
			t.Errorf("%s: message %q, want it to start with %q", lang.header, d.Message, lang.want)
		}
	}
}

// TestBodyVersionOtherProblemsKept checks that only a number beyond the
// range gets the too-large detail: other values keep their own problems.
func TestBodyVersionOtherProblemsKept(t *testing.T) {
	e := newSeededEnv(t, storetest.OpenSQLite(t))
	en := map[string]string{"Accept-Language": "en"}
	publish := func(body string) errorBody {
		t.Helper()
		w := e.do(request{method: http.MethodPost, path: "/admin/zones/life-marriage/page/publish", body: body, admin: true, headers: en})
		return expectError(t, w, http.StatusBadRequest, "INVALID_REQUEST")
	}

	for _, body := range []string{`{"version": 1.5}`, `{"version": "9223372036854775808"}`, `{"version": true}`} {
		got := publish(body)
		if len(got.Error.Details) != 1 || got.Error.Details[0].Reason != "invalid_type" {
			t.Errorf("%s: details %+v, want one invalid_type", body, got.Error.Details)
		}
	}

	// A repeated key: each value keeps its own problem, in body order.
	got := publish(`{"version": "x", "version": 9223372036854775808}`)
	var reasons, messages []string
	for _, d := range got.Error.Details {
		reasons = append(reasons, d.Reason)
		messages = append(messages, d.Message)
	}
	if want := []string{"invalid_type", "duplicate_key", "out_of_range"}; !slices.Equal(reasons, want) {
		t.Fatalf("repeated version: reasons %v, want %v", reasons, want)
	}
	if messages[0] == tooLargeEN {
		t.Errorf("repeated version: the string value got the too-large message")
	}
	if messages[2] != tooLargeEN {
		t.Errorf("repeated version: last message %q, want %q", messages[2], tooLargeEN)
	}
}

func TestBodyVersionMaximumAccepted(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		w := e.admin(http.MethodPost, "/admin/zones/life-marriage/page/publish", `{"version": 9223372036854775807}`)
		expectError(t, w, http.StatusConflict, "VERSION_CONFLICT")
		w = e.admin(http.MethodPost, "/admin/zones/life-marriage/publish", `{"version": 9223372036854775807}`)
		expectError(t, w, http.StatusConflict, "VERSION_CONFLICT")
	})
}

func TestQueryVersionTooLarge(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		for _, lang := range languages {
			w := e.do(request{method: http.MethodDelete, path: "/admin/services/marriage-registration-booking?version=9223372036854775808",
				admin: true, headers: map[string]string{"Accept-Language": lang.header}})
			body := expectError(t, w, http.StatusBadRequest, "INVALID_REQUEST")
			if len(body.Error.Details) != 1 {
				t.Fatalf("%s: details %+v, want one", lang.header, body.Error.Details)
			}
			d := body.Error.Details[0]
			if d.Path != "version" {
				t.Errorf("%s: detail path %q, want version", lang.header, d.Path)
			}
			if d.Reason != "out_of_range" {
				t.Errorf("%s: reason %q, want out_of_range", lang.header, d.Reason)
			}
			if d.Message != lang.tooLarge {
				t.Errorf("%s: message %q, want %q", lang.header, d.Message, lang.tooLarge)
			}
		}

		// A negative value below the int64 range is not a positive integer.
		w := e.do(request{method: http.MethodDelete, path: "/admin/services/marriage-registration-booking?version=-9223372036854775809",
			admin: true, headers: map[string]string{"Accept-Language": "en"}})
		body := expectError(t, w, http.StatusBadRequest, "INVALID_REQUEST")
		if len(body.Error.Details) != 1 {
			t.Fatalf("negative query version: details %+v, want one", body.Error.Details)
		}
		if got := body.Error.Details[0].Message; got != "must be a positive integer" {
			t.Errorf("negative query version: message %q, want must be a positive integer", got)
		}
	})
}

func TestPathVersionTooLarge(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		e := newSeededEnv(t, db)
		long := "1" + strings.Repeat("0", 99)
		for _, tt := range []struct {
			version, zh, en string
		}{
			{"9223372036854775808",
				`专区 "life-marriage" 的页面没有版本 9223372036854775808（版本号过大，最大为 9223372036854775807）`,
				`the page of zone "life-marriage" has no version 9223372036854775808 (too large; the maximum version is 9223372036854775807)`},
			{long,
				`专区 "life-marriage" 的页面没有版本 ` + long[:64] + `…（版本号过大，最大为 9223372036854775807）`,
				`the page of zone "life-marriage" has no version ` + long[:64] + `… (too large; the maximum version is 9223372036854775807)`},
			{"9223372036854775807",
				`专区 "life-marriage" 的页面没有版本 9223372036854775807`,
				`the page of zone "life-marriage" has no version 9223372036854775807`},
			{"09223372036854775808",
				`专区 "life-marriage" 的页面没有版本 "09223372036854775808"`,
				`the page of zone "life-marriage" has no version "09223372036854775808"`},
			{"-9223372036854775809",
				`专区 "life-marriage" 的页面没有版本 "-9223372036854775809"`,
				`the page of zone "life-marriage" has no version "-9223372036854775809"`},
		} {
			for _, lang := range []struct{ header, want string }{{"zh", tt.zh}, {"en", tt.en}} {
				w := e.do(request{method: http.MethodGet, path: "/admin/zones/life-marriage/page/versions/" + tt.version,
					admin: true, headers: map[string]string{"Accept-Language": lang.header}})
				body := expectError(t, w, http.StatusNotFound, "PAGE_VERSION_NOT_FOUND")
				if body.Error.Message != lang.want {
					t.Errorf("version %s (%s): message %q, want %q", tt.version, lang.header, body.Error.Message, lang.want)
				}
			}
		}
	})
}

// TestVersionMessagesHideInt64Range checks every way a too-large version
// reaches the function, in both languages, for the Go type's range in the
// response.
func TestVersionMessagesHideInt64Range(t *testing.T) {
	e := newSeededEnv(t, storetest.OpenSQLite(t))
	for _, r := range []request{
		{method: http.MethodPost, path: "/admin/zones/life-marriage/page/publish", body: `{"version": 9223372036854775808}`},
		{method: http.MethodPost, path: "/admin/zones/life-marriage/page/rollback", body: `{"version": 1e19, "to": 1e19}`},
		{method: http.MethodDelete, path: "/admin/zones/life-marriage?version=9223372036854775808"},
		{method: http.MethodGet, path: "/admin/zones/life-marriage/page/versions/9223372036854775808"},
	} {
		for _, lang := range []string{"zh", "en"} {
			r.admin = true
			r.headers = map[string]string{"Accept-Language": lang}
			w := e.do(r)
			if w.Code < 400 {
				t.Errorf("%s %s (%s): status %d, want an error", r.method, r.path, lang, w.Code)
			}
			if strings.Contains(w.Body.String(), int64RangeText) {
				t.Errorf("%s %s (%s): response names the int64 range: %s", r.method, r.path, lang, w.Body.String())
			}
		}
	}
}

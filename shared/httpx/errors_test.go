package httpx_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jingtong/backend/shared/httpx"
)

func TestNewCode_reregistration(t *testing.T) {
	t.Parallel()

	first := httpx.NewCode("TEST_REREGISTER", http.StatusTeapot, "茶壶 %d", "teapot %d")
	same := httpx.NewCode("TEST_REREGISTER", http.StatusTeapot, "茶壶 %d", "teapot %d")
	if same != first {
		t.Fatalf("identical re-registration = %+v, want %+v", same, first)
	}

	tests := []struct {
		name   string
		status int
		zh, en string
	}{
		{name: "different status panics", status: http.StatusConflict, zh: "茶壶 %d", en: "teapot %d"},
		{name: "different Chinese message panics", status: http.StatusTeapot, zh: "水壶 %d", en: "teapot %d"},
		{name: "different English message panics", status: http.StatusTeapot, zh: "茶壶 %d", en: "kettle %d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := recoverValue(func() { httpx.NewCode("TEST_REREGISTER", tt.status, tt.zh, tt.en) })
			msg, ok := got.(string)
			if !ok {
				t.Fatalf("panic value = %#v, want a string", got)
			}
			if !strings.HasPrefix(msg, "httpx: ") {
				t.Errorf("panic message = %q, want the httpx: prefix", msg)
			}
			if !strings.Contains(msg, `"TEST_REREGISTER"`) {
				t.Errorf("panic message = %q, want the quoted code", msg)
			}
		})
	}

	// The registry must still hold the first registration.
	for _, c := range httpx.Codes() {
		if c.ID == "TEST_REREGISTER" && c != first {
			t.Errorf("registry entry after rejected re-registration = %+v, want %+v", c, first)
		}
	}
}

func TestCodes_sortedByID(t *testing.T) {
	t.Parallel()

	httpx.NewCode("TEST_SORT_Z", http.StatusBadRequest, "z", "z")
	httpx.NewCode("TEST_SORT_A", http.StatusBadRequest, "a", "a")

	codes := httpx.Codes()
	ids := make([]string, len(codes))
	for i, c := range codes {
		ids[i] = c.ID
	}
	if !slices.IsSorted(ids) {
		t.Errorf("Codes() ids = %v, want sorted", ids)
	}
	for _, want := range []string{"INTERNAL", "TEST_SORT_A", "TEST_SORT_Z"} {
		if !slices.Contains(ids, want) {
			t.Errorf("Codes() ids = %v, want %s among them", ids, want)
		}
	}
}

// formatVerb matches one fmt verb with its flags, width and precision. It
// matches "%%" too, so callers skip that.
var formatVerb = regexp.MustCompile(`%[-+# 0]*[0-9]*(?:\.[0-9]*)?[a-zA-Z%]`)

func formatVerbs(format string) []string {
	var verbs []string
	for _, v := range formatVerb.FindAllString(format, -1) {
		if v != "%%" {
			verbs = append(verbs, v)
		}
	}
	return verbs
}

func TestCodes_templatesTakeSameArguments(t *testing.T) {
	t.Parallel()

	for _, c := range httpx.Codes() {
		zh, en := formatVerbs(c.ZH), formatVerbs(c.EN)
		if !slices.Equal(zh, en) {
			t.Errorf("code %s: Chinese verbs %q, English verbs %q, want the same sequence", c.ID, zh, en)
		}
		if c.Status < 400 || c.Status > 599 {
			t.Errorf("code %s: status %d, want 4xx or 5xx", c.ID, c.Status)
		}
	}
}

func TestError_messageByLanguage(t *testing.T) {
	t.Parallel()

	e := httpx.E(httpx.CodeVersionConflict, 7)
	tests := []struct {
		name string
		lang string
		want string
	}{
		{name: "zh renders Chinese", lang: "zh", want: "数据已被他人修改（当前版本 7），请刷新后重试"},
		{name: "en renders English", lang: "en", want: "the record was changed by someone else (current version 7); reload and try again"},
		{name: "unknown language renders Chinese", lang: "fr", want: "数据已被他人修改（当前版本 7），请刷新后重试"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := e.Message(tt.lang); got != tt.want {
				t.Errorf("Message(%q) = %q, want %q", tt.lang, got, tt.want)
			}
		})
	}
}

func TestError_errorAndUnwrap(t *testing.T) {
	t.Parallel()

	cause := errors.New("disk full")
	e := httpx.Wrap(httpx.CodeInternal, cause, "req-1")

	if got, want := e.Error(), "INTERNAL: internal server error; try again later, and quote request id req-1 if it persists: disk full"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, cause) {
		t.Errorf("errors.Is(%v, cause) = false, want true", e)
	}
	if got := httpx.E(httpx.CodeNotFound).Unwrap(); got != nil {
		t.Errorf("Unwrap() without cause = %v, want nil", got)
	}
}

func TestAsError_mapsErrors(t *testing.T) {
	t.Parallel()

	notFound := httpx.E(httpx.CodeNotFound)
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantSame bool
	}{
		{name: "Error passes through", err: notFound, wantCode: "NOT_FOUND", wantSame: true},
		{name: "wrapped Error is found", err: fmt.Errorf("loading zone: %w", notFound), wantCode: "NOT_FOUND", wantSame: true},
		{name: "plain error becomes internal", err: io.ErrUnexpectedEOF, wantCode: "INTERNAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := httpx.AsError(tt.err)
			if got.Code.ID != tt.wantCode {
				t.Errorf("AsError(%v).Code.ID = %q, want %q", tt.err, got.Code.ID, tt.wantCode)
			}
			if tt.wantSame && got != notFound {
				t.Errorf("AsError(%v) = %p, want the original %p", tt.err, got, notFound)
			}
			if !tt.wantSame && !errors.Is(got, tt.err) {
				t.Errorf("AsError(%v) lost its cause", tt.err)
			}
		})
	}
}

// recoverValue calls f and returns the value it panicked with, or nil.
func recoverValue(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

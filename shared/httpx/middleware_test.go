package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/jingtong/backend/shared/httpx"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestIDs_incomingHeader(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{name: "valid id kept", incoming: "gw-2024.06_01-abc", keep: true},
		{name: "64-character id kept", incoming: strings.Repeat("a", 64), keep: true},
		{name: "API Gateway base64 id kept", incoming: "LV7fzho-PHcEJPw=", keep: true},
		{name: "missing id generated", incoming: ""},
		{name: "65-character id replaced", incoming: strings.Repeat("a", 65)},
		{name: "100-character id replaced", incoming: strings.Repeat("b", 100)},
		{name: "id with space replaced", incoming: "abc def"},
		{name: "id with newline replaced", incoming: "abc\ndef"},
		{name: "id with slash replaced", incoming: "abc/def"},
		{name: "non-ASCII id replaced", incoming: "请求-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var seen string
			h := httpx.RequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = httpx.RequestID(r.Context())
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.incoming != "" {
				r.Header[httpx.RequestIDHeader] = []string{tt.incoming}
			}

			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			echoed := rec.Header().Get(httpx.RequestIDHeader)
			if echoed != seen {
				t.Errorf("response header %q, context id %q, want the same", echoed, seen)
			}
			if tt.keep && seen != tt.incoming {
				t.Errorf("context id = %q, want the incoming %q", seen, tt.incoming)
			}
			if !tt.keep && !generatedID.MatchString(seen) {
				t.Errorf("context id = %q, want 32 generated hex digits", seen)
			}
		})
	}
}

func TestNewRequestID_unique(t *testing.T) {
	t.Parallel()

	seen := map[string]bool{}
	for range 1000 {
		id := httpx.NewRequestID()
		if !generatedID.MatchString(id) {
			t.Fatalf("NewRequestID() = %q, want 32 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("NewRequestID() repeated %q", id)
		}
		seen[id] = true
	}
}

func TestRequestID_emptyContext(t *testing.T) {
	t.Parallel()

	if got := httpx.RequestID(context.Background()); got != "" {
		t.Errorf("RequestID(empty context) = %q, want empty", got)
	}
}

func TestRecover_panicBecomes500(t *testing.T) {
	t.Parallel()

	const panicText = "index out of range in secret ledger"
	tests := []struct {
		name  string
		value any
	}{
		{name: "string panic value", value: panicText},
		{name: "error panic value", value: &panicError{panicText}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, nil))
			h := httpx.RequestIDs(httpx.Recover(logger)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				panic(tt.value)
			})))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set(httpx.RequestIDHeader, "req-panic-1")

			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status = %d, want %d", rec.Code, http.StatusInternalServerError)
			}
			if strings.Contains(rec.Body.String(), "secret ledger") {
				t.Errorf("body %q contains the panic text", rec.Body.String())
			}
			body := decodeErrorBody(t, rec)
			if body.Error.Code != "INTERNAL" {
				t.Errorf("code = %q, want INTERNAL", body.Error.Code)
			}
			if body.Error.RequestID != "req-panic-1" {
				t.Errorf("request_id = %q, want req-panic-1", body.Error.RequestID)
			}
			if !strings.Contains(logs.String(), "secret ledger") {
				t.Errorf("log = %q, want the panic value", logs.String())
			}
			if !strings.Contains(logs.String(), "req-panic-1") {
				t.Errorf("log = %q, want the request id", logs.String())
			}
		})
	}
}

func TestRecover_nilLogger(t *testing.T) {
	t.Parallel()

	h := httpx.Recover(nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	rec := httptest.NewRecorder()
	if v := recoverValue(func() { h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil)) }); v != nil {
		t.Fatalf("Recover(nil) panicked with %v, want a 500 response", v)
	}
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want %d", rec.Code, http.StatusInternalServerError)
	}
}

func TestRecover_abortHandlerRepanics(t *testing.T) {
	t.Parallel()

	h := httpx.Recover(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	rec := httptest.NewRecorder()
	got := recoverValue(func() { h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil)) })

	if err, _ := got.(error); !errors.Is(err, http.ErrAbortHandler) {
		t.Errorf("recovered %v, want http.ErrAbortHandler", got)
	}
	if rec.Body.Len() != 0 {
		t.Errorf("body = %q, want nothing written", rec.Body.String())
	}
}

func TestRecover_noPanicPassesThrough(t *testing.T) {
	t.Parallel()

	h := httpx.Recover(slog.New(slog.DiscardHandler))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))

	if rec.Code != http.StatusAccepted {
		t.Errorf("status = %d, want %d", rec.Code, http.StatusAccepted)
	}
}

func TestLimitBody_contentLength(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantCalled bool
	}{
		{name: "body at limit reaches handler", body: strings.Repeat("a", 8), wantStatus: http.StatusNoContent, wantCalled: true},
		{name: "longer body rejected early", body: strings.Repeat("a", 9), wantStatus: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			called := false
			h := httpx.LimitBody(8)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				called = true
				w.WriteHeader(http.StatusNoContent)
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body)))

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if called != tt.wantCalled {
				t.Errorf("handler called = %t, want %t", called, tt.wantCalled)
			}
		})
	}
}

type panicError struct{ msg string }

func (e *panicError) Error() string { return e.msg }

func TestLimitHeaders(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		path       string
		header     string
		lang       string
		wantStatus int
		wantText   string
	}{
		{name: "small request reaches handler", path: "/zones", wantStatus: http.StatusNoContent},
		{name: "long target rejected", path: "/zones?q=" + strings.Repeat("a", 300), wantStatus: http.StatusRequestHeaderFieldsTooLarge, wantText: "请求行和请求头超过 256 字节的上限"},
		{name: "long header rejected in English", path: "/zones", header: strings.Repeat("b", 300), lang: "en", wantStatus: http.StatusRequestHeaderFieldsTooLarge, wantText: "request line and headers exceed the limit of 256 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			called := false
			h := httpx.LimitHeaders(256)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				called = true
				w.WriteHeader(http.StatusNoContent)
			}))
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.header != "" {
				req.Header.Set("X-Filler", tt.header)
			}
			if tt.lang != "" {
				req.Header.Set("Accept-Language", tt.lang)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if called != (tt.wantStatus == http.StatusNoContent) {
				t.Errorf("handler called = %t", called)
			}
			if tt.wantText == "" {
				return
			}
			body := rec.Body.String()
			if !strings.Contains(body, `"code":"HEADERS_TOO_LARGE"`) || !strings.Contains(body, tt.wantText) {
				t.Errorf("body = %s, want HEADERS_TOO_LARGE with %q", body, tt.wantText)
			}
			if id := rec.Header().Get(httpx.RequestIDHeader); !generatedID.MatchString(id) {
				t.Errorf("X-Request-Id = %q, want a generated id", id)
			}
		})
	}
}

// TestHeaderBytes_matchesWire checks the count against the bytes of the
// same request as net/http writes it.
func TestHeaderBytes_matchesWire(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest(http.MethodGet, "/api/zones/zones?kind=life&lang=en", nil)
	req.Host = "example.test"
	req.Header.Set("Accept-Language", "en")
	req.Header.Add("X-Multi", "one")
	req.Header.Add("X-Multi", "two")
	req.Header.Set("User-Agent", "jingtong-test")

	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		t.Fatal(err)
	}
	if got, want := httpx.HeaderBytes(req, 1<<20), wire.Len(); got != want {
		t.Errorf("HeaderBytes = %d, want %d (the request as written:\n%s)", got, want, wire.String())
	}
	if got := httpx.HeaderBytes(req, 10); got <= 10 {
		t.Errorf("HeaderBytes with limit 10 = %d, want a count past the limit", got)
	}
}

// TestHeaderBytes_absoluteForm checks that an absolute-form target, whose
// host net/http takes for r.Host, counts the host once.
func TestHeaderBytes_absoluteForm(t *testing.T) {
	t.Parallel()
	host := strings.Repeat("h", 1000) + ".example"
	origin := httptest.NewRequest(http.MethodGet, "/zones", nil)
	origin.Host = host
	absolute := httptest.NewRequest(http.MethodGet, "http://"+host+"/zones", nil)
	if got, want := httpx.HeaderBytes(absolute, 1<<20), httpx.HeaderBytes(origin, 1<<20)+len("http://")-len("Host: \r\n"); got != want {
		t.Errorf("absolute form = %d bytes, want %d (the origin form with the host in the target instead of a Host line)", got, want)
	}
}

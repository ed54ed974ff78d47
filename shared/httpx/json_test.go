package httpx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jingtong/backend/shared/httpx"
)

// zoneRequest is a typical request body for DecodeJSON.
type zoneRequest struct {
	Name   string   `json:"name"`
	Floors int      `json:"floors"`
	Tags   []string `json:"tags"`
}

func TestWriteJSON_response(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		status     int
		value      any
		wantStatus int
		wantBody   string
	}{
		{name: "object with status", status: http.StatusCreated, value: map[string]string{"name": "东城"}, wantStatus: http.StatusCreated, wantBody: `{"name":"东城"}` + "\n"},
		{name: "HTML left unescaped", status: http.StatusOK, value: "<a&b>", wantStatus: http.StatusOK, wantBody: `"<a&b>"` + "\n"},
		{name: "unencodable value gives 500", status: http.StatusOK, value: make(chan int), wantStatus: http.StatusInternalServerError, wantBody: `{"error":{"code":"INTERNAL","message":"internal server error"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			httpx.WriteJSON(rec, tt.status, tt.value)

			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			if got, want := rec.Header().Get("Content-Type"), "application/json; charset=utf-8"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if got, want := rec.Header().Get("Content-Length"), strconv.Itoa(len(tt.wantBody)); got != want {
				t.Errorf("Content-Length = %q, want %q", got, want)
			}
		})
	}
}

func TestWriteError_messageLanguage(t *testing.T) {
	t.Parallel()

	const (
		zh       = "数据已被他人修改（当前版本 7），请刷新后重试"
		en       = "the record was changed by someone else (current version 7); reload and try again"
		detailZH = "名称不能为空"
		detailEN = "name is required"
	)
	tests := []struct {
		name       string
		target     string
		accept     string
		want       string
		wantDetail string
	}{
		{name: "no header gives Chinese", target: "/", want: zh, wantDetail: detailZH},
		{name: "en header gives English", target: "/", accept: "en", want: en, wantDetail: detailEN},
		{name: "weighted English list gives English", target: "/", accept: "en-US,en;q=0.9", want: en, wantDetail: detailEN},
		{name: "Chinese before English gives Chinese", target: "/", accept: "zh-CN,zh;q=0.9,en;q=0.8", want: zh, wantDetail: detailZH},
		{name: "lang query gives English", target: "/?lang=en", accept: "zh-CN", want: en, wantDetail: detailEN},
		{name: "lang query gives Chinese", target: "/?lang=zh", accept: "en", want: zh, wantDetail: detailZH},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPut, tt.target, nil)
			if tt.accept != "" {
				r.Header.Set("Accept-Language", tt.accept)
			}
			err := httpx.E(httpx.CodeVersionConflict, 7).
				WithDetails(httpx.Detail{Path: "/name", Reason: "required", ZH: detailZH, EN: detailEN})

			rec := httptest.NewRecorder()
			httpx.WriteError(rec, r, nil, err)

			body := decodeErrorBody(t, rec)
			if body.Error.Message != tt.want {
				t.Errorf("message = %q, want %q", body.Error.Message, tt.want)
			}
			if len(body.Error.Details) != 1 {
				t.Fatalf("details = %+v, want one", body.Error.Details)
			}
			if got := body.Error.Details[0].Message; got != tt.wantDetail {
				t.Errorf("detail message = %q, want %q", got, tt.wantDetail)
			}
		})
	}
}

func TestWriteError_bodyShape(t *testing.T) {
	t.Parallel()

	r := httptest.NewRequest(http.MethodPost, "/?lang=en", nil)
	r = r.WithContext(httpx.WithRequestID(r.Context(), "req-shape-1"))
	err := httpx.E(httpx.CodeInvalidRequest).WithDetails(
		httpx.Detail{Path: "/name", Reason: "required", ZH: "名称不能为空", EN: "name is required"},
		httpx.Detail{Path: "floors", Reason: "out_of_range", ZH: "楼层超出范围", EN: "floors is out of range"},
	)

	rec := httptest.NewRecorder()
	httpx.WriteError(rec, r, nil, err)

	if rec.Code != http.StatusBadRequest {
		t.Errorf("status = %d, want %d", rec.Code, http.StatusBadRequest)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatalf("decode body %q: %v", rec.Body.String(), err)
	}
	if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, []string{"error"}) {
		t.Errorf("top-level keys = %v, want [error]", got)
	}
	payload := raw["error"]
	if got, want := slices.Sorted(maps.Keys(payload)), []string{"code", "details", "message", "request_id"}; !slices.Equal(got, want) {
		t.Errorf("error keys = %v, want %v", got, want)
	}

	want := map[string]any{
		"code":       "INVALID_REQUEST",
		"message":    "invalid request; fix the fields listed in details",
		"request_id": "req-shape-1",
		"details": []any{
			map[string]any{"path": "/name", "reason": "required", "message": "name is required"},
			map[string]any{"path": "floors", "reason": "out_of_range", "message": "floors is out of range"},
		},
	}
	for key, w := range want {
		if got := fmt.Sprint(payload[key]); got != fmt.Sprint(w) {
			t.Errorf("error.%s = %s, want %s", key, got, fmt.Sprint(w))
		}
	}
}

func TestWriteError_omitsEmptyFields(t *testing.T) {
	t.Parallel()

	rec := httptest.NewRecorder()
	httpx.WriteError(rec, httptest.NewRequest(http.MethodGet, "/?lang=en", nil), nil, httpx.E(httpx.CodeNotFound))

	if got, want := rec.Body.String(), `{"error":{"code":"NOT_FOUND","message":"no such path"}}`+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

func TestWriteError_hidesInternalErrors(t *testing.T) {
	t.Parallel()

	const secret = "dial tcp 10.0.0.5:5432: password authentication failed for user zones_rw"
	cause := errors.New(secret)
	tests := []struct {
		name string
		err  error
	}{
		{name: "plain error", err: cause},
		{name: "wrapped plain error", err: fmt.Errorf("loading zones: %w", cause)},
		{name: "internal Error with cause", err: httpx.Wrap(httpx.CodeInternal, cause)},
		{name: "wrapped internal Error", err: fmt.Errorf("handler: %w", httpx.Wrap(httpx.CodeInternal, cause))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			r := httptest.NewRequest(http.MethodGet, "/?lang=en", nil)
			r = r.WithContext(httpx.WithRequestID(r.Context(), "req-internal-42"))

			rec := httptest.NewRecorder()
			httpx.WriteError(rec, r, logger, tt.err)

			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status = %d, want %d", rec.Code, http.StatusInternalServerError)
			}
			raw := rec.Body.String()
			for _, leak := range []string{"10.0.0.5", "password", "zones_rw", "loading zones"} {
				if strings.Contains(raw, leak) {
					t.Errorf("body %q contains internal text %q", raw, leak)
				}
			}
			body := decodeErrorBody(t, rec)
			if body.Error.Code != "INTERNAL" {
				t.Errorf("code = %q, want INTERNAL", body.Error.Code)
			}
			if body.Error.RequestID != "req-internal-42" {
				t.Errorf("request_id = %q, want req-internal-42", body.Error.RequestID)
			}
			if !strings.Contains(body.Error.Message, "req-internal-42") {
				t.Errorf("message = %q, want it to quote the request id", body.Error.Message)
			}
			if !strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("log = %q, want an ERROR record", logs.String())
			}
			if !strings.Contains(logs.String(), secret) {
				t.Errorf("log = %q, want the cause in it", logs.String())
			}
		})
	}
}

func TestWriteError_clientErrorLogLevel(t *testing.T) {
	t.Parallel()

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), logger, httpx.E(httpx.CodeNotFound))

	if !strings.Contains(logs.String(), `"level":"DEBUG"`) {
		t.Errorf("log = %q, want a DEBUG record", logs.String())
	}
}

func TestWriteError_allowHeader(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		allow string
		want  string
	}{
		{name: "missing Allow gets default", want: "GET, HEAD"},
		{name: "handler Allow is kept", allow: "POST", want: "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			if tt.allow != "" {
				rec.Header().Set("Allow", tt.allow)
			}
			httpx.WriteError(rec, httptest.NewRequest(http.MethodDelete, "/", nil), nil, httpx.E(httpx.CodeMethodNotAllowed, "DELETE"))

			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("status = %d, want %d", rec.Code, http.StatusMethodNotAllowed)
			}
			if got := rec.Header().Get("Allow"); got != tt.want {
				t.Errorf("Allow = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeJSON_requests(t *testing.T) {
	t.Parallel()

	const limit = 64
	atLimit := `{"name":"` + strings.Repeat("a", limit-11) + `"}`
	overLimit := `{"name":"` + strings.Repeat("a", limit-10) + `"}`
	if len(atLimit) != limit || len(overLimit) != limit+1 {
		t.Fatalf("body sizes %d and %d, want %d and %d", len(atLimit), len(overLimit), limit, limit+1)
	}

	tests := []struct {
		name        string
		contentType string
		body        string
		chunked     bool // send without Content-Length, as a chunked body arrives
		wantStatus  int  // 0 means DecodeJSON returns nil
		wantCode    string
		wantText    string // part of the English message
	}{
		{name: "valid object decodes", contentType: "application/json", body: `{"name":"东城","floors":3,"tags":["a"]}`},
		{name: "charset parameter accepted", contentType: "application/json; charset=utf-8", body: `{"name":"x"}`},
		{name: "trailing whitespace accepted", contentType: "application/json", body: "{\"name\":\"x\"}\n\t "},
		{name: "body at limit accepted", contentType: "application/json", body: atLimit},
		{name: "chunked body at limit accepted", contentType: "application/json", body: atLimit, chunked: true},
		{name: "text/plain gives 415", contentType: "text/plain", body: `{"name":"x"}`, wantStatus: 415, wantCode: "UNSUPPORTED_MEDIA_TYPE", wantText: `"text/plain"`},
		{name: "missing content type gives 415", body: `{"name":"x"}`, wantStatus: 415, wantCode: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "JSON suffix type gives 415", contentType: "application/problem+json", body: `{"name":"x"}`, wantStatus: 415, wantCode: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "oversized body gives 413", contentType: "application/json", body: overLimit, wantStatus: 413, wantCode: "BODY_TOO_LARGE", wantText: "64 bytes"},
		{name: "oversized chunked body gives 413", contentType: "application/json", body: overLimit, chunked: true, wantStatus: 413, wantCode: "BODY_TOO_LARGE", wantText: "64 bytes"},
		{name: "syntax error gives 400", contentType: "application/json", body: `{"name" "x"}`, wantStatus: 400, wantCode: "INVALID_JSON", wantText: "syntax error at byte"},
		{name: "truncated body gives 400", contentType: "application/json", body: `{"name":`, wantStatus: 400, wantCode: "INVALID_JSON", wantText: "truncated body"},
		{name: "unknown field gives 400", contentType: "application/json", body: `{"title":"x"}`, wantStatus: 400, wantCode: "INVALID_JSON", wantText: `"title"`},
		{name: "wrong type gives 400", contentType: "application/json", body: `{"floors":"3"}`, wantStatus: 400, wantCode: "INVALID_JSON", wantText: `field "floors" must be int`},
		{name: "second value gives 400", contentType: "application/json", body: `{"name":"x"} {"name":"y"}`, wantStatus: 400, wantCode: "INVALID_JSON", wantText: "trailing data"},
		{name: "extra closing brace gives 400", contentType: "application/json", body: `{"name":"x"}}`, wantStatus: 400, wantCode: "INVALID_JSON", wantText: "trailing data"},
		{name: "extra closing bracket gives 400", contentType: "application/json", body: `{"name":"x"}]`, wantStatus: 400, wantCode: "INVALID_JSON", wantText: "trailing data"},
		{name: "empty body gives 400", contentType: "application/json", body: "", wantStatus: 400, wantCode: "INVALID_JSON", wantText: "empty body"},
		{name: "whitespace body gives 400", contentType: "application/json", body: " \n", wantStatus: 400, wantCode: "INVALID_JSON", wantText: "empty body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newBodyRequest(t, tt.contentType, tt.body, tt.chunked)

			var v zoneRequest
			err := httpx.DecodeJSON(r, &v, limit)

			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON(%q) = %v, want nil", tt.body, err)
				}
				return
			}
			var e *httpx.Error
			if !errors.As(err, &e) {
				t.Fatalf("DecodeJSON(%q) = %v, want an *httpx.Error", tt.body, err)
			}
			if e.Code.Status != tt.wantStatus {
				t.Errorf("status = %d, want %d", e.Code.Status, tt.wantStatus)
			}
			if e.Code.ID != tt.wantCode {
				t.Errorf("code = %q, want %q", e.Code.ID, tt.wantCode)
			}
			if msg := e.Message("en"); !strings.Contains(msg, tt.wantText) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantText)
			}
		})
	}
}

func TestDecodeJSON_fillsValue(t *testing.T) {
	t.Parallel()

	r := newBodyRequest(t, "application/json", `{"name":"东城","floors":3,"tags":["a","b"]}`, false)
	var got zoneRequest
	if err := httpx.DecodeJSON(r, &got, 0); err != nil {
		t.Fatalf("DecodeJSON: %v", err)
	}
	want := zoneRequest{Name: "东城", Floors: 3, Tags: []string{"a", "b"}}
	if got.Name != want.Name || got.Floors != want.Floors || !slices.Equal(got.Tags, want.Tags) {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
}

func TestDecodeJSON_defaultLimit(t *testing.T) {
	t.Parallel()

	big := `{"name":"` + strings.Repeat("a", httpx.DefaultMaxBody) + `"}`
	for _, chunked := range []bool{false, true} {
		r := newBodyRequest(t, "application/json", big, chunked)
		err := httpx.DecodeJSON(r, new(zoneRequest), 0)
		if got := httpx.AsError(err).Code.ID; got != "BODY_TOO_LARGE" {
			t.Errorf("chunked=%t: code = %q, want BODY_TOO_LARGE", chunked, got)
		}
	}
}

func TestLimitBody_withDecodeJSON(t *testing.T) {
	t.Parallel()

	const limit = 16
	handler := httpx.LimitBody(limit)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v zoneRequest
		if err := httpx.DecodeJSON(r, &v, 0); err != nil {
			httpx.WriteError(w, r, nil, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, v)
	}))

	tests := []struct {
		name       string
		body       string
		chunked    bool
		wantStatus int
	}{
		{name: "small body passes", body: `{"name":"x"}`, wantStatus: http.StatusOK},
		{name: "large body with length", body: `{"name":"xxxxxxxxxxxx"}`, wantStatus: http.StatusRequestEntityTooLarge},
		{name: "large chunked body", body: `{"name":"xxxxxxxxxxxx"}`, chunked: true, wantStatus: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newBodyRequest(t, "application/json", tt.body, tt.chunked)
			r.URL.RawQuery = "lang=en"

			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, r)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantStatus != http.StatusRequestEntityTooLarge {
				return
			}
			body := decodeErrorBody(t, rec)
			if body.Error.Code != "BODY_TOO_LARGE" {
				t.Errorf("code = %q, want BODY_TOO_LARGE", body.Error.Code)
			}
			if want := "limit of 16 bytes"; !strings.Contains(body.Error.Message, want) {
				t.Errorf("message = %q, want it to name %q", body.Error.Message, want)
			}
		})
	}
}

func TestDecodeJSON_chunkedOverServer(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != -1 {
			t.Errorf("ContentLength = %d, want -1 for a chunked request", r.ContentLength)
		}
		if err := httpx.DecodeJSON(r, new(zoneRequest), 32); err != nil {
			httpx.WriteError(w, r, nil, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	// A reader of unknown length makes the client send a chunked body.
	body := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("a", 64)+`"}`))
	resp, err := srv.Client().Post(srv.URL, "application/json", body)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want %d", resp.StatusCode, http.StatusRequestEntityTooLarge)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	seeds := []struct {
		contentType string
		body        string
		chunked     bool
	}{
		{"application/json", `{"name":"东城","floors":3,"tags":["a"]}`, false},
		{"application/json; charset=utf-8", `{"name":"x"}`, true},
		{"application/json", `{"name":"x"}}`, false},
		{"application/json", `{"floors":1e400}`, false},
		{"application/json", `{"tags":[null,"a"]}`, false},
		{"application/json", `null`, false},
		{"application/json", ``, true},
		{"application/json", "{\"name\":\"\xff\"}", false},
		{"text/plain", `{}`, false},
		{"application/json; charset", `{}`, false},
		{"", `{}`, false},
	}
	for _, s := range seeds {
		f.Add(s.contentType, []byte(s.body), s.chunked)
	}

	f.Fuzz(func(t *testing.T, contentType string, body []byte, chunked bool) {
		r := newBodyRequest(t, contentType, string(body), chunked)
		err := httpx.DecodeJSON(r, new(zoneRequest), 256)
		if err == nil {
			if !json.Valid(body) {
				t.Fatalf("DecodeJSON accepted %q, which is not one valid JSON value", body)
			}
			return
		}
		// DecodeJSON promises an unwrapped *httpx.Error, so errors.As would
		// accept more than the contract allows.
		e, ok := err.(*httpx.Error) //nolint:errorlint // the concrete type is the contract
		if !ok {
			t.Fatalf("DecodeJSON error %T (%v), want *httpx.Error", err, err)
		}
		if e.Code.Status < 400 || e.Code.Status > 499 {
			t.Fatalf("DecodeJSON status %d (%v), want 4xx", e.Code.Status, err)
		}
	})
}

// newBodyRequest returns a POST request with body. A chunked request has no
// Content-Length and a body of unknown size, as the server passes on a
// request sent with Transfer-Encoding: chunked.
func newBodyRequest(t testing.TB, contentType, body string, chunked bool) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if chunked {
		r.ContentLength = -1
		r.Body = io.NopCloser(io.MultiReader(strings.NewReader(body)))
	}
	return r
}

type errorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
		Details   []struct {
			Path    string `json:"path"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"details"`
	} `json:"error"`
}

// decodeErrorBody decodes an error response and checks its content type.
func decodeErrorBody(t testing.TB, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	if got, want := rec.Header().Get("Content-Type"), "application/json; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	var body errorBody
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("decode error body: %v", err)
	}
	return body
}

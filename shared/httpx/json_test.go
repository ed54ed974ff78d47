package httpx_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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
		{name: "unknown field gives 400", contentType: "application/json", body: `{"title":"x"}`, wantStatus: 400, wantCode: "INVALID_REQUEST", wantText: "fix the fields listed in details"},
		{name: "wrong type gives 400", contentType: "application/json", body: `{"floors":"3"}`, wantStatus: 400, wantCode: "INVALID_REQUEST", wantText: "fix the fields listed in details"},
		{name: "upper-case charset accepted", contentType: "application/json; charset=UTF-8", body: `{"name":"x"}`},
		{name: "quoted charset accepted", contentType: `application/json; charset="utf-8"`, body: `{"name":"x"}`},
		{name: "UTF-16 charset gives 415", contentType: "application/json; charset=utf-16", body: `{"name":"x"}`, wantStatus: 415, wantCode: "UNSUPPORTED_MEDIA_TYPE", wantText: "charset=utf-16"},
		{name: "GBK charset gives 415", contentType: "application/json; charset=GBK", body: `{"name":"x"}`, wantStatus: 415, wantCode: "UNSUPPORTED_MEDIA_TYPE", wantText: "charset=GBK"},
		{name: "invalid UTF-8 gives 400", contentType: "application/json", body: "{\"name\":\"\xd6\xd0\"}", wantStatus: 400, wantCode: "INVALID_JSON", wantText: "not valid UTF-8"},
		{name: "GBK bytes give 400", contentType: "application/json", body: "{\"name\":\"\xb6\xab\xb3\xc7\"}", wantStatus: 400, wantCode: "INVALID_JSON", wantText: "not valid UTF-8"},
		{name: "duplicate key gives 400", contentType: "application/json", body: `{"name":"a","name":"b"}`, wantStatus: 400, wantCode: "INVALID_REQUEST", wantText: "fix the fields listed in details"},
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

func TestDecodeJSON_contentEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		encoding []string
		want     string // the coding named in the 415, "" for none
	}{
		{encoding: nil},
		{encoding: []string{"identity"}},
		{encoding: []string{"IDENTITY"}},
		{encoding: []string{"gzip"}, want: "gzip"},
		{encoding: []string{"identity, br"}, want: "br"},
		{encoding: []string{"identity", "deflate"}, want: "deflate"},
	}
	for _, tt := range tests {
		r := newBodyRequest(t, "application/json", `{"name":"x"}`, false)
		r.Header["Content-Encoding"] = tt.encoding
		var v zoneRequest
		err := httpx.DecodeJSON(r, &v, 0)
		if tt.want == "" {
			if err != nil {
				t.Errorf("Content-Encoding %q: DecodeJSON = %v, want nil", tt.encoding, err)
			}
			continue
		}

		w := httptest.NewRecorder()
		httpx.WriteError(w, r, nil, err)
		if w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Encoding %q: status %d, want 415", tt.encoding, w.Code)
		}
		if got := w.Header().Get("Accept-Encoding"); got != "identity" {
			t.Errorf("Content-Encoding %q: Accept-Encoding = %q, want identity", tt.encoding, got)
		}
		body := w.Body.String()
		if !strings.Contains(body, "UNSUPPORTED_CONTENT_ENCODING") || !strings.Contains(body, tt.want) {
			t.Errorf("Content-Encoding %q: body %s, want UNSUPPORTED_CONTENT_ENCODING naming %q", tt.encoding, body, tt.want)
		}
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

// roomRequest is a request body with nested objects, arrays and types that
// decode themselves, for the detail paths of DecodeJSON errors.
type roomRequest struct {
	Name   localised       `json:"name"`
	Rooms  []room          `json:"rooms"`
	Opens  time.Time       `json:"opens"`
	Extra  json.RawMessage `json:"extra"`
	Any    any             `json:"any"`
	Small  int8            `json:"small"`
	Count  uint            `json:"count"`
	Quoted int             `json:"quoted,string"`
	Ratio  float32
	Photo  []byte     `json:"photo"`
	Owner  *localised `json:"owner"`
}

type localised struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

type room struct {
	Floor int      `json:"floor"`
	Tags  []string `json:"tags"`
}

func TestDecodeJSON_details(t *testing.T) {
	t.Parallel()

	type detail struct{ path, reason, text string }
	tests := []struct {
		name string
		body string
		want []detail // the details in order; text is part of the English message, or all of it after "="
	}{
		{name: "unknown nested field", body: `{"name":{"zh":"东城","fr":"x"}}`,
			want: []detail{{"/name/fr", "unknown_field", `field "fr" is not allowed here`}}},
		{name: "wrong type inside array", body: `{"rooms":[{"floor":1},{"floor":"2"}]}`,
			want: []detail{{"/rooms/1/floor", "invalid_type", "must be an integer"}}},
		{name: "every problem listed in order", body: `{"colour":"red","name":"东城","rooms":[{"tags":[1]}]}`,
			want: []detail{
				{"/colour", "unknown_field", `field "colour"`},
				{"/name", "invalid_type", "must be an object"},
				{"/rooms/0/tags/0", "invalid_type", "must be a string"},
			}},
		{name: "duplicate top-level key", body: `{"small":1,"small":2}`,
			want: []detail{{"/small", "duplicate_key", `key "small" appears more than once`}}},
		{name: "duplicate key inside raw JSON", body: `{"extra":{"doc":{"a":1,"a":2}}}`,
			want: []detail{{"/extra/doc/a", "duplicate_key", `key "a"`}}},
		{name: "duplicate key deep in any", body: `{"any":[[{"k":1,"k":1}]]}`,
			want: []detail{{"/any/0/0/k", "duplicate_key", `key "k"`}}},
		{name: "duplicate unknown key", body: `{"x":1,"x":2}`,
			want: []detail{{"/x", "unknown_field", `"x"`}, {"/x", "duplicate_key", `"x"`}, {"/x", "unknown_field", `"x"`}}},
		{name: "small integer overflows", body: `{"small":300}`,
			want: []detail{{"/small", "out_of_range", "=is too large; the maximum is 127"}}},
		{name: "small integer below its range", body: `{"small":-129}`,
			want: []detail{{"/small", "out_of_range", "=is too small; the minimum is -128"}}},
		{name: "fraction beyond the range", body: `{"small":300.5}`,
			want: []detail{{"/small", "out_of_range", "=is too large; the maximum is 127"}}},
		{name: "fraction for an integer", body: `{"small":1.5}`,
			want: []detail{{"/small", "invalid_type", "must be an integer"}}},
		{name: "negative unsigned integer", body: `{"count":-1}`,
			want: []detail{{"/count", "out_of_range", "=is too small; the minimum is 0"}}},
		{name: "exponent out of range", body: `{"small":1e23}`,
			want: []detail{{"/small", "out_of_range", "=is too large; the maximum is 127"}}},
		{name: "whole number with exponent", body: `{"small":-1e2}`,
			want: []detail{{"/small", "invalid_type", "without a decimal point or exponent"}}},
		{name: "whole number with point", body: `{"small":5.0}`,
			want: []detail{{"/small", "invalid_type", "without a decimal point or exponent"}}},
		{name: "huge exponent", body: `{"small":1e1000000000}`,
			want: []detail{{"/small", "out_of_range", "=is too large; the maximum is 127"}}},
		{name: "exponent beyond int64", body: `{"small":1e99999999999999999999}`,
			want: []detail{{"/small", "out_of_range", "=is too large; the maximum is 127"}}},
		{name: "fraction just past the maximum", body: `{"small":127.` + strings.Repeat("0", 400) + `1}`,
			want: []detail{{"/small", "out_of_range", "=is too large; the maximum is 127"}}},
		{name: "negative zero unsigned", body: `{"count":-0}`,
			want: []detail{{"/count", "invalid_type", "=must be an integer without a minus sign"}}},
		{name: "negative fraction unsigned", body: `{"count":-0.5}`,
			want: []detail{{"/count", "out_of_range", "=is too small; the minimum is 0"}}},
		{name: "huge negative exponent", body: `{"small":-1e1000000000}`,
			want: []detail{{"/small", "out_of_range", "=is too small; the minimum is -128"}}},
		{name: "tiny exponent", body: `{"small":1e-1000000000}`,
			want: []detail{{"/small", "invalid_type", "=must be an integer"}}},
		{name: "fraction past the maximum", body: `{"count":18446744073709551615.5}`,
			want: []detail{{"/count", "out_of_range", "=is too large; the maximum is 18446744073709551615"}}},
		{name: "fraction below the maximum", body: `{"count":18446744073709551614.5}`,
			want: []detail{{"/count", "invalid_type", "=must be an integer"}}},
		{name: "float out of range", body: `{"ratio":1e400}`,
			want: []detail{{"/ratio", "out_of_range", "out of range"}}},
		{name: "malformed time", body: `{"opens":"tomorrow"}`,
			want: []detail{{"/opens", "invalid_format", "RFC 3339"}}},
		{name: "number for a time", body: `{"opens":20270122}`,
			want: []detail{{"/opens", "invalid_format", "RFC 3339"}}},
		{name: "quoted integer not a number", body: `{"quoted":"x"}`,
			want: []detail{{"/quoted", "invalid_type", "must be an integer"}}},
		{name: "bytes not base64", body: `{"photo":"!!"}`,
			want: []detail{{"/photo", "invalid_format", "base64"}}},
		{name: "bool for a pointer to object", body: `{"owner":true}`,
			want: []detail{{"/owner", "invalid_type", "must be an object"}}},
		{name: "pointer tokens escaped", body: `{"a/b~c":1}`,
			want: []detail{{"/a~1b~0c", "unknown_field", `"a/b~c"`}}},
		{name: "array for the body", body: `[1]`,
			want: []detail{{"", "invalid_type", "must be an object"}}},
		{name: "lone high surrogate", body: `{"name":{"zh":"a\ud800b"}}`,
			want: []detail{{"/name/zh", "invalid_format", `unpaired UTF-16 surrogate escape`}}},
		{name: "lone low surrogate in a string list", body: `{"rooms":[{"tags":["ok", "\udc00"]}]}`,
			want: []detail{{"/rooms/0/tags/1", "invalid_format", `unpaired UTF-16 surrogate escape`}}},
		{name: "surrogates in reverse order", body: `{"name":{"en":"\ude00\ud83d"}}`,
			want: []detail{{"/name/en", "invalid_format", `unpaired UTF-16 surrogate escape`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := httpx.DecodeJSON(newBodyRequest(t, "application/json", tt.body, false), new(roomRequest), 0)
			e := httpx.AsError(err)
			if e.Code.ID != "INVALID_REQUEST" {
				t.Fatalf("DecodeJSON(%s) = %v, want INVALID_REQUEST", tt.body, err)
			}
			if len(e.Details) != len(tt.want) {
				t.Fatalf("details = %+v, want %d", e.Details, len(tt.want))
			}
			for i, w := range tt.want {
				d := e.Details[i]
				if d.Path != w.path || d.Reason != w.reason {
					t.Errorf("detail %d = %s %s, want %s %s", i, d.Path, d.Reason, w.path, w.reason)
				}
				if exact, ok := strings.CutPrefix(w.text, "="); ok && d.EN != exact {
					t.Errorf("detail %d English message = %q, want %q", i, d.EN, exact)
				} else if !ok && !strings.Contains(d.EN, w.text) {
					t.Errorf("detail %d English message = %q, want it to contain %q", i, d.EN, w.text)
				}
				if d.ZH == "" || d.ZH == d.EN {
					t.Errorf("detail %d Chinese message = %q, want a Chinese text", i, d.ZH)
				}
			}
		})
	}
}

func TestDecodeJSON_acceptsWhatDecodeAccepts(t *testing.T) {
	t.Parallel()

	body := `{"NAME":{"zh":"东城"},"rooms":[{"floor":-3,"tags":null}],"opens":"2027-01-22T00:00:00+08:00",
		"extra":{"any":[1,"x",null]},"any":{"k":[{}]},"small":-128,"count":18446744073709551615,
		"quoted":"12","Ratio":0.5,"photo":"aGk=","owner":null}`
	var got roomRequest
	if err := httpx.DecodeJSON(newBodyRequest(t, "application/json", body, false), &got, 0); err != nil {
		t.Fatalf("DecodeJSON: %v", err)
	}
	if got.Name.ZH != "东城" || got.Rooms[0].Floor != -3 || got.Small != -128 || got.Quoted != 12 || string(got.Photo) != "hi" {
		t.Errorf("decoded %+v", got)
	}
}

// TestDecodeJSON_acceptsValidSurrogates checks that only unpaired
// surrogate escapes in Go strings are rejected, and that strings the caller
// decodes itself keep them.
func TestDecodeJSON_acceptsValidSurrogates(t *testing.T) {
	t.Parallel()

	// The name has a pair, an escaped backslash before u, an escaped U+FFFD
	// and a literal one.
	body := `{"name":{"zh":"\ud83d\ude00 \\ud800 \ufffd ` + "\uFFFD" + `"},"extra":{"doc":"\ud800"},"any":"\udc00"}`
	var got roomRequest
	if err := httpx.DecodeJSON(newBodyRequest(t, "application/json", body, false), &got, 0); err != nil {
		t.Fatalf("DecodeJSON: %v", err)
	}
	if want := "😀 \\ud800 \uFFFD \uFFFD"; got.Name.ZH != want {
		t.Errorf("name.zh = %q, want %q", got.Name.ZH, want)
	}
	if string(got.Extra) != `{"doc":"\ud800"}` {
		t.Errorf("extra = %s, want the raw JSON unchanged", got.Extra)
	}
}

func TestHasLoneSurrogate(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		src  string
		want bool
	}{
		{`"a\ud800b"`, true},
		{`"\udc00"`, true},
		{`"\ud83dx"`, true},
		{`"\ud83d\ud83d\ude00"`, true},
		{`"\ude00\ud83d"`, true},
		{`"\ud83d\n"`, true},
		{`: "\ud800"`, true},
		{`"\ud83d\ude00"`, false},
		{`"\uD83D\uDE00"`, false},
		{`"\\ud800"`, false},
		{`"\\\ud800"`, true},
		{`"\ufffd"`, false},
		{`"plain"`, false},
	} {
		if got := httpx.HasLoneSurrogate([]byte(tt.src)); got != tt.want {
			t.Errorf("HasLoneSurrogate(%s) = %v, want %v", tt.src, got, tt.want)
		}
	}
}

func TestDecodeJSON_messagesNameNoGoTypes(t *testing.T) {
	t.Parallel()

	bodies := []string{
		`{"small":"x"}`, `{"count":1.5}`, `{"ratio":"x"}`, `{"rooms":{}}`, `{"rooms":[[]]}`,
		`{"name":[]}`, `{"opens":{}}`, `{"photo":1}`, `{"owner":"x"}`, `{"quoted":true}`, `{"x":1}`,
	}
	goNames := []string{"int", "uint", "float", "[]", "map[", "struct", "time.Time", "httpx_test", "roomRequest", "Go "}
	for _, body := range bodies {
		r := newBodyRequest(t, "application/json", body, false)
		r.URL.RawQuery = "lang=en"
		rec := httptest.NewRecorder()
		httpx.WriteError(rec, r, nil, httpx.DecodeJSON(r, new(roomRequest), 0))

		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", body, rec.Code)
		}
		out := strings.ReplaceAll(rec.Body.String(), "an integer", "")
		for _, name := range goNames {
			if strings.Contains(out, name) {
				t.Errorf("%s: response %s names the Go type %q", body, rec.Body.String(), name)
			}
		}
	}
}

func TestDecodeJSON_depth(t *testing.T) {
	t.Parallel()

	nested := func(levels int) string {
		// The body object is the first level.
		return `{"any":` + strings.Repeat("[", levels-1) + strings.Repeat("]", levels-1) + `}`
	}
	if err := httpx.DecodeJSON(newBodyRequest(t, "application/json", nested(httpx.MaxJSONDepth), false), new(roomRequest), 0); err != nil {
		t.Fatalf("DecodeJSON at MaxJSONDepth = %v, want nil", err)
	}

	err := httpx.DecodeJSON(newBodyRequest(t, "application/json", nested(httpx.MaxJSONDepth+1), false), new(roomRequest), 0)
	e := httpx.AsError(err)
	if e.Code.ID != "INVALID_REQUEST" || len(e.Details) != 1 {
		t.Fatalf("DecodeJSON beyond MaxJSONDepth = %v, want INVALID_REQUEST with one detail", err)
	}
	d := e.Details[0]
	if d.Reason != "too_deep" || d.Path != "/any"+strings.Repeat("/0", httpx.MaxJSONDepth-1) {
		t.Errorf("detail = %s %s, want too_deep at the innermost array", d.Path, d.Reason)
	}
	if want := "nested deeper than 100 levels"; !strings.Contains(d.EN, want) {
		t.Errorf("message = %q, want it to contain %q", d.EN, want)
	}

	// A body far deeper than encoding/json's own limit gets the same error.
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	err = httpx.DecodeJSON(newBodyRequest(t, "application/json", deep, false), new(any), 0)
	if e := httpx.AsError(err); e.Code.ID != "INVALID_REQUEST" || e.Details[0].Reason != "too_deep" {
		t.Errorf("DecodeJSON of 20000 levels = %v, want too_deep", err)
	}
}

// failingReader returns err after the first read.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestDecodeJSON_readErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		err      error
		wantCode string
		status   int
	}{
		{name: "connection deadline gives 408", err: fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded), wantCode: "REQUEST_TIMEOUT", status: 408},
		{name: "context deadline gives 408", err: context.DeadlineExceeded, wantCode: "REQUEST_TIMEOUT", status: 408},
		{name: "other read error gives 400", err: errors.New("connection reset by peer"), wantCode: "INVALID_JSON", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newBodyRequest(t, "application/json", "", true)
			r.Body = io.NopCloser(&failingReader{data: []byte(`{"name":`), err: tt.err})

			e := httpx.AsError(httpx.DecodeJSON(r, new(zoneRequest), 0))
			if e.Code.ID != tt.wantCode || e.Code.Status != tt.status {
				t.Errorf("code = %s %d, want %s %d", e.Code.ID, e.Code.Status, tt.wantCode, tt.status)
			}
			if !errors.Is(e, tt.err) {
				t.Errorf("error %v does not keep the read error as its cause", e)
			}
		})
	}
}

// TestDecodeJSON_slowBodyOverServer sends half a body and stalls, so the
// server's read timeout ends the read.
func TestDecodeJSON_slowBodyOverServer(t *testing.T) {
	t.Parallel()

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, nil, httpx.DecodeJSON(r, new(zoneRequest), 0))
	}))
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "POST /?lang=en HTTP/1.1\r\nHost: zones.test\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"name\":"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatalf("write: %v", err)
	}

	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status = %d, want 408", resp.StatusCode)
	}
	var body errorBody
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	if body.Error.Code != "REQUEST_TIMEOUT" || !strings.Contains(body.Error.Message, "timed out reading the request body") {
		t.Errorf("error = %+v, want REQUEST_TIMEOUT", body.Error)
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
		{"application/json", `{"name":"x","name":"y"}`, false},
		{"application/json", `{"tags":[{"a":1}],"floors":1.5}`, false},
		{"application/json; charset=latin1", `{}`, false},
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

// TestDecodeJSON_reasonLanguage checks that the reason inside an
// INVALID_JSON message is in the message's language.
func TestDecodeJSON_reasonLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		wantZH string
		wantEN string
	}{
		{name: "truncated", body: `{"name":`, wantZH: "请求体不是有效的 JSON：请求体不完整，JSON 意外结束", wantEN: "request body is not valid JSON: truncated body"},
		{name: "syntax", body: `{"name" "x"}`, wantZH: "请求体不是有效的 JSON：第 8 字节处有语法错误", wantEN: "request body is not valid JSON: syntax error at byte 8"},
		{name: "trailing", body: `{"name":"x"} {}`, wantZH: "请求体不是有效的 JSON：JSON 值之后还有多余内容", wantEN: "request body is not valid JSON: trailing data after the JSON value"},
		{name: "empty", body: ``, wantZH: "请求体不是有效的 JSON：请求体为空", wantEN: "request body is not valid JSON: empty body"},
		{name: "not UTF-8", body: "{\"name\":\"\xff\"}", wantZH: "请求体不是有效的 JSON：请求体不是 UTF-8 编码", wantEN: "request body is not valid JSON: the body is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := httpx.DecodeJSON(newBodyRequest(t, "application/json", tt.body, false), new(zoneRequest), 0)
			e := httpx.AsError(err)
			if e.Code.ID != "INVALID_JSON" {
				t.Fatalf("code = %s, want INVALID_JSON", e.Code.ID)
			}
			if got := e.Message("zh"); got != tt.wantZH {
				t.Errorf("zh message = %q, want %q", got, tt.wantZH)
			}
			if got := e.Message("en"); got != tt.wantEN {
				t.Errorf("en message = %q, want %q", got, tt.wantEN)
			}
			if !strings.Contains(e.Error(), tt.wantEN[len("request body is not valid JSON: "):]) {
				t.Errorf("Error() = %q, want the English reason for logs", e.Error())
			}
		})
	}
}

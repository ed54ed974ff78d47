package httpevent_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/jingtong/backend/triggers/httpevent"
)

func TestResponseWriterSemantics(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name       string
		method     string
		handler    http.HandlerFunc
		wantStatus int
		wantBody   string
		wantHeader map[string][]string
	}{
		{
			name:       "nothing written is 200",
			method:     http.MethodGet,
			handler:    func(http.ResponseWriter, *http.Request) {},
			wantStatus: http.StatusOK,
			wantBody:   "",
		},
		{
			name:   "first status wins",
			method: http.MethodGet,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusCreated)
				w.WriteHeader(http.StatusTeapot)
				_, _ = io.WriteString(w, "made")
			},
			wantStatus: http.StatusCreated,
			wantBody:   "made",
		},
		{
			name:   "informational status skipped",
			method: http.MethodGet,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusEarlyHints)
				w.WriteHeader(http.StatusAccepted)
			},
			wantStatus: http.StatusAccepted,
		},
		{
			name:   "header changes after status ignored",
			method: http.MethodGet,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("X-Before", "1")
				w.WriteHeader(http.StatusOK)
				w.Header().Set("X-After", "1")
			},
			wantStatus: http.StatusOK,
			wantHeader: map[string][]string{"X-Before": {"1"}, "X-After": nil},
		},
		{
			name:   "missing content type sniffed",
			method: http.MethodGet,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "<html><body>hi</body></html>")
			},
			wantStatus: http.StatusOK,
			wantBody:   "<html><body>hi</body></html>",
			wantHeader: map[string][]string{"Content-Type": {"text/html; charset=utf-8"}},
		},
		{
			name:   "suppressed content type not sniffed",
			method: http.MethodGet,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header()["Content-Type"] = nil
				_, _ = io.WriteString(w, "plain")
			},
			wantStatus: http.StatusOK,
			wantBody:   "plain",
			wantHeader: map[string][]string{"Content-Type": nil},
		},
		{
			name:   "no content drops body",
			method: http.MethodGet,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusNoContent)
				if _, err := io.WriteString(w, "x"); !errors.Is(err, http.ErrBodyNotAllowed) {
					panic("Write after 204 returned " + errString(err))
				}
			},
			wantStatus: http.StatusNoContent,
		},
		{
			name:   "head drops body",
			method: http.MethodHead,
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				_, _ = io.WriteString(w, "not sent")
			},
			wantStatus: http.StatusOK,
			wantHeader: map[string][]string{"Content-Type": {"text/plain"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := httpevent.NewRequest(context.Background(), tt.method, &url.URL{Path: "/"}, nil, nil)
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}

			resp, err := httpevent.Serve(tt.handler, r)
			if err != nil {
				t.Fatalf("Serve: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if string(resp.Body) != tt.wantBody {
				t.Errorf("body = %q, want %q", resp.Body, tt.wantBody)
			}
			for name, want := range tt.wantHeader {
				if got := resp.Header.Values(name); !slices.Equal(got, want) {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

func TestServeAbortHandler(t *testing.T) {
	t.Parallel()
	r, err := httpevent.NewRequest(context.Background(), http.MethodGet, &url.URL{Path: "/"}, nil, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}

	abort := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	if _, err := httpevent.Serve(abort, r); !errors.Is(err, httpevent.ErrAborted) {
		t.Errorf("Serve error = %v, want ErrAborted", err)
	}
}

func TestServeOtherPanicPropagates(t *testing.T) {
	t.Parallel()
	r, err := httpevent.NewRequest(context.Background(), http.MethodGet, &url.URL{Path: "/"}, nil, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}

	defer func() {
		if v := recover(); v != "boom" {
			t.Errorf("recovered %v, want the handler's panic value", v)
		}
	}()
	_, _ = httpevent.Serve(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), r)
	t.Error("Serve returned, want a panic")
}

func TestEncodeBody(t *testing.T) {
	t.Parallel()
	binary := []byte{0x89, 'P', 'N', 'G', 0x00, 0xff}

	tests := []struct {
		name        string
		header      http.Header
		body        []byte
		wantEncoded bool
	}{
		{"empty body", http.Header{"Content-Type": {"image/png"}}, nil, false},
		{"json text", http.Header{"Content-Type": {"application/json"}}, []byte(`{"a":"京"}`), false},
		{"problem json", http.Header{"Content-Type": {"application/problem+json"}}, []byte(`{}`), false},
		{"html with charset", http.Header{"Content-Type": {"text/html; charset=utf-8"}}, []byte("<p>"), false},
		{"svg is xml", http.Header{"Content-Type": {"image/svg+xml"}}, []byte("<svg/>"), false},
		{"no content type utf8", http.Header{}, []byte("plain"), false},
		{"no content type invalid utf8", http.Header{}, binary, true},
		{"png", http.Header{"Content-Type": {"image/png"}}, binary, true},
		{"octet stream with ascii", http.Header{"Content-Type": {"application/octet-stream"}}, []byte("abc"), true},
		{"pdf", http.Header{"Content-Type": {"application/pdf"}}, []byte("%PDF-1.7"), true},
		{"text with invalid utf8", http.Header{"Content-Type": {"text/plain; charset=gbk"}}, []byte{0xc4, 0xe3}, true},
		{"gzip text", http.Header{"Content-Type": {"text/plain"}, "Content-Encoding": {"gzip"}}, []byte("abc"), true},
		{"identity encoding text", http.Header{"Content-Type": {"text/plain"}, "Content-Encoding": {"identity"}}, []byte("abc"), false},
		{"malformed content type", http.Header{"Content-Type": {"application/json; ="}}, []byte("{}"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, encoded := httpevent.EncodeBody(tt.header, tt.body)
			if encoded != tt.wantEncoded {
				t.Fatalf("encoded = %v, want %v", encoded, tt.wantEncoded)
			}

			decoded, err := httpevent.DecodeBody(got, encoded)
			if err != nil {
				t.Fatalf("DecodeBody: %v", err)
			}
			if string(decoded) != string(tt.body) {
				t.Errorf("round trip = %q, want %q", decoded, tt.body)
			}
		})
	}
}

func TestDecodeBodyInvalidBase64(t *testing.T) {
	t.Parallel()
	if _, err := httpevent.DecodeBody("not base64!", true); err == nil {
		t.Error("DecodeBody accepted invalid base64")
	}
	got, err := httpevent.DecodeBody(base64.StdEncoding.EncodeToString([]byte{0, 1, 2}), true)
	if err != nil || string(got) != "\x00\x01\x02" {
		t.Errorf("DecodeBody = %q, %v, want 00 01 02", got, err)
	}
}

func TestFoldHeader(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"X-Multi":      {"one", "two"},
		"Content-Type": {"text/plain"},
		"Set-Cookie":   {"a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT"},
		"X-Empty":      {},
	}

	folded, cookies := httpevent.FoldHeader(h)
	want := map[string]string{"X-Multi": "one, two", "Content-Type": "text/plain"}
	if len(folded) != len(want) {
		t.Errorf("folded = %q, want %q", folded, want)
	}
	for name, v := range want {
		if folded[name] != v {
			t.Errorf("folded[%s] = %q, want %q", name, folded[name], v)
		}
	}
	if !slices.Equal(cookies, h["Set-Cookie"]) {
		t.Errorf("cookies = %q, want %q", cookies, h["Set-Cookie"])
	}
}

func TestDroppedCookies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cookies []string
		want    []string
	}{
		{"none", nil, nil},
		{"one", []string{"a=1"}, nil},
		{"three", []string{"a=1", "b=secret; HttpOnly", "c=3"}, []string{"b", "c"}},
		{"unparsable", []string{"a=1", "=novalue"}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := httpevent.DroppedCookies(http.Header{"Set-Cookie": tt.cookies})
			if !slices.Equal(got, tt.want) {
				t.Errorf("DroppedCookies = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSetPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		path        string
		escaped     bool
		wantPath    string
		wantRawPath string
		wantEscaped string
	}{
		{"decoded plain", "/a/b", false, "/a/b", "", "/a/b"},
		{"decoded space and percent", "/a b/100%", false, "/a b/100%", "", "/a%20b/100%25"},
		{"missing slash", "a", false, "/a", "", "/a"},
		{"empty", "", true, "/", "", "/"},
		{"escaped slash kept", "/files/a%2Fb", true, "/files/a/b", "/files/a%2Fb", "/files/a%2Fb"},
		{"escaped default form", "/a%20b", true, "/a b", "", "/a%20b"},
		{"escaped non ascii", "/%E4%BA%AC", true, "/京", "", "/%E4%BA%AC"},
		{"escaped lowercase hex kept", "/a%2fb", true, "/a/b", "/a%2fb", "/a%2fb"},
		{"escaped bare percent is decoded", "/100%", true, "/100%", "", "/100%25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var u url.URL
			httpevent.SetPath(&u, tt.path, tt.escaped)
			if u.Path != tt.wantPath {
				t.Errorf("Path = %q, want %q", u.Path, tt.wantPath)
			}
			if u.RawPath != tt.wantRawPath {
				t.Errorf("RawPath = %q, want %q", u.RawPath, tt.wantRawPath)
			}
			if got := u.EscapedPath(); got != tt.wantEscaped {
				t.Errorf("EscapedPath = %q, want %q", got, tt.wantEscaped)
			}
		})
	}
}

func TestStripPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		path        string
		rawPath     string
		prefix      string
		wantOK      bool
		wantPath    string
		wantRawPath string
	}{
		{"below prefix", "/prod/zones", "", "/prod", true, "/zones", ""},
		{"prefix only", "/prod", "", "/prod", true, "/", ""},
		{"prefix with slash only", "/prod/", "", "/prod", true, "/", ""},
		{"prefix without leading slash", "/prod/x", "", "prod/", true, "/x", ""},
		{"longer segment", "/production/x", "", "/prod", false, "/production/x", ""},
		{"other path", "/zones", "", "/prod", false, "/zones", ""},
		{"empty prefix", "/prod/x", "", "", false, "/prod/x", ""},
		{"root prefix", "/prod/x", "", "/", false, "/prod/x", ""},
		{"multi segment prefix", "/api/zones/list", "", "/api/zones", true, "/list", ""},
		{"raw path trimmed", "/prod/a/b", "/prod/a%2Fb", "/prod", true, "/a/b", "/a%2Fb"},
		{"raw path with escaped prefix", "/my stage/a/b", "/my%20stage/a%2Fb", "/my stage", true, "/a/b", "/a%2Fb"},
		{"raw path other encoding cleared", "/京/a/b", "/%e4%ba%ac/a%2Fb", "/京", true, "/a/b", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := url.URL{Path: tt.path, RawPath: tt.rawPath}
			if ok := httpevent.StripPrefix(&u, tt.prefix); ok != tt.wantOK {
				t.Errorf("StripPrefix = %v, want %v", ok, tt.wantOK)
			}
			if u.Path != tt.wantPath {
				t.Errorf("Path = %q, want %q", u.Path, tt.wantPath)
			}
			if u.RawPath != tt.wantRawPath {
				t.Errorf("RawPath = %q, want %q", u.RawPath, tt.wantRawPath)
			}
		})
	}
}

func TestNewRequest(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := &url.URL{Path: "/a b", RawQuery: "x=1"}
	header := http.Header{"Host": {"example.com"}, "Content-Length": {"999"}}

	r, err := httpevent.NewRequest(ctx, http.MethodPost, u, header, []byte("body"))
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	if r.Host != "example.com" {
		t.Errorf("Host = %q, want example.com", r.Host)
	}
	if r.Header.Get("Host") != "" {
		t.Errorf("Host header = %q, want it moved to Request.Host", r.Header.Get("Host"))
	}
	if r.RequestURI != "/a%20b?x=1" {
		t.Errorf("RequestURI = %q, want /a%%20b?x=1", r.RequestURI)
	}
	if r.ContentLength != 4 || r.Header.Get("Content-Length") != "4" {
		t.Errorf("ContentLength = %d, header %q, want 4", r.ContentLength, r.Header.Get("Content-Length"))
	}
	body, _ := io.ReadAll(r.Body)
	if string(body) != "body" {
		t.Errorf("body = %q, want body", body)
	}
	if r.Context() != ctx {
		t.Error("request context is not the context passed in")
	}
}

func TestNewRequestRejectsMethod(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"", "GE T", "GET\r\n", "获取"} {
		if _, err := httpevent.NewRequest(context.Background(), method, &url.URL{Path: "/"}, nil, nil); err == nil {
			t.Errorf("NewRequest(%q) succeeded, want an error", method)
		}
	}
}

func TestRequestHelpers(t *testing.T) {
	t.Parallel()
	if got := httpevent.RemoteAddr("2001:db8::1"); got != "[2001:db8::1]:0" {
		t.Errorf("RemoteAddr(IPv6) = %q, want [2001:db8::1]:0", got)
	}
	if got := httpevent.RemoteAddr(""); got != "" {
		t.Errorf("RemoteAddr(\"\") = %q, want empty", got)
	}

	r := &http.Request{Header: http.Header{}}
	httpevent.SetRequestID(r, "platform-1")
	httpevent.SetRequestID(r, "platform-2")
	if got := r.Header.Get("X-Request-Id"); got != "platform-1" {
		t.Errorf("X-Request-Id = %q, want the first id kept", got)
	}

	httpevent.SetProto(r, "HTTP/2.0")
	if r.ProtoMajor != 2 || r.ProtoMinor != 0 {
		t.Errorf("proto = %d.%d, want 2.0", r.ProtoMajor, r.ProtoMinor)
	}
}

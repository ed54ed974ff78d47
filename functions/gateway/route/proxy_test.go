package route_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway/route"
)

func TestProxy_hopByHopAndForwardedHeaders(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "X-Hop-Resp")
		w.Header().Set("X-Hop-Resp", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Proxy-Authenticate", "Basic")
		w.Header().Set("X-End-To-End", "kept")
		w.Header().Set("Trailer", "X-Checksum")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok")
		w.Header().Set("X-Checksum", "abc")
	})
	rt := newRouter(t, upstreamTable(`"rewrite": {"strip_prefix": true}`, up.URL+"/base"), route.Options{})

	req := httptest.NewRequest("GET", "http://gw.example/api/x/items?q=1", nil)
	req.RemoteAddr = "203.0.113.7:5555"
	req.Header.Set("Connection", "keep-alive, X-Hop-Req")
	req.Header.Set("X-Hop-Req", "secret")
	req.Header.Set("Keep-Alive", "300")
	req.Header.Set("Proxy-Authorization", "Basic Zm9vOmJhcg==")
	req.Header.Set("Te", "trailers")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("X-Forwarded-For", "198.51.100.1")
	req.Header.Set("X-Keep", "yes")
	rec := serve(rt, req)

	if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Fatalf("response = %d %q, want 200 ok", rec.Code, rec.Body)
	}
	got := up.last.Load()
	if got.URL.Path != "/base/items" || got.URL.RawQuery != "q=1" {
		t.Errorf("upstream path = %s?%s, want /base/items?q=1", got.URL.Path, got.URL.RawQuery)
	}
	for _, h := range []string{"X-Hop-Req", "Keep-Alive", "Proxy-Authorization", "Te", "Upgrade"} {
		if v := got.Header.Get(h); v != "" {
			t.Errorf("upstream got hop-by-hop %s: %q", h, v)
		}
	}
	if v := got.Header.Get("X-Keep"); v != "yes" {
		t.Errorf("upstream X-Keep = %q, want yes", v)
	}
	if v := got.Header.Get("X-Forwarded-For"); v != "198.51.100.1, 203.0.113.7" {
		t.Errorf("X-Forwarded-For = %q, want the client appended", v)
	}
	if v := got.Header.Get("X-Forwarded-Host"); v != "gw.example" {
		t.Errorf("X-Forwarded-Host = %q, want gw.example", v)
	}
	if v := got.Header.Get("X-Forwarded-Proto"); v != "http" {
		t.Errorf("X-Forwarded-Proto = %q, want http", v)
	}
	if v := got.Header.Get("User-Agent"); v != "" {
		t.Errorf("User-Agent = %q, want none added", v)
	}

	for _, h := range []string{"X-Hop-Resp", "Keep-Alive", "Proxy-Authenticate", "Connection", "Trailer", "X-Checksum"} {
		if v := rec.Header().Get(h); v != "" {
			t.Errorf("response has hop-by-hop or trailer %s: %q", h, v)
		}
	}
	if v := rec.Header().Get("X-End-To-End"); v != "kept" {
		t.Errorf("response X-End-To-End = %q, want kept", v)
	}
	if len(rec.Result().Trailer) != 0 {
		t.Errorf("response trailers = %v, want none", rec.Result().Trailer)
	}
}

func TestProxy_forwardedForWithoutPriorValue(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, textHandler(200, "ok"))
	rt := newRouter(t, upstreamTable("", up.URL), route.Options{})

	req := httptest.NewRequest("GET", "/api/x", nil)
	req.RemoteAddr = "[2001:db8::1]:443"
	serve(rt, req)
	if v := up.last.Load().Header.Get("X-Forwarded-For"); v != "2001:db8::1" {
		t.Errorf("X-Forwarded-For = %q, want 2001:db8::1", v)
	}
}

func TestProxy_retriesOnlyIdempotentMethods(t *testing.T) {
	t.Parallel()

	tests := []struct {
		method     string
		body       string
		wantStatus int
		wantBad    int64 // requests the failing upstream got
		wantGood   int64
	}{
		{method: "GET", wantStatus: 200, wantBad: 1, wantGood: 1},
		{method: "HEAD", wantStatus: 200, wantBad: 1, wantGood: 1},
		{method: "DELETE", wantStatus: 200, wantBad: 1, wantGood: 1},
		{method: "PUT", body: `{"a":1}`, wantStatus: 200, wantBad: 1, wantGood: 1},
		{method: "POST", body: `{"a":1}`, wantStatus: 502, wantBad: 1, wantGood: 0},
		{method: "PATCH", body: `{"a":1}`, wantStatus: 502, wantBad: 1, wantGood: 0},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			bad := newUpstream(t, textHandler(http.StatusBadGateway, "bad"))
			good := newUpstream(t, textHandler(http.StatusOK, "good"))
			// Round robin starts at the first upstream, so the first
			// attempt always hits bad.
			rt := newRouter(t, upstreamTable(`"retries": 2`, bad.URL, good.URL), route.Options{})

			req := httptest.NewRequest(tt.method, "/api/x", strings.NewReader(tt.body))
			rec := serve(rt, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if bad.hits.Load() != tt.wantBad || good.hits.Load() != tt.wantGood {
				t.Errorf("hits bad=%d good=%d, want %d and %d", bad.hits.Load(), good.hits.Load(), tt.wantBad, tt.wantGood)
			}
			if tt.body != "" && tt.wantGood == 1 && *good.body.Load() != tt.body {
				t.Errorf("retried body = %q, want %q", *good.body.Load(), tt.body)
			}
		})
	}
}

func TestProxy_retryAfterConnectionFailure(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	good := newUpstream(t, textHandler(http.StatusOK, "good"))
	rt := newRouter(t, upstreamTable(`"retries": 1`, deadURL, good.URL), route.Options{})

	rec := serve(rt, httptest.NewRequest("GET", "/api/x", nil))
	if rec.Code != http.StatusOK || good.hits.Load() != 1 {
		t.Errorf("status = %d, good hits = %d, want 200 after one retry", rec.Code, good.hits.Load())
	}

	rt2 := newRouter(t, upstreamTable("", deadURL), route.Options{})
	wantError(t, serve(rt2, httptest.NewRequest("GET", "/api/x", nil)), http.StatusBadGateway, "UPSTREAM_ERROR")
}

func TestProxy_largeBodyIsStreamedNotRetried(t *testing.T) {
	t.Parallel()
	bad := newUpstream(t, textHandler(http.StatusServiceUnavailable, "busy"))
	good := newUpstream(t, textHandler(http.StatusOK, "good"))
	rt := newRouter(t, upstreamTable(`"retries": 1`, bad.URL, good.URL), route.Options{RetryBufferBytes: 8})

	rec := serve(rt, httptest.NewRequest("PUT", "/api/x", strings.NewReader("more than eight bytes")))
	if rec.Code != http.StatusServiceUnavailable || good.hits.Load() != 0 {
		t.Errorf("status = %d, good hits = %d, want the upstream's 503 and no retry", rec.Code, good.hits.Load())
	}
	if got := *bad.body.Load(); got != "more than eight bytes" {
		t.Errorf("streamed body = %q", got)
	}
}

func TestProxy_timeoutGives504(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	rt := newRouter(t, upstreamTable(`"timeout": "50ms"`, slow.URL), route.Options{})

	start := time.Now()
	rec := serve(rt, httptest.NewRequest("GET", "/api/x", nil))
	wantError(t, rec, http.StatusGatewayTimeout, "UPSTREAM_TIMEOUT")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timed out after %s, want about 50ms", d)
	}
}

func TestProxy_tryTimeoutRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	good := newUpstream(t, textHandler(http.StatusOK, "good"))
	rt := newRouter(t, upstreamTable(`"timeout": "2s", "try_timeout": "50ms", "retries": 1`, slow.URL, good.URL), route.Options{})

	rec := serve(rt, httptest.NewRequest("GET", "/api/x", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "good" {
		t.Errorf("response = %d %q, want 200 good after the first attempt timed out", rec.Code, rec.Body)
	}
}

func TestProxy_customErrorBodies(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	broken := newUpstream(t, textHandler(http.StatusInternalServerError, "java.lang.NullPointerException at com.example"))

	templates := `"errors": {
	  "timeout": {"code": "SI_BUSY", "status": 503, "zh": "社保查询繁忙，请稍后再试（100% 恢复）", "en": "social insurance queries are busy; try again later"},
	  "upstream_5xx": {"code": "SI_FAILED", "status": 502, "zh": "社保系统暂时故障", "en": "the social insurance system failed"}}`
	slowRT := newRouter(t, upstreamTable(`"timeout": "30ms", `+templates, slow.URL), route.Options{})
	brokenRT := newRouter(t, upstreamTable(templates, broken.URL), route.Options{})

	tests := []struct {
		name     string
		rt       *route.Router
		lang     string
		status   int
		code     string
		message  string
		mustLack string
	}{
		{name: "timeout zh", rt: slowRT, lang: "zh-CN", status: 503, code: "SI_BUSY", message: "社保查询繁忙，请稍后再试（100% 恢复）"},
		{name: "timeout en", rt: slowRT, lang: "en", status: 503, code: "SI_BUSY", message: "social insurance queries are busy; try again later"},
		{name: "5xx zh", rt: brokenRT, lang: "", status: 502, code: "SI_FAILED", message: "社保系统暂时故障", mustLack: "NullPointer"},
		{name: "5xx en", rt: brokenRT, lang: "en", status: 502, code: "SI_FAILED", message: "the social insurance system failed", mustLack: "NullPointer"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("GET", "/api/x", nil)
		if tt.lang != "" {
			req.Header.Set("Accept-Language", tt.lang)
		}
		rec := serve(tt.rt, req)
		e := wantError(t, rec, tt.status, tt.code)
		if e.Error.Message != tt.message {
			t.Errorf("%s: message = %q, want %q", tt.name, e.Error.Message, tt.message)
		}
		if tt.mustLack != "" && strings.Contains(rec.Body.String(), tt.mustLack) {
			t.Errorf("%s: body %s leaks the upstream error", tt.name, rec.Body)
		}
	}

	// Without a template, an upstream 5xx passes through.
	plain := newRouter(t, upstreamTable("", broken.URL), route.Options{})
	rec := serve(plain, httptest.NewRequest("GET", "/api/x", nil))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "NullPointer") {
		t.Errorf("untemplated 5xx = %d %q, want the upstream's response", rec.Code, rec.Body)
	}
}

func TestProxy_defaultErrorsInBothLanguages(t *testing.T) {
	t.Parallel()
	rt := newRouter(t, upstreamTable(`"health": {"passive": {"max_failures": 1, "cool_down": "1h"}}`, "http://127.0.0.1:1"), route.Options{})

	first := serve(rt, httptest.NewRequest("GET", "/api/x", nil))
	wantError(t, first, http.StatusBadGateway, "UPSTREAM_ERROR")

	zh := serve(rt, httptest.NewRequest("GET", "/api/x", nil))
	e := wantError(t, zh, http.StatusServiceUnavailable, "UPSTREAM_UNAVAILABLE")
	if e.Error.Message != "服务暂时不可用，请稍后重试" {
		t.Errorf("zh message = %q", e.Error.Message)
	}
	req := httptest.NewRequest("GET", "/api/x", nil)
	req.Header.Set("Accept-Language", "en")
	e = wantError(t, serve(rt, req), http.StatusServiceUnavailable, "UPSTREAM_UNAVAILABLE")
	if e.Error.Message != "the service is unavailable; try again later" {
		t.Errorf("en message = %q", e.Error.Message)
	}
}

func TestProxy_bodyLimits(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, textHandler(http.StatusOK, "ok"))
	rt := newRouter(t, upstreamTable(`"max_body_bytes": 16`, up.URL), route.Options{})

	declared := httptest.NewRequest("POST", "/api/x", strings.NewReader(strings.Repeat("a", 17)))
	wantError(t, serve(rt, declared), http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE")

	chunked := httptest.NewRequest("POST", "/api/x", io.MultiReader(strings.NewReader(strings.Repeat("a", 40))))
	chunked.ContentLength = -1
	wantError(t, serve(rt, chunked), http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE")

	fits := httptest.NewRequest("POST", "/api/x", strings.NewReader(strings.Repeat("a", 16)))
	if rec := serve(rt, fits); rec.Code != http.StatusOK {
		t.Errorf("16-byte body: status %d, want 200", rec.Code)
	}
}

func TestProxy_streamsResponseBody(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-next
		_, _ = io.WriteString(w, "second\n")
	})
	rt := newRouter(t, upstreamTable("", up.URL), route.Options{})
	gw := httptest.NewServer(rt)
	t.Cleanup(gw.Close)

	resp, err := http.Get(gw.URL + "/api/x")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("first chunk = %q, %v; want it before the upstream finishes", buf, err)
	}
	close(next)
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "second\n" {
		t.Errorf("rest = %q, want second", rest)
	}
}

func TestProxy_clientCancelCancelsUpstream(t *testing.T) {
	t.Parallel()
	canceled := make(chan struct{})
	var started atomic.Bool
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		started.Store(true)
		<-r.Context().Done()
		close(canceled)
	})
	rt := newRouter(t, upstreamTable(`"timeout": "1m"`, up.URL), route.Options{})

	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/api/x", nil).WithContext(ctx)
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- serve(rt, req) }()
	for !started.Load() {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not cancelled")
	}
	if rec := <-done; rec.Code != 499 {
		t.Errorf("status = %d, want 499 for the access log", rec.Code)
	}
}

func TestProxy_weightedTrafficAcrossUpstreams(t *testing.T) {
	t.Parallel()
	a := newUpstream(t, textHandler(200, "a"))
	b := newUpstream(t, textHandler(200, "b"))
	rt := newRouter(t, `{"routes": [{"name": "w", "prefix": "/w", "class": "public",
	  "target": {"balance": "weighted", "upstreams": [{"url": "`+a.URL+`", "weight": 3}, {"url": "`+b.URL+`", "weight": 1}]}}]}`, route.Options{})

	for range 1000 {
		serve(rt, httptest.NewRequest("GET", "/w", nil))
	}
	if a.hits.Load() != 750 || b.hits.Load() != 250 {
		t.Errorf("hits a=%d b=%d, want 750 and 250", a.hits.Load(), b.hits.Load())
	}
}

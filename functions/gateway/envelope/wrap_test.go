package envelope_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jingtong/backend/functions/gateway/envelope"
)

// serveUpstream opens a session in mode, sends a protected POST through the
// gateway's Unwrap to upstream and WrapResponse, and returns the client's
// verified plaintext response.
func serveUpstream(t *testing.T, cfg func(*envelope.Config), upstream http.HandlerFunc, acceptEncoding ...string) *http.Response {
	t.Helper()
	g := newGateway(t, memoryStores(), cfg)
	g.http.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == openPath {
			g.server.OpenSession(w, r)
			return
		}
		g.server.Middleware(upstream).ServeHTTP(w, r)
	})
	hc := g.newClient(t).HTTPClient()
	req, _ := http.NewRequest(http.MethodPost, g.http.URL+"/api/x", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	for _, coding := range acceptEncoding {
		req.Header.Add("Accept-Encoding", coding)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	return resp
}

func TestWrapResponse_UpstreamHeaders(t *testing.T) {
	resp := serveUpstream(t, nil, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-JT-Signature", "forged")
		w.Header().Set("Cache-Control", "public, max-age=600")
		w.Header().Set("ETag", `"v1"`)
		w.WriteHeader(http.StatusContinue) // informational codes are dropped
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "<html><body>京通</body></html>")
	})
	body, _ := io.ReadAll(resp.Body)

	if resp.StatusCode != http.StatusCreated {
		t.Errorf("status = %d, want 201", resp.StatusCode)
	}
	if string(body) != "<html><body>京通</body></html>" {
		t.Errorf("body = %q", body)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want the type net/http detects", got)
	}
	if got := resp.Header.Get("ETag"); got != `"v1"` {
		t.Errorf("ETag = %q, want the upstream's", got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

func TestWrapResponse_TooLarge(t *testing.T) {
	resp := serveUpstream(t, func(c *envelope.Config) { c.MaxResponseBody = 100 }, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(bytes.Repeat([]byte("a"), 60))
		if _, err := w.Write(bytes.Repeat([]byte("a"), 60)); err == nil {
			t.Error("Write past MaxResponseBody succeeded")
		}
	})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError || errorCode(t, body) != "INTERNAL" {
		t.Errorf("status %d, body %s; want a protected 500 INTERNAL", resp.StatusCode, body)
	}
}

func TestWrapResponse_FinishTwice(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	sess := g.openRaw(t, envelope.ModeGCM)
	plain, session, err := g.server.Unwrap(g.newProtected(sess, []byte(`{}`)).build(t, sess.keys))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	_, finish := g.server.WrapResponse(rec, plain, session)
	if err := finish(); err != nil {
		t.Fatal(err)
	}
	if err := finish(); err == nil {
		t.Error("second finish returned no error")
	}
}

func TestWrapResponse_WithoutUnwrap(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	sess := g.openRaw(t, envelope.ModeGCM)
	stored, err := g.stores.sessions.Get(context.Background(), mustSessionID(t, sess.id))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	_, finish := g.server.WrapResponse(rec, httptest.NewRequest(http.MethodGet, "/api/x", nil), stored)
	if err := finish(); err == nil {
		t.Error("finish without Unwrap returned no error")
	}
	if rec.Code != http.StatusInternalServerError || rec.Header().Get(envelope.HeaderSignature) != "" {
		t.Errorf("status %d, headers %v; want an unsigned 500", rec.Code, rec.Header())
	}
}

func mustSessionID(t *testing.T, s string) envelope.SessionID {
	t.Helper()
	id, err := envelope.ParseSessionID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestServer_StoreDown points the Redis stores at a port where nothing
// listens and checks that requests fail with NOT_READY and a log line.
func TestServer_StoreDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })

	var logs bytes.Buffer
	g := newGateway(t, stores{
		sessions: envelope.NewRedisSessionStore(rdb, "jt:test:down:"),
		nonces:   envelope.NewRedisNonceStore(rdb, "jt:test:down:"),
	}, func(c *envelope.Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })

	req, _ := openRequest(t, g, g.pub, nil)
	rec := g.serve(t, jsonRequest(t, openPath, req))
	checkRejection(t, rec, rejection{wantStatus: http.StatusServiceUnavailable, wantCode: "NOT_READY"})

	p := &protectedRequest{
		method: http.MethodGet, target: "/api/x", session: envelope.SessionID{9}.String(),
		timestamp: envelope.FormatTimestamp(g.clock.Now()), nonce: randomNonce(),
	}
	keys, _ := envelope.DeriveKeys(make([]byte, 32), envelope.SessionID{9}, envelope.ModeGCM)
	rec = g.serve(t, p.build(t, keys))
	checkRejection(t, rec, rejection{wantStatus: http.StatusServiceUnavailable, wantCode: "NOT_READY"})

	var line struct {
		Msg string `json:"msg"`
		Op  string `json:"op"`
		Err string `json:"err"`
	}
	first, _, _ := strings.Cut(logs.String(), "\n")
	if err := json.Unmarshal([]byte(first), &line); err != nil || line.Msg != "envelope dependency failed" || line.Op == "" || line.Err == "" {
		t.Errorf("log %q; want an error line naming the operation and the error", logs.String())
	}
}

func TestWrapResponse_NoContentCoding(t *testing.T) {
	resp := serveUpstream(t, nil, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Accept-Encoding"); strings.Contains(got, "br") {
			t.Errorf("upstream saw Accept-Encoding %q from the client", got)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "identity")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}, "br")
	body, _ := io.ReadAll(resp.Body)
	if string(body) != `{"ok":true}` {
		t.Errorf("body = %q", body)
	}
	if got := resp.Header.Get("Content-Encoding"); got != "" {
		t.Errorf("Content-Encoding = %q on the protected response, want none", got)
	}
}

func TestWrapResponse_BoundSessionCopy(t *testing.T) {
	g := newGateway(t, memoryStores(), nil)
	sess := g.openRaw(t, envelope.ModeGCM)
	plain, session, err := g.server.Unwrap(g.newProtected(sess, []byte(`{}`)).build(t, sess.keys))
	if err != nil {
		t.Fatal(err)
	}
	bound, err := g.server.BindSubject(context.Background(), session, "user-9")
	if err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	_, finish := g.server.WrapResponse(rec, plain, bound)
	if err := finish(); err != nil {
		t.Errorf("finish with the bound copy of the session: %v", err)
	}
	if rec.Header().Get(envelope.HeaderSignature) == "" {
		t.Error("response is not signed")
	}
}

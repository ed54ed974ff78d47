package queue_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/triggers/queue"
)

// ceServer serves a CloudEventsHandler for one consumer of
// "zones.published" on a loopback httptest server and counts the requests.
type ceServer struct {
	url      string
	requests atomic.Int64

	mu       sync.Mutex
	messages []fn.Message
}

func newCEServer(t *testing.T, handle func(ctx context.Context, msg fn.Message) error, opts queue.CloudEventsOptions) *ceServer {
	t.Helper()
	s := &ceServer{}
	record := func(ctx context.Context, msg fn.Message) error {
		s.mu.Lock()
		s.messages = append(s.messages, msg)
		s.mu.Unlock()
		if handle == nil {
			return nil
		}
		return handle(ctx, msg)
	}
	h, err := queue.CloudEventsHandler(function("search", fn.Consumer{Subject: "zones.published", Handle: record}), opts)
	if err != nil {
		t.Fatalf("CloudEventsHandler: %v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *ceServer) received() []fn.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fn.Message(nil), s.messages...)
}

// newEvent returns a valid event for the consumer of "zones.published".
func newEvent(t *testing.T, id string) cloudevents.Event {
	t.Helper()
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetSource("/jingtong/zones")
	e.SetType("jt.zones.published")
	e.SetSubject("zone-1")
	e.SetExtension("traceid", "t1")
	if err := e.SetData(cloudevents.ApplicationJSON, map[string]string{"zone": "z1"}); err != nil {
		t.Fatalf("SetData: %v", err)
	}
	return e
}

// send sends e with a real SDK client and returns the HTTP status.
func send(t *testing.T, ctx context.Context, url string, e cloudevents.Event) int {
	t.Helper()
	c, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatalf("NewClientHTTP: %v", err)
	}
	result := c.Send(cloudevents.ContextWithTarget(ctx, url), e)
	// With retries the SDK wraps the last result without an Unwrap method.
	var retries *cehttp.RetriesResult
	if errors.As(result, &retries) {
		result = retries.Result
	}
	var httpResult *cehttp.Result
	if !errors.As(result, &httpResult) {
		t.Fatalf("Send result %v carries no HTTP status", result)
	}
	return httpResult.StatusCode
}

func TestCloudEvents_bothModesDeliverSameMessage(t *testing.T) {
	modes := []struct {
		name string
		ctx  func(context.Context) context.Context
	}{
		{name: "binary", ctx: cloudevents.WithEncodingBinary},
		{name: "structured", ctx: cloudevents.WithEncodingStructured},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			srv := newCEServer(t, nil, queue.CloudEventsOptions{})
			status := send(t, mode.ctx(context.Background()), srv.url, newEvent(t, "e1"))
			if status != http.StatusAccepted {
				t.Fatalf("status = %d, want 202", status)
			}

			got := srv.received()
			if len(got) != 1 {
				t.Fatalf("consumer called %d times, want 1", len(got))
			}
			msg := got[0]
			checks := []struct{ name, got, want string }{
				{"ID", msg.ID, "e1"},
				{"subject", msg.Subject, "zones.published"},
				{"data", string(msg.Data), `{"zone":"z1"}`},
				{"Ce-Source", msg.Header.Get("Ce-Source"), "/jingtong/zones"},
				{"Ce-Type", msg.Header.Get("Ce-Type"), "jt.zones.published"},
				{"Ce-Subject", msg.Header.Get("Ce-Subject"), "zone-1"},
				{"Ce-Traceid", msg.Header.Get("Ce-Traceid"), "t1"},
				{"Content-Type", msg.Header.Get("Content-Type"), "application/json"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestCloudEvents_failureRetriedBySender(t *testing.T) {
	var calls atomic.Int64
	handle := func(context.Context, fn.Message) error {
		if calls.Add(1) < 3 {
			return errTransient
		}
		return nil
	}
	srv := newCEServer(t, handle, queue.CloudEventsOptions{})

	ctx := cloudevents.ContextWithRetriesExponentialBackoff(context.Background(), 10*time.Millisecond, 5)
	if status := send(t, ctx, srv.url, newEvent(t, "e1")); status != http.StatusAccepted {
		t.Fatalf("final status = %d, want 202 after retries", status)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("requests = %d, want 3: two 503 answers, then success", n)
	}
}

func TestCloudEvents_permanentErrorNotRetried(t *testing.T) {
	handle := func(context.Context, fn.Message) error {
		return queue.Permanent(errors.New("zone id is not a UUID"))
	}
	srv := newCEServer(t, handle, queue.CloudEventsOptions{})

	ctx := cloudevents.ContextWithRetriesExponentialBackoff(context.Background(), 10*time.Millisecond, 5)
	if status := send(t, ctx, srv.url, newEvent(t, "e1")); status != http.StatusUnprocessableEntity {
		t.Fatalf("status = %d, want 422", status)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
}

func TestCloudEvents_duplicateProcessedOnce(t *testing.T) {
	srv := newCEServer(t, nil, queue.CloudEventsOptions{})
	ctx := context.Background()

	for i := range 2 {
		if status := send(t, ctx, srv.url, newEvent(t, "e1")); status != http.StatusAccepted {
			t.Fatalf("send #%d status = %d, want 202", i+1, status)
		}
	}
	if n := len(srv.received()); n != 1 {
		t.Errorf("consumer called %d times for one event sent twice, want 1", n)
	}

	// The same ID from another source is another event.
	other := newEvent(t, "e1")
	other.SetSource("/jingtong/other")
	if status := send(t, ctx, srv.url, other); status != http.StatusAccepted {
		t.Fatalf("send from another source status = %d, want 202", status)
	}
	if n := len(srv.received()); n != 2 {
		t.Errorf("consumer called %d times after an event from another source, want 2", n)
	}
}

func TestCloudEvents_rejectsMalformedRequests(t *testing.T) {
	srv := newCEServer(t, nil, queue.CloudEventsOptions{MaxEventSize: 1024})
	tests := []struct {
		name   string
		method string
		header map[string]string
		body   string
		want   int
	}{
		{
			name: "structured body not JSON", method: http.MethodPost,
			header: map[string]string{"Content-Type": "application/cloudevents+json"},
			body:   "{", want: http.StatusBadRequest,
		},
		{
			name: "structured without id", method: http.MethodPost,
			header: map[string]string{"Content-Type": "application/cloudevents+json"},
			body:   `{"specversion":"1.0","source":"/s","type":"jt.zones.published"}`, want: http.StatusBadRequest,
		},
		{
			name: "binary without source", method: http.MethodPost,
			header: map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "e1", "Ce-Type": "jt.zones.published"},
			want:   http.StatusBadRequest,
		},
		{
			name: "plain JSON", method: http.MethodPost,
			header: map[string]string{"Content-Type": "application/json"},
			body:   `{"zone":"z1"}`, want: http.StatusBadRequest,
		},
		{
			name: "unknown spec version", method: http.MethodPost,
			header: map[string]string{"Ce-Specversion": "9.9", "Ce-Id": "e1", "Ce-Source": "/s", "Ce-Type": "jt.zones.published"},
			want:   http.StatusBadRequest,
		},
		{
			name: "batch", method: http.MethodPost,
			header: map[string]string{"Content-Type": "application/cloudevents-batch+json"},
			body:   `[]`, want: http.StatusBadRequest,
		},
		{
			name: "unknown type", method: http.MethodPost,
			header: map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "e1", "Ce-Source": "/s", "Ce-Type": "jt.zones.deleted"},
			want:   http.StatusBadRequest,
		},
		{
			name: "body too large", method: http.MethodPost,
			header: map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "e1", "Ce-Source": "/s", "Ce-Type": "jt.zones.published"},
			body:   strings.Repeat("x", 2048), want: http.StatusRequestEntityTooLarge,
		},
		{name: "GET", method: http.MethodGet, want: http.StatusMethodNotAllowed},
		{name: "OPTIONS", method: http.MethodOptions, want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.url, strings.NewReader(tt.body))
			if err != nil {
				t.Fatalf("NewRequest: %v", err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusMethodNotAllowed || tt.want == http.StatusOK {
				if allow := resp.Header.Get("Allow"); allow != "POST, OPTIONS" {
					t.Errorf("Allow = %q, want POST, OPTIONS", allow)
				}
			}
		})
	}
	if n := len(srv.received()); n != 0 {
		t.Errorf("consumer called %d times for malformed requests, want 0", n)
	}
}

func TestCloudEvents_platformTokenRequiredWhenSet(t *testing.T) {
	secret := auth.Secret(strings.Repeat("k", auth.MinSecretSize))
	srv := newCEServer(t, nil, queue.CloudEventsOptions{PlatformSecret: secret})
	ctx := context.Background()

	if status := send(t, ctx, srv.url, newEvent(t, "e1")); status != http.StatusUnauthorized {
		t.Errorf("unsigned event status = %d, want 401", status)
	}

	req, err := cehttp.NewHTTPRequestFromEvent(ctx, srv.url, newEvent(t, "e2"))
	if err != nil {
		t.Fatalf("NewHTTPRequestFromEvent: %v", err)
	}
	if err := auth.SignPlatform(secret, req, time.Now()); err != nil {
		t.Fatalf("SignPlatform: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("signed request: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("signed event status = %d, want 202", resp.StatusCode)
	}
	if got := srv.received(); len(got) != 1 || got[0].ID != "e2" {
		t.Errorf("consumer received %d messages, want only the signed e2", len(got))
	}
}

func TestCloudEvents_consumerSeesDelivery(t *testing.T) {
	var got queue.Delivery
	handle := func(ctx context.Context, _ fn.Message) error {
		got, _ = queue.DeliveryFromContext(ctx)
		return nil
	}
	srv := newCEServer(t, handle, queue.CloudEventsOptions{})
	if status := send(t, context.Background(), srv.url, newEvent(t, "e1")); status != http.StatusAccepted {
		t.Fatalf("status = %d, want 202", status)
	}
	want := queue.Delivery{Consumer: "search_zones_published", Key: "%2Fjingtong%2Fzones e1", Attempt: 1}
	if got != want {
		t.Errorf("Delivery = %+v, want %+v", got, want)
	}
}

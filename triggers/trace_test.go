package triggers_test

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/triggers"
)

const (
	testTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	testTraceparent = "00-" + testTraceID + "-00f067aa0ba902b7-01"
)

// getWithTraceparent sends GET url with testTraceparent, retrying until the
// server listens.
func getWithTraceparent(t *testing.T, url string) *http.Response {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Traceparent", testTraceparent)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunSinkEventCarriesTraceparent(t *testing.T) {
	t.Parallel()
	sunk := make(chan string, 1)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sunk <- r.Header.Get("Ce-Traceparent")
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(sink.Close)
	addr := runEvents(t, map[string]string{"K_SINK": sink.URL, "K_SERVICE": "events"}, make(chan fn.Message, 1))

	resp := getWithTraceparent(t, "http://"+addr+"/publish")
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publish = %d, want 202", resp.StatusCode)
	}
	select {
	case got := <-sunk:
		// Without an exporter the function makes no span of its own, so
		// the request's trace context passes through unchanged.
		if got != testTraceparent {
			t.Errorf("event traceparent extension = %q, want %q", got, testTraceparent)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sink got nothing within 10s")
	}
}

// otlpReceiver is a loopback OTLP/HTTP traces endpoint that keeps every
// export request.
type otlpReceiver struct {
	mu       sync.Mutex
	requests []*coltracepb.ExportTraceServiceRequest
	types    []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.URL.Path != "/v1/traces" {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	o.requests = append(o.requests, &req)
	o.types = append(o.types, r.Header.Get("Content-Type"))
	o.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func TestRunExportsSpansOverOTLP(t *testing.T) {
	t.Parallel()
	receiver := &otlpReceiver{}
	collector := httptest.NewServer(receiver)
	t.Cleanup(collector.Close)

	addr := freeLoopbackAddr(t)
	env := testEnv(t, map[string]string{
		"JT_HTTP_ADDR":                addr,
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- triggers.Run(ctx, nil, lookupMap(env), io.Discard, eventFunction(make(chan fn.Message, 1)))
	}()

	// /healthz sits in front of the traced handler, so only /missing makes
	// a span.
	resp := getWithTraceparent(t, "http://"+addr+"/healthz")
	_ = resp.Body.Close()
	resp = getWithTraceparent(t, "http://"+addr+"/missing")
	_ = resp.Body.Close()
	// Stopping Run shuts the provider down, which exports the spans.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after the context ended")
	}

	receiver.mu.Lock()
	defer receiver.mu.Unlock()
	if len(receiver.requests) == 0 {
		t.Fatal("the collector got no export request")
	}
	if receiver.types[0] != "application/x-protobuf" {
		t.Errorf("export Content-Type = %q, want application/x-protobuf", receiver.types[0])
	}
	var found bool
	for _, req := range receiver.requests {
		for _, rs := range req.GetResourceSpans() {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, span := range ss.GetSpans() {
					if span.GetName() != "GET events" {
						continue
					}
					found = true
					if service != "events" {
						t.Errorf("service.name = %q, want the function's name", service)
					}
					if got := hex.EncodeToString(span.GetTraceId()); got != testTraceID {
						t.Errorf("span trace id = %s, want %s from the request", got, testTraceID)
					}
				}
			}
		}
	}
	if !found {
		t.Errorf("no span named %q among the exported spans", "GET events")
	}
}

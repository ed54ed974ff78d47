package triggers_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store/storetest"
	"github.com/jingtong/backend/triggers"
)

// eventFunction publishes on GET /publish and hands what its consumer of
// "demo.happened" receives to got.
func eventFunction(got chan<- fn.Message) fn.Builder {
	return func(_ context.Context, env *fn.Env) (*fn.Function, error) {
		return &fn.Function{
			Name: "events",
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if env.Publisher == nil {
					http.Error(w, "no publisher", http.StatusServiceUnavailable)
					return
				}
				err := env.Publisher.Publish(r.Context(), "demo.happened", []byte(`{"n":1}`), fn.PublishOptions{ID: "demo-1"})
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
					return
				}
				w.WriteHeader(http.StatusAccepted)
			}),
			Consumers: []fn.Consumer{{
				Subject: "demo.happened",
				Handle: func(_ context.Context, msg fn.Message) error {
					got <- msg
					return nil
				},
			}},
		}, nil
	}
}

// runEvents runs eventFunction with vars until the test ends and returns
// its address.
func runEvents(t *testing.T, vars map[string]string, got chan fn.Message) string {
	t.Helper()
	addr := freeLoopbackAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env := testEnv(t, map[string]string{"JT_HTTP_ADDR": addr})
	for k, v := range vars {
		env[k] = v
	}
	// Deployed functions create their tables with the migrate command.
	if err := triggers.Run(ctx, []string{triggers.MigrateCommand}, lookupMap(env), io.Discard, eventFunction(got)); err != nil {
		cancel()
		t.Fatalf("migrate: %v", err)
	}
	go func() { done <- triggers.Run(ctx, nil, lookupMap(env), io.Discard, eventFunction(got)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("Run did not return after the context ended")
		}
	})
	return addr
}

func TestRunConsumesQueue(t *testing.T) {
	t.Parallel()
	backends := map[string]map[string]string{"memory": nil}
	if vars := storetest.NATSQueueVars(t, "jttriggers"); vars != nil {
		backends["nats"] = vars
	}
	for name, vars := range backends {
		t.Run(name, func(t *testing.T) { consumeOnce(t, vars) })
	}
}

// consumeOnce publishes through the function and waits for its consumer.
func consumeOnce(t *testing.T, vars map[string]string) {
	got := make(chan fn.Message, 1)
	addr := runEvents(t, vars, got)

	resp := waitGet(t, &http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/publish")
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publish = %d, want 202", resp.StatusCode)
	}
	select {
	case msg := <-got:
		if string(msg.Data) != `{"n":1}` || msg.Subject != "demo.happened" {
			t.Errorf("consumer got %s on %q, want the published message", msg.Data, msg.Subject)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the consumer got nothing within 10s")
	}
}

func TestRunPublishesToKnativeSink(t *testing.T) {
	t.Parallel()
	type received struct{ typ, id, source, body string }
	sunk := make(chan received, 1)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sunk <- received{r.Header.Get("Ce-Type"), r.Header.Get("Ce-Id"), r.Header.Get("Ce-Source"), string(body)}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(sink.Close)
	addr := runEvents(t, map[string]string{"K_SINK": sink.URL, "K_SERVICE": "events"}, make(chan fn.Message, 1))

	resp := waitGet(t, &http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/publish")
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publish = %d, want 202", resp.StatusCode)
	}
	select {
	case e := <-sunk:
		want := received{typ: "jt.demo.happened", id: "demo-1", source: "/jingtong/events", body: `{"n":1}`}
		if e != want {
			t.Errorf("sink got %+v, want %+v", e, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sink got nothing within 10s")
	}
}

func TestRunServesKnativeEvents(t *testing.T) {
	t.Parallel()
	got := make(chan fn.Message, 1)
	addr := runEvents(t, map[string]string{"K_SERVICE": "events", "K_SINK": "http://127.0.0.1:1/unused"}, got)
	waitGet(t, &http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/healthz").Body.Close()

	req, err := http.NewRequest(http.MethodPost, "http://"+addr+triggers.EventsPath, strings.NewReader(`{"n":2}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Type", "jt.demo.happened")
	req.Header.Set("Ce-Id", "delivery-1")
	req.Header.Set("Ce-Source", "/broker")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s = %d, want 202", triggers.EventsPath, resp.StatusCode)
	}
	select {
	case msg := <-got:
		if string(msg.Data) != `{"n":2}` || msg.ID != "delivery-1" {
			t.Errorf("consumer got %s with ID %q, want the delivered event", msg.Data, msg.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the consumer got nothing within 10s")
	}
}

func TestRunHidesEventsWithoutSecret(t *testing.T) {
	t.Parallel()
	addr := runEvents(t, nil, make(chan fn.Message, 1))
	waitGet(t, &http.Client{Timeout: 5 * time.Second}, "http://"+addr+"/healthz").Body.Close()

	resp, err := http.Post("http://"+addr+triggers.EventsPath, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	// The function's own handler responds, because the event endpoint is not mounted.
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("POST %s without Knative or a platform secret = %d, want the function's own 202", triggers.EventsPath, resp.StatusCode)
	}
}

package queue_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/obs"
	"github.com/jingtong/backend/shared/obs/obstest"
	"github.com/jingtong/backend/triggers/queue"
)

// publisherContext returns a context with a sampled remote span, as a
// request handler that publishes has, and its span context.
func publisherContext(t *testing.T, traceID, spanID string) (context.Context, trace.SpanContext) {
	t.Helper()
	tid, err := trace.TraceIDFromHex(traceID)
	if err != nil {
		t.Fatal(err)
	}
	sid, err := trace.SpanIDFromHex(spanID)
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(context.Background(), sc), sc
}

// spanCollector is a consumer that records the span context of each call.
type spanCollector struct {
	seen chan trace.SpanContext
}

func (c *spanCollector) handle(ctx context.Context, _ fn.Message) error {
	c.seen <- trace.SpanContextFromContext(ctx)
	return nil
}

func (c *spanCollector) next(t *testing.T) trace.SpanContext {
	t.Helper()
	select {
	case sc := <-c.seen:
		return sc
	case <-time.After(waitTimeout):
		t.Fatalf("no delivery within %s", waitTimeout)
		return trace.SpanContext{}
	}
}

func TestTrace_consumerContinuesPublisherTrace(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		exporter := tracetest.NewInMemoryExporter()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		var logs obstest.Buffer
		c := &spanCollector{seen: make(chan trace.SpanContext, 1)}
		fail := true
		var mu sync.Mutex
		handle := func(ctx context.Context, msg fn.Message) error {
			mu.Lock()
			first := fail
			fail = false
			mu.Unlock()
			if first {
				return context.DeadlineExceeded // one retry, logged with the trace id
			}
			return c.handle(ctx, msg)
		}
		startRunner(t, h.backend, []*fn.Function{function("search", fn.Consumer{Subject: "zones.traced", Handle: handle})},
			queue.RunnerOptions{Policy: testPolicy(), Logger: obs.NewLogger(&logs, slog.LevelDebug), TracerProvider: tp})

		ctx, pub := publisherContext(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
		if err := h.backend.Publish(ctx, "zones.traced", []byte("{}"), queue.PublishOptions{ID: "traced-1"}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		got := c.next(t)

		if got.TraceID() != pub.TraceID() {
			t.Errorf("consumer trace id = %s, want the publisher's %s", got.TraceID(), pub.TraceID())
		}
		if got.SpanID() == pub.SpanID() {
			t.Errorf("consumer span id = publisher's %s, want the consumer span's own", got.SpanID())
		}
		var consumerSpans []tracetest.SpanStub
		waitFor(t, "two consumer spans", func() bool {
			consumerSpans = consumerSpans[:0]
			for _, s := range exporter.GetSpans() {
				if s.Name == "process zones.traced" {
					consumerSpans = append(consumerSpans, s)
				}
			}
			return len(consumerSpans) == 2
		})
		for _, s := range consumerSpans {
			if s.Parent.SpanID() != pub.SpanID() {
				t.Errorf("consumer span parent = %s, want the publisher's span %s", s.Parent.SpanID(), pub.SpanID())
			}
			if s.SpanKind != trace.SpanKindConsumer {
				t.Errorf("span kind = %v, want consumer", s.SpanKind)
			}
		}
		retry := findLogLine(t, logs.String(), "consumer failed; retrying")
		if retry["trace_id"] != pub.TraceID().String() {
			t.Errorf("retry log trace_id = %v, want %s", retry["trace_id"], pub.TraceID())
		}
	})
}

func TestTrace_messageCarriesTraceparentWithoutTracer(t *testing.T) {
	eachBackend(t, harnessOptions{}, func(t *testing.T, h *harness) {
		c := newCollector()
		sc := &spanCollector{seen: make(chan trace.SpanContext, 1)}
		handle := func(ctx context.Context, msg fn.Message) error {
			_ = sc.handle(ctx, msg)
			return c.handle(ctx, msg)
		}
		startRunner(t, h.backend, []*fn.Function{function("search", fn.Consumer{Subject: "zones.plain", Handle: handle})},
			queue.RunnerOptions{Policy: testPolicy()})

		ctx, pub := publisherContext(t, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
		if err := h.backend.Publish(ctx, "zones.plain", []byte("{}"), queue.PublishOptions{ID: "plain-1"}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
		msg := c.next(t)
		got := sc.next(t)

		want := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		if tp := msg.Header.Get("Traceparent"); tp != want {
			t.Errorf("message traceparent = %q, want %q", tp, want)
		}
		if got.TraceID() != pub.TraceID() || got.SpanID() != pub.SpanID() {
			t.Errorf("consumer span context = %s/%s, want the publisher's %s/%s", got.TraceID(), got.SpanID(), pub.TraceID(), pub.SpanID())
		}
		if !got.IsRemote() {
			t.Errorf("consumer span context is local, want remote")
		}
	})
}

func TestTrace_publishWithoutSpanKeepsHeader(t *testing.T) {
	m := queue.NewMemory(queue.MemoryOptions{})
	t.Cleanup(func() { _ = m.Close() })
	c := newCollector()
	startRunner(t, m, []*fn.Function{function("search", fn.Consumer{Subject: "zones.own", Handle: c.handle})},
		queue.RunnerOptions{Policy: testPolicy()})

	own := "00-11111111111111111111111111111111-2222222222222222-00"
	header := map[string][]string{"Traceparent": {own}}
	publish(t, m, "zones.own", "{}", queue.PublishOptions{ID: "own-1", Header: header})

	if got := c.next(t).Header.Get("Traceparent"); got != own {
		t.Errorf("traceparent = %q, want the publisher's own %q", got, own)
	}
}

func TestTrace_cloudEventExtensionReachesConsumer(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	c := &spanCollector{seen: make(chan trace.SpanContext, 1)}
	srv := newCEServer(t, c.handle, queue.CloudEventsOptions{TracerProvider: tp})

	e := newEvent(t, "traced-event-1")
	e.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	e.SetExtension("tracestate", "congo=t61rcWkgMzE")
	if status := send(t, context.Background(), srv.url, e); status != 202 {
		t.Fatalf("status = %d, want 202", status)
	}
	got := c.next(t)

	if want := "4bf92f3577b34da6a3ce929d0e0e4736"; got.TraceID().String() != want {
		t.Errorf("consumer trace id = %s, want %s from the traceparent extension", got.TraceID(), want)
	}
	if got.TraceState().Get("congo") != "t61rcWkgMzE" {
		t.Errorf("consumer tracestate = %q, want congo=t61rcWkgMzE", got.TraceState().String())
	}
	spans := exporter.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("spans = %d, want 1 consumer span", len(spans))
	}
	if spans[0].Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("consumer span parent = %s, want 00f067aa0ba902b7", spans[0].Parent.SpanID())
	}
}

// findLogLine returns the first JSON log line of logs whose msg is msg.
func findLogLine(t *testing.T, logs, msg string) map[string]any {
	t.Helper()
	for line := range strings.SplitSeq(strings.TrimSpace(logs), "\n") {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if record["msg"] == msg {
			return record
		}
	}
	t.Fatalf("no log line %q in:\n%s", msg, logs)
	return nil
}

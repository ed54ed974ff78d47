package cron

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/obs"
)

func TestTrigger_spanContinuesCallerTrace(t *testing.T) {
	t.Parallel()
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var logs bytes.Buffer
	var seen trace.SpanContext
	run := func(ctx context.Context) error {
		seen = trace.SpanContextFromContext(ctx)
		return nil
	}
	now := bj(t, "2026-03-01 10:00:30")
	r := newTestRunner(t, testFunction("refresh", "0 10 * * *", fn.MissedSkip, run), Options{
		Locker: NewMemoryLocker(), Now: func() time.Time { return now },
		Logger: obs.NewLogger(&logs, slog.LevelInfo), TracerProvider: tp,
	})

	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	caller := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
	res, err := r.Trigger(trace.ContextWithRemoteSpanContext(context.Background(), caller), "refresh", now, SourcePlatformCall)
	if err != nil || res.Outcome != OutcomeSucceeded {
		t.Fatalf("Trigger = %v, %v; want a successful run", res.Outcome, err)
	}

	spans := exporter.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("spans = %d, want 1", len(spans))
	}
	span := spans[0]
	if span.Name != "cron refresh" || span.Parent.SpanID() != sid || span.SpanContext.TraceID() != tid {
		t.Errorf("span %q trace %s parent %s, want %q in trace %s under %s", span.Name, span.SpanContext.TraceID(), span.Parent.SpanID(), "cron refresh", tid, sid)
	}
	if seen.SpanID() != span.SpanContext.SpanID() {
		t.Errorf("job ran in span %s, want the trigger span %s", seen.SpanID(), span.SpanContext.SpanID())
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var record map[string]any
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if record["trace_id"] != tid.String() || record["span_id"] != span.SpanContext.SpanID().String() {
			t.Errorf("log %q trace_id %v span_id %v, want %s %s", record["msg"], record["trace_id"], record["span_id"], tid, span.SpanContext.SpanID())
		}
	}
}

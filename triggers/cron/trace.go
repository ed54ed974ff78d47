package cron

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/obs"
)

// traceScope is the instrumentation scope of the trigger spans.
const traceScope = "github.com/jingtong/backend/triggers/cron"

// Attributes of the trigger spans.
var (
	attrFunction = attribute.Key("jt.cron.function")
	attrJob      = attribute.Key("jt.cron.job")
	attrSource   = attribute.Key("jt.cron.source")
	attrTick     = attribute.Key("jt.cron.tick")
	attrOutcome  = attribute.Key("jt.cron.outcome")
)

// newTracer returns the tracer of tp, or nil when tp makes no spans.
func newTracer(tp trace.TracerProvider) trace.Tracer {
	if !obs.TracingEnabled(tp) {
		return nil
	}
	return tp.Tracer(traceScope)
}

// startSpan starts the span of one trigger of job as a child of the span
// context of ctx, such as that of a platform call's request. A tick of the
// in-process scheduler has none, so it starts a new trace. Without a tracer
// startSpan returns ctx and a nil span.
func (r *Runner) startSpan(ctx context.Context, job string, source Source) (context.Context, trace.Span) {
	if r.tracer == nil {
		return ctx, nil
	}
	ctx, span := r.tracer.Start(ctx, "cron "+job)
	if span.IsRecording() {
		span.SetAttributes(attrFunction.String(r.function), attrJob.String(job), attrSource.String(string(source)))
	}
	return ctx, span
}

// endSpan records the result on span and ends it. A nil span is ignored.
func endSpan(span trace.Span, res Result, err error) {
	if span == nil {
		return
	}
	if span.IsRecording() {
		span.SetAttributes(attrOutcome.String(string(res.Outcome)))
		if !res.Tick.IsZero() {
			span.SetAttributes(attrTick.String(res.Tick.UTC().Format("2006-01-02T15:04:05Z")))
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}

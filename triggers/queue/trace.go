package queue

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/obs"
)

// traceScope is the instrumentation scope of the consumer spans.
const traceScope = "github.com/jingtong/backend/triggers/queue"

// attrAttempt is the span attribute with Delivery.Attempt.
var attrAttempt = attribute.Key("jt.queue.attempt")

// newConsumerTracer returns the tracer of tp, or nil when tp makes no
// spans.
func newConsumerTracer(tp trace.TracerProvider) trace.Tracer {
	if !obs.TracingEnabled(tp) {
		return nil
	}
	return tp.Tracer(traceScope)
}

// messageCarrier reads and writes W3C Trace Context in a message's
// headers: traceparent and tracestate as NATS and the in-process queue
// carry them, or ce-traceparent and ce-tracestate, the CloudEvents
// distributed tracing extension as binary-mode headers.
type messageCarrier http.Header

func (c messageCarrier) Get(key string) string {
	h := http.Header(c)
	if v := h.Get(key); v != "" {
		return v
	}
	return h.Get("Ce-" + key)
}

func (c messageCarrier) Set(key, value string) { http.Header(c).Set(key, value) }

func (c messageCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// injectTrace stores the span context of ctx in header, the headers of a
// message about to be published. Without a valid span context it leaves
// header as it is, so that a trace context that the publisher set itself,
// or that a dead letter copied from its message, is kept.
func injectTrace(ctx context.Context, header http.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		obs.Propagator().Inject(ctx, messageCarrier(header))
	}
}

// startSpan returns ctx with the trace context that d's message carries
// and, when p has a tracer, a consumer span as its child. The span links
// to the span of ctx, such as the HTTP request of a CloudEvents delivery,
// when that is another trace's. The span is nil without a tracer.
func (p *processor) startSpan(ctx context.Context, d delivery) (context.Context, trace.Span) {
	transport := trace.SpanContextFromContext(ctx)
	ctx = obs.Propagator().Extract(ctx, messageCarrier(d.msg.Header))
	if p.tracer == nil {
		return ctx, nil
	}

	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
	if parent := trace.SpanContextFromContext(ctx); transport.IsValid() && !transport.Equal(parent) {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: transport}))
	}
	ctx, span := p.tracer.Start(ctx, p.spanName, opts...)
	if span.IsRecording() {
		span.SetAttributes(
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingDestinationName(p.subject),
			semconv.MessagingConsumerGroupName(p.name),
			semconv.MessagingMessageID(d.msg.ID),
			attrAttempt.Int(d.attempt),
		)
	}
	return ctx, span
}

// endSpan records on span what became of the delivery and ends it. A nil
// span is ignored.
func endSpan(span trace.Span, out outcome, err error) {
	if span == nil {
		return
	}
	if span.IsRecording() {
		switch {
		case out.verdict == verdictDead:
			span.SetStatus(codes.Error, "dead-lettered: "+out.reason)
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}

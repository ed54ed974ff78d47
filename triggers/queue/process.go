package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/fn"
)

// Delivery describes the delivery that a consumer is called for.
type Delivery struct {
	// Consumer is the consumer's name (ConsumerName).
	Consumer string
	// Key is the idempotency key recorded in the Store: the message ID,
	// or for CloudEvents the escaped source, a space and the event ID.
	Key string
	// Attempt counts deliveries of this message to this consumer, from 1.
	// It is 1 for CloudEvents, whose sender does not report its retries.
	Attempt int
}

// deliveryState is the Delivery in a consumer's context plus what InTx
// needs.
type deliveryState struct {
	Delivery
	now    func() time.Time
	txUsed atomic.Bool
}

type deliveryKey struct{}

func withDelivery(ctx context.Context, d *deliveryState) context.Context {
	return context.WithValue(ctx, deliveryKey{}, d)
}

func deliveryFrom(ctx context.Context) *deliveryState {
	d, _ := ctx.Value(deliveryKey{}).(*deliveryState)
	return d
}

// DeliveryFromContext returns the delivery that a consumer's context
// belongs to, and false for any other context.
func DeliveryFromContext(ctx context.Context) (Delivery, bool) {
	d := deliveryFrom(ctx)
	if d == nil {
		return Delivery{}, false
	}
	return d.Delivery, true
}

// verdict is the action a backend takes on a delivery after processing it.
type verdict int

const (
	verdictAck   verdict = iota // processed now or before: acknowledge
	verdictRetry                // deliver again after outcome.delay
	verdictDead                 // move to the dead-letter subject
)

// outcome is the result of processing one delivery.
type outcome struct {
	verdict verdict
	delay   time.Duration // before the next attempt, for verdictRetry
	reason  string        // why, for verdictDead
}

// processor runs one consumer of one function with the idempotency store.
// Every backend and the CloudEvents handler share it.
type processor struct {
	name    string // ConsumerName
	subject string
	handle  func(ctx context.Context, msg fn.Message) error
	policy  Policy
	store   Store
	logger  *slog.Logger
	now     func() time.Time
	// tracer makes the consumer spans; nil makes none.
	tracer trace.Tracer
	// spanName names the consumer spans as OpenTelemetry's messaging
	// conventions do: the operation, then the destination.
	spanName string
}

// delivery is one message handed to a processor.
type delivery struct {
	key     string
	msg     fn.Message
	attempt int
	// poison, when set, is why the message cannot be processed; it goes to
	// the dead-letter subject without a call.
	poison string
}

// deliver calls the consumer unless the store has the message. It returns
// whether the message was a duplicate and the consumer's error.
func (p *processor) deliver(ctx context.Context, d delivery) (duplicate bool, err error) {
	seen, err := p.store.Seen(ctx, p.name, d.key)
	if err != nil {
		return false, err
	}
	if seen {
		return true, nil
	}

	if err := p.call(ctx, d); err != nil {
		return false, err
	}

	// Record even when the consumer used InTx (the insert is then a no-op),
	// with a context that survives shutdown: the effect is made, and an
	// unrecorded message would run again if it were published again.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := p.store.Record(rctx, p.name, d.key); err != nil {
		p.logger.WarnContext(ctx, "processed message not recorded; a later duplicate would run again",
			"consumer", p.name, "message_id", d.msg.ID, "err", err)
	}
	return false, nil
}

// call runs the consumer with the delivery in its context, a timeout, and a
// panic turned into an error.
func (p *processor) call(ctx context.Context, d delivery) (err error) {
	state := &deliveryState{
		Delivery: Delivery{Consumer: p.name, Key: d.key, Attempt: d.attempt},
		now:      p.now,
	}
	ctx = withDelivery(ctx, state)
	if p.policy.HandlerTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.policy.HandlerTimeout)
		defer cancel()
	}

	defer func() {
		if v := recover(); v != nil {
			p.logger.ErrorContext(ctx, "consumer panicked", "consumer", p.name, "message_id", d.msg.ID,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = fmt.Errorf("consumer panicked: %v", v)
		}
	}()
	return p.handle(ctx, d.msg)
}

// process runs a queue delivery and decides what the backend does with it.
// ctx ends only when a stop gives up waiting; a failure after that is
// retried at once, without a backoff, by whichever process runs next. The
// delivery runs in the trace context of its message, so its log lines
// carry the publisher's trace id.
func (p *processor) process(ctx context.Context, d delivery) outcome {
	ctx, span := p.startSpan(ctx, d)
	out, err := p.processInSpan(ctx, d)
	endSpan(span, out, err)
	return out
}

// processInSpan is process inside the delivery's trace context. It returns
// the consumer's error too, for the span.
func (p *processor) processInSpan(ctx context.Context, d delivery) (outcome, error) {
	log := p.logger.With("consumer", p.name, "message_id", d.msg.ID, "attempt", d.attempt)
	if d.poison != "" {
		log.ErrorContext(ctx, "message cannot be processed; dead-lettering it", "reason", d.poison)
		return outcome{verdict: verdictDead, reason: d.poison}, nil
	}

	// A delivery past the last attempt means that attempt ended without an
	// outcome (the process died or the ack timed out); it was not failed.
	if d.attempt > p.policy.Attempts {
		seen, err := p.store.Seen(ctx, p.name, d.key)
		if err == nil && seen {
			return outcome{verdict: verdictAck}, nil
		}
		reason := fmt.Sprintf("attempt %d of %d ended without an outcome (process stopped or ack wait expired)", p.policy.Attempts, p.policy.Attempts)
		log.ErrorContext(ctx, "message exhausted its attempts; dead-lettering it", "reason", reason)
		return outcome{verdict: verdictDead, reason: reason}, nil
	}

	duplicate, err := p.deliver(ctx, d)
	switch {
	case err == nil && duplicate:
		log.DebugContext(ctx, "duplicate message acknowledged without a call")
		return outcome{verdict: verdictAck}, nil
	case err == nil:
		log.DebugContext(ctx, "message processed")
		return outcome{verdict: verdictAck}, nil
	case IsPermanent(err):
		log.ErrorContext(ctx, "consumer failed permanently; dead-lettering the message", "err", err)
		return outcome{verdict: verdictDead, reason: err.Error()}, err
	case ctx.Err() != nil:
		log.WarnContext(ctx, "consumer interrupted by shutdown; the message will be delivered again", "err", err)
		return outcome{verdict: verdictRetry}, err
	case d.attempt >= p.policy.Attempts:
		log.ErrorContext(ctx, "consumer failed on the last attempt; dead-lettering the message", "err", err)
		return outcome{verdict: verdictDead, reason: err.Error()}, err
	default:
		delay := p.policy.backoff(d.attempt)
		log.WarnContext(ctx, "consumer failed; retrying", "err", err, "delay", delay.String())
		return outcome{verdict: verdictRetry, delay: delay}, err
	}
}

// maxReasonLength bounds HeaderDeadReason.
const maxReasonLength = 1024

// deadLetter builds the dead letter of d: the dead-letter subject, the
// message ID and the headers.
func (p *processor) deadLetter(d delivery, reason string) (subject, id string, header http.Header) {
	header = http.Header{}
	for name, values := range d.msg.Header {
		if !reservedHeader(name) {
			header[name] = append([]string(nil), values...)
		}
	}

	reason = strings.Join(strings.Fields(reason), " ")
	if len(reason) > maxReasonLength {
		reason = truncateUTF8(reason, maxReasonLength)
	}
	header.Set(HeaderDeadReason, reason)
	header.Set(HeaderDeadAttempts, strconv.Itoa(d.attempt))
	header.Set(HeaderDeadSubject, p.subject)
	header.Set(HeaderDeadConsumer, p.name)
	if d.msg.ID != "" {
		header.Set(HeaderDeadMessageID, d.msg.ID)
	}

	id = "dlq:" + p.name + ":" + d.key
	if len(id) > MaxIDLength {
		sum := sha256.Sum256([]byte(p.name + "\n" + d.key))
		id = "dlq:" + hex.EncodeToString(sum[:])
	}
	return DeadLetterPrefix + p.subject, id, header
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

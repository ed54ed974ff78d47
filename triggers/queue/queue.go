// Package queue publishes queue messages and delivers them to the consumers
// of Jingtong functions ([fn.Consumer]), over NATS JetStream, an in-process
// queue for local development, or CloudEvents pushed by a Knative Broker.
//
// # Subjects and streams
//
// A subject is a dot-separated name such as "zones.published": one to 16
// tokens of ASCII letters, digits, "-" and "_", at most [MaxSubjectLength]
// bytes. Functions publish and consume these logical subjects; only this
// package adds the transport prefix.
//
// On NATS every subject lives in one stream, "JINGTONG" by default, which
// stores the subjects "jt.>": "zones.published" is sent as
// "jt.zones.published". One stream rather than one per function lets any
// number of functions consume the same subject, each through its own
// durable consumer, without the publisher knowing who consumes. Each
// consumer of a function is a durable pull consumer named by
// [ConsumerName], such as "search_zones_published", filtered on its one
// subject.
//
// # Delivery, retries and dead letters
//
// Delivery is at least once. A consumer is called with the message and
// acknowledged only after it returns nil. An error leads to another attempt
// after a backoff (Policy.Backoff: 1s, 5s, then 30s by default), up to
// Policy.Attempts attempts in all. After the last failed attempt, or at once
// when the consumer returns [Permanent] or the message cannot be decoded,
// the message is moved to the dead-letter subject "dlq.<subject>" (on NATS
// "jt.dlq.<subject>") with the headers [HeaderDeadReason],
// [HeaderDeadAttempts], [HeaderDeadSubject], [HeaderDeadConsumer] and
// [HeaderDeadMessageID]. A function may consume a dead-letter subject like
// any other.
//
// # Idempotency
//
// Each message carries an ID, its idempotency key. Publishing the same ID
// again within the duplicate window (2 minutes by default) stores nothing
// new. On the consuming side a [Store] records which (consumer, ID) pairs
// have been processed, and a delivery whose pair is recorded is
// acknowledged without calling the consumer. A consumer that makes its
// effect through [InTx] records the pair in the same database transaction
// as the effect, so a redelivery never repeats the effect. For any other
// consumer the pair is checked before the call and recorded after it, so
// an effect can repeat when the process dies between the two.
//
// # Trace context
//
// Publish stores the W3C trace context of its ctx in the message's
// headers, traceparent and tracestate, replacing any the caller set. A ctx
// without a span leaves the headers as they are. The consumer's context
// then carries that trace context, so the consumer's log lines have the
// publisher's trace id, and with a TracerProvider each delivery is a
// consumer span in the publisher's trace. A CloudEvent brings its trace
// context in the traceparent and tracestate extension attributes of the
// CloudEvents distributed tracing extension. Dead letters keep the trace
// context of their message.
//
// # Hosts
//
// A host opens a backend with Open (or NewNATS and NewMemory), runs the
// consumers of its functions with a Runner, and passes the backend to the
// functions as their Publisher. On Knative it can instead serve
// CloudEventsHandler to a Broker's Trigger: the event type "jt.<subject>"
// selects the consumer, and the event's source and ID are the idempotency
// key.
package queue

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jingtong/backend/shared/fn"
)

// Limits on names and messages.
const (
	// MaxSubjectLength is the longest subject in bytes. It keeps consumer
	// names, which embed the subject, well within the 255-byte file names
	// that JetStream file storage uses for durable consumers.
	MaxSubjectLength = 128
	// MaxIDLength is the longest message ID in bytes.
	MaxIDLength = 256
	// DeadLetterPrefix starts every dead-letter subject: the dead letters of
	// "zones.published" go to "dlq.zones.published".
	DeadLetterPrefix = "dlq."
)

// Headers that a dead-letter message carries in addition to the original
// message's headers. They are in canonical MIME form, so
// http.Header.Get finds them.
const (
	// HeaderDeadReason is the error of the last attempt, or why the message
	// could not be processed at all. At most 1024 bytes, on one line.
	HeaderDeadReason = "Jt-Dlq-Reason"
	// HeaderDeadAttempts is the number of the delivery that dead-lettered
	// the message, in decimal: Policy.Attempts after a failure on every
	// attempt, one more when the last attempt ended without an outcome, and
	// less for a permanent error.
	HeaderDeadAttempts = "Jt-Dlq-Attempts"
	// HeaderDeadSubject is the subject the message was published to.
	HeaderDeadSubject = "Jt-Dlq-Subject"
	// HeaderDeadConsumer is the name of the consumer that gave up.
	HeaderDeadConsumer = "Jt-Dlq-Consumer"
	// HeaderDeadMessageID is the ID of the original message. The dead
	// letter's own ID is "dlq:<consumer>:<idempotency key>", or "dlq:" and
	// the hex SHA-256 of consumer, newline and key when that would exceed
	// MaxIDLength.
	HeaderDeadMessageID = "Jt-Dlq-Message-Id"
)

// Errors returned by Publish.
var (
	// ErrInvalidMessage wraps every reason to reject a message before it is
	// sent: a bad subject, ID or header, or a payload over the limit.
	ErrInvalidMessage = errors.New("queue: invalid message")
	// ErrFull means the in-process queue had no room for the message
	// within MemoryOptions.PublishWait.
	ErrFull = errors.New("queue: queue is full")
	// ErrClosed means the publisher was closed.
	ErrClosed = errors.New("queue: publisher is closed")
)

// Publisher sends messages to subjects. Both backends, *NATS and *Memory,
// implement it, and fakes in tests can too. It is fn.Publisher, so hosts
// hand a backend to functions in fn.Env.
//
// Publish returns an error wrapping ErrInvalidMessage for a bad subject,
// ID, header or payload, ErrFull when the in-process queue stays full,
// ErrClosed after Close, and the transport's error otherwise.
type Publisher = fn.Publisher

// PublishOptions are the optional parts of a message; see fn.PublishOptions.
type PublishOptions = fn.PublishOptions

var subjectPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,15}$`)

// ValidateSubject returns an error wrapping ErrInvalidMessage unless
// subject is a valid logical subject (see the package documentation).
func ValidateSubject(subject string) error {
	if len(subject) > MaxSubjectLength {
		return fmt.Errorf("%w: subject %q has %d bytes; the maximum is %d", ErrInvalidMessage, subject, len(subject), MaxSubjectLength)
	}
	if !subjectPattern.MatchString(subject) {
		return fmt.Errorf("%w: subject %q: want 1 to 16 dot-separated tokens of letters, digits, '-' and '_'", ErrInvalidMessage, subject)
	}
	return nil
}

// validateID checks a message ID: non-empty, valid UTF-8, at most max bytes
// and free of control characters, so that it fits the processed-message
// table and reads well in logs.
func validateID(id string, limit int) error {
	if id == "" {
		return fmt.Errorf("%w: empty message ID", ErrInvalidMessage)
	}
	if len(id) > limit {
		return fmt.Errorf("%w: message ID has %d bytes; the maximum is %d", ErrInvalidMessage, len(id), limit)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("%w: message ID is not valid UTF-8", ErrInvalidMessage)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: message ID %q contains a control character", ErrInvalidMessage, id)
		}
	}
	return nil
}

// validatePublish checks what the caller of Publish controls.
func validatePublish(subject string, data []byte, opts PublishOptions, maxPayload int) error {
	if err := ValidateSubject(subject); err != nil {
		return err
	}
	if strings.HasPrefix(subject, DeadLetterPrefix) {
		return fmt.Errorf("%w: subject %q: the %q prefix is reserved for dead letters", ErrInvalidMessage, subject, DeadLetterPrefix)
	}
	if opts.ID != "" {
		if err := validateID(opts.ID, MaxIDLength); err != nil {
			return err
		}
	}
	for name := range opts.Header {
		if reservedHeader(name) {
			return fmt.Errorf("%w: header %q is reserved", ErrInvalidMessage, name)
		}
	}
	if maxPayload > 0 && len(data) > maxPayload {
		return fmt.Errorf("%w: payload has %d bytes; the maximum is %d", ErrInvalidMessage, len(data), maxPayload)
	}
	return nil
}

func reservedHeader(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(lower, "nats-") || strings.HasPrefix(lower, "jt-dlq-")
}

// ConsumerName returns the name that identifies the consumer of subject in
// function: the JetStream durable consumer name and the consumer column of
// the processed-message table. Dots become underscores, so "search" and
// "zones.published" give "search_zones_published".
func ConsumerName(function, subject string) string {
	return function + "_" + strings.ReplaceAll(subject, ".", "_")
}

// PermanentError marks a consumer error that no retry can fix; see
// fn.PermanentError.
type PermanentError = fn.PermanentError

// Permanent wraps err so that the message is dead-lettered without further
// attempts. Permanent(nil) is nil.
func Permanent(err error) error { return fn.Permanent(err) }

// IsPermanent reports whether err or an error it wraps is a
// *PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

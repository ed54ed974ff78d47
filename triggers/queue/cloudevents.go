package queue

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/cloudevents/sdk-go/v2/types"
	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
)

// Defaults for the zero values of CloudEventsOptions.
const (
	// DefaultTypePrefix starts the CloudEvents type of every queue subject:
	// subject "zones.published" is type "jt.zones.published".
	DefaultTypePrefix = "jt."
	// DefaultMaxEventSize is the largest request body, 1 MiB.
	DefaultMaxEventSize = 1 << 20
	// maxEventKeyLength bounds the idempotency key of an event, the size of
	// the message_id column.
	maxEventKeyLength = 512
)

// Error codes of the CloudEvents handler. Under the Knative Eventing
// data-plane contract (knative/specs, specs/eventing/data-plane.md) a sender
// retries on 5xx, 404, 409 and 429 and treats any other 4xx status as
// final. A Broker then sends the event to the Trigger's dead-letter sink,
// if it has one.
var (
	CodeInvalidEvent = httpx.NewCode("INVALID_EVENT", http.StatusBadRequest,
		"无效的 CloudEvent：%s",
		"invalid CloudEvent: %s")
	CodeUnknownEventType = httpx.NewCode("UNKNOWN_EVENT_TYPE", http.StatusBadRequest,
		"没有处理事件类型 %q 的消费者",
		"no consumer handles event type %q")
	CodeEventRejected = httpx.NewCode("EVENT_REJECTED", http.StatusUnprocessableEntity,
		"事件无法处理，重试也不会成功",
		"the event cannot be processed, and retrying will not help")
	CodeConsumerFailed = httpx.NewCode("CONSUMER_FAILED", http.StatusServiceUnavailable,
		"事件处理失败，请稍后重试",
		"processing the event failed; retry later")
)

// CloudEventsOptions configure CloudEventsHandler. A zero field takes its
// default.
type CloudEventsOptions struct {
	// Store records processed events, shared with the Runner when both
	// run. Default a MemoryStore.
	Store Store
	// PlatformSecret, when set, makes the handler reject with 401 every
	// request without a valid platform token (auth.VerifyPlatform). A
	// Knative Broker sends no such token, so set it only where the sender
	// signs its requests.
	PlatformSecret auth.Secret
	// MaxSkew is how far the platform token's time may be from Now.
	// Default auth.DefaultMaxSkew.
	MaxSkew time.Duration
	// TypePrefix is put before a subject to form the event type. Default
	// DefaultTypePrefix.
	TypePrefix string
	// MaxEventSize is the largest request body in bytes. Default
	// DefaultMaxEventSize.
	MaxEventSize int64
	// HandlerTimeout bounds one call of a consumer. Default
	// DefaultHandlerTimeout.
	HandlerTimeout time.Duration
	// Logger receives failures. Nil discards them.
	Logger *slog.Logger
	// Now is the clock for platform token checks and for the processed_at
	// time that InTx records. Default time.Now.
	Now func() time.Time
	// TracerProvider makes a consumer span for each event. Nil makes none.
	TracerProvider trace.TracerProvider
}

// ceHandler serves CloudEventsHandler.
type ceHandler struct {
	opts   CloudEventsOptions
	procs  map[string]*processor // by event type
	logger *slog.Logger
}

// CloudEventsHandler returns the HTTP handler that a Knative Trigger
// delivers f's queue messages to. The event type selects the consumer:
// TypePrefix followed by the consumer's subject, such as
// "jt.zones.published". It accepts CloudEvents 1.0 and 0.3 in binary and
// structured content mode by POST, and responds with:
//
//   - 202 when the consumer succeeded, or the event was processed before;
//   - 400 for a body that is not a single valid CloudEvent, an ID with
//     control characters, or a type no consumer handles;
//   - 401 without a valid platform token, when PlatformSecret is set;
//   - 405 for methods other than POST and OPTIONS (OPTIONS gets 200 and
//     Allow);
//   - 413 for a body over MaxEventSize;
//   - 422 when the consumer returns Permanent, so the sender gives up;
//   - 503 when the consumer or the store fails, so the sender retries.
//
// The idempotency key is the event's source and ID together, because the
// Knative data-plane contract requires duplicate detection to use both. The
// consumer gets the event ID as fn.Message.ID, and runs in the trace
// context of the event's traceparent and tracestate extension attributes
// (the CloudEvents distributed tracing extension) when it has them, or
// else of the request. Retries and their backoff
// are the Broker's, from the Trigger's delivery settings, so
// Delivery.Attempt is always 1.
func CloudEventsHandler(f *fn.Function, opts CloudEventsOptions) (http.Handler, error) {
	if opts.TypePrefix == "" {
		opts.TypePrefix = DefaultTypePrefix
	}
	if opts.MaxEventSize <= 0 {
		opts.MaxEventSize = DefaultMaxEventSize
	}
	if opts.MaxSkew <= 0 {
		opts.MaxSkew = auth.DefaultMaxSkew
	}
	if f == nil {
		return nil, errors.New("queue: CloudEventsHandler got a nil function")
	}
	policy := Policy{HandlerTimeout: opts.HandlerTimeout}.withDefaults()
	shared := processorDefaults{policy: policy, store: opts.Store, logger: opts.Logger, now: opts.Now, tracerProvider: opts.TracerProvider}.withDefaults()
	opts.Now = shared.now

	procs, err := newProcessors(f, shared)
	if err != nil {
		return nil, err
	}
	h := &ceHandler{opts: opts, procs: map[string]*processor{}, logger: shared.logger.With("function", f.Name)}
	for _, p := range procs {
		h.procs[opts.TypePrefix+p.subject] = p
	}
	return h, nil
}

func (h *ceHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const allow = "POST, OPTIONS"
	switch r.Method {
	case http.MethodPost:
	case http.MethodOptions:
		w.Header().Set("Allow", allow)
		w.WriteHeader(http.StatusOK)
		return
	default:
		w.Header().Set("Allow", allow)
		httpx.WriteError(w, r, h.logger, httpx.E(httpx.CodeMethodNotAllowed, r.Method))
		return
	}

	if h.opts.PlatformSecret != nil {
		if err := auth.VerifyPlatform(h.opts.PlatformSecret, r, h.opts.Now(), h.opts.MaxSkew); err != nil {
			httpx.WriteError(w, r, h.logger, httpx.Wrap(httpx.CodeUnauthorized, err))
			return
		}
	}

	p, d, err := h.decode(w, r)
	if err != nil {
		httpx.WriteError(w, r, h.logger, err)
		return
	}

	// The consumer runs in the trace context of the event's traceparent
	// extension, so its log lines, and the error logged below, carry the
	// publisher's trace id.
	ctx, span := p.startSpan(r.Context(), d)
	r = r.WithContext(ctx)
	log := h.logger.With("consumer", p.name, "message_id", d.msg.ID)
	duplicate, err := p.deliver(ctx, d)
	out := outcome{verdict: verdictAck}
	switch {
	case err == nil:
		log.DebugContext(ctx, "event processed", "duplicate", duplicate)
		w.WriteHeader(http.StatusAccepted)
	case IsPermanent(err):
		out = outcome{verdict: verdictDead, reason: err.Error()}
		httpx.WriteError(w, r, log, httpx.Wrap(CodeEventRejected, err))
	default:
		out = outcome{verdict: verdictRetry}
		httpx.WriteError(w, r, log, httpx.Wrap(CodeConsumerFailed, err))
	}
	endSpan(span, out, err)
}

// decode reads the event of r and finds its consumer. Errors are
// *httpx.Error values.
func (h *ceHandler) decode(w http.ResponseWriter, r *http.Request) (*processor, delivery, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxEventSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, delivery{}, httpx.E(httpx.CodeBodyTooLarge, h.opts.MaxEventSize)
		}
		return nil, delivery{}, httpx.Wrap(CodeInvalidEvent, err, "the body could not be read")
	}
	if cehttp.IsHTTPBatch(r.Header) {
		return nil, delivery{}, httpx.E(CodeInvalidEvent, "batched mode is not supported; send one event per request")
	}

	msg := cehttp.NewMessage(r.Header, io.NopCloser(bytes.NewReader(body)))
	e, err := binding.ToEvent(r.Context(), msg)
	if errors.Is(err, binding.ErrUnknownEncoding) {
		return nil, delivery{}, httpx.E(CodeInvalidEvent, "neither a ce-specversion header nor a CloudEvents content type")
	}
	if err != nil {
		return nil, delivery{}, httpx.Wrap(CodeInvalidEvent, err, oneLine(err.Error()))
	}
	if err := e.Validate(); err != nil {
		return nil, delivery{}, httpx.Wrap(CodeInvalidEvent, err, oneLine(err.Error()))
	}

	p := h.procs[e.Type()]
	if p == nil {
		return nil, delivery{}, httpx.E(CodeUnknownEventType, e.Type())
	}
	if err := validateID(e.ID(), MaxIDLength); err != nil {
		return nil, delivery{}, httpx.Wrap(CodeInvalidEvent, err, "the id attribute must be at most 256 bytes of printable UTF-8")
	}
	key := url.QueryEscape(e.Source()) + " " + e.ID()
	if len(key) > maxEventKeyLength {
		return nil, delivery{}, httpx.E(CodeInvalidEvent, "the source and id attributes together are too long")
	}

	d := delivery{
		key:     key,
		attempt: 1,
		msg:     fn.Message{ID: e.ID(), Subject: p.subject, Data: e.Data(), Header: eventHeader(e)},
	}
	return p, d, nil
}

// eventHeader returns the event's attributes as the headers of binary
// mode, whichever mode the event came in: Ce-Id, Ce-Source, Ce-Type,
// Ce-Specversion, Ce-Subject, Ce-Time, Ce-Dataschema, Content-Type and
// Ce-<extension>.
func eventHeader(e *event.Event) http.Header {
	h := http.Header{}
	set := func(name, value string) {
		if value != "" {
			h.Set(name, value)
		}
	}
	set("Ce-Id", e.ID())
	set("Ce-Source", e.Source())
	set("Ce-Type", e.Type())
	set("Ce-Specversion", e.SpecVersion())
	set("Ce-Subject", e.Subject())
	if t := e.Time(); !t.IsZero() {
		set("Ce-Time", types.FormatTime(t))
	}
	set("Ce-Dataschema", e.DataSchema())
	set("Content-Type", e.DataContentType())

	names := make([]string, 0, len(e.Extensions()))
	for name := range e.Extensions() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if value, err := types.Format(e.Extensions()[name]); err == nil {
			set("Ce-"+name, value)
		}
	}
	return h
}

// oneLine joins the lines of an SDK validation error.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Package lambda serves an http.Handler on AWS Lambda through
// github.com/aws/aws-lambda-go.
//
// One Handler accepts the raw event and recognises three HTTP event shapes:
//
//   - API Gateway HTTP API, payload format 2.0 ("version": "2.0"). Lambda
//     function URLs send the same shape.
//   - API Gateway REST API proxy integration, payload format 1.0
//     ("httpMethod" with "resource" or "requestContext", and no
//     requestContext.elb).
//   - Application Load Balancer target group (requestContext.elb).
//
// It passes an EventBridge scheduled event (detail-type "Scheduled Event") to
// Config.OnSchedule. Every other event fails with ErrUnsupportedEvent.
//
// The handler receives a request shaped like a net/http server request:
// Request.Host comes from the Host header or the API's domain name, and
// RemoteAddr is the source IP with port 0 because events carry no client port.
// The invocation context with its deadline becomes the request context, and
// the platform's request id is set as X-Request-Id when the client sent none.
// Per event shape:
//
//   - HTTP API: rawPath arrives already percent-decoded (an encoded slash is
//     lost before the event is built), so it becomes URL.Path as is. Function
//     URLs send rawPath still encoded, and RawPath keeps that encoding.
//     rawQueryString is used unchanged. The cookies array becomes one Cookie
//     header. A named stage shows up as a "/<stage>" path prefix and is
//     removed unless Config.KeepStage is set.
//   - REST API and ALB: the path arrives still percent-encoded, so RawPath
//     keeps its encoding. Multi-value headers and query parameters are
//     preferred over the single-value maps. REST query values arrive decoded
//     and are encoded again. ALB query values arrive still encoded and are
//     passed through, never encoded twice.
//
// NOTE: which sources decode the path comes from captures of live events that
// other adapter projects published, not from AWS documentation, and was not
// checked against AWS here.
//
// Responses go back in the shape of the request. HTTP API responses fold
// repeated headers into one comma-joined value and move Set-Cookie to the
// cookies array. REST and ALB responses use multiValueHeaders when the
// request had them. Otherwise they fall back to single values, and only the
// first Set-Cookie survives. Bodies are base64-encoded when they are not
// valid UTF-8, are compressed or have a binary Content-Type.
package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	awslambda "github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

var (
	// ErrUnsupportedEvent is returned for events that match none of the
	// event shapes this package serves.
	ErrUnsupportedEvent = errors.New("lambda: unsupported event: want an API Gateway HTTP API (payload 2.0), REST API proxy, ALB target group or EventBridge scheduled event")

	// ErrScheduleNotHandled is returned for EventBridge scheduled events when
	// Config.OnSchedule is nil.
	ErrScheduleNotHandled = errors.New("lambda: scheduled events are not handled: Config.OnSchedule is nil")
)

// ScheduledEventType is the detail-type of EventBridge scheduled events.
const ScheduledEventType = "Scheduled Event"

// Config adjusts how events become requests. The zero value is ready to use.
type Config struct {
	// BasePath is removed from the start of every request path, for a
	// custom-domain base path mapping such as "/zones". Empty means none.
	BasePath string

	// KeepStage keeps the "/<stage>" prefix that HTTP API events carry for a
	// named stage. By default it is removed, so handlers see the same paths on
	// every stage. The "$default" stage has no prefix.
	KeepStage bool

	// OnSchedule handles EventBridge scheduled events. Nil makes them fail
	// with ErrScheduleNotHandled.
	OnSchedule func(ctx context.Context, e events.EventBridgeEvent) error

	// Logger receives warnings about response data that the event format
	// cannot carry. Nil discards them.
	Logger *slog.Logger
}

// Handler serves an http.Handler for Lambda events. It implements the
// lambda.Handler interface of aws-lambda-go.
type Handler struct {
	handler http.Handler
	config  Config
	logger  *slog.Logger
}

var _ awslambda.Handler = (*Handler)(nil)

// New returns a Handler that serves h with cfg.
func New(h http.Handler, cfg Config) *Handler {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{handler: h, config: cfg, logger: logger}
}

// Invoke serves one raw event and returns the JSON response event.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	resp, err := h.Handle(ctx, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// Handle serves one raw event. The response is an
// events.APIGatewayV2HTTPResponse, events.APIGatewayProxyResponse or
// events.ALBTargetGroupResponse, matching the event. A scheduled event
// returns nil after Config.OnSchedule succeeds.
func (h *Handler) Handle(ctx context.Context, event json.RawMessage) (any, error) {
	kind, err := detect(event)
	if err != nil {
		return nil, err
	}

	switch kind {
	case kindSchedule:
		return nil, h.handleSchedule(ctx, event)
	case kindV2:
		return h.handleV2(ctx, event)
	case kindV1:
		return h.handleV1(ctx, event)
	default:
		return h.handleALB(ctx, event)
	}
}

// Start serves h on the Lambda runtime and does not return. It uses ctx as
// the parent of every invocation context. onSIGTERM, when not nil, runs when
// Lambda shuts the execution environment down. To get that SIGTERM,
// aws-lambda-go registers an internal extension with the Runtime API, and
// Lambda sends SIGKILL about 500 ms after SIGTERM (aws-lambda-go v1.55.1,
// WithEnableSIGTERM).
func Start(ctx context.Context, h *Handler, onSIGTERM func()) {
	opts := []awslambda.Option{awslambda.WithContext(ctx)}
	if onSIGTERM != nil {
		opts = append(opts, awslambda.WithEnableSIGTERM(onSIGTERM))
	}
	awslambda.StartWithOptions(h, opts...)
}

// eventKind is the HTTP event shape of a raw event.
type eventKind int

const (
	kindV2 eventKind = iota + 1
	kindV1
	kindALB
	kindSchedule
)

// detect returns the shape of event from the few fields that tell the
// shapes apart.
func detect(event json.RawMessage) (eventKind, error) {
	var probe struct {
		DetailType     string           `json:"detail-type"`
		Version        string           `json:"version"`
		HTTPMethod     string           `json:"httpMethod"`
		Resource       *string          `json:"resource"`
		RequestContext *json.RawMessage `json:"requestContext"`
	}
	if err := json.Unmarshal(event, &probe); err != nil {
		return 0, fmt.Errorf("lambda: decoding event: %w", err)
	}

	var requestContext struct {
		ELB *json.RawMessage `json:"elb"`
	}
	if probe.RequestContext != nil {
		if err := json.Unmarshal(*probe.RequestContext, &requestContext); err != nil {
			return 0, fmt.Errorf("lambda: decoding event requestContext: %w", err)
		}
	}

	switch {
	case probe.DetailType == ScheduledEventType:
		return kindSchedule, nil
	case probe.Version == "2.0":
		return kindV2, nil
	case requestContext.ELB != nil:
		return kindALB, nil
	case probe.HTTPMethod != "" && (probe.Resource != nil || probe.RequestContext != nil):
		return kindV1, nil
	}
	return 0, ErrUnsupportedEvent
}

func (h *Handler) handleSchedule(ctx context.Context, event json.RawMessage) error {
	var e events.EventBridgeEvent
	if err := json.Unmarshal(event, &e); err != nil {
		return fmt.Errorf("lambda: decoding scheduled event: %w", err)
	}
	if h.config.OnSchedule == nil {
		return fmt.Errorf("%w (resources %q)", ErrScheduleNotHandled, e.Resources)
	}
	if err := h.config.OnSchedule(ctx, e); err != nil {
		return fmt.Errorf("lambda: scheduled event %q: %w", e.ID, err)
	}
	return nil
}

// invocationRequestID returns the Lambda request id of the invocation, the
// fallback for events that carry none.
func invocationRequestID(ctx context.Context) string {
	lc, ok := lambdacontext.FromContext(ctx)
	if !ok {
		return ""
	}
	return lc.AwsRequestID
}

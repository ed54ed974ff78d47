// Package scf serves an http.Handler on Tencent Cloud SCF event functions
// through github.com/tencentyun/scf-go-lib.
//
// Handler recognises two events. It serves an API Gateway trigger event
// (integrated request) with the http.Handler and returns an integrated
// response, which the API must have enabled. It passes a timer trigger event
// to Config.OnTimer. Every other event fails with ErrUnsupportedEvent.
//
// The handler receives a request shaped like a net/http server request:
//
//   - Request.Host comes from the Host header.
//   - RemoteAddr is requestContext.sourceIp with port 0.
//   - The invocation context with its deadline becomes the request context.
//   - requestContext.requestId is set as X-Request-Id when the client sent
//     none.
//   - Config.BasePath is removed from the path. requestContext.path contains
//     only the API's path template (such as "/zones/{path}"), so the prefix to
//     remove cannot be derived from the event.
//
// The integrated response has a single-valued header map. Repeated header
// values are joined with ", ". Set-Cookie values cannot be joined, because
// clients do not split them and their Expires dates contain commas. So only
// the first Set-Cookie reaches the client, and the others are dropped with a
// warning. Handlers served here should set at most one cookie per response.
//
// SCF web functions are not served by this package. They receive plain HTTP
// on 0.0.0.0:9000 and run under the http platform (see package httpserver).
package scf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/tencentyun/scf-go-lib/cloudfunction"
	"github.com/tencentyun/scf-go-lib/events"
	"github.com/tencentyun/scf-go-lib/functioncontext"
)

var (
	// ErrUnsupportedEvent is returned for events that are neither API Gateway
	// trigger events nor timer events.
	ErrUnsupportedEvent = errors.New("scf: unsupported event: want an API Gateway trigger or timer event")

	// ErrTimerNotHandled is returned for timer events when Config.OnTimer is
	// nil.
	ErrTimerNotHandled = errors.New("scf: timer events are not handled: Config.OnTimer is nil")
)

// TimerEvent is a timer trigger event. Time is RFC 3339 in UTC, and Message is
// the payload configured on the trigger.
type TimerEvent = events.TimerEvent

// Config adjusts how events are served. The zero value serves API Gateway
// events and rejects timer events.
type Config struct {
	// BasePath is removed from the start of every request path, such as the
	// "/zones" under which the API is published. Empty means none.
	BasePath string

	// OnTimer handles timer trigger events. Nil makes them fail with
	// ErrTimerNotHandled.
	OnTimer func(ctx context.Context, e TimerEvent) error

	// Logger receives warnings about response data that the integrated
	// response cannot carry. Nil discards them.
	Logger *slog.Logger
}

// Handler serves an http.Handler for SCF events. It implements the
// cloudfunction.Handler interface of scf-go-lib.
type Handler struct {
	handler http.Handler
	config  Config
	logger  *slog.Logger
}

var _ cloudfunction.Handler = (*Handler)(nil)

// New returns a Handler that serves h with cfg.
func New(h http.Handler, cfg Config) *Handler {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{handler: h, config: cfg, logger: logger}
}

// Invoke serves one raw event and returns the JSON response. A timer event
// returns JSON null.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	resp, err := h.Handle(ctx, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// Handle serves one raw event. An API Gateway event returns an
// events.APIGatewayResponse. A timer event returns nil after Config.OnTimer
// succeeds.
func (h *Handler) Handle(ctx context.Context, event json.RawMessage) (any, error) {
	var probe struct {
		Type           string           `json:"Type"`
		HTTPMethod     string           `json:"httpMethod"`
		RequestContext *json.RawMessage `json:"requestContext"`
	}
	if err := json.Unmarshal(event, &probe); err != nil {
		return nil, fmt.Errorf("scf: decoding event: %w", err)
	}

	switch {
	case probe.Type == "Timer":
		return nil, h.handleTimer(ctx, event)
	case probe.HTTPMethod != "" && probe.RequestContext != nil:
		return h.handleAPIGateway(ctx, event)
	}
	return nil, ErrUnsupportedEvent
}

// Start serves h on the SCF event function runtime and does not return. The
// runtime passes each invocation's deadline in its context.
//
// NOTE: scf-go-lib exits the process when its listener fails and has no
// shutdown hook, so the function's Close never runs on SCF.
func Start(h *Handler) {
	cloudfunction.StartHandler(h)
}

func (h *Handler) handleTimer(ctx context.Context, event json.RawMessage) error {
	var e TimerEvent
	if err := json.Unmarshal(event, &e); err != nil {
		return fmt.Errorf("scf: decoding timer event: %w", err)
	}
	if h.config.OnTimer == nil {
		return fmt.Errorf("%w (trigger %q)", ErrTimerNotHandled, e.TriggerName)
	}
	if err := h.config.OnTimer(ctx, e); err != nil {
		return fmt.Errorf("scf: timer trigger %q: %w", e.TriggerName, err)
	}
	return nil
}

// invocationRequestID returns the SCF request id of the invocation, the
// fallback for events that carry none.
func invocationRequestID(ctx context.Context) string {
	fc, ok := functioncontext.FromContext(ctx)
	if !ok {
		return ""
	}
	return fc.RequestID
}

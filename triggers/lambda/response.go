package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jingtong/backend/triggers/httpevent"
)

// ResponseV2 converts a response into an HTTP API (payload 2.0) response.
// Payload 2.0 has no multi-value headers: repeated values are joined with
// ", " and every Set-Cookie value goes into Cookies.
func ResponseV2(r *httpevent.Response) events.APIGatewayV2HTTPResponse {
	headers, cookies := httpevent.FoldHeader(r.Header)
	body, encoded := httpevent.EncodeBody(r.Header, r.Body)
	return events.APIGatewayV2HTTPResponse{
		StatusCode:      r.StatusCode,
		Headers:         headers,
		Cookies:         cookies,
		Body:            body,
		IsBase64Encoded: encoded,
	}
}

// ResponseV1 converts a response into a REST API proxy response. With
// multiValue every header value is kept in MultiValueHeaders. Without it,
// Headers holds values joined with ", " and only the first Set-Cookie.
func ResponseV1(r *httpevent.Response, multiValue bool) events.APIGatewayProxyResponse {
	headers, multi := responseHeaders(r.Header, multiValue)
	body, encoded := httpevent.EncodeBody(r.Header, r.Body)
	return events.APIGatewayProxyResponse{
		StatusCode:        r.StatusCode,
		Headers:           headers,
		MultiValueHeaders: multi,
		Body:              body,
		IsBase64Encoded:   encoded,
	}
}

// ResponseALB converts a response into an ALB target group response. The load
// balancer reads MultiValueHeaders only when multi-value headers are enabled
// on the target group, in which case its requests carry them too, so pass
// multiValue as whether the request had multi-value headers. Without it,
// Headers holds values joined with ", " and only the first Set-Cookie.
func ResponseALB(r *httpevent.Response, multiValue bool) events.ALBTargetGroupResponse {
	headers, multi := responseHeaders(r.Header, multiValue)
	body, encoded := httpevent.EncodeBody(r.Header, r.Body)
	return events.ALBTargetGroupResponse{
		StatusCode:        r.StatusCode,
		StatusDescription: fmt.Sprintf("%d %s", r.StatusCode, http.StatusText(r.StatusCode)),
		Headers:           headers,
		MultiValueHeaders: multi,
		Body:              body,
		IsBase64Encoded:   encoded,
	}
}

func responseHeaders(h http.Header, multiValue bool) (map[string]string, map[string][]string) {
	if multiValue {
		return nil, maps.Clone(map[string][]string(h))
	}

	headers, cookies := httpevent.FoldHeader(h)
	if len(cookies) > 0 {
		headers["Set-Cookie"] = cookies[0]
	}
	return headers, nil
}

func (h *Handler) handleV2(ctx context.Context, event json.RawMessage) (any, error) {
	var e events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(event, &e); err != nil {
		return nil, fmt.Errorf("lambda: decoding HTTP API event: %w", err)
	}

	r, err := NewRequestV2(ctx, &e, h.config)
	if err != nil {
		return nil, fmt.Errorf("lambda: converting event to request: %w", err)
	}
	resp, err := httpevent.Serve(h.handler, r)
	if err != nil {
		return nil, fmt.Errorf("lambda: %w", err)
	}
	return ResponseV2(resp), nil
}

func (h *Handler) handleV1(ctx context.Context, event json.RawMessage) (any, error) {
	var e events.APIGatewayProxyRequest
	if err := json.Unmarshal(event, &e); err != nil {
		return nil, fmt.Errorf("lambda: decoding REST API event: %w", err)
	}

	r, err := NewRequestV1(ctx, &e, h.config)
	if err != nil {
		return nil, fmt.Errorf("lambda: converting event to request: %w", err)
	}
	resp, err := httpevent.Serve(h.handler, r)
	if err != nil {
		return nil, fmt.Errorf("lambda: %w", err)
	}
	multiValue := len(e.MultiValueHeaders) > 0
	h.warnDroppedCookies(ctx, resp, multiValue)
	return ResponseV1(resp, multiValue), nil
}

func (h *Handler) handleALB(ctx context.Context, event json.RawMessage) (any, error) {
	var e events.ALBTargetGroupRequest
	if err := json.Unmarshal(event, &e); err != nil {
		return nil, fmt.Errorf("lambda: decoding ALB event: %w", err)
	}

	r, err := NewRequestALB(ctx, &e, h.config)
	if err != nil {
		return nil, fmt.Errorf("lambda: converting event to request: %w", err)
	}
	resp, err := httpevent.Serve(h.handler, r)
	if err != nil {
		return nil, fmt.Errorf("lambda: %w", err)
	}
	multiValue := len(e.MultiValueHeaders) > 0
	h.warnDroppedCookies(ctx, resp, multiValue)
	return ResponseALB(resp, multiValue), nil
}

// warnDroppedCookies logs when a single-value response cannot carry every
// Set-Cookie header. Only cookie names are logged, never values.
func (h *Handler) warnDroppedCookies(ctx context.Context, resp *httpevent.Response, multiValue bool) {
	if multiValue {
		return
	}
	dropped := httpevent.DroppedCookies(resp.Header)
	if len(dropped) == 0 {
		return
	}
	h.logger.WarnContext(ctx, "response has more Set-Cookie headers than a single-value event can carry, sent only the first",
		"dropped_cookies", dropped, "request_id", resp.Header.Get(httpevent.RequestIDHeader))
}

package scf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tencentyun/scf-go-lib/events"

	"github.com/jingtong/backend/triggers/httpevent"
)

// APIGatewayRequest is an API Gateway trigger event (integrated request).
//
// It replaces events.APIGatewayRequest of scf-go-lib, which loses
// information: that struct has no isBase64Encoded field, though Tencent sets
// one in the event for binary bodies, and its queryString type fails on any
// value that is not a string, an array of strings or a boolean.
// headerParameters, pathParameters, queryStringParameters and stageVariables
// repeat what the other fields carry and are not decoded.
type APIGatewayRequest struct {
	Headers         map[string]string               `json:"headers"`
	HTTPMethod      string                          `json:"httpMethod"`
	Path            string                          `json:"path"`
	QueryString     QueryString                     `json:"queryString"`
	Body            string                          `json:"body"`
	IsBase64Encoded bool                            `json:"isBase64Encoded"`
	RequestContext  events.APIGatewayRequestContext `json:"requestContext"`
}

// QueryString is the queryString field of an API Gateway event. Each key maps
// to a string, to an array of strings for a repeated key, or to true for a key
// without a value ("?debug"). A key without a value decodes to an empty,
// non-nil slice. Keys mapped to false or null are dropped, and numbers in
// place of strings keep their JSON text.
type QueryString map[string][]string

// UnmarshalJSON decodes a queryString object.
func (q *QueryString) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}

	out := make(QueryString, len(raw))
	for key, value := range raw {
		var items []json.RawMessage
		if err := json.Unmarshal(value, &items); err != nil {
			items = []json.RawMessage{value}
		}
		for _, item := range items {
			switch v := scalar(item); {
			case v == "true":
				if out[key] == nil {
					out[key] = []string{}
				}
			case v == "false", v == "null":
			case strings.HasPrefix(v, `"`):
				var s string
				if err := json.Unmarshal(item, &s); err != nil {
					return fmt.Errorf("queryString %q: %w", key, err)
				}
				out[key] = append(out[key], s)
			default:
				out[key] = append(out[key], v)
			}
		}
	}
	*q = out
	return nil
}

// MarshalJSON encodes q in the event's own form: true for a key without a
// value, a string for one value and an array for several.
func (q QueryString) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(q))
	for key, values := range q {
		switch len(values) {
		case 0:
			out[key] = true
		case 1:
			out[key] = values[0]
		default:
			out[key] = values
		}
	}
	return json.Marshal(out)
}

func scalar(raw json.RawMessage) string {
	return string(bytes.TrimSpace(raw))
}

// Encode returns the query in URL form with keys sorted. Values are taken as
// decoded text and percent-encoded. A key without a value is written bare.
//
// NOTE: Tencent's documentation does not say whether queryString values
// arrive decoded. The examples hold only plain words, and decoded values are
// assumed here.
func (q QueryString) Encode() string {
	var b strings.Builder
	for _, key := range slices.Sorted(maps.Keys(q)) {
		values := q[key]
		if len(values) == 0 {
			appendPair(&b, url.QueryEscape(key))
			continue
		}
		for _, v := range values {
			appendPair(&b, url.QueryEscape(key)+"="+url.QueryEscape(v))
		}
	}
	return b.String()
}

func appendPair(b *strings.Builder, pair string) {
	if b.Len() > 0 {
		b.WriteByte('&')
	}
	b.WriteString(pair)
}

// NewRequest converts an API Gateway event into a server request carrying ctx.
// The path is taken as percent-encoded when it decodes cleanly and as decoded
// otherwise, because Tencent does not document which one it sends.
func NewRequest(ctx context.Context, e *APIGatewayRequest, cfg Config) (*http.Request, error) {
	body, err := httpevent.DecodeBody(e.Body, e.IsBase64Encoded)
	if err != nil {
		return nil, err
	}

	header := http.Header{}
	for name, value := range e.Headers {
		header.Set(name, value)
	}

	u := &url.URL{RawQuery: e.QueryString.Encode()}
	httpevent.SetPath(u, e.Path, true)
	httpevent.StripPrefix(u, cfg.BasePath)

	r, err := httpevent.NewRequest(ctx, e.HTTPMethod, u, header, body)
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = httpevent.RemoteAddr(e.RequestContext.SourceIP)
	requestID := e.RequestContext.RequestID
	if requestID == "" {
		requestID = invocationRequestID(ctx)
	}
	httpevent.SetRequestID(r, requestID)
	return r, nil
}

// NewResponse converts a response into an integrated response. Repeated
// header values are joined with ", ", and only the first Set-Cookie is kept.
func NewResponse(r *httpevent.Response) events.APIGatewayResponse {
	headers, cookies := httpevent.FoldHeader(r.Header)
	if len(cookies) > 0 {
		headers["Set-Cookie"] = cookies[0]
	}
	body, encoded := httpevent.EncodeBody(r.Header, r.Body)
	return events.APIGatewayResponse{
		IsBase64Encoded: encoded,
		StatusCode:      r.StatusCode,
		Headers:         headers,
		Body:            body,
	}
}

func (h *Handler) handleAPIGateway(ctx context.Context, event json.RawMessage) (any, error) {
	var e APIGatewayRequest
	if err := json.Unmarshal(event, &e); err != nil {
		return nil, fmt.Errorf("scf: decoding API Gateway event: %w", err)
	}

	r, err := NewRequest(ctx, &e, h.config)
	if err != nil {
		return nil, fmt.Errorf("scf: converting event to request: %w", err)
	}
	resp, err := httpevent.Serve(h.handler, r)
	if err != nil {
		return nil, fmt.Errorf("scf: %w", err)
	}

	h.warnDroppedCookies(ctx, resp)
	return NewResponse(resp), nil
}

// warnDroppedCookies logs when a response sets more cookies than the
// integrated response can carry. Only cookie names are logged, never values.
func (h *Handler) warnDroppedCookies(ctx context.Context, resp *httpevent.Response) {
	dropped := httpevent.DroppedCookies(resp.Header)
	if len(dropped) == 0 {
		return
	}
	h.logger.WarnContext(ctx, "response has more Set-Cookie headers than the integrated response can carry, sent only the first",
		"dropped_cookies", dropped, "request_id", resp.Header.Get(httpevent.RequestIDHeader))
}

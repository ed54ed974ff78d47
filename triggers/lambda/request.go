package lambda

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jingtong/backend/triggers/httpevent"
)

// defaultStage is the HTTP API stage served at the root of the API, without a
// path prefix.
const defaultStage = "$default"

// NewRequestV2 converts an API Gateway HTTP API (payload 2.0) event into a
// server request carrying ctx.
func NewRequestV2(ctx context.Context, e *events.APIGatewayV2HTTPRequest, cfg Config) (*http.Request, error) {
	body, err := httpevent.DecodeBody(e.Body, e.IsBase64Encoded)
	if err != nil {
		return nil, err
	}

	header := http.Header{}
	for name, value := range e.Headers {
		header.Set(name, value)
	}
	if len(e.Cookies) > 0 {
		header.Set("Cookie", strings.Join(e.Cookies, "; "))
	}
	if header.Get("Host") == "" {
		header.Set("Host", e.RequestContext.DomainName)
	}

	// HTTP APIs deliver rawPath already percent-decoded, so its original
	// encoding is lost. Function URLs deliver it still encoded.
	// requestContext.http.path is the same path, for events that lack rawPath.
	p := e.RawPath
	if p == "" {
		p = e.RequestContext.HTTP.Path
	}
	u := &url.URL{RawQuery: e.RawQueryString}
	httpevent.SetPath(u, p, isFunctionURL(e))
	if u.RawQuery == "" && len(e.QueryStringParameters) > 0 {
		u.RawQuery = encodeQuery(nil, e.QueryStringParameters)
	}
	if stage := e.RequestContext.Stage; !cfg.KeepStage && stage != "" && stage != defaultStage {
		httpevent.StripPrefix(u, "/"+stage)
	}
	httpevent.StripPrefix(u, cfg.BasePath)

	r, err := httpevent.NewRequest(ctx, e.RequestContext.HTTP.Method, u, header, body)
	if err != nil {
		return nil, err
	}
	httpevent.SetProto(r, e.RequestContext.HTTP.Protocol)
	r.RemoteAddr = httpevent.RemoteAddr(e.RequestContext.HTTP.SourceIP)
	httpevent.SetRequestID(r, firstNonEmpty(e.RequestContext.RequestID, invocationRequestID(ctx)))
	return r, nil
}

// NewRequestV1 converts an API Gateway REST API proxy event into a server
// request carrying ctx. The path is not stripped of the stage, because REST
// APIs deliver it without one.
//
// NOTE: API Gateway HTTP APIs can also send this shape (payload format 1.0),
// with a decoded path that includes a named stage. Use payload 2.0 for HTTP
// APIs, or set Config.BasePath to the stage.
func NewRequestV1(ctx context.Context, e *events.APIGatewayProxyRequest, cfg Config) (*http.Request, error) {
	body, err := httpevent.DecodeBody(e.Body, e.IsBase64Encoded)
	if err != nil {
		return nil, err
	}

	header := headerFrom(e.MultiValueHeaders, e.Headers)
	if header.Get("Host") == "" {
		header.Set("Host", e.RequestContext.DomainName)
	}

	u := &url.URL{RawQuery: encodeQuery(e.MultiValueQueryStringParameters, e.QueryStringParameters)}
	httpevent.SetPath(u, e.Path, true)
	httpevent.StripPrefix(u, cfg.BasePath)

	r, err := httpevent.NewRequest(ctx, e.HTTPMethod, u, header, body)
	if err != nil {
		return nil, err
	}
	httpevent.SetProto(r, e.RequestContext.Protocol)
	r.RemoteAddr = httpevent.RemoteAddr(e.RequestContext.Identity.SourceIP)
	httpevent.SetRequestID(r, firstNonEmpty(e.RequestContext.RequestID, invocationRequestID(ctx)))
	return r, nil
}

// NewRequestALB converts an ALB target group event into a server request
// carrying ctx. ALB events carry no source IP field, so RemoteAddr comes from
// the last X-Forwarded-For entry, the address that the load balancer appended.
// The request id is the Lambda invocation's, because ALB sends none.
func NewRequestALB(ctx context.Context, e *events.ALBTargetGroupRequest, cfg Config) (*http.Request, error) {
	body, err := httpevent.DecodeBody(e.Body, e.IsBase64Encoded)
	if err != nil {
		return nil, err
	}

	header := headerFrom(e.MultiValueHeaders, e.Headers)
	u := &url.URL{RawQuery: rawQuery(e.MultiValueQueryStringParameters, e.QueryStringParameters)}
	httpevent.SetPath(u, e.Path, true)
	httpevent.StripPrefix(u, cfg.BasePath)

	r, err := httpevent.NewRequest(ctx, e.HTTPMethod, u, header, body)
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = httpevent.RemoteAddr(lastForwardedFor(header))
	httpevent.SetRequestID(r, invocationRequestID(ctx))
	return r, nil
}

// headerFrom builds a header from multi-value headers when there are any, or
// else from single-value headers. Values are never split on commas, because
// some fields (User-Agent, dates, signatures) contain commas.
func headerFrom(multi map[string][]string, single map[string]string) http.Header {
	header := http.Header{}
	if len(multi) > 0 {
		for name, values := range multi {
			for _, v := range values {
				header.Add(name, v)
			}
		}
		return header
	}
	for name, value := range single {
		header.Set(name, value)
	}
	return header
}

// encodeQuery percent-encodes decoded query parameters, preferring the
// multi-value map. Keys are sorted, because the events keep no order.
func encodeQuery(multi map[string][]string, single map[string]string) string {
	values := url.Values{}
	if len(multi) > 0 {
		for key, vs := range multi {
			values[key] = append(values[key], vs...)
		}
	} else {
		for key, v := range single {
			values.Set(key, v)
		}
	}
	return values.Encode()
}

// rawQuery joins query parameters that are still percent-encoded, as ALB
// sends them, without encoding them again. Keys are sorted, because the events
// keep no order.
func rawQuery(multi map[string][]string, single map[string]string) string {
	params := multi
	if len(params) == 0 {
		params = make(map[string][]string, len(single))
		for key, v := range single {
			params[key] = []string{v}
		}
	}

	var b strings.Builder
	for _, key := range slices.Sorted(maps.Keys(params)) {
		for _, v := range params[key] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(key)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	return b.String()
}

// isFunctionURL reports whether a payload 2.0 event comes from a Lambda
// function URL, whose domain is <url-id>.lambda-url.<region>.on.aws.
func isFunctionURL(e *events.APIGatewayV2HTTPRequest) bool {
	return strings.Contains(e.RequestContext.DomainName, ".lambda-url.")
}

func lastForwardedFor(header http.Header) string {
	values := header.Values("X-Forwarded-For")
	if len(values) == 0 {
		return ""
	}
	entries := strings.Split(values[len(values)-1], ",")
	return strings.TrimSpace(entries[len(entries)-1])
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

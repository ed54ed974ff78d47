package lambda_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/jingtong/backend/triggers/httpevent"
	"github.com/jingtong/backend/triggers/internal/echo"
	"github.com/jingtong/backend/triggers/lambda"
)

// pngBytes starts like a PNG file and is not valid UTF-8.
var pngBytes = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0x00, 0xff, 0xfe}

func readEvent[T any](t testing.TB, name string) T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading sample: %v", err)
	}
	var e T
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return e
}

// invoke sends event through Handler.Invoke, the path the Lambda runtime
// takes, and returns the decoded response and its decoded body.
func invoke[R any](t *testing.T, ctx context.Context, cfg lambda.Config, event any) (R, []byte) {
	t.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		t.Fatalf("encoding event: %v", err)
	}

	out, err := lambda.New(echo.Handler, cfg).Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}

	var resp R
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("decoding response %s: %v", out, err)
	}
	var body struct {
		Body            string `json:"body"`
		IsBase64Encoded bool   `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(out, &body); err != nil {
		t.Fatalf("decoding response body: %v", err)
	}
	raw, err := httpevent.DecodeBody(body.Body, body.IsBase64Encoded)
	if err != nil {
		t.Fatalf("decoding response body: %v", err)
	}
	return resp, raw
}

func report(t *testing.T, body []byte) echo.Request {
	t.Helper()
	r, err := echo.Decode(body)
	if err != nil {
		t.Fatalf("decoding echo report %q: %v", body, err)
	}
	return r
}

func check[T comparable](t *testing.T, field string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %#v, want %#v", field, got, want)
	}
}

func checkValues(t *testing.T, field string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", field, got, want)
	}
}

func TestHandleV2Request(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		sample string
		cfg    lambda.Config
		patch  func(e *events.APIGatewayV2HTTPRequest)
		check  func(t *testing.T, r echo.Request)
	}{
		{
			name:   "iam sample",
			sample: "apigw-v2-request-iam.json",
			check: func(t *testing.T, r echo.Request) {
				check(t, "method", r.Method, "GET")
				check(t, "path", r.Path, "/my/path")
				check(t, "raw query", r.RawQuery, "parameter1=value1&parameter1=value2&parameter2=value")
				checkValues(t, "query parameter1", r.Query["parameter1"], []string{"value1", "value2"})
				check(t, "request URI", r.RequestURI, "/my/path?parameter1=value1&parameter1=value2&parameter2=value")
				checkValues(t, "Cookie", r.Header["Cookie"], []string{"cookie1; cookie2"})
				checkValues(t, "Header1", r.Header["Header1"], []string{"value1"})
				check(t, "host", r.Host, "id.execute-api.us-east-1.amazonaws.com")
				check(t, "remote addr", r.RemoteAddr, "IP:0")
				checkValues(t, "X-Request-Id", r.Header["X-Request-Id"], []string{"id"})
				check(t, "proto", r.Proto, "HTTP/1.1")
				check(t, "body", string(r.Body), "{\r\n\t\"a\": 1\r\n}")
				check(t, "content length", r.ContentLength, int64(len("{\r\n\t\"a\": 1\r\n}")))
			},
		},
		{
			name:   "no authorizer sample",
			sample: "apigw-v2-request-no-authorizer.json",
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/")
				check(t, "raw query", r.RawQuery, "")
				check(t, "host", r.Host, "aaaaaaaaaa.execute-api.us-west-2.amazonaws.com")
				check(t, "remote addr", r.RemoteAddr, "1.2.3.4:0")
				checkValues(t, "X-Forwarded-For", r.Header["X-Forwarded-For"], []string{"1.2.3.4"})
				checkValues(t, "X-Request-Id", r.Header["X-Request-Id"], []string{"LV7fzho-PHcEJPw="})
				check(t, "body length", len(r.Body), 0)
			},
		},
		{
			name:   "function URL sample",
			sample: "lambda-urls-request.json",
			check: func(t *testing.T, r echo.Request) {
				check(t, "method", r.Method, "POST")
				check(t, "host", r.Host, "<url-id>.lambda-url.us-west-2.on.aws")
				checkValues(t, "Header2 not split on commas", r.Header["Header2"], []string{"value1,value2"})
				check(t, "body", string(r.Body), "Hello from client!")
				check(t, "remote addr", r.RemoteAddr, "123.123.123.123:0")
			},
		},
		{
			name:   "named stage stripped",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RequestContext.Stage = "prod"
				e.RawPath = "/prod/my/path"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/my/path")
			},
		},
		{
			name:   "named stage kept",
			sample: "apigw-v2-request-iam.json",
			cfg:    lambda.Config{KeepStage: true},
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RequestContext.Stage = "prod"
				e.RawPath = "/prod/my/path"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/prod/my/path")
			},
		},
		{
			name:   "stage root path",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RequestContext.Stage = "prod"
				e.RawPath = "/prod"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/")
			},
		},
		{
			name:   "stage name only prefix of segment",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RequestContext.Stage = "prod"
				e.RawPath = "/production/x"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/production/x")
			},
		},
		{
			name:   "default stage not stripped",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RawPath = "/$default/x"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/$default/x")
			},
		},
		{
			name:   "base path after stage",
			sample: "apigw-v2-request-iam.json",
			cfg:    lambda.Config{BasePath: "/zones"},
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RequestContext.Stage = "prod"
				e.RawPath = "/prod/zones/list"
				e.RawQueryString = "page=2"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/list")
				check(t, "request URI", r.RequestURI, "/list?page=2")
			},
		},
		{
			name:   "decoded path escaped once",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RawPath = "/files/a b%/京"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/files/a b%/京")
				check(t, "raw path", r.RawPath, "")
				check(t, "escaped path", r.EscapedPath, "/files/a%20b%25/%E4%BA%AC")
			},
		},
		{
			name:   "function URL encoded slash kept",
			sample: "lambda-urls-request.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RawPath = "/files/a%2Fb"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/files/a/b")
				check(t, "raw path", r.RawPath, "/files/a%2Fb")
			},
		},
		{
			name:   "raw path missing",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RawPath = ""
				e.RequestContext.HTTP.Path = "/from/context"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/from/context")
			},
		},
		{
			name:   "query parameters without raw query",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RawQueryString = ""
				e.QueryStringParameters = map[string]string{"q": "a b&c"}
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "raw query", r.RawQuery, "q=a+b%26c")
				checkValues(t, "query q", r.Query["q"], []string{"a b&c"})
			},
		},
		{
			name:   "base64 body decoded",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.Body = base64.StdEncoding.EncodeToString(pngBytes)
				e.IsBase64Encoded = true
				e.Headers["content-length"] = "999"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "body", string(r.Body), string(pngBytes))
				check(t, "content length", r.ContentLength, int64(len(pngBytes)))
				checkValues(t, "Content-Length", r.Header["Content-Length"], []string{"11"})
			},
		},
		{
			name:   "cookies replace cookie header",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.Headers["cookie"] = "stale=1"
				e.Cookies = []string{"session=abc", "lang=zh"}
			},
			check: func(t *testing.T, r echo.Request) {
				checkValues(t, "Cookie", r.Header["Cookie"], []string{"session=abc; lang=zh"})
				check(t, "session cookie", r.Cookies["session"], "abc")
				check(t, "lang cookie", r.Cookies["lang"], "zh")
				check(t, "stale cookie", r.Cookies["stale"], "")
			},
		},
		{
			name:   "client request id kept",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.Headers["x-request-id"] = "client-1"
			},
			check: func(t *testing.T, r echo.Request) {
				checkValues(t, "X-Request-Id", r.Header["X-Request-Id"], []string{"client-1"})
			},
		},
		{
			name:   "host header preferred over domain",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.Headers["host"] = "api.example.com"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "host", r.Host, "api.example.com")
				checkValues(t, "Host header", r.Header["Host"], nil)
			},
		},
		{
			name:   "protocol version",
			sample: "apigw-v2-request-iam.json",
			patch: func(e *events.APIGatewayV2HTTPRequest) {
				e.RequestContext.HTTP.Protocol = "HTTP/2.0"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "proto", r.Proto, "HTTP/2.0")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := readEvent[events.APIGatewayV2HTTPRequest](t, tt.sample)
			if tt.patch != nil {
				tt.patch(&e)
			}

			resp, body := invoke[events.APIGatewayV2HTTPResponse](t, context.Background(), tt.cfg, e)
			check(t, "status", resp.StatusCode, http.StatusOK)
			tt.check(t, report(t, body))
		})
	}
}

func TestHandleV2Response(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		headers     map[string]string
		wantStatus  int
		wantEncoded bool
		check       func(t *testing.T, resp events.APIGatewayV2HTTPResponse, body []byte)
	}{
		{
			name:       "set-cookie moved to cookies",
			headers:    map[string]string{echo.SetCookieHeader: "a=1; Path=/|b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly"},
			wantStatus: http.StatusOK,
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse, _ []byte) {
				checkValues(t, "cookies", resp.Cookies, []string{"a=1; Path=/", "b=2; Expires=Wed, 21 Oct 2015 07:28:00 GMT; HttpOnly"})
				check(t, "Set-Cookie header", resp.Headers["Set-Cookie"], "")
				check(t, "multiValueHeaders", len(resp.MultiValueHeaders), 0)
			},
		},
		{
			name:       "repeated headers joined",
			headers:    map[string]string{echo.HeaderHeader: "X-Multi: one|X-Multi: two|Vary: Accept"},
			wantStatus: http.StatusOK,
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse, _ []byte) {
				check(t, "X-Multi", resp.Headers["X-Multi"], "one, two")
				check(t, "Vary", resp.Headers["Vary"], "Accept")
				check(t, "Content-Type", resp.Headers["Content-Type"], "application/json")
			},
		},
		{
			name:       "status code",
			headers:    map[string]string{echo.StatusHeader: "404"},
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "no content",
			headers:    map[string]string{echo.StatusHeader: "204"},
			wantStatus: http.StatusNoContent,
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse, _ []byte) {
				check(t, "body", resp.Body, "")
			},
		},
		{
			name: "binary content type",
			headers: map[string]string{
				echo.BodyHeader:        base64.StdEncoding.EncodeToString(pngBytes),
				echo.ContentTypeHeader: "image/png",
			},
			wantStatus:  http.StatusOK,
			wantEncoded: true,
			check: func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body []byte) {
				check(t, "body", string(body), string(pngBytes))
			},
		},
		{
			name: "binary type with ascii body",
			headers: map[string]string{
				echo.BodyHeader:        base64.StdEncoding.EncodeToString([]byte("PK zip-ish")),
				echo.ContentTypeHeader: "application/zip",
			},
			wantStatus:  http.StatusOK,
			wantEncoded: true,
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse, body []byte) {
				check(t, "body", string(body), "PK zip-ish")
				check(t, "raw body", resp.Body, base64.StdEncoding.EncodeToString([]byte("PK zip-ish")))
			},
		},
		{
			name: "invalid UTF-8 text",
			headers: map[string]string{
				echo.BodyHeader:        base64.StdEncoding.EncodeToString([]byte{0xc4, 0xe3, 0xba, 0xc3}),
				echo.ContentTypeHeader: "text/plain; charset=gbk",
			},
			wantStatus:  http.StatusOK,
			wantEncoded: true,
			check: func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body []byte) {
				check(t, "body", string(body), "\xc4\xe3\xba\xc3")
			},
		},
		{
			name: "UTF-8 text",
			headers: map[string]string{
				echo.BodyHeader:        base64.StdEncoding.EncodeToString([]byte("京通")),
				echo.ContentTypeHeader: "text/plain; charset=utf-8",
			},
			wantStatus: http.StatusOK,
			check: func(t *testing.T, resp events.APIGatewayV2HTTPResponse, _ []byte) {
				check(t, "raw body", resp.Body, "京通")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := readEvent[events.APIGatewayV2HTTPRequest](t, "apigw-v2-request-iam.json")
			for name, value := range tt.headers {
				e.Headers[strings.ToLower(name)] = value
			}

			resp, body := invoke[events.APIGatewayV2HTTPResponse](t, context.Background(), lambda.Config{}, e)
			check(t, "status", resp.StatusCode, tt.wantStatus)
			check(t, "isBase64Encoded", resp.IsBase64Encoded, tt.wantEncoded)
			if tt.check != nil {
				tt.check(t, resp, body)
			}
		})
	}
}

func TestHandleRequestContext(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(time.Minute).Round(time.Millisecond)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	e := readEvent[events.APIGatewayV2HTTPRequest](t, "apigw-v2-request-iam.json")
	_, body := invoke[events.APIGatewayV2HTTPResponse](t, ctx, lambda.Config{}, e)

	r := report(t, body)
	if !r.HasDeadline || !r.Deadline.Equal(deadline) {
		t.Errorf("request deadline = %v (set %v), want %v", r.Deadline, r.HasDeadline, deadline)
	}
}

func TestHandleV1(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		cfg   lambda.Config
		patch func(e *events.APIGatewayProxyRequest)
		check func(t *testing.T, resp events.APIGatewayProxyResponse, r echo.Request)
	}{
		{
			name: "rest sample",
			check: func(t *testing.T, resp events.APIGatewayProxyResponse, r echo.Request) {
				check(t, "method", r.Method, "POST")
				check(t, "path", r.Path, "/hello/world")
				check(t, "raw query", r.RawQuery, "name=me")
				check(t, "host", r.Host, "gy415nuibc.execute-api.us-east-1.amazonaws.com")
				check(t, "remote addr", r.RemoteAddr, "192.168.196.186:0")
				checkValues(t, "X-Request-Id", r.Header["X-Request-Id"], []string{"deef4878-7910-11e6-8f14-25afc3e9ae33"})
				checkValues(t, "X-Forwarded-For not split", r.Header["X-Forwarded-For"], []string{"54.240.196.186, 54.182.214.83"})
				checkValues(t, "Accept-Encoding not split", r.Header["Accept-Encoding"], []string{"gzip, deflate"})
				check(t, "body", string(r.Body), "{\r\n\t\"a\": 1\r\n}")
				check(t, "single-value headers", len(resp.Headers), 0)
				checkValues(t, "Content-Type out", resp.MultiValueHeaders["Content-Type"], []string{"application/json"})
			},
		},
		{
			name: "stage not stripped",
			patch: func(e *events.APIGatewayProxyRequest) {
				e.Path = "/testStage/hello"
			},
			check: func(t *testing.T, _ events.APIGatewayProxyResponse, r echo.Request) {
				check(t, "path", r.Path, "/testStage/hello")
			},
		},
		{
			name: "base path stripped",
			cfg:  lambda.Config{BasePath: "/hello"},
			check: func(t *testing.T, _ events.APIGatewayProxyResponse, r echo.Request) {
				check(t, "path", r.Path, "/world")
			},
		},
		{
			name: "multi-value query preferred",
			patch: func(e *events.APIGatewayProxyRequest) {
				e.QueryStringParameters = map[string]string{"name": "you", "q": "a b&c"}
				e.MultiValueQueryStringParameters = map[string][]string{"name": {"me", "you"}, "q": {"a b&c"}}
			},
			check: func(t *testing.T, _ events.APIGatewayProxyResponse, r echo.Request) {
				check(t, "raw query", r.RawQuery, "name=me&name=you&q=a+b%26c")
				checkValues(t, "query name", r.Query["name"], []string{"me", "you"})
				checkValues(t, "query q", r.Query["q"], []string{"a b&c"})
			},
		},
		{
			name: "multi-value headers in and out",
			patch: func(e *events.APIGatewayProxyRequest) {
				e.MultiValueHeaders["Accept"] = []string{"text/html", "application/json"}
				e.MultiValueHeaders[echo.HeaderHeader] = []string{"X-Multi: one", "X-Multi: two"}
				e.MultiValueHeaders[echo.SetCookieHeader] = []string{"a=1", "b=2; HttpOnly"}
			},
			check: func(t *testing.T, resp events.APIGatewayProxyResponse, r echo.Request) {
				checkValues(t, "Accept in", r.Header["Accept"], []string{"text/html", "application/json"})
				checkValues(t, "X-Multi out", resp.MultiValueHeaders["X-Multi"], []string{"one", "two"})
				checkValues(t, "Set-Cookie out", resp.MultiValueHeaders["Set-Cookie"], []string{"a=1", "b=2; HttpOnly"})
			},
		},
		{
			name: "single-value headers in and out",
			patch: func(e *events.APIGatewayProxyRequest) {
				e.MultiValueHeaders = nil
				e.MultiValueQueryStringParameters = nil
				e.Headers[echo.HeaderHeader] = "X-Multi: one|X-Multi: two"
				e.Headers[echo.SetCookieHeader] = "a=1|b=2"
			},
			check: func(t *testing.T, resp events.APIGatewayProxyResponse, r echo.Request) {
				check(t, "raw query", r.RawQuery, "name=me")
				checkValues(t, "headerName in", r.Header["Headername"], []string{"headerValue"})
				check(t, "X-Multi out", resp.Headers["X-Multi"], "one, two")
				check(t, "Set-Cookie out", resp.Headers["Set-Cookie"], "a=1")
				check(t, "multi-value headers out", len(resp.MultiValueHeaders), 0)
			},
		},
		{
			name: "encoded path kept",
			patch: func(e *events.APIGatewayProxyRequest) {
				e.Path = "/files/a%2Fb%20c"
			},
			check: func(t *testing.T, _ events.APIGatewayProxyResponse, r echo.Request) {
				check(t, "path", r.Path, "/files/a/b c")
				check(t, "raw path", r.RawPath, "/files/a%2Fb%20c")
				check(t, "request URI", r.RequestURI, "/files/a%2Fb%20c?name=me")
			},
		},
		{
			name: "base64 in and out",
			patch: func(e *events.APIGatewayProxyRequest) {
				e.Body = base64.StdEncoding.EncodeToString(pngBytes)
				e.IsBase64Encoded = true
			},
			check: func(t *testing.T, resp events.APIGatewayProxyResponse, r echo.Request) {
				check(t, "body in", string(r.Body), string(pngBytes))
				check(t, "JSON report not base64", resp.IsBase64Encoded, false)
			},
		},
		{
			name: "status and binary body out",
			patch: func(e *events.APIGatewayProxyRequest) {
				e.MultiValueHeaders[echo.StatusHeader] = []string{"201"}
				e.MultiValueHeaders[echo.ContentTypeHeader] = []string{"application/octet-stream"}
				e.MultiValueHeaders[echo.BodyHeader] = []string{base64.StdEncoding.EncodeToString(pngBytes)}
			},
			check: func(t *testing.T, resp events.APIGatewayProxyResponse, _ echo.Request) {
				check(t, "status", resp.StatusCode, http.StatusCreated)
				check(t, "isBase64Encoded", resp.IsBase64Encoded, true)
				check(t, "body", resp.Body, base64.StdEncoding.EncodeToString(pngBytes))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := readEvent[events.APIGatewayProxyRequest](t, "apigw-request.json")
			if tt.patch != nil {
				tt.patch(&e)
			}

			resp, body := invoke[events.APIGatewayProxyResponse](t, context.Background(), tt.cfg, e)
			var r echo.Request
			if json.Valid(body) {
				r = report(t, body)
			}
			tt.check(t, resp, r)
		})
	}
}

func TestHandleALB(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		sample string
		patch  func(e *events.ALBTargetGroupRequest)
		check  func(t *testing.T, resp events.ALBTargetGroupResponse, r echo.Request)
	}{
		{
			name:   "headers-only sample",
			sample: "alb-lambda-target-request-headers-only.json",
			check: func(t *testing.T, resp events.ALBTargetGroupResponse, r echo.Request) {
				check(t, "method", r.Method, "GET")
				check(t, "path", r.Path, "/")
				check(t, "raw query", r.RawQuery, "key=hello")
				check(t, "host", r.Host, "lambda-test-alb-1334523864.us-east-1.elb.amazonaws.com")
				check(t, "remote addr", r.RemoteAddr, "25.12.198.67:0")
				checkValues(t, "X-Request-Id from invocation", r.Header["X-Request-Id"], []string{"alb-invocation-1"})
				check(t, "status description", resp.StatusDescription, "200 OK")
				check(t, "Content-Type out", resp.Headers["Content-Type"], "application/json")
				check(t, "multi-value headers out", len(resp.MultiValueHeaders), 0)
			},
		},
		{
			name:   "multi-value sample",
			sample: "alb-lambda-target-request-multivalue-headers.json",
			patch: func(e *events.ALBTargetGroupRequest) {
				e.MultiValueHeaders[echo.SetCookieHeader] = []string{"a=1", "b=2"}
			},
			check: func(t *testing.T, resp events.ALBTargetGroupResponse, r echo.Request) {
				check(t, "raw query", r.RawQuery, "key=hello")
				check(t, "host", r.Host, "lambda-test-alb-1234567.us-east-1.elb.amazonaws.com")
				check(t, "remote addr", r.RemoteAddr, "72.21.198.67:0")
				checkValues(t, "Set-Cookie out", resp.MultiValueHeaders["Set-Cookie"], []string{"a=1", "b=2"})
				check(t, "single-value headers out", len(resp.Headers), 0)
			},
		},
		{
			name:   "encoded query not encoded twice",
			sample: "alb-lambda-target-request-multivalue-headers.json",
			patch: func(e *events.ALBTargetGroupRequest) {
				e.MultiValueQueryStringParameters = map[string][]string{
					"q":    {"hello%20world", "a%26b"},
					"city": {"%E5%8C%97%E4%BA%AC"},
				}
			},
			check: func(t *testing.T, _ events.ALBTargetGroupResponse, r echo.Request) {
				check(t, "raw query", r.RawQuery, "city=%E5%8C%97%E4%BA%AC&q=hello%20world&q=a%26b")
				checkValues(t, "query q", r.Query["q"], []string{"hello world", "a&b"})
				checkValues(t, "query city", r.Query["city"], []string{"北京"})
			},
		},
		{
			name:   "encoded single-value query",
			sample: "alb-lambda-target-request-headers-only.json",
			patch: func(e *events.ALBTargetGroupRequest) {
				e.QueryStringParameters = map[string]string{"q": "a%2Bb"}
			},
			check: func(t *testing.T, _ events.ALBTargetGroupResponse, r echo.Request) {
				checkValues(t, "query q", r.Query["q"], []string{"a+b"})
			},
		},
		{
			name:   "encoded path kept",
			sample: "alb-lambda-target-request-headers-only.json",
			patch: func(e *events.ALBTargetGroupRequest) {
				e.Path = "/files/a%2Fb"
			},
			check: func(t *testing.T, _ events.ALBTargetGroupResponse, r echo.Request) {
				check(t, "path", r.Path, "/files/a/b")
				check(t, "raw path", r.RawPath, "/files/a%2Fb")
			},
		},
		{
			name:   "forwarded for chain",
			sample: "alb-lambda-target-request-headers-only.json",
			patch: func(e *events.ALBTargetGroupRequest) {
				e.Headers["x-forwarded-for"] = "10.0.0.1, 203.0.113.9"
			},
			check: func(t *testing.T, _ events.ALBTargetGroupResponse, r echo.Request) {
				check(t, "remote addr", r.RemoteAddr, "203.0.113.9:0")
			},
		},
		{
			name:   "status and body out",
			sample: "alb-lambda-target-request-headers-only.json",
			patch: func(e *events.ALBTargetGroupRequest) {
				e.Headers[strings.ToLower(echo.StatusHeader)] = "503"
				e.Headers[strings.ToLower(echo.ContentTypeHeader)] = "image/png"
				e.Headers[strings.ToLower(echo.BodyHeader)] = base64.StdEncoding.EncodeToString(pngBytes)
			},
			check: func(t *testing.T, resp events.ALBTargetGroupResponse, _ echo.Request) {
				check(t, "status", resp.StatusCode, http.StatusServiceUnavailable)
				check(t, "status description", resp.StatusDescription, "503 Service Unavailable")
				check(t, "isBase64Encoded", resp.IsBase64Encoded, true)
				check(t, "body", resp.Body, base64.StdEncoding.EncodeToString(pngBytes))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := readEvent[events.ALBTargetGroupRequest](t, tt.sample)
			if tt.patch != nil {
				tt.patch(&e)
			}
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "alb-invocation-1"})

			resp, body := invoke[events.ALBTargetGroupResponse](t, ctx, lambda.Config{}, e)
			var r echo.Request
			if json.Valid(body) {
				r = report(t, body)
			}
			tt.check(t, resp, r)
		})
	}
}

func TestHandleALBDroppedCookieWarning(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	cfg := lambda.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}

	e := readEvent[events.ALBTargetGroupRequest](t, "alb-lambda-target-request-headers-only.json")
	e.Headers[strings.ToLower(echo.SetCookieHeader)] = "session=first|csrf=secret-token"
	resp, _ := invoke[events.ALBTargetGroupResponse](t, context.Background(), cfg, e)

	check(t, "Set-Cookie out", resp.Headers["Set-Cookie"], "session=first")
	if !strings.Contains(logs.String(), `"dropped_cookies":["csrf"]`) {
		t.Errorf("log = %s, want a warning naming the dropped cookie", logs.String())
	}
	if strings.Contains(logs.String(), "secret-token") {
		t.Errorf("log = %s, contains a cookie value", logs.String())
	}
}

func TestHandleRejectsEvents(t *testing.T) {
	t.Parallel()
	sqs, err := os.ReadFile(filepath.Join("testdata", "sqs-event.json"))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name            string
		event           string
		wantUnsupported bool
	}{
		{"sqs sample", string(sqs), true},
		{"empty object", `{}`, true},
		{"null", `null`, true},
		{"method without context", `{"httpMethod":"GET","path":"/"}`, true},
		{"websocket-like", `{"requestContext":{"routeKey":"$connect"}}`, true},
		{"array", `[]`, false},
		{"string", `"hello"`, false},
		{"truncated", `{"version":"2.0"`, false},
		{"context not object", `{"httpMethod":"GET","requestContext":5}`, false},
		{"v2 invalid method", `{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GE T"}}}`, false},
		{"v2 missing method", `{"version":"2.0","rawPath":"/"}`, false},
		{"v2 invalid base64", `{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":"%%%","isBase64Encoded":true}`, false},
		{"v1 invalid base64", `{"httpMethod":"POST","resource":"/","body":"%%%","isBase64Encoded":true}`, false},
		{"alb wrong type", `{"requestContext":{"elb":{}},"httpMethod":5}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := lambda.New(echo.Handler, lambda.Config{}).Handle(context.Background(), json.RawMessage(tt.event))
			if err == nil {
				t.Fatalf("Handle = %+v, want an error", resp)
			}
			if got := errors.Is(err, lambda.ErrUnsupportedEvent); got != tt.wantUnsupported {
				t.Errorf("error %q: is ErrUnsupportedEvent = %v, want %v", err, got, tt.wantUnsupported)
			}
		})
	}
}

func TestHandleResponseTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sample string
		want   any
	}{
		{"apigw-v2-request-iam.json", events.APIGatewayV2HTTPResponse{}},
		{"lambda-urls-request.json", events.APIGatewayV2HTTPResponse{}},
		{"apigw-request.json", events.APIGatewayProxyResponse{}},
		{"alb-lambda-target-request-headers-only.json", events.ALBTargetGroupResponse{}},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", tt.sample))
			if err != nil {
				t.Fatal(err)
			}

			resp, err := lambda.New(echo.Handler, lambda.Config{}).Handle(context.Background(), data)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			if got, want := typeName(resp), typeName(tt.want); got != want {
				t.Errorf("response type = %s, want %s", got, want)
			}
		})
	}
}

func typeName(v any) string {
	switch v.(type) {
	case events.APIGatewayV2HTTPResponse:
		return "APIGatewayV2HTTPResponse"
	case events.APIGatewayProxyResponse:
		return "APIGatewayProxyResponse"
	case events.ALBTargetGroupResponse:
		return "ALBTargetGroupResponse"
	}
	return "other"
}

func TestHandleAbortedResponse(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "apigw-v2-request-iam.json"))
	if err != nil {
		t.Fatal(err)
	}

	abort := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	_, err = lambda.New(abort, lambda.Config{}).Handle(context.Background(), data)
	if !errors.Is(err, httpevent.ErrAborted) {
		t.Errorf("Handle error = %v, want ErrAborted", err)
	}
}

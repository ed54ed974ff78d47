package scf_test

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

	"github.com/tencentyun/scf-go-lib/events"
	"github.com/tencentyun/scf-go-lib/functioncontext"

	"github.com/jingtong/backend/triggers/httpevent"
	"github.com/jingtong/backend/triggers/internal/echo"
	"github.com/jingtong/backend/triggers/scf"
)

// pngBytes starts like a PNG file and is not valid UTF-8.
var pngBytes = []byte{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0x00, 0xff, 0xfe}

func readSample(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("reading sample: %v", err)
	}
	return data
}

func readRequest(t testing.TB, name string) scf.APIGatewayRequest {
	t.Helper()
	var e scf.APIGatewayRequest
	if err := json.Unmarshal(readSample(t, name), &e); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
	return e
}

// invoke sends event through Handler.Invoke, the path the SCF runtime takes,
// and returns the integrated response and its decoded body.
func invoke(t *testing.T, ctx context.Context, cfg scf.Config, event any) (events.APIGatewayResponse, []byte) {
	t.Helper()
	payload, err := json.Marshal(event)
	if err != nil {
		t.Fatalf("encoding event: %v", err)
	}

	out, err := scf.New(echo.Handler, cfg).Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}

	var resp events.APIGatewayResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("decoding response %s: %v", out, err)
	}
	body, err := httpevent.DecodeBody(resp.Body, resp.IsBase64Encoded)
	if err != nil {
		t.Fatalf("decoding response body: %v", err)
	}
	return resp, body
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

func TestHandleAPIGatewayRequest(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		sample string
		cfg    scf.Config
		patch  func(e *scf.APIGatewayRequest)
		check  func(t *testing.T, r echo.Request)
	}{
		{
			name:   "documented sample",
			sample: "apigw-request-docs.json",
			check: func(t *testing.T, r echo.Request) {
				check(t, "method", r.Method, "POST")
				check(t, "path", r.Path, "/test/value")
				check(t, "raw query", r.RawQuery, "bob=alice&foo=bar")
				check(t, "request URI", r.RequestURI, "/test/value?bob=alice&foo=bar")
				check(t, "host", r.Host, "service-3ei3tii4-251000691.ap-guangzhou.apigateway.myqloud.com")
				check(t, "remote addr", r.RemoteAddr, "10.0.2.14:0")
				checkValues(t, "X-Request-Id", r.Header["X-Request-Id"], []string{"c6af9ac6-7b61-11e6-9a41-93e8deadbeef"})
				checkValues(t, "Accept not split", r.Header["Accept"], []string{"text/html,application/xml,application/json"})
				checkValues(t, "User-Agent", r.Header["User-Agent"], []string{"User Agent String"})
				check(t, "body", string(r.Body), `{"test":"body"}`)
				check(t, "content length", r.ContentLength, int64(len(`{"test":"body"}`)))
			},
		},
		{
			name:   "scf-go-lib sample",
			sample: "apigw-request-scf-go-lib.json",
			check: func(t *testing.T, r echo.Request) {
				check(t, "method", r.Method, "GET")
				check(t, "path", r.Path, "/ritchiechen-apigw-test")
				check(t, "raw query", r.RawQuery, "a=b&a=c&i&x=y")
				checkValues(t, "query a", r.Query["a"], []string{"b", "c"})
				checkValues(t, "query i", r.Query["i"], []string{""})
				check(t, "host", r.Host, "service-xxx-123456.ap-shanghai.apigateway.myqcloud.com")
				check(t, "remote addr", r.RemoteAddr, "8.8.8.8:0")
				checkValues(t, "X-Request-Id from invocation", r.Header["X-Request-Id"], []string{"scf-invocation-1"})
				checkValues(t, "X-Qualifier", r.Header["X-Qualifier"], []string{"$LATEST"})
			},
		},
		{
			name:   "base path stripped",
			sample: "apigw-request-docs.json",
			cfg:    scf.Config{BasePath: "/test"},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/value")
			},
		},
		{
			name:   "base path not matching",
			sample: "apigw-request-docs.json",
			cfg:    scf.Config{BasePath: "/te"},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/test/value")
			},
		},
		{
			name:   "base64 body decoded",
			sample: "apigw-request-docs.json",
			patch: func(e *scf.APIGatewayRequest) {
				e.Body = base64.StdEncoding.EncodeToString(pngBytes)
				e.IsBase64Encoded = true
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "body", string(r.Body), string(pngBytes))
				check(t, "content length", r.ContentLength, int64(len(pngBytes)))
			},
		},
		{
			name:   "encoded path kept",
			sample: "apigw-request-docs.json",
			patch: func(e *scf.APIGatewayRequest) {
				e.Path = "/files/a%2Fb%20c"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/files/a/b c")
				check(t, "raw path", r.RawPath, "/files/a%2Fb%20c")
			},
		},
		{
			name:   "path with bare percent",
			sample: "apigw-request-docs.json",
			patch: func(e *scf.APIGatewayRequest) {
				e.Path = "/discount/100%"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "path", r.Path, "/discount/100%")
				check(t, "escaped path", r.EscapedPath, "/discount/100%25")
			},
		},
		{
			name:   "query values encoded",
			sample: "apigw-request-docs.json",
			patch: func(e *scf.APIGatewayRequest) {
				e.QueryString = scf.QueryString{"q": {"a b&c"}, "city": {"北京"}}
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "raw query", r.RawQuery, "city=%E5%8C%97%E4%BA%AC&q=a+b%26c")
				checkValues(t, "query q", r.Query["q"], []string{"a b&c"})
				checkValues(t, "query city", r.Query["city"], []string{"北京"})
			},
		},
		{
			name:   "cookie header",
			sample: "apigw-request-docs.json",
			patch: func(e *scf.APIGatewayRequest) {
				e.Headers["Cookie"] = "session=abc; lang=zh"
			},
			check: func(t *testing.T, r echo.Request) {
				check(t, "session cookie", r.Cookies["session"], "abc")
				check(t, "lang cookie", r.Cookies["lang"], "zh")
			},
		},
		{
			name:   "client request id kept",
			sample: "apigw-request-docs.json",
			patch: func(e *scf.APIGatewayRequest) {
				e.Headers["x-request-id"] = "client-1"
			},
			check: func(t *testing.T, r echo.Request) {
				checkValues(t, "X-Request-Id", r.Header["X-Request-Id"], []string{"client-1"})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := readRequest(t, tt.sample)
			if tt.patch != nil {
				tt.patch(&e)
			}
			ctx := functioncontext.NewContext(context.Background(), &functioncontext.FunctionContext{RequestID: "scf-invocation-1"})

			resp, body := invoke(t, ctx, tt.cfg, e)
			check(t, "status", resp.StatusCode, http.StatusOK)
			tt.check(t, report(t, body))
		})
	}
}

func TestHandleAPIGatewayRawEvent(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		event string
		check func(t *testing.T, r echo.Request)
	}{
		{
			name:  "isBase64Encoded from raw event",
			event: `{"httpMethod":"PUT","path":"/upload","headers":{},"requestContext":{},"isBase64Encoded":true,"body":"AAEC/w=="}`,
			check: func(t *testing.T, r echo.Request) {
				check(t, "body", string(r.Body), "\x00\x01\x02\xff")
			},
		},
		{
			name:  "number and false query values",
			event: `{"httpMethod":"GET","path":"/","requestContext":{},"queryString":{"page":2,"debug":false,"tags":["a",3],"none":null}}`,
			check: func(t *testing.T, r echo.Request) {
				check(t, "raw query", r.RawQuery, "page=2&tags=a&tags=3")
			},
		},
		{
			name:  "lowercase host header",
			event: `{"httpMethod":"GET","path":"/","requestContext":{},"headers":{"host":"api.example.cn"}}`,
			check: func(t *testing.T, r echo.Request) {
				check(t, "host", r.Host, "api.example.cn")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := scf.New(echo.Handler, scf.Config{}).Invoke(context.Background(), []byte(tt.event))
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			var resp events.APIGatewayResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("decoding response: %v", err)
			}
			tt.check(t, report(t, []byte(resp.Body)))
		})
	}
}

func TestHandleAPIGatewayResponse(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		headers     map[string]string
		wantStatus  int
		wantEncoded bool
		check       func(t *testing.T, resp events.APIGatewayResponse, body []byte)
	}{
		{
			name:       "repeated headers joined",
			headers:    map[string]string{echo.HeaderHeader: "X-Multi: one|X-Multi: two"},
			wantStatus: http.StatusOK,
			check: func(t *testing.T, resp events.APIGatewayResponse, _ []byte) {
				check(t, "X-Multi", resp.Headers["X-Multi"], "one, two")
				check(t, "Content-Type", resp.Headers["Content-Type"], "application/json")
			},
		},
		{
			name:       "one set-cookie kept",
			headers:    map[string]string{echo.SetCookieHeader: "session=abc; Path=/; HttpOnly"},
			wantStatus: http.StatusOK,
			check: func(t *testing.T, resp events.APIGatewayResponse, _ []byte) {
				check(t, "Set-Cookie", resp.Headers["Set-Cookie"], "session=abc; Path=/; HttpOnly")
			},
		},
		{
			name:       "status code",
			headers:    map[string]string{echo.StatusHeader: "418"},
			wantStatus: http.StatusTeapot,
		},
		{
			name: "binary body",
			headers: map[string]string{
				echo.BodyHeader:        base64.StdEncoding.EncodeToString(pngBytes),
				echo.ContentTypeHeader: "image/png",
			},
			wantStatus:  http.StatusOK,
			wantEncoded: true,
			check: func(t *testing.T, _ events.APIGatewayResponse, body []byte) {
				check(t, "body", string(body), string(pngBytes))
			},
		},
		{
			name: "UTF-8 text",
			headers: map[string]string{
				echo.BodyHeader:        base64.StdEncoding.EncodeToString([]byte("京通")),
				echo.ContentTypeHeader: "text/plain; charset=utf-8",
			},
			wantStatus: http.StatusOK,
			check: func(t *testing.T, resp events.APIGatewayResponse, _ []byte) {
				check(t, "raw body", resp.Body, "京通")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := readRequest(t, "apigw-request-docs.json")
			for name, value := range tt.headers {
				e.Headers[name] = value
			}

			resp, body := invoke(t, context.Background(), scf.Config{}, e)
			check(t, "status", resp.StatusCode, tt.wantStatus)
			check(t, "isBase64Encoded", resp.IsBase64Encoded, tt.wantEncoded)
			if tt.check != nil {
				tt.check(t, resp, body)
			}
		})
	}
}

func TestHandleDroppedCookieWarning(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	cfg := scf.Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}

	e := readRequest(t, "apigw-request-docs.json")
	e.Headers[echo.SetCookieHeader] = "session=first|csrf=secret-token|lang=zh"
	resp, _ := invoke(t, context.Background(), cfg, e)

	check(t, "Set-Cookie", resp.Headers["Set-Cookie"], "session=first")
	if !strings.Contains(logs.String(), `"dropped_cookies":["csrf","lang"]`) {
		t.Errorf("log = %s, want a warning naming the dropped cookies", logs.String())
	}
	if strings.Contains(logs.String(), "secret-token") {
		t.Errorf("log = %s, contains a cookie value", logs.String())
	}
}

func TestHandleRequestDeadline(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(time.Minute).Round(time.Millisecond)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	_, body := invoke(t, ctx, scf.Config{}, readRequest(t, "apigw-request-docs.json"))
	r := report(t, body)
	if !r.HasDeadline || !r.Deadline.Equal(deadline) {
		t.Errorf("request deadline = %v (set %v), want %v", r.Deadline, r.HasDeadline, deadline)
	}
}

func TestHandleTimer(t *testing.T) {
	t.Parallel()
	errJob := errors.New("job failed")

	tests := []struct {
		name      string
		sample    string
		onTimer   func(ctx context.Context, e scf.TimerEvent) error
		wantErr   error
		wantEvent scf.TimerEvent
	}{
		{
			name:    "no hook",
			sample:  "timer-event-docs.json",
			wantErr: scf.ErrTimerNotHandled,
		},
		{
			name:      "hook receives documented event",
			sample:    "timer-event-docs.json",
			onTimer:   func(context.Context, scf.TimerEvent) error { return nil },
			wantEvent: scf.TimerEvent{Type: "Timer", TriggerName: "EveryDay", Time: "2019-02-21T11:49:00Z", Message: "user define msg body"},
		},
		{
			name:      "hook receives scf-go-lib event",
			sample:    "timer-event-scf-go-lib.json",
			onTimer:   func(context.Context, scf.TimerEvent) error { return nil },
			wantEvent: scf.TimerEvent{Type: "Timer", TriggerName: "oneminute", Time: "2019-08-17T05:26:00Z"},
		},
		{
			name:      "hook error",
			sample:    "timer-event-docs.json",
			onTimer:   func(context.Context, scf.TimerEvent) error { return errJob },
			wantErr:   errJob,
			wantEvent: scf.TimerEvent{Type: "Timer", TriggerName: "EveryDay", Time: "2019-02-21T11:49:00Z", Message: "user define msg body"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got scf.TimerEvent
			cfg := scf.Config{}
			if tt.onTimer != nil {
				cfg.OnTimer = func(ctx context.Context, e scf.TimerEvent) error {
					got = e
					return tt.onTimer(ctx, e)
				}
			}

			out, err := scf.New(echo.Handler, cfg).Invoke(context.Background(), readSample(t, tt.sample))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Invoke error = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), `"EveryDay"`) {
				t.Errorf("error %q does not name the trigger", err)
			}
			if err == nil && string(out) != "null" {
				t.Errorf("Invoke output = %s, want null", out)
			}
			if got != tt.wantEvent {
				t.Errorf("OnTimer got %+v, want %+v", got, tt.wantEvent)
			}
		})
	}
}

func TestHandleRejectsEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		event           string
		wantUnsupported bool
	}{
		{"cos sample", string(readSample(t, "cos-event-scf-go-lib.json")), true},
		{"empty object", `{}`, true},
		{"null", `null`, true},
		{"method without context", `{"httpMethod":"GET","path":"/"}`, true},
		{"other type", `{"Type":"Cron","TriggerName":"x"}`, true},
		{"array", `[]`, false},
		{"truncated", `{"httpMethod":"GET"`, false},
		{"invalid method", `{"httpMethod":"GE T","path":"/","requestContext":{}}`, false},
		{"invalid base64", `{"httpMethod":"POST","path":"/","requestContext":{},"isBase64Encoded":true,"body":"%%%"}`, false},
		{"query not object", `{"httpMethod":"GET","path":"/","requestContext":{},"queryString":5}`, false},
		{"headers not strings", `{"httpMethod":"GET","path":"/","requestContext":{},"headers":{"a":1}}`, false},
		{"timer wrong type", `{"Type":"Timer","TriggerName":5}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := scf.New(echo.Handler, scf.Config{}).Handle(context.Background(), json.RawMessage(tt.event))
			if err == nil {
				t.Fatalf("Handle = %+v, want an error", resp)
			}
			if got := errors.Is(err, scf.ErrUnsupportedEvent); got != tt.wantUnsupported {
				t.Errorf("error %q: is ErrUnsupportedEvent = %v, want %v", err, got, tt.wantUnsupported)
			}
		})
	}
}

func TestQueryStringJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		json       string
		want       scf.QueryString
		wantEncode string
	}{
		{"string", `{"a":"1"}`, scf.QueryString{"a": {"1"}}, "a=1"},
		{"array", `{"a":["1","2"]}`, scf.QueryString{"a": {"1", "2"}}, "a=1&a=2"},
		{"bare key", `{"debug":true}`, scf.QueryString{"debug": {}}, "debug"},
		{"empty value", `{"a":""}`, scf.QueryString{"a": {""}}, "a="},
		{"false and null dropped", `{"a":false,"b":null}`, scf.QueryString{}, ""},
		{"number", `{"page":2.5}`, scf.QueryString{"page": {"2.5"}}, "page=2.5"},
		{"escaped key", `{"a b":"c&d"}`, scf.QueryString{"a b": {"c&d"}}, "a+b=c%26d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var q scf.QueryString
			if err := json.Unmarshal([]byte(tt.json), &q); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !equalQuery(q, tt.want) {
				t.Errorf("decoded = %#v, want %#v", q, tt.want)
			}
			if got := q.Encode(); got != tt.wantEncode {
				t.Errorf("Encode = %q, want %q", got, tt.wantEncode)
			}

			// A marshal and unmarshal round trip keeps bare keys bare.
			data, err := json.Marshal(q)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			var again scf.QueryString
			if err := json.Unmarshal(data, &again); err != nil {
				t.Fatalf("Unmarshal %s: %v", data, err)
			}
			if !equalQuery(again, tt.want) {
				t.Errorf("round trip through %s = %#v, want %#v", data, again, tt.want)
			}
		})
	}
}

func equalQuery(a, b scf.QueryString) bool {
	if len(a) != len(b) {
		return false
	}
	for key, av := range a {
		bv, ok := b[key]
		if !ok || !slices.Equal(av, bv) || (av == nil) != (bv == nil) {
			return false
		}
	}
	return true
}

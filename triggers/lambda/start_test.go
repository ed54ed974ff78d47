package lambda_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jingtong/backend/triggers/httpevent"
	"github.com/jingtong/backend/triggers/internal/echo"
	"github.com/jingtong/backend/triggers/lambda"
)

// startChildEnv marks the child process that TestStartRuntimeAPI runs.
const startChildEnv = "JT_TEST_LAMBDA_START_CHILD"

// TestStartRuntimeAPI runs Start in a child process against a Lambda Runtime
// API emulator on loopback, because Start never returns. The emulator hands
// out one HTTP API event, records the response, and then holds the next poll
// until the test kills the child.
func TestStartRuntimeAPI(t *testing.T) {
	if os.Getenv(startChildEnv) == "1" {
		lambda.Start(context.Background(), lambda.New(echo.Handler, lambda.Config{}), nil)
		return
	}

	e := readEvent[events.APIGatewayV2HTTPRequest](t, "apigw-v2-request-iam.json")
	e.RequestContext.RequestID = ""
	payload, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}

	responses := make(chan string, 1)
	released := make(chan struct{})
	var polls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) > 1 {
			select {
			case <-released:
			case <-r.Context().Done():
			}
			return
		}
		deadline := time.Now().Add(time.Minute).UnixMilli()
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", "invocation-1")
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(deadline, 10))
		_, _ = w.Write(payload)
	})
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/{outcome}", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		responses <- r.PathValue("id") + " " + r.PathValue("outcome") + " " + string(body)
		w.WriteHeader(http.StatusAccepted)
	})
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	t.Cleanup(func() { close(released) })

	child := exec.Command(os.Args[0], "-test.run=^TestStartRuntimeAPI$")
	child.Env = append(os.Environ(), startChildEnv+"=1", "AWS_LAMBDA_RUNTIME_API="+strings.TrimPrefix(api.URL, "http://"))
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatalf("starting child: %v", err)
	}
	t.Cleanup(func() {
		_ = child.Process.Kill()
		_ = child.Wait()
	})

	var got string
	select {
	case got = <-responses:
	case <-time.After(30 * time.Second):
		t.Fatal("no response from the child within 30s")
	}
	id, rest, _ := strings.Cut(got, " ")
	outcome, body, _ := strings.Cut(rest, " ")
	check(t, "invocation id", id, "invocation-1")
	check(t, "outcome", outcome, "response")

	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatalf("decoding response %q: %v", body, err)
	}
	check(t, "status", resp.StatusCode, http.StatusOK)
	reportBody, err := httpevent.DecodeBody(resp.Body, resp.IsBase64Encoded)
	if err != nil {
		t.Fatal(err)
	}
	r := report(t, reportBody)
	check(t, "path", r.Path, "/my/path")
	checkValues(t, "X-Request-Id from invocation", r.Header["X-Request-Id"], []string{"invocation-1"})
	check(t, "request has deadline", r.HasDeadline, true)
}

package cron

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/httpx"
)

// PathPrefix is the path under which Handler runs one tick per request:
// POST /_jt/cron/{job}.
const PathPrefix = "/_jt/cron/"

// Headers that Handler reads or sets.
const (
	// ConnectorHeader and ConnectorValue mark requests from the OpenFaaS
	// cron-connector, which sends "X-Connector: cron-connector" and
	// "X-Topic: cron-function" (openfaas/cron-connector at commit b07e85a).
	ConnectorHeader = "X-Connector"
	ConnectorValue  = "cron-connector"
	// OutcomeHeader carries the Outcome of every successful response.
	OutcomeHeader = "X-JT-Cron-Outcome"
)

// PingSourceEventType is the CloudEvents type of Knative PingSource events.
const PingSourceEventType = "dev.knative.sources.ping"

// MaxEventBytes bounds the body of a CloudEvent that Handler reads.
const MaxEventBytes = 64 << 10

// Error codes of Handler, beside the shared UNAUTHORIZED, NOT_FOUND,
// METHOD_NOT_ALLOWED, BODY_TOO_LARGE and INTERNAL.
var (
	CodeJobNotFound = httpx.NewCode("CRON_JOB_NOT_FOUND", http.StatusNotFound,
		"函数 %s 没有名为 %q 的定时任务",
		"function %s has no cron job %q")
	CodeInvalidEvent = httpx.NewCode("CRON_INVALID_EVENT", http.StatusBadRequest,
		"定时触发事件无效：%s",
		"invalid cron trigger event: %s")
	CodeConnectorJobUnset = httpx.NewCode("CRON_CONNECTOR_JOB_UNSET", http.StatusNotFound,
		"未配置 cron-connector 请求要运行的定时任务，请设置 JT_CRON_CONNECTOR_JOB",
		"no job is configured for cron-connector requests; set JT_CRON_CONNECTOR_JOB")
)

// Handler returns the handler of f's jobs that hosts mount with Mount. See
// New for the checks and Runner.Handler for the requests it serves.
func Handler(f *fn.Function, opts Options) (http.Handler, error) {
	r, err := New(f, opts)
	if err != nil {
		return nil, err
	}
	return r.Handler(), nil
}

// Mount returns a handler that sends cron requests to ticks and every other
// request to app. Cron requests are those under PathPrefix, and POST
// requests to the root that carry the cron-connector's X-Connector header.
func Mount(app, ticks http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, PathPrefix) || isConnectorRoot(req) {
			ticks.ServeHTTP(w, req)
			return
		}
		app.ServeHTTP(w, req)
	})
}

func isConnectorRoot(req *http.Request) bool {
	return req.Method == http.MethodPost && (req.URL.Path == "/" || req.URL.Path == "") &&
		req.Header.Get(ConnectorHeader) == ConnectorValue
}

// Handler returns an http.Handler that runs one tick of a job per POST
// request. The job is the {job} of POST /_jt/cron/{job}, or
// Options.ConnectorJob for a cron-connector request to the root path. A
// request is accepted when it carries a valid platform token (or an outer
// auth.Middleware found one), or comes from a platform scheduler listed in
// Options.Sources:
//
//   - SourcePingSource: a CloudEvent of type dev.knative.sources.ping, in
//     binary or structured content mode. Its time attribute, when set, is
//     the trigger time.
//   - SourceCronConnector: a request with "X-Connector: cron-connector".
//
// Either way the request runs at most the tick that is due at its time,
// which may be up to MaxEventSkew ahead. So an unsigned request can at worst
// run a tick before the platform's own request does, and at most
// MaxEventSkew early.
//
// Responses: 200 with a JSON Result, or 204 with no body for a CloudEvent,
// because Knative treats a reply body as a reply event. Both carry the
// outcome in X-JT-Cron-Outcome. A tick that was claimed already, missed or
// not due is a success, so the platform does not retry it. Errors:
//
//   - 405 METHOD_NOT_ALLOWED for a method other than POST;
//   - 404 NOT_FOUND for another path or a name that no job can have;
//   - 401 UNAUTHORIZED without an accepted credential;
//   - 400 CRON_INVALID_EVENT for a malformed event, and 413 BODY_TOO_LARGE
//     for one over MaxEventBytes;
//   - 404 CRON_JOB_NOT_FOUND or CRON_CONNECTOR_JOB_UNSET when the job is
//     unknown or not configured;
//   - 500 INTERNAL when the job or the Locker fails.
func (r *Runner) Handler() http.Handler { return &handler{r: r} }

type handler struct{ r *Runner }

// response is the body of a successful response.
type response struct {
	Function   string `json:"function"`
	Job        string `json:"job"`
	Source     string `json:"source"`
	Tick       string `json:"tick,omitempty"`
	Outcome    string `json:"outcome"`
	CatchUp    bool   `json:"catch_up"`
	DurationMS int64  `json:"duration_ms"`
}

func (h *handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, req, httpx.E(httpx.CodeMethodNotAllowed, req.Method))
		return
	}
	name, err := h.jobName(req)
	if err != nil {
		h.reject(w, req, err)
		return
	}
	source, err := h.identify(req)
	if err != nil {
		h.reject(w, req, err)
		return
	}
	at, err := h.eventTime(w, req, source)
	if err != nil {
		h.reject(w, req, err)
		return
	}

	// The run outlives a client that gives up, such as a cron-connector
	// whose request timed out, and is bounded by the job's timeout instead.
	res, err := h.r.Trigger(context.WithoutCancel(req.Context()), name, at, source)
	switch {
	case errors.Is(err, ErrUnknownJob):
		h.reject(w, req, httpx.Wrap(CodeJobNotFound, err, h.r.function, name))
		return
	case errors.Is(err, ErrInvalidEvent):
		h.reject(w, req, httpx.Wrap(CodeInvalidEvent, err, strings.TrimPrefix(err.Error(), ErrInvalidEvent.Error()+": ")))
		return
	case err != nil:
		// The Runner logged the failure already.
		httpx.WriteError(w, req, nil, err)
		return
	}

	w.Header().Set(OutcomeHeader, string(res.Outcome))
	if source == SourcePingSource {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	body := response{Function: res.Function, Job: res.Job, Source: string(res.Source), Outcome: string(res.Outcome),
		CatchUp: res.CatchUp, DurationMS: res.Duration.Milliseconds()}
	if !res.Tick.IsZero() {
		body.Tick = res.Tick.Format(time.RFC3339)
	}
	httpx.WriteJSON(w, http.StatusOK, body)
}

// reject writes a client error, logged at Debug.
func (h *handler) reject(w http.ResponseWriter, req *http.Request, err error) {
	httpx.WriteError(w, req, h.r.logger, err)
}

// jobName returns the job that the request path names.
func (h *handler) jobName(req *http.Request) (string, error) {
	if name, ok := strings.CutPrefix(req.URL.Path, PathPrefix); ok {
		// A name that no job can have is a path that does not exist, which
		// also keeps long paths out of logs and error bodies.
		if !jobName.MatchString(name) {
			return "", httpx.E(httpx.CodeNotFound)
		}
		return name, nil
	}
	if isConnectorRoot(req) {
		if h.r.connectorJob == "" {
			return "", httpx.E(CodeConnectorJobUnset)
		}
		return h.r.connectorJob, nil
	}
	return "", httpx.E(httpx.CodeNotFound)
}

// identify returns the source of an accepted request.
func (h *handler) identify(req *http.Request) (Source, error) {
	if auth.IsPlatform(req.Context()) {
		return SourcePlatformCall, nil
	}
	if len(req.Header.Values(auth.PlatformTimeHeader)) > 0 || len(req.Header.Values(auth.PlatformSignatureHeader)) > 0 {
		if err := auth.VerifyPlatform(h.r.platformSecret, req, h.r.now(), h.r.maxSkew); err != nil {
			return "", httpx.Wrap(httpx.CodeUnauthorized, err)
		}
		return SourcePlatformCall, nil
	}

	switch {
	case isCloudEvent(req) && h.r.sources[SourcePingSource]:
		return SourcePingSource, nil
	case req.Header.Get(ConnectorHeader) == ConnectorValue && h.r.sources[SourceCronConnector]:
		return SourceCronConnector, nil
	}
	return "", httpx.Wrap(httpx.CodeUnauthorized, errors.New("cron: no platform token, and not from a platform scheduler in JT_CRON_SOURCES"))
}

// isCloudEvent reports whether req carries a CloudEvent: in binary content
// mode it has a ce-specversion header, in structured or batched mode an
// application/cloudevents content type.
func isCloudEvent(req *http.Request) bool {
	if req.Header.Get("Ce-Specversion") != "" {
		return true
	}
	mediaType, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	return strings.HasPrefix(mediaType, "application/cloudevents")
}

// eventTime returns the trigger time that the request carries, or the zero
// time for now.
func (h *handler) eventTime(w http.ResponseWriter, req *http.Request, source Source) (time.Time, error) {
	if source != SourcePingSource {
		return time.Time{}, nil
	}
	if cehttp.IsHTTPBatch(req.Header) {
		return time.Time{}, httpx.E(CodeInvalidEvent, "batched CloudEvents are not supported; send one event per request")
	}

	req.Body = http.MaxBytesReader(w, req.Body, MaxEventBytes)
	e, err := cehttp.NewEventFromHTTPRequest(req)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return time.Time{}, httpx.Wrap(httpx.CodeBodyTooLarge, err, MaxEventBytes)
		}
		return time.Time{}, httpx.Wrap(CodeInvalidEvent, err, "the body is not a CloudEvent")
	}
	if err := e.Validate(); err != nil {
		return time.Time{}, httpx.Wrap(CodeInvalidEvent, err, "the CloudEvent lacks required attributes")
	}
	if e.Type() != PingSourceEventType {
		return time.Time{}, httpx.E(CodeInvalidEvent, fmt.Sprintf("CloudEvent type %q is not %s", truncate(e.Type()), PingSourceEventType))
	}
	return e.Time(), nil
}

package triggers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/client"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/protocol"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/obs"
	"github.com/jingtong/backend/triggers/queue"
)

// EventsPath is the path of the endpoint that receives a Knative
// Trigger's CloudEvents for a function with queue consumers.
const EventsPath = "/_jt/events"

// Variables that Knative sets in a function's container: K_SERVICE on
// every Knative Service, and K_SINK where a SinkBinding names the Broker.
const (
	knativeServiceVar = "K_SERVICE"
	knativeSinkVar    = "K_SINK"
)

// eventsStopTimeout bounds how long shutdown waits for queue messages in
// progress.
const eventsStopTimeout = 20 * time.Second

// events is a deployed function's queue: the publisher in its fn.Env, the
// runner of its consumers when they run in this process, and the
// CloudEvents endpoint of Knative Triggers.
//
// The publisher is, in order of preference:
//   - NATS JetStream when JT_NATS_URL is set. Consumers run in this process
//     on the http platform. On Lambda and SCF, which freeze the process
//     between events, another deployment must run them.
//   - the Knative Broker at K_SINK, as CloudEvents of type "jt.<subject>".
//     The Broker delivers them back through Triggers to EventsPath.
//   - the in-process queue on the http platform, whose consumers run in
//     this process and whose messages end with it.
//   - none on Lambda and SCF, where functions skip publishing.
type events struct {
	logger    *slog.Logger
	cfg       queue.Config
	platform  Platform
	backend   queue.Backend // nil when publishing to K_SINK or nowhere
	publisher fn.Publisher
	runner    *queue.Runner
}

// newEvents picks the publisher from lookup for a function on platform.
func newEvents(platform Platform, lookup func(string) (string, bool), logger *slog.Logger) (*events, error) {
	cfg, err := queue.ConfigFromEnv(lookup)
	if err != nil {
		return nil, fmt.Errorf("triggers: %w", err)
	}
	ev := &events{logger: logger, cfg: cfg, platform: platform}
	sink, _ := lookup(knativeSinkVar)
	switch {
	case cfg.NATSURL != "":
		if ev.backend, err = queue.Open(cfg, logger); err != nil {
			return nil, fmt.Errorf("triggers: opening the queue: %w", err)
		}
		ev.publisher = ev.backend
	case sink != "":
		if ev.publisher, err = newSinkPublisher(sink, lookup); err != nil {
			return nil, err
		}
	case platform == PlatformHTTP:
		ev.backend = queue.NewMemory(cfg.Memory)
		ev.publisher = ev.backend
	}
	return ev, nil
}

// start runs f's consumers on the backend when they run in this process,
// with spans from tp.
func (ev *events) start(ctx context.Context, f *fn.Function, env *fn.Env, tp trace.TracerProvider) error {
	if len(f.Consumers) == 0 || ev.backend == nil {
		return nil
	}
	if ev.platform != PlatformHTTP {
		ev.logger.Info("queue consumers are not run on this platform; run the function on the http platform to consume",
			"platform", string(ev.platform), "consumers", len(f.Consumers))
		return nil
	}
	db, err := env.OpenDB(ctx)
	if err != nil {
		return fmt.Errorf("triggers: opening the database for the queue consumers: %w", err)
	}
	runner, err := queue.NewRunner(ev.backend, []*fn.Function{f}, queue.RunnerOptions{
		Policy: ev.cfg.Policy, Store: queue.NewDBStore(db), Logger: ev.logger, Now: env.Now, TracerProvider: tp,
	})
	if err != nil {
		return fmt.Errorf("triggers: %w", err)
	}
	if err := runner.Start(ctx); err != nil {
		return fmt.Errorf("triggers: starting the queue consumers: %w", err)
	}
	ev.runner = runner
	return nil
}

// close stops the consumers, waiting up to eventsStopTimeout for messages
// in progress, and closes the backend.
func (ev *events) close() error {
	var errs []error
	if ev.runner != nil {
		ctx, cancel := context.WithTimeout(context.Background(), eventsStopTimeout)
		errs = append(errs, ev.runner.Stop(ctx))
		cancel()
	}
	if ev.backend != nil {
		errs = append(errs, ev.backend.Close())
	}
	return errors.Join(errs...)
}

// withEvents mounts the CloudEvents endpoint of f's consumers at
// EventsPath. On Knative (K_SERVICE set) it accepts the Broker's unsigned
// deliveries, because the Service is reachable only inside the cluster.
// Elsewhere it requires the platform token, and without
// JT_PLATFORM_SECRET it is not mounted at all, so no caller outside the
// platform can inject events. tp makes the consumer spans.
func withEvents(f *fn.Function, env *fn.Env, tp trace.TracerProvider) (*fn.Function, error) {
	if len(f.Consumers) == 0 {
		return f, nil
	}
	secret, err := auth.LoadSecret(env.Lookup, auth.PlatformSecretVar)
	if err != nil {
		return nil, err
	}
	service, _ := env.Lookup(knativeServiceVar)
	onKnative := service != ""
	if !onKnative && len(secret) == 0 {
		return f, nil
	}

	db, err := env.OpenDB(context.Background())
	if err != nil {
		return nil, fmt.Errorf("triggers: opening the database for the event endpoint: %w", err)
	}
	opts := queue.CloudEventsOptions{Store: queue.NewDBStore(db), Logger: env.Logger, Now: env.Now, TracerProvider: tp}
	if !onKnative {
		opts.PlatformSecret = secret
	}
	ce, err := queue.CloudEventsHandler(f, opts)
	if err != nil {
		return nil, fmt.Errorf("triggers: %w", err)
	}

	mounted := *f
	app := f.Handler
	mounted.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == EventsPath {
			ce.ServeHTTP(w, r)
			return
		}
		app.ServeHTTP(w, r)
	})
	return &mounted, nil
}

// migrateEvents creates the table of processed messages when f has
// consumers.
func migrateEvents(ctx context.Context, f *fn.Function, env *fn.Env) error {
	if len(f.Consumers) == 0 {
		return nil
	}
	db, err := env.OpenDB(ctx)
	if err != nil {
		return err
	}
	if err := queue.Migrate(ctx, db); err != nil {
		return fmt.Errorf("triggers: migrating the queue tables of %q: %w", f.Name, err)
	}
	return nil
}

// sinkPublisher publishes messages as CloudEvents to a Knative sink.
type sinkPublisher struct {
	client cloudevents.Client
	source string
}

func newSinkPublisher(sink string, lookup func(string) (string, bool)) (*sinkPublisher, error) {
	transport, err := cehttp.New(cehttp.WithTarget(sink))
	if err != nil {
		return nil, fmt.Errorf("triggers: invalid %s: %w", knativeSinkVar, err)
	}
	client, err := cloudevents.New(transport)
	if err != nil {
		return nil, fmt.Errorf("triggers: %w", err)
	}
	service, _ := lookup(knativeServiceVar)
	if service == "" {
		service = "function"
	}
	return &sinkPublisher{client: client, source: "/jingtong/" + service}, nil
}

// Publish sends data as a CloudEvent of type "jt.<subject>" with the ID
// opts.ID, or a random UUID. The Broker's Triggers de-duplicate by source
// and ID. Headers are not carried, but the trace context of ctx is: as the
// traceparent and tracestate extension attributes of the CloudEvents
// distributed tracing extension.
func (p *sinkPublisher) Publish(ctx context.Context, subject string, data []byte, opts fn.PublishOptions) error {
	if err := queue.ValidateSubject(subject); err != nil {
		return err
	}
	id := opts.ID
	if id == "" {
		id = uuid.NewString()
	}
	e := event.New()
	e.SetID(id)
	e.SetSource(p.source)
	e.SetType(queue.DefaultTypePrefix + subject)
	e.SetTime(time.Now())
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		return fmt.Errorf("triggers: building the event for %s: %w", subject, err)
	}
	obs.Propagator().Inject(ctx, eventCarrier{&e})
	if res := p.client.Send(ctx, e); !protocol.IsACK(res) {
		return fmt.Errorf("triggers: sending the event for %s to the sink: %w", subject, res)
	}
	return nil
}

// eventCarrier writes W3C trace context fields as CloudEvent extension
// attributes. Their names, traceparent and tracestate, are valid extension
// names, and Send reports a field error in any case.
type eventCarrier struct {
	e *event.Event
}

func (c eventCarrier) Get(key string) string {
	v, _ := c.e.Extensions()[key].(string)
	return v
}

func (c eventCarrier) Set(key, value string) { c.e.SetExtension(key, value) }

func (c eventCarrier) Keys() []string {
	keys := make([]string, 0, len(c.e.Extensions()))
	for k := range c.e.Extensions() {
		keys = append(keys, k)
	}
	return keys
}

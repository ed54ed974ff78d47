package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jingtong/backend/shared/fn"
)

// Defaults for the zero values of NATSOptions.
const (
	// DefaultStream is the JetStream stream that stores every subject.
	DefaultStream = "JINGTONG"
	// DefaultSubjectPrefix is the first token of every NATS subject the
	// stream stores, so the stream's subject filter is "jt.>".
	DefaultSubjectPrefix = "jt"
	// DefaultMaxAge is how long the stream keeps a message, dead letters
	// included.
	DefaultMaxAge = 7 * 24 * time.Hour
	// DefaultConnectTimeout bounds connecting and setting up the stream.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultConnectionName names the client connection in the server's
	// monitoring.
	DefaultConnectionName = "jingtong"
)

// NATSOptions configure the NATS JetStream backend. A zero field takes its
// default.
type NATSOptions struct {
	// Stream is the stream name. Default DefaultStream.
	Stream string
	// SubjectPrefix is the NATS subject token put before each logical
	// subject, one token of letters, digits, '-' and '_'. Default
	// DefaultSubjectPrefix.
	SubjectPrefix string
	// DuplicateWindow is how long the stream remembers message IDs for
	// de-duplication. Default DefaultDuplicateWindow.
	DuplicateWindow time.Duration
	// MaxAge is how long the stream keeps messages. Default DefaultMaxAge.
	MaxAge time.Duration
	// Replicas is the stream's replica count, 1 to 5. Default 1.
	Replicas int
	// SkipStreamSetup leaves the stream to the operator: NewNATS then only
	// checks that it exists and stores the prefix's subjects.
	SkipStreamSetup bool
	// ConnectionName names the connection. Default DefaultConnectionName.
	ConnectionName string
	// CredsFile is a NATS credentials file (JWT and NKey seed) for servers
	// that require them. Empty means none; a user and password can instead
	// be given in the URL.
	CredsFile string
	// ConnectTimeout bounds connecting and setting up the stream. Default
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Logger receives connection events, fetch errors and failed
	// acknowledgements. Nil discards them.
	Logger *slog.Logger
}

var (
	streamNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	prefixPattern     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
)

func (o NATSOptions) withDefaults() NATSOptions {
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = DefaultSubjectPrefix
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.ConnectionName == "" {
		o.ConnectionName = DefaultConnectionName
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o NATSOptions) validate() error {
	var errs []error
	if !streamNamePattern.MatchString(o.Stream) {
		errs = append(errs, fmt.Errorf("stream name %q: want 1 to 64 letters, digits, '-' and '_'", o.Stream))
	}
	if !prefixPattern.MatchString(o.SubjectPrefix) {
		errs = append(errs, fmt.Errorf("subject prefix %q: want one token of 1 to 32 letters, digits, '-' and '_'", o.SubjectPrefix))
	}
	if o.DuplicateWindow <= 0 || o.MaxAge <= 0 || o.DuplicateWindow > o.MaxAge {
		errs = append(errs, fmt.Errorf("duplicate window %s and max age %s: want both positive and the window no longer than the age", o.DuplicateWindow, o.MaxAge))
	}
	if o.Replicas < 1 || o.Replicas > 5 {
		errs = append(errs, fmt.Errorf("replicas is %d; want 1 to 5", o.Replicas))
	}
	if len(errs) > 0 {
		return fmt.Errorf("queue: invalid NATS options: %w", errors.Join(errs...))
	}
	return nil
}

// StreamConfig returns the configuration of the stream that NewNATS
// creates: file storage, limits retention with MaxAge, and the subjects
// "<prefix>.>", so dead letters ("<prefix>.dlq.>") are kept in the same
// stream for the same time.
func StreamConfig(opts NATSOptions) jetstream.StreamConfig {
	opts = opts.withDefaults()
	return jetstream.StreamConfig{
		Name:        opts.Stream,
		Description: "Jingtong queue messages and dead letters",
		Subjects:    []string{opts.SubjectPrefix + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		Replicas:    opts.Replicas,
		MaxAge:      opts.MaxAge,
		Duplicates:  opts.DuplicateWindow,
	}
}

// NATS is the NATS JetStream backend.
type NATS struct {
	opts   NATSOptions
	logger *slog.Logger
	nc     *nats.Conn
	js     jetstream.JetStream
}

// NewNATS connects to the NATS server at url (several URLs may be given,
// separated by commas) and creates the stream when it is missing, unless
// opts.SkipStreamSetup is set. An existing stream is left as it is, apart
// from a check that it stores the prefix's subjects, so operators may tune
// its replicas and limits. The connection reconnects without limit.
func NewNATS(url string, opts NATSOptions) (*NATS, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	logger := opts.Logger

	connectOpts := []nats.Option{
		nats.Name(opts.ConnectionName),
		nats.Timeout(opts.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Warn("disconnected from NATS", "err", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("reconnected to NATS", "server", nc.ConnectedUrlRedacted())
		}),
	}
	if opts.CredsFile != "" {
		connectOpts = append(connectOpts, nats.UserCredentials(opts.CredsFile))
	}
	nc, err := nats.Connect(url, connectOpts...)
	if err != nil {
		return nil, fmt.Errorf("queue: connecting to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("queue: opening JetStream: %w", err)
	}

	n := &NATS{opts: opts, logger: logger, nc: nc, js: js}
	ctx, cancel := context.WithTimeout(context.Background(), opts.ConnectTimeout)
	defer cancel()
	if err := n.ensureStream(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	logger.Info("connected to NATS", "server", nc.ConnectedUrlRedacted(), "stream", opts.Stream,
		"subjects", opts.SubjectPrefix+".>")
	return n, nil
}

// ensureStream creates the stream when it is missing and checks that an
// existing one stores the prefix's subjects.
func (n *NATS) ensureStream(ctx context.Context) error {
	want := StreamConfig(n.opts)
	stream, err := n.js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) && !n.opts.SkipStreamSetup {
		_, err = n.js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			stream, err = n.js.Stream(ctx, want.Name) // another replica created it first
		} else if err == nil {
			n.logger.Info("created JetStream stream", "stream", want.Name)
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("queue: looking up stream %q: %w", want.Name, err)
	}

	subjects := stream.CachedInfo().Config.Subjects
	if !slices.Contains(subjects, want.Subjects[0]) && !slices.Contains(subjects, ">") {
		return fmt.Errorf("queue: stream %q stores %q, not %q; add that subject or set another prefix",
			want.Name, subjects, want.Subjects[0])
	}
	return nil
}

// Close closes the connection. Stop the runners first.
func (n *NATS) Close() error {
	n.nc.Close()
	return nil
}

// Ready returns an error unless the connection is up, for fn.Function.Ready.
func (n *NATS) Ready(context.Context) error {
	if status := n.nc.Status(); status != nats.CONNECTED {
		return fmt.Errorf("queue: NATS connection is %s", status)
	}
	return nil
}

// wireSubject returns the NATS subject of a logical subject.
func (n *NATS) wireSubject(subject string) string {
	return n.opts.SubjectPrefix + "." + subject
}

// Publish stores the message in the stream with its ID in Nats-Msg-Id, so
// JetStream drops a repeat within the duplicate window. See Publisher.
func (n *NATS) Publish(ctx context.Context, subject string, data []byte, opts PublishOptions) error {
	if err := validatePublish(subject, data, opts, int(n.nc.MaxPayload())); err != nil {
		return err
	}
	id := opts.ID
	if id == "" {
		id = uuid.NewString()
	}
	header := cloneHeader(opts.Header)
	injectTrace(ctx, header)
	return n.publish(ctx, subject, id, data, header)
}

func (n *NATS) publish(ctx context.Context, subject, id string, data []byte, header http.Header) error {
	msg := &nats.Msg{Subject: n.wireSubject(subject), Data: data, Header: nats.Header(cloneHeader(header))}
	_, err := n.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(n.opts.Stream))
	if err != nil {
		return fmt.Errorf("queue: publishing to %q: %w", msg.Subject, err)
	}
	return nil
}

// consumerConfig returns the durable pull consumer of p. MaxDeliver is one
// more than the attempts so that a message whose last attempt ended without
// an outcome is delivered once more, to be dead-lettered. Backoff is
// applied through NakWithDelay rather than the consumer's BackOff list,
// because JetStream uses that list as the ack wait of each redelivery,
// which would cut a slow consumer short.
func (n *NATS) consumerConfig(p *processor) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       p.name,
		Description:   "Jingtong consumer of " + p.subject,
		FilterSubject: n.wireSubject(p.subject),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       p.policy.AckWait,
		MaxDeliver:    p.policy.Attempts + 1,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
}

// consume creates or updates the durable consumer of each processor and
// starts pulling messages.
func (n *NATS) consume(ctx context.Context, procs []*processor) (running, error) {
	for _, p := range procs {
		if err := p.policy.validateAckWait(); err != nil {
			return nil, err
		}
	}

	run := &natsRun{n: n, w: newWorkers()}
	for _, p := range procs {
		cons, err := n.js.CreateOrUpdateConsumer(ctx, n.opts.Stream, n.consumerConfig(p))
		if err != nil {
			_ = run.stop(context.Background())
			return nil, fmt.Errorf("queue: creating consumer %q: %w", p.name, err)
		}
		iter, err := cons.Messages(jetstream.PullMaxMessages(p.policy.Prefetch))
		if err != nil {
			_ = run.stop(context.Background())
			return nil, fmt.Errorf("queue: pulling from consumer %q: %w", p.name, err)
		}
		run.iters = append(run.iters, iter)
		run.w.wg.Add(1)
		go run.pull(p, iter)
	}
	return run, nil
}

// natsRun is one Runner.Start on NATS.
type natsRun struct {
	n     *NATS
	w     *workers
	iters []jetstream.MessagesContext
	once  sync.Once
}

// stop drains the pull iterators, so the messages already pulled are still
// handled, and waits for them.
func (r *natsRun) stop(ctx context.Context) error {
	r.once.Do(func() {
		for _, iter := range r.iters {
			iter.Drain()
		}
	})
	return r.w.wait(ctx)
}

// pull hands the messages of iter to at most Concurrency goroutines until
// the iterator is drained.
func (r *natsRun) pull(p *processor, iter jetstream.MessagesContext) {
	defer r.w.wg.Done()
	slots := make(chan struct{}, p.policy.Concurrency)
	var handlers sync.WaitGroup
	defer handlers.Wait()

	for {
		slots <- struct{}{}
		msg, err := iter.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err != nil {
			<-slots
			p.logger.Warn("fetching messages failed; retrying", "consumer", p.name, "err", err)
			select {
			case <-time.After(time.Second):
			case <-r.w.ctx.Done():
				return
			}
			continue
		}

		handlers.Add(1)
		go func() {
			defer handlers.Done()
			defer func() { <-slots }()
			r.handle(p, msg)
		}()
	}
}

// handle processes one JetStream message and acknowledges, delays or
// dead-letters it.
func (r *natsRun) handle(p *processor, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		p.logger.Error("message without JetStream metadata; terminating it", "consumer", p.name, "err", err)
		_ = msg.Term()
		return
	}
	d := r.decode(msg, meta)
	out := p.process(r.w.ctx, d)

	switch out.verdict {
	case verdictAck:
		err = msg.Ack()
	case verdictRetry:
		err = msg.NakWithDelay(out.delay)
	case verdictDead:
		err = r.deadLetter(p, msg, d, out.reason)
	}
	if err != nil {
		p.logger.Warn("settling message failed; JetStream will deliver it again after the ack wait",
			"consumer", p.name, "message_id", d.msg.ID, "err", err)
	}
}

// deadLetter publishes the dead letter and then terminates the message. When
// publishing fails, the message is delivered again after a backoff and, its
// attempts used up, dead-lettered on that delivery.
func (r *natsRun) deadLetter(p *processor, msg jetstream.Msg, d delivery, reason string) error {
	subject, id, header := p.deadLetter(d, reason)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.w.ctx), 10*time.Second)
	defer cancel()
	if err := r.n.publish(ctx, subject, id, msg.Data(), header); err != nil {
		p.logger.Error("dead letter not published; the message will be delivered again",
			"consumer", p.name, "message_id", d.msg.ID, "err", err)
		return msg.NakWithDelay(p.policy.backoff(d.attempt))
	}
	return msg.Term()
}

// decode turns a JetStream message into a delivery. A message without a
// valid Nats-Msg-Id is poison: without an ID it cannot be de-duplicated.
// Its key is then the stream sequence, which names the dead letter.
func (r *natsRun) decode(msg jetstream.Msg, meta *jetstream.MsgMetadata) delivery {
	header := http.Header{}
	for name, values := range msg.Headers() {
		if !strings.HasPrefix(strings.ToLower(name), "nats-") {
			key := http.CanonicalHeaderKey(name)
			header[key] = append(header[key], values...)
		}
	}
	id := msg.Headers().Get(jetstream.MsgIDHeader)
	d := delivery{
		key:     id,
		attempt: int(meta.NumDelivered),
		msg: fn.Message{
			ID:      id,
			Subject: strings.TrimPrefix(msg.Subject(), r.n.opts.SubjectPrefix+"."),
			Data:    msg.Data(),
			Header:  header,
		},
	}

	err := validateID(id, MaxIDLength)
	if err != nil {
		d.key = fmt.Sprintf("seq:%d", meta.Sequence.Stream)
		d.poison = fmt.Sprintf("invalid %s header: %v", jetstream.MsgIDHeader, err)
	}
	return d
}

package queue

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/jingtong/backend/shared/fn"
)

// Defaults for the zero values of MemoryOptions.
const (
	// DefaultCapacity is how many messages each consumer of the in-process
	// queue may hold, and how many a subject without consumers may keep.
	DefaultCapacity = 1024
	// DefaultPublishWait bounds how long Publish waits for room.
	DefaultPublishWait = 5 * time.Second
	// DefaultDuplicateWindow is how long a message ID is remembered for
	// de-duplication on publish, the JetStream default.
	DefaultDuplicateWindow = 2 * time.Minute
	// DefaultMaxPayload is the largest payload of the in-process queue, the
	// NATS server's default max_payload.
	DefaultMaxPayload = 1 << 20
)

// MemoryOptions configure the in-process queue. A zero field takes its
// default.
type MemoryOptions struct {
	// Capacity is how many messages each consumer may hold: waiting,
	// waiting for a retry, or in progress. A subject that no consumer has
	// registered for keeps up to Capacity messages for the first Start
	// that registers it. Default DefaultCapacity.
	Capacity int
	// PublishWait bounds how long Publish waits for room before it returns
	// ErrFull. Default DefaultPublishWait; negative means not at all.
	PublishWait time.Duration
	// DuplicateWindow is how long a published message ID is remembered;
	// a second message with that ID is dropped. Default
	// DefaultDuplicateWindow; negative disables de-duplication.
	DuplicateWindow time.Duration
	// MaxPayload is the largest payload in bytes. Default
	// DefaultMaxPayload.
	MaxPayload int
	// Now is the clock of the duplicate window. Default time.Now.
	Now func() time.Time
}

func (o MemoryOptions) withDefaults() MemoryOptions {
	if o.Capacity <= 0 {
		o.Capacity = DefaultCapacity
	}
	if o.PublishWait == 0 {
		o.PublishWait = DefaultPublishWait
	}
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = DefaultDuplicateWindow
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Memory is an in-process queue for `make dev` without a NATS server. It
// has the semantics of the NATS backend: a message goes to every consumer
// of its subject, and publish de-duplicates by ID. Through a Runner it has
// the same retries, backoff, dead letters and idempotency store.
//
// Differences from NATS: messages live in process memory and are lost when
// the process exits. There is no ack wait, because a message in progress
// cannot outlive its process. A consumer interrupted by Stop gets its
// message back at once, counted as an attempt. Publish waits while any
// consumer of the subject holds Capacity messages (backpressure), where
// JetStream would store the message. Dead letters skip that limit, so
// dead-lettering does not wait for room.
//
// A consumer's queue outlives Runner.Stop, like a durable consumer: a later
// Start with the same consumer names receives what was left. A consumer
// that registers after its subject already has consumers receives only the
// messages published from then on, where a new JetStream consumer receives
// every message the stream still keeps.
type Memory struct {
	opts MemoryOptions

	mu        sync.Mutex
	closed    bool
	space     chan struct{} // closed and replaced whenever room is freed
	subjects  map[string]*memSubject
	consumers map[string]*memConsumer
	seen      map[string]time.Time // message ID → publish time
	seenOrder []seenID             // oldest first, to expire seen
}

type seenID struct {
	id string
	at time.Time
}

// memSubject is a subject's consumers and its backlog, the messages
// published before any consumer registered.
type memSubject struct {
	consumers []*memConsumer
	backlog   []*memMessage
}

// memMessage is a published message, shared by its consumers' copies.
type memMessage struct {
	id      string
	subject string
	data    []byte
	header  http.Header
}

// memCopy is one consumer's copy of a message.
type memCopy struct {
	msg      *memMessage
	attempts int
}

// memConsumer is the queue of one consumer. The fields other than wake are
// guarded by Memory.mu.
type memConsumer struct {
	name     string
	pending  int        // copies held: ready, waiting for a retry, in progress
	ready    []*memCopy // copies to deliver, in order
	attached bool       // a started Runner is delivering this consumer
	wake     chan struct{}
}

// NewMemory returns an empty in-process queue.
func NewMemory(opts MemoryOptions) *Memory {
	return &Memory{
		opts:      opts.withDefaults(),
		space:     make(chan struct{}),
		subjects:  map[string]*memSubject{},
		consumers: map[string]*memConsumer{},
		seen:      map[string]time.Time{},
	}
}

// Publish hands the message to every consumer of subject, waiting up to
// MemoryOptions.PublishWait while any of them is full. See Publisher.
func (m *Memory) Publish(ctx context.Context, subject string, data []byte, opts PublishOptions) error {
	if err := validatePublish(subject, data, opts, m.opts.MaxPayload); err != nil {
		return err
	}
	id := opts.ID
	if id == "" {
		id = uuid.NewString()
	}
	header := cloneHeader(opts.Header)
	injectTrace(ctx, header)
	msg := &memMessage{id: id, subject: subject, data: bytes.Clone(data), header: header}
	return m.enqueue(ctx, msg, true)
}

// Close makes later publishes fail with ErrClosed. Messages still queued are
// dropped when the process exits.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// enqueue stores msg for the consumers of its subject. bounded applies the
// capacity limit.
func (m *Memory) enqueue(ctx context.Context, msg *memMessage, bounded bool) error {
	var timeout <-chan time.Time
	if m.opts.PublishWait > 0 {
		t := time.NewTimer(m.opts.PublishWait)
		defer t.Stop()
		timeout = t.C
	}

	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return ErrClosed
		}
		if m.duplicateLocked(msg.id) {
			m.mu.Unlock()
			return nil
		}
		s := m.subjectLocked(msg.subject)
		if !bounded || m.hasRoomLocked(s) {
			m.rememberLocked(msg.id)
			m.storeLocked(s, msg)
			m.mu.Unlock()
			return nil
		}
		space := m.space
		m.mu.Unlock()

		if m.opts.PublishWait < 0 {
			return fmt.Errorf("%w: no room for a message to %q", ErrFull, msg.subject)
		}
		select {
		case <-space:
		case <-timeout:
			return fmt.Errorf("%w: no room for a message to %q within %s", ErrFull, msg.subject, m.opts.PublishWait)
		case <-ctx.Done():
			return fmt.Errorf("queue: publishing to %q: %w", msg.subject, ctx.Err())
		}
	}
}

func (m *Memory) subjectLocked(name string) *memSubject {
	s := m.subjects[name]
	if s == nil {
		s = &memSubject{}
		m.subjects[name] = s
	}
	return s
}

func (m *Memory) hasRoomLocked(s *memSubject) bool {
	if len(s.consumers) == 0 {
		return len(s.backlog) < m.opts.Capacity
	}
	for _, c := range s.consumers {
		if c.pending >= m.opts.Capacity {
			return false
		}
	}
	return true
}

// storeLocked gives msg to every consumer of s, or keeps it in the backlog
// when s has none.
func (m *Memory) storeLocked(s *memSubject, msg *memMessage) {
	if len(s.consumers) == 0 {
		s.backlog = append(s.backlog, msg)
		return
	}
	for _, c := range s.consumers {
		c.pending++
		c.ready = append(c.ready, &memCopy{msg: msg})
		c.signal()
	}
}

// duplicateLocked reports whether id was published within the duplicate
// window, first forgetting the IDs that have left it.
func (m *Memory) duplicateLocked(id string) bool {
	if m.opts.DuplicateWindow < 0 {
		return false
	}
	cutoff := m.opts.Now().Add(-m.opts.DuplicateWindow)
	for len(m.seenOrder) > 0 && !m.seenOrder[0].at.After(cutoff) {
		old := m.seenOrder[0]
		if at, ok := m.seen[old.id]; ok && at.Equal(old.at) {
			delete(m.seen, old.id)
		}
		m.seenOrder = m.seenOrder[1:]
	}
	_, ok := m.seen[id]
	return ok
}

func (m *Memory) rememberLocked(id string) {
	if m.opts.DuplicateWindow < 0 {
		return
	}
	now := m.opts.Now()
	m.seen[id] = now
	m.seenOrder = append(m.seenOrder, seenID{id: id, at: now})
}

// releaseLocked drops one copy held by c and wakes waiting publishers.
func (m *Memory) releaseLocked(c *memConsumer) {
	c.pending--
	close(m.space)
	m.space = make(chan struct{})
}

// signal wakes one worker of c without blocking.
func (c *memConsumer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// consume attaches the processors to their consumer queues, creating the
// missing ones, hands each subject's backlog to its consumers and starts
// the workers.
func (m *Memory) consume(_ context.Context, procs []*processor) (running, error) {
	m.mu.Lock()
	for _, p := range procs {
		if c := m.consumers[p.name]; c != nil && c.attached {
			m.mu.Unlock()
			return nil, fmt.Errorf("queue: consumer %q is already running", p.name)
		}
	}
	queues := make([]*memConsumer, len(procs))
	for i, p := range procs {
		c := m.consumers[p.name]
		if c == nil {
			c = &memConsumer{name: p.name, wake: make(chan struct{}, 1)}
			m.consumers[p.name] = c
			s := m.subjectLocked(p.subject)
			s.consumers = append(s.consumers, c)
		}
		c.attached = true
		queues[i] = c
	}
	for _, s := range m.subjects {
		if len(s.consumers) == 0 || len(s.backlog) == 0 {
			continue
		}
		backlog := s.backlog
		s.backlog = nil
		for _, msg := range backlog {
			m.storeLocked(s, msg)
		}
	}
	m.mu.Unlock()

	run := &memRun{m: m, w: newWorkers(), stopping: make(chan struct{}), queues: queues}
	for i, p := range procs {
		for range p.policy.Concurrency {
			run.w.wg.Add(1)
			go run.work(p, queues[i])
		}
	}
	return run, nil
}

// memRun is one Runner.Start on a Memory.
type memRun struct {
	m        *Memory
	w        *workers
	stopping chan struct{}
	queues   []*memConsumer
	once     sync.Once
}

func (r *memRun) stop(ctx context.Context) error {
	r.once.Do(func() { close(r.stopping) })
	err := r.w.wait(ctx)

	r.m.mu.Lock()
	for _, c := range r.queues {
		c.attached = false
	}
	r.m.mu.Unlock()
	return err
}

// work delivers the copies of c to p until the run stops.
func (r *memRun) work(p *processor, c *memConsumer) {
	defer r.w.wg.Done()
	for {
		cp := r.next(c)
		if cp == nil {
			return
		}
		cp.attempts++
		d := delivery{key: cp.msg.id, msg: cp.msg.message(), attempt: cp.attempts}
		out := p.process(r.w.ctx, d)
		r.settle(p, c, cp, d, out)
	}
}

// next takes the first ready copy of c, waiting for one, or returns nil
// when the run stops.
func (r *memRun) next(c *memConsumer) *memCopy {
	for {
		select {
		case <-r.stopping:
			return nil
		default:
		}

		r.m.mu.Lock()
		if len(c.ready) > 0 {
			cp := c.ready[0]
			c.ready[0] = nil
			c.ready = c.ready[1:]
			if len(c.ready) > 0 {
				c.signal() // let another worker take the next one
			}
			r.m.mu.Unlock()
			return cp
		}
		r.m.mu.Unlock()

		select {
		case <-c.wake:
		case <-r.stopping:
			return nil
		}
	}
}

// settle applies an outcome to a copy.
func (r *memRun) settle(p *processor, c *memConsumer, cp *memCopy, d delivery, out outcome) {
	switch out.verdict {
	case verdictAck:
		r.release(c)
	case verdictRetry:
		r.requeue(c, cp, out.delay)
	case verdictDead:
		subject, id, header := p.deadLetter(d, out.reason)
		dead := &memMessage{id: id, subject: subject, data: cp.msg.data, header: header}
		if err := r.m.enqueue(context.WithoutCancel(r.w.ctx), dead, false); err != nil {
			p.logger.Error("dead letter not stored; the message is dropped",
				"consumer", p.name, "message_id", cp.msg.id, "err", err)
		}
		r.release(c)
	}
}

func (r *memRun) release(c *memConsumer) {
	r.m.mu.Lock()
	r.m.releaseLocked(c)
	r.m.mu.Unlock()
}

// requeue puts cp back after delay: at the front when delay is zero, as
// for a message interrupted by Stop, otherwise at the back.
func (r *memRun) requeue(c *memConsumer, cp *memCopy, delay time.Duration) {
	if delay <= 0 {
		r.m.mu.Lock()
		c.ready = append([]*memCopy{cp}, c.ready...)
		r.m.mu.Unlock()
		c.signal()
		return
	}
	time.AfterFunc(delay, func() {
		r.m.mu.Lock()
		c.ready = append(c.ready, cp)
		r.m.mu.Unlock()
		c.signal()
	})
}

// message returns the fn.Message of m, with copies of the data and header
// so that a consumer cannot change what other consumers see.
func (m *memMessage) message() fn.Message {
	return fn.Message{ID: m.id, Subject: m.subject, Data: bytes.Clone(m.data), Header: cloneHeader(m.header)}
}

// cloneHeader copies h with every name in canonical form; nil gives an
// empty header.
func cloneHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, values := range h {
		key := http.CanonicalHeaderKey(name)
		out[key] = append(out[key], values...)
	}
	return out
}

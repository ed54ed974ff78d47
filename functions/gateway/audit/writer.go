package audit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uptrace/bun"
)

// Writer defaults.
const (
	DefaultQueueSize = 8192
	DefaultBatchSize = 256
	DefaultReplica   = "default"

	// appendAttempts and appendBackoff bound how long one batch waits for
	// the database before it is counted as failed.
	appendAttempts = 3
	appendBackoff  = 200 * time.Millisecond

	// dropWarnEvery rate-limits the warning about dropped records.
	dropWarnEvery = 10 * time.Second

	// batchLinger is how long a batch waits for more records before it is
	// written. Each INSERT statement is built, parsed and committed, which
	// costs far more than one more row in it. Without the wait, batches
	// contained about 8 records at 8,000 protected requests a second, and
	// the writer took about 13 µs more CPU per request (SQLite, measured
	// with localdev/bench/gateway.sh on 2 cores).
	batchLinger = 10 * time.Millisecond
)

// WriterOptions configure a Writer. Every field is optional.
type WriterOptions struct {
	// Replica is this gateway replica's chain id, such as the pod name.
	// Replicas sharing a database need distinct, stable ids. Default
	// "default".
	Replica string

	// QueueSize bounds the records waiting to be written. Default 8192.
	QueueSize int

	// BatchSize bounds the records inserted per statement. Default 256.
	BatchSize int

	// Logger receives drops at Warn, failed batches at Error and the chain
	// tip at Info on Close. Default: discard.
	Logger *slog.Logger
}

// Stats counts the records a Writer handled.
type Stats struct {
	Written uint64 // appended to the chain
	Dropped uint64 // discarded because the queue was full or closed
	Failed  uint64 // discarded because the database rejected their batch
	Queued  int    // waiting now
}

// Writer appends records to a chain from one goroutine, so that callers
// never wait for the database. It is a prometheus.Collector for its Stats.
type Writer struct {
	chain  *Chain
	batch  int
	logger *slog.Logger

	mu     sync.RWMutex // guards closed against Log sending on a closed queue
	closed bool
	queue  chan Record
	done   chan struct{}
	stop   context.CancelFunc
	ctx    context.Context

	written, dropped, failed atomic.Uint64
	lastDropWarn             atomic.Int64
}

// NewWriter starts a Writer on the chain of opts.Replica in db, whose
// audit schema must be migrated. Close it to flush the queue.
func NewWriter(db *bun.DB, key []byte, opts WriterOptions) (*Writer, error) {
	if opts.Replica == "" {
		opts.Replica = DefaultReplica
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	chain, err := NewChain(db, key, opts.Replica)
	if err != nil {
		return nil, err
	}

	ctx, stop := context.WithCancel(context.Background())
	w := &Writer{
		chain:  chain,
		batch:  opts.BatchSize,
		logger: opts.Logger.With("replica", opts.Replica),
		queue:  make(chan Record, opts.QueueSize),
		done:   make(chan struct{}),
		stop:   stop,
		ctx:    ctx,
	}
	go w.run()
	return w, nil
}

// Log queues rec and reports whether it was queued. It never waits for
// room in the queue or for the database: when the queue is full or the
// Writer is closed, rec is dropped and counted.
func (w *Writer) Log(rec Record) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if !w.closed {
		select {
		case w.queue <- rec:
			return true
		default:
		}
	}
	w.drop()
	return false
}

func (w *Writer) drop() {
	total := w.dropped.Add(1)
	now := time.Now().UnixNano()
	last := w.lastDropWarn.Load()
	if now-last < int64(dropWarnEvery) || !w.lastDropWarn.CompareAndSwap(last, now) {
		return
	}
	w.logger.Warn("audit queue full; dropping records", "dropped_total", total, "queue_size", cap(w.queue))
}

// run appends queued records in batches until the queue is closed and
// empty. A batch is written when it is full, batchLinger after its first
// record arrived, or when the queue closes.
func (w *Writer) run() {
	defer close(w.done)
	batch := make([]Record, 0, w.batch)
	linger := time.NewTimer(batchLinger)
	linger.Stop()
	for rec := range w.queue {
		batch = append(batch[:0], rec)
		linger.Reset(batchLinger)
	fill:
		for len(batch) < w.batch {
			select {
			case more, ok := <-w.queue:
				if !ok {
					break fill
				}
				batch = append(batch, more)
			case <-linger.C:
				break fill
			}
		}
		linger.Stop()
		w.write(batch)
	}
}

// write appends one batch, retrying with backoff, and counts the outcome.
func (w *Writer) write(batch []Record) {
	var err error
	for attempt := 1; attempt <= appendAttempts; attempt++ {
		if err = w.chain.Append(w.ctx, batch...); err == nil {
			w.written.Add(uint64(len(batch)))
			return
		}
		if attempt < appendAttempts {
			w.logger.Warn("appending audit records failed; retrying", "records", len(batch), "attempt", attempt, "err", err)
			select {
			case <-time.After(appendBackoff * time.Duration(attempt)):
			case <-w.ctx.Done():
			}
		}
	}
	w.failed.Add(uint64(len(batch)))
	w.logger.Error("appending audit records failed; records lost", "records", len(batch), "err", err)
}

// Close stops accepting records and waits until the queued ones are
// written or ctx is done; then it cancels writes in flight. It logs the
// chain tip at Info.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue)
	}
	w.mu.Unlock()

	var err error
	select {
	case <-w.done:
	case <-ctx.Done():
		err = ctx.Err()
		w.stop()
		<-w.done
	}
	w.stop()
	seq, mac := w.chain.Tip()
	w.logger.Info("audit writer closed", "tip_seq", seq, "tip_mac", mac,
		"written", w.written.Load(), "dropped", w.dropped.Load(), "failed", w.failed.Load())
	return err
}

// Stats returns the counts so far.
func (w *Writer) Stats() Stats {
	return Stats{
		Written: w.written.Load(),
		Dropped: w.dropped.Load(),
		Failed:  w.failed.Load(),
		Queued:  len(w.queue),
	}
}

var (
	recordsDesc = prometheus.NewDesc("jt_gateway_audit_records_total",
		"Audit records by outcome: written to the chain, dropped because the queue was full, or failed because the database rejected them.",
		[]string{"replica", "outcome"}, nil)
	queueDesc = prometheus.NewDesc("jt_gateway_audit_queue_length",
		"Audit records waiting to be written.", []string{"replica"}, nil)
)

// Describe implements prometheus.Collector.
func (w *Writer) Describe(ch chan<- *prometheus.Desc) {
	ch <- recordsDesc
	ch <- queueDesc
}

// Collect implements prometheus.Collector.
func (w *Writer) Collect(ch chan<- prometheus.Metric) {
	s := w.Stats()
	r := w.chain.replica
	ch <- prometheus.MustNewConstMetric(recordsDesc, prometheus.CounterValue, float64(s.Written), r, "written")
	ch <- prometheus.MustNewConstMetric(recordsDesc, prometheus.CounterValue, float64(s.Dropped), r, "dropped")
	ch <- prometheus.MustNewConstMetric(recordsDesc, prometheus.CounterValue, float64(s.Failed), r, "failed")
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(s.Queued), r)
}

// Command load is the load generator of the gateway benchmark
// (localdev/bench/gateway.sh). It sends requests over a fixed number of
// keep-alive connections, one worker each, for a fixed time and prints one
// JSON line: requests per second, errors, and p50 and p99 latency.
//
// Every request it sends is built before the clock starts, so the client's
// crypto is not measured. In mode plain it repeats one plaintext POST with
// a 1 KB JSON body. In mode envelope it opens a session and precomputes
// unique protected requests with the envelope client's PrecomputeRequests,
// each with a fresh nonce and signature. In mode open it precomputes
// session-open requests, each with fresh key material SM2-encrypted to the
// gateway key. Before the clock starts it checks one request end to end
// (for envelope, by verifying and decrypting the response), then runs a
// warm-up whose rate sizes the precomputed set of the measured run.
//
// A non-2xx status or a transport error counts as an error, and the
// command exits with status 1 when more than 0.1% of the requests fail.
//
//	load -keygen DIR                       write DIR/gw-1.pem for the gateway under test
//	load -mode plain -url URL              plaintext POSTs to URL
//	load -mode envelope -url URL -open-url OPEN -key FILE
//	load -mode open -url OPEN -key FILE
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jingtong/backend/shared/smcrypto"
)

// maxErrorRate is the share of failed requests above which the command
// fails.
const maxErrorRate = 0.001

// options are the command-line flags.
type options struct {
	mode         string
	name         string
	target       string
	openURL      string
	keyFile      string
	kid          string
	connections  int
	duration     time.Duration
	warmup       time.Duration
	warmupCount  int
	requests     int
	headroom     float64
	bodySize     int
	responseSize int
}

func main() {
	var o options
	keygen := flag.String("keygen", "", "write a new SM2 key for the gateway under test to DIR/<kid>.pem, unless it exists, and exit")
	flag.StringVar(&o.mode, "mode", "plain", "what to send: plain, envelope or open")
	flag.StringVar(&o.name, "name", "", "name of the run in the JSON report (default: the mode)")
	flag.StringVar(&o.target, "url", "", "URL to POST to: the proxied route, or for mode open the session-open URL")
	flag.StringVar(&o.openURL, "open-url", "", "session-open URL of the gateway (mode envelope)")
	flag.StringVar(&o.keyFile, "key", "", "PEM file of the gateway's SM2 key; only its public key is used (modes envelope and open)")
	flag.StringVar(&o.kid, "kid", "gw-1", "ID of the gateway key")
	flag.IntVar(&o.connections, "c", 64, "number of connections, each driven by one worker")
	flag.DurationVar(&o.duration, "d", 10*time.Second, "duration of the measured run")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "duration of the warm-up before the measured run")
	flag.IntVar(&o.warmupCount, "warmup-requests", 0, "unique requests built for the warm-up (default 30000, or 3000 in mode open)")
	flag.IntVar(&o.requests, "requests", 0, "unique requests built for the measured run (default: the warm-up rate × duration × -headroom)")
	flag.Float64Var(&o.headroom, "headroom", 1.5, "how many times the warm-up rate to build requests for")
	flag.IntVar(&o.bodySize, "body-size", 1024, "request body size in bytes (modes plain and envelope)")
	flag.IntVar(&o.responseSize, "response-size", 1024, "response body size the check request expects, in bytes; -1 accepts any")
	flag.Parse()

	if *keygen != "" {
		if _, err := smcrypto.EnsureKeyFile(*keygen, o.kid, nil); err != nil {
			fatalf("writing the key: %v", err)
		}
		return
	}
	res, err := run(context.Background(), o)
	if res != nil {
		line, _ := json.Marshal(res)
		fmt.Println(string(line))
	}
	if err != nil {
		fatalf("%s: %v", o.nameOrMode(), err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", args...)
	os.Exit(1)
}

func (o *options) nameOrMode() string {
	if o.name != "" {
		return o.name
	}
	return o.mode
}

// newBuilder returns the builder of o.mode.
func newBuilder(o options) (builder, *url.URL, error) {
	target, err := url.Parse(o.target)
	if err != nil || target.Scheme != "http" || target.Host == "" {
		return nil, nil, fmt.Errorf("-url %q is not an http:// URL", o.target)
	}
	body := jsonBody(o.bodySize)

	var pub *smcrypto.PublicKey
	if o.mode == "envelope" || o.mode == "open" {
		if o.keyFile == "" {
			return nil, nil, fmt.Errorf("-key is required in mode %s: the gateway's SM2 key file", o.mode)
		}
		key, err := smcrypto.LoadKeyFile(o.keyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("-key: %w", err)
		}
		pub = key.PublicKey()
	}

	switch o.mode {
	case "plain":
		return &plainBuilder{url: target, body: body, responseSize: o.responseSize}, target, nil
	case "envelope":
		if o.openURL == "" {
			return nil, nil, errors.New("-open-url is required in mode envelope: the gateway's session-open URL")
		}
		b, err := newEnvelopeBuilder(o.openURL, o.kid, pub, target, body, o.responseSize)
		return b, target, err
	case "open":
		b, err := newOpenBuilder(target, o.kid, pub)
		return b, target, err
	}
	return nil, nil, fmt.Errorf("-mode %q is not plain, envelope or open", o.mode)
}

// jsonBody returns a JSON object of exactly size bytes, or of the
// smallest size that holds the object when size is smaller.
func jsonBody(size int) []byte {
	const head, tail = `{"kind":"bench","padding":"`, `"}`
	return []byte(head + strings.Repeat("y", max(0, size-len(head)-len(tail))) + tail)
}

// report is the JSON line that the command prints.
type report struct {
	Name           string           `json:"name"`
	Mode           string           `json:"mode"`
	URL            string           `json:"url"`
	Connections    int              `json:"connections"`
	Seconds        float64          `json:"seconds"`
	Requests       int64            `json:"requests"`
	Errors         int64            `json:"errors"`
	ErrorRate      float64          `json:"error_rate"`
	RPS            float64          `json:"requests_per_second"`
	P50            float64          `json:"p50_ms"`
	P99            float64          `json:"p99_ms"`
	Max            float64          `json:"max_ms"`
	WarmupRequests int64            `json:"warmup_requests"`
	WarmupRPS      float64          `json:"warmup_requests_per_second"`
	Precomputed    int              `json:"precomputed"`
	Exhausted      bool             `json:"exhausted"`
	Statuses       map[string]int64 `json:"statuses"`
	FirstError     string           `json:"first_error,omitempty"`
}

// run checks, warms up and measures, and returns the report of the
// measured run. The error is set when the run failed or had too many
// errors.
func run(ctx context.Context, o options) (*report, error) {
	if o.connections < 1 || o.duration <= 0 || o.headroom < 1 {
		return nil, errors.New("-c must be at least 1, -d positive and -headroom at least 1")
	}
	b, target, err := newBuilder(o)
	if err != nil {
		return nil, err
	}
	if err := b.check(ctx); err != nil {
		return nil, err
	}

	conns := make([]*conn, o.connections)
	for i := range conns {
		conns[i] = newConn(target.Host)
	}
	defer func() {
		for _, c := range conns {
			c.close()
		}
	}()

	warmupCount := o.warmupCount
	if warmupCount <= 0 {
		warmupCount = 30_000
		if o.mode == "open" {
			warmupCount = 3_000
		}
	}
	warm, err := b.build(ctx, warmupCount)
	if err != nil {
		return nil, err
	}
	warmStats := drive(conns, warm, o.warmup)
	if warmStats.requests == 0 {
		return nil, fmt.Errorf("warm-up completed no requests: %s", warmStats.firstError)
	}
	warmRPS := float64(warmStats.requests) / warmStats.elapsed.Seconds()

	n := o.requests
	if n <= 0 {
		n = int(math.Ceil(warmRPS*o.headroom*o.duration.Seconds())) + o.connections
	}
	set, err := b.build(ctx, n)
	if err != nil {
		return nil, err
	}
	s := drive(conns, set, o.duration)

	res := s.report(o, target)
	res.WarmupRequests = warmStats.requests
	res.WarmupRPS = round(warmRPS, 2)
	if set.unique {
		res.Precomputed = len(set.wire)
	}
	switch {
	case s.requests == 0:
		return res, fmt.Errorf("no request completed: %s", s.firstError)
	case res.ErrorRate > maxErrorRate:
		return res, fmt.Errorf("%d of %d requests failed (%.2f%%, more than %.1f%%); first error: %s",
			s.errors, s.requests, 100*res.ErrorRate, 100*maxErrorRate, s.firstError)
	}
	return res, nil
}

// stats are the counts and latencies of one run.
type stats struct {
	requests   int64
	errors     int64
	elapsed    time.Duration
	latencies  []time.Duration
	statuses   map[int]int64
	firstError string
	exhausted  bool
}

// drive sends requests from set over conns, one worker per connection,
// until d has passed or the set is used up, and waits for the requests in
// flight.
func drive(conns []*conn, set *requestSet, d time.Duration) *stats {
	var next atomic.Int64
	var exhausted atomic.Bool
	perWorker := make([]*stats, len(conns))
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w, c := range conns {
		st := &stats{statuses: map[int]int64{}, latencies: make([]time.Duration, 0, 4096)}
		perWorker[w] = st
		wg.Go(func() {
			for {
				wire, ok := set.get(next.Add(1) - 1)
				if !ok {
					exhausted.Store(true)
					return
				}
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				status, err := c.do(wire)
				st.latencies = append(st.latencies, time.Since(t0))
				st.requests++
				switch {
				case err != nil:
					st.errors++
					if st.firstError == "" {
						st.firstError = err.Error()
					}
					// Do not spin when the server is gone.
					time.Sleep(time.Millisecond)
				case status < 200 || status > 299:
					st.errors++
					st.statuses[status]++
					if st.firstError == "" {
						st.firstError = "status " + strconv.Itoa(status)
					}
				default:
					st.statuses[status]++
				}
			}
		})
	}
	wg.Wait()

	total := &stats{statuses: map[int]int64{}, elapsed: time.Since(start), exhausted: exhausted.Load()}
	for _, st := range perWorker {
		total.requests += st.requests
		total.errors += st.errors
		total.latencies = append(total.latencies, st.latencies...)
		for code, n := range st.statuses {
			total.statuses[code] += n
		}
		if total.firstError == "" {
			total.firstError = st.firstError
		}
	}
	return total
}

// report summarizes s.
func (s *stats) report(o options, target *url.URL) *report {
	slices.Sort(s.latencies)
	res := &report{
		Name:        o.nameOrMode(),
		Mode:        o.mode,
		URL:         target.String(),
		Connections: o.connections,
		Seconds:     round(s.elapsed.Seconds(), 3),
		Requests:    s.requests,
		Errors:      s.errors,
		RPS:         round(float64(s.requests)/s.elapsed.Seconds(), 2),
		P50:         percentileMS(s.latencies, 0.50),
		P99:         percentileMS(s.latencies, 0.99),
		Max:         percentileMS(s.latencies, 1),
		Exhausted:   s.exhausted,
		Statuses:    map[string]int64{},
		FirstError:  s.firstError,
	}
	if s.requests > 0 {
		res.ErrorRate = round(float64(s.errors)/float64(s.requests), 6)
	}
	for code, n := range s.statuses {
		res.Statuses[strconv.Itoa(code)] = n
	}
	return res
}

// percentileMS returns the q-quantile of sorted in milliseconds, by the
// nearest-rank method.
func percentileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return round(float64(sorted[rank-1])/float64(time.Millisecond), 3)
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

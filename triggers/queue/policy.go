package queue

import (
	"errors"
	"fmt"
	"time"
)

// Defaults for the zero values of Policy.
const (
	// DefaultAttempts is how many times a message is tried before it is
	// dead-lettered: the first attempt and one retry per default backoff.
	DefaultAttempts = 4
	// DefaultHandlerTimeout bounds one call of a consumer.
	DefaultHandlerTimeout = 10 * time.Second
	// DefaultAckWait is how long JetStream waits for an acknowledgement
	// before it delivers the message again, the JetStream default.
	DefaultAckWait = 30 * time.Second
	// DefaultConcurrency is how many messages one consumer handles at once.
	DefaultConcurrency = 1
)

// DefaultBackoff returns the delays before the second, third and later
// attempts: 1s, 5s, then 30s.
func DefaultBackoff() []time.Duration {
	return []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}
}

// Policy is the retry, timeout and concurrency setting of consumers. A zero
// field takes its default.
type Policy struct {
	// Attempts is the number of attempts per message, the first included.
	// Default DefaultAttempts. On NATS the consumer's MaxDeliver is
	// Attempts+1: the extra delivery only dead-letters a message whose last
	// attempt ended without an outcome, such as a crash.
	Attempts int
	// Backoff holds the delay after attempt n at index n-1; the last delay
	// repeats. Default DefaultBackoff().
	Backoff []time.Duration
	// HandlerTimeout bounds one call of a consumer through its context.
	// Default DefaultHandlerTimeout.
	HandlerTimeout time.Duration
	// AckWait is how long JetStream waits for the outcome of a delivery
	// before it delivers the message again, so it is also how soon a
	// message that a crashed process held comes back. NATS only. Default
	// DefaultAckWait. It must exceed HandlerTimeout × (1 + ⌈Prefetch ÷
	// Concurrency⌉), the longest a message can wait in the prefetch buffer
	// and then run, or JetStream would deliver it a second time while the
	// first is still pending.
	AckWait time.Duration
	// Concurrency is how many messages of one consumer run at once.
	// Default DefaultConcurrency.
	Concurrency int
	// Prefetch is how many messages a NATS consumer pulls ahead of its
	// workers; a larger value raises throughput and the AckWait it needs.
	// Default Concurrency.
	Prefetch int
}

// withDefaults returns p with every zero field set to its default.
func (p Policy) withDefaults() Policy {
	if p.Attempts == 0 {
		p.Attempts = DefaultAttempts
	}
	if len(p.Backoff) == 0 {
		p.Backoff = DefaultBackoff()
	}
	if p.HandlerTimeout == 0 {
		p.HandlerTimeout = DefaultHandlerTimeout
	}
	if p.AckWait == 0 {
		p.AckWait = DefaultAckWait
	}
	if p.Concurrency == 0 {
		p.Concurrency = DefaultConcurrency
	}
	if p.Prefetch == 0 {
		p.Prefetch = p.Concurrency
	}
	return p
}

// validate reports every problem of a policy that has its defaults set.
func (p Policy) validate() error {
	var errs []error
	if p.Attempts < 1 {
		errs = append(errs, fmt.Errorf("attempts is %d; want at least 1", p.Attempts))
	}
	for i, d := range p.Backoff {
		if d < 0 {
			errs = append(errs, fmt.Errorf("backoff[%d] is negative (%s)", i, d))
		}
	}
	if p.HandlerTimeout < 0 {
		errs = append(errs, fmt.Errorf("handler timeout is negative (%s)", p.HandlerTimeout))
	}
	if p.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency is %d; want at least 1", p.Concurrency))
	}
	if p.Prefetch < 1 {
		errs = append(errs, fmt.Errorf("prefetch is %d; want at least 1", p.Prefetch))
	}
	if len(errs) > 0 {
		return fmt.Errorf("queue: invalid policy: %w", errors.Join(errs...))
	}
	return nil
}

// validateAckWait checks the AckWait rule for NATS consumers.
func (p Policy) validateAckWait() error {
	if p.Concurrency < 1 {
		return nil // reported by validate
	}
	batches := (p.Prefetch + p.Concurrency - 1) / p.Concurrency
	need := p.HandlerTimeout * time.Duration(1+batches)
	if p.AckWait <= need {
		return fmt.Errorf("queue: invalid policy: ack wait %s must exceed handler timeout × (1 + ⌈prefetch ÷ concurrency⌉) = %s; raise the ack wait or lower the handler timeout or prefetch",
			p.AckWait, need)
	}
	return nil
}

// backoff returns the delay after the failed attempt number attempt.
func (p Policy) backoff(attempt int) time.Duration {
	if len(p.Backoff) == 0 {
		return 0
	}
	i := min(max(attempt-1, 0), len(p.Backoff)-1)
	return p.Backoff[i]
}

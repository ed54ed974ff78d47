package queue

import (
	"context"
	"time"
)

// PendingForTest returns how many messages the in-process consumer named
// name holds, or -1 when there is no such consumer.
func (m *Memory) PendingForTest(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.consumers[name]
	if c == nil {
		return -1
	}
	return c.pending
}

// WithDeliveryForTest returns ctx as a consumer of the named consumer
// receives it for the message with key.
func WithDeliveryForTest(ctx context.Context, consumer, key string) context.Context {
	return withDelivery(ctx, &deliveryState{
		Delivery: Delivery{Consumer: consumer, Key: key, Attempt: 1},
		now:      time.Now,
	})
}

// BackoffForTest exposes Policy.backoff with the defaults applied.
func (p Policy) BackoffForTest(attempt int) time.Duration { return p.withDefaults().backoff(attempt) }

// ValidateForNATS exposes the policy checks that NATS consumers run.
func (p Policy) ValidateForNATS() error {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return err
	}
	return p.validateAckWait()
}

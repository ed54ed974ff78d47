package route

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// lazyDeadline is a context with a deadline whose timer starts only when
// something waits on it. An in-process function that responds from memory,
// such as a cached page read, never calls Done, and the timer of
// context.WithDeadline costs more than such a handler. The first call of
// Done or Err builds the context.WithDeadline that backs it, and release
// cancels that context, as the cancel function of context.WithTimeout
// would.
//
// Values come from the parent until the backing context exists and from
// the backing context after, so contexts derived from this one register
// with the backing context instead of starting a goroutine each.
type lazyDeadline struct {
	parent   context.Context
	deadline time.Time

	backing atomic.Pointer[backingContext]
	mu      sync.Mutex // guards building backing and released
	// released is set by release when the request is done.
	released bool
}

type backingContext struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// withLazyDeadline returns a context that parent's values pass through
// and that reports deadline, or parent's deadline when that is earlier.
// Call release once the request is done.
func withLazyDeadline(parent context.Context, deadline time.Time) *lazyDeadline {
	return &lazyDeadline{parent: parent, deadline: deadline}
}

// Deadline returns the earlier of the parent's deadline and this one.
func (c *lazyDeadline) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done returns the backing context's channel, building it first.
func (c *lazyDeadline) Done() <-chan struct{} { return c.build().Done() }

// Err returns the backing context's error, building it first.
func (c *lazyDeadline) Err() error { return c.build().Err() }

// Value looks key up in the backing context when it exists and in the
// parent otherwise.
func (c *lazyDeadline) Value(key any) any {
	if b := c.backing.Load(); b != nil {
		return b.ctx.Value(key)
	}
	return c.parent.Value(key)
}

// build returns the backing context, creating it on first use. After
// release it is a canceled one, as with context.WithTimeout's cancel.
func (c *lazyDeadline) build() context.Context {
	if b := c.backing.Load(); b != nil {
		return b.ctx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.backing.Load(); b != nil {
		return b.ctx
	}
	b := &backingContext{}
	if c.released {
		b.ctx, b.cancel = context.WithCancel(c.parent)
		b.cancel()
	} else {
		b.ctx, b.cancel = context.WithDeadline(c.parent, c.deadline)
	}
	c.backing.Store(b)
	return b.ctx
}

// release cancels the backing context, when one was built, and makes
// contexts built later start canceled.
func (c *lazyDeadline) release() {
	c.mu.Lock()
	c.released = true
	b := c.backing.Load()
	c.mu.Unlock()
	if b != nil {
		b.cancel()
	}
}

// Package obstest has test helpers for code that logs or exports spans
// through obs.
package obstest

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that concurrent goroutines may write, such as
// the handlers of a server under test sharing one log destination.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

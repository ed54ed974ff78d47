package cron

import (
	"context"
	"sync"
	"time"
)

// Locker claims ticks, so that each tick of a job runs once however many
// replicas or deliveries see it, and remembers the latest claimed tick of
// each job for the missed-tick policy.
//
// Job keys are "<function>/<job>". Ticks are kept to the second, and the
// fraction is dropped. Errors come from the database or Redis, wrapped with
// the step that failed.
type Locker interface {
	// Claim claims tick for job unless tick or a later tick of job is
	// claimed already. It returns true when this call made the claim.
	Claim(ctx context.Context, job string, tick time.Time) (bool, error)

	// Finish records the end of the run of a tick that this caller claimed.
	// A failed run (runErr not nil) releases the claim, so that a retried
	// delivery of the same tick can claim it again, and Last reports the
	// tick claimed before it.
	Finish(ctx context.Context, job string, tick time.Time, runErr error) error

	// Last returns the latest claimed tick of job. ok is false when job has
	// none.
	Last(ctx context.Context, job string) (tick time.Time, ok bool, err error)
}

// MemoryLocker is a Locker for a single process, such as localdev without a
// shared database. Its claims are lost when the process exits.
type MemoryLocker struct {
	mu   sync.Mutex
	jobs map[string]*memoryJob
}

type memoryJob struct {
	last    int64
	hasLast bool
	// previous maps each running tick to the last tick before its claim,
	// which a failed run restores.
	previous map[int64]memoryLast
}

type memoryLast struct {
	tick int64
	ok   bool
}

var _ Locker = (*MemoryLocker)(nil)

// NewMemoryLocker returns an empty MemoryLocker.
func NewMemoryLocker() *MemoryLocker {
	return &MemoryLocker{jobs: map[string]*memoryJob{}}
}

// Claim implements Locker.
func (m *MemoryLocker) Claim(_ context.Context, job string, tick time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	j := m.jobs[job]
	if j == nil {
		j = &memoryJob{previous: map[int64]memoryLast{}}
		m.jobs[job] = j
	}
	t := tick.Unix()
	if j.hasLast && j.last >= t {
		return false, nil
	}
	j.previous[t] = memoryLast{tick: j.last, ok: j.hasLast}
	j.last, j.hasLast = t, true
	return true, nil
}

// Finish implements Locker.
func (m *MemoryLocker) Finish(_ context.Context, job string, tick time.Time, runErr error) error {
	m.mu.Lock()
	defer m.mu.Unlock()

	j := m.jobs[job]
	if j == nil {
		return nil
	}
	t := tick.Unix()
	prev, ok := j.previous[t]
	delete(j.previous, t)
	if runErr != nil && ok && j.hasLast && j.last == t {
		j.last, j.hasLast = prev.tick, prev.ok
	}
	return nil
}

// Last implements Locker.
func (m *MemoryLocker) Last(_ context.Context, job string) (time.Time, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	j := m.jobs[job]
	if j == nil || !j.hasLast {
		return time.Time{}, false, nil
	}
	return time.Unix(j.last, 0), true, nil
}

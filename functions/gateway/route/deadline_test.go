package route

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type ctxKey struct{}

func TestLazyDeadlineExpires(t *testing.T) {
	ctx := withLazyDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	defer ctx.release()

	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed 5s after a 20ms deadline")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Err = %v, want DeadlineExceeded", ctx.Err())
	}
}

func TestLazyDeadlineErrBeforeDeadline(t *testing.T) {
	ctx := withLazyDeadline(context.Background(), time.Now().Add(time.Hour))
	defer ctx.release()

	if err := ctx.Err(); err != nil {
		t.Errorf("Err = %v, want nil before the deadline", err)
	}
	select {
	case <-ctx.Done():
		t.Error("Done closed before the deadline")
	default:
	}
}

func TestLazyDeadlineValues(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	ctx := withLazyDeadline(parent, time.Now().Add(time.Hour))
	defer ctx.release()

	if got := ctx.Value(ctxKey{}); got != "v" {
		t.Errorf("Value before Done = %v, want v", got)
	}
}

func TestLazyDeadlineValuesAfterBuild(t *testing.T) {
	parent := context.WithValue(context.Background(), ctxKey{}, "v")
	ctx := withLazyDeadline(parent, time.Now().Add(time.Hour))
	defer ctx.release()

	_ = ctx.Done()
	if got := ctx.Value(ctxKey{}); got != "v" {
		t.Errorf("Value after Done = %v, want v", got)
	}
}

func TestLazyDeadlineParentEarlier(t *testing.T) {
	early := time.Now().Add(time.Minute)
	parent, cancel := context.WithDeadline(context.Background(), early)
	defer cancel()
	ctx := withLazyDeadline(parent, early.Add(time.Hour))
	defer ctx.release()

	d, ok := ctx.Deadline()
	if !ok || !d.Equal(early) {
		t.Errorf("Deadline = %v, %v; want the parent's %v", d, ok, early)
	}
}

func TestLazyDeadlineOwnEarlier(t *testing.T) {
	own := time.Now().Add(time.Minute)
	ctx := withLazyDeadline(context.Background(), own)
	defer ctx.release()

	d, ok := ctx.Deadline()
	if !ok || !d.Equal(own) {
		t.Errorf("Deadline = %v, %v; want %v", d, ok, own)
	}
}

func TestLazyDeadlineReleaseBeforeDone(t *testing.T) {
	ctx := withLazyDeadline(context.Background(), time.Now().Add(time.Hour))
	ctx.release()

	select {
	case <-ctx.Done():
	default:
		t.Fatal("Done open after release")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err = %v, want Canceled", ctx.Err())
	}
}

func TestLazyDeadlineReleaseAfterDone(t *testing.T) {
	ctx := withLazyDeadline(context.Background(), time.Now().Add(time.Hour))
	done := ctx.Done()
	ctx.release()

	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed by release")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err = %v, want Canceled", ctx.Err())
	}
}

func TestLazyDeadlineParentCanceled(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	ctx := withLazyDeadline(parent, time.Now().Add(time.Hour))
	defer ctx.release()
	done := ctx.Done()
	cancel()

	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed when the parent was canceled")
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("Err = %v, want Canceled", ctx.Err())
	}
}

func TestLazyDeadlineDerivedCanceled(t *testing.T) {
	ctx := withLazyDeadline(context.Background(), time.Now().Add(time.Hour))
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	ctx.release()

	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("derived context not canceled by release")
	}
}

func TestLazyDeadlineConcurrentDone(t *testing.T) {
	ctx := withLazyDeadline(context.Background(), time.Now().Add(time.Hour))
	chans := make([]<-chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range chans {
		wg.Go(func() { chans[i] = ctx.Done() })
	}
	wg.Wait()
	for i, ch := range chans {
		if ch != chans[0] {
			t.Errorf("Done call %d returned another channel", i)
		}
	}
	ctx.release()
	<-chans[0]
}

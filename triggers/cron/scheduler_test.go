package cron

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store"
)

// Inside a synctest bubble the clock starts at 2000-01-01 00:00:00 UTC,
// which is 08:00 in Beijing, and moves only when every goroutine waits.

// runLog records when a job ran, by the bubble's clock.
type runLog struct {
	mu    sync.Mutex
	times []time.Time
}

func (l *runLog) run(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.times = append(l.times, time.Now())
	return nil
}

func (l *runLog) clock() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.times))
	for i, t := range l.times {
		out[i] = t.In(DefaultLocation()).Format("15:04:05")
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func startScheduler(t *testing.T, functions []*fn.Function, opts Options) *Scheduler {
	t.Helper()
	s, err := NewScheduler(functions, opts)
	if err != nil {
		t.Fatalf("NewScheduler: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return s
}

func TestSchedulerRunsOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs runLog
		s := startScheduler(t, []*fn.Function{testFunction("every-ten", "*/10 * * * *", fn.MissedSkip, runs.run)},
			Options{Locker: NewMemoryLocker()})

		time.Sleep(35 * time.Minute)
		if err := s.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}

		// 08:00 is due at start and on time; the rest run exactly on the tick.
		want := []string{"08:00:00", "08:10:00", "08:20:00", "08:30:00"}
		if got := runs.clock(); !equalStrings(got, want) {
			t.Errorf("runs at %v, want %v", got, want)
		}
	})
}

func TestSchedulerSecondsOnSQLite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "cron.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		migrateDB(t, db)

		var runs runLog
		s := startScheduler(t, []*fn.Function{testFunction("fast", "*/20 * * * * * *", fn.MissedSkip, runs.run)},
			Options{Locker: NewSQLLocker(db, SQLLockerOptions{})})
		// Stop a second after the last tick, so that the tick is not
		// racing the Stop.
		time.Sleep(time.Minute + time.Second)
		if err := s.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}

		want := []string{"08:00:00", "08:00:20", "08:00:40", "08:01:00"}
		if got := runs.clock(); !equalStrings(got, want) {
			t.Errorf("runs at %v, want %v", got, want)
		}
	})
}

// A scheduler runs an hourly job at 08:00 and stops at 08:30. Another
// starts at 11:30 on the same Locker, after three missed ticks.
func TestSchedulerAfterDowntime(t *testing.T) {
	tests := []struct {
		policy  fn.MissedPolicy
		want    []string
		catchUp []bool
	}{
		{fn.MissedSkip, []string{"08:00:00", "12:00:00"}, []bool{false, false}},
		{fn.MissedCatchUpOnce, []string{"08:00:00", "11:30:00", "12:00:00"}, []bool{false, true, false}},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var runs runLog
				rec := &recorder{}
				locker := NewMemoryLocker()
				f := []*fn.Function{testFunction("hourly", "0 * * * *", tt.policy, runs.run)}

				first := startScheduler(t, f, Options{Locker: locker, Metrics: rec})
				time.Sleep(30 * time.Minute)
				if err := first.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}

				time.Sleep(3 * time.Hour)
				second := startScheduler(t, f, Options{Locker: locker, Metrics: rec})
				time.Sleep(45 * time.Minute)
				if err := second.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}

				if got := runs.clock(); !equalStrings(got, tt.want) {
					t.Errorf("runs at %v, want %v", got, tt.want)
				}
				var catchUp []bool
				for _, res := range rec.all() {
					if res.Outcome == OutcomeSucceeded {
						catchUp = append(catchUp, res.CatchUp)
					}
				}
				if len(catchUp) != len(tt.catchUp) {
					t.Fatalf("%d successful results, want %d", len(catchUp), len(tt.catchUp))
				}
				for i := range catchUp {
					if catchUp[i] != tt.catchUp[i] {
						t.Errorf("run %d CatchUp = %v, want %v", i, catchUp[i], tt.catchUp[i])
					}
				}
			})
		})
	}
}

func TestSchedulerStopWaitsForRunningJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var finished atomic.Bool
		run := func(ctx context.Context) error {
			select {
			case <-time.After(5 * time.Minute):
				finished.Store(true)
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		s := startScheduler(t, []*fn.Function{testFunction("long", "0 * * * *", fn.MissedSkip, run)},
			Options{Locker: NewMemoryLocker()})
		synctest.Wait() // the 08:00 run has started

		stopped := make(chan error, 1)
		go func() { stopped <- s.Stop(context.Background()) }()
		time.Sleep(4 * time.Minute)
		synctest.Wait()
		select {
		case err := <-stopped:
			t.Fatalf("Stop returned %v while the job was running", err)
		default:
		}

		time.Sleep(time.Minute)
		if err := <-stopped; err != nil {
			t.Errorf("Stop = %v, want nil", err)
		}
		if !finished.Load() {
			t.Error("Stop returned before the job finished")
		}
	})
}

func TestSchedulerStopGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cancelled := make(chan error, 1)
		run := func(ctx context.Context) error {
			<-ctx.Done()
			cancelled <- ctx.Err()
			return ctx.Err()
		}
		s := startScheduler(t, []*fn.Function{testFunction("stuck", "0 * * * *", fn.MissedSkip, run)},
			Options{Locker: NewMemoryLocker(), Timeout: time.Hour})
		synctest.Wait()

		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := s.Stop(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop = %v, want DeadlineExceeded", err)
		}
		if got := <-cancelled; !errors.Is(got, context.Canceled) {
			t.Errorf("job context ended with %v, want Canceled", got)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("second Stop = %v, want nil", err)
		}
		synctest.Wait()
	})
}

func TestSchedulerLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var runs runLog
		f := []*fn.Function{testFunction("once", "0 0 9 1 1 * 2000", fn.MissedSkip, runs.run)}
		s, err := NewScheduler(f, Options{Locker: NewMemoryLocker()})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("Stop before Start = %v, want nil", err)
		}
		if _, ok := s.Runner("zones"); !ok {
			t.Error("Runner(zones) not found")
		}
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err == nil {
			t.Error("second Start succeeded, want an error")
		}

		// The only tick, 09:00 on 2000-01-01, runs, and then the job's
		// goroutine ends by itself.
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if got := runs.clock(); !equalStrings(got, []string{"09:00:00"}) {
			t.Errorf("runs at %v, want [09:00:00]", got)
		}
		select {
		case <-s.done:
		default:
			t.Error("job goroutine still running after the last tick")
		}
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("Stop = %v", err)
		}
	})
}

func TestNewSchedulerReportsEveryFunction(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	bad1 := &fn.Function{Name: "a", Jobs: []fn.Job{{Name: "x", Schedule: "nope", Run: ok}}}
	bad2 := &fn.Function{Name: "b", Jobs: []fn.Job{{Name: "y", Schedule: "* * * * *"}}}
	_, err := NewScheduler([]*fn.Function{bad1, bad2}, Options{Locker: NewMemoryLocker()})
	if err == nil {
		t.Fatal("NewScheduler succeeded, want errors")
	}
	for _, want := range []string{`job "x" of function "a"`, `job "y" of function "b" has no Run`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q: %v", want, err)
		}
	}
}

// Two schedulers share one backend through their own Lockers, on the real
// clock, with a job that fires every second; each tick runs once.
func TestTwoSchedulersRunEachTickOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 2.5 s per backend on the real clock")
	}
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		var runs atomic.Int32
		rec := &recorder{}
		f := []*fn.Function{testFunction("per-second", "* * * * * * *", fn.MissedSkip, func(context.Context) error {
			runs.Add(1)
			return nil
		})}

		a := startScheduler(t, f, Options{Locker: newLocker(), Metrics: rec})
		b := startScheduler(t, f, Options{Locker: newLocker(), Metrics: rec})
		time.Sleep(2500 * time.Millisecond)
		for _, s := range []*Scheduler{a, b} {
			if err := s.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
		}

		perTick := map[time.Time]int{}
		for _, res := range rec.all() {
			if res.Outcome == OutcomeSucceeded {
				perTick[res.Tick]++
			}
		}
		for tick, n := range perTick {
			if n != 1 {
				t.Errorf("tick %s ran %d times, want 1", tick.Format(time.TimeOnly), n)
			}
		}
		if len(perTick) < 3 {
			t.Errorf("%d ticks ran in 2.5 s, want at least 3", len(perTick))
		}
		if got := int(runs.Load()); got != len(perTick) {
			t.Errorf("job ran %d times for %d ticks", got, len(perTick))
		}
	})
}

package cron

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/fn"
)

// testFunction returns a function named "zones" with one job.
func testFunction(name, schedule string, missed fn.MissedPolicy, run func(context.Context) error) *fn.Function {
	return &fn.Function{Name: "zones", Jobs: []fn.Job{{Name: name, Schedule: schedule, Missed: missed, Run: run}}}
}

func newTestRunner(t testing.TB, f *fn.Function, opts Options) *Runner {
	t.Helper()
	r, err := New(f, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func TestDecide(t *testing.T) {
	t.Parallel()
	ten := bj(t, "2026-03-01 10:00:00")
	nine := ten.Add(-time.Hour)
	seven := ten.Add(-3 * time.Hour)
	grace := 5 * time.Minute
	tests := []struct {
		name    string
		policy  fn.MissedPolicy
		last    time.Time // zero: no claimed tick
		tick    time.Time
		now     time.Time
		want    Outcome // "" means run
		wantAt  time.Time
		catchUp bool
	}{
		{"on time", fn.MissedSkip, nine, ten, ten.Add(time.Second), "", ten, false},
		{"at end of grace", fn.MissedSkip, nine, ten, ten.Add(grace), "", ten, false},
		{"first run on time", fn.MissedSkip, time.Time{}, ten, ten, "", ten, false},
		{"claimed already", fn.MissedSkip, ten, ten, ten, OutcomeAlreadyClaimed, ten, false},
		{"later tick claimed", fn.MissedCatchUpOnce, ten, nine, ten.Add(time.Minute), OutcomeAlreadyClaimed, nine, false},
		{"skip drops late tick", fn.MissedSkip, seven, ten, ten.Add(30 * time.Minute), OutcomeMissed, ten, false},
		{"catch up late tick", fn.MissedCatchUpOnce, seven, ten, ten.Add(30 * time.Minute), "", ten, true},
		{"catch up as latest tick", fn.MissedCatchUpOnce, seven, nine, ten.Add(time.Minute), "", ten, true},
		{"catch up needs a last tick", fn.MissedCatchUpOnce, time.Time{}, ten, ten.Add(30 * time.Minute), OutcomeMissed, ten, false},
		{"on time skips nothing", fn.MissedCatchUpOnce, seven, ten, ten.Add(time.Minute), "", ten, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			latest := tt.now.Truncate(time.Hour)
			d := decide(tt.policy, tt.last, !tt.last.IsZero(), tt.tick, latest, tt.now, grace)
			if d.outcome != tt.want || !d.tick.Equal(tt.wantAt) || d.catchUp != tt.catchUp {
				t.Errorf("decide = {%s %q catchUp=%v}, want {%s %q catchUp=%v}",
					d.tick, d.outcome, d.catchUp, tt.wantAt, tt.want, tt.catchUp)
			}
		})
	}
}

func TestTriggerRunsDueTickOnce(t *testing.T) {
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		clock := newFakeClock(bj(t, "2026-03-01 10:00:05"))
		var c counter
		rec := &recorder{}
		r := newTestRunner(t, testFunction("refresh", "* * * * *", fn.MissedSkip, c.run),
			Options{Locker: newLocker(), Now: clock.Now, Metrics: rec})
		ctx := context.Background()

		res, err := r.Trigger(ctx, "refresh", time.Time{}, SourcePlatformCall)
		if err != nil {
			t.Fatalf("Trigger: %v", err)
		}
		if res.Outcome != OutcomeSucceeded || !res.Tick.Equal(bj(t, "2026-03-01 10:00:00")) {
			t.Errorf("first Trigger = %+v, want succeeded at 10:00", res)
		}

		res, err = r.Trigger(ctx, "refresh", time.Time{}, SourcePlatformCall)
		if err != nil {
			t.Fatalf("second Trigger: %v", err)
		}
		if res.Outcome != OutcomeAlreadyClaimed {
			t.Errorf("second Trigger outcome = %q, want %q", res.Outcome, OutcomeAlreadyClaimed)
		}
		if got := c.count(); got != 1 {
			t.Errorf("job ran %d times, want 1", got)
		}

		clock.Set(bj(t, "2026-03-01 10:01:00"))
		if res, err := r.Trigger(ctx, "refresh", time.Time{}, SourcePlatformCall); err != nil || res.Outcome != OutcomeSucceeded {
			t.Errorf("Trigger at the next tick = %+v, %v; want succeeded", res, err)
		}
		if got := len(rec.all()); got != 3 {
			t.Errorf("Metrics observed %d results, want 3", got)
		}
	})
}

func TestTriggerMissedPolicy(t *testing.T) {
	tests := []struct {
		name    string
		policy  fn.MissedPolicy
		last    string // "" means no claimed tick
		now     string
		at      string // "" means now
		want    Outcome
		tick    string
		catchUp bool
		runs    int
	}{
		{"skip after downtime", fn.MissedSkip, "2026-03-01 07:00:00", "2026-03-01 10:30:00", "", OutcomeMissed, "2026-03-01 10:00:00", false, 0},
		{"catch up after downtime", fn.MissedCatchUpOnce, "2026-03-01 07:00:00", "2026-03-01 10:30:00", "", OutcomeSucceeded, "2026-03-01 10:00:00", true, 1},
		{"catch up without history", fn.MissedCatchUpOnce, "", "2026-03-01 10:30:00", "", OutcomeMissed, "2026-03-01 10:00:00", false, 0},
		{"late start within grace", fn.MissedSkip, "2026-03-01 07:00:00", "2026-03-01 10:04:00", "", OutcomeSucceeded, "2026-03-01 10:00:00", false, 1},
		{"late event skipped", fn.MissedSkip, "2026-03-01 08:00:00", "2026-03-01 10:01:00", "2026-03-01 09:00:00", OutcomeMissed, "2026-03-01 09:00:00", false, 0},
		{"late event caught up as latest", fn.MissedCatchUpOnce, "2026-03-01 08:00:00", "2026-03-01 10:01:00", "2026-03-01 09:00:00", OutcomeSucceeded, "2026-03-01 10:00:00", true, 1},
		{"event for claimed tick", fn.MissedCatchUpOnce, "2026-03-01 10:00:00", "2026-03-01 10:01:00", "2026-03-01 09:00:00", OutcomeAlreadyClaimed, "2026-03-01 09:00:00", false, 0},
	}
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				l := newLocker()
				name := "job-" + string(rune('a'+i))
				if tt.last != "" {
					claim(t, l, "zones/"+name, bj(t, tt.last))
				}
				var c counter
				r := newTestRunner(t, testFunction(name, "0 * * * *", tt.policy, c.run),
					Options{Locker: l, Now: newFakeClock(bj(t, tt.now)).Now})
				var at time.Time
				if tt.at != "" {
					at = bj(t, tt.at)
				}

				res, err := r.Trigger(context.Background(), name, at, SourceScheduler)
				if err != nil {
					t.Fatalf("Trigger: %v", err)
				}
				if res.Outcome != tt.want || !res.Tick.Equal(bj(t, tt.tick)) || res.CatchUp != tt.catchUp {
					t.Errorf("Trigger = {%s %q catchUp=%v}, want {%s %q catchUp=%v}", res.Tick, res.Outcome, res.CatchUp, tt.tick, tt.want, tt.catchUp)
				}
				if got := c.count(); got != tt.runs {
					t.Errorf("job ran %d times, want %d", got, tt.runs)
				}
			})
		}
	})
}

func TestTriggerFailedRunIsRetried(t *testing.T) {
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		c := &counter{fail: errRun}
		r := newTestRunner(t, testFunction("refresh", "* * * * *", fn.MissedSkip, c.run),
			Options{Locker: newLocker(), Now: newFakeClock(bj(t, "2026-03-01 10:00:30")).Now})
		ctx := context.Background()

		res, err := r.Trigger(ctx, "refresh", time.Time{}, SourceSCFTimer)
		if !errors.Is(err, errRun) || res.Outcome != OutcomeFailed {
			t.Fatalf("Trigger = %+v, %v; want failed with the run error", res, err)
		}
		if !strings.Contains(err.Error(), `job "refresh" of function "zones"`) {
			t.Errorf("error %q does not name the job", err)
		}

		c.setFail(nil)
		res, err = r.Trigger(ctx, "refresh", time.Time{}, SourceSCFTimer)
		if err != nil || res.Outcome != OutcomeSucceeded {
			t.Errorf("retry = %+v, %v; want succeeded", res, err)
		}
		if got := c.count(); got != 2 {
			t.Errorf("job ran %d times, want 2", got)
		}
	})
}

func TestTriggerTimeout(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	run := func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}
	env := map[string]string{"JT_CRON_ZONES_SLOW_TIMEOUT": "50ms"}
	r := newTestRunner(t, testFunction("slow", "* * * * *", fn.MissedSkip, run),
		Options{Locker: NewMemoryLocker(), Lookup: mapLookup(env)})

	res, err := r.Trigger(context.Background(), "slow", time.Time{}, SourceScheduler)
	<-started
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 50ms") {
		t.Errorf("Trigger error = %v, want a timeout after 50ms", err)
	}
	if res.Outcome != OutcomeFailed {
		t.Errorf("outcome = %q, want %q", res.Outcome, OutcomeFailed)
	}
}

func TestTriggerPanic(t *testing.T) {
	t.Parallel()
	l := NewMemoryLocker()
	clock := newFakeClock(bj(t, "2026-03-01 10:00:00"))
	r := newTestRunner(t, testFunction("boom", "* * * * *", fn.MissedSkip, func(context.Context) error { panic("kaboom") }),
		Options{Locker: l, Now: clock.Now})

	res, err := r.Trigger(context.Background(), "boom", time.Time{}, SourceScheduler)
	if err == nil || !strings.Contains(err.Error(), "panic: kaboom") || res.Outcome != OutcomeFailed {
		t.Errorf("Trigger = %+v, %v; want failed with the panic", res, err)
	}
	checkLast(t, l, "zones/boom", time.Time{}, false)
}

func TestTriggerRejects(t *testing.T) {
	t.Parallel()
	now := bj(t, "2026-03-01 10:00:00")
	var c counter
	f := &fn.Function{Name: "zones", Jobs: []fn.Job{
		{Name: "refresh", Schedule: "* * * * *", Run: c.run},
		{Name: "future", Schedule: "0 0 0 1 1 * 2030", Run: c.run},
	}}
	r := newTestRunner(t, f, Options{Locker: NewMemoryLocker(), Now: newFakeClock(now).Now})
	ctx := context.Background()

	if _, err := r.Trigger(ctx, "nope", time.Time{}, SourcePlatformCall); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("unknown job: error = %v, want ErrUnknownJob", err)
	}
	if _, err := r.Trigger(ctx, "refresh", now.Add(MaxEventSkew+time.Second), SourcePingSource); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("future event: error = %v, want ErrInvalidEvent", err)
	}
	if res, err := r.Trigger(ctx, "refresh", now.Add(MaxEventSkew), SourcePingSource); err != nil || res.Outcome != OutcomeSucceeded {
		t.Errorf("event slightly ahead = %+v, %v; want succeeded", res, err)
	}
	if res, err := r.Trigger(ctx, "future", time.Time{}, SourceScheduler); err != nil || res.Outcome != OutcomeNotDue {
		t.Errorf("job before its first year = %+v, %v; want not due", res, err)
	}
	if got := c.count(); got != 1 {
		t.Errorf("jobs ran %d times, want 1", got)
	}
}

// Two runners with their own Locker on one backend, as two replicas would
// have, receive every tick several times at once; each tick runs once.
func TestTwoRunnersRunEachTickOnce(t *testing.T) {
	eachLocker(t, func(t *testing.T, newLocker func() Locker) {
		clock := newFakeClock(time.Time{})
		var c counter
		rec := &recorder{}
		f := testFunction("refresh", "*/5 * * * *", fn.MissedCatchUpOnce, c.run)
		replicas := []*Runner{
			newTestRunner(t, f, Options{Locker: newLocker(), Now: clock.Now, Metrics: rec}),
			newTestRunner(t, f, Options{Locker: newLocker(), Now: clock.Now, Metrics: rec}),
		}

		start := bj(t, "2026-03-01 10:00:00")
		const ticks = 12
		for i := range ticks {
			tick := start.Add(time.Duration(i) * 5 * time.Minute)
			clock.Set(tick.Add(2 * time.Second))
			var wg sync.WaitGroup
			for g := range 6 {
				wg.Go(func() {
					if _, err := replicas[g%2].Trigger(context.Background(), "refresh", tick, SourcePingSource); err != nil {
						t.Errorf("Trigger(%s): %v", tick, err)
					}
				})
			}
			wg.Wait()
		}

		if got := c.count(); got != ticks {
			t.Errorf("job ran %d times for %d ticks, want once per tick", got, ticks)
		}
		perTick := map[time.Time]int{}
		for _, res := range rec.all() {
			if res.Outcome == OutcomeSucceeded {
				perTick[res.Tick]++
			}
		}
		for tick, n := range perTick {
			if n != 1 {
				t.Errorf("tick %s ran %d times, want 1", tick, n)
			}
		}
		if len(perTick) != ticks {
			t.Errorf("%d ticks ran, want %d", len(perTick), ticks)
		}
	})
}

func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestNewAppliesOverrides(t *testing.T) {
	t.Parallel()
	f := &fn.Function{Name: "zones", Jobs: []fn.Job{
		{Name: "refresh-search-index", Schedule: "17 3 * * *", Run: func(context.Context) error { return nil }},
		{Name: "scf-job", Schedule: "0 * * * *", Missed: fn.MissedCatchUpOnce, Run: func(context.Context) error { return nil }},
	}}
	env := map[string]string{
		"JT_CRON_ZONES_REFRESH_SEARCH_INDEX":         "0 4 * * *",
		"JT_CRON_ZONES_REFRESH_SEARCH_INDEX_TIMEOUT": "30m",
		"JT_CRON_ZONES_SCF_JOB":                      " 30 0 * * * * * ",
	}
	r := newTestRunner(t, f, Options{Locker: NewMemoryLocker(), Lookup: mapLookup(env), Timeout: time.Minute})

	jobs := r.Jobs()
	if len(jobs) != 2 {
		t.Fatalf("Jobs() has %d jobs, want 2", len(jobs))
	}
	if got := jobs[0].Schedule.String(); got != "0 4 * * *" {
		t.Errorf("overridden schedule = %q, want %q", got, "0 4 * * *")
	}
	if jobs[0].Timeout != 30*time.Minute || jobs[1].Timeout != time.Minute {
		t.Errorf("timeouts = %s, %s; want 30m from the override and 1m from Options", jobs[0].Timeout, jobs[1].Timeout)
	}
	if got := jobs[1].Schedule.String(); got != "30 0 * * * * *" {
		t.Errorf("7-field override = %q, want %q", got, "30 0 * * * * *")
	}
	if jobs[0].Missed != fn.MissedSkip || jobs[1].Missed != fn.MissedCatchUpOnce {
		t.Errorf("missed policies = %q, %q; want the empty policy read as skip", jobs[0].Missed, jobs[1].Missed)
	}
	if got := OverrideVar("zones", "refresh-search-index"); got != "JT_CRON_ZONES_REFRESH_SEARCH_INDEX" {
		t.Errorf("OverrideVar = %q", got)
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	f := &fn.Function{Name: "zones", Jobs: []fn.Job{
		{Name: "Bad_Name", Schedule: "* * * * *", Run: ok},
		{Name: "dup", Schedule: "* * * * *", Run: ok},
		{Name: "dup", Schedule: "* * * * *", Run: ok},
		{Name: "no-run", Schedule: "* * * * *"},
		{Name: "policy", Schedule: "* * * * *", Missed: "sometimes", Run: ok},
		{Name: "bad-schedule", Schedule: "61 * * * *", Run: ok},
		{Name: "overridden", Schedule: "* * * * *", Run: ok},
		{Name: "a-b", Schedule: "* * * * *", Run: ok},
		{Name: "a-b-timeout", Schedule: "* * * * *", Run: ok},
	}}
	env := map[string]string{
		"JT_CRON_ZONES_OVERRIDDEN":         "* * * *",
		"JT_CRON_ZONES_OVERRIDDEN_TIMEOUT": "soon",
	}
	_, err := New(f, Options{Locker: NewMemoryLocker(), Lookup: mapLookup(env), ConnectorJob: "missing",
		Sources: []Source{SourcePingSource, SourceSCFTimer}})
	if err == nil {
		t.Fatal("New succeeded, want errors")
	}
	for _, want := range []string{
		`job name "Bad_Name" of function "zones" is invalid`,
		`two jobs named "dup"`,
		`job "no-run" of function "zones" has no Run`,
		`unknown missed policy "sometimes"`,
		`job "bad-schedule" of function "zones", schedule: cron: invalid schedule "61 * * * *": minute field`,
		`job "overridden" of function "zones", JT_CRON_ZONES_OVERRIDDEN: cron: invalid schedule "* * * *"`,
		`jobs "a-b" and "a-b-timeout" of function "zones" share the override variable JT_CRON_ZONES_A_B_TIMEOUT`,
		`connector job "missing" is not a job`,
		`source "scf-timer" cannot be accepted without a platform token`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New error does not contain %q:\n%v", want, err)
		}
	}

	if _, err := New(f, Options{}); err == nil || !strings.Contains(err.Error(), "Locker is nil") {
		t.Errorf("New without a Locker = %v, want an error naming Locker", err)
	}
	bad := testFunction("x", "* * * * *", "", ok)
	if _, err := New(bad, Options{Locker: NewMemoryLocker(), Lookup: mapLookup(map[string]string{"JT_CRON_ZONES_X_TIMEOUT": "-1s"})}); err == nil ||
		!strings.Contains(err.Error(), "invalid JT_CRON_ZONES_X_TIMEOUT") {
		t.Errorf("New with a negative timeout = %v, want an error naming the variable", err)
	}
	reserved := &fn.Function{Name: "redis", Jobs: []fn.Job{{Name: "url", Schedule: "* * * * *", Run: ok}}}
	if _, err := New(reserved, Options{Locker: NewMemoryLocker()}); err == nil || !strings.Contains(err.Error(), "JT_CRON_REDIS_URL") {
		t.Errorf("New with a job whose variable is reserved = %v, want an error", err)
	}
}

func TestNewRejectsScheduleInThePast(t *testing.T) {
	t.Parallel()
	f := &fn.Function{Name: "zones", Jobs: []fn.Job{
		{Name: "refresh-search-index", Schedule: "17 3 * * *", Run: func(context.Context) error { return nil }},
	}}
	env := map[string]string{"JT_CRON_ZONES_REFRESH_SEARCH_INDEX": "* * * * * * 1999"}
	_, err := New(f, Options{Locker: NewMemoryLocker(), Lookup: mapLookup(env)})
	if err == nil || !strings.Contains(err.Error(), "has no tick after now") {
		t.Fatalf("New with a schedule limited to 1999 = %v, want an error that it never fires", err)
	}
}

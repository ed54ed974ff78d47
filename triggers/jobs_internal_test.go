package triggers

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/triggers/cron"
	"github.com/jingtong/backend/triggers/lambda"
	"github.com/jingtong/backend/triggers/scf"
)

// testJobs returns the Runner of a function "zones" with the job
// "oneminute", whose runs are counted, at the clock now.
func testJobs(t *testing.T, now time.Time, runs *atomic.Int32) *cron.Runner {
	t.Helper()
	f := &fn.Function{Name: "zones", Jobs: []fn.Job{{Name: "oneminute", Schedule: "* * * * *", Run: func(context.Context) error {
		runs.Add(1)
		return nil
	}}}}
	r, err := cron.New(f, cron.Options{Locker: cron.NewMemoryLocker(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readTestdata(t *testing.T, path ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(path...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestLambdaConfigRoutesScheduledEvents(t *testing.T) {
	t.Parallel()
	event := strings.Replace(string(readTestdata(t, "lambda", "testdata", "scheduled-event.json")),
		"rule/SampleRule", "rule/zones.oneminute", 1)
	var runs atomic.Int32
	jobs := testJobs(t, time.Date(2016, 12, 30, 18, 44, 50, 0, time.UTC), &runs)
	logger := slog.New(slog.DiscardHandler)

	h := lambda.New(http.NotFoundHandler(), lambdaConfig(lambda.Config{BasePath: "/zones"}, jobs, logger))
	if out, err := h.Invoke(context.Background(), []byte(event)); err != nil || string(out) != "null" {
		t.Errorf("Invoke = %s, %v; want null, nil", out, err)
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("job ran %d times, want 1", got)
	}

	cfg := lambdaConfig(lambda.Config{BasePath: "/zones"}, nil, logger)
	if cfg.OnSchedule != nil || cfg.BasePath != "/zones" || cfg.Logger != logger {
		t.Errorf("lambdaConfig without jobs = %+v, want only the logger added", cfg)
	}
	if _, err := lambda.New(http.NotFoundHandler(), cfg).Invoke(context.Background(), []byte(event)); !errors.Is(err, lambda.ErrScheduleNotHandled) {
		t.Errorf("Invoke without jobs = %v, want ErrScheduleNotHandled", err)
	}
}

func TestSCFConfigRoutesTimerEvents(t *testing.T) {
	t.Parallel()
	event := readTestdata(t, "scf", "testdata", "timer-event-scf-go-lib.json")
	var runs atomic.Int32
	jobs := testJobs(t, time.Date(2019, 8, 17, 5, 26, 2, 0, time.UTC), &runs)
	logger := slog.New(slog.DiscardHandler)

	h := scf.New(http.NotFoundHandler(), scfConfig(scf.Config{BasePath: "/zones"}, jobs, logger))
	for range 2 {
		if out, err := h.Invoke(context.Background(), event); err != nil || string(out) != "null" {
			t.Errorf("Invoke = %s, %v; want null, nil", out, err)
		}
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("job ran %d times after two deliveries, want 1", got)
	}

	cfg := scfConfig(scf.Config{}, nil, logger)
	if _, err := scf.New(http.NotFoundHandler(), cfg).Invoke(context.Background(), event); !errors.Is(err, scf.ErrTimerNotHandled) {
		t.Errorf("Invoke without jobs = %v, want ErrTimerNotHandled", err)
	}
}

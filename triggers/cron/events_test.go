package cron_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	scfevents "github.com/tencentyun/scf-go-lib/events"

	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/store/storetest"
	"github.com/jingtong/backend/triggers/cron"
	"github.com/jingtong/backend/triggers/internal/echo"
	"github.com/jingtong/backend/triggers/lambda"
	"github.com/jingtong/backend/triggers/scf"
)

// readSample reads a sample event of another trigger package.
func readSample(t testing.TB, path ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{".."}, path...)...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// eventRunner returns a Runner of the function "zones" with the jobs
// "oneminute" (every minute, the trigger name of the scf-go-lib sample) and
// "refresh-search-index", on a SQLite locker, with the clock at now. runs
// counts the runs of both jobs.
func eventRunner(t testing.TB, now time.Time, runs *atomic.Int32) *cron.Runner {
	t.Helper()
	db := storetest.OpenSQLite(t)
	if err := cron.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	count := func(context.Context) error {
		runs.Add(1)
		return nil
	}
	f := &fn.Function{Name: "zones", Jobs: []fn.Job{
		{Name: "oneminute", Schedule: "* * * * *", Run: count},
		{Name: "refresh-search-index", Schedule: "* * * * *", Run: count},
	}}
	r, err := cron.New(f, cron.Options{Locker: cron.NewSQLLocker(db, cron.SQLLockerOptions{}), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSCFTimerSample(t *testing.T) {
	t.Parallel()
	// {"Message": "", "Time": "2019-08-17T05:26:00Z", "TriggerName": "oneminute", "Type": "Timer"}
	sample := readSample(t, "scf", "testdata", "timer-event-scf-go-lib.json")
	var runs atomic.Int32
	r := eventRunner(t, time.Date(2019, 8, 17, 5, 26, 3, 0, time.UTC), &runs)
	h := scf.New(echo.Handler, scf.Config{OnTimer: r.HandleSCFTimer})

	out, err := h.Invoke(context.Background(), sample)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if string(out) != "null" {
		t.Errorf("Invoke = %s, want null", out)
	}
	// SCF delivers timer events asynchronously and may deliver one twice.
	if _, err := h.Invoke(context.Background(), sample); err != nil {
		t.Fatalf("second Invoke: %v", err)
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("job ran %d times, want 1", got)
	}
}

func TestSCFTimerEvents(t *testing.T) {
	t.Parallel()
	// {"Type":"Timer", "TriggerName":"EveryDay", "Time":"2019-02-21T11:49:00Z", "Message":"user define msg body"}
	var docs scfevents.TimerEvent
	if err := json.Unmarshal(readSample(t, "scf", "testdata", "timer-event-docs.json"), &docs); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2019, 2, 21, 11, 49, 1, 0, time.UTC)

	tests := []struct {
		name    string
		edit    func(e *scfevents.TimerEvent)
		wantErr error
		runs    int32
	}{
		{"sample names no job", func(*scfevents.TimerEvent) {}, cron.ErrUnknownJob, 0},
		{"trigger named after job", func(e *scfevents.TimerEvent) { e.TriggerName = "refresh-search-index" }, nil, 1},
		{"message names job", func(e *scfevents.TimerEvent) { e.Message = `{"job": "refresh-search-index"}` }, nil, 1},
		{"message names unknown job", func(e *scfevents.TimerEvent) { e.TriggerName, e.Message = "oneminute", `{"job":"nope"}` }, cron.ErrUnknownJob, 0},
		{"plain message ignored", func(e *scfevents.TimerEvent) { e.TriggerName, e.Message = "oneminute", "refresh-search-index" }, nil, 1},
		{"malformed time", func(e *scfevents.TimerEvent) { e.TriggerName, e.Time = "oneminute", "21/02/2019 11:49" }, cron.ErrInvalidEvent, 0},
		{"missing time", func(e *scfevents.TimerEvent) { e.TriggerName, e.Time = "oneminute", "" }, cron.ErrInvalidEvent, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int32
			r := eventRunner(t, now, &runs)
			e := docs
			tt.edit(&e)

			err := r.HandleSCFTimer(context.Background(), e)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("HandleSCFTimer = %v, want %v", err, tt.wantErr)
			}
			if got := runs.Load(); got != tt.runs {
				t.Errorf("jobs ran %d times, want %d", got, tt.runs)
			}
		})
	}
}

func TestEventBridgeSample(t *testing.T) {
	t.Parallel()
	sample := readSample(t, "lambda", "testdata", "scheduled-event.json")
	now := time.Date(2016, 12, 30, 18, 44, 51, 0, time.UTC)

	// The sample's rule, SampleRule, names no job.
	var runs atomic.Int32
	r := eventRunner(t, now, &runs)
	h := lambda.New(echo.Handler, lambda.Config{OnSchedule: r.HandleEventBridge})
	if _, err := h.Invoke(context.Background(), sample); !errors.Is(err, cron.ErrInvalidEvent) || !strings.Contains(err.Error(), `name the rule zones.<job>`) {
		t.Errorf("Invoke(sample) = %v, want ErrInvalidEvent naming the rule convention", err)
	}

	renamed := strings.Replace(string(sample), "rule/SampleRule", "rule/prod.zones.refresh-search-index", 1)
	for range 2 {
		out, err := h.Invoke(context.Background(), []byte(renamed))
		if err != nil {
			t.Fatalf("Invoke(renamed rule): %v", err)
		}
		if string(out) != "null" {
			t.Errorf("Invoke = %s, want null", out)
		}
	}
	if got := runs.Load(); got != 1 {
		t.Errorf("job ran %d times after two deliveries, want 1", got)
	}
}

func TestEventBridgeEvents(t *testing.T) {
	t.Parallel()
	var sample awsevents.EventBridgeEvent
	if err := json.Unmarshal(readSample(t, "lambda", "testdata", "scheduled-event.json"), &sample); err != nil {
		t.Fatal(err)
	}
	now := sample.Time.Add(2 * time.Second)
	rule := func(name string) []string { return []string{"arn:aws:events:us-east-1:123456789012:rule/" + name} }

	tests := []struct {
		name    string
		edit    func(e *awsevents.EventBridgeEvent)
		wantErr error
		runs    int32
	}{
		{"rule names job", func(e *awsevents.EventBridgeEvent) { e.Resources = rule("zones.oneminute") }, nil, 1},
		{"rule on a named bus", func(e *awsevents.EventBridgeEvent) { e.Resources = rule("jingtong-bus/zones.oneminute") }, nil, 1},
		{"detail names job", func(e *awsevents.EventBridgeEvent) {
			e.Detail, e.Resources = json.RawMessage(`{"job":"refresh-search-index"}`), nil
		}, nil, 1},
		{"scheduler input without time", func(e *awsevents.EventBridgeEvent) {
			e.Detail, e.Resources, e.Time = json.RawMessage(`{"job":"oneminute"}`), nil, time.Time{}
		}, nil, 1},
		{"rule of another function", func(e *awsevents.EventBridgeEvent) { e.Resources = rule("push.oneminute") }, cron.ErrInvalidEvent, 0},
		{"rule names unknown job", func(e *awsevents.EventBridgeEvent) { e.Resources = rule("zones.nope") }, cron.ErrUnknownJob, 0},
		{"not a rule ARN", func(e *awsevents.EventBridgeEvent) {
			e.Resources = []string{"arn:aws:scheduler:us-east-1:123456789012:schedule/default/zones.oneminute"}
		}, cron.ErrInvalidEvent, 0},
		{"two resources", func(e *awsevents.EventBridgeEvent) {
			e.Resources = append(rule("zones.oneminute"), rule("zones.oneminute")...)
		}, cron.ErrInvalidEvent, 0},
		{"detail job not a string", func(e *awsevents.EventBridgeEvent) { e.Detail = json.RawMessage(`{"job":7}`) }, cron.ErrInvalidEvent, 0},
		{"detail not an object", func(e *awsevents.EventBridgeEvent) { e.Detail = json.RawMessage(`[1]`) }, cron.ErrInvalidEvent, 0},
		{"other detail-type", func(e *awsevents.EventBridgeEvent) {
			e.DetailType, e.Resources = "EC2 Instance State-change Notification", rule("zones.oneminute")
		}, cron.ErrInvalidEvent, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var runs atomic.Int32
			r := eventRunner(t, now, &runs)
			e := sample
			tt.edit(&e)

			err := r.HandleEventBridge(context.Background(), e)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("HandleEventBridge = %v, want %v", err, tt.wantErr)
			}
			if got := runs.Load(); got != tt.runs {
				t.Errorf("jobs ran %d times, want %d", got, tt.runs)
			}
		})
	}
}

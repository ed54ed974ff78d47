package lambda_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jingtong/backend/triggers/internal/echo"
	"github.com/jingtong/backend/triggers/lambda"
)

func TestHandleScheduledEvent(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "scheduled-event.json"))
	if err != nil {
		t.Fatal(err)
	}

	var got []events.EventBridgeEvent
	h := lambda.New(echo.Handler, lambda.Config{OnSchedule: func(_ context.Context, e events.EventBridgeEvent) error {
		got = append(got, e)
		return nil
	}})
	out, err := h.Invoke(context.Background(), data)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if string(out) != "null" {
		t.Errorf("Invoke = %s, want null", out)
	}
	if len(got) != 1 {
		t.Fatalf("OnSchedule called %d times, want 1", len(got))
	}
	e := got[0]
	if e.DetailType != "Scheduled Event" || !e.Time.Equal(time.Date(2016, 12, 30, 18, 44, 49, 0, time.UTC)) ||
		len(e.Resources) != 1 || e.Resources[0] != "arn:aws:events:us-east-1:123456789012:rule/SampleRule" {
		t.Errorf("OnSchedule got %+v, want the sample's detail-type, time and rule", e)
	}
}

func TestHandleScheduledEventErrors(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("testdata", "scheduled-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	errJob := errors.New("job failed")

	_, err = lambda.New(echo.Handler, lambda.Config{}).Handle(context.Background(), data)
	if !errors.Is(err, lambda.ErrScheduleNotHandled) {
		t.Errorf("without OnSchedule: error = %v, want ErrScheduleNotHandled", err)
	}

	failing := lambda.New(echo.Handler, lambda.Config{OnSchedule: func(context.Context, events.EventBridgeEvent) error { return errJob }})
	_, err = failing.Handle(context.Background(), data)
	if !errors.Is(err, errJob) || !strings.Contains(err.Error(), "890abcde-f123-4567-890a-bcdef1234567") {
		t.Errorf("failing OnSchedule: error = %v, want the hook's error with the event id", err)
	}

	called := false
	h := lambda.New(echo.Handler, lambda.Config{OnSchedule: func(context.Context, events.EventBridgeEvent) error {
		called = true
		return nil
	}})
	bad := strings.Replace(string(data), `"2016-12-30T18:44:49Z"`, `"yesterday"`, 1)
	if _, err := h.Handle(context.Background(), []byte(bad)); err == nil || !strings.Contains(err.Error(), "decoding scheduled event") {
		t.Errorf("malformed time: error = %v, want a decoding error", err)
	}
	if called {
		t.Error("OnSchedule called for a malformed event")
	}
}

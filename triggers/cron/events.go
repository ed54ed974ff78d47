package cron

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	awsevents "github.com/aws/aws-lambda-go/events"
	scfevents "github.com/tencentyun/scf-go-lib/events"
)

// ScheduledEventType is the detail-type of EventBridge scheduled events.
const ScheduledEventType = "Scheduled Event"

// HandleSCFTimer runs one tick of the job that an SCF timer trigger event
// names, for scf.Config.OnTimer. The trigger's name is the job's name,
// unless the trigger's message is a JSON object with a "job" string, which
// then names the job. Any other message is the trigger's own payload and is
// ignored. Time, which SCF sets to the scheduled time in RFC 3339, is the
// trigger time.
//
// It returns an error wrapping ErrInvalidEvent for a missing or malformed
// Time, one wrapping ErrUnknownJob for a name that is not a job, and the
// errors of Trigger.
func (r *Runner) HandleSCFTimer(ctx context.Context, e scfevents.TimerEvent) error {
	name := e.TriggerName
	if job, ok := jobInJSON([]byte(e.Message)); ok {
		name = job
	}
	at, err := time.Parse(time.RFC3339, e.Time)
	if err != nil {
		return fmt.Errorf("%w: SCF timer %q has Time %q, not an RFC 3339 time", ErrInvalidEvent, e.TriggerName, e.Time)
	}

	_, err = r.Trigger(ctx, name, at, SourceSCFTimer)
	return err
}

// HandleEventBridge runs one tick of the job that an EventBridge scheduled
// event names, for lambda.Config.OnSchedule. The job is named, in this
// order, by:
//
//   - a "job" string in the event's detail, which a rule's constant input
//     or an EventBridge Scheduler payload can carry, such as
//     {"detail-type": "Scheduled Event", "source": "jt.cron", "detail": {"job": "refresh-search-index"}};
//   - the name of the rule in the event's only resource ARN, written
//     "<function>.<job>" with any dot-separated prefix, such as
//     "prod.zones.refresh-search-index". The function part must be this
//     function's name.
//
// The event's time, the scheduled time, is the trigger time; without one the
// trigger time is now. It returns an error wrapping ErrInvalidEvent for an
// event of another detail-type or one that names no job, one wrapping
// ErrUnknownJob for a name that is not a job, and the errors of Trigger.
func (r *Runner) HandleEventBridge(ctx context.Context, e awsevents.EventBridgeEvent) error {
	if e.DetailType != ScheduledEventType {
		return fmt.Errorf("%w: EventBridge detail-type is %q, want %q", ErrInvalidEvent, e.DetailType, ScheduledEventType)
	}
	name, err := r.eventBridgeJob(e)
	if err != nil {
		return err
	}

	_, err = r.Trigger(ctx, name, e.Time, SourceEventBridge)
	return err
}

func (r *Runner) eventBridgeJob(e awsevents.EventBridgeEvent) (string, error) {
	if len(bytes.TrimSpace(e.Detail)) > 0 && !bytes.Equal(bytes.TrimSpace(e.Detail), []byte("null")) {
		var detail map[string]json.RawMessage
		if err := json.Unmarshal(e.Detail, &detail); err != nil {
			return "", fmt.Errorf("%w: EventBridge detail is not a JSON object", ErrInvalidEvent)
		}
		if raw, ok := detail["job"]; ok {
			var job string
			if err := json.Unmarshal(raw, &job); err != nil || job == "" {
				return "", fmt.Errorf("%w: EventBridge detail.job is not a non-empty string", ErrInvalidEvent)
			}
			return job, nil
		}
	}

	if len(e.Resources) != 1 {
		return "", fmt.Errorf("%w: EventBridge event has %d resources and no detail.job; want one rule ARN", ErrInvalidEvent, len(e.Resources))
	}
	rule, ok := ruleName(e.Resources[0])
	if !ok {
		return "", fmt.Errorf("%w: EventBridge resource %q is not a rule ARN", ErrInvalidEvent, e.Resources[0])
	}
	parts := strings.Split(rule, ".")
	if len(parts) < 2 || parts[len(parts)-2] != r.function {
		return "", fmt.Errorf("%w: EventBridge rule %q does not name a job of function %q; name the rule %s.<job>",
			ErrInvalidEvent, rule, r.function, r.function)
	}
	return parts[len(parts)-1], nil
}

// ruleName returns the rule name in an ARN such as
// arn:aws:events:us-east-1:123456789012:rule/[event-bus/]name.
func ruleName(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "events" {
		return "", false
	}
	resource, ok := strings.CutPrefix(parts[5], "rule/")
	if !ok {
		return "", false
	}
	name := resource[strings.LastIndexByte(resource, '/')+1:]
	return name, name != ""
}

// jobInJSON returns the "job" string of a JSON object.
func jobInJSON(data []byte) (string, bool) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return "", false
	}
	var v struct {
		Job string `json:"job"`
	}
	if err := json.Unmarshal(data, &v); err != nil || v.Job == "" {
		return "", false
	}
	return v.Job, true
}

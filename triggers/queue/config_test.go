package queue_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jingtong/backend/triggers/queue"
)

func lookupMap(vars map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

func TestConfigFromEnv_emptyKeepsDefaults(t *testing.T) {
	cfg, err := queue.ConfigFromEnv(lookupMap(nil))
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	if cfg.NATSURL != "" || cfg.Policy.Attempts != 0 || cfg.Policy.Backoff != nil || cfg.Memory.Capacity != 0 {
		t.Errorf("config from an empty environment = %+v, want zero values", cfg)
	}
	b, err := queue.Open(cfg, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer b.Close()
	if _, ok := b.(*queue.Memory); !ok {
		t.Errorf("Open without JT_NATS_URL = %T, want *queue.Memory", b)
	}
}

func TestConfigFromEnv_readsEveryVariable(t *testing.T) {
	cfg, err := queue.ConfigFromEnv(lookupMap(map[string]string{
		"JT_NATS_URL":               "nats://nats:4222",
		"JT_NATS_CREDS":             "/run/secrets/nats.creds",
		"JT_QUEUE_STREAM":           "JT",
		"JT_QUEUE_SUBJECT_PREFIX":   "jx",
		"JT_QUEUE_DUPLICATE_WINDOW": "5m",
		"JT_QUEUE_MAX_AGE":          "24h",
		"JT_QUEUE_REPLICAS":         "3",
		"JT_QUEUE_ATTEMPTS":         "6",
		"JT_QUEUE_BACKOFF":          "2s, 10s,1m",
		"JT_QUEUE_HANDLER_TIMEOUT":  "20s",
		"JT_QUEUE_ACK_WAIT":         "90s",
		"JT_QUEUE_CONCURRENCY":      "4",
		"JT_QUEUE_PREFETCH":         "8",
		"JT_QUEUE_CAPACITY":         "64",
		"JT_QUEUE_PUBLISH_WAIT":     "1s",
	}))
	if err != nil {
		t.Fatalf("ConfigFromEnv: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"NATSURL", cfg.NATSURL, "nats://nats:4222"},
		{"CredsFile", cfg.NATS.CredsFile, "/run/secrets/nats.creds"},
		{"Stream", cfg.NATS.Stream, "JT"},
		{"SubjectPrefix", cfg.NATS.SubjectPrefix, "jx"},
		{"NATS DuplicateWindow", cfg.NATS.DuplicateWindow, 5 * time.Minute},
		{"Memory DuplicateWindow", cfg.Memory.DuplicateWindow, 5 * time.Minute},
		{"MaxAge", cfg.NATS.MaxAge, 24 * time.Hour},
		{"Replicas", cfg.NATS.Replicas, 3},
		{"Attempts", cfg.Policy.Attempts, 6},
		{"HandlerTimeout", cfg.Policy.HandlerTimeout, 20 * time.Second},
		{"AckWait", cfg.Policy.AckWait, 90 * time.Second},
		{"Concurrency", cfg.Policy.Concurrency, 4},
		{"Prefetch", cfg.Policy.Prefetch, 8},
		{"Capacity", cfg.Memory.Capacity, 64},
		{"PublishWait", cfg.Memory.PublishWait, time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if want := []time.Duration{2 * time.Second, 10 * time.Second, time.Minute}; !slices.Equal(cfg.Policy.Backoff, want) {
		t.Errorf("Backoff = %v, want %v", cfg.Policy.Backoff, want)
	}
}

func TestConfigFromEnv_reportsEveryInvalidValue(t *testing.T) {
	_, err := queue.ConfigFromEnv(lookupMap(map[string]string{
		"JT_QUEUE_ATTEMPTS":     "0",
		"JT_QUEUE_ACK_WAIT":     "soon",
		"JT_QUEUE_BACKOFF":      "1s,later",
		"JT_QUEUE_CONCURRENCY":  "-2",
		"JT_QUEUE_PUBLISH_WAIT": "-1s",
	}))
	if err == nil {
		t.Fatal("ConfigFromEnv with invalid values succeeded, want an error")
	}
	for _, name := range []string{"JT_QUEUE_ATTEMPTS", "JT_QUEUE_ACK_WAIT", "JT_QUEUE_BACKOFF", "JT_QUEUE_CONCURRENCY", "JT_QUEUE_PUBLISH_WAIT"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestPolicy_backoffRepeatsLastDelay(t *testing.T) {
	p := queue.Policy{Backoff: []time.Duration{time.Second, 5 * time.Second}}
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, time.Second},
		{2, 5 * time.Second},
		{3, 5 * time.Second},
		{10, 5 * time.Second},
	}
	for _, tt := range tests {
		if got := p.BackoffForTest(tt.attempt); got != tt.want {
			t.Errorf("backoff after attempt %d = %s, want %s", tt.attempt, got, tt.want)
		}
	}
	if got := (queue.Policy{}).BackoffForTest(3); got != 30*time.Second {
		t.Errorf("default backoff after attempt 3 = %s, want 30s", got)
	}
}

func TestPolicy_ackWaitRule(t *testing.T) {
	tests := []struct {
		name   string
		policy queue.Policy
		ok     bool
	}{
		{name: "defaults", policy: queue.Policy{}, ok: true},
		{name: "prefetch of two batches", policy: queue.Policy{HandlerTimeout: 10 * time.Second, AckWait: 30 * time.Second, Concurrency: 2, Prefetch: 4}, ok: false},
		{name: "large concurrency", policy: queue.Policy{HandlerTimeout: time.Second, AckWait: 30 * time.Second, Concurrency: 64, Prefetch: 256}, ok: true},
		{name: "ack wait equal to the bound", policy: queue.Policy{HandlerTimeout: 10 * time.Second, AckWait: 20 * time.Second}, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.ValidateForNATS()
			if (err == nil) != tt.ok {
				t.Errorf("ValidateForNATS = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

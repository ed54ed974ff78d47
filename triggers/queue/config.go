package queue

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config selects and configures the queue backend of a host.
type Config struct {
	// NATSURL is the NATS server URL, or several separated by commas.
	// Empty selects the in-process queue.
	NATSURL string
	NATS    NATSOptions
	Memory  MemoryOptions
	Policy  Policy
}

// ConfigFromEnv reads the queue configuration through lookup (os.LookupEnv
// in production, a map in tests). Unset or empty variables keep their
// defaults. It reports every invalid value together.
//
//	JT_NATS_URL                 NATS server URL, or several separated by commas.
//	                            Empty selects the in-process queue.
//	JT_NATS_CREDS               NATS credentials file. Default none.
//	JT_QUEUE_STREAM             JetStream stream name. Default JINGTONG.
//	JT_QUEUE_SUBJECT_PREFIX     NATS subject prefix. Default jt.
//	JT_QUEUE_DUPLICATE_WINDOW   De-duplication window on publish. Default 2m.
//	JT_QUEUE_MAX_AGE            How long the stream keeps messages. Default 168h.
//	JT_QUEUE_REPLICAS           Stream replicas when it is created. Default 1.
//	JT_QUEUE_ATTEMPTS           Attempts per message. Default 4.
//	JT_QUEUE_BACKOFF            Comma-separated delays between attempts. Default 1s,5s,30s.
//	JT_QUEUE_HANDLER_TIMEOUT    Bound on one consumer call. Default 10s.
//	JT_QUEUE_ACK_WAIT           JetStream ack wait. Default 30s.
//	JT_QUEUE_CONCURRENCY        Messages in progress per consumer. Default 1.
//	JT_QUEUE_PREFETCH           Messages pulled ahead per NATS consumer. Default the concurrency.
//	JT_QUEUE_CAPACITY           Messages held per in-process consumer. Default 1024.
//	JT_QUEUE_PUBLISH_WAIT       In-process wait for room on publish. Default 5s.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	var cfg Config
	var errs []error
	get := func(key string) string {
		v, _ := lookup(key)
		return strings.TrimSpace(v)
	}

	cfg.NATSURL = get("JT_NATS_URL")
	cfg.NATS.CredsFile = get("JT_NATS_CREDS")
	cfg.NATS.Stream = get("JT_QUEUE_STREAM")
	cfg.NATS.SubjectPrefix = get("JT_QUEUE_SUBJECT_PREFIX")

	durations := []struct {
		key   string
		field *time.Duration
	}{
		{"JT_QUEUE_DUPLICATE_WINDOW", &cfg.NATS.DuplicateWindow},
		{"JT_QUEUE_MAX_AGE", &cfg.NATS.MaxAge},
		{"JT_QUEUE_HANDLER_TIMEOUT", &cfg.Policy.HandlerTimeout},
		{"JT_QUEUE_ACK_WAIT", &cfg.Policy.AckWait},
		{"JT_QUEUE_PUBLISH_WAIT", &cfg.Memory.PublishWait},
	}
	for _, d := range durations {
		v := get(d.key)
		if v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil || parsed <= 0 {
			errs = append(errs, fmt.Errorf("invalid %s %q: want a positive duration such as 30s", d.key, v))
			continue
		}
		*d.field = parsed
	}
	cfg.Memory.DuplicateWindow = cfg.NATS.DuplicateWindow

	integers := []struct {
		key   string
		field *int
	}{
		{"JT_QUEUE_REPLICAS", &cfg.NATS.Replicas},
		{"JT_QUEUE_ATTEMPTS", &cfg.Policy.Attempts},
		{"JT_QUEUE_CONCURRENCY", &cfg.Policy.Concurrency},
		{"JT_QUEUE_PREFETCH", &cfg.Policy.Prefetch},
		{"JT_QUEUE_CAPACITY", &cfg.Memory.Capacity},
	}
	for _, n := range integers {
		v := get(n.key)
		if v == "" {
			continue
		}
		parsed, err := strconv.Atoi(v)
		if err != nil || parsed < 1 {
			errs = append(errs, fmt.Errorf("invalid %s %q: want a whole number of at least 1", n.key, v))
			continue
		}
		*n.field = parsed
	}

	if v := get("JT_QUEUE_BACKOFF"); v != "" {
		for _, part := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d < 0 {
				errs = append(errs, fmt.Errorf("invalid JT_QUEUE_BACKOFF %q: want comma-separated durations such as 1s,5s,30s", v))
				cfg.Policy.Backoff = nil
				break
			}
			cfg.Policy.Backoff = append(cfg.Policy.Backoff, d)
		}
	}

	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("queue: %w", err)
	}
	return cfg, nil
}

// Open returns the NATS backend when cfg.NATSURL is set and the in-process
// queue otherwise. logger receives the NATS connection events; nil discards
// them. Close the backend after stopping its runners.
func Open(cfg Config, logger *slog.Logger) (Backend, error) {
	if cfg.NATSURL == "" {
		return NewMemory(cfg.Memory), nil
	}
	cfg.NATS.Logger = logger
	n, err := NewNATS(cfg.NATSURL, cfg.NATS)
	if err != nil {
		return nil, err
	}
	return n, nil
}

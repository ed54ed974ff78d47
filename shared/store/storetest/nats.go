package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSURLVar names the environment variable with the NATS URL for tests,
// such as nats://127.0.0.1:4222. The server must have JetStream.
const NATSURLVar = "JT_TEST_NATS_URL"

// NATSQueueVars returns the variables that point a host's queue at
// JT_TEST_NATS_URL, with a JetStream stream and subject prefix of this
// test's own, starting with name. The stream is deleted when the test
// ends. It returns nil, and logs why, when the variable is unset, so that
// the caller runs its other backends only.
func NATSQueueVars(t testing.TB, name string) map[string]string {
	t.Helper()
	url := os.Getenv(NATSURLVar)
	if url == "" {
		t.Logf("%s is not set; skipping the NATS JetStream backend", NATSURLVar)
		return nil
	}
	prefix := fmt.Sprintf("%s%d", strings.ToLower(name), time.Now().UnixNano())
	stream := strings.ToUpper(prefix)
	t.Cleanup(func() { deleteStream(t, url, stream) })
	return map[string]string{
		"JT_NATS_URL": url, "JT_QUEUE_STREAM": stream, "JT_QUEUE_SUBJECT_PREFIX": prefix,
		"JT_QUEUE_MAX_AGE": "10m",
	}
}

// deleteStream removes stream from the NATS server at url.
func deleteStream(t testing.TB, url, stream string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Errorf("connecting to NATS to delete stream %s: %v", stream, err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Errorf("JetStream: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("deleting stream %s: %v", stream, err)
	}
}

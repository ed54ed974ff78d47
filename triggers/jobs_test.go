package triggers_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/obs/obstest"
	"github.com/jingtong/backend/triggers"
)

const platformSecret = "0123456789abcdef0123456789abcdef-triggers"

// jobFunction builds the function "fake" with one cron job, "tick".
type jobFunction struct {
	schedule string
	runs     atomic.Int32
}

func (jf *jobFunction) build(context.Context, *fn.Env) (*fn.Function, error) {
	return &fn.Function{
		Name: "fake",
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "hello "+r.URL.Path)
		}),
		Jobs: []fn.Job{{Name: "tick", Schedule: jf.schedule, Run: func(context.Context) error {
			jf.runs.Add(1)
			return nil
		}}},
	}, nil
}

// startRun runs triggers.Run in the background until the test ends.
func startRun(t *testing.T, env map[string]string, build fn.Builder) (stdout *obstest.Buffer, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	stdout = &obstest.Buffer{}
	go func() { errc <- triggers.Run(ctx, nil, lookupMap(env), stdout, build) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-errc:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after the context ended")
		}
	})
	return stdout, errc
}

func postTick(t *testing.T, client *http.Client, url string, sign bool) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sign {
		if err := auth.SignPlatform(auth.Secret(platformSecret), req, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

func TestRunServesCronJobs(t *testing.T) {
	t.Parallel()
	addr := freeLoopbackAddr(t)
	env := testEnv(t, map[string]string{"JT_HTTP_ADDR": addr, "JT_PLATFORM_SECRET": platformSecret})
	jf := &jobFunction{schedule: "* * * * *"}

	// The migrate command creates the tick table in the default SQLite file.
	if err := triggers.Run(context.Background(), []string{"migrate"}, lookupMap(env), io.Discard, jf.build); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	startRun(t, env, jf.build)

	client := &http.Client{Timeout: 5 * time.Second}
	base := "http://" + addr
	resp := waitGet(t, client, base+"/healthz")
	_ = resp.Body.Close()

	if resp := postTick(t, client, base+"/_jt/cron/tick", false); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned POST = %d, want 401", resp.StatusCode)
	}
	resp = postTick(t, client, base+"/_jt/cron/tick", true)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-JT-Cron-Outcome") != "succeeded" {
		t.Errorf("signed POST = %d outcome %q, want 200 succeeded", resp.StatusCode, resp.Header.Get("X-JT-Cron-Outcome"))
	}
	if got := jf.runs.Load(); got != 1 {
		t.Errorf("job ran %d times, want 1", got)
	}

	// The function's own routes and the metrics still respond.
	resp = waitGet(t, client, base+"/zones")
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(body) != "hello /zones" {
		t.Errorf("GET /zones = %q, want the function's handler", body)
	}
	resp = waitGet(t, client, base+"/metrics")
	body, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), `jt_cron_triggers_total{function="fake",job="tick",outcome="succeeded",source="platform-call"} 1`) {
		t.Errorf("/metrics has no cron trigger count:\n%s", body)
	}
}

func TestRunCronInProcess(t *testing.T) {
	t.Parallel()
	env := testEnv(t, map[string]string{"JT_HTTP_ADDR": freeLoopbackAddr(t), "JT_CRON_IN_PROCESS": "true"})
	jf := &jobFunction{schedule: "* * * * * * *"} // every second
	if err := triggers.Run(context.Background(), []string{"migrate"}, lookupMap(env), io.Discard, jf.build); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	stdout, _ := startRun(t, env, jf.build)

	deadline := time.Now().Add(5 * time.Second)
	for jf.runs.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := jf.runs.Load(); got < 2 {
		t.Errorf("job ran %d times in 5 s, want at least 2\n%s", got, stdout.String())
	}
}

func TestRunRejectsCronConfiguration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		schedule string
		wantErr  string
	}{
		{"unknown source", map[string]string{"JT_CRON_SOURCES": "sqs"}, "* * * * *", `JT_CRON_SOURCES entry "sqs"`},
		{"invalid schedule", nil, "* * * *", `job "tick" of function "fake", schedule`},
		{"invalid override", map[string]string{"JT_CRON_FAKE_TICK": "@every 1m"}, "* * * * *", "JT_CRON_FAKE_TICK"},
		{"invalid in-process flag", map[string]string{"JT_CRON_IN_PROCESS": "sometimes"}, "* * * * *", `JT_CRON_IN_PROCESS "sometimes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			jf := &jobFunction{schedule: tt.schedule}
			err := triggers.Run(context.Background(), nil, lookupMap(testEnv(t, tt.env)), io.Discard, jf.build)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run = %v, want an error mentioning %s", err, tt.wantErr)
			}
		})
	}
}

func TestRunMigrateJobTable(t *testing.T) {
	t.Parallel()
	jf := &jobFunction{schedule: "* * * * *"}
	unreachable := map[string]string{"JT_DATABASE_URL": "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"}

	// With locks in the database, migrate must reach it.
	err := triggers.Run(context.Background(), []string{"migrate"}, lookupMap(testEnv(t, unreachable)), io.Discard, jf.build)
	if err == nil {
		t.Error("migrate with an unreachable database succeeded, want an error")
	}

	// Locks in Redis need no table, so migrate leaves the database alone.
	// The Redis URL is never dialled.
	unreachable["JT_CRON_REDIS_URL"] = "redis://127.0.0.1:1/0"
	if err := triggers.Run(context.Background(), []string{"migrate"}, lookupMap(testEnv(t, unreachable)), io.Discard, jf.build); err != nil {
		t.Errorf("migrate with Redis locks = %v, want nil", err)
	}
}

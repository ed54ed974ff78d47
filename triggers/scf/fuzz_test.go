package scf_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/jingtong/backend/triggers/internal/echo"
	"github.com/jingtong/backend/triggers/scf"
)

// FuzzInvoke feeds arbitrary payloads to the adapter, as an attacker who
// controls headers, paths, query strings and bodies could shape them. Invoke
// must never panic, and every response it returns must be valid JSON.
func FuzzInvoke(f *testing.F) {
	samples, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range samples {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		`{}`, `null`, `[]`, `"x"`,
		`{"httpMethod":"GET","path":"%","requestContext":{},"queryString":{"a":[true,null,1,{}]}}`,
		`{"httpMethod":"GET","path":"/api/x","requestContext":{},"headers":{"x-echo-status":"99999","x-echo-header":":"}}`,
		`{"Type":"Timer","TriggerName":"t","Time":"","Message":"m"}`,
	} {
		f.Add([]byte(seed))
	}

	h := scf.New(echo.Handler, scf.Config{
		BasePath: "/api",
		OnTimer:  func(context.Context, scf.TimerEvent) error { return nil },
	})
	f.Fuzz(func(t *testing.T, payload []byte) {
		out, err := h.Invoke(context.Background(), payload)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Errorf("Invoke returned invalid JSON %q", out)
		}
	})
}

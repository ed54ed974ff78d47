package lambda_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/jingtong/backend/triggers/internal/echo"
	"github.com/jingtong/backend/triggers/lambda"
)

// FuzzInvoke feeds arbitrary payloads to the adapter, as an attacker who
// controls headers, paths and bodies could shape them. Invoke must never panic,
// and every response it returns must be valid JSON.
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
		`{"version":"2.0","rawPath":"/prod/%zz","requestContext":{"stage":"prod","http":{"method":"GET"}}}`,
		`{"httpMethod":"GET","resource":"/","path":"%","multiValueQueryStringParameters":{"a":null}}`,
		`{"httpMethod":"GET","path":"/","requestContext":{"elb":{}},"headers":{"x-echo-status":"0","x-echo-header":":"}}`,
	} {
		f.Add([]byte(seed))
	}

	h := lambda.New(echo.Handler, lambda.Config{BasePath: "/my"})
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

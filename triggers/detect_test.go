package triggers_test

import (
	"strings"
	"testing"

	"github.com/jingtong/backend/triggers"
)

func lookupMap(env map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := env[key]
		return v, ok
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want triggers.Platform
	}{
		{"empty environment", map[string]string{}, triggers.PlatformHTTP},
		{"knative port only", map[string]string{"PORT": "8080", "K_SERVICE": "zones"}, triggers.PlatformHTTP},
		{"explicit http", map[string]string{"JT_PLATFORM": "http"}, triggers.PlatformHTTP},
		{"explicit lambda", map[string]string{"JT_PLATFORM": "lambda"}, triggers.PlatformLambda},
		{"explicit scf", map[string]string{"JT_PLATFORM": "scf"}, triggers.PlatformSCF},
		{"explicit http beats lambda runtime", map[string]string{"JT_PLATFORM": "http", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, triggers.PlatformHTTP},
		{"explicit lambda beats scf", map[string]string{"JT_PLATFORM": "lambda", "SCF_RUNTIME": "Go1", "_LAMBDA_SERVER_PORT": "9000"}, triggers.PlatformLambda},
		{"empty JT_PLATFORM ignored", map[string]string{"JT_PLATFORM": "", "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, triggers.PlatformLambda},
		{"lambda runtime API", map[string]string{"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"}, triggers.PlatformLambda},
		{"lambda go1.x rpc port", map[string]string{"_LAMBDA_SERVER_PORT": "9001", "AWS_LAMBDA_FUNCTION_NAME": "zones"}, triggers.PlatformLambda},
		{"scf runtime with rpc port", map[string]string{"SCF_RUNTIME": "Go1", "_LAMBDA_SERVER_PORT": "9001"}, triggers.PlatformSCF},
		{"scf run env with rpc port", map[string]string{"TENCENTCLOUD_RUNENV": "SCF", "_LAMBDA_SERVER_PORT": "9001"}, triggers.PlatformSCF},
		{"scf function name with rpc port", map[string]string{"SCF_FUNCTIONNAME": "zones", "_LAMBDA_SERVER_PORT": "9001"}, triggers.PlatformSCF},
		{"scf web function", map[string]string{"TENCENTCLOUD_RUNENV": "SCF", "SCF_RUNTIME": "Go1", "PORT": "9000"}, triggers.PlatformHTTP},
		{"other run env with rpc port", map[string]string{"TENCENTCLOUD_RUNENV": "other", "_LAMBDA_SERVER_PORT": "9001"}, triggers.PlatformLambda},
		{"empty scf variables ignored", map[string]string{"SCF_RUNTIME": "", "_LAMBDA_SERVER_PORT": "9001"}, triggers.PlatformLambda},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := triggers.Detect(lookupMap(tt.env))
			if err != nil {
				t.Fatalf("Detect: %v", err)
			}
			if got != tt.want {
				t.Errorf("Detect = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDetectInvalidPlatform(t *testing.T) {
	t.Parallel()
	for _, value := range []string{"knative", "LAMBDA", " scf"} {
		got, err := triggers.Detect(lookupMap(map[string]string{"JT_PLATFORM": value}))
		if err == nil {
			t.Errorf("Detect(JT_PLATFORM=%q) = %q, want an error", value, got)
			continue
		}
		for _, want := range []string{`"` + value + `"`, "http", "lambda", "scf"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %s", err, want)
			}
		}
	}
}

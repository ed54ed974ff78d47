package triggers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jingtong/backend/triggers"
)

func writeSecret(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSecretFilesRead(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"JT_DATABASE_URL_FILE": writeSecret(t, "postgres://app:s3cret@db/jingtong\n"),
		"JT_LOG_LEVEL":         "debug",
	}
	lookup, err := triggers.WithSecretFiles(lookupMap(vars))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := lookup("JT_DATABASE_URL"); !ok || v != "postgres://app:s3cret@db/jingtong" {
		t.Errorf("JT_DATABASE_URL = %q, %v; want the file's line without its newline", v, ok)
	}
	if v, _ := lookup("JT_LOG_LEVEL"); v != "debug" {
		t.Errorf("JT_LOG_LEVEL = %q, want the variable itself", v)
	}
	if _, ok := lookup("JT_REDIS_URL"); ok {
		t.Error("JT_REDIS_URL is set though neither it nor its file is")
	}
}

func TestSecretFilesRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"both set", map[string]string{"JT_REDIS_URL": "redis://a", "JT_REDIS_URL_FILE": writeSecret(t, "redis://b")}, "both JT_REDIS_URL and JT_REDIS_URL_FILE"},
		{"missing file", map[string]string{"JT_NATS_URL_FILE": filepath.Join(t.TempDir(), "absent")}, "JT_NATS_URL_FILE"},
		{"empty file", map[string]string{"JT_CRON_REDIS_URL_FILE": writeSecret(t, "\n")}, "is empty"},
		{"oversized file", map[string]string{"JT_DATABASE_URL_FILE": writeSecret(t, strings.Repeat("x", 70<<10))}, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := triggers.WithSecretFiles(lookupMap(tt.vars))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "redis://b") {
				t.Errorf("error %q quotes the secret", err)
			}
		})
	}
}

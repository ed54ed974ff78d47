package auth_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/jingtong/backend/shared/auth"
)

func TestLoadSecret_sources(t *testing.T) {
	t.Parallel()

	const secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	goodFile := writeFile(t, "  "+secret+"\n")
	emptyFile := writeFile(t, "\n")
	shortFile := writeFile(t, "short\n")

	tests := []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "unset", env: map[string]string{}, want: ""},
		{name: "from variable", env: map[string]string{"JT_X": secret}, want: secret},
		{name: "variable trimmed", env: map[string]string{"JT_X": " " + secret + "\n"}, want: secret},
		{name: "from file", env: map[string]string{"JT_X_FILE": goodFile}, want: secret},
		{name: "both set", env: map[string]string{"JT_X": secret, "JT_X_FILE": goodFile}, wantErr: "set one"},
		{name: "short variable", env: map[string]string{"JT_X": "0123456789"}, wantErr: "at least 32"},
		{name: "short file", env: map[string]string{"JT_X_FILE": shortFile}, wantErr: "at least 32"},
		{name: "empty file", env: map[string]string{"JT_X_FILE": emptyFile}, wantErr: "is empty"},
		{name: "missing file", env: map[string]string{"JT_X_FILE": filepath.Join(t.TempDir(), "absent")}, wantErr: "reading JT_X_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }

			got, err := auth.LoadSecret(lookup, "JT_X")

			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadSecret error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadSecret: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("LoadSecret = %d bytes, want %d bytes", len(got), len(tt.want))
			}
		})
	}
}

func TestLoadSecret_nilLookup(t *testing.T) {
	t.Parallel()

	got, err := auth.LoadSecret(nil, auth.IdentitySecretVar)
	if err != nil || got != nil {
		t.Errorf("LoadSecret(nil lookup) = %d bytes, %v; want nil, nil", len(got), err)
	}
}

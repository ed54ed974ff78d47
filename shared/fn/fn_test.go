package fn_test

import (
	"testing"

	"github.com/jingtong/backend/shared/fn"
)

func TestEnv_getenv(t *testing.T) {
	t.Parallel()

	vars := map[string]string{"JT_SET": "value", "JT_EMPTY": "", "JT_SPACE": " "}
	lookup := func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
	tests := []struct {
		name   string
		lookup func(string) (string, bool)
		key    string
		want   string
	}{
		{name: "set variable returned", lookup: lookup, key: "JT_SET", want: "value"},
		{name: "unset variable gives default", lookup: lookup, key: "JT_UNSET", want: "default"},
		{name: "empty variable gives default", lookup: lookup, key: "JT_EMPTY", want: "default"},
		{name: "space is a value", lookup: lookup, key: "JT_SPACE", want: " "},
		{name: "nil lookup gives default", lookup: nil, key: "JT_SET", want: "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := &fn.Env{Lookup: tt.lookup}
			if got := env.Getenv(tt.key, "default"); got != tt.want {
				t.Errorf("Getenv(%q, %q) = %q, want %q", tt.key, "default", got, tt.want)
			}
		})
	}
}

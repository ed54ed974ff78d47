package auth

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// MinSecretSize is the shortest identity or platform secret in bytes. An
// HMAC-SM3 key shorter than the 32-byte SM3 output weakens the MAC.
const MinSecretSize = 32

// Configuration variables of the secrets. Each may instead name a file that
// holds the secret, in the variable with the suffix "_FILE".
const (
	// IdentitySecretVar holds the HMAC-SM3 key of the identity headers,
	// shared by the gateway and every function.
	IdentitySecretVar = "JT_IDENTITY_SECRET"
	// PlatformSecretVar holds the HMAC-SM3 key of the platform token,
	// shared by the hosts that deliver cron ticks and queue messages and by
	// every function.
	PlatformSecretVar = "JT_PLATFORM_SECRET"
)

// Secret is an HMAC key. Its String, GoString, LogValue and MarshalJSON
// methods print a placeholder, so a secret that ends up in a log line or a
// configuration dump shows no key material.
type Secret []byte

const redactedSecret = "auth.Secret(REDACTED)"

// String returns a placeholder that contains no key material.
func (Secret) String() string { return redactedSecret }

// GoString returns a placeholder that contains no key material.
func (Secret) GoString() string { return redactedSecret }

// LogValue returns a placeholder that contains no key material.
func (Secret) LogValue() slog.Value { return slog.StringValue(redactedSecret) }

// MarshalJSON returns a placeholder JSON string that contains no key
// material.
func (Secret) MarshalJSON() ([]byte, error) {
	return []byte(`"` + redactedSecret + `"`), nil
}

var errShortSecret = fmt.Errorf("auth: secret is shorter than %d bytes", MinSecretSize)

func checkSecret(secret Secret) error {
	if len(secret) < MinSecretSize {
		return errShortSecret
	}
	return nil
}

// LoadSecret reads the secret named by the variable name, or from the file
// that name+"_FILE" names, through lookup (os.LookupEnv in production, a map
// in tests). Surrounding white space is trimmed, and the rest is used as
// bytes: a 64-character hex string is a 64-byte key. It returns nil and no
// error when neither variable is set, and an error when both are set, the
// file cannot be read, or the secret is shorter than [MinSecretSize].
func LoadSecret(lookup func(string) (string, bool), name string) (Secret, error) {
	get := func(key string) string {
		if lookup == nil {
			return ""
		}
		v, _ := lookup(key)
		return strings.TrimSpace(v)
	}
	value, path := get(name), get(name+"_FILE")

	switch {
	case value != "" && path != "":
		return nil, fmt.Errorf("auth: both %s and %s_FILE are set; set one", name, name)
	case path != "":
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("auth: reading %s_FILE: %w", name, err)
		}
		value = strings.TrimSpace(string(data))
		clear(data)
		if value == "" {
			return nil, fmt.Errorf("auth: %s_FILE %q is empty", name, path)
		}
	case value == "":
		return nil, nil
	}

	if len(value) < MinSecretSize {
		return nil, fmt.Errorf("auth: %s has %d bytes; use at least %d, such as the output of `openssl rand -hex 32`", name, len(value), MinSecretSize)
	}
	return Secret(value), nil
}

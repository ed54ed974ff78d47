package zones

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jingtong/backend/functions/zones/page"
	"github.com/jingtong/backend/shared/auth"
)

// Configuration defaults.
const (
	// DefaultCacheTTL is how long a rendered page stays in memory.
	DefaultCacheTTL = 10 * time.Second
	// DefaultMaxBody is the request body limit in bytes: the largest page
	// or template document (page.MaxDocumentBytes, 1 MiB) plus
	// bodyEnvelopeBytes, so that a request carrying a document at that
	// limit is accepted. That is 1,114,112 bytes.
	DefaultMaxBody = page.MaxDocumentBytes + bodyEnvelopeBytes

	// bodyEnvelopeBytes is the room a request needs besides its document:
	// a page save adds about 30 bytes, and a template adds its name, theme
	// and window, which its field limits keep under 2 KiB.
	bodyEnvelopeBytes = 64 << 10

	maxCacheTTL = time.Hour
	minMaxBody  = 4 << 10
	maxMaxBody  = 16 << 20
)

// Config is the zones function's configuration, read from the environment
// at start-up.
type Config struct {
	// OperatorTokenFile is the file holding the operator bearer token
	// (JT_OPERATOR_TOKEN_FILE). When it is empty or the file is missing,
	// every admin request gets 401.
	OperatorTokenFile string
	// Seed loads the demo catalogue at start-up (JT_ZONES_SEED, true or
	// false; default false). The package function Seed describes how it
	// keeps existing rows, operator edits and deletions.
	Seed bool
	// CacheTTL is how long a rendered page is served from memory, as a Go
	// duration such as "10s" (JT_ZONES_CACHE_TTL; default 10s, at most 1h).
	// Zero disables the cache.
	CacheTTL time.Duration
	// MaxBody is the request body limit in bytes (JT_ZONES_MAX_BODY; default
	// DefaultMaxBody, 1114112; from 4096 to 16777216). A page or template
	// document must fit in the body together with the rest of its request,
	// so a limit below the default also lowers the largest document that
	// can be saved below page.MaxDocumentBytes.
	MaxBody int64
}

// DefaultConfig returns the configuration used when no variable is set.
func DefaultConfig() Config {
	return Config{CacheTTL: DefaultCacheTTL, MaxBody: DefaultMaxBody}
}

// LoadConfig reads the configuration through lookup and reports every
// invalid variable in one error.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	cfg := DefaultConfig()
	get := func(key string) string {
		if lookup == nil {
			return ""
		}
		v, _ := lookup(key)
		return strings.TrimSpace(v)
	}
	var problems []error

	cfg.OperatorTokenFile = get("JT_OPERATOR_TOKEN_FILE")

	if v := get("JT_ZONES_SEED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("JT_ZONES_SEED=%q: want true or false", v))
		}
		cfg.Seed = b
	}

	if v := get("JT_ZONES_CACHE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("JT_ZONES_CACHE_TTL=%q: want a duration such as 10s", v))
		case d < 0 || d > maxCacheTTL:
			problems = append(problems, fmt.Errorf("JT_ZONES_CACHE_TTL=%q: want a duration from 0s to %s", v, maxCacheTTL))
		default:
			cfg.CacheTTL = d
		}
	}

	if v := get("JT_ZONES_MAX_BODY"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			problems = append(problems, fmt.Errorf("JT_ZONES_MAX_BODY=%q: want a number of bytes", v))
		case n < minMaxBody || n > maxMaxBody:
			problems = append(problems, fmt.Errorf("JT_ZONES_MAX_BODY=%q: want from %d to %d bytes", v, minMaxBody, maxMaxBody))
		default:
			cfg.MaxBody = n
		}
	}

	if len(problems) > 0 {
		return cfg, fmt.Errorf("zones: invalid configuration: %w", errors.Join(problems...))
	}
	return cfg, nil
}

// loadSecrets reads the HMAC-SM3 keys of the identity headers that the
// gateway signs (JT_IDENTITY_SECRET or JT_IDENTITY_SECRET_FILE) and of the
// platform token (JT_PLATFORM_SECRET or JT_PLATFORM_SECRET_FILE). An unset
// secret is empty, and its credential is then never accepted. The secrets
// stay out of Config so that Config remains a comparable value.
func loadSecrets(lookup func(string) (string, bool)) (identity, platform auth.Secret, err error) {
	identity, identityErr := auth.LoadSecret(lookup, auth.IdentitySecretVar)
	platform, platformErr := auth.LoadSecret(lookup, auth.PlatformSecretVar)
	if err := errors.Join(identityErr, platformErr); err != nil {
		return nil, nil, fmt.Errorf("zones: invalid configuration: %w", err)
	}
	return identity, platform, nil
}

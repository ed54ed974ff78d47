package zones

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Configuration defaults.
const (
	// DefaultCacheTTL is how long a rendered page stays in memory.
	DefaultCacheTTL = 10 * time.Second
	// DefaultMaxBody is the request body limit in bytes (1 MiB).
	DefaultMaxBody = 1 << 20

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
	// Seed loads the demo catalogue at start-up, keeping existing rows
	// (JT_ZONES_SEED, true or false; default false).
	Seed bool
	// CacheTTL is how long a rendered page is served from memory, as a Go
	// duration such as "10s" (JT_ZONES_CACHE_TTL; default 10s, at most 1h).
	// Zero disables the cache.
	CacheTTL time.Duration
	// MaxBody is the request body limit in bytes (JT_ZONES_MAX_BODY; default
	// 1048576, from 4096 to 16777216).
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

package localdev

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"

	"github.com/jingtong/backend/shared/obs"
)

// Defaults of the localdev configuration.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultDataDir      = ".data"
	DefaultDrainTimeout = 10 * time.Second
)

// Config is localdev's configuration, read from JT_* variables.
type Config struct {
	// Addr is the listen address (JT_ADDR, default 127.0.0.1:8080).
	Addr string
	// DataDir keeps the SQLite database, the operator token and other local
	// state (JT_DATA_DIR, default ./.data).
	DataDir string
	// DatabaseURL selects PostgreSQL when set (JT_DATABASE_URL); empty means
	// SQLite at DataDir/jingtong.db.
	DatabaseURL string
	// LogLevel is debug, info, warn or error (JT_LOG_LEVEL, default info).
	LogLevel slog.Level
	// DrainTimeout bounds graceful shutdown (JT_DRAIN_TIMEOUT, default 10s).
	DrainTimeout time.Duration
}

// LoadConfig reads the configuration through lookup and reports every
// invalid value at once.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	get := func(key, def string) string {
		if v, ok := lookup(key); ok && v != "" {
			return v
		}
		return def
	}

	cfg := Config{
		Addr:        get("JT_ADDR", DefaultAddr),
		DataDir:     get("JT_DATA_DIR", DefaultDataDir),
		DatabaseURL: get("JT_DATABASE_URL", ""),
		LogLevel:    obs.ParseLevel(get("JT_LOG_LEVEL", "info")),
	}

	var problems []error
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		problems = append(problems, fmt.Errorf("JT_ADDR %q: want host:port: %w", cfg.Addr, err))
	}
	drain, err := time.ParseDuration(get("JT_DRAIN_TIMEOUT", DefaultDrainTimeout.String()))
	if err != nil || drain <= 0 {
		problems = append(problems, fmt.Errorf("JT_DRAIN_TIMEOUT %q: want a positive duration such as 10s", get("JT_DRAIN_TIMEOUT", "")))
	}
	cfg.DrainTimeout = drain
	if len(problems) > 0 {
		return cfg, fmt.Errorf("localdev: invalid configuration: %w", errors.Join(problems...))
	}
	return cfg, nil
}

// databaseDSN returns the DSN localdev opens.
func (c Config) databaseDSN() string {
	if c.DatabaseURL != "" {
		return c.DatabaseURL
	}
	return filepath.Join(c.DataDir, "jingtong.db")
}

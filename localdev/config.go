package localdev

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
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
	// OperatorTokenFile holds the development operator token
	// (JT_OPERATOR_TOKEN_FILE, default DataDir/operator-token). localdev
	// creates it with a new random token when it does not exist.
	OperatorTokenFile string
	// DrainTimeout bounds graceful shutdown (JT_DRAIN_TIMEOUT, default 10s).
	DrainTimeout time.Duration
	// CallbackNetworks are the networks that the callbacks of asynchronous
	// calls may connect to (JT_FAAS_CALLBACK_NETWORKS, comma-separated
	// CIDR prefixes or addresses). Empty means DefaultCallbackNetworks,
	// loopback only.
	CallbackNetworks []netip.Prefix
	// Tracing selects where the spans of every hosted function go, from
	// the OTEL_* variables (see obs.TracingConfigFromEnv). LoadConfig
	// defaults to the console exporter on stdout, which localdev keeps
	// free of logs (they go to stderr). The zero value exports nothing.
	Tracing obs.TracingConfig
}

// DefaultServiceName is the service.name of localdev's spans unless
// OTEL_SERVICE_NAME sets one. The server spans are named after their
// function, such as "GET zones".
const DefaultServiceName = "localdev"

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
	}
	cfg.OperatorTokenFile = get("JT_OPERATOR_TOKEN_FILE", filepath.Join(cfg.DataDir, OperatorTokenFile))

	var problems []error
	if err := cfg.LogLevel.UnmarshalText([]byte(get("JT_LOG_LEVEL", "info"))); err != nil {
		problems = append(problems, fmt.Errorf("JT_LOG_LEVEL %q: want debug, info, warn or error", get("JT_LOG_LEVEL", "")))
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		problems = append(problems, fmt.Errorf("JT_ADDR %q: want host:port: %w", cfg.Addr, err))
	}
	drain, err := time.ParseDuration(get("JT_DRAIN_TIMEOUT", DefaultDrainTimeout.String()))
	if err != nil || drain <= 0 {
		problems = append(problems, fmt.Errorf("JT_DRAIN_TIMEOUT %q: want a positive duration such as 10s", get("JT_DRAIN_TIMEOUT", "")))
	}
	cfg.DrainTimeout = drain
	if v := get("JT_FAAS_CALLBACK_NETWORKS", ""); v != "" {
		networks, err := parseNetworks(v)
		if err != nil {
			problems = append(problems, fmt.Errorf("JT_FAAS_CALLBACK_NETWORKS %q: want comma-separated CIDR prefixes or addresses such as 127.0.0.0/8,::1: %w", v, err))
		}
		cfg.CallbackNetworks = networks
	}
	tracing, err := obs.TracingConfigFromEnv(lookup, obs.ExporterConsole)
	if err != nil {
		problems = append(problems, err)
	}
	if tracing.ServiceName == "" {
		tracing.ServiceName = DefaultServiceName
	}
	cfg.Tracing = tracing
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

// parseNetworks parses comma-separated CIDR prefixes or addresses; an
// address is the prefix of that one address.
func parseNetworks(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if strings.Contains(item, "/") {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Masked())
			continue
		}
		addr, err := netip.ParseAddr(item)
		if err != nil {
			return nil, err
		}
		addr = addr.WithZone("")
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	if len(out) == 0 {
		return nil, errors.New("no network given")
	}
	return out, nil
}

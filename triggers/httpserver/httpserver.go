// Package httpserver serves an http.Handler as a plain HTTP server, the way
// container platforms run a function:
//
//   - Knative sets PORT and sends traffic there.
//   - OpenFaaS of-watchdog in http mode forwards each request to the
//     upstream_url set in the function image, which must name the port the
//     function listens on.
//   - Tencent SCF web functions start the binary from scf_bootstrap and send
//     requests to port 9000, on an address other than 127.0.0.1
//     (intl.cloud.tencent.com/document/product/583/40690). scf_bootstrap must
//     set PORT=9000, and the default address ":9000" listens on all
//     interfaces.
//
// The server has read, write and idle timeouts and a header size limit
// (httpx.LimitHeaders), and drains when its context ends: it stops
// accepting connections, waits for requests in flight up to
// Config.DrainTimeout, then closes what is left.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/jingtong/backend/shared/httpx"
)

// Defaults for the zero values of Config.
const (
	// DefaultPort is the port used when PORT is not set, the port that
	// Knative and the OpenFaaS templates use.
	DefaultPort = "8080"

	// DefaultReadHeaderTimeout bounds how long a client may take to send the
	// request header, which limits slow-header (Slowloris) connections.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading the whole request, body included.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds the time from the end of the request header
	// to the end of the response, so it caps handler run time.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultIdleTimeout bounds how long a keep-alive connection waits for its
	// next request.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultDrainTimeout bounds the wait for requests in flight at shutdown.
	// It stays below the 30 s that Kubernetes allows between SIGTERM and
	// SIGKILL by default, so the drain finishes before the kill.
	DefaultDrainTimeout = 20 * time.Second
)

// Config configures the server. A zero field takes its Default value. A
// negative timeout disables that timeout.
type Config struct {
	// Addr is the TCP address to listen on. Default ":" + DefaultPort.
	Addr string

	// ReadHeaderTimeout bounds reading the request header. Default
	// DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request. Default
	// DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request header to the
	// end of the response. Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// DrainTimeout bounds the wait for requests in flight at shutdown.
	// Default DefaultDrainTimeout. A negative value closes connections at
	// once.
	DrainTimeout time.Duration

	// Logger receives start, drain and stop messages and server errors. Nil
	// discards them.
	Logger *slog.Logger
}

// ErrDrainTimeout is returned when requests were still in flight at the end
// of the drain timeout. Their connections were closed.
var ErrDrainTimeout = errors.New("httpserver: drain timed out, closed connections with requests in flight")

// ListenAndServe listens on cfg.Addr and serves h until ctx ends, then drains.
// See Serve.
func ListenAndServe(ctx context.Context, h http.Handler, cfg Config) error {
	cfg = cfg.withDefaults()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("httpserver: listening on %q: %w", cfg.Addr, err)
	}
	return Serve(ctx, ln, h, cfg)
}

// Serve serves h on ln until ctx ends, then stops accepting connections and
// waits up to cfg.DrainTimeout for requests in flight. It returns nil after a
// complete drain and ErrDrainTimeout when the wait ran out. Request contexts
// keep ctx's values but not its cancellation, so requests in flight can
// finish. Serve closes ln.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, cfg Config) error {
	cfg = cfg.withDefaults()
	logger := cfg.Logger

	srv := &http.Server{
		Handler:           httpx.LimitHeaders(httpx.FunctionMaxHeaderBytes)(h),
		MaxHeaderBytes:    httpx.ServerMaxHeaderBytes,
		ReadHeaderTimeout: positive(cfg.ReadHeaderTimeout),
		ReadTimeout:       positive(cfg.ReadTimeout),
		WriteTimeout:      positive(cfg.WriteTimeout),
		IdleTimeout:       positive(cfg.IdleTimeout),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("http server listening", "addr", ln.Addr().String())

	select {
	case err := <-serveErr:
		return fmt.Errorf("httpserver: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	return shutdown(srv, serveErr, cfg.DrainTimeout, logger)
}

func shutdown(srv *http.Server, serveErr <-chan error, drainTimeout time.Duration, logger *slog.Logger) error {
	logger.Info("http server draining", "drain_timeout", drainTimeout.String())

	drainCtx, cancel := context.WithTimeout(context.Background(), positive(drainTimeout))
	defer cancel()
	err := srv.Shutdown(drainCtx)
	if stopErr := <-serveErr; !errors.Is(stopErr, http.ErrServerClosed) {
		logger.Warn("http server stopped serving with an error", "err", stopErr)
	}

	if errors.Is(err, context.DeadlineExceeded) {
		closeErr := srv.Close()
		logger.Warn("http server drain timed out, closed remaining connections", "drain_timeout", drainTimeout.String())
		return errors.Join(ErrDrainTimeout, closeErr)
	}
	if err != nil {
		return fmt.Errorf("httpserver: shutting down: %w", err)
	}

	logger.Info("http server stopped")
	return nil
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = ":" + DefaultPort
	}
	c.ReadHeaderTimeout = orDefault(c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	c.ReadTimeout = orDefault(c.ReadTimeout, DefaultReadTimeout)
	c.WriteTimeout = orDefault(c.WriteTimeout, DefaultWriteTimeout)
	c.IdleTimeout = orDefault(c.IdleTimeout, DefaultIdleTimeout)
	c.DrainTimeout = orDefault(c.DrainTimeout, DefaultDrainTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// positive maps a negative duration, which means "disabled" in Config, to 0.
// net/http reads 0 as no timeout, and context.WithTimeout(0) expires at once.
func positive(d time.Duration) time.Duration {
	return max(d, 0)
}

// ConfigFromEnv reads the server configuration through lookup:
//
//   - JT_HTTP_ADDR is the full listen address, such as "127.0.0.1:8080". When
//     unset, the address is ":" + PORT, and ":8080" without PORT.
//   - JT_HTTP_READ_HEADER_TIMEOUT, JT_HTTP_READ_TIMEOUT,
//     JT_HTTP_WRITE_TIMEOUT, JT_HTTP_IDLE_TIMEOUT and JT_HTTP_DRAIN_TIMEOUT
//     are Go durations such as "45s". Unset or zero means the default, and
//     a negative value disables the timeout.
//
// It reports every invalid value in one error.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	var cfg Config
	var errs []error

	if addr, ok := lookup("JT_HTTP_ADDR"); ok && addr != "" {
		cfg.Addr = addr
	} else if port, ok := lookup("PORT"); ok && port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("invalid PORT %q: want a TCP port number", port))
		}
		cfg.Addr = ":" + port
	}

	durations := []struct {
		key   string
		field *time.Duration
	}{
		{"JT_HTTP_READ_HEADER_TIMEOUT", &cfg.ReadHeaderTimeout},
		{"JT_HTTP_READ_TIMEOUT", &cfg.ReadTimeout},
		{"JT_HTTP_WRITE_TIMEOUT", &cfg.WriteTimeout},
		{"JT_HTTP_IDLE_TIMEOUT", &cfg.IdleTimeout},
		{"JT_HTTP_DRAIN_TIMEOUT", &cfg.DrainTimeout},
	}
	for _, d := range durations {
		v, ok := lookup(d.key)
		if !ok || v == "" {
			continue
		}
		parsed, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("invalid %s %q: want a duration such as 30s", d.key, v))
			continue
		}
		*d.field = parsed
	}

	if err := errors.Join(errs...); err != nil {
		return Config{}, fmt.Errorf("httpserver: %w", err)
	}
	return cfg, nil
}

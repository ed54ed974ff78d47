package envelope

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/jingtong/backend/shared/httpx"
	"github.com/jingtong/backend/shared/smcrypto"
)

// Defaults of Config.
const (
	// DefaultSkew is how far a timestamp may be from the gateway's clock,
	// either way. Nonces are kept for twice as long.
	DefaultSkew = 5 * time.Minute
	// DefaultSessionTTL is how long a session lasts from when it opens.
	DefaultSessionTTL = 30 * time.Minute
	// DefaultMaxBody is the largest request body accepted as sent, in bytes:
	// 1.5 MiB of base64, which holds a sealed plaintext of just over 1 MiB.
	DefaultMaxBody = 3 << 19
	// DefaultMaxResponseBody is the largest plaintext response body the
	// gateway protects, in bytes (8 MiB). A larger response becomes a
	// protected 500 error.
	DefaultMaxResponseBody = 8 << 20
	// maxOpenBody bounds a session-open request body in bytes.
	maxOpenBody = 4 << 10
)

// DefaultModes are the modes a gateway accepts when Config.Modes is empty.
var DefaultModes = []Mode{ModeGCM, ModeCBCHMAC}

// Config configures a Server.
type Config struct {
	// Keys finds the gateway's SM2 keys: the key that decrypts a client's
	// key material by the key ID the client names, and the signing key.
	// Required.
	Keys smcrypto.KeyProvider
	// Sessions stores open sessions. Required.
	Sessions SessionStore
	// Nonces stores used nonces. Required.
	Nonces NonceStore
	// Now is the clock. The default is time.Now.
	Now func() time.Time
	// Rand supplies session IDs, response nonces, IVs and GCM nonces. It
	// must be safe for concurrent use. The default is crypto/rand.Reader.
	Rand io.Reader
	// Skew is how far a request timestamp may be from Now, either way. The
	// default is DefaultSkew (5 minutes). Nonces are kept for 2×Skew.
	Skew time.Duration
	// SessionTTL is how long a session lasts. The default is
	// DefaultSessionTTL (30 minutes).
	SessionTTL time.Duration
	// MaxBody is the largest request body in bytes as sent. The default is
	// DefaultMaxBody (1.5 MiB).
	MaxBody int64
	// MaxResponseBody is the largest plaintext response body in bytes. The
	// default is DefaultMaxResponseBody (8 MiB).
	MaxResponseBody int64
	// Modes are the session modes the gateway accepts. The default is
	// DefaultModes, both modes.
	Modes []Mode
	// Logger receives store failures, internal errors at Error level and
	// rejected requests at Debug level. The default discards.
	Logger *slog.Logger
}

// Server implements the gateway side of the protocol: the session-open
// handler, request unwrapping and response wrapping. It is safe for
// concurrent use.
type Server struct {
	keys            smcrypto.KeyProvider
	sessions        SessionStore
	nonces          NonceStore
	now             func() time.Time
	rand            io.Reader
	skew            time.Duration
	sessionTTL      time.Duration
	maxBody         int64
	maxResponseBody int64
	modes           []Mode
	logger          *slog.Logger
	skewArg         int64 // Skew in whole seconds, for TIMESTAMP_SKEW
}

// New returns a Server for cfg. It reports every missing or invalid field
// together.
func New(cfg Config) (*Server, error) {
	s := &Server{
		keys:            cfg.Keys,
		sessions:        cfg.Sessions,
		nonces:          cfg.Nonces,
		now:             cfg.Now,
		rand:            cfg.Rand,
		skew:            cmpOr(cfg.Skew, DefaultSkew),
		sessionTTL:      cmpOr(cfg.SessionTTL, DefaultSessionTTL),
		maxBody:         cmpOr(cfg.MaxBody, DefaultMaxBody),
		maxResponseBody: cmpOr(cfg.MaxResponseBody, DefaultMaxResponseBody),
		modes:           slices.Clone(cfg.Modes),
		logger:          cfg.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if len(s.modes) == 0 {
		s.modes = slices.Clone(DefaultModes)
	}
	s.skewArg = int64(s.skew / time.Second)

	var errs []error
	if s.keys == nil {
		errs = append(errs, errors.New("missing Keys"))
	}
	if s.sessions == nil {
		errs = append(errs, errors.New("missing Sessions"))
	}
	if s.nonces == nil {
		errs = append(errs, errors.New("missing Nonces"))
	}
	if s.skew < time.Second {
		errs = append(errs, fmt.Errorf("skew %v is shorter than 1s", s.skew))
	}
	if s.sessionTTL < time.Second {
		errs = append(errs, fmt.Errorf("session TTL %v is shorter than 1s", s.sessionTTL))
	}
	if s.maxBody < 0 || s.maxResponseBody < 0 {
		errs = append(errs, errors.New("negative MaxBody or MaxResponseBody"))
	}
	for _, m := range s.modes {
		if !m.Valid() {
			errs = append(errs, fmt.Errorf("unknown mode %q in Modes; use %q or %q", m, ModeGCM, ModeCBCHMAC))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("envelope: invalid config: %w", errors.Join(errs...))
	}
	return s, nil
}

// cmpOr returns v unless it is the zero value, and def otherwise.
func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// nonceTTL is how long a nonce is remembered: a request with timestamp t is
// accepted until t+Skew and may arrive as early as t−Skew, so 2×Skew from
// its arrival covers every replay that the timestamp check lets through.
func (s *Server) nonceTTL() time.Duration {
	return 2 * s.skew
}

// checkTimestamp returns TIMESTAMP_SKEW unless ts is within Skew of now.
func (s *Server) checkTimestamp(ts, now time.Time) error {
	if d := ts.Sub(now); d > s.skew || d < -s.skew {
		return httpx.E(CodeTimestampSkew, s.skewArg)
	}
	return nil
}

// dependencyError maps a failure of a store or of the key provider to
// NOT_READY and logs it.
func (s *Server) dependencyError(ctx context.Context, op string, err error) error {
	s.logger.ErrorContext(ctx, "envelope dependency failed", "op", op, "request_id", httpx.RequestID(ctx), "err", err)
	return httpx.Wrap(httpx.CodeNotReady, err)
}

// Middleware returns a handler that unwraps each request and calls next
// with the plaintext request, then protects its response. A request that
// fails to unwrap gets its error in plaintext, because no session can
// protect it.
func (s *Server) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plain, sess, err := s.Unwrap(r)
		if err != nil {
			httpx.WriteError(w, r, s.logger, err)
			return
		}

		rw, finish := s.WrapResponse(w, plain, sess)
		next.ServeHTTP(rw, plain)
		if err := finish(); err != nil {
			s.logger.ErrorContext(r.Context(), "protecting the response failed",
				"request_id", httpx.RequestID(r.Context()), "session", sess, "err", err)
		}
	})
}

// BindSubject binds the user subject to the session and stores the
// change. Later lookups of the session return the subject.
func (s *Server) BindSubject(ctx context.Context, sess *Session, subject string) (*Session, error) {
	bound := *sess
	bound.Subject = subject
	if err := s.sessions.Put(ctx, &bound); err != nil {
		return nil, fmt.Errorf("envelope: binding subject to session: %w", err)
	}
	return &bound, nil
}

// CloseSession deletes the session, so that later requests in it get
// SESSION_NOT_FOUND.
func (s *Server) CloseSession(ctx context.Context, id SessionID) error {
	if err := s.sessions.Delete(ctx, id); err != nil {
		return fmt.Errorf("envelope: closing session: %w", err)
	}
	return nil
}

type contextKey struct{}

// requestState is the state that Unwrap leaves in the plaintext request's
// context for WrapResponse and for later handlers. It is also the plaintext body,
// so that one allocation serves both.
type requestState struct {
	bytes.Reader
	session   *Session
	sessionID string              // the request's X-JT-Session
	nonce     string              // the request's X-JT-Nonce
	nonceHex  [2 * NonceSize]byte // the same, as additional data
}

// Close does nothing: the plaintext body is in memory.
func (*requestState) Close() error { return nil }

// SessionFromContext returns the session of a request that Unwrap
// returned, or nil.
func SessionFromContext(ctx context.Context) *Session {
	if st, ok := ctx.Value(contextKey{}).(*requestState); ok {
		return st.session
	}
	return nil
}

package envelope

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Errors that stores return and callers branch on.
var (
	// ErrSessionNotFound is returned by SessionStore.Get for a session that
	// does not exist or has expired.
	ErrSessionNotFound = errors.New("envelope: session not found")

	// ErrStoreFull is returned by a memory store that has no room for a new
	// entry. A nonce store never evicts a nonce early, because that would
	// let its request be replayed.
	ErrStoreFull = errors.New("envelope: store is full")
)

// Session is an open session: its ID, mode, keys, key ID, lifetime and
// bound subject. Callers must not change a stored session, because stores
// may share it between requests. [Server.BindSubject] stores a changed copy.
type Session struct {
	// ID is the session ID.
	ID SessionID
	// Mode is the body scheme the gateway chose from the client's modes.
	Mode Mode
	// KID is the ID of the gateway key the client encrypted its key
	// material to.
	KID string
	// CreatedAt and ExpiresAt bound the session's life; both have
	// millisecond precision.
	CreatedAt time.Time
	ExpiresAt time.Time
	// Subject is the user bound to the session, empty until the identity
	// step binds one.
	Subject string

	keys *Keys
}

// Keys returns the session's symmetric keys.
func (s *Session) Keys() *Keys {
	return s.keys
}

// String returns the session's ID, mode and expiry, never its keys.
func (s *Session) String() string {
	return fmt.Sprintf("envelope.Session{ID: %s, Mode: %s, ExpiresAt: %s}", s.ID, s.Mode, s.ExpiresAt.UTC().Format(time.RFC3339))
}

// LogValue logs the session's ID, mode and expiry, never its keys.
func (s *Session) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID.String()),
		slog.String("mode", string(s.Mode)),
		slog.Time("expires_at", s.ExpiresAt),
	)
}

// sessionCodecVersion is the first byte of an encoded session.
const sessionCodecVersion = 1

// MarshalBinary encodes the session for a store, keys included:
//
//	version (1) ‖ ID (16) ‖ created_at ms (8) ‖ expires_at ms (8) ‖
//	len ‖ mode ‖ len ‖ kid ‖ len ‖ subject ‖ len ‖ key block
//
// with big-endian integers and each len a 16-bit big-endian byte count.
func (s *Session) MarshalBinary() ([]byte, error) {
	if s.keys == nil {
		return nil, errors.New("envelope: session has no keys")
	}
	fields := [][]byte{[]byte(s.Mode), []byte(s.KID), []byte(s.Subject), s.keys.block}
	size := 1 + SessionIDSize + 16
	for _, f := range fields {
		if len(f) > 0xffff {
			return nil, errors.New("envelope: session field longer than 65535 bytes")
		}
		size += 2 + len(f)
	}

	out := make([]byte, 0, size)
	out = append(out, sessionCodecVersion)
	out = append(out, s.ID[:]...)
	out = binary.BigEndian.AppendUint64(out, uint64(s.CreatedAt.UnixMilli()))
	out = binary.BigEndian.AppendUint64(out, uint64(s.ExpiresAt.UnixMilli()))
	for _, f := range fields {
		out = binary.BigEndian.AppendUint16(out, uint16(len(f)))
		out = append(out, f...)
	}
	return out, nil
}

var errSessionEncoding = errors.New("envelope: invalid session encoding")

// UnmarshalBinary decodes what MarshalBinary encoded and rebuilds the keys.
func (s *Session) UnmarshalBinary(data []byte) error {
	const fixed = 1 + SessionIDSize + 16
	if len(data) < fixed || data[0] != sessionCodecVersion {
		return errSessionEncoding
	}
	var out Session
	copy(out.ID[:], data[1:1+SessionIDSize])
	out.CreatedAt = time.UnixMilli(int64(binary.BigEndian.Uint64(data[1+SessionIDSize:])))
	out.ExpiresAt = time.UnixMilli(int64(binary.BigEndian.Uint64(data[9+SessionIDSize:])))

	rest := data[fixed:]
	var fields [4][]byte
	for i := range fields {
		if len(rest) < 2 {
			return errSessionEncoding
		}
		n := int(binary.BigEndian.Uint16(rest))
		if len(rest) < 2+n {
			return errSessionEncoding
		}
		fields[i], rest = rest[2:2+n], rest[2+n:]
	}
	if len(rest) != 0 {
		return errSessionEncoding
	}

	out.Mode = Mode(fields[0])
	out.KID = string(fields[1])
	out.Subject = string(fields[2])
	keys, err := keysFromBlock(out.Mode, append([]byte(nil), fields[3]...))
	if err != nil {
		return fmt.Errorf("%w: %w", errSessionEncoding, err)
	}
	out.keys = keys
	*s = out
	return nil
}

// SessionStore keeps open sessions until they expire. Implementations are
// safe for concurrent use.
type SessionStore interface {
	// Put stores sess until sess.ExpiresAt, replacing any session with the
	// same ID. The memory store may evict another session to make room.
	Put(ctx context.Context, sess *Session) error
	// Get returns the session with ID id, or ErrSessionNotFound when there
	// is none or it has expired. The caller must not modify the result.
	Get(ctx context.Context, id SessionID) (*Session, error)
	// Delete removes the session with ID id. Deleting a session that does
	// not exist is not an error.
	Delete(ctx context.Context, id SessionID) error
}

// NonceStore remembers the nonces that sessions used, so that a request
// cannot be replayed. Implementations are safe for concurrent use.
type NonceStore interface {
	// Claim records nonce for session id for ttl and reports whether it is
	// new: false means the session already used it within ttl. Session-open
	// requests use the zero SessionID. A memory store that is full of live
	// nonces returns ErrStoreFull.
	Claim(ctx context.Context, id SessionID, nonce Nonce, ttl time.Duration) (bool, error)
}

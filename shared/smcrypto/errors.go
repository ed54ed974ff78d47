package smcrypto

import (
	"errors"
	"fmt"
	"strconv"
)

// Errors that callers branch on.
var (
	// ErrOpen is returned by every failed Open of a [Sealer]: a wrong tag, a
	// wrong length, bad padding or a truncated input. A single value keeps
	// padding and format oracles out of reach.
	ErrOpen = errors.New("smcrypto: message authentication failed")

	// ErrDecrypt is returned by every failed SM2 decryption, whatever the
	// cause: an unknown format, a C1 that is not a curve point, or a C3 that
	// does not match.
	ErrDecrypt = errors.New("smcrypto: SM2 decryption failed")

	// ErrKeyNotFound is returned, possibly wrapped, by a [KeyProvider] that
	// has no key with the requested key ID.
	ErrKeyNotFound = errors.New("smcrypto: key not found")
)

// KeySizeError reports a key or secret of the wrong length in bytes.
type KeySizeError int

func (k KeySizeError) Error() string {
	return "smcrypto: invalid key size " + strconv.Itoa(int(k))
}

// RemoteError is a failure reported by a remote key service: any response
// other than 200 that the client does not map to [ErrKeyNotFound] or
// [ErrDecrypt].
type RemoteError struct {
	// Op is the request, such as "sign" or "list keys".
	Op string
	// KID is the key ID of the request, empty for the key listing.
	KID string
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code is the error code from the response body, empty if none was sent.
	Code string
}

func (e *RemoteError) Error() string {
	msg := fmt.Sprintf("smcrypto: remote %s", e.Op)
	if e.KID != "" {
		msg += fmt.Sprintf(" for key %q", e.KID)
	}
	msg += fmt.Sprintf(" failed with HTTP status %d", e.StatusCode)
	if e.Code != "" {
		msg += fmt.Sprintf(" and code %q", e.Code)
	}
	return msg
}

package envelope

import "time"

// KeyBlock exposes the derived key block, so that tests can build bodies
// that the Sealers never produce, such as CBC ciphertext with bad padding.
func KeyBlock(k *Keys) []byte {
	return k.block
}

// NewSessionForTest returns a session with the given fields and keys, as
// OpenSession would store it.
func NewSessionForTest(id SessionID, mode Mode, kid string, created, expires time.Time, keys *Keys) *Session {
	return &Session{ID: id, Mode: mode, KID: kid, CreatedAt: created, ExpiresAt: expires, keys: keys}
}

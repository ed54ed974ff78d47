package smcrypto

import (
	"crypto/hkdf"
	"crypto/hmac"
	"fmt"
	"hash"

	"github.com/emmansun/gmsm/sm3"
)

// SM3Size is the size of an SM3 digest and of an HMAC-SM3 tag in bytes.
const SM3Size = sm3.Size

// SumSM3 returns the SM3 digest of data (GB/T 32905).
func SumSM3(data []byte) [SM3Size]byte {
	return sm3.Sum(data)
}

// NewSM3 returns a new SM3 hash.Hash.
func NewSM3() hash.Hash {
	return sm3.New()
}

// NewHMAC returns a new HMAC-SM3 hash.Hash keyed with key. Compare tags with
// [EqualMAC], never with bytes.Equal or ==.
func NewHMAC(key []byte) hash.Hash {
	return hmac.New(sm3.New, key)
}

// SumHMAC returns the HMAC-SM3 tag of msg under key. It matches sm-crypto's
// sm3(msg, {key}).
func SumHMAC(key, msg []byte) [SM3Size]byte {
	h := NewHMAC(key)
	h.Write(msg)

	var tag [SM3Size]byte
	h.Sum(tag[:0])
	return tag
}

// EqualMAC reports whether the tags a and b are equal, in time that depends
// only on their lengths.
func EqualMAC(a, b []byte) bool {
	return hmac.Equal(a, b)
}

// HKDF derives length bytes from secret with HKDF-SM3 (RFC 5869 with SM3 as
// the hash), the same as sm-crypto-v2's hkdf(ikm, salt, info, length). An
// empty salt means a salt of 32 zero bytes, as RFC 5869 specifies. length may
// be at most 255·32 bytes.
func HKDF(secret, salt []byte, info string, length int) ([]byte, error) {
	key, err := hkdf.Key(sm3.New, secret, salt, info, length)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: deriving %d bytes with HKDF-SM3: %w", length, err)
	}
	return key, nil
}

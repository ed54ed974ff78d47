package envelope

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/jingtong/backend/shared/smcrypto"
)

// keyInfoPrefix starts the HKDF info string; the mode name follows it, so
// the two modes never share keys: "JT-KEYS-V1:gcm" or "JT-KEYS-V1:cbc-hmac".
const keyInfoPrefix = "JT-KEYS-V1:"

// Sizes of the derived key blocks. Both start with the request MAC key and
// the response MAC key (32 bytes each). GCM follows with the request and
// response SM4 keys (16 bytes each). CBC-HMAC follows with the request SM4
// key and body MAC key, then the response SM4 key and body MAC key (16 and
// 32 bytes each).
const (
	gcmKeyBlockSize     = 2*MACSize + 2*smcrypto.SM4KeySize
	cbcHMACKeyBlockSize = 2*MACSize + 2*(smcrypto.SM4KeySize+MACSize)
)

// Keys are the symmetric keys of one session, derived from the client's key
// material. Request keys protect what the client sends and response keys
// what the gateway sends. Keys are safe for concurrent use.
type Keys struct {
	mode  Mode
	block []byte

	// Request protects requests: the X-JT-Signature key and the body
	// sealer.
	Request *DirectionKeys
	// Response protects responses in the same way with keys of its own.
	Response *DirectionKeys
}

// DirectionKeys are the signing key and body sealer of one direction.
type DirectionKeys struct {
	macKey []byte
	sealer smcrypto.Sealer
	macs   sync.Pool // of *macState
}

// macState is a keyed HMAC-SM3 with room for its output, so that computing
// a MAC allocates nothing once the pool is warm.
type macState struct {
	h   hash.Hash
	sum [MACSize]byte
}

// DeriveKeys derives a session's keys from the 32 bytes of key material
// that the client sent, with HKDF-SM3 (RFC 5869 with SM3). The salt is the
// 16 bytes of the session ID, and the info string is "JT-KEYS-V1:"
// followed by the mode name. The protocol document gives the layout of the
// output.
func DeriveKeys(secret []byte, id SessionID, mode Mode) (*Keys, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("envelope: session key material has %d bytes; expected %d", len(secret), SecretSize)
	}
	size, err := keyBlockSize(mode)
	if err != nil {
		return nil, err
	}
	block, err := smcrypto.HKDF(secret, id[:], keyInfoPrefix+string(mode), size)
	if err != nil {
		return nil, err
	}
	return keysFromBlock(mode, block)
}

func keyBlockSize(mode Mode) (int, error) {
	switch mode {
	case ModeGCM:
		return gcmKeyBlockSize, nil
	case ModeCBCHMAC:
		return cbcHMACKeyBlockSize, nil
	}
	return 0, fmt.Errorf("envelope: unknown session mode %q", mode)
}

var errKeyBlockSize = errors.New("envelope: key block has the wrong size for its mode")

// keysFromBlock builds the keys of mode from a derived key block, which it
// keeps.
func keysFromBlock(mode Mode, block []byte) (*Keys, error) {
	size, err := keyBlockSize(mode)
	if err != nil {
		return nil, err
	}
	if len(block) != size {
		return nil, errKeyBlockSize
	}

	requestMAC, responseMAC, rest := block[:MACSize], block[MACSize:2*MACSize], block[2*MACSize:]
	var requestSealer, responseSealer smcrypto.Sealer
	switch mode {
	case ModeGCM:
		requestSealer, err = smcrypto.NewGCMSealer(rest[:smcrypto.SM4KeySize])
		if err == nil {
			responseSealer, err = smcrypto.NewGCMSealer(rest[smcrypto.SM4KeySize:])
		}
	case ModeCBCHMAC:
		const half = smcrypto.SM4KeySize + MACSize
		requestSealer, err = smcrypto.NewCBCHMACWithKeys(rest[:smcrypto.SM4KeySize], rest[smcrypto.SM4KeySize:half])
		if err == nil {
			responseSealer, err = smcrypto.NewCBCHMACWithKeys(rest[half:half+smcrypto.SM4KeySize], rest[half+smcrypto.SM4KeySize:])
		}
	}
	if err != nil {
		return nil, err
	}

	return &Keys{
		mode:     mode,
		block:    block,
		Request:  &DirectionKeys{macKey: requestMAC, sealer: requestSealer},
		Response: &DirectionKeys{macKey: responseMAC, sealer: responseSealer},
	}, nil
}

// Mode returns the mode the keys were derived for.
func (k *Keys) Mode() Mode {
	return k.mode
}

// MAC returns the HMAC-SM3 of msg under the direction's signing key.
func (d *DirectionKeys) MAC(msg []byte) [MACSize]byte {
	st := d.macState()
	st.h.Write(msg)
	st.h.Sum(st.sum[:0])
	sum := st.sum
	d.macs.Put(st)
	return sum
}

// VerifyMAC reports whether sig is the HMAC-SM3 of msg under the
// direction's signing key, comparing in constant time.
func (d *DirectionKeys) VerifyMAC(msg, sig []byte) bool {
	want := d.MAC(msg)
	return smcrypto.EqualMAC(want[:], sig)
}

func (d *DirectionKeys) macState() *macState {
	if st, ok := d.macs.Get().(*macState); ok {
		st.h.Reset()
		return st
	}
	return &macState{h: smcrypto.NewHMAC(d.macKey)}
}

// Seal encrypts and authenticates a body with the message's nonce, in hex,
// as additional data, appends the sealed body to dst and returns the
// updated slice. rand supplies the IV or GCM nonce.
func (d *DirectionKeys) Seal(dst []byte, rand io.Reader, plaintext, nonceHex []byte) ([]byte, error) {
	return d.sealer.Seal(dst, rand, plaintext, nonceHex)
}

// Open authenticates and decrypts a sealed body, appends the plaintext to
// dst and returns the updated slice. Every failure returns
// smcrypto.ErrOpen.
func (d *DirectionKeys) Open(dst, sealed, nonceHex []byte) ([]byte, error) {
	return d.sealer.Open(dst, sealed, nonceHex)
}

// Overhead returns the difference between the length of a sealed body and
// its plaintext, at most.
func (d *DirectionKeys) Overhead() int {
	return d.sealer.Overhead()
}

package smcrypto

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

const (
	// SM4KeySize is the size of an SM4 key.
	SM4KeySize = 16
	// SM4BlockSize is the SM4 block size and the size of a CBC IV.
	SM4BlockSize = sm4.BlockSize
	// GCMNonceSize is the size of the SM4-GCM nonces that [NewGCM] expects
	// and [NewGCMSealer] generates.
	GCMNonceSize = 12
	// GCMTagSize is the size of an SM4-GCM tag.
	GCMTagSize = 16
	// MinSecretSize is the shortest session secret that [NewCBCHMAC] takes.
	MinSecretSize = 16
	// MinMACKeySize is the shortest MAC key that [NewCBCHMACWithKeys] takes.
	MinMACKeySize = 16
)

// CBCHMACInfo is the HKDF info string with which [NewCBCHMAC] derives its
// keys from a session secret. A client that derives the keys itself passes
// the same string.
const CBCHMACInfo = "jingtong smcrypto SM4-CBC-HMAC-SM3 v1"

// NewSM4 returns an SM4 cipher.Block (GB/T 32907) for a 16-byte key.
func NewSM4(key []byte) (cipher.Block, error) {
	if len(key) != SM4KeySize {
		return nil, KeySizeError(len(key))
	}
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: creating SM4 cipher: %w", err)
	}
	return block, nil
}

// NewGCM returns SM4-GCM with 12-byte nonces and 16-byte tags for a 16-byte
// key. The caller chooses the nonces and must never repeat one under a key.
// It interoperates with sm-crypto-v2's sm4 {mode: 'gcm'}, whose output is
// the ciphertext and, separately, the tag.
func NewGCM(key []byte) (cipher.AEAD, error) {
	block, err := NewSM4(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: creating SM4-GCM: %w", err)
	}
	return aead, nil
}

// Sealer encrypts and authenticates messages, drawing a fresh IV or nonce for
// each from the caller's random source and sending it with the ciphertext.
// A Sealer is safe for concurrent use.
type Sealer interface {
	// Seal encrypts and authenticates plaintext, authenticates
	// additionalData, appends the result to dst and returns the updated
	// slice. It returns an error only when rand fails or is nil. dst and
	// plaintext must not overlap.
	Seal(dst []byte, rand io.Reader, plaintext, additionalData []byte) ([]byte, error)
	// Open authenticates and decrypts sealed and additionalData, appends the
	// plaintext to dst and returns the updated slice. Every failure returns
	// ErrOpen. dst and sealed must not overlap.
	Open(dst, sealed, additionalData []byte) ([]byte, error)
	// Overhead returns the maximum difference between the lengths of a
	// sealed message and its plaintext.
	Overhead() int
}

type cbcHMAC struct {
	block  cipher.Block
	macKey []byte
}

// NewCBCHMAC returns a Sealer of SM4-CBC with PKCS #7 padding and HMAC-SM3 in
// encrypt-then-MAC form, keyed from a session secret of at least 16 bytes
// through HKDF-SM3 with info [CBCHMACInfo]. The package documentation gives
// the byte layout.
func NewCBCHMAC(secret []byte) (Sealer, error) {
	if len(secret) < MinSecretSize {
		return nil, KeySizeError(len(secret))
	}
	keys, err := HKDF(secret, nil, CBCHMACInfo, SM4KeySize+SM3Size)
	if err != nil {
		return nil, err
	}
	defer clear(keys)
	return NewCBCHMACWithKeys(keys[:SM4KeySize], keys[SM4KeySize:])
}

// NewCBCHMACWithKeys returns the Sealer of [NewCBCHMAC] with an explicit
// 16-byte SM4 key and a MAC key of at least 16 bytes. Never use the same key
// for both.
func NewCBCHMACWithKeys(encKey, macKey []byte) (Sealer, error) {
	block, err := NewSM4(encKey)
	if err != nil {
		return nil, err
	}
	if len(macKey) < MinMACKeySize {
		return nil, KeySizeError(len(macKey))
	}
	return &cbcHMAC{block: block, macKey: append([]byte(nil), macKey...)}, nil
}

func (c *cbcHMAC) Overhead() int {
	return SM4BlockSize + SM4BlockSize + SM3Size
}

func (c *cbcHMAC) Seal(dst []byte, rand io.Reader, plaintext, additionalData []byte) ([]byte, error) {
	if rand == nil {
		return nil, errNilRand
	}
	padLen := SM4BlockSize - len(plaintext)%SM4BlockSize
	bodyLen := len(plaintext) + padLen
	ret, out := sliceForAppend(dst, SM4BlockSize+bodyLen+SM3Size)

	iv, body := out[:SM4BlockSize], out[SM4BlockSize:SM4BlockSize+bodyLen]
	if _, err := io.ReadFull(rand, iv); err != nil {
		return nil, fmt.Errorf("smcrypto: reading CBC IV: %w", err)
	}

	copy(body, plaintext)
	for i := len(plaintext); i < bodyLen; i++ {
		body[i] = byte(padLen)
	}
	cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(body, body)

	var tag [SM3Size]byte
	c.tag(tag[:0], iv, body, additionalData)
	copy(out[SM4BlockSize+bodyLen:], tag[:])
	return ret, nil
}

func (c *cbcHMAC) Open(dst, sealed, additionalData []byte) ([]byte, error) {
	bodyLen := len(sealed) - SM4BlockSize - SM3Size
	if bodyLen < SM4BlockSize || bodyLen%SM4BlockSize != 0 {
		return nil, ErrOpen
	}
	iv := sealed[:SM4BlockSize]
	body := sealed[SM4BlockSize : SM4BlockSize+bodyLen]
	tag := sealed[SM4BlockSize+bodyLen:]

	var want [SM3Size]byte
	c.tag(want[:0], iv, body, additionalData)
	if !hmac.Equal(want[:], tag) {
		return nil, ErrOpen
	}

	ret, out := sliceForAppend(dst, bodyLen)
	cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(out, body)
	n, ok := unpadPKCS7(out)
	if !ok {
		clear(out)
		return nil, ErrOpen
	}
	return ret[:len(dst)+n], nil
}

// tag appends HMAC-SM3(A‖IV‖C‖AL) to dst, where AL is the bit length of A as
// a 64-bit big-endian integer.
func (c *cbcHMAC) tag(dst, iv, body, additionalData []byte) []byte {
	mac := hmac.New(sm3.New, c.macKey)
	mac.Write(additionalData)
	mac.Write(iv)
	mac.Write(body)

	var al [8]byte
	binary.BigEndian.PutUint64(al[:], uint64(len(additionalData))*8)
	mac.Write(al[:])
	return mac.Sum(dst)
}

// unpadPKCS7 returns the length of the data before the PKCS #7 padding of a
// non-empty multiple of the block size, in time that depends only on
// len(padded).
func unpadPKCS7(padded []byte) (int, bool) {
	padLen := int(padded[len(padded)-1])
	good := subtle.ConstantTimeLessOrEq(1, padLen) & subtle.ConstantTimeLessOrEq(padLen, SM4BlockSize)

	// Check the last SM4BlockSize bytes; those inside the padding must equal
	// padLen.
	for i := 1; i <= SM4BlockSize; i++ {
		inPadding := subtle.ConstantTimeLessOrEq(i, padLen)
		matches := subtle.ConstantTimeByteEq(padded[len(padded)-i], byte(padLen))
		good &= matches | (inPadding ^ 1)
	}
	return len(padded) - padLen*good, good == 1
}

type gcmSealer struct {
	aead cipher.AEAD
}

// NewGCMSealer returns a Sealer of SM4-GCM for a 16-byte key that writes a
// random 12-byte nonce in front of each ciphertext. Random nonces are safe for
// about 2^32 messages per key.
func NewGCMSealer(key []byte) (Sealer, error) {
	aead, err := NewGCM(key)
	if err != nil {
		return nil, err
	}
	return &gcmSealer{aead: aead}, nil
}

func (g *gcmSealer) Overhead() int {
	return GCMNonceSize + GCMTagSize
}

func (g *gcmSealer) Seal(dst []byte, rand io.Reader, plaintext, additionalData []byte) ([]byte, error) {
	if rand == nil {
		return nil, errNilRand
	}
	ret, out := sliceForAppend(dst, GCMNonceSize)
	if _, err := io.ReadFull(rand, out); err != nil {
		return nil, fmt.Errorf("smcrypto: reading GCM nonce: %w", err)
	}
	return g.aead.Seal(ret, out, plaintext, additionalData), nil
}

func (g *gcmSealer) Open(dst, sealed, additionalData []byte) ([]byte, error) {
	if len(sealed) < GCMNonceSize+GCMTagSize {
		return nil, ErrOpen
	}
	plaintext, err := g.aead.Open(dst, sealed[:GCMNonceSize], sealed[GCMNonceSize:], additionalData)
	if err != nil {
		return nil, ErrOpen
	}
	return plaintext, nil
}

// sliceForAppend extends in by n bytes and returns the whole slice and the
// new n bytes, reallocating when the capacity is too small.
func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return head, tail
}

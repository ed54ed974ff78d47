package smcrypto

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

const (
	// PublicKeySize is the size of an uncompressed SM2 public key, 04‖X‖Y.
	PublicKeySize = 65
	// CompressedPublicKeySize is the size of a compressed SM2 public key,
	// 02‖X or 03‖X.
	CompressedPublicKeySize = 33
	// PrivateKeySize is the size of an SM2 private key d.
	PrivateKeySize = 32
)

var errNilRand = errors.New("smcrypto: random source is nil; pass crypto/rand.Reader")

// PublicKey is an SM2 public key: a point on the SM2 curve other than the
// point at infinity.
type PublicKey struct {
	key   *ecdsa.PublicKey
	point []byte // 04‖X‖Y
}

// NewPublicKey parses an SM2 public key encoded as 65 bytes 04‖X‖Y or as 33
// bytes 02‖X or 03‖X, and checks that the point is on the curve.
func NewPublicKey(point []byte) (*PublicKey, error) {
	uncompressed := len(point) == PublicKeySize && point[0] == 0x04
	compressed := len(point) == CompressedPublicKeySize && (point[0] == 0x02 || point[0] == 0x03)
	if !uncompressed && !compressed {
		return nil, fmt.Errorf("smcrypto: invalid SM2 public key encoding of %d bytes; expected 65 bytes starting with 04 or 33 bytes starting with 02 or 03", len(point))
	}

	if compressed {
		// gmsm v0.44.1 accepts a compressed point in sm2.NewPublicKey but then
		// returns Y = 0, so decompress here. elliptic.UnmarshalCompressed
		// assumes a = −3, which holds for the SM2 curve (a = p − 3).
		x, y := elliptic.UnmarshalCompressed(sm2.P256(), point)
		if x == nil {
			return nil, errors.New("smcrypto: invalid SM2 public key: compressed point is not on the curve")
		}
		point = make([]byte, PublicKeySize)
		point[0] = 0x04
		x.FillBytes(point[1:33])
		y.FillBytes(point[33:])
	}

	key, err := sm2.NewPublicKey(point)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: invalid SM2 public key: %w", err)
	}
	return &PublicKey{key: key, point: bytes.Clone(point)}, nil
}

// publicKeyFromECDSA wraps an SM2 public key that gmsm returned.
func publicKeyFromECDSA(key *ecdsa.PublicKey) (*PublicKey, error) {
	ecdhKey, err := sm2.PublicKeyToECDH(key)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: invalid SM2 public key: %w", err)
	}
	return &PublicKey{key: key, point: ecdhKey.Bytes()}, nil
}

// ParsePublicKeyHex parses an SM2 public key from 130 hex characters
// 04‖X‖Y (the sm-crypto form) or 66 hex characters 02‖X or 03‖X. Upper and
// lower case are accepted.
func ParsePublicKeyHex(s string) (*PublicKey, error) {
	if len(s) != 2*PublicKeySize && len(s) != 2*CompressedPublicKeySize {
		return nil, fmt.Errorf("smcrypto: SM2 public key hex has %d characters; expected 130 or 66", len(s))
	}
	point, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: SM2 public key is not hex: %w", err)
	}
	return NewPublicKey(point)
}

// ParsePublicKeyPEM parses an SM2 public key from a PEM "PUBLIC KEY" block
// holding a PKIX SubjectPublicKeyInfo. Text after the block is rejected.
func ParsePublicKeyPEM(data []byte) (*PublicKey, error) {
	der, err := decodePEM(data, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}

	key, err := smx509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: parsing PKIX public key: %w", err)
	}
	ecKey, ok := key.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(ecKey) {
		return nil, fmt.Errorf("smcrypto: PEM public key is a %T, not an SM2 key", key)
	}

	pub, err := publicKeyFromECDSA(ecKey)
	if err != nil {
		return nil, err
	}
	return NewPublicKey(pub.point)
}

func decodePEM(data []byte, blockType string) ([]byte, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("smcrypto: no PEM block found; expected %q", blockType)
	}
	if block.Type != blockType {
		return nil, fmt.Errorf("smcrypto: PEM block type is %q; expected %q", block.Type, blockType)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("smcrypto: unexpected data after the %q PEM block", blockType)
	}
	return block.Bytes, nil
}

// MarshalPublicKeyPEM encodes pub as a PEM "PUBLIC KEY" block (PKIX, with
// the id-ecPublicKey algorithm and the SM2 curve OID 1.2.156.10197.1.301).
func MarshalPublicKeyPEM(pub *PublicKey) ([]byte, error) {
	der, err := smx509.MarshalPKIXPublicKey(pub.key)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: marshaling PKIX public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// Bytes returns the key as 65 bytes 04‖X‖Y.
func (k *PublicKey) Bytes() []byte {
	return bytes.Clone(k.point)
}

// Hex returns the key as 130 lowercase hex characters 04‖X‖Y, the form of
// sm-crypto's publicKey.
func (k *PublicKey) Hex() string {
	return hex.EncodeToString(k.point)
}

// CompressedHex returns the key as 66 lowercase hex characters 02‖X or 03‖X,
// the form of sm-crypto's compressPublicKeyHex.
func (k *PublicKey) CompressedHex() string {
	compressed := make([]byte, CompressedPublicKeySize)
	compressed[0] = 0x02 | k.point[PublicKeySize-1]&1
	copy(compressed[1:], k.point[1:33])
	return hex.EncodeToString(compressed)
}

// String returns the key in hex, as Hex does.
func (k *PublicKey) String() string {
	return k.Hex()
}

// Equal reports whether x is a *PublicKey with the same point.
func (k *PublicKey) Equal(x crypto.PublicKey) bool {
	other, ok := x.(*PublicKey)
	return ok && bytes.Equal(k.point, other.point)
}

// PrivateKey is an SM2 private key. It implements crypto.Signer,
// crypto.MessageSigner and crypto.Decrypter. Its String, GoString, LogValue
// and MarshalJSON methods never print the private scalar.
type PrivateKey struct {
	key *sm2.PrivateKey
	pub *PublicKey
}

// GenerateKey generates an SM2 key pair with randomness from rand, usually
// crypto/rand.Reader. The key does not depend deterministically on the bytes
// read.
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	if rand == nil {
		return nil, errNilRand
	}
	key, err := sm2.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: generating SM2 key: %w", err)
	}
	return privateKeyFromSM2(key)
}

func privateKeyFromSM2(key *sm2.PrivateKey) (*PrivateKey, error) {
	pub, err := publicKeyFromECDSA(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &PrivateKey{key: key, pub: pub}, nil
}

// NewPrivateKey returns the SM2 private key with the 32-byte big-endian
// scalar d, which GB/T 32918.1 requires to be in [1, n−2].
func NewPrivateKey(d []byte) (*PrivateKey, error) {
	if len(d) != PrivateKeySize {
		return nil, KeySizeError(len(d))
	}
	key, err := sm2.NewPrivateKey(d)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: invalid SM2 private key: %w", err)
	}
	return privateKeyFromSM2(key)
}

// ParsePrivateKeyHex parses an SM2 private key from 64 hex characters, the
// form of sm-crypto's privateKey.
func ParsePrivateKeyHex(s string) (*PrivateKey, error) {
	if len(s) != 2*PrivateKeySize {
		return nil, fmt.Errorf("smcrypto: SM2 private key hex has %d characters; expected 64", len(s))
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("smcrypto: SM2 private key is not hex")
	}
	return NewPrivateKey(d)
}

// ParsePrivateKeyPEM parses an SM2 private key from a PEM "PRIVATE KEY" block
// (unencrypted PKCS #8), or from an "SM2 PRIVATE KEY" or "EC PRIVATE KEY"
// block (SEC 1, as OpenSSL 3's "openssl ec" writes it). Text after the block
// is rejected. Encrypted PKCS #8 is not supported.
func ParsePrivateKeyPEM(data []byte) (*PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New(`smcrypto: no PEM block found; expected "PRIVATE KEY"`)
	}

	var key *sm2.PrivateKey
	switch block.Type {
	case "PRIVATE KEY":
		der, err := decodePEM(data, block.Type)
		if err != nil {
			return nil, err
		}
		parsed, err := smx509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("smcrypto: parsing PKCS #8 private key: %w", err)
		}
		sm2Key, ok := parsed.(*sm2.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("smcrypto: PKCS #8 private key is a %T, not an SM2 key", parsed)
		}
		key = sm2Key
	case "EC PRIVATE KEY", "SM2 PRIVATE KEY":
		der, err := decodePEM(data, block.Type)
		if err != nil {
			return nil, err
		}
		sm2Key, err := smx509.ParseSM2PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("smcrypto: parsing SEC 1 private key: %w", err)
		}
		key = sm2Key
	default:
		return nil, fmt.Errorf(`smcrypto: PEM block type is %q; expected "PRIVATE KEY"`, block.Type)
	}

	// Rebuild the key from d so that the range check of NewPrivateKey applies
	// and a public key stored in the file cannot disagree with d.
	d, err := scalarBytes(key)
	if err != nil {
		return nil, err
	}
	defer clear(d)
	return NewPrivateKey(d)
}

// scalarBytes returns the private scalar d of key as 32 bytes.
func scalarBytes(key *sm2.PrivateKey) ([]byte, error) {
	ecdhKey, err := key.ECDH()
	if err != nil {
		return nil, fmt.Errorf("smcrypto: invalid SM2 private key: %w", err)
	}
	return ecdhKey.Bytes(), nil
}

// MarshalPrivateKeyPEM encodes k as a PEM "PRIVATE KEY" block (unencrypted
// PKCS #8, with the id-ecPublicKey algorithm and the SM2 curve OID).
func MarshalPrivateKeyPEM(k *PrivateKey) ([]byte, error) {
	der, err := smx509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: marshaling PKCS #8 private key: %w", err)
	}
	defer clear(der)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPrivateKeyHex encodes k as 64 lowercase hex characters, the form
// that sm-crypto takes.
func MarshalPrivateKeyHex(k *PrivateKey) string {
	d, err := scalarBytes(k.key)
	if err != nil {
		// k was validated when it was created, so d always fits 32 bytes.
		panic(err)
	}
	defer clear(d)
	return hex.EncodeToString(d)
}

// Public returns the public key as a *PublicKey.
func (k *PrivateKey) Public() crypto.PublicKey {
	return k.pub
}

// PublicKey returns the public key.
func (k *PrivateKey) PublicKey() *PublicKey {
	return k.pub
}

// Equal reports whether x is a *PrivateKey with the same scalar.
func (k *PrivateKey) Equal(x crypto.PrivateKey) bool {
	other, ok := x.(*PrivateKey)
	return ok && k.key.Equal(other.key)
}

const redactedPrivateKey = "smcrypto.PrivateKey(REDACTED)"

// String returns a placeholder that contains no key material.
func (PrivateKey) String() string { return redactedPrivateKey }

// GoString returns a placeholder that contains no key material.
func (PrivateKey) GoString() string { return redactedPrivateKey }

// LogValue returns a placeholder that contains no key material.
func (PrivateKey) LogValue() slog.Value { return slog.StringValue(redactedPrivateKey) }

// MarshalJSON returns a placeholder JSON string that contains no key
// material. Use MarshalPrivateKeyPEM to export a key.
func (PrivateKey) MarshalJSON() ([]byte, error) {
	return []byte(`"` + redactedPrivateKey + `"`), nil
}

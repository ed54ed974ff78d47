package smcrypto

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/emmansun/gmsm/sm2"
)

// DefaultUID is the SM2 user ID that GB/T 32918 examples, gmsm, sm-crypto
// and sm-crypto-v2 use when none is given.
const DefaultUID = "1234567812345678"

// MaxUIDSize is the longest user ID in bytes: Z hashes its bit length as a
// 16-bit integer (ENTL).
const MaxUIDSize = 8191

// SignatureSize is the size of a raw r‖s signature.
const SignatureSize = 64

// SignerOpts selects SM2 signing of a whole message: the signer computes
// e = SM3(Z‖M) with Z over UID and the public key (GB/T 32918.2), which is
// sm-crypto's {hash: true}.
type SignerOpts struct {
	// UID is the signer's user ID. Empty means DefaultUID.
	UID []byte
}

// HashFunc returns 0: the message is passed to the signer unhashed.
func (*SignerOpts) HashFunc() crypto.Hash { return 0 }

func (o *SignerOpts) uid() []byte {
	if o == nil || len(o.UID) == 0 {
		return []byte(DefaultUID)
	}
	return o.UID
}

// Digest returns e = SM3(Z‖msg), the value that SM2 signs, with Z over the
// user ID in opts (DefaultUID when opts is nil) and pub.
func Digest(pub *PublicKey, msg []byte, opts *SignerOpts) ([]byte, error) {
	uid := opts.uid()
	if len(uid) > MaxUIDSize {
		return nil, fmt.Errorf("smcrypto: SM2 user ID has %d bytes; the maximum is %d", len(uid), MaxUIDSize)
	}
	digest, err := sm2.CalculateSM2Hash(pub.key, msg, uid)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: computing SM2 digest: %w", err)
	}
	return digest, nil
}

// Sign signs with randomness from rand and returns a DER signature. With
// opts of type *SignerOpts, digest is the whole message and Sign computes
// e = SM3(Z‖M) first. With any other opts, nil included, digest must be the
// 32-byte e that [Digest] returns.
func (k *PrivateKey) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if o, ok := opts.(*SignerOpts); ok {
		return k.SignMessage(rand, digest, o)
	}
	if rand == nil {
		return nil, errNilRand
	}
	if len(digest) != SM3Size {
		return nil, fmt.Errorf("smcrypto: SM2 digest has %d bytes; expected %d, or pass *SignerOpts to sign a message", len(digest), SM3Size)
	}

	sig, err := sm2.SignASN1(rand, k.key, digest, nil)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: SM2 signing: %w", err)
	}
	return sig, nil
}

// SignMessage signs msg with the Z value for the user ID in opts and returns
// a DER signature. opts may be nil or a *SignerOpts; nil means DefaultUID.
func (k *PrivateKey) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	var sm2Opts *SignerOpts
	switch o := opts.(type) {
	case nil:
	case *SignerOpts:
		sm2Opts = o
	default:
		return nil, fmt.Errorf("smcrypto: unsupported signer options %T; pass *SignerOpts", opts)
	}

	digest, err := Digest(k.pub, msg, sm2Opts)
	if err != nil {
		return nil, err
	}
	return k.Sign(rand, digest, nil)
}

// VerifyASN1 reports whether sig is a valid DER signature of msg by pub,
// with the user ID in opts (DefaultUID when opts is nil).
func VerifyASN1(pub *PublicKey, msg, sig []byte, opts *SignerOpts) bool {
	digest, err := Digest(pub, msg, opts)
	if err != nil {
		return false
	}
	return VerifyDigestASN1(pub, digest, sig)
}

// VerifyRaw reports whether sig is a valid 64-byte r‖s signature of msg by
// pub, with the user ID in opts (DefaultUID when opts is nil).
func VerifyRaw(pub *PublicKey, msg, sig []byte, opts *SignerOpts) bool {
	der, err := SignatureToASN1(sig)
	if err != nil {
		return false
	}
	return VerifyASN1(pub, msg, der, opts)
}

// VerifyDigestASN1 reports whether sig is a valid DER signature of the
// 32-byte digest e = SM3(Z‖M) by pub. The DER must be canonical.
func VerifyDigestASN1(pub *PublicKey, digest, sig []byte) bool {
	if len(digest) != SM3Size {
		return false
	}
	if _, _, err := parseSignatureASN1(sig); err != nil {
		return false
	}
	return sm2.VerifyASN1(pub.key, digest, sig)
}

type signatureASN1 struct {
	R, S *big.Int
}

var errInvalidSignature = errors.New("smcrypto: invalid SM2 signature encoding")

// parseSignatureASN1 accepts only canonical DER, so that every signature has
// one encoding, and values in [1, n−1].
func parseSignatureASN1(sig []byte) (r, s *big.Int, err error) {
	var parsed signatureASN1
	rest, err := asn1.Unmarshal(sig, &parsed)
	if err != nil || len(rest) != 0 {
		return nil, nil, errInvalidSignature
	}

	// encoding/asn1 ignores extra elements at the end of a SEQUENCE, so
	// compare with the canonical encoding to reject them and any other
	// variation.
	canonical, err := asn1.Marshal(parsed)
	if err != nil || !bytes.Equal(canonical, sig) {
		return nil, nil, errInvalidSignature
	}
	if !inSignatureRange(parsed.R) || !inSignatureRange(parsed.S) {
		return nil, nil, errInvalidSignature
	}
	return parsed.R, parsed.S, nil
}

func inSignatureRange(v *big.Int) bool {
	return v.Sign() > 0 && v.Cmp(sm2.P256().Params().N) < 0
}

// SignatureToRaw converts a DER signature to 64 bytes r‖s, each value
// left-padded to 32 bytes, which is what sm-crypto's doSignature returns
// without {der: true}. It rejects non-canonical DER and values outside
// [1, n−1].
func SignatureToRaw(der []byte) ([]byte, error) {
	r, s, err := parseSignatureASN1(der)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, SignatureSize)
	r.FillBytes(raw[:32])
	s.FillBytes(raw[32:])
	return raw, nil
}

// SignatureToASN1 converts a 64-byte r‖s signature to DER. It rejects other
// lengths and values outside [1, n−1].
func SignatureToASN1(raw []byte) ([]byte, error) {
	if len(raw) != SignatureSize {
		return nil, fmt.Errorf("smcrypto: raw SM2 signature has %d bytes; expected %d", len(raw), SignatureSize)
	}
	r := new(big.Int).SetBytes(raw[:32])
	s := new(big.Int).SetBytes(raw[32:])
	if !inSignatureRange(r) || !inSignatureRange(s) {
		return nil, errInvalidSignature
	}
	der, err := asn1.Marshal(signatureASN1{R: r, S: s})
	if err != nil {
		return nil, fmt.Errorf("smcrypto: encoding SM2 signature: %w", err)
	}
	return der, nil
}

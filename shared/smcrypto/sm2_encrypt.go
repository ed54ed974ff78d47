package smcrypto

import (
	"crypto"
	"errors"
	"fmt"
	"io"

	"github.com/emmansun/gmsm/sm2"
)

// CiphertextFormat is the layout of an SM2 ciphertext. The package
// documentation gives the byte layout of each.
type CiphertextFormat int

// SM2 ciphertext formats.
const (
	// C1C3C2 is C1‖C3‖C2, the order of GB/T 32918.4 (2016) and the default
	// of sm-crypto and sm-crypto-v2.
	C1C3C2 CiphertextFormat = iota
	// C1C2C3 is C1‖C2‖C3, the order of older clients (sm-crypto cipherMode 0).
	C1C2C3
	// CiphertextASN1 is the GM/T 0009 SEQUENCE of x, y, hash and ciphertext.
	CiphertextASN1
)

func (f CiphertextFormat) String() string {
	switch f {
	case C1C3C2:
		return "C1C3C2"
	case C1C2C3:
		return "C1C2C3"
	case CiphertextASN1:
		return "ASN.1"
	}
	return fmt.Sprintf("CiphertextFormat(%d)", int(f))
}

// EncrypterOpts are the options of [Encrypt].
type EncrypterOpts struct {
	// Format is the ciphertext layout. The zero value is C1C3C2.
	Format CiphertextFormat
	// OmitPrefix drops the 04 byte in front of C1 in the plain formats, as
	// sm-crypto, sm-crypto-v2 and gm-crypto expect. It is an error with
	// CiphertextASN1.
	OmitPrefix bool
}

// DecrypterOpts are the options of [PrivateKey.Decrypt]. A nil
// *DecrypterOpts means C1C3C2.
type DecrypterOpts struct {
	// Format is the ciphertext layout. The zero value is C1C3C2. The plain
	// formats are accepted with or without the 04 byte.
	Format CiphertextFormat
}

const (
	c1Size       = 64 // X1‖Y1
	minPlainSize = c1Size + SM3Size + 1
)

// Encrypt encrypts msg to pub with SM2 (GB/T 32918.4) and randomness from
// rand. opts nil means C1C3C2 with the 04 byte. msg must not be empty.
func Encrypt(rand io.Reader, pub *PublicKey, msg []byte, opts *EncrypterOpts) ([]byte, error) {
	if rand == nil {
		return nil, errNilRand
	}
	if len(msg) == 0 {
		return nil, errors.New("smcrypto: SM2 message is empty")
	}
	if opts == nil {
		opts = &EncrypterOpts{}
	}

	var gmOpts *sm2.EncrypterOpts
	switch opts.Format {
	case C1C3C2:
		gmOpts = sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C3C2)
	case C1C2C3:
		gmOpts = sm2.NewPlainEncrypterOpts(sm2.MarshalUncompressed, sm2.C1C2C3)
	case CiphertextASN1:
		if opts.OmitPrefix {
			return nil, errors.New("smcrypto: OmitPrefix applies only to the C1C3C2 and C1C2C3 formats")
		}
		gmOpts = sm2.ASN1EncrypterOpts
	default:
		return nil, fmt.Errorf("smcrypto: unknown SM2 ciphertext format %v", opts.Format)
	}

	ciphertext, err := sm2.Encrypt(rand, pub.key, msg, gmOpts)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: SM2 encryption: %w", err)
	}
	if opts.OmitPrefix {
		ciphertext = ciphertext[1:]
	}
	return ciphertext, nil
}

// Decrypt decrypts an SM2 ciphertext. opts may be nil, which means C1C3C2,
// or a *DecrypterOpts. rand is not used. Every ciphertext that does not
// decrypt yields [ErrDecrypt].
func (k *PrivateKey) Decrypt(_ io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	format, err := decrypterFormat(opts)
	if err != nil {
		return nil, err
	}

	standard, err := standardCiphertext(ciphertext, format)
	if err != nil {
		return nil, ErrDecrypt
	}
	plaintext, err := sm2.Decrypt(k.key, standard)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plaintext, nil
}

func decrypterFormat(opts crypto.DecrypterOpts) (CiphertextFormat, error) {
	switch o := opts.(type) {
	case nil:
		return C1C3C2, nil
	case *DecrypterOpts:
		if o == nil {
			return C1C3C2, nil
		}
		if o.Format < C1C3C2 || o.Format > CiphertextASN1 {
			return 0, fmt.Errorf("smcrypto: unknown SM2 ciphertext format %v", o.Format)
		}
		return o.Format, nil
	}
	return 0, fmt.Errorf("smcrypto: unsupported decrypter options %T; pass *DecrypterOpts", opts)
}

// standardCiphertext converts a ciphertext in format to 04‖X1‖Y1‖C3‖C2. It
// checks that C1 is a curve point and that C2 is not empty, but not C3.
func standardCiphertext(ciphertext []byte, format CiphertextFormat) ([]byte, error) {
	if format == CiphertextASN1 {
		if len(ciphertext) == 0 || ciphertext[0] != 0x30 {
			return nil, ErrDecrypt
		}
		standard, err := sm2.ASN1Ciphertext2Plain(ciphertext, nil)
		if err != nil || len(standard) < 1+minPlainSize {
			return nil, ErrDecrypt
		}
		return standard, nil
	}

	c1, rest, ok := splitC1(ciphertext)
	if !ok || len(rest) < SM3Size+1 {
		return nil, ErrDecrypt
	}

	c3, c2 := rest[:SM3Size], rest[SM3Size:]
	if format == C1C2C3 {
		c2, c3 = rest[:len(rest)-SM3Size], rest[len(rest)-SM3Size:]
	}

	standard := make([]byte, 0, len(c1)+len(rest))
	standard = append(standard, c1...)
	standard = append(standard, c3...)
	return append(standard, c2...), nil
}

// splitC1 returns C1 as 04‖X1‖Y1 and the bytes after it. The input starts
// with 04‖X1‖Y1 if its first byte is 04 and the next 64 bytes are a curve
// point, and otherwise with X1‖Y1, which must be a curve point. 64 random
// bytes are a curve point with probability about 2^-256, so the two readings
// cannot both hold by chance.
func splitC1(ciphertext []byte) (c1, rest []byte, ok bool) {
	if len(ciphertext) >= 1+minPlainSize && ciphertext[0] == 0x04 && isCurvePoint(ciphertext[:1+c1Size]) {
		return ciphertext[:1+c1Size], ciphertext[1+c1Size:], true
	}
	if len(ciphertext) < minPlainSize {
		return nil, nil, false
	}

	c1 = make([]byte, 1+c1Size)
	c1[0] = 0x04
	copy(c1[1:], ciphertext[:c1Size])
	if !isCurvePoint(c1) {
		return nil, nil, false
	}
	return c1, ciphertext[c1Size:], true
}

func isCurvePoint(point []byte) bool {
	_, err := sm2.NewPublicKey(point)
	return err == nil
}

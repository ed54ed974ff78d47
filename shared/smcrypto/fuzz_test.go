package smcrypto

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
)

// The fuzz targets run their seeds in every go test run. Run one with, for
// example, go test -fuzz=FuzzOpenCBC ./shared/smcrypto.

var fuzzCBCKeys = struct{ enc, mac []byte }{bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte{9}, 32)}

func FuzzOpenCBC(f *testing.F) {
	sealer, err := NewCBCHMACWithKeys(fuzzCBCKeys.enc, fuzzCBCKeys.mac)
	if err != nil {
		f.Fatal(err)
	}
	for _, pt := range []string{"", "a", "exactly sixteen!", "a somewhat longer plaintext of 41 bytes.."} {
		sealed, err := sealer.Seal(nil, rand.Reader, []byte(pt), []byte("ad"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealed, []byte("ad"), uint16(0), byte(0))
		f.Add(sealed, []byte("ad"), uint16(len(sealed)-1), byte(1))
	}
	f.Add([]byte{}, []byte{}, uint16(0), byte(0))

	// Each input is a sealed message, the additional data and a flip of one
	// byte. The target checks that Open never panics, that every failure is
	// ErrOpen, that only messages the sealer produces open, and that a valid
	// message changed by a flip never opens.
	f.Fuzz(func(t *testing.T, sealed, aad []byte, pos uint16, mask byte) {
		original, origErr := sealer.Open(nil, sealed, aad)
		if origErr != nil && !errors.Is(origErr, ErrOpen) {
			t.Fatalf("Open err = %v, want nil or ErrOpen", origErr)
		}
		if origErr == nil {
			// Only a message that this sealer produced can open, so sealing its
			// plaintext again with the same IV must reproduce it byte for byte.
			resealed, err := sealer.Seal(nil, bytes.NewReader(sealed[:16]), original, aad)
			if err != nil || !bytes.Equal(resealed, sealed) {
				t.Fatalf("Open accepted %x, which the sealer does not produce", sealed)
			}
		}

		// The flip check starts from a message that opens, because flipping a
		// byte of an invalid message may restore a valid one.
		if origErr != nil || mask == 0 {
			return
		}
		tampered := bytes.Clone(sealed)
		tampered[int(pos)%len(tampered)] ^= mask
		got, err := sealer.Open(nil, tampered, aad)
		if !errors.Is(err, ErrOpen) || got != nil {
			t.Fatalf("Open of a tampered message = %x, %v; want ErrOpen", got, err)
		}
	})
}

var fuzzSM2Key = func() *PrivateKey {
	k, err := ParsePrivateKeyHex(gbPrivateKeyHex)
	if err != nil {
		panic(err)
	}
	return k
}()

func FuzzDecryptSM2(f *testing.F) {
	for _, format := range []CiphertextFormat{C1C3C2, C1C2C3, CiphertextASN1} {
		ct, err := Encrypt(rand.Reader, fuzzSM2Key.PublicKey(), []byte("seed"), &EncrypterOpts{Format: format})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ct, byte(format))
		if format != CiphertextASN1 {
			f.Add(ct[1:], byte(format))
		}
	}
	gbCT, _ := hex.DecodeString(gbC1X + gbC1Y + gbC3 + gbC2)
	f.Add(gbCT, byte(C1C3C2))
	f.Add([]byte{0x04}, byte(C1C3C2))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01}, byte(CiphertextASN1))

	f.Fuzz(func(t *testing.T, ct []byte, format byte) {
		opts := &DecrypterOpts{Format: CiphertextFormat(format % 3)}
		standard, parseErr := standardCiphertext(ct, opts.Format)
		if parseErr == nil && (len(standard) < 98 || standard[0] != 0x04) {
			t.Fatalf("standardCiphertext returned %x", standard)
		}

		got, err := fuzzSM2Key.Decrypt(nil, ct, opts)
		if err != nil && !errors.Is(err, ErrDecrypt) {
			t.Fatalf("Decrypt err = %v, want nil or ErrDecrypt", err)
		}
		if err == nil && (parseErr != nil || len(got) == 0) {
			t.Fatalf("Decrypt = %x for input that does not parse (%v)", got, parseErr)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add(gbPublicKeyHex)
	f.Add(fuzzSM2Key.PublicKey().CompressedHex())
	f.Add(opensslPublicKey)
	f.Add("04" + gbC1X + gbC1Y)
	f.Add("")

	f.Fuzz(func(t *testing.T, s string) {
		for name, parse := range map[string]func(string) (*PublicKey, error){
			"hex": ParsePublicKeyHex,
			"PEM": func(s string) (*PublicKey, error) { return ParsePublicKeyPEM([]byte(s)) },
			"bytes": func(s string) (*PublicKey, error) {
				return NewPublicKey([]byte(s))
			},
		} {
			pub, err := parse(s)
			if err != nil {
				continue
			}
			// A parsed key must survive every encoding unchanged.
			again, err := ParsePublicKeyHex(pub.Hex())
			if err != nil || !again.Equal(pub) {
				t.Fatalf("%s: key %s does not round-trip through Hex: %v", name, pub.Hex(), err)
			}
			again, err = ParsePublicKeyHex(pub.CompressedHex())
			if err != nil || !again.Equal(pub) {
				t.Fatalf("%s: key %s does not round-trip through CompressedHex: %v", name, pub.Hex(), err)
			}
			pemBytes, err := MarshalPublicKeyPEM(pub)
			if err != nil {
				t.Fatal(err)
			}
			if again, err = ParsePublicKeyPEM(pemBytes); err != nil || !again.Equal(pub) {
				t.Fatalf("%s: key %s does not round-trip through PEM: %v", name, pub.Hex(), err)
			}
		}
	})
}

func FuzzParseSignature(f *testing.F) {
	raw, _ := hex.DecodeString(gbSignatureR + gbSignatureS)
	der, _ := SignatureToASN1(raw)
	f.Add(der)
	f.Add(raw)
	f.Add([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})
	f.Add([]byte{0x30, 0x80, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00})

	pub := fuzzSM2Key.PublicKey()
	f.Fuzz(func(t *testing.T, sig []byte) {
		if fromDER, err := SignatureToRaw(sig); err == nil {
			back, err := SignatureToASN1(fromDER)
			if err != nil || !bytes.Equal(back, sig) {
				t.Fatalf("DER %x is not canonical: it re-encodes as %x (%v)", sig, back, err)
			}
		}
		if fromRaw, err := SignatureToASN1(sig); err == nil {
			back, err := SignatureToRaw(fromRaw)
			if err != nil || !bytes.Equal(back, sig) {
				t.Fatalf("raw %x re-encodes as %x (%v)", sig, back, err)
			}
		}
		// Verification of arbitrary bytes must not panic.
		VerifyASN1(pub, []byte("m"), sig, nil)
		VerifyRaw(pub, []byte("m"), sig, nil)
	})
}

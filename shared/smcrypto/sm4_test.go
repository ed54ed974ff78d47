package smcrypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestSM4StandardVector(t *testing.T) {
	t.Parallel()
	// GB/T 32907-2016, appendix A, example 1: key = plaintext.
	key := mustHex(t, "0123456789abcdeffedcba9876543210")
	block, err := NewSM4(key)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, SM4BlockSize)
	block.Encrypt(got, key)
	if want := "681edf34d206965e86b3e94f536e4246"; hex.EncodeToString(got) != want {
		t.Errorf("SM4 encrypt = %x, want %s", got, want)
	}
	block.Decrypt(got, got)
	if !bytes.Equal(got, key) {
		t.Errorf("SM4 decrypt = %x, want %x", got, key)
	}
}

func TestSM4MillionIterations(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 SM4 encryptions; skipped with -short")
	}
	t.Parallel()
	// GB/T 32907-2016, appendix A, example 2: encrypt the plaintext
	// 1,000,000 times with the same key.
	key := mustHex(t, "0123456789abcdeffedcba9876543210")
	block, err := NewSM4(key)
	if err != nil {
		t.Fatal(err)
	}
	buf := bytes.Clone(key)
	for range 1_000_000 {
		block.Encrypt(buf, buf)
	}
	if want := "595298c7c6fd271f0402f804c33d3f66"; hex.EncodeToString(buf) != want {
		t.Errorf("SM4 after 1,000,000 encryptions = %x, want %s", buf, want)
	}
}

func TestGCMRFC8998Vector(t *testing.T) {
	t.Parallel()
	// RFC 8998, appendix A.1.
	aead, err := NewGCM(mustHex(t, "0123456789abcdeffedcba9876543210"))
	if err != nil {
		t.Fatal(err)
	}
	nonce := mustHex(t, "00001234567800000000abcd")
	aad := mustHex(t, "feedfacedeadbeeffeedfacedeadbeefabaddad2")
	plaintext := mustHex(t, "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccddddddddddddddddeeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa")
	want := "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d" +
		"83de3541e4c2b58177e065a9bf7b62ec"

	if aead.NonceSize() != GCMNonceSize || aead.Overhead() != GCMTagSize {
		t.Fatalf("NonceSize, Overhead = %d, %d; want %d, %d", aead.NonceSize(), aead.Overhead(), GCMNonceSize, GCMTagSize)
	}
	sealed := aead.Seal(nil, nonce, plaintext, aad)
	if hex.EncodeToString(sealed) != want {
		t.Errorf("SM4-GCM Seal = %x, want %s", sealed, want)
	}
	opened, err := aead.Open(nil, nonce, sealed, aad)
	if err != nil || !bytes.Equal(opened, plaintext) {
		t.Errorf("SM4-GCM Open = %x, %v", opened, err)
	}
}

func TestSM4KeySizeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		new  func() error
		want KeySizeError
	}{
		{"NewSM4 15 bytes", func() error { _, err := NewSM4(make([]byte, 15)); return err }, 15},
		{"NewGCM 32 bytes", func() error { _, err := NewGCM(make([]byte, 32)); return err }, 32},
		{"NewGCMSealer empty", func() error { _, err := NewGCMSealer(nil); return err }, 0},
		{"NewCBCHMAC short secret", func() error { _, err := NewCBCHMAC(make([]byte, 15)); return err }, 15},
		{"NewCBCHMACWithKeys short MAC key", func() error { _, err := NewCBCHMACWithKeys(make([]byte, 16), make([]byte, 8)); return err }, 8},
		{"NewCBCHMACWithKeys long SM4 key", func() error { _, err := NewCBCHMACWithKeys(make([]byte, 24), make([]byte, 32)); return err }, 24},
	}
	for _, tc := range cases {
		err := tc.new()
		var sizeErr KeySizeError
		if !errors.As(err, &sizeErr) || sizeErr != tc.want {
			t.Errorf("%s: err = %v, want KeySizeError(%d)", tc.name, err, tc.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "smcrypto: ") {
			t.Errorf("%s: error %q lacks the package prefix", tc.name, err)
		}
	}
}

func newTestSealers(tb testing.TB) map[string]Sealer {
	tb.Helper()
	cbc, err := NewCBCHMAC([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		tb.Fatal(err)
	}
	gcm, err := NewGCMSealer([]byte("0123456789abcdef"))
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]Sealer{"CBC-HMAC": cbc, "GCM": gcm}
}

func TestSealerRoundTrip(t *testing.T) {
	t.Parallel()
	for name, sealer := range newTestSealers(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 1000} {
				plaintext := bytes.Repeat([]byte{byte(n)}, n)
				aad := []byte("session=s1;ts=1")
				prefix := []byte("prefix")

				sealed, err := sealer.Seal(bytes.Clone(prefix), rand.Reader, plaintext, aad)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(sealed, prefix) {
					t.Fatalf("Seal dropped dst")
				}
				sealed = sealed[len(prefix):]
				if extra := len(sealed) - n; extra <= 0 || extra > sealer.Overhead() {
					t.Errorf("%d-byte plaintext: sealed has %d extra bytes, Overhead() = %d", n, extra, sealer.Overhead())
				}

				opened, err := sealer.Open(bytes.Clone(prefix), sealed, aad)
				if err != nil {
					t.Fatalf("%d-byte plaintext: Open: %v", n, err)
				}
				if !bytes.Equal(opened, append(bytes.Clone(prefix), plaintext...)) {
					t.Errorf("%d-byte plaintext: Open = %x", n, opened)
				}
			}
		})
	}
}

func TestSealerFreshIVs(t *testing.T) {
	t.Parallel()
	for name, sealer := range newTestSealers(t) {
		a, _ := sealer.Seal(nil, rand.Reader, []byte("same"), nil)
		b, _ := sealer.Seal(nil, rand.Reader, []byte("same"), nil)
		if bytes.Equal(a, b) {
			t.Errorf("%s: two seals of one plaintext are equal", name)
		}
	}
}

func TestCBCHMACLayout(t *testing.T) {
	t.Parallel()
	// Rebuild IV‖C‖T by hand from the documented layout and the derived keys.
	secret := []byte("a 32-byte session secret 0123456")
	keys, err := HKDF(secret, nil, CBCHMACInfo, 48)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := NewCBCHMAC(secret)
	if err != nil {
		t.Fatal(err)
	}
	iv := bytes.Repeat([]byte{0xa5}, 16)
	plaintext, aad := []byte("hello, 京通"), []byte("ad")
	sealed, err := sealer.Seal(nil, bytes.NewReader(iv), plaintext, aad)
	if err != nil {
		t.Fatal(err)
	}

	block, _ := NewSM4(keys[:16])
	padded := append(bytes.Clone(plaintext), bytes.Repeat([]byte{3}, 3)...)
	body := make([]byte, len(padded))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, padded)
	macInput := append(append(append(bytes.Clone(aad), iv...), body...), 0, 0, 0, 0, 0, 0, 0, 16)
	tag := SumHMAC(keys[16:], macInput)
	want := append(append(bytes.Clone(iv), body...), tag[:]...)

	if !bytes.Equal(sealed, want) {
		t.Errorf("sealed = %x\nwant     %x", sealed, want)
	}
}

// sealWithBadPadding returns IV‖C‖T with a valid tag over a last block whose
// padding byte is pad, as only a holder of the MAC key could make.
func sealWithBadPadding(tb testing.TB, encKey, macKey []byte, lastBlock []byte) []byte {
	tb.Helper()
	block, err := NewSM4(encKey)
	if err != nil {
		tb.Fatal(err)
	}
	iv := make([]byte, 16)
	body := make([]byte, 16)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, lastBlock)
	macInput := append(append(bytes.Clone(iv), body...), make([]byte, 8)...)
	tag := SumHMAC(macKey, macInput)
	return append(append(iv, body...), tag[:]...)
}

func TestCBCHMACTamperReturnsErrOpen(t *testing.T) {
	t.Parallel()
	encKey, macKey := bytes.Repeat([]byte{1}, 16), bytes.Repeat([]byte{2}, 32)
	sealer, err := NewCBCHMACWithKeys(encKey, macKey)
	if err != nil {
		t.Fatal(err)
	}
	aad := []byte("header")
	sealed, err := sealer.Seal(nil, rand.Reader, []byte("thirty-two bytes of plaintext!!!"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 0x01
		return b
	}
	n := len(sealed)

	cases := []struct {
		name   string
		sealed []byte
		aad    []byte
	}{
		{"bit flipped in IV", flip(0), aad},
		{"bit flipped in last IV byte", flip(15), aad},
		{"bit flipped in ciphertext", flip(16), aad},
		{"bit flipped in last ciphertext block", flip(n - 33), aad},
		{"bit flipped in tag", flip(n - 1), aad},
		{"wrong associated data", sealed, []byte("headex")},
		{"associated data dropped", sealed, nil},
		{"truncated by one byte", sealed[:n-1], aad},
		{"truncated by one block", sealed[:n-16], aad},
		{"tag removed", sealed[:n-32], aad},
		{"only IV and tag", append(bytes.Clone(sealed[:16]), sealed[n-32:]...), aad},
		{"empty", nil, aad},
		{"extended by one byte", append(bytes.Clone(sealed), 0), aad},
		{"extended by one block", append(bytes.Clone(sealed), make([]byte, 16)...), aad},
		{"padding byte zero", sealWithBadPadding(t, encKey, macKey, make([]byte, 16)), nil},
		{"padding byte 17", sealWithBadPadding(t, encKey, macKey, bytes.Repeat([]byte{17}, 16)), nil},
		{"padding bytes disagree", sealWithBadPadding(t, encKey, macKey, append(bytes.Repeat([]byte{4}, 13), 5, 4, 4)), nil},
		{"padding 3 over 2 matching bytes", sealWithBadPadding(t, encKey, macKey, append(make([]byte, 13), 9, 3, 3)), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := sealer.Open([]byte("dst"), tc.sealed, tc.aad)
			if !errors.Is(err, ErrOpen) {
				t.Errorf("Open err = %v, want ErrOpen", err)
			}
			if got != nil {
				t.Errorf("Open returned %q with an error", got)
			}
		})
	}

	// The bad-padding constructions are valid apart from the padding: with
	// correct padding the same construction opens.
	good := sealWithBadPadding(t, encKey, macKey, append([]byte("thirteen byte"), 3, 3, 3))
	if got, err := sealer.Open(nil, good, nil); err != nil || string(got) != "thirteen byte" {
		t.Errorf("Open of the control message = %q, %v", got, err)
	}
}

func TestGCMSealerTamperReturnsErrOpen(t *testing.T) {
	t.Parallel()
	sealer := newTestSealers(t)["GCM"]
	sealed, err := sealer.Seal(nil, rand.Reader, []byte("plaintext"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range sealed {
		b := bytes.Clone(sealed)
		b[i] ^= 0x80
		if _, err := sealer.Open(nil, b, []byte("ad")); !errors.Is(err, ErrOpen) {
			t.Errorf("byte %d flipped: err = %v, want ErrOpen", i, err)
		}
	}
	for _, n := range []int{0, 11, 12, 27, len(sealed) - 1} {
		if _, err := sealer.Open(nil, sealed[:n], []byte("ad")); !errors.Is(err, ErrOpen) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrOpen", n, err)
		}
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestSealerRandomSourceErrors(t *testing.T) {
	t.Parallel()
	for name, sealer := range newTestSealers(t) {
		if _, err := sealer.Seal(nil, nil, []byte("x"), nil); err == nil {
			t.Errorf("%s: Seal with nil rand succeeded", name)
		}
		if _, err := sealer.Seal(nil, failingReader{}, []byte("x"), nil); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%s: Seal with failing rand: err = %v, want io.ErrUnexpectedEOF", name, err)
		}
		if _, err := sealer.Seal(nil, bytes.NewReader(make([]byte, 5)), []byte("x"), nil); err == nil {
			t.Errorf("%s: Seal with a 5-byte rand succeeded", name)
		}
	}
}

func TestUnpadPKCS7(t *testing.T) {
	t.Parallel()
	block := func(tail ...byte) []byte { return append(make([]byte, 16-len(tail)), tail...) }
	cases := []struct {
		name   string
		padded []byte
		n      int
		ok     bool
	}{
		{"one byte", block(1), 15, true},
		{"full block", bytes.Repeat([]byte{16}, 16), 0, true},
		{"full block after data", append(make([]byte, 16), bytes.Repeat([]byte{16}, 16)...), 16, true},
		{"three bytes", block(3, 3, 3), 13, true},
		{"zero", block(0), 0, false},
		{"seventeen", bytes.Repeat([]byte{17}, 16), 0, false},
		{"mismatch at the start", block(2, 3, 3), 0, false},
		{"mismatch in the middle", block(4, 4, 5, 4), 0, false},
	}
	for _, tc := range cases {
		n, ok := unpadPKCS7(tc.padded)
		if ok != tc.ok || (ok && n != tc.n) {
			t.Errorf("unpadPKCS7 %s = %d, %v; want %d, %v", tc.name, n, ok, tc.n, tc.ok)
		}
	}
}

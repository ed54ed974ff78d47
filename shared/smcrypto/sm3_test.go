package smcrypto

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"strings"
	"testing"
)

func TestSumSM3StandardVectors(t *testing.T) {
	t.Parallel()
	// GB/T 32905-2016, appendix A, examples 1 and 2.
	cases := []struct {
		name string
		in   string
		want string
	}{
		{"abc", "abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
		{"abcd times 16", strings.Repeat("abcd", 16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sum := SumSM3([]byte(tc.in))
			if got := hex.EncodeToString(sum[:]); got != tc.want {
				t.Errorf("SumSM3(%q) = %s, want %s", tc.in, got, tc.want)
			}

			h := NewSM3()
			for i := range len(tc.in) {
				h.Write([]byte{tc.in[i]})
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != tc.want {
				t.Errorf("NewSM3 byte by byte = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestHMACMatchesDefinition(t *testing.T) {
	t.Parallel()
	// HMAC per RFC 2104, written out with SM3 so that NewHMAC is checked
	// against the definition and not only against crypto/hmac.
	reference := func(key, msg []byte) []byte {
		if len(key) > 64 {
			sum := SumSM3(key)
			key = sum[:]
		}
		padded := make([]byte, 64)
		copy(padded, key)
		inner, outer := make([]byte, 64), make([]byte, 64)
		for i := range padded {
			inner[i] = padded[i] ^ 0x36
			outer[i] = padded[i] ^ 0x5c
		}
		innerSum := SumSM3(append(inner, msg...))
		outerSum := SumSM3(append(outer, innerSum[:]...))
		return outerSum[:]
	}

	for _, keyLen := range []int{0, 16, 32, 64, 65, 100} {
		key := bytes.Repeat([]byte{0x0b}, keyLen)
		msg := []byte("Hi There, 京通")
		tag := SumHMAC(key, msg)
		if want := reference(key, msg); !bytes.Equal(tag[:], want) {
			t.Errorf("SumHMAC with %d-byte key = %x, want %x", keyLen, tag, want)
		}
		h := NewHMAC(key)
		h.Write(msg)
		if got := h.Sum(nil); !bytes.Equal(got, tag[:]) {
			t.Errorf("NewHMAC with %d-byte key = %x, want %x", keyLen, got, tag)
		}
	}
}

func TestEqualMAC(t *testing.T) {
	t.Parallel()
	a := SumHMAC([]byte("k"), []byte("m"))
	b := a
	b[31] ^= 1
	cases := []struct {
		name string
		x, y []byte
		want bool
	}{
		{"equal", a[:], a[:], true},
		{"last bit differs", a[:], b[:], false},
		{"prefix", a[:], a[:31], false},
		{"both empty", nil, []byte{}, true},
	}
	for _, tc := range cases {
		if got := EqualMAC(tc.x, tc.y); got != tc.want {
			t.Errorf("EqualMAC %s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestHKDFMatchesRFC5869(t *testing.T) {
	t.Parallel()
	// RFC 5869, section 2, written out with HMAC-SM3.
	reference := func(secret, salt []byte, info string, length int) []byte {
		if len(salt) == 0 {
			salt = make([]byte, SM3Size)
		}
		prk := SumHMAC(salt, secret)
		var okm, prev []byte
		for i := byte(1); len(okm) < length; i++ {
			mac := hmac.New(NewSM3, prk[:])
			mac.Write(prev)
			mac.Write([]byte(info))
			mac.Write([]byte{i})
			prev = mac.Sum(nil)
			okm = append(okm, prev...)
		}
		return okm[:length]
	}

	secret := []byte("session secret from SM2 key exchange")
	for _, tc := range []struct {
		salt   []byte
		info   string
		length int
	}{
		{nil, CBCHMACInfo, 48},
		{[]byte("salt"), "", 32},
		{[]byte("salt"), "x", 100},
	} {
		got, err := HKDF(secret, tc.salt, tc.info, tc.length)
		if err != nil {
			t.Fatal(err)
		}
		if want := reference(secret, tc.salt, tc.info, tc.length); !bytes.Equal(got, want) {
			t.Errorf("HKDF(salt %q, info %q, %d) = %x, want %x", tc.salt, tc.info, tc.length, got, want)
		}
	}

	if _, err := HKDF(secret, nil, "", 255*SM3Size+1); err == nil || !strings.HasPrefix(err.Error(), "smcrypto: ") {
		t.Errorf("HKDF too long: err = %v, want an smcrypto error", err)
	}
}

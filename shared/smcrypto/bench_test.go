package smcrypto

import (
	"crypto/rand"
	"testing"
)

func benchKey(b *testing.B) *PrivateKey {
	b.Helper()
	k, err := GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

func BenchmarkSM2Sign(b *testing.B) {
	priv := benchKey(b)
	msg := []byte("session s-1 expires 2026-12-04T10:00:00Z")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := priv.SignMessage(rand.Reader, msg, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSM2Verify(b *testing.B) {
	priv := benchKey(b)
	msg := []byte("session s-1 expires 2026-12-04T10:00:00Z")
	sig, err := priv.SignMessage(rand.Reader, msg, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !VerifyASN1(priv.PublicKey(), msg, sig, nil) {
			b.Fatal("signature does not verify")
		}
	}
}

func BenchmarkSM2Decrypt(b *testing.B) {
	priv := benchKey(b)
	// A 16-byte session key without the 04 byte, as mini-programs send it.
	ct, err := Encrypt(rand.Reader, priv.PublicKey(), make([]byte, 16), &EncrypterOpts{OmitPrefix: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := priv.Decrypt(nil, ct, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSealers(b *testing.B) map[string]Sealer {
	b.Helper()
	cbc, err := NewCBCHMAC(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	gcm, err := NewGCMSealer(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	return map[string]Sealer{"CBCHMAC": cbc, "GCM": gcm}
}

func BenchmarkSeal1K(b *testing.B) {
	plaintext, aad := make([]byte, 1024), make([]byte, 32)
	for name, sealer := range benchSealers(b) {
		b.Run(name, func(b *testing.B) {
			dst := make([]byte, 0, len(plaintext)+sealer.Overhead())
			b.SetBytes(int64(len(plaintext)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sealer.Seal(dst[:0], rand.Reader, plaintext, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen1K(b *testing.B) {
	plaintext, aad := make([]byte, 1024), make([]byte, 32)
	for name, sealer := range benchSealers(b) {
		b.Run(name, func(b *testing.B) {
			sealed, err := sealer.Seal(nil, rand.Reader, plaintext, aad)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, len(sealed))
			b.SetBytes(int64(len(plaintext)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sealer.Open(dst[:0], sealed, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHMAC1K(b *testing.B) {
	key, msg := make([]byte, 32), make([]byte, 1024)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		SumHMAC(key, msg)
	}
}

// BenchmarkSM4MillionIterations runs the GB/T 32907 example 2 loop:
// 1,000,000 single-block encryptions.
func BenchmarkSM4MillionIterations(b *testing.B) {
	block, err := NewSM4(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 16)
	for b.Loop() {
		for range 1_000_000 {
			block.Encrypt(buf, buf)
		}
	}
}

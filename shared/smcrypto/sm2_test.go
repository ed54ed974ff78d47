package smcrypto

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// GB/T 32918.5-2017 (the same values as GM/T 0003.5-2012), appendix A: the
// signature and encryption examples on the SM2 curve.
const (
	gbPrivateKeyHex = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
	gbPublicKeyHex  = "04" +
		"09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020" +
		"ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
	gbSignMessage = "message digest"
	gbDigestHex   = "f0b43e94ba45accaace692ed534382eb17e6ab5a19ce7b31f4486fdfc0d28640"
	gbSignatureR  = "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
	gbSignatureS  = "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"

	// The encryption example of "encryption standard" with the same key and
	// k = 59276e27…bc21, from OpenSSL's test/sm2_internal_test.c. Its C1
	// x-coordinate starts with 04, so the unprefixed form also starts with
	// 04.
	gbEncryptMessage = "encryption standard"
	gbC1X            = "04ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73"
	gbC1Y            = "e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0"
	gbC3             = "59983c18f809e262923c53aec295d30383b54e39d609d160afcb1908d0bd8766"
	gbC2             = "21886ca989ca9c7d58087307ca93092d651efa"
)

func TestSM2StandardSignatureVector(t *testing.T) {
	t.Parallel()
	priv, err := ParsePrivateKeyHex(gbPrivateKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	if got := priv.PublicKey().Hex(); got != gbPublicKeyHex {
		t.Fatalf("public key = %s, want %s", got, gbPublicKeyHex)
	}
	pub := priv.PublicKey()

	digest, err := Digest(pub, []byte(gbSignMessage), nil)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(digest) != gbDigestHex {
		t.Errorf("Digest = %x, want %s", digest, gbDigestHex)
	}

	raw := mustHex(t, gbSignatureR+gbSignatureS)
	if !VerifyRaw(pub, []byte(gbSignMessage), raw, nil) {
		t.Error("standard r‖s signature does not verify")
	}
	if !VerifyRaw(pub, []byte(gbSignMessage), raw, &SignerOpts{UID: []byte(DefaultUID)}) {
		t.Error("standard signature does not verify with DefaultUID given explicitly")
	}
	der, err := SignatureToASN1(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !VerifyASN1(pub, []byte(gbSignMessage), der, nil) {
		t.Error("standard DER signature does not verify")
	}
	if !VerifyDigestASN1(pub, digest, der) {
		t.Error("standard DER signature does not verify against the digest")
	}
	if VerifyASN1(pub, []byte(gbSignMessage+"!"), der, nil) {
		t.Error("standard signature verifies for another message")
	}
	if VerifyASN1(pub, []byte(gbSignMessage), der, &SignerOpts{UID: []byte("ALICE123@YAHOO.COM")}) {
		t.Error("standard signature verifies with another user ID")
	}
}

func TestSM2StandardEncryptionVector(t *testing.T) {
	t.Parallel()
	priv, err := ParsePrivateKeyHex(gbPrivateKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	asn1Hex := "307c" + "0220" + gbC1X + "022100" + gbC1Y + "0420" + gbC3 + "0413" + gbC2

	cases := []struct {
		name   string
		ctHex  string
		format CiphertextFormat
	}{
		{"C1C3C2 with 04", "04" + gbC1X + gbC1Y + gbC3 + gbC2, C1C3C2},
		{"C1C3C2 without 04, x starts with 04", gbC1X + gbC1Y + gbC3 + gbC2, C1C3C2},
		{"C1C2C3 with 04", "04" + gbC1X + gbC1Y + gbC2 + gbC3, C1C2C3},
		{"C1C2C3 without 04", gbC1X + gbC1Y + gbC2 + gbC3, C1C2C3},
		{"ASN.1", asn1Hex, CiphertextASN1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := priv.Decrypt(nil, mustHex(t, tc.ctHex), &DecrypterOpts{Format: tc.format})
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			if string(got) != gbEncryptMessage {
				t.Errorf("Decrypt = %q, want %q", got, gbEncryptMessage)
			}
		})
	}
}

func TestVerifyGmsmBMI2RegressionVector(t *testing.T) {
	t.Parallel()
	// Source: gmsm v0.44.1, sm2/sm2_dsa_test.go, TestVerifyZeroHash. OpenSSL
	// accepts this signature of an all-zero digest. gmsm up to v0.44.0
	// rejected it on amd64 CPUs with BMI2. The reduction step of its assembly
	// field multiplication lost a carry, which v0.44.1 fixed. If this fails,
	// the gmsm version in go.mod is older than v0.44.1 or the fix regressed.
	pub, err := ParsePublicKeyHex("04ef4de57af00ae424c00c4caadff7193f804a19dd73a7e2954db9d0d15ab4cbba67728c3f4572878b7a674735da9fde1682fe2d9e0799c4a5cde57e3d473039a2")
	if err != nil {
		t.Fatal(err)
	}
	sig := mustHex(t, "3046022100be0ea64e1ec06f0d247093f3ccbbadcfb6260224272f86ddb78326e7cd6c7560022100e9f6ab2fcc48a2cef94838e66b5c7e21fd8e4de25990dd98ca5243f4966f2853")
	if !VerifyDigestASN1(pub, make([]byte, 32), sig) {
		t.Error("signature of the all-zero digest does not verify")
	}
}

func TestSM2SignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.PublicKey()
	msg := []byte("申请编号 2026-000042")
	uid := &SignerOpts{UID: []byte("user-42@bj")}

	cases := []struct {
		name string
		sign func() ([]byte, error)
		opts *SignerOpts
	}{
		{"SignMessage nil options", func() ([]byte, error) { return priv.SignMessage(rand.Reader, msg, nil) }, nil},
		{"SignMessage user ID", func() ([]byte, error) { return priv.SignMessage(rand.Reader, msg, uid) }, uid},
		{"Sign with SignerOpts", func() ([]byte, error) { return priv.Sign(rand.Reader, msg, uid) }, uid},
		{"Sign digest", func() ([]byte, error) {
			digest, err := Digest(pub, msg, uid)
			if err != nil {
				return nil, err
			}
			return priv.Sign(rand.Reader, digest, nil)
		}, uid},
		{"crypto.Signer interface", func() ([]byte, error) {
			var signer crypto.Signer = priv
			return signer.Sign(rand.Reader, msg, &SignerOpts{})
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			der, err := tc.sign()
			if err != nil {
				t.Fatal(err)
			}
			if !VerifyASN1(pub, msg, der, tc.opts) {
				t.Fatal("DER signature does not verify")
			}
			raw, err := SignatureToRaw(der)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) != SignatureSize || !VerifyRaw(pub, msg, raw, tc.opts) {
				t.Errorf("raw signature %x does not verify", raw)
			}
			back, err := SignatureToASN1(raw)
			if err != nil || !bytes.Equal(back, der) {
				t.Errorf("SignatureToASN1(SignatureToRaw(der)) = %x, %v; want %x", back, err, der)
			}

			other := &SignerOpts{UID: []byte("someone else")}
			if tc.opts != nil {
				other = nil
			}
			if VerifyASN1(pub, msg, der, other) {
				t.Error("signature verifies with another user ID")
			}
			if VerifyASN1(pub, append(bytes.Clone(msg), 0), der, tc.opts) {
				t.Error("signature verifies for another message")
			}
			tampered := bytes.Clone(raw)
			tampered[63] ^= 1
			if VerifyRaw(pub, msg, tampered, tc.opts) {
				t.Error("tampered signature verifies")
			}
		})
	}
}

func TestSM2SignErrors(t *testing.T) {
	t.Parallel()
	priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		sign func() ([]byte, error)
	}{
		{"nil rand", func() ([]byte, error) { return priv.SignMessage(nil, []byte("m"), nil) }},
		{"digest of 31 bytes", func() ([]byte, error) { return priv.Sign(rand.Reader, make([]byte, 31), nil) }},
		{"foreign options", func() ([]byte, error) { return priv.SignMessage(rand.Reader, []byte("m"), crypto.SHA256) }},
		{"user ID too long", func() ([]byte, error) {
			return priv.SignMessage(rand.Reader, []byte("m"), &SignerOpts{UID: make([]byte, MaxUIDSize+1)})
		}},
	}
	for _, tc := range cases {
		sig, err := tc.sign()
		if err == nil || sig != nil {
			t.Errorf("%s: got %x, %v; want an error", tc.name, sig, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "smcrypto: ") {
			t.Errorf("%s: error %q lacks the package prefix", tc.name, err)
		}
	}

	sig, err := priv.SignMessage(rand.Reader, nil, &SignerOpts{UID: make([]byte, MaxUIDSize)})
	if err != nil || !VerifyASN1(priv.PublicKey(), nil, sig, &SignerOpts{UID: make([]byte, MaxUIDSize)}) {
		t.Errorf("empty message with the longest user ID: %v", err)
	}
}

func TestSignatureEncodingRejects(t *testing.T) {
	t.Parallel()
	n := "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123"
	nMinus1 := "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54122"
	oneHex := strings.Repeat("00", 31) + "01"

	rawCases := []struct {
		name  string
		raw   string
		valid bool
	}{
		{"r and s one", oneHex + oneHex, true},
		{"r and s n-1", nMinus1 + nMinus1, true},
		{"r zero", strings.Repeat("00", 32) + oneHex, false},
		{"s zero", oneHex + strings.Repeat("00", 32), false},
		{"r equals n", n + oneHex, false},
		{"s all ones", oneHex + strings.Repeat("ff", 32), false},
		{"63 bytes", oneHex + oneHex[2:], false},
	}
	for _, tc := range rawCases {
		_, err := SignatureToASN1(mustHex(t, tc.raw))
		if (err == nil) != tc.valid {
			t.Errorf("SignatureToASN1 %s: err = %v, want valid %v", tc.name, err, tc.valid)
		}
	}

	derCases := []struct {
		name string
		der  string
	}{
		{"empty", ""},
		{"trailing byte", "3006020101020101" + "00"},
		{"extra element", "3009020101020101020101"},
		{"non-minimal integer", "300702020001020101"},
		{"negative r", "30060201ff020101"},
		{"zero s", "3006020101020100"},
		{"long-form length", "30810602010102010 1"},
		{"indefinite length", "3080020101020101 0000"},
		{"wrong tag", "3106020101020101"},
	}
	for _, tc := range derCases {
		der, err := hex.DecodeString(strings.ReplaceAll(tc.der, " ", ""))
		if err != nil {
			t.Fatalf("%s: bad test hex: %v", tc.name, err)
		}
		if raw, err := SignatureToRaw(der); err == nil {
			t.Errorf("SignatureToRaw %s = %x, want an error", tc.name, raw)
		}
	}
	if raw, err := SignatureToRaw(mustHex(t, "3006020101020101")); err != nil || hex.EncodeToString(raw) != oneHex+oneHex {
		t.Errorf("SignatureToRaw minimal = %x, %v", raw, err)
	}
}

func TestSM2EncryptDecryptRoundTrip(t *testing.T) {
	t.Parallel()
	priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("session key material 0123456789abcdef")

	cases := []struct {
		opts    *EncrypterOpts
		wantLen int
		first   byte
	}{
		{nil, 97 + len(msg), 0x04},
		{&EncrypterOpts{}, 97 + len(msg), 0x04},
		{&EncrypterOpts{OmitPrefix: true}, 96 + len(msg), 0},
		{&EncrypterOpts{Format: C1C2C3}, 97 + len(msg), 0x04},
		{&EncrypterOpts{Format: C1C2C3, OmitPrefix: true}, 96 + len(msg), 0},
		{&EncrypterOpts{Format: CiphertextASN1}, 0, 0x30},
	}
	for _, tc := range cases {
		name := fmt.Sprintf("%+v", tc.opts)
		ct, err := Encrypt(rand.Reader, priv.PublicKey(), msg, tc.opts)
		if err != nil {
			t.Fatalf("%s: Encrypt: %v", name, err)
		}
		if tc.wantLen != 0 && len(ct) != tc.wantLen {
			t.Errorf("%s: ciphertext length = %d, want %d", name, len(ct), tc.wantLen)
		}
		if tc.first != 0 && ct[0] != tc.first {
			t.Errorf("%s: first byte = %#x, want %#x", name, ct[0], tc.first)
		}

		var dopts *DecrypterOpts
		if tc.opts != nil {
			dopts = &DecrypterOpts{Format: tc.opts.Format}
		}
		got, err := priv.Decrypt(nil, ct, dopts)
		if err != nil || !bytes.Equal(got, msg) {
			t.Errorf("%s: Decrypt = %q, %v", name, got, err)
		}
	}
}

func TestSM2DecryptPrefixDetection(t *testing.T) {
	t.Parallel()
	priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Search for ciphertexts whose X1 starts with 04 (about 1 in 256), the
	// case in which the first byte alone cannot tell the forms apart.
	msg := []byte("x")
	found := 0
	for i := 0; i < 5000 && found < 3; i++ {
		ct, err := Encrypt(rand.Reader, priv.PublicKey(), msg, &EncrypterOpts{OmitPrefix: true})
		if err != nil {
			t.Fatal(err)
		}
		if ct[0] != 0x04 {
			continue
		}
		found++
		for _, form := range [][]byte{ct, append([]byte{0x04}, ct...)} {
			got, err := priv.Decrypt(nil, form, nil)
			if err != nil || !bytes.Equal(got, msg) {
				t.Errorf("Decrypt of %d-byte ciphertext starting 04 = %q, %v", len(form), got, err)
			}
		}
	}
	if found == 0 {
		t.Fatal("found no ciphertext whose X1 starts with 04 in 5000 tries")
	}
}

func TestSM2DecryptFailuresReturnErrDecrypt(t *testing.T) {
	t.Parallel()
	priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("secret")
	ct, err := Encrypt(rand.Reader, priv.PublicKey(), msg, nil)
	if err != nil {
		t.Fatal(err)
	}
	asn1CT, err := Encrypt(rand.Reader, priv.PublicKey(), msg, &EncrypterOpts{Format: CiphertextASN1})
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 1
		return b
	}
	compressed := append(append([]byte{0x02 | ct[64]&1}, ct[1:33]...), ct[65:]...)

	cases := []struct {
		name   string
		key    *PrivateKey
		ct     []byte
		format CiphertextFormat
	}{
		{"wrong key", other, ct, C1C3C2},
		{"bit flipped in C1", priv, flip(ct, 10), C1C3C2},
		{"bit flipped in C3", priv, flip(ct, 70), C1C3C2},
		{"bit flipped in C2", priv, flip(ct, len(ct)-1), C1C3C2},
		{"read as C1C2C3", priv, ct, C1C2C3},
		{"empty C2", priv, ct[:97], C1C3C2},
		{"empty C2 without 04", priv, ct[1:97], C1C3C2},
		{"truncated C1", priv, ct[:40], C1C3C2},
		{"empty", priv, nil, C1C3C2},
		{"compressed C1", priv, compressed, C1C3C2},
		{"ASN.1 as plain", priv, asn1CT, C1C3C2},
		{"plain as ASN.1", priv, ct, CiphertextASN1},
		{"ASN.1 bit flipped", priv, flip(asn1CT, len(asn1CT)-1), CiphertextASN1},
		{"ASN.1 trailing byte", priv, append(bytes.Clone(asn1CT), 0), CiphertextASN1},
	}
	for _, tc := range cases {
		got, err := tc.key.Decrypt(nil, tc.ct, &DecrypterOpts{Format: tc.format})
		if !errors.Is(err, ErrDecrypt) || got != nil {
			t.Errorf("%s: Decrypt = %q, %v; want ErrDecrypt", tc.name, got, err)
		}
	}

	if _, err := priv.Decrypt(nil, ct, &DecrypterOpts{Format: 7}); err == nil || errors.Is(err, ErrDecrypt) {
		t.Errorf("unknown format: err = %v, want a usage error", err)
	}
	if _, err := priv.Decrypt(nil, ct, struct{ crypto.DecrypterOpts }{}); err == nil || errors.Is(err, ErrDecrypt) {
		t.Errorf("foreign options: err = %v, want a usage error", err)
	}
}

func TestSM2EncryptErrors(t *testing.T) {
	t.Parallel()
	priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.PublicKey()
	cases := []struct {
		name string
		rand bool
		msg  []byte
		opts *EncrypterOpts
	}{
		{"nil rand", false, []byte("m"), nil},
		{"empty message", true, nil, nil},
		{"ASN.1 without prefix", true, []byte("m"), &EncrypterOpts{Format: CiphertextASN1, OmitPrefix: true}},
		{"unknown format", true, []byte("m"), &EncrypterOpts{Format: 9}},
	}
	for _, tc := range cases {
		r := rand.Reader
		if !tc.rand {
			r = nil
		}
		if ct, err := Encrypt(r, pub, tc.msg, tc.opts); err == nil {
			t.Errorf("%s: Encrypt = %x, want an error", tc.name, ct)
		}
	}
}

func TestKeyEncodingRoundTrips(t *testing.T) {
	t.Parallel()
	priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.PublicKey()

	fromHex, err := ParsePrivateKeyHex(MarshalPrivateKeyHex(priv))
	if err != nil || !fromHex.Equal(priv) {
		t.Errorf("private key hex round trip: %v", err)
	}
	pemBytes, err := MarshalPrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN PRIVATE KEY-----\n")) {
		t.Errorf("private key PEM starts with %q", pemBytes[:30])
	}
	fromPEM, err := ParsePrivateKeyPEM(pemBytes)
	if err != nil || !fromPEM.Equal(priv) {
		t.Errorf("private key PEM round trip: %v", err)
	}

	for _, s := range []string{pub.Hex(), strings.ToUpper(pub.Hex()), pub.CompressedHex()} {
		got, err := ParsePublicKeyHex(s)
		if err != nil || !got.Equal(pub) {
			t.Errorf("ParsePublicKeyHex(%s): %v", s, err)
		}
	}
	pubPEM, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	fromPubPEM, err := ParsePublicKeyPEM(pubPEM)
	if err != nil || !fromPubPEM.Equal(pub) {
		t.Errorf("public key PEM round trip: %v", err)
	}
	point, err := NewPublicKey(pub.Bytes())
	if err != nil || !point.Equal(pub) {
		t.Errorf("NewPublicKey(Bytes()): %v", err)
	}
	if !priv.Public().(*PublicKey).Equal(pub) {
		t.Error("Public() differs from PublicKey()")
	}
}

func TestParsePrivateKeyPEMFormats(t *testing.T) {
	t.Parallel()
	priv, err := ParsePrivateKeyHex(gbPrivateKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := MarshalPrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		pem   string
		valid bool
	}{
		{"PKCS #8", string(pkcs8), true},
		{"PKCS #8 with leading text", "key for tests\n" + string(pkcs8), true},
		{"trailing block", string(pkcs8) + string(pkcs8), false},
		{"public key block", strings.ReplaceAll(string(pkcs8), "PRIVATE KEY", "PUBLIC KEY"), false},
		{"encrypted", strings.ReplaceAll(string(pkcs8), "PRIVATE KEY", "ENCRYPTED PRIVATE KEY"), false},
		{"no PEM", "3945208f", false},
	}
	for _, tc := range cases {
		got, err := ParsePrivateKeyPEM([]byte(tc.pem))
		if (err == nil) != tc.valid {
			t.Errorf("%s: err = %v, want valid %v", tc.name, err, tc.valid)
			continue
		}
		if tc.valid && !got.Equal(priv) {
			t.Errorf("%s: parsed a different key", tc.name)
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	t.Parallel()
	n := "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123"
	nMinus1 := "fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54122"
	privCases := []string{
		"",
		strings.Repeat("00", 32),
		n,
		nMinus1, // GB/T 32918.1 allows d only up to n−2
		strings.Repeat("zz", 32),
		gbPrivateKeyHex[:62],
		gbPrivateKeyHex + "00",
	}
	for _, s := range privCases {
		if _, err := ParsePrivateKeyHex(s); err == nil {
			t.Errorf("ParsePrivateKeyHex(%q) succeeded", s)
		}
	}
	if _, err := NewPrivateKey(make([]byte, 31)); !errors.As(err, new(KeySizeError)) {
		t.Errorf("NewPrivateKey 31 bytes: err = %v, want KeySizeError", err)
	}

	offCurve := gbPublicKeyHex[:129] + "4"
	pubCases := []string{
		"",
		offCurve,
		"05" + gbPublicKeyHex[2:],
		gbPublicKeyHex[2:], // X‖Y without 04
		"04" + strings.Repeat("00", 64),
		"02" + strings.Repeat("ff", 32), // x ≥ p
		gbPublicKeyHex[:66],             // 04 and X only
		"06" + gbPublicKeyHex[2:],       // hybrid form
	}
	for _, s := range pubCases {
		if _, err := ParsePublicKeyHex(s); err == nil {
			t.Errorf("ParsePublicKeyHex(%q) succeeded", s)
		}
	}
}

func TestPrivateKeyNeverPrinted(t *testing.T) {
	t.Parallel()
	priv, err := ParsePrivateKeyHex(gbPrivateKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	secretUpper := strings.ToUpper(gbPrivateKeyHex)
	bigInt := priv.key.D.String()

	var logged bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logged, nil))
	logger.Info("key loaded", "key", priv, "key_value", *priv)
	jsonBytes, err := json.Marshal(map[string]any{"key": priv})
	if err != nil {
		t.Fatal(err)
	}

	outputs := map[string]string{
		"%v":        fmt.Sprintf("%v", priv),
		"%+v":       fmt.Sprintf("%+v", priv),
		"%#v":       fmt.Sprintf("%#v", priv),
		"String":    priv.String(),
		"%v value":  fmt.Sprintf("%v", *priv),
		"%+v value": fmt.Sprintf("%+v", *priv),
		"%x":        fmt.Sprintf("%x", priv),
		"slog":      logged.String(),
		"json":      string(jsonBytes),
	}
	for name, out := range outputs {
		for _, secret := range []string{gbPrivateKeyHex, secretUpper, bigInt} {
			if strings.Contains(strings.ToLower(out), strings.ToLower(secret)) {
				t.Errorf("%s output contains the private key: %s", name, out)
			}
		}
		if !strings.Contains(out, "REDACTED") && name != "%x" {
			t.Errorf("%s output = %q, want the REDACTED placeholder", name, out)
		}
	}
}

// Produced with OpenSSL 3.0.19:
//
//	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2 -out key.pem
//	openssl ec -in key.pem                  # SEC 1 form
//	openssl pkey -in key.pem -pubout        # public key
//	openssl dgst -sm3 -sign key.pem -sigopt distid:1234567812345678 msg.txt
//	openssl pkeyutl -encrypt -pubin -inkey pub.pem -in msg.txt
const (
	opensslPKCS8 = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgPfZiT2JW02zBH4+O
DTChT/d2e83XkOt3cPtz+vKSrIOhRANCAATIO5qsv65YNDLaFIbYzB6Xp0CoEdxg
bNEnuNpaayO8Ckbnx1PsGUlOwRy9rBhInueVe23a1H4miF7vEQxX2nQy
-----END PRIVATE KEY-----
`
	opensslSEC1 = `-----BEGIN SM2 PRIVATE KEY-----
MHcCAQEEID32Yk9iVtNswR+Pjg0woU/3dnvN15Drd3D7c/rykqyDoAoGCCqBHM9V
AYItoUQDQgAEyDuarL+uWDQy2hSG2Mwel6dAqBHcYGzRJ7jaWmsjvApG58dT7BlJ
TsEcvawYSJ7nlXtt2tR+Johe7xEMV9p0Mg==
-----END SM2 PRIVATE KEY-----
`
	opensslPublicKey = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEyDuarL+uWDQy2hSG2Mwel6dAqBHc
YGzRJ7jaWmsjvApG58dT7BlJTsEcvawYSJ7nlXtt2tR+Johe7xEMV9p0Mg==
-----END PUBLIC KEY-----
`
	opensslPrivateKeyHex = "3df6624f6256d36cc11f8f8e0d30a14ff7767bcdd790eb7770fb73faf292ac83"
	opensslMessage       = "openssl interop 京通"
	opensslSignatureHex  = "3045022100e245f71b0bd1244193b77e3adf70062025ff986815cfe5339fe1d3e2d49ae05502204975a762fcc639bbbee0553c26230bba98a38e77cd7045d68629e7f000502adc"
	opensslCiphertextHex = "307e02207c093ad94416c09fb1b94514b8435bb4316e76818104adafb0921c317bb71a79022019b862bd99bed19e71620f381f0e025a0be0f5a93ecf8b6b242b37d7b2cf99e8042011d32908d9ac5cc0401e6fe6781902150f61c4250f38893f4fce4ef8ba6aada504167d95bec4e8b4d32970fce6a63736fa3b7caba0ff92ec"
)

func TestOpenSSLInterop(t *testing.T) {
	t.Parallel()
	want, err := ParsePrivateKeyHex(opensslPrivateKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	for name, pemText := range map[string]string{"PKCS #8": opensslPKCS8, "SEC 1": opensslSEC1} {
		got, err := ParsePrivateKeyPEM([]byte(pemText))
		if err != nil || !got.Equal(want) {
			t.Errorf("%s private key: %v", name, err)
		}
	}
	pub, err := ParsePublicKeyPEM([]byte(opensslPublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(want.PublicKey()) {
		t.Fatal("OpenSSL public key does not match its private key")
	}
	ourPEM, err := MarshalPublicKeyPEM(pub)
	if err != nil || string(ourPEM) != opensslPublicKey {
		t.Errorf("MarshalPublicKeyPEM = %s, %v; want OpenSSL's encoding", ourPEM, err)
	}

	if !VerifyASN1(pub, []byte(opensslMessage), mustHex(t, opensslSignatureHex), nil) {
		t.Error("OpenSSL signature does not verify")
	}
	got, err := want.Decrypt(nil, mustHex(t, opensslCiphertextHex), &DecrypterOpts{Format: CiphertextASN1})
	if err != nil || string(got) != opensslMessage {
		t.Errorf("Decrypt of OpenSSL ciphertext = %q, %v", got, err)
	}
}

package smcrypto

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// writeGoInterop names a file to which TestWriteGoInterop writes the
// gmsm-produced values that the Node fixture script checks with the
// JavaScript libraries (see testdata/README.md).
var writeGoInterop = flag.String("write-go-interop", "", "write gmsm-produced interop values to this JSON `file` for the Node fixture script")

// goInterop contains values produced by this package for the JavaScript
// libraries to decrypt and verify.
type goInterop struct {
	PrivateKeyHex       string `json:"private_key_hex"`
	PublicKeyHex        string `json:"public_key_hex"`
	Message             string `json:"message"`
	UserID              string `json:"user_id"`
	CiphertextHex       string `json:"ciphertext_hex"`
	CiphertextPrefixHex string `json:"ciphertext_prefix_hex"`
	SignatureDERHex     string `json:"signature_der_hex"`
	SignatureRawHex     string `json:"signature_raw_hex"`
	SignatureUIDDERHex  string `json:"signature_uid_der_hex"`
}

// jsResults records what the JavaScript libraries made of goInterop.
type jsResults struct {
	SMCryptoDecrypt             string `json:"sm_crypto_decrypt"`
	SMCryptoV2Decrypt           string `json:"sm_crypto_v2_decrypt"`
	SMCryptoDecryptWithPrefix   string `json:"sm_crypto_decrypt_with_prefix"`
	SMCryptoVerifyDER           bool   `json:"sm_crypto_verify_der"`
	SMCryptoV2VerifyDER         bool   `json:"sm_crypto_v2_verify_der"`
	SMCryptoVerifyRaw           bool   `json:"sm_crypto_verify_raw"`
	SMCryptoV2VerifyRaw         bool   `json:"sm_crypto_v2_verify_raw"`
	SMCryptoVerifyUIDDER        bool   `json:"sm_crypto_verify_uid_der"`
	SMCryptoV2VerifyUIDDER      bool   `json:"sm_crypto_v2_verify_uid_der"`
	SMCryptoVerifyDERWrongUID   bool   `json:"sm_crypto_verify_der_wrong_uid"`
	SMCryptoV2VerifyDERWrongMsg bool   `json:"sm_crypto_v2_verify_der_wrong_message"`
}

// jsLibrary contains values produced by one JavaScript library.
type jsLibrary struct {
	PrivateKeyHex           string `json:"private_key_hex"`
	PublicKeyHex            string `json:"public_key_hex"`
	CompressedPublicKeyHex  string `json:"compressed_public_key_hex"`
	Message                 string `json:"message"`
	UserID                  string `json:"user_id"`
	EncryptC1C3C2Hex        string `json:"encrypt_c1c3c2_hex"`
	EncryptC1C2C3Hex        string `json:"encrypt_c1c2c3_hex"`
	EncryptASN1Hex          string `json:"encrypt_asn1_hex,omitempty"`
	SignatureRawHex         string `json:"signature_raw_hex"`
	SignatureDERHex         string `json:"signature_der_hex"`
	SignatureUIDDERHex      string `json:"signature_uid_der_hex"`
	SM3Hex                  string `json:"sm3_hex"`
	HMACKeyHex              string `json:"hmac_key_hex"`
	HMACHex                 string `json:"hmac_hex"`
	SM4KeyHex               string `json:"sm4_key_hex"`
	SM4IVHex                string `json:"sm4_iv_hex"`
	SM4CBCHex               string `json:"sm4_cbc_hex"`
	GCMKeyHex               string `json:"gcm_key_hex,omitempty"`
	GCMIVHex                string `json:"gcm_iv_hex,omitempty"`
	GCMAADHex               string `json:"gcm_aad_hex,omitempty"`
	GCMCiphertextHex        string `json:"gcm_ciphertext_hex,omitempty"`
	GCMTagHex               string `json:"gcm_tag_hex,omitempty"`
	HKDFSecretHex           string `json:"hkdf_secret_hex,omitempty"`
	HKDFSaltHex             string `json:"hkdf_salt_hex,omitempty"`
	HKDFInfo                string `json:"hkdf_info,omitempty"`
	HKDFHex                 string `json:"hkdf_hex,omitempty"`
	CBCHMACSecretHex        string `json:"cbc_hmac_secret_hex,omitempty"`
	CBCHMACAADHex           string `json:"cbc_hmac_aad_hex,omitempty"`
	CBCHMACSealedHex        string `json:"cbc_hmac_sealed_hex,omitempty"`
	CBCHMACInfo             string `json:"cbc_hmac_info,omitempty"`
	CBCHMACSealedNoAADHex   string `json:"cbc_hmac_sealed_no_aad_hex,omitempty"`
	CBCHMACSealedEmptyPTHex string `json:"cbc_hmac_sealed_empty_plaintext_hex,omitempty"`
}

type interopFixture struct {
	Libraries  map[string]string `json:"libraries"`
	SMCrypto   jsLibrary         `json:"sm_crypto"`
	SMCryptoV2 jsLibrary         `json:"sm_crypto_v2"`
	GoToJS     goInterop         `json:"go_to_js"`
	JSResults  jsResults         `json:"js_results"`
}

func TestWriteGoInterop(t *testing.T) {
	if *writeGoInterop == "" {
		t.Skip("set -write-go-interop to write the values for the Node fixture script")
	}

	priv, err := GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const message = "京通 gmsm → JS: 办事指南 #42"
	const userID = "gateway@jingtong.beijing"

	ciphertext, err := Encrypt(rand.Reader, priv.PublicKey(), []byte(message), &EncrypterOpts{OmitPrefix: true})
	if err != nil {
		t.Fatal(err)
	}
	der, err := priv.SignMessage(rand.Reader, []byte(message), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := SignatureToRaw(der)
	if err != nil {
		t.Fatal(err)
	}
	uidDER, err := priv.SignMessage(rand.Reader, []byte(message), &SignerOpts{UID: []byte(userID)})
	if err != nil {
		t.Fatal(err)
	}

	out := goInterop{
		PrivateKeyHex:       MarshalPrivateKeyHex(priv),
		PublicKeyHex:        priv.PublicKey().Hex(),
		Message:             message,
		UserID:              userID,
		CiphertextHex:       hex.EncodeToString(ciphertext),
		CiphertextPrefixHex: "04" + hex.EncodeToString(ciphertext),
		SignatureDERHex:     hex.EncodeToString(der),
		SignatureRawHex:     hex.EncodeToString(raw),
		SignatureUIDDERHex:  hex.EncodeToString(uidDER),
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(*writeGoInterop, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func loadInteropFixture(tb testing.TB) *interopFixture {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "interop.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var fixture interopFixture
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fixture); err != nil {
		tb.Fatalf("decoding testdata/interop.json: %v", err)
	}
	return &fixture
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatalf("invalid hex %q: %v", s, err)
	}
	return b
}

func TestInteropJavaScriptLibraries(t *testing.T) {
	t.Parallel()
	fixture := loadInteropFixture(t)

	libs := []struct {
		name string
		lib  jsLibrary
	}{
		{"sm-crypto", fixture.SMCrypto},
		{"sm-crypto-v2", fixture.SMCryptoV2},
	}
	for _, tc := range libs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkJSLibrary(t, tc.lib)
		})
	}
}

func checkJSLibrary(t *testing.T, lib jsLibrary) {
	t.Helper()
	priv, err := ParsePrivateKeyHex(lib.PrivateKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKeyHex(lib.PublicKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.PublicKey()) {
		t.Fatal("public key does not match the private key")
	}
	compressed, err := ParsePublicKeyHex(lib.CompressedPublicKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	if !compressed.Equal(pub) {
		t.Error("compressed public key differs from the uncompressed one")
	}
	if got := pub.CompressedHex(); got != lib.CompressedPublicKeyHex {
		t.Errorf("CompressedHex() = %s, want %s", got, lib.CompressedPublicKeyHex)
	}
	msg := []byte(lib.Message)

	decrypts := []struct {
		name   string
		ctHex  string
		format CiphertextFormat
	}{
		{"C1C3C2 without 04", lib.EncryptC1C3C2Hex, C1C3C2},
		{"C1C3C2 with 04 added", "04" + lib.EncryptC1C3C2Hex, C1C3C2},
		{"C1C2C3 without 04", lib.EncryptC1C2C3Hex, C1C2C3},
		{"ASN.1", lib.EncryptASN1Hex, CiphertextASN1},
	}
	for _, d := range decrypts {
		if d.ctHex == "" {
			continue
		}
		got, err := priv.Decrypt(nil, mustHex(t, d.ctHex), &DecrypterOpts{Format: d.format})
		if err != nil {
			t.Errorf("decrypt %s: %v", d.name, err)
			continue
		}
		if !bytes.Equal(got, msg) {
			t.Errorf("decrypt %s = %q, want %q", d.name, got, msg)
		}
	}

	if !VerifyRaw(pub, msg, mustHex(t, lib.SignatureRawHex), nil) {
		t.Error("raw r‖s signature with hash:true does not verify")
	}
	if !VerifyASN1(pub, msg, mustHex(t, lib.SignatureDERHex), nil) {
		t.Error("DER signature with hash:true does not verify")
	}
	uidOpts := &SignerOpts{UID: []byte(lib.UserID)}
	if !VerifyASN1(pub, msg, mustHex(t, lib.SignatureUIDDERHex), uidOpts) {
		t.Error("DER signature with explicit userId does not verify")
	}
	if VerifyASN1(pub, msg, mustHex(t, lib.SignatureUIDDERHex), nil) {
		t.Error("DER signature with explicit userId verifies under the default user ID")
	}

	if got := SumSM3(msg); hex.EncodeToString(got[:]) != lib.SM3Hex {
		t.Errorf("SumSM3 = %x, want %s", got, lib.SM3Hex)
	}
	if got := SumHMAC(mustHex(t, lib.HMACKeyHex), msg); hex.EncodeToString(got[:]) != lib.HMACHex {
		t.Errorf("SumHMAC = %x, want %s", got, lib.HMACHex)
	}

	checkJSCBC(t, lib, msg)
}

func checkJSCBC(t *testing.T, lib jsLibrary, msg []byte) {
	t.Helper()
	block, err := NewSM4(mustHex(t, lib.SM4KeyHex))
	if err != nil {
		t.Fatal(err)
	}
	ct := mustHex(t, lib.SM4CBCHex)
	padded := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, mustHex(t, lib.SM4IVHex)).CryptBlocks(padded, ct)
	n, ok := unpadPKCS7(padded)
	if !ok {
		t.Fatalf("SM4-CBC from JS has invalid PKCS #7 padding: %x", padded)
	}
	if !bytes.Equal(padded[:n], msg) {
		t.Errorf("SM4-CBC plaintext = %q, want %q", padded[:n], msg)
	}
}

func TestInteropSMCryptoV2GCMAndHKDF(t *testing.T) {
	t.Parallel()
	lib := loadInteropFixture(t).SMCryptoV2

	aead, err := NewGCM(mustHex(t, lib.GCMKeyHex))
	if err != nil {
		t.Fatal(err)
	}
	sealed := append(mustHex(t, lib.GCMCiphertextHex), mustHex(t, lib.GCMTagHex)...)
	got, err := aead.Open(nil, mustHex(t, lib.GCMIVHex), sealed, mustHex(t, lib.GCMAADHex))
	if err != nil {
		t.Fatalf("opening sm-crypto-v2 SM4-GCM: %v", err)
	}
	if string(got) != lib.Message {
		t.Errorf("SM4-GCM plaintext = %q, want %q", got, lib.Message)
	}
	if _, err := aead.Open(nil, mustHex(t, lib.GCMIVHex), sealed, nil); err == nil {
		t.Error("SM4-GCM opened without its associated data")
	}

	okm, err := HKDF(mustHex(t, lib.HKDFSecretHex), mustHex(t, lib.HKDFSaltHex), lib.HKDFInfo, 48)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(okm) != lib.HKDFHex {
		t.Errorf("HKDF = %x, want %s", okm, lib.HKDFHex)
	}
}

func TestInteropSMCryptoV2CBCHMAC(t *testing.T) {
	t.Parallel()
	lib := loadInteropFixture(t).SMCryptoV2
	if lib.CBCHMACInfo != CBCHMACInfo {
		t.Fatalf("fixture HKDF info = %q, want %q", lib.CBCHMACInfo, CBCHMACInfo)
	}
	sealer, err := NewCBCHMAC(mustHex(t, lib.CBCHMACSecretHex))
	if err != nil {
		t.Fatal(err)
	}
	aad := mustHex(t, lib.CBCHMACAADHex)

	cases := []struct {
		name      string
		sealedHex string
		aad       []byte
		want      string
	}{
		{"with associated data", lib.CBCHMACSealedHex, aad, lib.Message},
		{"without associated data", lib.CBCHMACSealedNoAADHex, nil, lib.Message},
		{"empty plaintext", lib.CBCHMACSealedEmptyPTHex, aad, ""},
	}
	for _, tc := range cases {
		got, err := sealer.Open(nil, mustHex(t, tc.sealedHex), tc.aad)
		if err != nil {
			t.Errorf("%s: Open: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s: Open = %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, err := sealer.Open(nil, mustHex(t, lib.CBCHMACSealedHex), nil); !errors.Is(err, ErrOpen) {
		t.Errorf("Open without the associated data: err = %v, want ErrOpen", err)
	}
}

func TestInteropGoToJavaScript(t *testing.T) {
	t.Parallel()
	fixture := loadInteropFixture(t)
	in, res := fixture.GoToJS, fixture.JSResults

	// The recorded values must still be what this package accepts, so a
	// change on our side that breaks the JavaScript side shows up here.
	priv, err := ParsePrivateKeyHex(in.PrivateKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	if priv.PublicKey().Hex() != in.PublicKeyHex {
		t.Fatal("go_to_js public key does not match its private key")
	}
	got, err := priv.Decrypt(nil, mustHex(t, in.CiphertextHex), nil)
	if err != nil || string(got) != in.Message {
		t.Errorf("Go decrypt of its own unprefixed ciphertext = %q, %v", got, err)
	}
	if !VerifyASN1(priv.PublicKey(), []byte(in.Message), mustHex(t, in.SignatureDERHex), nil) {
		t.Error("Go DER signature does not verify in Go")
	}

	checks := []struct {
		name string
		got  bool
		want bool
	}{
		{"sm-crypto decrypts ciphertext without 04", res.SMCryptoDecrypt == in.Message, true},
		{"sm-crypto-v2 decrypts ciphertext without 04", res.SMCryptoV2Decrypt == in.Message, true},
		{"sm-crypto rejects ciphertext with 04", res.SMCryptoDecryptWithPrefix == "", true},
		{"sm-crypto verifies DER", res.SMCryptoVerifyDER, true},
		{"sm-crypto-v2 verifies DER", res.SMCryptoV2VerifyDER, true},
		{"sm-crypto verifies r‖s", res.SMCryptoVerifyRaw, true},
		{"sm-crypto-v2 verifies r‖s", res.SMCryptoV2VerifyRaw, true},
		{"sm-crypto verifies DER with user ID", res.SMCryptoVerifyUIDDER, true},
		{"sm-crypto-v2 verifies DER with user ID", res.SMCryptoV2VerifyUIDDER, true},
		{"sm-crypto rejects the wrong user ID", res.SMCryptoVerifyDERWrongUID, false},
		{"sm-crypto-v2 rejects the wrong message", res.SMCryptoV2VerifyDERWrongMsg, false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

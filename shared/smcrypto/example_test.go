package smcrypto_test

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jingtong/backend/shared/smcrypto"
)

func ExampleNewCBCHMAC() {
	// Both sides hold a session secret, for example 32 random bytes that the
	// client sent SM2-encrypted when it opened the session.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		panic(err)
	}
	sealer, err := smcrypto.NewCBCHMAC(secret)
	if err != nil {
		panic(err)
	}

	// The additional data binds the body to its request without encrypting it.
	header := []byte("POST /api/zones session=s-1 ts=1764806400")
	sealed, err := sealer.Seal(nil, rand.Reader, []byte(`{"name":"居住证"}`), header)
	if err != nil {
		panic(err)
	}

	body, err := sealer.Open(nil, sealed, header)
	fmt.Println(string(body), err)

	sealed[len(sealed)-1] ^= 1
	_, err = sealer.Open(nil, sealed, header)
	fmt.Println(errors.Is(err, smcrypto.ErrOpen))
	// Output:
	// {"name":"居住证"} <nil>
	// true
}

func ExamplePrivateKey_SignMessage() {
	priv, err := smcrypto.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	msg := []byte("session s-1 expires 2026-12-04T10:00:00Z")
	opts := &smcrypto.SignerOpts{UID: []byte("gateway@jingtong")}

	der, err := priv.SignMessage(rand.Reader, msg, opts)
	if err != nil {
		panic(err)
	}
	fmt.Println("DER verifies:", smcrypto.VerifyASN1(priv.PublicKey(), msg, der, opts))

	// sm-crypto's doSignature(msg, key, {hash: true, userId}) returns r‖s.
	raw, err := smcrypto.SignatureToRaw(der)
	if err != nil {
		panic(err)
	}
	fmt.Println("r‖s bytes:", len(raw))
	fmt.Println("r‖s verifies:", smcrypto.VerifyRaw(priv.PublicKey(), msg, raw, opts))
	fmt.Println("default user ID verifies:", smcrypto.VerifyASN1(priv.PublicKey(), msg, der, nil))
	// Output:
	// DER verifies: true
	// r‖s bytes: 64
	// r‖s verifies: true
	// default user ID verifies: false
}

func ExampleEncrypt() {
	priv, err := smcrypto.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}

	// What a mini-program sends: sm2.doEncrypt(key, publicKeyHex), C1C3C2
	// without the 04 byte.
	ct, err := smcrypto.Encrypt(rand.Reader, priv.PublicKey(), []byte("16-byte sess key"), &smcrypto.EncrypterOpts{OmitPrefix: true})
	if err != nil {
		panic(err)
	}
	plaintext, err := priv.Decrypt(nil, ct, nil)
	fmt.Println(string(plaintext), err)
	// Output: 16-byte sess key <nil>
}

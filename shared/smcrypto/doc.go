// Package smcrypto provides SM2 signatures and encryption, SM3 hashing and
// HMAC, and SM4 encryption in the shape of the standard library's crypto
// packages, plus the key providers that the gateway uses to reach its SM2
// keys by key ID. It wraps github.com/emmansun/gmsm v0.44.1, so callers never
// import gmsm themselves.
//
// # Randomness and nonces
//
// Every operation that needs randomness takes an io.Reader from the caller,
// usually crypto/rand.Reader: key generation, SM2 signing and encryption, and
// the IVs and nonces of the Sealers from [NewCBCHMAC] and [NewGCMSealer].
// Nothing in this package reads crypto/rand on its own, except that [NewKeySet]
// and [EnsureKeyFile] use crypto/rand.Reader when the caller passes none.
// Everywhere else a nil reader is rejected with an error. SM2 signing in gmsm
// v0.44.1 is hedged: the nonce is derived with HMAC-SM3 from the private key,
// the digest and bytes read from rand, so a weak reader does not leak the
// private key.
//
// [NewGCM] returns a plain cipher.AEAD whose 12-byte nonces the caller
// chooses. Random 12-byte nonces are safe for about 2^32 messages per key.
//
// # Constant time
//
// These operations run in time independent of secret data:
//   - MAC comparison: [EqualMAC], the tag check of the [NewCBCHMAC] Sealer's
//     Open, and the C3 check of SM2 decryption (crypto/subtle);
//   - PKCS #7 unpadding in the [NewCBCHMAC] Sealer's Open, which runs only
//     after the tag has verified;
//   - SM2 scalar multiplication, which gmsm ports from the standard library's
//     constant-time P-256 code (internal/sm2ec);
//   - SM4-CBC decryption on CPUs with AES instructions, and SM4-GCM on CPUs
//     with AES and carry-less multiplication instructions, which gmsm runs
//     through its assembly.
//
// NOTE: gmsm v0.44.1 encrypts single SM4 blocks with a table-driven Go
// implementation by default, which is not constant time. cipher.Block Encrypt
// and Decrypt, and CBC encryption (which goes block by block), take that path.
// Setting FORCE_SM4BLOCK_AESNI=1 in the process environment before start makes
// gmsm use its constant-time assembly for single blocks too, at about 1.2 to
// 1.7 times the cost (gmsm docs/sm4.md).
//
// Signature verification, public key parsing and ciphertext format detection
// handle public data only and are not constant time.
//
// # Wire formats
//
// SM2 public keys: 65 bytes 04‖X‖Y (130 hex characters, the sm-crypto form),
// 33 bytes 02‖X or 03‖X (66 hex characters), or a PEM "PUBLIC KEY" block
// (PKIX SubjectPublicKeyInfo). SM2 private keys: 32 bytes d (64 hex characters)
// or a PEM "PRIVATE KEY" block (unencrypted PKCS #8). See [ParsePublicKeyHex],
// [ParsePublicKeyPEM], [ParsePrivateKeyHex] and [ParsePrivateKeyPEM].
//
// SM2 signatures are computed over e = SM3(Z‖M), where Z = SM3(ENTL‖ID‖a‖b‖
// Gx‖Gy‖Px‖Py) per GB/T 32918.2 and ID is the signer's user ID, by default the
// 16 ASCII bytes "1234567812345678" ([DefaultUID]). This is what sm-crypto and
// sm-crypto-v2 compute with {hash: true}. A signature is encoded as DER,
// SEQUENCE { r INTEGER, s INTEGER }, or raw as r‖s with each value left-padded
// to 32 bytes (64 bytes in all, sm-crypto's doSignature without der). Both
// forms require 1 ≤ r, s ≤ n−1.
//
// SM2 ciphertexts (GB/T 32918.4): C1 is the ephemeral point, C3 = SM3(x2‖M‖y2)
// (32 bytes) and C2 is the masked message, as long as the message. The formats
// are:
//   - [C1C3C2]: 04‖X1‖Y1‖C3‖C2, or X1‖Y1‖C3‖C2 without the 04 byte as sm-crypto,
//     sm-crypto-v2 and gm-crypto emit it;
//   - [C1C2C3]: the same with C2 before C3, the order of older clients;
//   - [CiphertextASN1]: SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING,
//     ciphertext OCTET STRING } (GM/T 0009), sm-crypto-v2's {asn1: true}.
//
// For the two plain formats, decryption reads C1 as 04‖X1‖Y1 when the input
// starts with 0x04 and bytes 1 to 64 are a point on the curve. Otherwise it
// reads C1 as X1‖Y1 from bytes 0 to 63, which must be a point on the curve.
// The length alone cannot tell the two forms apart, because C2 has the
// message's length. The point check can: a string of 64 random bytes is a
// curve point with probability about 2^-256. Compressed C1 (02 or 03) is not
// accepted, and C2 must not be empty. Encryption writes the 04 byte unless
// [EncrypterOpts] OmitPrefix is set.
//
// The [NewCBCHMAC] Sealer writes IV‖C‖T. IV is 16 random bytes. C is
// SM4-CBC under the encryption key of the plaintext with PKCS #7 padding. T is
// the 32-byte HMAC-SM3 under the MAC key of A‖IV‖C‖AL, where A is the
// additional data and AL is the bit length of A as a 64-bit big-endian
// integer. This is the MAC input of the AES_CBC_HMAC_SHA2 algorithms of
// RFC 7518, with SM4 in place of AES and a tag that is not truncated. A
// session secret of at least 16 bytes yields both keys through HKDF-SM3
// (RFC 5869) with an empty salt and the info string [CBCHMACInfo]. The first
// 16 output bytes are the SM4 key and the next 32 the MAC key. Open checks the
// tag before it decrypts, and every failure returns [ErrOpen].
//
// The [NewGCMSealer] Sealer writes N‖C‖T: a 12-byte random nonce, the SM4-GCM
// ciphertext and its 16-byte tag. The additional data is authenticated but
// not sent.
//
// # Remote key service protocol
//
// [RemoteProvider] reaches SM2 private keys held by a certified crypto device
// or a cloud crypto service through a small HTTP JSON protocol. Every request
// carries "Authorization: Bearer <token>"; bodies are JSON with
// "Content-Type: application/json", and binary values are standard base64 with
// padding (RFC 4648, section 4). Key IDs match [A-Za-z0-9._-]{1,64}.
//
//	GET /v1/keys
//	→ 200 {"keys": [{"kid": "k1", "alg": "SM2", "signing": true,
//	        "public_key_hex": "04…", "public_key_pem": "-----BEGIN PUBLIC KEY-----\n…"}]}
//
//	POST /v1/keys/{kid}/sign
//	{"message": "<base64>", "user_id": "<base64>"}   the service computes e = SM3(Z‖M)
//	{"digest": "<base64 of 32 bytes>"}                e computed by the caller
//	→ 200 {"signature": "<base64 DER>"}
//
//	POST /v1/keys/{kid}/decrypt
//	{"ciphertext": "<base64 of 04‖C1‖C3‖C2>"}
//	→ 200 {"plaintext": "<base64>"}
//
// The client always sends the user ID it means, DefaultUID included, and always
// sends ciphertext in the standard C1C3C2 form with the 04 byte, converting
// other formats first. Exactly one key in the listing has "signing": true.
// Errors use the status code and the body {"error": {"code": "…", "message":
// "…"}}: 401 UNAUTHORIZED, 404 KEY_NOT_FOUND, 400 INVALID_REQUEST, and 422
// DECRYPTION_FAILED for ciphertext that does not decrypt. The client verifies
// every signature it receives against the listed public key.
package smcrypto

// Package envelope implements the gateway side of the Jingtong transport
// envelope, version 1: an application-layer protection of requests and
// responses with SM2, SM3 and SM4 on top of TLS, which mini-program
// clients using sm-crypto or sm-crypto-v2 can speak. docs/protocol.md in
// the repository gives the wire format, the signed strings, the error codes
// and the test vectors that this package's tests check.
//
// A client opens a session by sending 32 bytes of key material encrypted to
// a gateway SM2 key. [Server.OpenSession] decrypts it, derives the session
// keys with HKDF-SM3, stores the session and responds with the session ID,
// signed by the gateway's SM2 signing key. Each later request carries the
// session ID, a timestamp, a nonce and an HMAC-SM3 signature, and its body
// is sealed with SM4-GCM or SM4-CBC with HMAC-SM3. [Server.Unwrap] checks
// all of that and returns the plaintext request; [Server.WrapResponse]
// seals and signs the upstream's response. [Server.Middleware] combines the
// two for an http.Handler.
//
// Guarantees:
//   - Signatures and body tags are compared in constant time.
//   - Every failure from signature verification on, whether a wrong
//     signature, tag, padding or encoding, yields the same ENVELOPE_INVALID
//     error with the same body, and only a correctly signed request uses up
//     a nonce.
//   - A nonce is accepted once per session within twice the clock skew,
//     which covers every timestamp the skew check accepts.
//   - Session IDs, response nonces, IVs and GCM nonces come from
//     Config.Rand (crypto/rand by default); nothing else reads randomness.
//   - The package's fuzz targets check that header parsing, the
//     session-open body, the query and body decoding never panic.
//
// Sessions and nonces live in a [SessionStore] and a [NonceStore]: in
// memory for a single instance, or in Redis when several gateway instances
// share them.
package envelope

// Package identity authenticates the users of the gateway: it issues and
// verifies SM2-signed user tokens, exchanges mini-program login codes for
// platform user IDs, and links each platform account to a Jingtong subject.
//
// # Token format
//
// A token has three base64url segments without padding (RFC 4648, section
// 5), joined by ".":
//
//	base64url(header) "." base64url(claims) "." base64url(signature)
//
// The header is the JSON object {"alg":"SM2-SM3","kid":"<key ID>","typ":"JT"}
// and has no other members. The claims are a JSON object:
//
//	iss      issuer, such as "jingtong-gateway"
//	sub      subject: the stable user ID
//	aud      audience, a single string such as "jingtong"
//	roles    array of role names, such as ["citizen", "elderly"]
//	exp      expiry, Unix seconds
//	nbf      not valid before, Unix seconds
//	iat      issued at, Unix seconds
//	jti      token ID, 22 base64url characters of 16 random bytes
//	channel  optional: "wechat", "alipay", "baidu", "dev", ...
//	app      optional: the mini-program or app ID of the login
//
// The signature is SM2 (GB/T 32918.2) over the ASCII bytes of the first two
// segments with their dot, "header.claims", with the digest e = SM3(Z‖M)
// and Z computed over the default user ID "1234567812345678". It is DER
// encoded: SEQUENCE { r INTEGER, s INTEGER }. sm-crypto 0.5.x produces the
// same signature with doSignature(msg, privateKey, {hash: true, der: true}).
//
// A verifier accepts only "SM2-SM3", so tokens with "none", HMAC or any
// other algorithm are rejected before any key is touched. It also rejects
// unknown header members, repeated JSON keys and keys in another case.
// Go's encoding/json would match "ALG" to "alg" and keep the last of two
// equal keys, and another verifier might read such a token differently.
// Unknown claims are ignored, so that a newer issuer can add claims. Sizes
// are bounded: see [MaxTokenSize] and the claim limits in package auth.
//
// # Login
//
// A mini-program calls wx.login, my.getAuthCode or swan.login and sends the
// code to the gateway. A [CodeExchanger] exchanges it for the user's ID on
// that platform, the [LinkStore] maps (platform, app ID, platform user ID)
// to a subject, creating one on first login, and the [Issuer] signs a token
// for that subject. [Login] runs the three steps.
package identity

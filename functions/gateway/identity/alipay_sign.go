package identity

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Signer signs Alipay OpenAPI requests.
type Signer interface {
	// SignType returns the sign_type parameter, such as "RSA2".
	SignType() string
	// Sign returns the standard base64 signature of content, the string to
	// be signed that AlipaySignContent builds.
	Sign(content []byte) (string, error)
}

// minRSABits is the smallest RSA key accepted. Alipay's key tool generates
// 2048-bit keys for RSA2.
const minRSABits = 2048

// RSA2Signer signs with SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256), the
// "RSA2" sign type.
type RSA2Signer struct {
	key *rsa.PrivateKey
}

var _ Signer = (*RSA2Signer)(nil)

// NewRSA2Signer returns an RSA2Signer with the app private key key, which
// must have at least 2048 bits.
func NewRSA2Signer(key *rsa.PrivateKey) (*RSA2Signer, error) {
	if key == nil || key.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("identity: the Alipay app key must be an RSA key of at least %d bits", minRSABits)
	}
	return &RSA2Signer{key: key}, nil
}

// SignType returns "RSA2".
func (s *RSA2Signer) SignType() string { return "RSA2" }

// Sign returns base64(RSASSA-PKCS1-v1_5(SHA-256(content))).
func (s *RSA2Signer) Sign(content []byte) (string, error) {
	digest := sha256.Sum256(content)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", fmt.Errorf("identity: signing the Alipay request: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyRSA2 checks a standard base64 SHA256withRSA signature of content,
// as Alipay puts in the "sign" member of its responses.
func VerifyRSA2(pub *rsa.PublicKey, content []byte, sig string) error {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return errors.New("signature is not base64")
	}
	digest := sha256.Sum256(content)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], raw); err != nil {
		return errors.New("signature does not verify")
	}
	return nil
}

// AlipaySignContent returns the string to be signed of an Alipay OpenAPI
// request: every parameter except sign whose value is not empty, sorted by
// name in byte order, written as name=value with the raw (not URL-encoded)
// value and joined with "&". sign_type is included. Source: Alipay's
// "自行实现签名" page, copied at https://juejin.cn/post/6844903816484110349,
// whose example string includes sign_type=RSA2.
func AlipaySignContent(params url.Values) string {
	names := make([]string, 0, len(params))
	for name, values := range params {
		if name == "sign" || len(values) == 0 || values[0] == "" {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)

	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(params.Get(name))
	}
	return b.String()
}

// ParseRSAPrivateKey parses an Alipay app private key: a PEM block of type
// "RSA PRIVATE KEY" (PKCS #1) or "PRIVATE KEY" (PKCS #8), or the bare
// base64 of either DER form, which is how Alipay's key tool exports keys.
func ParseRSAPrivateKey(data []byte) (*rsa.PrivateKey, error) {
	der, err := pemOrBase64(data)
	if err != nil {
		return nil, err
	}
	if key, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return key, nil
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("identity: the Alipay app key is neither a PKCS #1 nor a PKCS #8 private key")
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("identity: the Alipay app key is a %T, not an RSA key", parsed)
	}
	return key, nil
}

// ParseRSAPublicKey parses the Alipay public key: a PEM "PUBLIC KEY" block
// (PKIX) or its bare base64 DER.
func ParseRSAPublicKey(data []byte) (*rsa.PublicKey, error) {
	der, err := pemOrBase64(data)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errors.New("identity: the Alipay public key is not a PKIX public key")
	}
	key, ok := parsed.(*rsa.PublicKey)
	if !ok || key.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("identity: the Alipay public key must be an RSA key of at least %d bits", minRSABits)
	}
	return key, nil
}

func pemOrBase64(data []byte) ([]byte, error) {
	if block, _ := pem.Decode(data); block != nil {
		return block.Bytes, nil
	}
	trimmed := strings.Join(strings.Fields(string(data)), "")
	der, err := base64.StdEncoding.DecodeString(trimmed)
	if err != nil || len(der) == 0 {
		return nil, errors.New("identity: key is neither PEM nor base64 DER")
	}
	return der, nil
}

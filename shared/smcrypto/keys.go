package smcrypto

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
)

// Key is an SM2 key pair that the gateway uses by key ID. Its private key
// may be in this process ([KeySet]) or in a remote key service
// ([RemoteProvider]). A Key is safe for concurrent use.
type Key interface {
	// ID returns the key ID.
	ID() string
	// PublicKey returns the public key.
	PublicKey() *PublicKey
	// SignMessage returns a DER signature of msg with the Z value for the
	// user ID in opts (DefaultUID when opts is nil). A remote key returns an
	// error wrapping ErrKeyNotFound when the service no longer has the key,
	// and a *RemoteError or a transport error when the service fails.
	SignMessage(ctx context.Context, msg []byte, opts *SignerOpts) ([]byte, error)
	// SignDigest returns a DER signature of the 32-byte digest e = SM3(Z‖M)
	// that [Digest] computes. Errors are those of SignMessage.
	SignDigest(ctx context.Context, digest []byte) ([]byte, error)
	// Decrypt decrypts an SM2 ciphertext in the format of opts (C1C3C2 when
	// opts is nil). It returns ErrDecrypt for a ciphertext that does not
	// decrypt, and otherwise the errors of SignMessage.
	Decrypt(ctx context.Context, ciphertext []byte, opts *DecrypterOpts) ([]byte, error)
}

// KeyProvider finds the gateway's SM2 keys by key ID.
type KeyProvider interface {
	// Key returns the key with ID kid, or an error wrapping ErrKeyNotFound
	// when the provider has none.
	Key(ctx context.Context, kid string) (Key, error)
	// SigningKey returns the key that signs now.
	SigningKey(ctx context.Context) (Key, error)
	// PublicKeys returns the public keys of every active key, the listing
	// that the gateway publishes on its well-known path.
	PublicKeys(ctx context.Context) (*KeyList, error)
}

// AlgorithmSM2 is the value of KeyInfo.Alg.
const AlgorithmSM2 = "SM2"

// KeyList is the JSON listing of public keys, {"keys": [...]}, modelled on a
// JSON Web Key Set.
type KeyList struct {
	Keys []KeyInfo `json:"keys"`
}

// KeyInfo is one public key in a KeyList.
type KeyInfo struct {
	// KID is the key ID.
	KID string `json:"kid"`
	// Alg is always "SM2".
	Alg string `json:"alg"`
	// Signing marks the one key that signs now.
	Signing bool `json:"signing"`
	// PublicKeyHex is 04‖X‖Y in 130 lowercase hex characters.
	PublicKeyHex string `json:"public_key_hex"`
	// PublicKeyPEM is the PKIX "PUBLIC KEY" PEM block.
	PublicKeyPEM string `json:"public_key_pem"`
}

// NewKeyInfo describes pub under key ID kid.
func NewKeyInfo(kid string, pub *PublicKey, signing bool) (KeyInfo, error) {
	if err := ValidateKeyID(kid); err != nil {
		return KeyInfo{}, err
	}
	pemBytes, err := MarshalPublicKeyPEM(pub)
	if err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{KID: kid, Alg: AlgorithmSM2, Signing: signing, PublicKeyHex: pub.Hex(), PublicKeyPEM: string(pemBytes)}, nil
}

// parse returns the key list's public keys by key ID and the signing key
// ID. It checks every entry and requires exactly one signing key.
func (l *KeyList) parse() (map[string]*PublicKey, string, error) {
	keys := make(map[string]*PublicKey, len(l.Keys))
	signingID := ""
	for _, info := range l.Keys {
		pub, err := info.parse()
		if err != nil {
			return nil, "", err
		}
		if _, dup := keys[info.KID]; dup {
			return nil, "", fmt.Errorf("smcrypto: key list has key ID %q twice", info.KID)
		}
		keys[info.KID] = pub

		if info.Signing {
			if signingID != "" {
				return nil, "", fmt.Errorf("smcrypto: key list marks both %q and %q as signing keys", signingID, info.KID)
			}
			signingID = info.KID
		}
	}
	if signingID == "" {
		return nil, "", errors.New("smcrypto: key list has no signing key")
	}
	return keys, signingID, nil
}

func (i *KeyInfo) parse() (*PublicKey, error) {
	if err := ValidateKeyID(i.KID); err != nil {
		return nil, err
	}
	if i.Alg != AlgorithmSM2 {
		return nil, fmt.Errorf("smcrypto: key %q has algorithm %q; expected %q", i.KID, i.Alg, AlgorithmSM2)
	}
	pub, err := ParsePublicKeyHex(i.PublicKeyHex)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: key %q: %w", i.KID, err)
	}
	pemKey, err := ParsePublicKeyPEM([]byte(i.PublicKeyPEM))
	if err != nil {
		return nil, fmt.Errorf("smcrypto: key %q: %w", i.KID, err)
	}
	if !pub.Equal(pemKey) {
		return nil, fmt.Errorf("smcrypto: key %q has different public keys in hex and PEM", i.KID)
	}
	return pub, nil
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidateKeyID returns an error unless kid is 1 to 64 characters from
// A–Z, a–z, 0–9, '.', '_' and '-', and is not "." or "..". Key IDs appear in
// URL paths and file names, so no other characters are allowed.
func ValidateKeyID(kid string) error {
	if !keyIDPattern.MatchString(kid) || kid == "." || kid == ".." {
		return fmt.Errorf("smcrypto: invalid key ID %q; use 1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-'", kid)
	}
	return nil
}

// KeySet is a KeyProvider over private keys held in this process, with one
// signing key and any number of other active keys, which still decrypt and
// sign on request during a key rotation.
type KeySet struct {
	keys      map[string]*softwareKey
	ids       []string // sorted
	signingID string
}

// KeySetOption configures a KeySet.
type KeySetOption func(*keySetConfig)

type keySetConfig struct {
	rand io.Reader
}

// WithRand sets the random source for signing. The default is
// crypto/rand.Reader.
func WithRand(r io.Reader) KeySetOption {
	return func(c *keySetConfig) { c.rand = r }
}

// NewKeySet returns a KeySet over keys, by key ID, that signs with the key
// signingKID.
func NewKeySet(signingKID string, keys map[string]*PrivateKey, opts ...KeySetOption) (*KeySet, error) {
	cfg := keySetConfig{rand: rand.Reader}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.rand == nil {
		return nil, errNilRand
	}

	set := &KeySet{keys: make(map[string]*softwareKey, len(keys)), signingID: signingKID}
	for kid, priv := range keys {
		if err := ValidateKeyID(kid); err != nil {
			return nil, err
		}
		if priv == nil {
			return nil, fmt.Errorf("smcrypto: key %q is nil", kid)
		}
		set.keys[kid] = &softwareKey{id: kid, priv: priv, rand: cfg.rand}
		set.ids = append(set.ids, kid)
	}
	slices.Sort(set.ids)

	if _, ok := set.keys[signingKID]; !ok {
		return nil, fmt.Errorf("smcrypto: signing key %q is not in the key set", signingKID)
	}
	return set, nil
}

// Key returns the key with ID kid, or an error wrapping ErrKeyNotFound.
func (s *KeySet) Key(_ context.Context, kid string) (Key, error) {
	key, ok := s.keys[kid]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, kid)
	}
	return key, nil
}

// SigningKey returns the signing key.
func (s *KeySet) SigningKey(_ context.Context) (Key, error) {
	return s.keys[s.signingID], nil
}

// PublicKeys returns the public keys of the set, sorted by key ID.
func (s *KeySet) PublicKeys(_ context.Context) (*KeyList, error) {
	list := &KeyList{Keys: make([]KeyInfo, 0, len(s.ids))}
	for _, kid := range s.ids {
		info, err := NewKeyInfo(kid, s.keys[kid].priv.PublicKey(), kid == s.signingID)
		if err != nil {
			return nil, err
		}
		list.Keys = append(list.Keys, info)
	}
	return list, nil
}

type softwareKey struct {
	id   string
	priv *PrivateKey
	rand io.Reader
}

func (k *softwareKey) ID() string            { return k.id }
func (k *softwareKey) PublicKey() *PublicKey { return k.priv.PublicKey() }

func (k *softwareKey) SignMessage(_ context.Context, msg []byte, opts *SignerOpts) ([]byte, error) {
	return k.priv.SignMessage(k.rand, msg, opts)
}

func (k *softwareKey) SignDigest(_ context.Context, digest []byte) ([]byte, error) {
	return k.priv.Sign(k.rand, digest, nil)
}

func (k *softwareKey) Decrypt(_ context.Context, ciphertext []byte, opts *DecrypterOpts) ([]byte, error) {
	return k.priv.Decrypt(nil, ciphertext, opts)
}

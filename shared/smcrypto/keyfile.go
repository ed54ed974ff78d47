package smcrypto

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeyFileExt is the file name extension of key files: a key with ID kid is
// stored in kid + ".pem".
const KeyFileExt = ".pem"

// LoadKeyFile reads an SM2 private key from a PEM file (see
// [ParsePrivateKeyPEM]).
func LoadKeyFile(path string) (*PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: reading key file: %w", err)
	}
	defer clear(data)

	key, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: key file %q: %w", path, err)
	}
	return key, nil
}

// LoadKeySet reads every kid.pem file in dir into a KeySet that signs with
// signingKID. Other files are skipped.
func LoadKeySet(dir, signingKID string, opts ...KeySetOption) (*KeySet, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("smcrypto: reading key directory: %w", err)
	}

	keys := make(map[string]*PrivateKey)
	for _, entry := range entries {
		kid, ok := strings.CutSuffix(entry.Name(), KeyFileExt)
		if !ok || !entry.Type().IsRegular() {
			continue
		}
		key, err := LoadKeyFile(filepath.Join(dir, entry.Name()))
		if err != nil {
			return nil, err
		}
		keys[kid] = key
	}
	return NewKeySet(signingKID, keys, opts...)
}

// EnsureKeyFile returns the key stored in dir/kid.pem, first generating one
// with randomness from rand (crypto/rand.Reader when nil) and writing it as
// unencrypted PKCS #8 with mode 0600 if the file does not exist. It creates
// dir with mode 0700 if needed. Two processes that call it at once end up
// with the same key. It is meant for local development, where no key service
// exists.
func EnsureKeyFile(dir, kid string, rand io.Reader) (*PrivateKey, error) {
	if err := ValidateKeyID(kid); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, kid+KeyFileExt)

	key, err := LoadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}

	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("smcrypto: creating key directory: %w", err)
	}
	key, err = GenerateKey(randOrDefault(rand))
	if err != nil {
		return nil, err
	}
	if err := writeKeyFileExclusive(path, key); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created the file first; use its key.
			return LoadKeyFile(path)
		}
		return nil, err
	}
	return key, nil
}

func randOrDefault(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// writeKeyFileExclusive writes key to a temporary file and links it to path,
// so that readers never see a partial file and an existing file is never
// replaced. It returns an error wrapping fs.ErrExist if path exists.
func writeKeyFileExclusive(path string, key *PrivateKey) error {
	pemBytes, err := MarshalPrivateKeyPEM(key)
	if err != nil {
		return err
	}
	defer clear(pemBytes)

	// CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".key-*.tmp")
	if err != nil {
		return fmt.Errorf("smcrypto: creating key file: %w", err)
	}
	defer os.Remove(tmp.Name())

	if _, err := tmp.Write(pemBytes); err != nil {
		tmp.Close()
		return fmt.Errorf("smcrypto: writing key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("smcrypto: writing key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("smcrypto: writing key file: %w", err)
	}

	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("smcrypto: creating key file %q: %w", path, err)
	}
	return nil
}

package smcrypto

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestValidateKeyID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		kid   string
		valid bool
	}{
		{"gw-2026-12", true},
		{"A.b_c-1", true},
		{string(make([]byte, 65)), false},
		{"", false},
		{".", false},
		{"..", false},
		{"a/b", false},
		{"a b", false},
		{"密钥", false},
		{"k%2F", false},
	}
	for _, tc := range cases {
		if err := ValidateKeyID(tc.kid); (err == nil) != tc.valid {
			t.Errorf("ValidateKeyID(%q) = %v, want valid %v", tc.kid, err, tc.valid)
		}
	}
}

func newTestKeySet(tb testing.TB, signing string, kids ...string) (*KeySet, map[string]*PrivateKey) {
	tb.Helper()
	keys := make(map[string]*PrivateKey)
	for _, kid := range kids {
		k, err := GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		keys[kid] = k
	}
	set, err := NewKeySet(signing, keys)
	if err != nil {
		tb.Fatal(err)
	}
	return set, keys
}

func TestKeySetLookupsAndOperations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	set, keys := newTestKeySet(t, "k2", "k1", "k2", "k3")

	signing, err := set.SigningKey(ctx)
	if err != nil || signing.ID() != "k2" || !signing.PublicKey().Equal(keys["k2"].PublicKey()) {
		t.Fatalf("SigningKey = %v, %v; want k2", signing, err)
	}

	key, err := set.Key(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("receipt 42")
	sig, err := key.SignMessage(ctx, msg, &SignerOpts{UID: []byte("gw")})
	if err != nil || !VerifyASN1(keys["k1"].PublicKey(), msg, sig, &SignerOpts{UID: []byte("gw")}) {
		t.Errorf("SignMessage: %v", err)
	}
	digest, _ := Digest(key.PublicKey(), msg, nil)
	sig, err = key.SignDigest(ctx, digest)
	if err != nil || !VerifyASN1(key.PublicKey(), msg, sig, nil) {
		t.Errorf("SignDigest: %v", err)
	}
	ct, _ := Encrypt(rand.Reader, key.PublicKey(), msg, &EncrypterOpts{Format: C1C2C3, OmitPrefix: true})
	if pt, err := key.Decrypt(ctx, ct, &DecrypterOpts{Format: C1C2C3}); err != nil || string(pt) != string(msg) {
		t.Errorf("Decrypt = %q, %v", pt, err)
	}
	if _, err := key.Decrypt(ctx, ct, nil); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Decrypt in the wrong format: err = %v, want ErrDecrypt", err)
	}

	if _, err := set.Key(ctx, "k9"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Key(k9): err = %v, want ErrKeyNotFound", err)
	}

	list, err := set.PublicKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	var decoded KeyList
	if err := json.Unmarshal(data, &decoded); err != nil {
		t.Fatal(err)
	}
	parsed, signingID, err := decoded.parse()
	if err != nil {
		t.Fatalf("parsing the published key list: %v\n%s", err, data)
	}
	if signingID != "k2" || len(parsed) != 3 || !parsed["k3"].Equal(keys["k3"].PublicKey()) {
		t.Errorf("published key list = %s", data)
	}
	if ids := []string{decoded.Keys[0].KID, decoded.Keys[1].KID, decoded.Keys[2].KID}; ids[0] != "k1" || ids[2] != "k3" {
		t.Errorf("key list order = %v, want sorted", ids)
	}
}

func TestNewKeySetErrors(t *testing.T) {
	t.Parallel()
	k, _ := GenerateKey(rand.Reader)
	cases := []struct {
		name    string
		signing string
		keys    map[string]*PrivateKey
		opts    []KeySetOption
	}{
		{"signing key missing", "k2", map[string]*PrivateKey{"k1": k}, nil},
		{"empty set", "k1", nil, nil},
		{"invalid key ID", "k1", map[string]*PrivateKey{"k1": k, "a/b": k}, nil},
		{"nil key", "k1", map[string]*PrivateKey{"k1": nil}, nil},
		{"nil rand", "k1", map[string]*PrivateKey{"k1": k}, []KeySetOption{WithRand(nil)}},
	}
	for _, tc := range cases {
		if _, err := NewKeySet(tc.signing, tc.keys, tc.opts...); err == nil {
			t.Errorf("%s: NewKeySet succeeded", tc.name)
		}
	}
}

func TestKeyListParseRejects(t *testing.T) {
	t.Parallel()
	a, _ := GenerateKey(rand.Reader)
	b, _ := GenerateKey(rand.Reader)
	infoA, _ := NewKeyInfo("a", a.PublicKey(), true)
	infoB, _ := NewKeyInfo("b", b.PublicKey(), false)
	mismatch := infoB
	mismatch.PublicKeyPEM = infoA.PublicKeyPEM
	wrongAlg := infoB
	wrongAlg.Alg = "ES256"
	signingB := infoB
	signingB.Signing = true
	badKID := infoB
	badKID.KID = "../b"

	cases := []struct {
		name string
		keys []KeyInfo
	}{
		{"no signing key", []KeyInfo{infoB}},
		{"two signing keys", []KeyInfo{infoA, signingB}},
		{"duplicate key ID", []KeyInfo{infoA, infoA}},
		{"hex and PEM differ", []KeyInfo{infoA, mismatch}},
		{"wrong algorithm", []KeyInfo{infoA, wrongAlg}},
		{"invalid key ID", []KeyInfo{infoA, badKID}},
		{"empty", nil},
	}
	for _, tc := range cases {
		list := KeyList{Keys: tc.keys}
		if _, _, err := list.parse(); err == nil {
			t.Errorf("%s: parse succeeded", tc.name)
		}
	}
}

func TestEnsureKeyFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")

	first, err := EnsureKeyFile(dir, "dev", nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %o, want 600", mode)
	}
	dirInfo, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if mode := dirInfo.Mode().Perm(); mode != 0o700 {
		t.Errorf("key directory mode = %o, want 700", mode)
	}

	second, err := EnsureKeyFile(dir, "dev", rand.Reader)
	if err != nil || !second.Equal(first) {
		t.Errorf("second EnsureKeyFile returned another key: %v", err)
	}
	loaded, err := LoadKeyFile(filepath.Join(dir, "dev.pem"))
	if err != nil || !loaded.Equal(first) {
		t.Errorf("LoadKeyFile: %v", err)
	}

	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("key directory has %d entries, want only dev.pem", len(entries))
	}
	if _, err := EnsureKeyFile(dir, "../escape", nil); err == nil {
		t.Error("EnsureKeyFile accepted a key ID with a path separator")
	}
}

func TestEnsureKeyFileConcurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const workers = 8
	keys := make([]*PrivateKey, workers)
	errs := make([]error, workers)

	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { keys[i], errs[i] = EnsureKeyFile(dir, "race", nil) })
	}
	wg.Wait()

	for i := range workers {
		if errs[i] != nil {
			t.Fatalf("worker %d: %v", i, errs[i])
		}
		if !keys[i].Equal(keys[0]) {
			t.Errorf("worker %d got a different key", i)
		}
	}
}

func TestEnsureKeyFileRejectsCorruptFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureKeyFile(dir, "bad", nil); err == nil {
		t.Error("EnsureKeyFile replaced or accepted a corrupt key file")
	}
	data, _ := os.ReadFile(filepath.Join(dir, "bad.pem"))
	if string(data) != "not a key" {
		t.Error("EnsureKeyFile overwrote an existing file")
	}
}

func TestLoadKeySet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := EnsureKeyFile(dir, "a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureKeyFile(dir, "b", nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("ignored"), 0o600); err != nil {
		t.Fatal(err)
	}

	set, err := LoadKeySet(dir, "a")
	if err != nil {
		t.Fatal(err)
	}
	key, err := set.SigningKey(context.Background())
	if err != nil || key.ID() != "a" || !key.PublicKey().Equal(a.PublicKey()) {
		t.Errorf("SigningKey = %v, %v", key, err)
	}
	list, _ := set.PublicKeys(context.Background())
	if len(list.Keys) != 2 {
		t.Errorf("LoadKeySet loaded %d keys, want 2", len(list.Keys))
	}
	if _, err := LoadKeySet(dir, "c"); err == nil {
		t.Error("LoadKeySet accepted a missing signing key")
	}
}

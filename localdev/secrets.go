package localdev

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/jingtong/backend/functions/gateway"
	"github.com/jingtong/backend/shared/smcrypto"
)

// Names of the gateway's development keys and secrets in the data
// directory.
const (
	GatewayKeyDir      = "gateway-keys"
	IdentitySecretFile = "identity-secret"
	AuditKeyFile       = "audit-key"
)

// gatewayDefaults creates the gateway's SM2 key, the identity secret and
// the audit key in dataDir at first start, each readable by the owner
// only, and returns the variables that point the functions at them. A
// variable that lookup sets, or that names another source, is left alone
// and its file is not created. It also turns development login on and
// rate limits off, unless lookup sets those.
func gatewayDefaults(dataDir string, lookup func(string) (string, bool), logger *slog.Logger) (map[string]string, error) {
	set := func(keys ...string) bool {
		for _, k := range keys {
			if v, ok := lookup(k); ok && v != "" {
				return true
			}
		}
		return false
	}
	vars := map[string]string{
		"JT_DEV_LOGIN":           "true",
		"JT_GATEWAY_RATE_LIMITS": "false",
	}

	if !set("JT_GATEWAY_KEY_DIR", "JT_GATEWAY_REMOTE_KEYS_URL") {
		dir := filepath.Join(dataDir, GatewayKeyDir)
		kid := gateway.DefaultSigningKID
		if v, ok := lookup("JT_GATEWAY_SIGNING_KID"); ok && v != "" {
			kid = v
		}
		created, err := ensureKeyFile(dir, kid)
		if err != nil {
			return nil, err
		}
		if created {
			logger.Info("generated the development gateway key", "path", filepath.Join(dir, kid+smcrypto.KeyFileExt))
		}
		vars["JT_GATEWAY_KEY_DIR"] = dir
	}

	for _, s := range []struct{ name, file string }{
		{"JT_IDENTITY_SECRET", IdentitySecretFile},
		{"JT_AUDIT_KEY", AuditKeyFile},
	} {
		if set(s.name, s.name+"_FILE") {
			continue
		}
		path := filepath.Join(dataDir, s.file)
		created, err := ensureHexSecretFile(path)
		if err != nil {
			return nil, err
		}
		if created {
			logger.Info("generated a development secret", "variable", s.name, "path", path)
		}
		vars[s.name+"_FILE"] = path
	}
	return vars, nil
}

// ensureKeyFile makes sure dir/kid.pem holds an SM2 key and reports whether
// it generated one.
func ensureKeyFile(dir, kid string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, kid+smcrypto.KeyFileExt))
	exists := err == nil
	if _, err := smcrypto.EnsureKeyFile(dir, kid, nil); err != nil {
		return false, fmt.Errorf("localdev: creating the gateway key: %w", err)
	}
	return !exists, nil
}

// ensureHexSecretFile makes sure path holds a secret, writing 32 random
// bytes in hex with mode 0600 when the file does not exist. It reports
// whether it wrote one.
func ensureHexSecretFile(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		if strings.TrimSpace(string(data)) == "" {
			return false, fmt.Errorf("localdev: secret file %q is empty; delete it to have a new secret generated", path)
		}
		return false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("localdev: reading secret file: %w", err)
	}

	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return false, fmt.Errorf("localdev: generating a secret: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("localdev: creating the secret directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first; use its secret.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("localdev: creating secret file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(b[:]) + "\n"); err != nil {
		_ = f.Close()
		return false, fmt.Errorf("localdev: writing secret file: %w", err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("localdev: writing secret file: %w", err)
	}
	return true, nil
}

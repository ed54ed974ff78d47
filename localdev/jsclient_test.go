package localdev

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jingtong/backend/functions/gateway"
	"github.com/jingtong/backend/shared/smcrypto"
)

// jsClientDir is the JavaScript envelope client, relative to this package.
var jsClientDir = filepath.Join("..", "functions", "gateway", "envelope", "js")

// jsTestTimeout bounds the whole node --test run.
const jsTestTimeout = 3 * time.Minute

// TestJSClient runs the JavaScript client's Node tests (node --test) against
// localdev's gateway on loopback. The Node tests open sessions, log in as
// the development operator and call the zones admin API through the
// envelope. They do so with jingtong-envelope.mjs and with the bare
// sm-crypto and sm-crypto-v2 packages, in modes gcm and cbc-hmac, and check
// that tampered, replayed and stale requests are rejected. TestJSClient
// needs node and the packages that `npm ci` installs in the client's
// folder, as `make test` does.
func TestJSClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("node is not on PATH, so the JavaScript client's Node test cannot run: %v", err)
	}
	for _, pkg := range []string{"sm-crypto", "sm-crypto-v2"} {
		if _, err := os.Stat(filepath.Join(jsClientDir, "node_modules", pkg, "package.json")); err != nil {
			t.Skipf("npm package %s is not installed; run `npm ci` in %s (make test does): %v", pkg, jsClientDir, err)
		}
	}
	files, err := filepath.Glob(filepath.Join(jsClientDir, "test", "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Node tests in %s: %v", jsClientDir, err)
	}

	run := startServerWith(t, nil)
	kid, publicKeyHex := publishedSigningKey(t, run.base)
	// Pin the key from localdev's key file. The published listing must agree.
	pinned := gatewayKey(t, run.dataDir).PublicKey().Hex()
	if kid != gateway.DefaultSigningKID || publicKeyHex != pinned {
		t.Fatalf("published signing key %s %s, want %s %s from the key file", kid, publicKeyHex, gateway.DefaultSigningKID, pinned)
	}

	args := []string{"--test", "--test-reporter=tap", "--test-timeout=60000"}
	for _, f := range files {
		args = append(args, filepath.Join("test", filepath.Base(f)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), jsTestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = jsClientDir
	cmd.Env = append(os.Environ(),
		"JT_GATEWAY_URL="+run.base,
		"JT_GATEWAY_KID="+kid,
		"JT_GATEWAY_PUBLIC_KEY_HEX="+publicKeyHex,
		"NO_COLOR=1",
	)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %v: %v\n%s", args, err, out.Bytes())
	}
	t.Logf("node %v:\n%s", args, out.Bytes())

	// The live tests skip themselves without the JT_GATEWAY_* variables, so
	// check that none was skipped here.
	counts := tapCounts(out.Bytes())
	if counts["pass"] == 0 || counts["fail"] != 0 || counts["cancelled"] != 0 || counts["skipped"] != 0 {
		t.Errorf("node --test summary %v; want passes and no failed, cancelled or skipped tests", counts)
	}
}

// publishedSigningKey returns the signing key that the gateway publishes
// on its well-known path.
func publishedSigningKey(t *testing.T, base string) (kid, publicKeyHex string) {
	t.Helper()
	r := get(t, base+"/.well-known/jingtong-keys.json", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /.well-known/jingtong-keys.json = %d %s", r.status, r.body)
	}
	var list smcrypto.KeyList
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("decode the key listing %s: %v", r.body, err)
	}
	for _, k := range list.Keys {
		if k.Signing {
			return k.KID, k.PublicKeyHex
		}
	}
	t.Fatalf("the key listing has no signing key: %s", r.body)
	return "", ""
}

var tapCount = regexp.MustCompile(`(?m)^# (pass|fail|cancelled|skipped) (\d+)$`)

// tapCounts reads the closing counts of node --test's TAP output.
func tapCounts(tap []byte) map[string]int {
	counts := map[string]int{}
	for _, m := range tapCount.FindAllSubmatch(tap, -1) {
		n, _ := strconv.Atoi(string(m[2]))
		counts[string(m[1])] = n
	}
	return counts
}

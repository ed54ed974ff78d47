package envelope_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jingtong/backend/functions/gateway/envelope"
)

// nodeDirVar names the environment variable with a directory where npm has
// installed sm-crypto@0.5.8 and sm-crypto-v2@1.15.1, for the live test
// against Node. See testdata/README.md.
const nodeDirVar = "JT_TEST_NODE_DIR"

// jsVectors is testdata/js_vectors.json: the client side of each test
// vector as the JavaScript libraries computed it.
type jsVectors struct {
	Libraries map[string]string `json:"libraries"`
	Results   []jsResult        `json:"results"`
	Queries   []vectorQuery     `json:"queries"`
}

type jsResult struct {
	Library                string        `json:"library"`
	Mode                   envelope.Mode `json:"mode"`
	KeyMaterialHex         string        `json:"key_material_hex"`
	SessionStringToSign    string        `json:"session_string_to_sign"`
	SessionSignatureValid  bool          `json:"session_signature_valid"`
	KeyBlockHex            string        `json:"key_block_hex"`
	CanonicalQuery         string        `json:"canonical_query"`
	RequestSealedHex       string        `json:"request_sealed_hex"`
	RequestBody            string        `json:"request_body"`
	RequestBodySM3Hex      string        `json:"request_body_sm3_hex"`
	RequestStringToSign    string        `json:"request_string_to_sign"`
	RequestSignatureHex    string        `json:"request_signature_hex"`
	ResponseStringToSign   string        `json:"response_string_to_sign"`
	ResponseSignatureValid bool          `json:"response_signature_valid"`
	ResponsePlaintext      string        `json:"response_plaintext"`
	JSKeyCiphertextHex     string        `json:"js_key_ciphertext_hex"`
}

func TestInterop_JSVectors(t *testing.T) {
	v := readVectors(t)
	data, err := os.ReadFile("testdata/js_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var js jsVectors
	if err := json.Unmarshal(data, &js); err != nil {
		t.Fatal(err)
	}
	if js.Libraries["sm-crypto"] != "0.5.8" || js.Libraries["sm-crypto-v2"] != "1.15.1" {
		t.Errorf("fixture made with %v; want sm-crypto 0.5.8 and sm-crypto-v2 1.15.1", js.Libraries)
	}

	byMode := map[envelope.Mode]vectorCase{}
	for _, c := range v.Cases {
		byMode[c.Mode] = c
	}
	priv := mustPrivateKey(t, v.Gateway.PrivateKeyHex)
	covered := map[string]bool{}
	for _, r := range js.Results {
		name := r.Library + "/" + string(r.Mode)
		covered[name] = true
		c, ok := byMode[r.Mode]
		if !ok {
			t.Errorf("%s: no vector case for the mode", name)
			continue
		}
		checks := []struct {
			field     string
			got, want string
		}{
			{"key material", r.KeyMaterialHex, v.KeyMaterialHex},
			{"session string to sign", r.SessionStringToSign, c.Open.StringToSign},
			{"key block", r.KeyBlockHex, c.Keys.BlockHex},
			{"canonical query", r.CanonicalQuery, c.Request.CanonicalQuery},
			{"request sealed body", r.RequestSealedHex, c.Request.SealedHex},
			{"request body", r.RequestBody, c.Request.Body},
			{"request body SM3", r.RequestBodySM3Hex, c.Request.BodySM3Hex},
			{"request string to sign", r.RequestStringToSign, c.Request.StringToSign},
			{"request signature", r.RequestSignatureHex, c.Request.SignatureHex},
			{"response string to sign", r.ResponseStringToSign, c.Response.StringToSign},
			{"response plaintext", r.ResponsePlaintext, c.Response.Plaintext},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s: %s = %q, want %q", name, ch.field, ch.got, ch.want)
			}
		}
		if !r.SessionSignatureValid {
			t.Errorf("%s: the library rejected the gateway's session signature", name)
		}
		if !r.ResponseSignatureValid {
			t.Errorf("%s: the library rejected the response signature", name)
		}

		// The gateway decrypts the key material the library encrypted.
		ct, err := hex.DecodeString(r.JSKeyCiphertextHex)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := priv.Decrypt(nil, ct, nil)
		if err != nil || hex.EncodeToString(got) != v.KeyMaterialHex {
			t.Errorf("%s: decrypting the library's key ciphertext = %x, %v", name, got, err)
		}
	}
	for _, want := range []string{"sm-crypto/cbc-hmac", "sm-crypto-v2/gcm", "sm-crypto-v2/cbc-hmac"} {
		if !covered[want] {
			t.Errorf("fixture has no results for %s", want)
		}
	}

	if len(js.Queries) != len(v.Queries) {
		t.Fatalf("fixture has %d queries, vectors %d", len(js.Queries), len(v.Queries))
	}
	for i, q := range js.Queries {
		if q != v.Queries[i] {
			t.Errorf("query %q: JavaScript %+v, Go %+v", q.Raw, q, v.Queries[i])
		}
	}
}

// liveResult is what the script's live command prints.
type liveResult struct {
	Library             string `json:"library"`
	Mode                string `json:"mode"`
	Status              int    `json:"status"`
	ResponseContentType string `json:"response_content_type"`
	ResponsePlaintext   string `json:"response_plaintext"`
	ReplayStatus        int    `json:"replay_status"`
	ReplayCode          string `json:"replay_code"`
}

// TestInterop_JSLive runs the script from testdata/README.md as a client of
// a gateway on loopback, with each library and mode. It needs Node and
// JT_TEST_NODE_DIR.
func TestInterop_JSLive(t *testing.T) {
	dir := os.Getenv(nodeDirVar)
	if dir == "" {
		t.Skipf("%s is not set; skipping the live test against Node", nodeDirVar)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("node is not installed: %v", err)
	}
	script := filepath.Join(t.TempDir(), "jt-envelope.js")
	if err := os.WriteFile(script, readmeScript(t), 0o600); err != nil {
		t.Fatal(err)
	}

	eachStore(t, func(t *testing.T, st stores) {
		// The gateway's clock is at the time the test starts, within the
		// skew window of the script's real clock.
		g := newGateway(t, st, nil)
		for _, run := range []struct{ library, mode string }{
			{"sm-crypto", "cbc-hmac"},
			{"sm-crypto-v2", "gcm"},
			{"sm-crypto-v2", "cbc-hmac"},
		} {
			t.Run(run.library+"/"+run.mode, func(t *testing.T) {
				cmd := exec.Command(node, script, "live", run.library, run.mode,
					g.http.URL+openPath, g.http.URL+"/api/zones/echo/%E4%BA%AC?b=x+y&a=1", gatewayKID, g.pub.Hex())
				cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("node: %v\n%s", err, stderr.String())
				}
				var res liveResult
				if err := json.Unmarshal(out, &res); err != nil {
					t.Fatalf("decode %s: %v", out, err)
				}
				if res.Status != 200 || res.Mode != run.mode || res.ResponseContentType != "application/json" {
					t.Fatalf("result %+v; want status 200 in mode %s with a JSON response", res, run.mode)
				}
				var reply echoReply
				if err := json.Unmarshal([]byte(res.ResponsePlaintext), &reply); err != nil {
					t.Fatalf("decode response plaintext %q: %v", res.ResponsePlaintext, err)
				}
				want := echoReply{Method: "POST", Path: "/api/zones/echo/京", Query: "b=x+y&a=1",
					ContentType: "application/json", Authorization: "Bearer js-token"}
				if reply != want {
					t.Errorf("upstream saw %+v, want %+v", reply, want)
				}
				if res.ReplayStatus != 409 || res.ReplayCode != "NONCE_REPLAYED" {
					t.Errorf("replay got %d %s, want 409 NONCE_REPLAYED", res.ReplayStatus, res.ReplayCode)
				}
			})
		}
	})
}

// readmeScript returns the JavaScript block of testdata/README.md.
func readmeScript(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(data), "```js\n")
	script, _, closed := strings.Cut(rest, "\n```")
	if !ok || !closed {
		t.Fatal("testdata/README.md has no ```js block")
	}
	return []byte(script + "\n")
}

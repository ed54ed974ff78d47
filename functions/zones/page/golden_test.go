package page

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden from the current output")

// TestRenderGolden compares one full rendering per channel with
// testdata/golden/render_<channel>.json. Run `go test -run TestRenderGolden
// -update` after an intended change and review the diff.
func TestRenderGolden(t *testing.T) {
	t.Parallel()

	for _, ch := range Channels() {
		t.Run("golden rendering for "+string(ch), func(t *testing.T) {
			t.Parallel()

			got, err := json.MarshalIndent(renderFull(t, ch, LangZH, duringSpring), "", "  ")
			if err != nil {
				t.Fatalf("MarshalIndent() error = %v", err)
			}

			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", "render_"+string(ch)+".json")

			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatalf("write golden file: %v", err)
				}

				return
			}

			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}

			if !bytes.Equal(got, want) {
				t.Errorf("rendering differs from %s; run with -update and review the diff\ngot:\n%s", path, got)
			}
		})
	}
}

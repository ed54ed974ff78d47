package page

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzValidate feeds arbitrary bytes to Validate. Besides never panicking,
// it checks the contract: problems have codes and JSON Pointer paths, a
// Document comes back exactly when there are no problems, a valid document
// survives a marshal round trip, and every channel renders it.
func FuzzValidate(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatalf("list seeds: %v", err)
	}

	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatalf("read seed: %v", err)
		}

		f.Add(data)
	}

	f.Add([]byte(`{"schema_version":1,"title":{"zh":"x"},"body":{"type":"page","id":"r","children":[{"type":"section","id":"r"}]}}`))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`[[[[[[]]]]]]`))
	f.Add([]byte("\xff"))

	now := time.Date(2027, 2, 6, 0, 0, 0, 0, time.UTC)

	f.Fuzz(func(t *testing.T, data []byte) {
		doc, problems := Validate(data)

		if (doc == nil) == (len(problems) == 0) {
			t.Fatalf("Validate() = %v with %d problems; want a document exactly when there are none", doc != nil, len(problems))
		}

		if len(problems) > MaxProblems+1 {
			t.Fatalf("len(problems) = %d, want at most %d", len(problems), MaxProblems+1)
		}

		for _, p := range problems {
			if p.Code == "" || p.Message.ZH == "" || p.Message.EN == "" {
				t.Fatalf("problem %+v lacks a code or message", p)
			}

			if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
				t.Fatalf("problem path %q is not a JSON Pointer", p.Path)
			}
		}

		if doc == nil {
			return
		}

		again, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("Marshal() error = %v", err)
		}

		if _, problems := Validate(again); len(problems) > 0 {
			t.Fatalf("marshalled document is invalid: %v", problems)
		}

		for _, ch := range Channels() {
			if _, err := Render(doc, RenderInput{Channel: ch, Lang: LangEN, Now: now}); err != nil {
				t.Fatalf("Render(%s) error = %v", ch, err)
			}
		}
	})
}

package page

import (
	"encoding/json"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestRegistryCompiles(t *testing.T) {
	t.Parallel()

	r, err := buildRegistry()
	if err != nil {
		t.Fatalf("buildRegistry() error = %v", err)
	}

	want := []string{
		TypePage, TypeSection, TypeTopNav, TypeBannerCarousel, TypeSearch, TypeAppGrid,
		TypeItemList, TypeNewsList, TypeList, TypeLoginPrompt, TypeSubscription,
	}

	got := make([]string, len(r.ordered))
	for i, c := range r.ordered {
		got[i] = c.Name
	}

	if !slices.Equal(got, want) {
		t.Errorf("components = %v, want %v", got, want)
	}
}

func TestComponentEntries(t *testing.T) {
	t.Parallel()

	for _, c := range Components() {
		t.Run("component "+c.Name+" entry", func(t *testing.T) {
			t.Parallel()

			if c.DisplayName.ZH == "" || c.DisplayName.EN == "" {
				t.Errorf("DisplayName = %+v, want Chinese and English", c.DisplayName)
			}

			if want := c.Name == TypePage || c.Name == TypeSection; c.Container != want {
				t.Errorf("Container = %t, want %t", c.Container, want)
			}

			var schema map[string]any
			if err := json.Unmarshal(c.Schema, &schema); err != nil {
				t.Fatalf("Schema is not JSON: %v", err)
			}

			if schema["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %v, want draft 2020-12", schema["$schema"])
			}

			if schema["additionalProperties"] != false {
				t.Errorf("additionalProperties = %v, want false", schema["additionalProperties"])
			}
		})
	}

	if _, ok := LookupComponent("marquee"); ok {
		t.Errorf("LookupComponent(marquee) found an entry, want none")
	}
}

// TestSchemasStrict checks every object schema in the embedded files
// forbids unknown properties and every string and array is bounded, since
// operators' input is untrusted.
func TestSchemasStrict(t *testing.T) {
	t.Parallel()

	err := fs.WalkDir(schemaFiles, "schemas", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}

		data, err := schemaFiles.ReadFile(path)
		if err != nil {
			return err
		}

		var schema any
		if err := json.Unmarshal(data, &schema); err != nil {
			t.Errorf("%s is not JSON: %v", path, err)

			return nil
		}

		checkStrict(t, path, "", schema)

		return nil
	})
	if err != nil {
		t.Fatalf("walk schemas: %v", err)
	}
}

func checkStrict(t *testing.T, file, at string, v any) {
	t.Helper()

	switch v := v.(type) {
	case map[string]any:
		// Conditional subschemas only refine an object declared strict above.
		_, hasProps := v["properties"]
		if hasProps && !isConditional(at) && v["additionalProperties"] != false {
			t.Errorf("%s%s: object schema allows additional properties", file, at)
		}

		if v["type"] == "array" && v["maxItems"] == nil {
			t.Errorf("%s%s: array without maxItems", file, at)
		}

		if v["type"] == "string" && v["maxLength"] == nil && v["pattern"] == nil && v["enum"] == nil {
			t.Errorf("%s%s: string without maxLength or pattern", file, at)
		}

		for k, child := range v {
			checkStrict(t, file, at+"/"+k, child)
		}
	case []any:
		for _, child := range v {
			checkStrict(t, file, at, child)
		}
	}
}

func isConditional(at string) bool {
	for _, kw := range []string{"/allOf", "/if", "/then", "/else", "/dependentSchemas"} {
		if strings.Contains(at, kw) {
			return true
		}
	}

	return false
}

// TestPatternHintsCoverSchemas keeps patternHints in step with the
// patterns used in the schemas.
func TestPatternHintsCoverSchemas(t *testing.T) {
	t.Parallel()

	entries, err := os.ReadDir("schemas")
	if err != nil {
		t.Fatalf("read schemas: %v", err)
	}

	used := map[string]bool{}

	for _, e := range entries {
		data, err := schemaFiles.ReadFile("schemas/" + e.Name())
		if err != nil {
			t.Fatalf("read %s: %v", e.Name(), err)
		}

		var schema any
		if err := json.Unmarshal(data, &schema); err != nil {
			t.Fatalf("%s is not JSON: %v", e.Name(), err)
		}

		collectPatterns(schema, used)
	}

	for p := range used {
		if _, ok := patternHints[p]; !ok {
			t.Errorf("pattern %q has no entry in patternHints", p)
		}
	}

	for p := range patternHints {
		if !used[p] {
			t.Errorf("patternHints has %q, which no schema uses", p)
		}
	}
}

func collectPatterns(v any, into map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		if p, ok := v["pattern"].(string); ok {
			into[p] = true
		}

		for _, child := range v {
			collectPatterns(child, into)
		}
	case []any:
		for _, child := range v {
			collectPatterns(child, into)
		}
	}
}

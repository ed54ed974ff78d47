package page

import (
	"encoding/json"
	"testing"
)

// BenchmarkValidate validates testdata/page_full.json, a 40-node page.
func BenchmarkValidate(b *testing.B) {
	data := readTestdata(b, "page_full.json")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()

	for b.Loop() {
		if _, problems := Validate(data); len(problems) > 0 {
			b.Fatalf("Validate() problems = %v", problems)
		}
	}
}

// BenchmarkRender renders the 40-node page for WeChat with one template
// applied, and marshals the result as a handler would.
func BenchmarkRender(b *testing.B) {
	doc := mustValidate(b, readTestdata(b, "page_full.json"))
	in := fullInput(b, ChannelWeChat, LangZH, duringSpring)
	b.ReportAllocs()

	for b.Loop() {
		out, err := Render(doc, in)
		if err != nil {
			b.Fatalf("Render() error = %v", err)
		}

		if _, err := json.Marshal(out); err != nil {
			b.Fatalf("Marshal() error = %v", err)
		}
	}
}

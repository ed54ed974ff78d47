package page

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// pageWith returns a page document whose root has the given children.
func pageWith(children ...string) []byte {
	return []byte(`{"schema_version":1,"title":{"zh":"测试"},"body":{"type":"page","id":"root","children":[` +
		strings.Join(children, ",") + `]}}`)
}

// nestedSections returns depth nested sections, the outermost first.
func nestedSections(depth int) string {
	var b strings.Builder
	for i := range depth {
		fmt.Fprintf(&b, `{"type":"section","id":"s%d","children":[`, i)
	}

	for range depth {
		b.WriteString(`]}`)
	}

	return b.String()
}

// sectionsOfChildren returns n sections with per children each.
func sectionsOfChildren(n, per int) []string {
	out := make([]string, n)
	for i := range out {
		children := make([]string, per)
		for j := range children {
			children[j] = fmt.Sprintf(`{"type":"section","id":"c%d-%d"}`, i, j)
		}

		out[i] = fmt.Sprintf(`{"type":"section","id":"s%d","children":[%s]}`, i, strings.Join(children, ","))
	}

	return out
}

func manyNodes(n int, typ string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"type":%q,"id":"n%d"}`, typ, i)
	}

	return out
}

func TestValidateAcceptsValidDocuments(t *testing.T) {
	t.Parallel()

	for _, name := range []string{"page_full.json", "page_minimal.json"} {
		t.Run("valid "+name+" accepted", func(t *testing.T) {
			t.Parallel()

			doc, problems := Validate(readTestdata(t, name))
			if len(problems) != 0 {
				t.Fatalf("problems = %s, want none", codes(problems))
			}

			if doc == nil || doc.Body == nil || doc.Body.Type != TypePage {
				t.Fatalf("document = %+v, want a page body", doc)
			}
		})
	}
}

func TestValidateFullDocumentShape(t *testing.T) {
	t.Parallel()

	doc := mustValidate(t, readTestdata(t, "page_full.json"))

	if got, want := doc.Title, (Text{ZH: "教育专区", EN: "Education"}); got != want {
		t.Errorf("Title = %+v, want %+v", got, want)
	}

	if got, want := strings.Join(doc.Templates, ","), "spring-festival-2027,gaokao-2027"; got != want {
		t.Errorf("Templates = %s, want %s", got, want)
	}

	count := 0

	var walk func(*Node)
	walk = func(n *Node) {
		count++

		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(doc.Body)

	if count != 40 {
		t.Errorf("node count = %d, want 40", count)
	}
}

func TestValidateProblemCodes(t *testing.T) {
	t.Parallel()

	deepJSON := strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1)
	tooLarge := []byte(`{"pad":"` + strings.Repeat("x", MaxDocumentBytes) + `"}`)

	tests := []struct {
		name     string
		doc      []byte
		wantPath string
		wantCode Code
	}{
		{"document over size limit", tooLarge, "", CodeTooLarge},
		{"invalid UTF-8 rejected", []byte("{\"title\":\"\xff\"}"), "", CodeInvalidJSON},
		{"syntax error at value", []byte(`{"title": tru}`), "/title", CodeInvalidJSON},
		{"truncated document rejected", []byte(`{"schema_version":1,`), "", CodeInvalidJSON},
		{"empty input rejected", []byte(``), "", CodeInvalidJSON},
		{"trailing data rejected", []byte(`{} {}`), "", CodeInvalidJSON},
		{"repeated key reported", []byte(`{"schema_version":1,"schema_version":1,"title":{"zh":"x"},"body":{"type":"page","id":"r"}}`), "/schema_version", CodeDuplicateKey},
		{"JSON nesting too deep", []byte(deepJSON), strings.Repeat("/0", MaxJSONDepth), CodeTooDeep},
		{"node tree too deep", pageWith(nestedSections(MaxNodeDepth)), "/body" + strings.Repeat("/children/0", MaxNodeDepth), CodeTooDeep},
		// 20 sections of 100 children each: node 2,001 in walk order is child
		// 79 of section 19.
		{"too many nodes", pageWith(sectionsOfChildren(20, 100)...), "/body/children/19/children/79", CodeTooManyNodes},
		{"props break schema", pageWith(`{"type":"app_grid","id":"g","props":{"columns":7,"services":["svc-a"]}}`), "/body/children/0/props/columns", CodeSchema},
		{"root not a page", []byte(`{"schema_version":1,"title":{"zh":"x"},"body":{"type":"section","id":"r"}}`), "/body/type", CodeInvalidRoot},
		{"page below root", pageWith(`{"type":"page","id":"p2"}`), "/body/children/0/type", CodeNestedPage},
		{"unknown component type", pageWith(`{"type":"carousel3d","id":"c"}`), "/body/children/0/type", CodeUnknownComponent},
		{"duplicate node id", pageWith(`{"type":"section","id":"a"}`, `{"type":"section","id":"a"}`), "/body/children/1/id", CodeDuplicateID},
		{"children under leaf", pageWith(`{"type":"search","id":"s","props":{"placeholder":{"zh":"搜"},"scope":"all"},"children":[{"type":"section","id":"x"}]}`), "/body/children/0/children", CodeChildrenNotAllowed},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			doc, problems := Validate(tt.doc)
			if doc != nil {
				t.Errorf("document = %+v, want nil", doc)
			}

			if len(problems) == 0 {
				t.Fatalf("problems = none, want %s at %q", tt.wantCode, tt.wantPath)
			}

			if got := problems[0]; got.Path != tt.wantPath || got.Code != tt.wantCode {
				t.Errorf("first problem = %s, want %s at %q\nall:\n%s", got, tt.wantCode, tt.wantPath, codes(problems))
			}
		})
	}
}

func TestCheckTemplatesUnknownTemplate(t *testing.T) {
	t.Parallel()

	doc := mustValidate(t, readTestdata(t, "page_full.json"))
	known := func(id string) bool { return id == "spring-festival-2027" }

	problems := doc.CheckTemplates(known)
	if len(problems) != 1 {
		t.Fatalf("problems = %s, want one", codes(problems))
	}

	if got := problems[0]; got.Path != "/templates/1" || got.Code != CodeUnknownTemplate {
		t.Errorf("problem = %s, want unknown_template at /templates/1", got)
	}
}

func TestValidateReportsManyProblems(t *testing.T) {
	t.Parallel()

	doc := []byte(`{"schema_version":2,"title":{"zh":"x"},"body":{"type":"page","id":"root","children":[
		{"type":"app_grid","id":"a","props":{"columns":2,"services":["svc-a"]}},
		{"type":"nope","id":"b"},
		{"type":"section","id":"a"},
		{"type":"list","id":"c","props":{"items":[]},"children":[{"type":"section","id":"d"}]},
		{"type":"search","id":"e","props":{"placeholder":{"zh":"搜"},"scope":"web"}}
	]}}`)

	want := []string{
		"/schema_version schema",
		"/body/children/0/props/columns schema",
		"/body/children/1/type unknown_component",
		"/body/children/2/id duplicate_id",
		"/body/children/3/props/items schema",
		"/body/children/3/children children_not_allowed",
		"/body/children/4/props/scope schema",
	}

	_, problems := Validate(doc)

	got := make([]string, len(problems))
	for i, p := range problems {
		got[i] = p.Path + " " + string(p.Code)
	}

	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidateCapsProblems(t *testing.T) {
	t.Parallel()

	_, problems := Validate(pageWith(manyNodes(MaxProblems+50, "nope")...))

	if len(problems) != MaxProblems+1 {
		t.Fatalf("len(problems) = %d, want %d", len(problems), MaxProblems+1)
	}

	if last := problems[MaxProblems]; last.Code != CodeTooManyProblems || last.Path != "" {
		t.Errorf("last problem = %s, want too_many_problems at \"\"", last)
	}
}

func TestValidateSchemaPointers(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		doc         []byte
		wantPath    string
		wantKeyword string
	}{
		{"missing title", []byte(`{"schema_version":1,"body":{"type":"page","id":"r"}}`), "/title", "required"},
		{"title too long", []byte(`{"schema_version":1,"title":{"zh":"` + strings.Repeat("长", 41) + `"},"body":{"type":"page","id":"r"}}`), "/title/zh", "maxLength"},
		{"unsupported schema version", []byte(`{"schema_version":2,"title":{"zh":"x"},"body":{"type":"page","id":"r"}}`), "/schema_version", "const"},
		{"bad template id", []byte(`{"schema_version":1,"title":{"zh":"x"},"templates":["春节"],"body":{"type":"page","id":"r"}}`), "/templates/0", "pattern"},
		{"unknown top-level field", []byte(`{"schema_version":1,"title":{"zh":"x"},"body":{"type":"page","id":"r"},"extra":1}`), "/extra", "additionalProperties"},
		{"node without id", pageWith(`{"type":"section"}`), "/body/children/0/id", "required"},
		{"node with extra member", pageWith(`{"type":"section","id":"s","style":"x"}`), "/body/children/0/style", "additionalProperties"},
		{"node id with space", pageWith(`{"type":"section","id":"a b"}`), "/body/children/0/id", "pattern"},
		{"columns given as string", pageWith(`{"type":"app_grid","id":"g","props":{"columns":"4","services":["svc-a"]}}`), "/body/children/0/props/columns", "type"},
		{"too many services", pageWith(`{"type":"app_grid","id":"g","props":{"columns":4,"services":[` + quotedIDs(41) + `]}}`), "/body/children/0/props/services", "maxItems"},
		{"banner image over http", pageWith(`{"type":"banner_carousel","id":"b","props":{"slides":[{"image":"http://x.example/a.png"}]}}`), "/body/children/0/props/slides/0/image", "pattern"},
		{"unknown link type", pageWith(`{"type":"banner_carousel","id":"b","props":{"slides":[{"image":"https://x.example/a.png","link":{"type":"tel","target":"110"}}]}}`), "/body/children/0/props/slides/0/link/type", "enum"},
		{"service link without target", pageWith(`{"type":"list","id":"l","props":{"items":[{"title":{"zh":"a"},"link":{"type":"service"}}]}}`), "/body/children/0/props/items/0/link/target", "required"},
		{"url link not https", pageWith(`{"type":"list","id":"l","props":{"items":[{"title":{"zh":"a"},"link":{"type":"url","target":"javascript:alert(1)"}}]}}`), "/body/children/0/props/items/0/link/target", "pattern"},
		{"program link with target", pageWith(`{"type":"list","id":"l","props":{"items":[{"title":{"zh":"a"},"link":{"type":"mini_program","app_ids":{"wechat":"wx1"},"target":"x"}}]}}`), "/body/children/0/props/items/0/link/target", "false"},
		{"url link with app ids", pageWith(`{"type":"list","id":"l","props":{"items":[{"title":{"zh":"a"},"link":{"type":"url","target":"https://a.example","app_ids":{"wechat":"wx1"}}}]}}`), "/body/children/0/props/items/0/link/app_ids", "false"},
		{"unknown search scope", pageWith(`{"type":"search","id":"s","props":{"placeholder":{"zh":"搜"},"scope":"web"}}`), "/body/children/0/props/scope", "enum"},
		{"prompt for share capability", pageWith(`{"type":"login_prompt","id":"p","props":{"text":{"zh":"t"},"capability":"share"}}`), "/body/children/0/props/capability", "enum"},
		{"news with items and source", pageWith(`{"type":"news_list","id":"n","props":{"source":"a","items":[{"title":{"zh":"t"},"link":{"type":"page","target":"p"}}]}}`), "/body/children/0/props/source", "false"},
		{"news without items or source", pageWith(`{"type":"news_list","id":"n","props":{"limit":3}}`), "/body/children/0/props/source", "required"},
		{"theme colour by name", []byte(`{"schema_version":1,"title":{"zh":"x"},"body":{"type":"page","id":"r","props":{"theme":{"primary_color":"red"}}}}`), "/body/props/theme/primary_color", "pattern"},
		{"carousel interval too short", pageWith(`{"type":"banner_carousel","id":"b","props":{"interval_ms":1000,"slides":[{"image":"https://x.example/a.png"}]}}`), "/body/children/0/props/interval_ms", "minimum"},
		{"localised value without zh", pageWith(`{"type":"section","id":"s","props":{"title":{"en":"Only English"}}}`), "/body/children/0/props/title/zh", "required"},
		{"repeated topic ids", pageWith(`{"type":"subscription","id":"s","props":{"topics":["t1","t1"]}}`), "/body/children/0/props/topics", "uniqueItems"},
		{"missing required props", pageWith(`{"type":"item_list","id":"i"}`), "/body/children/0/props/items", "required"},
		{"key with slash escaped", pageWith(`{"type":"section","id":"s","props":{"a/b~c":1}}`), "/body/children/0/props/a~1b~0c", "additionalProperties"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, problems := Validate(tt.doc)
			if len(problems) != 1 {
				t.Fatalf("problems =\n%s\nwant one", codes(problems))
			}

			got := problems[0]
			if got.Path != tt.wantPath || got.Code != CodeSchema || got.Keyword != tt.wantKeyword {
				t.Errorf("problem = %s, want schema(%s) at %q", got, tt.wantKeyword, tt.wantPath)
			}
		})
	}
}

func TestValidateMessagesBilingual(t *testing.T) {
	t.Parallel()

	_, problems := Validate(pageWith(
		`{"type":"app_grid","id":"g","props":{"columns":7,"services":["svc-a"]}}`,
		`{"type":"banner_carousel","id":"b","props":{"slides":[{"image":"http://x.example/a.png"}]}}`,
	))

	if len(problems) != 2 {
		t.Fatalf("problems =\n%s\nwant two", codes(problems))
	}

	tests := []struct {
		name   string
		got    Problem
		wantZH string
		wantEN string
	}{
		{"maximum message names bound", problems[0], "不能大于 5", "maximum: got 7, want 5"},
		{"pattern message explains format", problems[1], "https://", "does not match pattern"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if !strings.Contains(tt.got.Message.ZH, tt.wantZH) || !strings.ContainsFunc(tt.got.Message.ZH, isHan) {
				t.Errorf("Message.ZH = %q, want Chinese containing %q", tt.got.Message.ZH, tt.wantZH)
			}

			if !strings.Contains(tt.got.Message.EN, tt.wantEN) {
				t.Errorf("Message.EN = %q, want it to contain %q", tt.got.Message.EN, tt.wantEN)
			}
		})
	}
}

func quotedIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"svc-%d"`, i)
	}

	return strings.Join(ids, ",")
}

func isHan(r rune) bool {
	return unicode.Is(unicode.Han, r)
}

func TestValidateTemplateProblems(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		doc      string
		wantPath string
		wantCode Code
	}{
		{"template without content", `{"schema_version":1}`, "", CodeSchema},
		{"page node in template", `{"schema_version":1,"prepend":[{"type":"page","id":"p"}]}`, "/prepend/0/type", CodeNestedPage},
		{"duplicate id in template", `{"schema_version":1,"prepend":[{"type":"section","id":"a"}],"append":[{"type":"section","id":"a"}]}`, "/append/0/id", CodeDuplicateID},
		{"bad theme colour", `{"schema_version":1,"theme":{"primary_color":"#12345"}}`, "/theme/primary_color", CodeSchema},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			tpl, problems := ValidateTemplate([]byte(tt.doc))
			if tpl != nil || len(problems) == 0 {
				t.Fatalf("ValidateTemplate() = %+v, %s; want nil and problems", tpl, codes(problems))
			}

			if got := problems[0]; got.Path != tt.wantPath || got.Code != tt.wantCode {
				t.Errorf("first problem = %s, want %s at %q", got, tt.wantCode, tt.wantPath)
			}
		})
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	t.Parallel()

	doc := mustValidate(t, readTestdata(t, "page_full.json"))

	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("Marshal() error = %v", err)
	}

	again := mustValidate(t, data)

	data2, err := json.Marshal(again)
	if err != nil {
		t.Fatalf("Marshal() error = %v", err)
	}

	if string(data) != string(data2) {
		t.Errorf("second round trip differs:\n%s\nwant\n%s", data2, data)
	}
}

func TestDocumentReferences(t *testing.T) {
	t.Parallel()

	doc := mustValidate(t, readTestdata(t, "page_full.json"))
	refs := doc.References()

	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"services from grids and links", refs.Services, "svc-app-only,svc-business-license,svc-gaokao-score,svc-jinjingzheng,svc-library,svc-provident-fund,svc-retired,svc-school-enrol,svc-social-security,svc-student-aid,svc-talent-hukou,svc-teacher-cert"},
		{"items from item lists", refs.Items, "item-gone,item-newborn,item-retire,item-school-enrol"},
		{"topics from subscriptions", refs.Topics, "topic-edu-policy,topic-training-subsidy"},
		{"templates from envelope", refs.Templates, "gaokao-2027,spring-festival-2027"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if got := strings.Join(tt.got, ","); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestValidateInvalidText(t *testing.T) {
	t.Parallel()

	titled := func(zh string) []byte {
		return []byte(`{"schema_version":1,"title":{"zh":` + zh + `},"body":{"type":"page","id":"root"}}`)
	}

	tests := []struct {
		name     string
		doc      []byte
		wantPath string // "" means the document is valid
	}{
		{"NUL escape in a value", titled(`"a\u0000b"`), "/title/zh"},
		{"NUL escape in a key", []byte(`{"schema_version":1,"title":{"zh":"x"},"body":{"type":"page","id":"root","props":{"a\u0000":1}}}`), "/body/props/a\x00"},
		{"lone high surrogate", titled(`"a\ud800"`), "/title/zh"},
		{"lone low surrogate", titled(`"\udfff b"`), "/title/zh"},
		{"high surrogate before a letter", titled(`"\ud83dx"`), "/title/zh"},
		{"two high surrogates", titled(`"\ud83d\ud83d"`), "/title/zh"},
		{"upper-case escape", titled(`"\uD800"`), "/title/zh"},
		{"lone surrogate in a node id", pageWith(`{"type":"section","id":"\udc00"}`), "/body/children/0/id"},
		{"surrogate pair accepted", titled(`"\ud83d\ude00"`), ""},
		{"escaped backslash before u accepted", titled(`"\\ud800"`), ""},
		{"literal replacement character accepted", titled(`"�"`), ""},
		{"escaped replacement character accepted", titled(`"\ufffd"`), ""},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			_, problems := Validate(tt.doc)
			var found []Problem
			for _, p := range problems {
				if p.Code == CodeInvalidText {
					found = append(found, p)
				}
			}

			if tt.wantPath == "" {
				if len(found) > 0 {
					t.Fatalf("problems = %s, want no invalid_text", codes(found))
				}

				return
			}

			if len(found) != 1 || found[0].Path != tt.wantPath {
				t.Fatalf("invalid_text problems = %s, want one at %q", codes(found), tt.wantPath)
			}

			if found[0].Message.ZH == "" || found[0].Message.EN == "" {
				t.Errorf("message = %+v, want Chinese and English", found[0].Message)
			}
		})
	}
}

func TestProblemWithBase(t *testing.T) {
	t.Parallel()

	_, problems := Validate(pageWith(`{"type":"section","id":"a"}`, `{"type":"section","id":"a"}`))
	if len(problems) != 1 || problems[0].Code != CodeDuplicateID {
		t.Fatalf("problems = %s, want one duplicate_id", codes(problems))
	}

	got := problems[0].WithBase("/document")
	if got.Path != "/document/body/children/1/id" {
		t.Errorf("path = %q, want /document/body/children/1/id", got.Path)
	}

	for _, msg := range []string{got.Message.ZH, got.Message.EN} {
		if !strings.Contains(msg, "/document/body/children/0") {
			t.Errorf("message %q does not name /document/body/children/0", msg)
		}
	}

	if !strings.Contains(problems[0].Message.EN, " /body/children/0") {
		t.Errorf("WithBase changed the original: %q", problems[0].Message.EN)
	}

	_, problems = Validate([]byte(`{"schema_version":2}`))
	if got := problems[0].WithBase("/body"); got.Path != "/body"+problems[0].Path || got.Message != problems[0].Message {
		t.Errorf("WithBase on %s = %s, want only the path prefixed", problems[0], got)
	}
}

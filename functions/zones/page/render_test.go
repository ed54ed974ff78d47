package page

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func renderFull(tb testing.TB, ch Channel, lang string, now time.Time) *Rendered {
	tb.Helper()

	doc := mustValidate(tb, readTestdata(tb, "page_full.json"))

	out, err := Render(doc, fullInput(tb, ch, lang, now))
	if err != nil {
		tb.Fatalf("Render(%s, %s) error = %v", ch, lang, err)
	}

	return out
}

func capabilityString(u *CapabilityUse) string {
	if u == nil {
		return "<none>"
	}

	return string(u.Name) + " api=" + u.API + " fallback=" + string(u.Fallback)
}

func TestRenderCapabilityPerChannel(t *testing.T) {
	t.Parallel()

	const hidden = "<hidden>"

	tests := []struct {
		name    string
		channel Channel
		nodeID  string
		want    string
	}{
		{"wechat login uses wx.login", ChannelWeChat, "login-tip", "login api=wx.login fallback="},
		{"alipay login uses getAuthCode", ChannelAlipay, "login-tip", "login api=my.getAuthCode fallback="},
		{"baidu login uses swan.login", ChannelBaidu, "login-tip", "login api=swan.login fallback="},
		{"app login is native", ChannelApp, "login-tip", "login api= fallback="},
		{"h5 login redirects", ChannelH5, "login-tip", "login api= fallback=redirect_login"},
		{"wechat subscription needs login", ChannelWeChat, "sub-policy", "login api=wx.login fallback="},
		{"h5 subscription redirects login", ChannelH5, "sub-policy", "login api= fallback=redirect_login"},
		{"wechat camera uses chooseMedia", ChannelWeChat, "camera-tip", "camera api=wx.chooseMedia fallback="},
		{"alipay camera uses chooseImage", ChannelAlipay, "camera-tip", "camera api=my.chooseImage fallback="},
		{"h5 camera uses file input", ChannelH5, "camera-tip", "camera api= fallback=file_input"},
		{"wechat scan uses scanCode", ChannelWeChat, "scan-tip", "scan api=wx.scanCode fallback="},
		{"alipay scan uses my.scan", ChannelAlipay, "scan-tip", "scan api=my.scan fallback="},
		{"h5 scan prompt hidden", ChannelH5, "scan-tip", hidden},
		{"h5 download opens URL", ChannelH5, "download-tip", "file_download api= fallback=open_url"},
		{"plain node not annotated", ChannelWeChat, "search", "<none>"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			out := renderFull(t, tt.channel, LangZH, duringSpring)

			n := findNode(out.Body, tt.nodeID)
			got := hidden
			if n != nil {
				got = capabilityString(n.Capability)
			}

			if got != tt.want {
				t.Errorf("node %s capability = %s, want %s", tt.nodeID, got, tt.want)
			}
		})
	}
}

// TestRenderFollowsMatrix checks every annotated node of every channel
// against the matrix, so renderings differ exactly where the matrix does.
func TestRenderFollowsMatrix(t *testing.T) {
	t.Parallel()

	doc := mustValidate(t, readTestdata(t, "page_full.json"))

	for _, ch := range Channels() {
		t.Run("matrix drives "+string(ch), func(t *testing.T) {
			t.Parallel()

			out, err := Render(doc, fullInput(t, ch, LangZH, duringSpring))
			if err != nil {
				t.Fatalf("Render() error = %v", err)
			}

			var walk func(*Node)
			walk = func(n *Node) {
				want, needs := nodeCapability(n)
				if needs {
					checkNodeAgainstMatrix(t, ch, want, findNode(out.Body, n.ID))
				}

				for _, c := range n.Children {
					walk(c)
				}
			}
			walk(doc.Body)
		})
	}
}

func checkNodeAgainstMatrix(t *testing.T, ch Channel, c Capability, n *RenderedNode) {
	t.Helper()

	s, _ := Lookup(ch, c)

	switch {
	case !s.Supported && s.Fallback == FallbackHide:
		if n != nil {
			t.Errorf("%s: node %s needs %s, want it hidden", ch, n.ID, c)
		}
	case n == nil:
		t.Errorf("%s: a node needing %s was removed, want it kept", ch, c)
	case s.Supported && (n.Capability.API != s.API || n.Capability.Fallback != ""):
		t.Errorf("%s: node %s capability = %s, want api %s", ch, n.ID, capabilityString(n.Capability), s.API)
	case !s.Supported && (n.Capability.Fallback != s.Fallback || n.Capability.API != ""):
		t.Errorf("%s: node %s capability = %s, want fallback %s", ch, n.ID, capabilityString(n.Capability), s.Fallback)
	}
}

func TestRenderLinksPerChannel(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		channel Channel
		item    int // index in list-guides items
		want    string
	}{
		{"wechat file link downloads", ChannelWeChat, 0, `{"capability":{"name":"file_download","api":"wx.downloadFile + wx.openDocument"},"target":"https://static.jingtong.example/guides/enrol-2027.pdf","type":"file"}`},
		{"h5 file link opens URL", ChannelH5, 0, `{"capability":{"name":"file_download","fallback":"open_url"},"target":"https://static.jingtong.example/guides/enrol-2027.pdf","type":"url"}`},
		{"wechat program link launches", ChannelWeChat, 1, `{"app_id":"wx0123456789abcdef","capability":{"name":"launch","api":"wx.navigateToMiniProgram"},"path":"pages/index/index?from=jingtong","type":"mini_program"}`},
		{"alipay program link launches", ChannelAlipay, 1, `{"app_id":"2021000000000001","capability":{"name":"launch","api":"my.navigateToMiniProgram"},"path":"pages/index/index?from=jingtong","type":"mini_program"}`},
		{"baidu program without build", ChannelBaidu, 1, `{"capability":{"name":"launch","fallback":"open_url"},"target":"https://jtjjz.jingtong.example/open","type":"url"}`},
		{"h5 program uses url scheme", ChannelH5, 1, `{"capability":{"name":"launch","fallback":"url_scheme"},"target":"https://jtjjz.jingtong.example/open","type":"url"}`},
		{"app program uses url scheme", ChannelApp, 1, `{"capability":{"name":"launch","fallback":"url_scheme"},"target":"https://jtjjz.jingtong.example/open","type":"url"}`},
		{"url link unchanged", ChannelH5, 2, `{"target":"https://jw.beijing.example/","type":"url"}`},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			out := renderFull(t, tt.channel, LangZH, duringSpring)
			items, _ := findNode(out.Body, "list-guides").Props["items"].([]any)
			item, _ := items[tt.item].(map[string]any)

			got, err := json.Marshal(item["link"])
			if err != nil {
				t.Fatalf("Marshal() error = %v", err)
			}

			if string(got) != tt.want {
				t.Errorf("link = %s, want %s", got, tt.want)
			}
		})
	}
}

func serviceIDs(tb testing.TB, n *RenderedNode) []string {
	tb.Helper()

	cards, ok := n.Props["services"].([]*renderedService)
	if !ok {
		tb.Fatalf("services of %s = %T, want cards", n.ID, n.Props["services"])
	}

	ids := make([]string, len(cards))
	for i, c := range cards {
		ids[i] = c.ID
	}

	return ids
}

func TestRenderDropsUnavailableServices(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		channel Channel
		want    string
	}{
		{"wechat drops unknown and app-only", ChannelWeChat, "svc-school-enrol,svc-gaokao-score,svc-student-aid,svc-teacher-cert,svc-library"},
		{"baidu also drops wechat-alipay service", ChannelBaidu, "svc-school-enrol,svc-gaokao-score,svc-student-aid,svc-library"},
		{"app keeps app-only service", ChannelApp, "svc-school-enrol,svc-gaokao-score,svc-student-aid,svc-library,svc-app-only"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			out := renderFull(t, tt.channel, LangZH, duringSpring)

			if got := strings.Join(serviceIDs(t, findNode(out.Body, "grid-hot")), ","); got != tt.want {
				t.Errorf("grid-hot services = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRenderDropsNothingElse(t *testing.T) {
	t.Parallel()

	out := renderFull(t, ChannelBaidu, LangZH, duringSpring)

	slides, _ := findNode(out.Body, "banner").Props["slides"].([]any)
	if len(slides) != 3 {
		t.Fatalf("len(slides) = %d, want 3: a bad service link drops the link, not the slide", len(slides))
	}

	tests := []struct {
		name     string
		slide    int
		wantLink bool
	}{
		{"available service link kept", 0, true},
		{"channel-unavailable link dropped", 1, false},
		{"unknown service link dropped", 2, false},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			slide, _ := slides[tt.slide].(map[string]any)
			if _, has := slide["link"]; has != tt.wantLink {
				t.Errorf("slide %d has link = %t, want %t", tt.slide, has, tt.wantLink)
			}

			if _, has := slide["image"]; !has {
				t.Errorf("slide %d lost its image", tt.slide)
			}
		})
	}

	items, _ := findNode(out.Body, "items-one-thing").Props["items"].([]*renderedItem)
	if len(items) != 2 || items[0].ID != "item-school-enrol" || items[1].ID != "item-newborn" {
		t.Errorf("items = %+v, want item-school-enrol and item-newborn", items)
	}
}

func TestRenderLoginCardsPerChannel(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		channel Channel
		want    string
	}{
		{"wechat card uses wx.login", ChannelWeChat, "login api=wx.login fallback="},
		{"h5 card redirects login", ChannelH5, "login api= fallback=redirect_login"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			out := renderFull(t, tt.channel, LangZH, duringSpring)
			cards, _ := findNode(out.Body, "grid-hot").Props["services"].([]*renderedService)

			if got := capabilityString(cards[0].Capability); got != tt.want {
				t.Errorf("login card capability = %s, want %s", got, tt.want)
			}

			if got := capabilityString(cards[2].Capability); got != "<none>" {
				t.Errorf("card without login capability = %s, want none", got)
			}
		})
	}
}

func TestRenderTemplateWindows(t *testing.T) {
	t.Parallel()

	between := time.Date(2027, 3, 1, 0, 0, 0, 0, beijing)
	after := time.Date(2028, 1, 1, 0, 0, 0, 0, beijing)
	ns := time.Nanosecond

	tests := []struct {
		name           string
		now            time.Time
		wantTemplates  string
		wantValidUntil *time.Time
	}{
		{"before start not applied", springStart.Add(-ns), "", &springStart},
		{"start is inclusive", springStart, "spring-festival-2027", &springEnd},
		{"just before end applied", springEnd.Add(-ns), "spring-festival-2027", &springEnd},
		{"end is exclusive", springEnd, "", &gaokaoStart},
		{"between windows none applied", between, "", &gaokaoStart},
		{"second window applied", gaokaoStart, "gaokao-2027", &gaokaoEnd},
		{"after every window", after, "", nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			out := renderFull(t, ChannelWeChat, LangZH, tt.now)

			if got := strings.Join(out.Templates, ","); got != tt.wantTemplates {
				t.Errorf("Templates = %q, want %q", got, tt.wantTemplates)
			}

			hasBanner := findNode(out.Body, "spring-festival-2027:spring-banner") != nil
			if want := tt.wantTemplates == "spring-festival-2027"; hasBanner != want {
				t.Errorf("spring banner present = %t, want %t", hasBanner, want)
			}

			switch {
			case tt.wantValidUntil == nil && out.ValidUntil != nil:
				t.Errorf("ValidUntil = %v, want nil", out.ValidUntil)
			case tt.wantValidUntil != nil && (out.ValidUntil == nil || !out.ValidUntil.Equal(*tt.wantValidUntil)):
				t.Errorf("ValidUntil = %v, want %v", out.ValidUntil, tt.wantValidUntil)
			}
		})
	}
}

func TestRenderTemplatePlacementAndTheme(t *testing.T) {
	t.Parallel()

	doc := mustValidate(t, readTestdata(t, "page_full.json"))
	in := fullInput(t, ChannelWeChat, LangZH, duringSpring)
	in.Templates[1].StartAt, in.Templates[1].EndAt = nil, nil // gaokao open at both ends

	out, err := Render(doc, in)
	if err != nil {
		t.Fatalf("Render() error = %v", err)
	}

	children := out.Body.Children

	tests := []struct {
		name string
		got  string
		want string
	}{
		{"both templates applied", strings.Join(out.Templates, ","), "spring-festival-2027,gaokao-2027"},
		{"prepended node comes first", children[0].ID, "spring-festival-2027:spring-banner"},
		{"appended node comes last", children[len(children)-1].ID, "gaokao-2027:gaokao-links"},
		{"later template colour wins", out.Theme["primary_color"].(string), "#0B7A3E"},
		{"earlier template image kept", out.Theme["background_image"].(string), "https://static.jingtong.example/themes/spring-2027/bg.png"},
		{"page colour kept when unset", out.Theme["background_color"].(string), "#F5F7FA"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if tt.got != tt.want {
				t.Errorf("got %s, want %s", tt.got, tt.want)
			}
		})
	}

	if _, has := out.Body.Props["theme"]; has {
		t.Errorf("body props keep theme, want it moved to Rendered.Theme")
	}
}

func TestRenderEnglishFallsBackToChinese(t *testing.T) {
	t.Parallel()

	out := renderFull(t, ChannelWeChat, LangEN, duringSpring)
	cards, _ := findNode(out.Body, "grid-hot").Props["services"].([]*renderedService)
	news, _ := findNode(out.Body, "news-exam").Props["items"].([]any)
	first, _ := news[0].(map[string]any)
	items, _ := findNode(out.Body, "items-one-thing").Props["items"].([]*renderedItem)

	tests := []struct {
		name string
		got  any
		want string
	}{
		{"title uses English", out.Title, "Education"},
		{"section title uses English", findNode(out.Body, "sec-person").Props["title"], "Personal services"},
		{"service name uses English", cards[0].Name, "School enrolment"},
		{"service without English name", cards[2].Name, "学生资助申请"},
		{"news summary without English", first["summary"], "报名时间为 11 月 1 日至 11 月 10 日。"},
		{"item summary without English", items[0].Summary, "入学登记、学籍、资助一次办。"},
		{"template text uses English", findNode(out.Body, "spring-festival-2027:spring-banner").Props["slides"].([]any)[0].(map[string]any)["title"], "Happy Spring Festival: services stay open"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			if tt.got != tt.want {
				t.Errorf("got %v, want %s", tt.got, tt.want)
			}
		})
	}
}

func TestRenderDeterministic(t *testing.T) {
	t.Parallel()

	for _, ch := range []Channel{ChannelWeChat, ChannelH5} {
		t.Run("same bytes twice on "+string(ch), func(t *testing.T) {
			t.Parallel()

			first, err := json.Marshal(renderFull(t, ch, LangZH, duringSpring))
			if err != nil {
				t.Fatalf("Marshal() error = %v", err)
			}

			for range 5 {
				again, err := json.Marshal(renderFull(t, ch, LangZH, duringSpring))
				if err != nil {
					t.Fatalf("Marshal() error = %v", err)
				}

				if string(again) != string(first) {
					t.Fatalf("second rendering differs from the first")
				}
			}
		})
	}
}

// TestRenderConcurrentSharedDocument runs renders of one Document in
// parallel. Under -race it proves Render does not write to shared input.
func TestRenderConcurrentSharedDocument(t *testing.T) {
	t.Parallel()

	doc := mustValidate(t, readTestdata(t, "page_full.json"))

	before, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("Marshal() error = %v", err)
	}

	in := fullInput(t, ChannelWeChat, LangZH, duringSpring)

	var wg sync.WaitGroup

	for _, ch := range Channels() {
		for _, lang := range []string{LangZH, LangEN} {
			wg.Go(func() {
				in := in
				in.Channel, in.Lang = ch, lang

				if _, err := Render(doc, in); err != nil {
					t.Errorf("Render(%s, %s) error = %v", ch, lang, err)
				}
			})
		}
	}

	wg.Wait()

	after, err := json.Marshal(doc)
	if err != nil {
		t.Fatalf("Marshal() error = %v", err)
	}

	if string(after) != string(before) {
		t.Errorf("Render changed the document")
	}
}

func TestRenderRejectsBadInput(t *testing.T) {
	t.Parallel()

	doc := mustValidate(t, readTestdata(t, "page_minimal.json"))
	good := RenderInput{Channel: ChannelWeChat, Lang: LangZH, Now: duringSpring}
	tpl := mustTemplate(t, "template_gaokao.json")

	tests := []struct {
		name    string
		doc     *Document
		edit    func(*RenderInput)
		wantErr error
	}{
		{"nil document rejected", nil, func(*RenderInput) {}, ErrInvalidInput},
		{"unknown channel rejected", doc, func(in *RenderInput) { in.Channel = "douyin" }, ErrUnknownChannel},
		{"unknown language rejected", doc, func(in *RenderInput) { in.Lang = "fr" }, ErrUnknownLanguage},
		{"zero time rejected", doc, func(in *RenderInput) { in.Now = time.Time{} }, ErrInvalidInput},
		{"template given twice", doc, func(in *RenderInput) {
			in.Templates = []TemplateInput{{ID: "t", Template: tpl}, {ID: "t", Template: tpl}}
		}, ErrInvalidInput},
		{"template without document", doc, func(in *RenderInput) { in.Templates = []TemplateInput{{ID: "t"}} }, ErrInvalidInput},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			in := good
			tt.edit(&in)

			if _, err := Render(tt.doc, in); !errors.Is(err, tt.wantErr) {
				t.Errorf("Render() error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestRenderChannelObject(t *testing.T) {
	t.Parallel()

	out := renderFull(t, ChannelAlipay, LangZH, duringSpring)

	names := make([]Capability, len(out.Channel.Capabilities))
	for i, c := range out.Channel.Capabilities {
		names[i] = c.Name
	}

	if !slices.Equal(names, Capabilities()) {
		t.Errorf("channel capabilities = %v, want %v", names, Capabilities())
	}

	share := out.Channel.Capabilities[slices.Index(names, CapShare)]
	if !share.Supported || share.API != "my.showSharePanel + onShareAppMessage" {
		t.Errorf("alipay share = %+v, want supported with my.showSharePanel", share)
	}
}

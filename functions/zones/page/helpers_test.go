package page

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Template windows of the fixtures, in Beijing time.
var (
	beijing     = time.FixedZone("CST", 8*3600)
	springStart = time.Date(2027, 1, 28, 0, 0, 0, 0, beijing)
	springEnd   = time.Date(2027, 2, 21, 0, 0, 0, 0, beijing)
	gaokaoStart = time.Date(2027, 6, 1, 0, 0, 0, 0, beijing)
	gaokaoEnd   = time.Date(2027, 7, 1, 0, 0, 0, 0, beijing)

	// duringSpring lies inside the spring festival window only.
	duringSpring = time.Date(2027, 2, 6, 10, 30, 0, 0, beijing)
)

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()

	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatalf("read testdata: %v", err)
	}

	return data
}

func mustValidate(tb testing.TB, data []byte) *Document {
	tb.Helper()

	doc, problems := Validate(data)
	if len(problems) > 0 {
		tb.Fatalf("Validate() problems = %v, want none", problems)
	}

	return doc
}

func mustTemplate(tb testing.TB, name string) *Template {
	tb.Helper()

	t, problems := ValidateTemplate(readTestdata(tb, name))
	if len(problems) > 0 {
		tb.Fatalf("ValidateTemplate(%s) problems = %v, want none", name, problems)
	}

	return t
}

// fixtureTemplates returns the two templates page_full.json references.
func fixtureTemplates(tb testing.TB) []TemplateInput {
	tb.Helper()

	return []TemplateInput{
		{ID: "spring-festival-2027", StartAt: &springStart, EndAt: &springEnd, Template: mustTemplate(tb, "template_spring_festival.json")},
		{ID: "gaokao-2027", StartAt: &gaokaoStart, EndAt: &gaokaoEnd, Template: mustTemplate(tb, "template_gaokao.json")},
	}
}

// fixtureServices leaves out svc-retired, which page_full.json binds, so
// renders show that unknown ids are dropped.
func fixtureServices() map[string]ServiceCard {
	return map[string]ServiceCard{
		"svc-jinjingzheng": {
			Type: "h5", Name: Text{ZH: "进京证办理", EN: "Beijing entry permit"}, Icon: "https://static.jingtong.example/icons/jjz.png",
			Badge: "HOT", URL: "https://jtjjz.jingtong.example/apply", LoginRequired: true, Licences: []string{"机动车行驶证", "机动车驾驶证"},
		},
		"svc-school-enrol": {
			Type: "h5", Name: Text{ZH: "义务教育入学服务", EN: "School enrolment"}, Icon: "https://static.jingtong.example/icons/enrol.png",
			Badge: "NEW", URL: "https://jw.beijing.example/enrol", LoginRequired: true, Licences: []string{"居民户口簿"},
		},
		"svc-gaokao-score": {
			Type: "api", Name: Text{ZH: "高考成绩查询", EN: "Gaokao scores"}, Endpoint: "GET /exam/gaokao/score", LoginRequired: true,
		},
		"svc-student-aid": {
			Type: "h5", Name: Text{ZH: "学生资助申请"}, URL: "https://jw.beijing.example/aid",
		},
		"svc-teacher-cert": {
			Type: "h5", Name: Text{ZH: "教师资格认定", EN: "Teacher certification"}, URL: "https://jw.beijing.example/teacher",
			Channels: []Channel{ChannelWeChat, ChannelAlipay}, LoginRequired: true,
		},
		"svc-library": {
			Type: "h5", Name: Text{ZH: "首都图书馆借阅", EN: "Capital Library"}, URL: "https://library.beijing.example/",
		},
		"svc-social-security": {
			Type: "api", Name: Text{ZH: "社保查询", EN: "Social insurance"}, Endpoint: "GET /social-security/summary", LoginRequired: true,
		},
		"svc-provident-fund": {
			Type: "api", Name: Text{ZH: "公积金查询", EN: "Housing provident fund"}, Endpoint: "GET /provident-fund/summary", LoginRequired: true,
		},
		"svc-business-license": {
			Type: "h5", Name: Text{ZH: "营业执照办理", EN: "Business licence"}, URL: "https://scjg.beijing.example/license",
			Channels: []Channel{ChannelWeChat, ChannelAlipay, ChannelApp}, LoginRequired: true, Licences: []string{"营业执照"},
		},
		"svc-talent-hukou": {
			Type: "h5", Name: Text{ZH: "人才引进落户", EN: "Talent residence"}, URL: "https://rsj.beijing.example/hukou", LoginRequired: true,
		},
		"svc-app-only": {
			Type: "h5", Name: Text{ZH: "京通码", EN: "Jingtong code"}, URL: "https://code.jingtong.example/", Channels: []Channel{ChannelApp},
		},
	}
}

// fixtureItems leaves out item-gone, which page_full.json binds.
func fixtureItems() map[string]ItemCard {
	return map[string]ItemCard{
		"item-school-enrol": {Name: Text{ZH: "入学一件事", EN: "Starting school"}, Summary: Text{ZH: "入学登记、学籍、资助一次办。"}},
		"item-newborn":      {Name: Text{ZH: "新生儿出生一件事", EN: "Having a baby"}, Summary: Text{ZH: "出生医学证明、户口登记、医保参保一次办。", EN: "Birth certificate, household registration and medical insurance in one visit."}},
		"item-retire":       {Name: Text{ZH: "退休一件事", EN: "Retiring"}},
	}
}

func fullInput(tb testing.TB, ch Channel, lang string, now time.Time) RenderInput {
	tb.Helper()

	return RenderInput{
		Channel:   ch,
		Lang:      lang,
		Now:       now,
		Templates: fixtureTemplates(tb),
		Services:  fixtureServices(),
		Items:     fixtureItems(),
	}
}

// codes lists the codes of problems, for failure messages.
func codes(problems []Problem) string {
	parts := make([]string, len(problems))
	for i, p := range problems {
		parts[i] = p.String()
	}

	return strings.Join(parts, "\n")
}

// findNode returns the rendered node with the given id, or nil.
func findNode(n *RenderedNode, id string) *RenderedNode {
	if n == nil {
		return nil
	}

	if n.ID == id {
		return n
	}

	for _, c := range n.Children {
		if found := findNode(c, id); found != nil {
			return found
		}
	}

	return nil
}

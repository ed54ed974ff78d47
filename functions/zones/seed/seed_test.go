package seed_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/zones"
	"github.com/jingtong/backend/functions/zones/page"
	"github.com/jingtong/backend/functions/zones/seed"
	"github.com/jingtong/backend/shared/store/storetest"
)

var (
	slugPattern     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	nodeIDPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	endpointPattern = regexp.MustCompile(`^(GET|POST|PUT|PATCH|DELETE) /api/[a-z0-9/-]+$`)
	// policyRefPattern matches the two public forms of a document number:
	// agency code, year and sequence (国发〔2024〕3号) or a State Council
	// decree number (国务院令第722号).
	policyRefPattern = regexp.MustCompile(`^(\p{Han}+〔\d{4}〕\d+号|国务院令第\d+号)$`)
)

// prefillFields are the form fields the big-data centre can fill in.
var prefillFields = []string{"household_registration", "ethnicity", "education", "id_validity", "marital_status"}

// knownLicences are standard names of electronic licence types (电子证照类型)
// as the issuing authorities publish them. A seed licence outside this list
// is most likely a typo or an invented type.
var knownLicences = []string{
	"居民身份证", "临时居民身份证", "居民户口簿", "居住证", "户口迁移证明", "无犯罪记录证明",
	"机动车驾驶证", "机动车行驶证", "机动车登记证书", "机动车进京通行证", "养犬登记证",
	"普通护照", "外国人永久居留身份证",
	"结婚证", "离婚证", "收养登记证", "最低生活保障证", "残疾人证",
	"出生医学证明", "预防接种证", "母子健康手册", "居民死亡医学证明(推断)书", "无偿献血证",
	"食品从业人员健康证明",
	"社会保障卡", "就业创业证", "职业资格证书", "专业技术职务任职资格证书", "职业技能等级证书",
	"劳务派遣经营许可证", "退休证",
	"营业执照", "食品经营许可证",
	"不动产权证书", "不动产登记证明", "建设工程规划许可证", "建筑工程施工许可证", "建筑业企业资质证书",
	"住房公积金缴存证明",
	"道路运输经营许可证", "道路运输证", "道路运输从业人员从业资格证",
	"教师资格证书", "导游证", "完税证明", "公众聚集场所投入使用营业前消防安全检查合格证",
}

// TestSeedLoadsIntoStore loads the files through the zones function's own
// validation and inserts, on every supported database.
func TestSeedLoadsIntoStore(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)

	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		res, err := zones.Seed(context.Background(), db)
		if err != nil {
			t.Fatalf("seed: %v", err)
		}

		want := zones.SeedResult{
			Zones: len(c.zones), Services: len(c.services), Items: len(c.items),
			Templates: len(c.templates), Pages: len(c.pages),
		}
		if res != want {
			t.Errorf("seed inserted %+v, want %+v", res, want)
		}
	})
}

type catalogue struct {
	zones     []zones.Zone
	services  []zones.Service
	items     []zones.Item
	templates []zones.Template
	pages     []seed.Page

	zoneByID     map[string]zones.Zone
	serviceByID  map[string]zones.Service
	itemByID     map[string]zones.Item
	templateByID map[string]zones.Template
}

// loadCatalogue decodes every seed file strictly: unknown fields and
// trailing data fail the test.
func loadCatalogue(t *testing.T) *catalogue {
	t.Helper()

	c := &catalogue{
		zones:     decodeFile[zones.Zone](t, "zones.json"),
		services:  decodeFile[zones.Service](t, "services.json"),
		items:     decodeFile[zones.Item](t, "items.json"),
		templates: decodeFile[zones.Template](t, "templates.json"),
		pages:     decodeFile[seed.Page](t, "pages.json"),
	}

	c.zoneByID = indexByID(t, "zones.json", c.zones, func(z zones.Zone) string { return z.ID })
	c.serviceByID = indexByID(t, "services.json", c.services, func(s zones.Service) string { return s.ID })
	c.itemByID = indexByID(t, "items.json", c.items, func(it zones.Item) string { return it.ID })
	c.templateByID = indexByID(t, "templates.json", c.templates, func(tp zones.Template) string { return tp.ID })

	return c
}

func decodeFile[T any](t *testing.T, name string) []T {
	t.Helper()

	data, err := seed.FS.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}

	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()

	var out []T
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}

	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: data after the JSON array", name)
	}

	return out
}

// indexByID returns the entities by id and reports invalid or repeated ids.
func indexByID[T any](t *testing.T, file string, list []T, id func(T) string) map[string]T {
	t.Helper()

	out := make(map[string]T, len(list))
	for i, v := range list {
		key := id(v)
		if !slugPattern.MatchString(key) {
			t.Errorf("%s[%d]: id %q is not a lowercase slug", file, i, key)
		}

		if _, dup := out[key]; dup {
			t.Errorf("%s[%d]: duplicate id %q", file, i, key)
		}

		out[key] = v
	}

	return out
}

func (c *catalogue) zonesOfKind(kind zones.ZoneKind) []zones.Zone {
	var out []zones.Zone
	for _, z := range c.zones {
		if z.Kind == kind {
			out = append(out, z)
		}
	}

	return out
}

func (c *catalogue) servicesOfZone(zoneID string) []zones.Service {
	var out []zones.Service
	for _, s := range c.services {
		if slices.Contains(s.Zones, zoneID) {
			out = append(out, s)
		}
	}

	return out
}

func checkText(t *testing.T, path string, text zones.Text, needEN bool) {
	t.Helper()

	if strings.TrimSpace(text.ZH) == "" {
		t.Errorf("%s: zh is empty", path)
	}

	if needEN && strings.TrimSpace(text.EN) == "" {
		t.Errorf("%s: en is empty", path)
	}
}

func checkChannels(t *testing.T, path string, list []zones.Channel) {
	t.Helper()

	for _, ch := range list {
		if !slices.Contains(zones.Channels, ch) {
			t.Errorf("%s: unknown channel %q", path, ch)
		}
	}
}

func TestZoneCounts(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)

	if n := len(c.zonesOfKind(zones.KindLife)); n < 10 {
		t.Errorf("life zones = %d, want at least 10", n)
	}

	if n := len(c.zonesOfKind(zones.KindBusiness)); n < 5 {
		t.Errorf("business zones = %d, want at least 5", n)
	}

	for _, kind := range []zones.ZoneKind{zones.KindOneThing, zones.KindCrossProvince, zones.KindForeigner} {
		if n := len(c.zonesOfKind(kind)); n != 1 {
			t.Errorf("%s zones = %d, want 1", kind, n)
		}
	}

	lifeNames := map[string]bool{}
	for _, z := range c.zonesOfKind(zones.KindLife) {
		lifeNames[z.Name.ZH] = true
	}

	for _, name := range []string{"婚育", "教育", "就业", "安居", "养老", "出行", "社区", "志愿", "公积金", "社保"} {
		if !lifeNames[name] {
			t.Errorf("no life zone named %q", name)
		}
	}
}

func TestZoneFields(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)
	for _, z := range c.zones {
		path := "zone " + z.ID
		if !slices.Contains(zones.ZoneKinds, z.Kind) {
			t.Errorf("%s: unknown kind %q", path, z.Kind)
		}

		checkText(t, path+" name", z.Name, true)
		checkText(t, path+" description", z.Description, true)

		if !slugPattern.MatchString(z.Icon) {
			t.Errorf("%s: icon %q is not an icon name", path, z.Icon)
		}

		if z.Category == "" {
			t.Errorf("%s: category is empty", path)
		}

		if z.Owner == "" {
			t.Errorf("%s: owner is empty", path)
		}

		if z.Status != "" && z.Status != zones.StatusPublished {
			t.Errorf("%s: status %q, want published", path, z.Status)
		}

		checkChannels(t, path+" channels", z.Channels)
	}
}

func TestServiceFields(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)

	for _, s := range c.services {
		path := "service " + s.ID
		checkText(t, path+" name", s.Name, true)
		checkText(t, path+" summary", s.Summary, false)
		checkChannels(t, path+" channels", s.Channels)

		switch s.Type {
		case zones.ServiceH5:
			if want := "/h5/" + s.ID; s.URL != want {
				t.Errorf("%s: url %q, want %q", path, s.URL, want)
			}

			if s.Endpoint != "" {
				t.Errorf("%s: H5 service has endpoint %q", path, s.Endpoint)
			}
		case zones.ServiceAPI:
			if !endpointPattern.MatchString(s.Endpoint) {
				t.Errorf("%s: endpoint %q is not \"METHOD /api/...\"", path, s.Endpoint)
			}

			if s.URL != "" {
				t.Errorf("%s: API service has url %q", path, s.URL)
			}
		default:
			t.Errorf("%s: unknown type %q", path, s.Type)
		}

		if !slices.Contains([]zones.Badge{zones.BadgeNone, zones.BadgeNew, zones.BadgeHot}, s.Badge) {
			t.Errorf("%s: unknown badge %q", path, s.Badge)
		}

		if !slugPattern.MatchString(s.Icon) {
			t.Errorf("%s: icon %q is not an icon name", path, s.Icon)
		}

		if len(s.Keywords) == 0 {
			t.Errorf("%s: no keywords", path)
		}

		for _, l := range s.Licences {
			if !slices.Contains(knownLicences, l) {
				t.Errorf("%s: unknown licence type %q", path, l)
			}
		}

		for _, f := range s.Prefill {
			if !slices.Contains(prefillFields, f) {
				t.Errorf("%s: unknown prefill field %q", path, f)
			}
		}

		if len(s.Zones) == 0 {
			t.Errorf("%s: attached to no zone", path)
		}

		for _, z := range s.Zones {
			if _, ok := c.zoneByID[z]; !ok {
				t.Errorf("%s: zone %q not found", path, z)
			}
		}
	}
}

func TestServicesPerZone(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)

	minimum := map[zones.ZoneKind]int{zones.KindLife: 6, zones.KindBusiness: 4}
	for _, z := range c.zones {
		if want, ok := minimum[z.Kind]; ok {
			if n := len(c.servicesOfZone(z.ID)); n < want {
				t.Errorf("zone %s has %d services, want at least %d", z.ID, n, want)
			}
		}
	}

	for _, z := range c.zonesOfKind(zones.KindCrossProvince) {
		h5 := 0
		for _, s := range c.servicesOfZone(z.ID) {
			if s.Type == zones.ServiceH5 {
				h5++
			}
		}

		if h5 < 20 {
			t.Errorf("cross-province zone %s has %d H5 services, want at least 20", z.ID, h5)
		}
	}

	for _, z := range c.zonesOfKind(zones.KindForeigner) {
		english := 0
		for _, s := range c.servicesOfZone(z.ID) {
			if s.Name.EN != "" && s.Summary.EN != "" {
				english++
			}
		}

		if english < 5 {
			t.Errorf("foreigner zone %s has %d services with English name and summary, want at least 5", z.ID, english)
		}
	}
}

func TestServiceLicencesAndPrefill(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)

	withLicences := 0
	used := map[string]bool{}

	for _, s := range c.services {
		if len(s.Licences) > 0 {
			withLicences++
		}

		for _, f := range s.Prefill {
			used[f] = true
		}
	}

	if withLicences < 10 {
		t.Errorf("services bound to licences = %d, want at least 10", withLicences)
	}

	for _, f := range prefillFields {
		if !used[f] {
			t.Errorf("no service prefills %q", f)
		}
	}
}

func TestItems(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)

	if len(c.items) < 15 {
		t.Errorf("one-thing items = %d, want at least 15", len(c.items))
	}

	for _, it := range c.items {
		path := "item " + it.ID
		checkText(t, path+" name", it.Name, true)
		checkText(t, path+" summary", it.Summary, true)
		checkText(t, path+" department", it.Department, true)

		zone, ok := c.zoneByID[it.ZoneID]
		if !ok || zone.Kind != zones.KindOneThing {
			t.Errorf("%s: zone_id %q is not a one-thing zone", path, it.ZoneID)
		}

		if len(it.Services) == 0 {
			t.Errorf("%s: bundles no services", path)
		}

		for _, id := range it.Services {
			s, ok := c.serviceByID[id]
			if !ok {
				t.Errorf("%s: service %q not found", path, id)
				continue
			}

			if !slices.Contains(s.Zones, it.ZoneID) {
				t.Errorf("%s: service %q is not attached to zone %q", path, id, it.ZoneID)
			}
		}

		checkGuide(t, path, it.Guide)
	}
}

func checkGuide(t *testing.T, path string, g zones.Guide) {
	t.Helper()

	checkCount(t, path+" situations", len(g.Situations), 1, 3)
	checkCount(t, path+" materials", len(g.Materials), 3, 8)
	checkCount(t, path+" policies", len(g.Policies), 1, 3)
	checkCount(t, path+" notes", len(g.Notes), 2, 4)
	checkCount(t, path+" steps", len(g.Steps), 3, 6)

	situations := map[string]bool{}
	for _, s := range g.Situations {
		if !slugPattern.MatchString(s.ID) || situations[s.ID] {
			t.Errorf("%s: situation id %q is invalid or repeated", path, s.ID)
		}

		situations[s.ID] = true
		checkText(t, path+" situation "+s.ID, s.Name, true)
	}

	withLicence := 0
	for i, m := range g.Materials {
		mp := fmt.Sprintf("%s material %d", path, i)
		checkText(t, mp+" name", m.Name, true)
		checkText(t, mp+" note", m.Note, true)

		if m.Licence != "" {
			withLicence++
			if !slices.Contains(knownLicences, m.Licence) {
				t.Errorf("%s: unknown licence type %q", mp, m.Licence)
			}
		}

		for _, id := range m.Situations {
			if !situations[id] {
				t.Errorf("%s: situation %q not in the guide", mp, id)
			}
		}
	}

	if withLicence == 0 {
		t.Errorf("%s: no material is replaced by an electronic licence", path)
	}

	for i, p := range g.Policies {
		pp := fmt.Sprintf("%s policy %d", path, i)
		checkText(t, pp+" title", p.Title, true)
		checkText(t, pp+" issuer", p.Issuer, true)

		if p.Ref != "" && !policyRefPattern.MatchString(p.Ref) {
			t.Errorf("%s: ref %q is not a document number", pp, p.Ref)
		}
	}

	for i, n := range g.Notes {
		checkText(t, fmt.Sprintf("%s note %d", path, i), n, true)
	}

	for i, s := range g.Steps {
		checkText(t, fmt.Sprintf("%s step %d title", path, i), s.Title, true)
		checkText(t, fmt.Sprintf("%s step %d description", path, i), s.Description, true)
	}

	if g.TimeLimitDays < 0 {
		t.Errorf("%s: time_limit_days %d is negative", path, g.TimeLimitDays)
	}

	checkText(t, path+" fee", g.Fee, true)
}

func checkCount(t *testing.T, path string, n, minCount, maxCount int) {
	t.Helper()

	if n < minCount || n > maxCount {
		t.Errorf("%s: %d entries, want %d to %d", path, n, minCount, maxCount)
	}
}

func TestTemplates(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)

	for _, tp := range c.templates {
		path := "template " + tp.ID
		checkText(t, path+" name", tp.Name, true)

		if !slices.Contains(zones.TemplateThemes, tp.Theme) {
			t.Errorf("%s: unknown theme %q", path, tp.Theme)
		}

		if tp.StartAt != nil && tp.EndAt != nil && !tp.StartAt.Before(*tp.EndAt) {
			t.Errorf("%s: start_at %v is not before end_at %v", path, tp.StartAt, tp.EndAt)
		}

		body, problems := page.ValidateTemplate(tp.Body)
		for _, p := range problems {
			t.Errorf("%s body: %v", path, p)
		}

		if body != nil {
			checkReferences(t, c, path, body.References())
		}

		checkPageLinks(t, c, path, tp.Body)
	}
}

// TestTemplateWindows checks the windows against the 2027 calendar:
// Spring Festival on 6 February, Lantern Festival on 20 February, the
// college entrance exam on 7 to 10 June and the National Day holiday on 1
// to 7 October. It also checks that one template is in effect in December
// 2026, so the demo pages show a template today.
func TestTemplateWindows(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)

	beijing := time.FixedZone("CST", 8*60*60)
	day := func(month time.Month, d int) time.Time { return time.Date(2027, month, d, 12, 0, 0, 0, beijing) }

	cases := []struct {
		theme string
		days  []time.Time
	}{
		{"spring_festival", []time.Time{day(time.February, 6)}},
		{"lantern_festival", []time.Time{day(time.February, 20)}},
		{"gaokao", []time.Time{day(time.June, 7), day(time.June, 10)}},
		{"holiday", []time.Time{day(time.October, 1), day(time.October, 7)}},
		{"holiday", []time.Time{time.Date(2026, time.December, 15, 12, 0, 0, 0, beijing)}},
	}

	for _, tc := range cases {
		for _, d := range tc.days {
			if !c.anyTemplateActive(tc.theme, d) {
				t.Errorf("no %s template is in effect on %s", tc.theme, d.Format(time.DateOnly))
			}
		}
	}

	for _, tp := range c.templates {
		if tp.Theme == "livelihood" && (tp.StartAt != nil || tp.EndAt != nil) {
			t.Errorf("livelihood template %s has start_at or end_at set, want no window so that it always applies", tp.ID)
		}
	}
}

// anyTemplateActive reports whether a template with the theme is in effect
// at the instant at. A window includes its start and excludes its end.
func (c *catalogue) anyTemplateActive(theme string, at time.Time) bool {
	for _, tp := range c.templates {
		if tp.Theme != theme {
			continue
		}

		if (tp.StartAt == nil || !at.Before(*tp.StartAt)) && (tp.EndAt == nil || at.Before(*tp.EndAt)) {
			return true
		}
	}

	return false
}

func TestPages(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)

	seen := map[string]bool{}
	for _, p := range c.pages {
		path := "page of " + p.ZoneID
		if _, ok := c.zoneByID[p.ZoneID]; !ok {
			t.Errorf("%s: zone not found", path)
		}

		if seen[p.ZoneID] {
			t.Errorf("%s: more than one page", path)
		}

		seen[p.ZoneID] = true

		doc, problems := page.Validate(p.Document)
		for _, pr := range problems {
			t.Errorf("%s: %v", path, pr)
		}

		if doc == nil {
			continue
		}

		for _, pr := range doc.CheckTemplates(func(id string) bool { _, ok := c.templateByID[id]; return ok }) {
			t.Errorf("%s: %v", path, pr)
		}

		checkReferences(t, c, path, doc.References())
		checkPageLinks(t, c, path, p.Document)
		checkNodeIDs(t, path, doc.Body)
	}

	for _, z := range c.zones {
		if !seen[z.ID] {
			t.Errorf("zone %s has no page", z.ID)
		}
	}
}

func TestPageContents(t *testing.T) {
	t.Parallel()

	c := loadCatalogue(t)

	docs := map[string]*page.Document{}
	for _, p := range c.pages {
		doc, problems := page.Validate(p.Document)
		if len(problems) > 0 {
			t.Fatalf("page of %s is invalid, see TestPages for the problems", p.ZoneID)
		}

		docs[p.ZoneID] = doc
	}

	for _, z := range c.zonesOfKind(zones.KindLife) {
		for _, id := range []string{"new-year-2027", "spring-festival-2027", "lantern-festival-2027"} {
			if !slices.Contains(docs[z.ID].Templates, id) {
				t.Errorf("page of life zone %s does not reference template %s", z.ID, id)
			}
		}
	}

	if !slices.Contains(docs["life-education"].Templates, "gaokao-2027") {
		t.Errorf("page of life-education does not reference template gaokao-2027")
	}

	for _, z := range c.zones {
		types := nodeTypes(docs[z.ID].Body)
		for _, want := range []string{page.TypeTopNav, page.TypeSearch, page.TypeNewsList} {
			if !types[want] {
				t.Errorf("page of %s has no %s", z.ID, want)
			}
		}

		if z.Kind == zones.KindOneThing && !types[page.TypeItemList] {
			t.Errorf("page of one-thing zone %s has no item_list", z.ID)
		}

		if z.Kind != zones.KindOneThing && !types[page.TypeAppGrid] && !types[page.TypeList] {
			t.Errorf("page of %s shows no services", z.ID)
		}

		personal := slices.ContainsFunc(c.servicesOfZone(z.ID), func(s zones.Service) bool { return s.LoginRequired })
		if personal && !types[page.TypeLoginPrompt] {
			t.Errorf("page of %s has services that need login but no login_prompt", z.ID)
		}
	}
}

func nodeTypes(n *page.Node) map[string]bool {
	out := map[string]bool{}

	var walk func(*page.Node)
	walk = func(n *page.Node) {
		out[n.Type] = true
		for _, child := range n.Children {
			walk(child)
		}
	}
	walk(n)

	return out
}

// checkNodeIDs checks that node ids are lowercase with hyphens, a stricter
// rule than package page applies.
func checkNodeIDs(t *testing.T, path string, n *page.Node) {
	t.Helper()

	if !nodeIDPattern.MatchString(n.ID) {
		t.Errorf("%s: node id %q is not lowercase with hyphens", path, n.ID)
	}

	for _, child := range n.Children {
		checkNodeIDs(t, path, child)
	}
}

func checkReferences(t *testing.T, c *catalogue, path string, refs page.References) {
	t.Helper()

	for _, id := range refs.Services {
		if _, ok := c.serviceByID[id]; !ok {
			t.Errorf("%s: service %q not found", path, id)
		}
	}

	for _, id := range refs.Items {
		if _, ok := c.itemByID[id]; !ok {
			t.Errorf("%s: item %q not found", path, id)
		}
	}

	for _, id := range refs.Templates {
		if _, ok := c.templateByID[id]; !ok {
			t.Errorf("%s: template %q not found", path, id)
		}
	}
}

// checkPageLinks checks that every link of type page targets a zone, because
// each zone has one page and References does not list page links.
func checkPageLinks(t *testing.T, c *catalogue, path string, doc json.RawMessage) {
	t.Helper()

	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}

	walkJSON(v, func(obj map[string]any) {
		if obj["type"] != "page" {
			return
		}

		target, isLink := obj["target"].(string)
		if !isLink {
			return
		}

		if _, ok := c.zoneByID[target]; !ok {
			t.Errorf("%s: page link target %q is not a zone", path, target)
		}
	})
}

func walkJSON(v any, visit func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		visit(v)
		for _, child := range v {
			walkJSON(child, visit)
		}
	case []any:
		for _, child := range v {
			walkJSON(child, visit)
		}
	}
}

var seedFiles = []string{"zones.json", "services.json", "items.json", "templates.json", "pages.json"}

// TestNoAbsoluteURLs keeps every seed link on the local development server:
// no string in any file names an http or https URL.
func TestNoAbsoluteURLs(t *testing.T) {
	t.Parallel()

	for _, name := range seedFiles {
		data, err := seed.FS.ReadFile(name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}

		for _, scheme := range []string{"http://", "https://"} {
			if i := bytes.Index(data, []byte(scheme)); i >= 0 {
				t.Errorf("%s: contains %q at byte %d", name, scheme, i)
			}
		}
	}
}

// TestTextsHaveChinese checks every localised value in every file, including
// those inside page and template documents: an object whose keys are zh and
// en needs a non-empty zh.
func TestTextsHaveChinese(t *testing.T) {
	t.Parallel()

	for _, name := range seedFiles {
		data, err := seed.FS.ReadFile(name)
		if err != nil {
			t.Fatalf("read %s: %v", name, err)
		}

		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("decode %s: %v", name, err)
		}

		texts := 0
		walkJSON(v, func(obj map[string]any) {
			if !isText(obj) {
				return
			}

			texts++
			if zh, _ := obj["zh"].(string); strings.TrimSpace(zh) == "" {
				t.Errorf("%s: text %v has no zh", name, obj)
			}
		})

		if texts == 0 {
			t.Errorf("%s: no localised values found", name)
		}
	}
}

func isText(obj map[string]any) bool {
	if len(obj) == 0 {
		return false
	}

	for key := range obj {
		if key != "zh" && key != "en" {
			return false
		}
	}

	return true
}

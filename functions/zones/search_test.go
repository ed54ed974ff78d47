package zones

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/jingtong/backend/shared/store/storetest"
)

func TestSyllables(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"进京证", []string{"jin", "jing", "zheng"}},
		{"婚育", []string{"hun", "yu"}},
		{"12345热线", []string{"12345", "re", "xian"}},
		{"ETC 办理", []string{"etc", "ban", "li"}},
		{"（京津冀）", []string{"jing", "jin", "ji"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := syllables(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("syllables(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPinyinForms(t *testing.T) {
	full, initials, fullSuffixes, initialSuffixes := pinyinForms("办理进京证")
	if full != "banlijinjingzheng" || initials != "bljjz" {
		t.Fatalf("pinyinForms = %q, %q; want banlijinjingzheng, bljjz", full, initials)
	}
	if !slices.Contains(fullSuffixes, "jinjingzheng") || !slices.Contains(initialSuffixes, "jjz") {
		t.Fatalf("suffixes = %v, %v; want them to contain jinjingzheng and jjz", fullSuffixes, initialSuffixes)
	}
}

func TestParseSearchQuery(t *testing.T) {
	tests := []struct {
		in            string
		text, compact string
	}{
		{"  Hun  Yu ", "hun yu", "hunyu"},
		{"JJZ", "jjz", "jjz"},
		{"进京证", "进京证", ""},
		{"a|b", "a b", "ab"},
		{"50%", "50%", ""},

		// Full-width letters, digits and punctuation read as ASCII.
		{"ｈｕｎｙｕ", "hunyu", "hunyu"},
		{"ＨｕｎＹｕ", "hunyu", "hunyu"},
		{"ＪＪＺ", "jjz", "jjz"},
		{"１２３４５", "12345", "12345"},
		{"（京津冀）", "(京津冀)", ""},
		{"ａ｜ｂ", "a b", "ab"},
		{"５０％", "50%", ""},

		// The ideographic space is a space.
		{"ｈｕｎ\u3000ｙｕ", "hun yu", "hunyu"},
		{"work\u3000permit", "work permit", "workpermit"},

		// White space next to a Han character goes. Between Latin words it
		// stays, because English names are indexed with their spaces.
		{"婚 育", "婚育", ""},
		{"进 京 证", "进京证", ""},
		{"婚\u3000育", "婚育", ""},
		{" 进京证 ", "进京证", ""},
		{"婚育 一件事", "婚育一件事", ""},
		{"work  permit", "work permit", "workpermit"},
		{"Beijing entry", "beijing entry", "beijingentry"},

		// Mixed Chinese and Latin input.
		{"ETC 办理", "etc办理", ""},
		{"ＥＴＣ\u3000办理", "etc办理", ""},
		{"１２３４５ 热线", "12345热线", ""},
		{"e 窗通", "e窗通", ""},
		{"hun 育", "hun育", ""},
		{"进京证 jjz", "进京证jjz", ""},
		{"beijing 进京证 permit", "beijing进京证permit", ""},

		// Nothing searchable: punctuation, symbols and spaces only.
		{"|", "", ""},
		{"｜", "", ""},
		{"%", "", ""},
		{"_", "", ""},
		{"（）", "", ""},
		{"   ", "", ""},
		{"\u3000", "", ""},
		{"| ｜ ，。", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		got := parseSearchQuery(tt.in)
		if got.Text != tt.text || got.Compact != tt.compact {
			t.Errorf("parseSearchQuery(%q) = %+v, want text %q compact %q", tt.in, got, tt.text, tt.compact)
		}
	}
}

// TestSearchDocNormalised checks that the index normalises terms as
// parseSearchQuery normalises queries, so that a query typed with
// full-width characters or spaces finds the term it spells.
func TestSearchDocNormalised(t *testing.T) {
	doc := buildSearchDoc(&serviceRow{
		Name:     Text{ZH: "ＥＴＣ 办理", EN: "ETC  Application"},
		Keywords: []string{"１２３４５ 热线", "高速\u3000通行", "新生儿入户（出生登记）"},
	})
	if doc.Name != "etc办理" || doc.NameEN != "etc application" {
		t.Errorf("names = %q, %q; want etc办理, etc application", doc.Name, doc.NameEN)
	}
	if doc.NamePinyin != "etcbanli" || doc.NameInitials != "ebl" {
		t.Errorf("name forms = %q, %q; want etcbanli, ebl", doc.NamePinyin, doc.NameInitials)
	}
	for _, want := range []string{"|etc办理|", "|etc application|", "|12345热线|", "|高速通行|", "|新生儿入户(出生登记)|"} {
		if !strings.Contains(doc.Terms, want) {
			t.Errorf("terms lack %s: %s", want, doc.Terms)
		}
	}
	for _, want := range []string{"|12345rexian|", "|gaosutongxing|", "|~chushengdengji|"} {
		if !strings.Contains(doc.Pinyin, want) {
			t.Errorf("pinyin values lack %s: %s", want, doc.Pinyin)
		}
	}
	for _, q := range []string{"ETC 办理", "ｅｔｃ办理", "12345 热线", "１２３４５热线", "高速 通行", "高 速 通 行",
		"入户(出生登记)", "入户（出生登记）", "etc application", "ＥＴＣ\u3000Ａｐｐｌｉｃａｔｉｏｎ"} {
		if sq := parseSearchQuery(q); sq.Text == "" || !strings.Contains(doc.Terms, sq.Text) {
			t.Errorf("query %q normalises to %q, which no term contains: %s", q, sq.Text, doc.Terms)
		}
	}
}

// FuzzNormalizeTerm checks normalizeTerm, which terms and queries share.
// Its result must not change in a second pass or be longer than its input.
// It must have no full-width ASCII, ideographic space, separator, or space
// at the ends or next to a Han character. A query must match the term it
// was typed from, and the handler must accept exactly the queries within
// the limits that have a letter or digit.
func FuzzNormalizeTerm(f *testing.F) {
	for _, seed := range []string{"hunyu", "ｈｕｎｙｕ", "婚 育", "进 京 证", "婚\u3000育", "ＨｕｎＹｕ", "１２３４５",
		"|", "｜", "（）", " ", "\u3000", "work  permit", "ETC 办理", "e 窗通", "新生儿入户（出生登记）", "ｶﾀｶﾅ",
		"\u00a0婚\u2003育\u00a0", "İ", "\xff", "婚\x00育"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := normalizeTerm(s)
		if again := normalizeTerm(n); again != n {
			t.Fatalf("normalizeTerm(%q) = %q, and again %q", s, n, again)
		}
		if strings.Contains(n, termSeparator) {
			t.Fatalf("normalizeTerm(%q) = %q keeps the separator", s, n)
		}
		if n != strings.Join(strings.Fields(n), " ") {
			t.Fatalf("normalizeTerm(%q) = %q has spaces at the ends or in a run", s, n)
		}
		prev := rune(-1)
		for _, r := range n {
			if (r >= 0xFF01 && r <= 0xFF5E) || r == 0x3000 {
				t.Fatalf("normalizeTerm(%q) = %q keeps the full-width %U", s, n, r)
			}
			if unicode.IsSpace(r) && r != ' ' {
				t.Fatalf("normalizeTerm(%q) = %q keeps the white space %U", s, n, r)
			}
			if (r == ' ' && isHan(prev)) || (prev == ' ' && isHan(r)) {
				t.Fatalf("normalizeTerm(%q) = %q keeps a space next to a Han character", s, n)
			}
			prev = r
		}
		if utf8.ValidString(s) && utf8.RuneCountInString(n) > utf8.RuneCountInString(s) {
			t.Fatalf("normalizeTerm(%q) = %q is longer than its input", s, n)
		}

		sq := parseSearchQuery(s)
		if sq.Text != "" && sq.Text != n {
			t.Fatalf("parseSearchQuery(%q).Text = %q, want %q as normalizeTerm gives", s, sq.Text, n)
		}
		if (sq.Text != "") != searchable(n) {
			t.Fatalf("parseSearchQuery(%q).Text = %q, want it empty exactly when %q has no letter or digit", s, sq.Text, n)
		}
		if sq.Text != "" && !strings.Contains(buildTermForms([]string{s}).Terms, termSeparator+sq.Text+termSeparator) {
			t.Fatalf("the query %q does not match the term it was typed from", s)
		}

		var c checker
		c.searchText("q", s)
		valid := s != "" && utf8.ValidString(s) && !strings.ContainsRune(s, 0) &&
			utf8.RuneCountInString(s) <= maxQueryRunes && sq.Text != ""
		if valid != (len(c.details) == 0) {
			t.Fatalf("searchText(%q) reports %+v, want valid = %v", s, c.details, valid)
		}
		if len(c.details) > 1 {
			t.Fatalf("searchText(%q) reports %d details, want at most 1: %+v", s, len(c.details), c.details)
		}
	})
}

// searchIDs returns the ids of the services SearchServices finds for q.
func searchIDs(t testing.TB, s *Store, q string, f SearchFilter) []string {
	t.Helper()
	list, total, err := s.SearchServices(context.Background(), q, f, Paging{Number: 1, Size: 100})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	if total != len(list) {
		t.Fatalf("search %q: total %d, got %d results on one page of 100", q, total, len(list))
	}
	ids := make([]string, len(list))
	for i, v := range list {
		ids[i] = v.ID
	}
	return ids
}

func TestSearchServices(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if _, err := Seed(ctx, db); err != nil {
			t.Fatalf("seed: %v", err)
		}
		s := newTestStore(t, db)

		// Every seeded service of the 婚育 zone must be found by the zone's
		// name in Chinese, full pinyin and initials.
		marriage, err := s.ZoneServices(ctx, "life-marriage", "", true)
		if err != nil || len(marriage) == 0 {
			t.Fatalf("services of life-marriage: %d (%v)", len(marriage), err)
		}
		for _, q := range []string{"婚育", "hunyu", "HunYu", "hun yu", "hy"} {
			ids := searchIDs(t, s, q, SearchFilter{})
			for _, v := range marriage {
				if !slices.Contains(ids, v.ID) {
					t.Errorf("search %q misses %s of the 婚育 zone; got %v", q, v.ID, ids)
				}
			}
		}

		for _, q := range []string{"jjz", "进京证", "jinjingzheng", "Beijing entry"} {
			ids := searchIDs(t, s, q, SearchFilter{})
			if len(ids) == 0 || ids[0] != "beijing-entry-permit" {
				t.Errorf("search %q = %v, want beijing-entry-permit first", q, ids)
			}
		}

		for _, q := range []string{"%", "_", `\`, "婚%", "%育", "h_y", `婚\`, "x' OR '1'='1", "zzzzqqq"} {
			if ids := searchIDs(t, s, q, SearchFilter{}); len(ids) != 0 {
				t.Errorf("search %q = %v, want nothing: LIKE wildcards in the query must be literal", q, ids)
			}
		}

		ids := searchIDs(t, s, "hy", SearchFilter{Zone: "cross-province"})
		for _, id := range ids {
			v, _ := s.GetService(ctx, id, true)
			if !slices.Contains(v.Zones, "cross-province") {
				t.Errorf("search hy in cross-province returned %s of zones %v", id, v.Zones)
			}
		}
	})
}

// searchBefore is what the seeded catalogue returned, in order, for
// queries that normalisation must not change, recorded before search folded
// widths and dropped the spaces next to Han characters. The order of "hy"
// changed later, when pinyin matches inside a term began to rank last.
var searchBefore = map[string][]string{
	"hunyu":  marriageZoneHits,
	"HunYu":  marriageZoneHits,
	"hun yu": marriageZoneHits,
	"婚育":     marriageZoneHits,
	// Services that match only inside a term, such as bank-account-booking
	// at 开户预约, rank after those that match at the start of a term.
	"hy": {"marriage-record-query", "marriage-registration-cross-province",
		"birth-medical-certificate", "childcare-subsidy-application", "divorce-registration-booking",
		"marriage-registration-booking", "maternal-child-health-handbook", "maternity-allowance-claim",
		"newborn-household-registration", "newborn-medical-insurance",
		"bank-account-booking", "funeral-service-booking", "joint-completion-acceptance"},
	"jjz": {"beijing-entry-permit", "kindergarten-enrollment", "provident-fund-account-query",
		"provident-fund-deposit-certificate", "provident-fund-inheritance", "provident-fund-mutual-loan",
		"provident-fund-transfer", "survivor-benefit-claim"},
	"进京证":           {"beijing-entry-permit"},
	"jinjingzheng":  {"beijing-entry-permit"},
	"Beijing entry": {"beijing-entry-permit"},
	"work permit":   {"foreigner-work-permit"},
	"work": {"work-injury-recognition", "foreigner-work-permit", "flexible-employment-insurance",
		"flexible-employment-medical"},
	"Marriage registration": {"marriage-record-query", "marriage-registration-booking",
		"marriage-registration-cross-province"},
	"yinhang":     {"bank-account-booking"},
	"12345":       {"citizen-hotline-12345", "citizen-hotline-foreign-language"},
	"e窗通":         {"business-startup-online"},
	"新生儿入户（出生登记）": {"newborn-household-registration"},
}

// marriageZoneHits is what searchBefore lists for 婚育 and its pinyin: the
// services of the 婚育 zone, which match by the zone's name.
var marriageZoneHits = []string{"birth-medical-certificate", "childcare-subsidy-application",
	"divorce-registration-booking", "marriage-record-query", "marriage-registration-booking",
	"maternal-child-health-handbook", "maternity-allowance-claim", "newborn-household-registration",
	"newborn-medical-insurance"}

// TestSearchNormalisedQueries checks, on the seeded catalogue, that a query
// typed with full-width characters, the ideographic space or spaces between
// Chinese characters finds what its plain form finds, and that the queries
// of searchBefore still find what they found before normalisation.
func TestSearchNormalisedQueries(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if _, err := Seed(ctx, db); err != nil {
			t.Fatalf("seed: %v", err)
		}
		s := newTestStore(t, db)

		for _, q := range slices.Sorted(maps.Keys(searchBefore)) {
			if got := searchIDs(t, s, q, SearchFilter{}); !slices.Equal(got, searchBefore[q]) {
				t.Errorf("search %q = %v, want %v as before", q, got, searchBefore[q])
			}
		}

		for _, tt := range []struct{ q, like string }{
			// Full-width letters and spaces between Chinese characters.
			{"hunyu", "hunyu"},
			{"ｈｕｎｙｕ", "hunyu"},
			{"婚育", "婚育"},
			{"婚 育", "婚育"},
			{"进 京 证", "进京证"},
			// Case and spaces in pinyin, as before.
			{"HunYu", "hunyu"},
			{"hun yu", "hunyu"},
			{"ＨｕｎＹｕ", "hunyu"},
			{"ＨＹ", "hy"},
			{"ｊｊｚ", "jjz"},
			// Full-width digits.
			{"１２３４５", "12345"},
			// The ideographic space.
			{"婚\u3000育", "婚育"},
			{"ｈｕｎ\u3000ｙｕ", "hunyu"},
			{"\u3000进京证\u3000", "进京证"},
			{"work\u3000permit", "work permit"},
			{"ｗｏｒｋ\u3000ｐｅｒｍｉｔ", "work permit"},
			// English names keep their spaces.
			{"Beijing  entry", "Beijing entry"},
			{" Marriage registration ", "Marriage registration"},
			// Mixed Chinese and Latin input, with and without spaces and
			// full-width characters.
			{"e 窗通", "e窗通"},
			{"Ｅ窗通", "e窗通"},
			{"企业开办(e窗通)", "e窗通"},
			{"新生儿入户(出生登记)", "新生儿入户（出生登记）"},
			{"新生儿入户 （出生登记）", "新生儿入户（出生登记）"},
		} {
			want := searchBefore[tt.like]
			if want == nil {
				t.Fatalf("no recorded results for %q", tt.like)
			}
			if got := searchIDs(t, s, tt.q, SearchFilter{}); !slices.Equal(got, want) {
				t.Errorf("search %q = %v, want %v as for %q", tt.q, got, want, tt.like)
			}
		}

		// A query that had no match because of its spaces finds the name it
		// spells now.
		for _, tt := range []struct{ q, want string }{
			{"12345 市民", "citizen-hotline-12345"},
			{"１２３４５\u3000市民服务热线", "citizen-hotline-12345"},
			{"机动车 进京 通行证", "beijing-entry-permit"},
		} {
			if got := searchIDs(t, s, tt.q, SearchFilter{}); len(got) == 0 || got[0] != tt.want {
				t.Errorf("search %q = %v, want %s first", tt.q, got, tt.want)
			}
		}

		// A query with nothing searchable matches nothing, however many
		// terms contain its punctuation.
		for _, q := range []string{"|", "｜", " ", "\u3000", "（", "(", "（）", "%", "_", "-"} {
			if got := searchIDs(t, s, q, SearchFilter{}); len(got) != 0 {
				t.Errorf("search %q = %v, want nothing", q, got)
			}
		}
	})
}

func TestSearchRankingAndFilters(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		if _, err := s.CreateZone(ctx, "alice", testZone("zone-a")); err != nil {
			t.Fatalf("create zone: %v", err)
		}
		services := []Service{
			{ID: "contains", Name: Text{ZH: "办理婚育登记"}},
			{ID: "prefix", Name: Text{ZH: "婚育补贴"}},
			{ID: "exact", Name: Text{ZH: "婚育"}},
			{ID: "wechat-only", Name: Text{ZH: "婚育微信"}, Channels: []Channel{ChannelWeChat}},
			{ID: "draft", Name: Text{ZH: "婚育草稿"}},
		}
		for _, v := range services {
			v.Type, v.URL, v.Zones = ServiceH5, "/h5/"+v.ID, []string{"zone-a"}
			created, err := s.CreateService(ctx, "alice", v)
			if err != nil {
				t.Fatalf("create %s: %v", v.ID, err)
			}
			if v.ID == "draft" {
				continue
			}
			if _, err := s.SetServiceStatus(ctx, "alice", v.ID, created.Version, true); err != nil {
				t.Fatalf("publish %s: %v", v.ID, err)
			}
		}

		for _, q := range []string{"婚育", "hunyu", "hy"} {
			ids := searchIDs(t, s, q, SearchFilter{})
			if want := []string{"exact", "prefix", "wechat-only", "contains"}; !slices.Equal(ids, want) {
				t.Errorf("search %q = %v, want %v: exact, then prefixes by id, then the rest", q, ids, want)
			}
		}
		if ids := searchIDs(t, s, "hy", SearchFilter{Channel: ChannelAlipay}); slices.Contains(ids, "wechat-only") {
			t.Errorf("search on alipay = %v, want no wechat-only service", ids)
		}
		if ids := searchIDs(t, s, "hy", SearchFilter{Channel: ChannelWeChat}); !slices.Contains(ids, "wechat-only") {
			t.Errorf("search on wechat = %v, want the wechat-only service", ids)
		}

		// Renaming the zone refreshes the search terms of its services. Only
		// a published zone's name is a term, and only on its channels.
		setZoneStatus(t, s, "zone-a", true)
		z, _ := s.GetZone(ctx, "zone-a", false)
		z.Name = Text{ZH: "公积金"}
		if _, err := s.UpdateZone(ctx, "alice", z); err != nil {
			t.Fatalf("rename zone: %v", err)
		}
		if ids := searchIDs(t, s, "gjj", SearchFilter{}); len(ids) != 4 {
			t.Errorf("search gjj after renaming the zone = %v, want its 4 published services", ids)
		}
		if ids := searchIDs(t, s, "gjj", SearchFilter{Channel: ChannelAlipay}); len(ids) != 0 {
			t.Errorf("search gjj on alipay = %v, want nothing: zone-a is shown on wechat only", ids)
		}
	})
}

func TestRefreshSearchIndex(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if _, err := Seed(ctx, db); err != nil {
			t.Fatalf("seed: %v", err)
		}
		s := newTestStore(t, db)
		want := searchIDs(t, s, "jjz", SearchFilter{})

		if _, err := db.NewDelete().Model((*searchRow)(nil)).Where("1 = 1").Exec(ctx); err != nil {
			t.Fatalf("clear index: %v", err)
		}
		if ids := searchIDs(t, s, "jjz", SearchFilter{}); len(ids) != 0 {
			t.Fatalf("search without an index = %v, want nothing", ids)
		}

		if err := s.RefreshSearchIndex(ctx); err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if got := searchIDs(t, s, "jjz", SearchFilter{}); !slices.Equal(got, want) {
			t.Fatalf("search after refresh = %v, want %v", got, want)
		}
		if n, m := countRows(t, db, "zone_service_search"), countRows(t, db, "zone_services"); n != m {
			t.Fatalf("index has %d rows for %d services", n, m)
		}
		if n, m := countRows(t, db, "zone_name_search"), countRows(t, db, "zones"); n != m {
			t.Fatalf("index has %d rows for %d zones", n, m)
		}
	})
}

func TestReadingCombos(t *testing.T) {
	combos := readingCombos(readingSlots("银行开户"), maxReadings)
	if got := strings.Join(combos[0], " "); got != "yin hang kai hu" {
		t.Errorf("preferred reading of 银行开户 = %q, want the phrase reading yin hang kai hu", got)
	}
	var all []string
	for _, c := range combos {
		all = append(all, strings.Join(c, " "))
	}
	if !slices.Contains(all, "yin xing kai hu") {
		t.Errorf("readings of 银行开户 = %v, want yin xing kai hu among them", all)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(all)))) != len(all) {
		t.Errorf("readings of 银行开户 repeat: %v", all)
	}

	// 育 reads yu, zhou or yo; only its first two readings are used.
	for _, c := range readingCombos(readingSlots("婚育"), maxReadings) {
		if c[1] == "yo" {
			t.Errorf("readings of 婚育 include the rare yo: %v", c)
		}
	}

	long := strings.Repeat("行长", 20)
	combos = readingCombos(readingSlots(long), maxReadings)
	if len(combos) != maxReadings {
		t.Errorf("readings of a 40-character name = %d, want the cap %d", len(combos), maxReadings)
	}
	for i := 1; i < len(combos); i++ {
		if changed := countChanged(combos[0], combos[i]); changed != 1 {
			t.Errorf("reading %d changes %d characters, want 1: one-character changes come first", i, changed)
		}
	}
}

func countChanged(a, b []string) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func TestSearchDocPolyphonic(t *testing.T) {
	doc := buildSearchDoc(&serviceRow{Name: Text{ZH: "银行开户预约"}, Keywords: []string{"志愿时长"}})
	if doc.NamePinyin != "yinhangkaihuyuyue" || doc.NameInitials != "yhkhyy" {
		t.Errorf("name forms = %q, %q; want yinhangkaihuyuyue, yhkhyy", doc.NamePinyin, doc.NameInitials)
	}
	for _, want := range []string{"|yinhangkaihuyuyue|", "|yinxingkaihuyuyue|", "|zhiyuanshichang|", "|~shichang|"} {
		if !strings.Contains(doc.Pinyin, want) {
			t.Errorf("pinyin values lack %s: %s", want, doc.Pinyin)
		}
	}
	for _, want := range []string{"|yhkhyy|", "|yxkhyy|", "|~sc|"} {
		if !strings.Contains(doc.Initials, want) {
			t.Errorf("initials values lack %s: %s", want, doc.Initials)
		}
	}
}

// searchZones returns the zones list of each service SearchServices finds
// for q.
func searchZones(t testing.TB, s *Store, q string, f SearchFilter) map[string][]string {
	t.Helper()
	list, _, err := s.SearchServices(context.Background(), q, f, Paging{Number: 1, Size: 100})
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	out := make(map[string][]string, len(list))
	for _, v := range list {
		out[v.ID] = v.Zones
	}
	return out
}

// setZoneStatus publishes or unpublishes the zone id at its current
// version.
func setZoneStatus(t testing.TB, s *Store, id string, publish bool) {
	t.Helper()
	ctx := context.Background()
	z, err := s.GetZone(ctx, id, false)
	if err != nil {
		t.Fatalf("get zone %s: %v", id, err)
	}
	if _, err := s.SetZoneStatus(ctx, "alice", id, z.Version, publish); err != nil {
		t.Fatalf("set status of zone %s to published=%v: %v", id, publish, err)
	}
}

// createPublished creates v and publishes it.
func createPublished(t testing.TB, s *Store, v Service) {
	t.Helper()
	ctx := context.Background()
	v.Type, v.URL = ServiceH5, "/h5/"+v.ID
	created, err := s.CreateService(ctx, "alice", v)
	if err != nil {
		t.Fatalf("create service %s: %v", v.ID, err)
	}
	if _, err := s.SetServiceStatus(ctx, "alice", v.ID, created.Version, true); err != nil {
		t.Fatalf("publish service %s: %v", v.ID, err)
	}
}

// TestSearchIgnoresUnpublishedZones checks that the name of a zone that is
// not published never makes a service match. The zone filter must treat
// such a zone like an unknown one, and hits must list published zones
// only. Search must follow the zone through publish, rename, unpublish,
// detach, delete and an index rebuild.
func TestSearchIgnoresUnpublishedZones(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		for _, z := range []Zone{
			{ID: "zone-open", Kind: KindLife, Order: 1, Name: Text{ZH: "婚育", EN: "Marriage"}},
			{ID: "draft-secret", Kind: KindLife, Order: 2, Name: Text{ZH: "秘密筹备专区", EN: "Secret plans"}},
		} {
			if _, err := s.CreateZone(ctx, "alice", z); err != nil {
				t.Fatalf("create zone %s: %v", z.ID, err)
			}
		}
		setZoneStatus(t, s, "zone-open", true)
		createPublished(t, s, Service{ID: "wedding", Name: Text{ZH: "结婚登记预约", EN: "Marriage registration"},
			Zones: []string{"zone-open"}})

		// Attach one service to the draft zone when creating the service, and
		// another through the zone's service list.
		createPublished(t, s, Service{ID: "birth", Name: Text{ZH: "出生医学证明", EN: "Birth certificate"},
			Zones: []string{"draft-secret"}})
		draft, _ := s.GetZone(ctx, "draft-secret", false)
		if _, err := s.SetZoneServices(ctx, "alice", "draft-secret", draft.Version, []string{"birth", "wedding"}); err != nil {
			t.Fatalf("attach to the draft zone: %v", err)
		}
		both := []string{"birth", "wedding"}

		draftNames := []string{"秘密筹备", "秘密筹备专区", "筹备", "mmcb", "mmcbzq", "cbzq", "mimichoubei", "choubei", "secret", "Secret plans"}
		expectNoMatch := func(when string, names []string) {
			t.Helper()
			for _, q := range names {
				if ids := searchIDs(t, s, q, SearchFilter{}); len(ids) != 0 {
					t.Errorf("%s: search %q = %v, want nothing: the zone's name is not public", when, q, ids)
				}
			}
		}
		expectHidden := func(when string, names []string) {
			t.Helper()
			expectNoMatch(when, names)
			unknown := searchIDs(t, s, "结婚", SearchFilter{Zone: "no-such-zone"})
			if ids := searchIDs(t, s, "结婚", SearchFilter{Zone: "draft-secret"}); len(ids) != 0 || len(unknown) != 0 {
				t.Errorf("%s: search 结婚 in draft-secret = %v and in no-such-zone = %v, want nothing for both", when, ids, unknown)
			}
			for _, f := range []SearchFilter{{}, {Channel: ChannelWeChat}, {Zone: "zone-open"}} {
				if got := searchZones(t, s, "结婚", f); !slices.Equal(got["wedding"], []string{"zone-open"}) {
					t.Errorf("%s: zones of wedding in search 结婚 with %+v = %v, want [zone-open]", when, f, got)
				}
			}
			if got, ok := searchZones(t, s, "出生", SearchFilter{})["birth"]; !ok || len(got) != 0 {
				t.Errorf("%s: search 出生 gives birth %v with zones %v, want it with no zones", when, ok, got)
			}
		}
		expectShown := func(when string, names []string) {
			t.Helper()
			for _, q := range names {
				if ids := searchIDs(t, s, q, SearchFilter{}); !slices.Equal(ids, both) {
					t.Errorf("%s: search %q = %v, want %v", when, q, ids, both)
				}
			}
			if ids := searchIDs(t, s, "结婚", SearchFilter{Zone: "draft-secret"}); !slices.Equal(ids, []string{"wedding"}) {
				t.Errorf("%s: search 结婚 in draft-secret = %v, want [wedding]", when, ids)
			}
			if got := searchZones(t, s, "结婚", SearchFilter{}); !slices.Equal(got["wedding"], []string{"zone-open", "draft-secret"}) {
				t.Errorf("%s: zones of wedding = %v, want [zone-open draft-secret]", when, got)
			}
			if got := searchZones(t, s, "出生", SearchFilter{}); !slices.Equal(got["birth"], []string{"draft-secret"}) {
				t.Errorf("%s: zones of birth = %v, want [draft-secret]", when, got)
			}
		}

		expectHidden("draft", draftNames)
		setZoneStatus(t, s, "draft-secret", true)
		expectShown("published", draftNames)
		setZoneStatus(t, s, "draft-secret", false)
		expectHidden("unpublished", draftNames)

		// Renaming an unpublished zone keeps both names hidden. Publishing it
		// shows the new name only.
		z, _ := s.GetZone(ctx, "draft-secret", false)
		z.Name = Text{ZH: "新生儿专区", EN: "Newborns"}
		if _, err := s.UpdateZone(ctx, "alice", z); err != nil {
			t.Fatalf("rename zone: %v", err)
		}
		newNames := []string{"新生儿", "xse", "xinshenger", "newborn"}
		expectHidden("renamed while unpublished", append(slices.Clone(draftNames), newNames...))
		setZoneStatus(t, s, "draft-secret", true)
		expectShown("renamed and published", newNames)
		expectNoMatch("renamed and published, old names", draftNames)

		// Detaching the service removes the zone's name from its terms.
		z, _ = s.GetZone(ctx, "draft-secret", false)
		if _, err := s.SetZoneServices(ctx, "alice", "draft-secret", z.Version, nil); err != nil {
			t.Fatalf("detach: %v", err)
		}
		expectNoMatch("detached", newNames)

		// An unpublished zone can be deleted, and its name stays out of
		// search.
		z, _ = s.GetZone(ctx, "draft-secret", false)
		if _, err := s.SetZoneServices(ctx, "alice", "draft-secret", z.Version, []string{"wedding"}); err != nil {
			t.Fatalf("attach again: %v", err)
		}
		setZoneStatus(t, s, "draft-secret", false)
		z, _ = s.GetZone(ctx, "draft-secret", false)
		if err := s.DeleteZone(ctx, "alice", "draft-secret", z.Version); err != nil {
			t.Fatalf("delete zone: %v", err)
		}
		expectHidden("deleted", newNames)
		if found, err := db.NewSelect().Model((*zoneSearchRow)(nil)).Where("zone_id = ?", "draft-secret").Exists(ctx); err != nil || found {
			t.Errorf("search row of the deleted zone: found %v (%v), want it gone", found, err)
		}

		// A rebuild of the index keeps unpublished zones out as well.
		if _, err := s.CreateZone(ctx, "alice", Zone{ID: "draft-two", Kind: KindLife, Name: Text{ZH: "秘密筹备专区"}}); err != nil {
			t.Fatalf("create zone: %v", err)
		}
		z, _ = s.GetZone(ctx, "draft-two", false)
		if _, err := s.SetZoneServices(ctx, "alice", "draft-two", z.Version, []string{"wedding"}); err != nil {
			t.Fatalf("attach to draft-two: %v", err)
		}
		if err := s.RefreshSearchIndex(ctx); err != nil {
			t.Fatalf("refresh: %v", err)
		}
		expectHidden("rebuilt", draftNames)
		if ids := searchIDs(t, s, "hy", SearchFilter{}); !slices.Equal(ids, []string{"wedding"}) {
			t.Errorf("search hy after the rebuild = %v, want [wedding] through the published zone 婚育", ids)
		}
	})
}

// TestSearchZoneChannels checks that a zone that is not shown on the
// requested channel is left out of hits, of name matches and of the zone
// filter, as the zone routes leave it out.
func TestSearchZoneChannels(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		for _, z := range []Zone{
			{ID: "wx-zone", Kind: KindLife, Order: 1, Name: Text{ZH: "微信专享", EN: "WeChat corner"}, Channels: []Channel{ChannelWeChat}},
			{ID: "all-zone", Kind: KindLife, Order: 2, Name: Text{ZH: "全民服务", EN: "For everyone"}},
		} {
			if _, err := s.CreateZone(ctx, "alice", z); err != nil {
				t.Fatalf("create zone %s: %v", z.ID, err)
			}
			setZoneStatus(t, s, z.ID, true)
		}
		createPublished(t, s, Service{ID: "permit", Name: Text{ZH: "工作许可", EN: "Work permit"},
			Zones: []string{"all-zone", "wx-zone"}})

		for _, tt := range []struct {
			ch   Channel
			want []string
		}{
			{"", []string{"wx-zone", "all-zone"}},
			{ChannelWeChat, []string{"wx-zone", "all-zone"}},
			{ChannelBaidu, []string{"all-zone"}},
			{ChannelAlipay, []string{"all-zone"}},
		} {
			got := searchZones(t, s, "work", SearchFilter{Channel: tt.ch})
			if !slices.Equal(got["permit"], tt.want) {
				t.Errorf("zones of permit in search work on %q = %v, want %v", tt.ch, got, tt.want)
			}
		}

		for _, tt := range []struct {
			f    SearchFilter
			want []string
		}{
			{SearchFilter{Zone: "wx-zone"}, []string{"permit"}},
			{SearchFilter{Zone: "wx-zone", Channel: ChannelWeChat}, []string{"permit"}},
			{SearchFilter{Zone: "wx-zone", Channel: ChannelBaidu}, nil},
			{SearchFilter{Zone: "all-zone", Channel: ChannelBaidu}, []string{"permit"}},
		} {
			if ids := searchIDs(t, s, "work", tt.f); !slices.Equal(ids, tt.want) {
				t.Errorf("search work with %+v = %v, want %v", tt.f, ids, tt.want)
			}
		}

		for _, q := range []string{"微信专享", "wxzx", "weixin", "wechat corner"} {
			if ids := searchIDs(t, s, q, SearchFilter{}); !slices.Equal(ids, []string{"permit"}) {
				t.Errorf("search %q = %v, want [permit]", q, ids)
			}
			if ids := searchIDs(t, s, q, SearchFilter{Channel: ChannelWeChat}); !slices.Equal(ids, []string{"permit"}) {
				t.Errorf("search %q on wechat = %v, want [permit]", q, ids)
			}
			if ids := searchIDs(t, s, q, SearchFilter{Channel: ChannelBaidu}); len(ids) != 0 {
				t.Errorf("search %q on baidu = %v, want nothing: the zone is not shown there", q, ids)
			}
		}
		if ids := searchIDs(t, s, "qmfw", SearchFilter{Channel: ChannelBaidu}); !slices.Equal(ids, []string{"permit"}) {
			t.Errorf("search qmfw on baidu = %v, want [permit] through the zone on every channel", ids)
		}
	})
}

// TestSearchZoneNameRank checks that a query that starts a zone name ranks
// with term prefixes, ahead of matches inside a term.
func TestSearchZoneNameRank(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		s := newTestStore(t, db)
		if _, err := s.CreateZone(ctx, "alice", Zone{ID: "zone-gjj", Kind: KindLife, Name: Text{ZH: "公积金"}}); err != nil {
			t.Fatalf("create zone: %v", err)
		}
		setZoneStatus(t, s, "zone-gjj", true)
		// "a-inside" sorts first by id, but 公积金 occurs only inside its name.
		createPublished(t, s, Service{ID: "a-inside", Name: Text{ZH: "提取公积金"}})
		createPublished(t, s, Service{ID: "b-zone", Name: Text{ZH: "账户查询"}, Zones: []string{"zone-gjj"}})
		if ids := searchIDs(t, s, "公积金", SearchFilter{}); !slices.Equal(ids, []string{"b-zone", "a-inside"}) {
			t.Errorf("search 公积金 = %v, want [b-zone a-inside]: a zone name prefix ranks with term prefixes", ids)
		}
	})
}

// TestSearchRankSameForPinyin checks that a pinyin query ranks its matches
// as the Chinese query it spells does: a match inside a term, such as
// 社保 in 自由职业社保, ranks after matches at the start of a term.
func TestSearchRankSameForPinyin(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		if _, err := Seed(ctx, db); err != nil {
			t.Fatalf("seed: %v", err)
		}
		s := newTestStore(t, db)

		chinese := searchIDs(t, s, "社保", SearchFilter{})
		pinyin := searchIDs(t, s, "shebao", SearchFilter{})
		if !slices.Equal(pinyin, chinese) {
			t.Errorf("search shebao = %v, want the order of 社保: %v", pinyin, chinese)
		}
		if len(chinese) == 0 || chinese[len(chinese)-1] != "flexible-employment-insurance" {
			t.Errorf("search 社保 = %v, want flexible-employment-insurance, a match inside a keyword, last", chinese)
		}
	})
}

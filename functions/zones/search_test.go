package zones

import (
	"context"
	"slices"
	"strings"
	"testing"

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
	}
	for _, tt := range tests {
		got := parseSearchQuery(tt.in)
		if got.Text != tt.text || got.Compact != tt.compact {
			t.Errorf("parseSearchQuery(%q) = %+v, want text %q compact %q", tt.in, got, tt.text, tt.compact)
		}
	}
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

		for _, q := range []string{"%", "_", `\`, "x' OR '1'='1", "zzzzqqq"} {
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

		// Renaming the zone refreshes the search rows of its services.
		z, _ := s.GetZone(ctx, "zone-a", false)
		z.Name = Text{ZH: "公积金"}
		if _, err := s.UpdateZone(ctx, "alice", z); err != nil {
			t.Fatalf("rename zone: %v", err)
		}
		if ids := searchIDs(t, s, "gjj", SearchFilter{}); len(ids) != 4 {
			t.Errorf("search gjj after renaming the zone = %v, want its 4 published services", ids)
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
	doc := buildSearchDoc(&serviceRow{Name: Text{ZH: "银行开户预约"}, Keywords: []string{"志愿时长"}}, nil)
	if doc.NamePinyin != "yinhangkaihuyuyue" || doc.NameInitials != "yhkhyy" {
		t.Errorf("name forms = %q, %q; want yinhangkaihuyuyue, yhkhyy", doc.NamePinyin, doc.NameInitials)
	}
	for _, want := range []string{"|yinhangkaihuyuyue|", "|yinxingkaihuyuyue|", "|zhiyuanshichang|", "|shichang|"} {
		if !strings.Contains(doc.Pinyin, want) {
			t.Errorf("pinyin values lack %s: %s", want, doc.Pinyin)
		}
	}
	for _, want := range []string{"|yhkhyy|", "|yxkhyy|", "|sc|"} {
		if !strings.Contains(doc.Initials, want) {
			t.Errorf("initials values lack %s: %s", want, doc.Initials)
		}
	}
}

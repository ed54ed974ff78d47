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

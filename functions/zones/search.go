package zones

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mozillazg/go-pinyin"
	"golang.org/x/text/width"
)

// Search matching works on three forms of every term, computed when a
// service or a zone is written:
//
//   - the term itself, normalised by normalizeTerm (婚育一件事, marriage and
//     childbirth);
//   - its toneless pinyin without separators (hunyuyijianshi);
//   - its pinyin initials (hyyjs).
//
// The terms of a service are its Chinese and English names and its
// keywords, stored in zone_service_search. The names of the zones it is
// attached to are terms of the service too, but only while a citizen could
// open the zone. That is while the zone is published and, for a search on
// one channel, shown on that channel. So each zone's names are stored once,
// in zone_name_search, and a search joins them through the zone's links
// and checks the zone's status and channels when it runs. Publishing,
// unpublishing or attaching a service then changes no stored row.
//
// For the pinyin forms the index also stores every suffix that starts at a
// syllable boundary (yijianshi, jianshi, shi), so a prefix match on
// "|"-separated values finds a query that starts at any syllable: "jjz"
// finds 办理进京证. Each suffix is stored after suffixMarker, as in
// |yijianshi|~jianshi|~shi|, so that ranking can tell a match at the start
// of a term from one inside it, as it does for Chinese text.
//
// Many characters have several readings, and the right one depends on the
// word: 行 is xing in 出行 but hang in 银行. The index therefore stores the
// pinyin forms of up to maxReadings readings of each term. The preferred
// reading comes first: it reads the words in phraseReadings as listed and
// every other character by its most common reading. Then come readings
// that change one character to another of its first maxCharReadings
// readings, then those that change two characters, and so on.

// termSeparator separates the values in the terms, pinyin and initials
// columns. Normalisation removes it from terms and queries, so "|" + q
// matches only at the start of a value.
const termSeparator = "|"

// suffixMarker starts each stored pinyin or initials value that begins
// inside a term, at a later syllable. Pinyin values are ASCII letters, so
// the marker never starts a value that begins a term.
const suffixMarker = "~"

// Bounds of the readings indexed per term.
const (
	// maxReadings caps the readings of one term, so that a long name whose
	// characters all have several readings adds a bounded number of values.
	maxReadings = 16
	// maxCharReadings is how many readings of a character the index uses.
	// go-pinyin lists the most common reading first; the third and later
	// ones are rare, such as zhou for 育, and would mostly add false
	// matches.
	maxCharReadings = 2
)

// phraseReadings are the toneless readings of words in which a character
// is not read its most common way. go-pinyin v0.21.0 reads each character
// on its own and has no phrase dictionary, so this list supplies the
// preferred reading of words that service names and keywords use.
var phraseReadings = map[string][]string{
	"银行": {"yin", "hang"}, "行业": {"hang", "ye"},
	"时长": {"shi", "chang"}, "延长": {"yan", "chang"}, "长期": {"chang", "qi"}, "长城": {"chang", "cheng"}, "长安": {"chang", "an"},
	"首都": {"shou", "du"}, "成都": {"cheng", "du"}, "都市": {"du", "shi"},
	"还款": {"huan", "kuan"}, "返还": {"fan", "huan"}, "退还": {"tui", "huan"}, "归还": {"gui", "huan"}, "偿还": {"chang", "huan"},
	"重新": {"chong", "xin"}, "重复": {"chong", "fu"}, "重庆": {"chong", "qing"},
	"调整": {"tiao", "zheng"}, "调解": {"tiao", "jie"}, "空调": {"kong", "tiao"},
	"音乐": {"yin", "yue"}, "会计": {"kuai", "ji"}, "出差": {"chu", "chai"}, "差旅": {"chai", "lv"},
	"供给": {"gong", "ji"}, "便宜": {"pian", "yi"}, "校对": {"jiao", "dui"},
}

// maxPhraseRunes is the length of the longest key of phraseReadings.
const maxPhraseRunes = 2

// searchDoc is the search row of one service.
type searchDoc struct {
	Name         string
	NameEN       string
	NamePinyin   string
	NameInitials string
	termForms
}

// termForms is the plain, pinyin and initials forms of a list of terms,
// each a list of values that joinValues wrote.
type termForms struct {
	Terms    string
	Pinyin   string
	Initials string
}

// normalizeTerm returns the form of s that the index stores and that a
// query is matched in. Terms and queries both go through it, so they
// compare alike. It
//
//   - folds width variants with width.Fold, the width part of NFKC. So
//     full-width ASCII letters, digits and punctuation (U+FF01 to U+FF5E)
//     become ASCII, and the ideographic space U+3000 becomes a space;
//   - lowercases;
//   - turns the separator into a space;
//   - drops white space next to a Han character, because Chinese has no
//     spaces between words: 婚 育 becomes 婚育 and ETC 办理 becomes etc办理;
//   - collapses other runs of white space into one space, which keeps
//     English names such as "work permit" apart, and trims the ends.
//
// The result never has more runes than s, which FuzzNormalizeTerm checks.
func normalizeTerm(s string) string {
	s = strings.ToLower(width.Fold.String(s))
	s = strings.ReplaceAll(s, termSeparator, " ")
	fields := strings.Fields(s)
	var b strings.Builder
	b.Grow(len(s))
	for i, f := range fields {
		if i > 0 && !isHan(lastRune(fields[i-1])) && !isHan(firstRune(f)) {
			b.WriteByte(' ')
		}
		b.WriteString(f)
	}
	return b.String()
}

// isHan reports whether r is a Han character.
func isHan(r rune) bool {
	return unicode.Is(unicode.Han, r)
}

// firstRune returns the first rune of s, which must not be empty.
func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// lastRune returns the last rune of s, which must not be empty.
func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

// searchable reports whether s contains a letter, including a Han
// character, or a digit. A query without one is treated as empty.
func searchable(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			return true
		}
	}
	return false
}

// pinyinArgs selects every toneless reading of a character, most common
// first. The library drops characters it has no reading for. Fallback is
// left unset because readingSlots keeps letters and digits itself.
var pinyinArgs = pinyin.Args{Style: pinyin.Normal, Heteronym: true}

// readingSlots splits s into syllable slots, each listing its readings with
// the preferred one first. A Han character gets the reading phraseReadings
// gives it in a word, if any, then its first maxCharReadings readings. A
// run of ASCII letters and digits is one slot with one lowercase reading.
// Other characters separate slots.
func readingSlots(s string) [][]string {
	runes := []rune(s)
	var out [][]string
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			out = append(out, []string{word.String()})
			word.Reset()
		}
	}

	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			word.WriteRune(unicode.ToLower(r))
		case unicode.Is(unicode.Han, r):
			flush()
			if phrase := phraseAt(runes, i); phrase != nil {
				for j, reading := range phrase {
					out = append(out, preferReading(reading, charReadings(runes[i+j])))
				}
				i += len(phrase) - 1
				continue
			}
			if readings := charReadings(r); len(readings) > 0 {
				out = append(out, readings)
			}
		default:
			flush()
		}
	}
	flush()
	return out
}

// phraseAt returns the readings of the longest word of phraseReadings that
// starts at runes[i], or nil.
func phraseAt(runes []rune, i int) []string {
	for n := min(maxPhraseRunes, len(runes)-i); n >= 2; n-- {
		if readings, ok := phraseReadings[string(runes[i:i+n])]; ok {
			return readings
		}
	}
	return nil
}

// charReadings returns the first maxCharReadings readings of r.
func charReadings(r rune) []string {
	var out []string
	for _, py := range pinyin.SinglePinyin(r, pinyinArgs) {
		if py != "" && !slices.Contains(out, py) && len(out) < maxCharReadings {
			out = append(out, py)
		}
	}
	return out
}

// preferReading returns readings with first moved or added to the front.
func preferReading(first string, readings []string) []string {
	out := []string{first}
	for _, r := range readings {
		if r != first {
			out = append(out, r)
		}
	}
	return out
}

// syllables returns the preferred reading of s: the first reading of each
// slot of readingSlots.
func syllables(s string) []string {
	slots := readingSlots(s)
	if len(slots) == 0 {
		return nil
	}
	return readingCombos(slots, 1)[0]
}

// readingCombos returns up to limit readings of slots, one syllable per
// slot: the preferred reading first, then those that change one slot to
// another of its readings, then two slots, and so on, each group in slot
// order.
func readingCombos(slots [][]string, limit int) [][]string {
	base := make([]string, len(slots))
	var varying []int
	for i, slot := range slots {
		base[i] = slot[0]
		if len(slot) > 1 {
			varying = append(varying, i)
		}
	}
	out := [][]string{base}

	// choose picks the changed slots from varying[from:], k more to go, and
	// for each picked slot every reading other than its first.
	var choose func(combo []string, from, k int)
	choose = func(combo []string, from, k int) {
		if len(out) >= limit {
			return
		}
		if k == 0 {
			out = append(out, slices.Clone(combo))
			return
		}
		for vi := from; vi < len(varying); vi++ {
			pos := varying[vi]
			for _, alt := range slots[pos][1:] {
				combo[pos] = alt
				choose(combo, vi+1, k-1)
				combo[pos] = slots[pos][0]
			}
		}
	}
	for k := 1; k <= len(varying) && len(out) < limit; k++ {
		choose(slices.Clone(base), 0, k)
	}
	return out
}

// hasHan reports whether s contains a Han character.
func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// pinyinForms returns the full pinyin and the initials of the preferred
// reading of s, and every suffix of each that starts at a syllable boundary.
func pinyinForms(s string) (full, initials string, fullSuffixes, initialSuffixes []string) {
	return readingForms(syllables(s))
}

// readingForms returns the full pinyin and the initials of the syllables
// syl, and every suffix of each that starts at a syllable boundary.
func readingForms(syl []string) (full, initials string, fullSuffixes, initialSuffixes []string) {
	for i := range syl {
		fullSuffixes = append(fullSuffixes, strings.Join(syl[i:], ""))
		var b strings.Builder
		for _, x := range syl[i:] {
			b.WriteByte(x[0])
		}
		initialSuffixes = append(initialSuffixes, b.String())
	}
	if len(syl) > 0 {
		full, initials = fullSuffixes[0], initialSuffixes[0]
	}
	return full, initials, fullSuffixes, initialSuffixes
}

// buildSearchDoc computes the search row of a service from its names and
// keywords. The name's pinyin comes from its normalised form, as for every
// term, so full-width letters and digits read as ASCII ones.
func buildSearchDoc(r *serviceRow) searchDoc {
	doc := searchDoc{Name: normalizeTerm(r.Name.ZH), NameEN: normalizeTerm(r.Name.EN)}
	doc.NamePinyin, doc.NameInitials, _, _ = pinyinForms(doc.Name)
	doc.termForms = buildTermForms(append([]string{r.Name.ZH, r.Name.EN}, r.Keywords...))
	return doc
}

// buildZoneTerms computes the search terms of a zone from its names.
func buildZoneTerms(name Text) termForms {
	return buildTermForms([]string{name.ZH, name.EN})
}

// buildTermForms computes the plain, pinyin and initials values of terms.
func buildTermForms(terms []string) termForms {
	var plain, full, initials []string
	for _, t := range terms {
		t = normalizeTerm(t)
		if t == "" {
			continue
		}
		plain = append(plain, t)
		if !hasHan(t) {
			continue
		}
		for _, syl := range readingCombos(readingSlots(t), maxReadings) {
			_, _, f, i := readingForms(syl)
			full = append(full, markSuffixes(f)...)
			initials = append(initials, markSuffixes(i)...)
		}
	}
	return termForms{Terms: joinValues(plain), Pinyin: joinValues(full), Initials: joinValues(initials)}
}

// markSuffixes returns forms, the full form of a term followed by its
// suffixes, with suffixMarker before each suffix.
func markSuffixes(forms []string) []string {
	out := make([]string, len(forms))
	for i, f := range forms {
		if i > 0 {
			f = suffixMarker + f
		}
		out[i] = f
	}
	return out
}

// joinValues returns "|a|b|" for a and b, without duplicates, or "" for
// none.
func joinValues(values []string) string {
	if len(values) == 0 {
		return ""
	}
	seen := make(map[string]bool, len(values))
	var b strings.Builder
	b.WriteString(termSeparator)
	for _, v := range values {
		if seen[v] {
			continue
		}
		seen[v] = true
		b.WriteString(v)
		b.WriteString(termSeparator)
	}
	return b.String()
}

// searchQuery is a normalised search query.
type searchQuery struct {
	// Text is the query as normalizeTerm writes it, matched against the
	// terms. It is empty for a query without a letter or digit, such as "|".
	Text string
	// Compact is Text without spaces, matched against pinyin forms. It is
	// empty unless Text is only ASCII letters, digits and spaces, which
	// full-width ｈｕｎｙｕ is after normalisation.
	Compact string
}

// parseSearchQuery normalises the query q. The search handler calls it to
// reject a query without a letter or digit, and SearchServices to match.
//
// NOTE: a query that mixes Han characters with the pinyin of others, such
// as 进京zheng, gets no Compact form, so it matches only terms that contain
// it as typed.
func parseSearchQuery(q string) searchQuery {
	text := normalizeTerm(q)
	if !searchable(text) {
		return searchQuery{}
	}
	sq := searchQuery{Text: text}
	compact := strings.ReplaceAll(sq.Text, " ", "")
	for _, r := range compact {
		if r >= unicode.MaxASCII || (!unicode.IsLetter(r) && !unicode.IsDigit(r)) {
			return sq
		}
	}
	sq.Compact = compact
	return sq
}

package zones

import (
	"strings"
	"unicode"

	"github.com/mozillazg/go-pinyin"
)

// Search matching works on three forms of every term, computed when a
// service is written and stored in zone_service_search:
//
//   - the term itself, lowercased (婚育一件事, marriage and childbirth);
//   - its toneless pinyin without separators (hunyuyijianshi);
//   - its pinyin initials (hyyjs).
//
// The terms of a service are its Chinese and English names, its keywords
// and the names of the zones it is attached to. For the pinyin forms the
// index also stores every suffix that starts at a syllable boundary
// (yijianshi, jianshi, shi), so a prefix match on "|"-separated values
// finds a query that starts at any syllable: "jjz" finds 办理进京证.

// termSeparator separates the values in the terms, pinyin and initials
// columns. Normalisation removes it from terms and queries, so "|" + q
// matches only at the start of a value.
const termSeparator = "|"

// searchDoc is the search row of one service.
type searchDoc struct {
	Name         string
	NameEN       string
	NamePinyin   string
	NameInitials string
	Terms        string
	Pinyin       string
	Initials     string
}

// normalizeTerm lowercases s, removes the separator and collapses runs of
// white space into one space.
func normalizeTerm(s string) string {
	s = strings.ReplaceAll(s, termSeparator, " ")
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// pinyinArgs reads each character with its most common toneless reading.
// The library drops characters it has no reading for; syllables keeps
// letters and digits itself, so Fallback is left unset.
var pinyinArgs = pinyin.Args{Style: pinyin.Normal}

// syllables splits s into pinyin syllables: each Han character becomes its
// toneless reading, and each run of ASCII letters and digits stays one
// lowercase syllable. Other characters separate syllables.
func syllables(s string) []string {
	var out []string
	var word strings.Builder
	flush := func() {
		if word.Len() > 0 {
			out = append(out, word.String())
			word.Reset()
		}
	}

	for _, r := range s {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			word.WriteRune(unicode.ToLower(r))
		case unicode.Is(unicode.Han, r):
			flush()
			if py := pinyin.SinglePinyin(r, pinyinArgs); len(py) > 0 && py[0] != "" {
				out = append(out, py[0])
			}
		default:
			flush()
		}
	}
	flush()
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

// pinyinForms returns the full pinyin and the initials of s, and every
// suffix of each that starts at a syllable boundary.
func pinyinForms(s string) (full, initials string, fullSuffixes, initialSuffixes []string) {
	syl := syllables(s)
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

// buildSearchDoc computes the search row of a service attached to zones
// with the given names.
func buildSearchDoc(r *serviceRow, zoneNames []Text) searchDoc {
	doc := searchDoc{Name: normalizeTerm(r.Name.ZH), NameEN: normalizeTerm(r.Name.EN)}
	doc.NamePinyin, doc.NameInitials, _, _ = pinyinForms(r.Name.ZH)

	terms := []string{r.Name.ZH, r.Name.EN}
	terms = append(terms, r.Keywords...)
	for _, z := range zoneNames {
		terms = append(terms, z.ZH, z.EN)
	}

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
		_, _, f, i := pinyinForms(t)
		full = append(full, f...)
		initials = append(initials, i...)
	}
	doc.Terms = joinValues(plain)
	doc.Pinyin = joinValues(full)
	doc.Initials = joinValues(initials)
	return doc
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
	// Text is the query lowercased with white space collapsed.
	Text string
	// Compact is Text without spaces, matched against pinyin forms. It is
	// empty unless the query is only ASCII letters, digits and spaces.
	Compact string
}

func parseSearchQuery(q string) searchQuery {
	sq := searchQuery{Text: normalizeTerm(q)}
	compact := strings.ReplaceAll(sq.Text, " ", "")
	for _, r := range compact {
		if r >= unicode.MaxASCII || (!unicode.IsLetter(r) && !unicode.IsDigit(r)) {
			return sq
		}
	}
	sq.Compact = compact
	return sq
}

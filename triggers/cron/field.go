package cron

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// bitset is a set of small non-negative integers, enough for the 130 years
// of the year field.
type bitset [3]uint64

func (b *bitset) set(v int) { b[v/64] |= 1 << (v % 64) }

func (b *bitset) has(v int) bool {
	if v < 0 || v >= 64*len(b) {
		return false
	}
	return b[v/64]&(1<<(v%64)) != 0
}

// add puts lo, lo+step, ... up to hi into the set.
func (b *bitset) add(lo, hi, step int) {
	for v := lo; v <= hi; v += step {
		b.set(v)
	}
}

// next returns the smallest member in [from, limit], or -1.
func (b *bitset) next(from, limit int) int {
	for v := max(from, 0); v <= limit; v++ {
		if b.has(v) {
			return v
		}
	}
	return -1
}

// prev returns the largest member in [limit, from], or -1.
func (b *bitset) prev(from, limit int) int {
	for v := from; v >= limit && v >= 0; v-- {
		if b.has(v) {
			return v
		}
	}
	return -1
}

// fieldSpec describes one field of a cron expression.
type fieldSpec struct {
	name     string
	min, max int
	// names maps upper-case names, such as "JAN", to values.
	names map[string]int
	// question allows "?" for the whole field.
	question bool
	// offset is subtracted from values before they go into the bit set, so
	// that years fit.
	offset int
}

var (
	secondSpec = fieldSpec{name: "second", min: 0, max: 59}
	minuteSpec = fieldSpec{name: "minute", min: 0, max: 59}
	hourSpec   = fieldSpec{name: "hour", min: 0, max: 23}
	domSpec    = fieldSpec{name: "day-of-month", min: 1, max: 31, question: true}
	monthSpec  = fieldSpec{name: "month", min: 1, max: 12, names: map[string]int{
		"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
		"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
	}}
	dowSpec = fieldSpec{name: "day-of-week", min: 0, max: 6, question: true, names: map[string]int{
		"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6,
	}}
	yearSpec = fieldSpec{name: "year", min: MinYear, max: MaxYear, offset: MinYear}

	fiveFieldSpecs  = []*fieldSpec{&minuteSpec, &hourSpec, &domSpec, &monthSpec, &dowSpec}
	sevenFieldSpecs = []*fieldSpec{&secondSpec, &minuteSpec, &hourSpec, &domSpec, &monthSpec, &dowSpec, &yearSpec}
)

// parse returns the values that text selects, and whether text starts with
// "*" or "?". Errors describe the problem without the field name, which the
// caller adds.
func (f *fieldSpec) parse(text string) (set bitset, star bool, err error) {
	star = strings.HasPrefix(text, "*") || strings.HasPrefix(text, "?")
	if strings.Contains(text, "?") {
		if !f.question {
			return set, false, errors.New(`"?" is allowed only in the day-of-month and day-of-week fields`)
		}
		if text != "?" {
			return set, false, errors.New(`"?" must be the whole field`)
		}
		set.add(f.min-f.offset, f.max-f.offset, 1)
		return set, true, nil
	}

	for item := range strings.SplitSeq(text, ",") {
		lo, hi, step, err := f.parseItem(item)
		if err != nil {
			return set, false, err
		}
		set.add(lo-f.offset, hi-f.offset, step)
	}
	return set, star, nil
}

// parseItem parses one list item: "*", "a", "a-b", each with an optional
// "/step".
func (f *fieldSpec) parseItem(item string) (lo, hi, step int, err error) {
	if item == "" {
		return 0, 0, 0, errors.New("empty list item; remove the extra comma")
	}

	span, stepText, hasStep := strings.Cut(item, "/")
	step = 1
	if hasStep {
		step, err = f.parseStep(stepText)
		if err != nil {
			return 0, 0, 0, err
		}
	}

	switch from, to, isRange := strings.Cut(span, "-"); {
	case span == "*":
		lo, hi = f.min, f.max
	case isRange:
		if lo, err = f.parseValue(from); err != nil {
			return 0, 0, 0, err
		}
		if hi, err = f.parseValue(to); err != nil {
			return 0, 0, 0, err
		}
		if lo > hi {
			return 0, 0, 0, fmt.Errorf("range %q starts after it ends; ranges do not wrap around", span)
		}
	default:
		if lo, err = f.parseValue(span); err != nil {
			return 0, 0, 0, err
		}
		hi = lo
		if hasStep {
			hi = f.max // "a/n" means "a-max/n"
		}
	}
	return lo, hi, step, nil
}

func (f *fieldSpec) parseStep(text string) (int, error) {
	n, err := parseDecimal(text)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("step %q is not a positive whole number", text)
	}
	if n > f.max-f.min+1 {
		return 0, fmt.Errorf("step %d is larger than the field's range %d-%d", n, f.min, f.max)
	}
	return n, nil
}

// parseValue parses a number or a name within the field's range.
func (f *fieldSpec) parseValue(text string) (int, error) {
	if text == "" {
		return 0, errors.New("missing value; a range needs a start and an end, such as 1-5")
	}
	if v, ok := f.names[strings.ToUpper(text)]; ok {
		return v, nil
	}

	v, err := parseDecimal(text)
	if err != nil {
		if f.names != nil {
			return 0, fmt.Errorf("value %q is neither a number nor a name such as %s", text, f.exampleName())
		}
		return 0, fmt.Errorf("value %q is not a number", text)
	}
	if v < f.min || v > f.max {
		if f == &dowSpec && v == 7 {
			return 0, errors.New("value 7 is out of range 0-6; write 0 or SUN for Sunday")
		}
		return 0, fmt.Errorf("value %d is out of range %d-%d", v, f.min, f.max)
	}
	return v, nil
}

func (f *fieldSpec) exampleName() string {
	if f == &monthSpec {
		return "JAN"
	}
	return "MON"
}

// parseDecimal parses up to 4 ASCII digits, without sign or spaces.
func parseDecimal(text string) (int, error) {
	if text == "" || len(text) > 4 {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.Atoi(text)
}

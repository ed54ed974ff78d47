package cron

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// The parser is our own. github.com/robfig/cron/v3 v3.0.1, which the OpenFaaS
// cron-connector and Knative PingSource use, parses 5 fields plus an optional
// seconds field. It has no year field, so it cannot read SCF's 7-field form.
// A parser over bit sets and a search over wall-clock dates are small enough
// to own, and the tests check them against a brute-force scan.

// MaxExprLength is the longest schedule expression Parse accepts, in bytes.
const MaxExprLength = 1024

// Year bounds of the 7-field form, as the SCF timer trigger documents them.
const (
	MinYear = 1970
	MaxYear = 2099
)

// searchYears bounds the search of a 5-field schedule, which has no year
// field. Parse rejects schedules that match no date, and a schedule that
// matches some date recurs within 8 years (February 29), so the bound is
// never reached by a schedule that Parse accepted.
const searchYears = 28

// maxWallTimeSkips bounds how many wall times Next and Prev skip because a
// daylight saving time change made them not exist or pass twice. An hour of
// per-second ticks needs 3600.
const maxWallTimeSkips = 10000

// Schedule is a parsed cron expression in a time zone. It is immutable and
// safe for concurrent use.
type Schedule struct {
	expr string
	loc  *time.Location

	second, minute, hour, dom, month, dow bitset
	// years is nil for the 5-field form, which matches every year.
	years *bitset

	// domStar and dowStar record that the day-of-month or day-of-week field
	// starts with "*" or "?". The day then matches when both fields match.
	// When neither does, it matches when either field matches (the Vixie
	// cron rule that cron(8) and robfig/cron follow).
	domStar, dowStar bool
}

// String returns the expression the schedule was parsed from.
func (s *Schedule) String() string { return s.expr }

// Location returns the time zone in which the schedule's fields are read.
func (s *Schedule) Location() *time.Location { return s.loc }

var defaultLocation = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		// Without the time zone database (a scratch image), fall back to the
		// same rule: China has used UTC+8 without daylight saving time since
		// 1991.
		return time.FixedZone("CST", 8*60*60)
	}
	return loc
})

// DefaultLocation returns Asia/Shanghai, the zone in which Parse reads
// schedules: Beijing time, UTC+8, with no daylight saving time.
func DefaultLocation() *time.Location { return defaultLocation() }

// Parse parses expr in the Asia/Shanghai time zone. See ParseIn.
func Parse(expr string) (*Schedule, error) {
	return ParseIn(expr, DefaultLocation())
}

// ParseIn parses a cron expression whose fields are read in loc. Two forms
// are accepted, distinguished by their number of fields:
//
//	minute hour day-of-month month day-of-week                  (5 fields)
//	second minute hour day-of-month month day-of-week year      (7 fields)
//
// The 5-field form is the one of crontab(5), the OpenFaaS cron-connector and
// Knative PingSource, and fires at second 0. The 7-field form is the one of
// Tencent SCF timer triggers. Field values:
//
//	second        0-59
//	minute        0-59
//	hour          0-23
//	day-of-month  1-31
//	month         1-12 or JAN-DEC
//	day-of-week   0-6 or SUN-SAT, 0 is Sunday
//	year          1970-2099
//
// A field is "*", or a comma-separated list of items. An item is a value, a
// range "a-b", or either of these or "*" followed by a step "/n". "a/n" means
// "a-max/n". Names are case-insensitive. "?" may stand for a whole
// day-of-month or day-of-week field and means "*".
//
// When both day fields are restricted, a day matches if either field
// matches: "0 0 1 * MON" fires on the 1st and on every Monday. A day field
// that starts with "*" or "?", such as "*/2", counts as unrestricted, so then
// both fields must match.
//
// The descriptors @yearly (@annually), @monthly, @weekly, @daily
// (@midnight) and @hourly stand for their 5-field schedules. A prefix
// "CRON_TZ=<zone> " or "TZ=<zone> " reads the fields in that IANA zone
// instead of loc, as robfig/cron does. @every is rejected, because its ticks
// depend on when each process started, so replicas would disagree on them.
//
// Parse rejects a schedule that matches no date, such as February 30.
// Errors are *ParseError values that name the field at fault.
func ParseIn(expr string, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		loc = DefaultLocation()
	}
	text := strings.TrimSpace(expr)
	if len(text) > MaxExprLength {
		return nil, &ParseError{Expr: truncate(text), Reason: fmt.Sprintf("longer than %d bytes", MaxExprLength)}
	}

	text, loc, err := splitZone(text, loc)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(text, "@") {
		text, err = expandDescriptor(text)
		if err != nil {
			return nil, err
		}
	}

	s := &Schedule{expr: strings.TrimSpace(expr), loc: loc}
	if err := s.parseFields(text); err != nil {
		return nil, err
	}
	if err := s.checkMatchesSomeDate(); err != nil {
		return nil, err
	}
	return s, nil
}

// MustParse is Parse for schedules known at compile time. It panics on an
// invalid expression.
func MustParse(expr string) *Schedule {
	s, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return s
}

// ParseError reports an invalid schedule expression.
type ParseError struct {
	// Expr is the expression as given.
	Expr string
	// Field names the field at fault, such as "minute" or "day-of-week". It
	// is empty when the expression as a whole is wrong, such as a wrong
	// number of fields.
	Field string
	// Value is the text of that field.
	Value string
	// Reason describes the problem.
	Reason string
}

func (e *ParseError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("cron: invalid schedule %q: %s", e.Expr, e.Reason)
	}
	return fmt.Sprintf("cron: invalid schedule %q: %s field %q: %s", e.Expr, e.Field, e.Value, e.Reason)
}

func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}

// splitZone removes a CRON_TZ= or TZ= prefix and returns the zone it names.
func splitZone(text string, loc *time.Location) (string, *time.Location, error) {
	var prefix string
	switch {
	case strings.HasPrefix(text, "CRON_TZ="):
		prefix = "CRON_TZ="
	case strings.HasPrefix(text, "TZ="):
		prefix = "TZ="
	default:
		return text, loc, nil
	}

	zone, rest, _ := strings.Cut(text[len(prefix):], " ")
	z, err := time.LoadLocation(zone)
	if err != nil || zone == "" || strings.EqualFold(zone, "local") {
		return "", nil, &ParseError{Expr: text, Field: "time zone", Value: zone, Reason: "not an IANA time zone name such as Asia/Shanghai"}
	}
	return strings.TrimSpace(rest), z, nil
}

var descriptors = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

func expandDescriptor(text string) (string, error) {
	if fields, ok := descriptors[strings.ToLower(text)]; ok {
		return fields, nil
	}
	if strings.HasPrefix(strings.ToLower(text), "@every") {
		return "", &ParseError{Expr: text, Reason: "@every is not supported, because its ticks depend on when each process started; write the interval as a step, such as */5 * * * *"}
	}
	return "", &ParseError{Expr: text, Reason: "unknown descriptor; want @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"}
}

// parseFields fills s from the 5 or 7 fields of text.
func (s *Schedule) parseFields(text string) error {
	fields := strings.Fields(text)
	var specs []*fieldSpec
	switch len(fields) {
	case 5:
		specs = fiveFieldSpecs
		s.second.add(0, 0, 1)
	case 7:
		specs = sevenFieldSpecs
	default:
		return &ParseError{Expr: s.expr, Reason: fmt.Sprintf("has %d fields; want 5 (minute hour day-of-month month day-of-week) or 7 (second minute hour day-of-month month day-of-week year)", len(fields))}
	}

	for i, spec := range specs {
		set, star, err := spec.parse(fields[i])
		if err != nil {
			return &ParseError{Expr: s.expr, Field: spec.name, Value: fields[i], Reason: err.Error()}
		}
		switch spec {
		case &secondSpec:
			s.second = set
		case &minuteSpec:
			s.minute = set
		case &hourSpec:
			s.hour = set
		case &domSpec:
			s.dom, s.domStar = set, star
		case &monthSpec:
			s.month = set
		case &dowSpec:
			s.dow, s.dowStar = set, star
		case &yearSpec:
			s.years = &set
		}
	}
	return nil
}

// checkMatchesSomeDate rejects schedules that can never fire.
func (s *Schedule) checkMatchesSomeDate() error {
	// With an unrestricted day of week, the day of month alone decides, and
	// it must exist in some selected month. February counts 29 days.
	if s.dowStar && !s.domStar {
		possible := false
		for m := 1; m <= 12 && !possible; m++ {
			if !s.month.has(m) {
				continue
			}
			for d := 1; d <= daysIn(2000, m); d++ {
				if s.dom.has(d) {
					possible = true
					break
				}
			}
		}
		if !possible {
			return &ParseError{Expr: s.expr, Field: domSpec.name, Value: s.fieldText(3), Reason: "no selected month has any of these days"}
		}
	}

	// A 7-field schedule may still select no existing date in its years,
	// such as February 29 of 2025 only.
	if s.years != nil {
		first := s.years.next(0, MaxYear-MinYear) + MinYear
		if _, ok := s.nextCivil(civil{y: first, mo: 1, d: 1}); !ok {
			return &ParseError{Expr: s.expr, Field: yearSpec.name, Value: s.fieldText(6), Reason: "no selected year has a date that matches the other fields"}
		}
	}
	return nil
}

// fieldText returns the text of field i of the expression, for errors.
func (s *Schedule) fieldText(i int) string {
	text, _, _ := splitZone(strings.TrimSpace(s.expr), s.loc)
	if strings.HasPrefix(text, "@") {
		text, _ = expandDescriptor(text)
	}
	fields := strings.Fields(text)
	if len(fields) == 5 {
		i-- // the 5-field form has no second field
	}
	if i < 0 || i >= len(fields) {
		return ""
	}
	return fields[i]
}

package cron

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// bj parses a Beijing wall time "2006-01-02 15:04:05".
func bj(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation(time.DateTime, s, DefaultLocation())
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return v
}

func TestScheduleNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		expr string
		from string
		want []string // successive ticks after from; "" is the zero time
	}{
		// 5-field form.
		{"every minute across month end", "* * * * *", "2026-01-31 23:59:30",
			[]string{"2026-02-01 00:00:00", "2026-02-01 00:01:00"}},
		{"daily strictly after a tick", "30 23 * * *", "2026-01-31 23:30:00",
			[]string{"2026-02-01 23:30:00", "2026-02-02 23:30:00"}},
		{"31st skips short months", "0 12 31 * *", "2026-01-31 12:00:00",
			[]string{"2026-03-31 12:00:00", "2026-05-31 12:00:00", "2026-07-31 12:00:00", "2026-08-31 12:00:00"}},
		{"leap day", "0 0 29 2 *", "2024-03-01 00:00:00",
			[]string{"2028-02-29 00:00:00", "2032-02-29 00:00:00"}},
		{"leap day skips 2100", "0 0 29 2 *", "2096-03-01 00:00:00",
			[]string{"2104-02-29 00:00:00"}},
		{"end of February", "0 0 28-29 2 *", "2024-02-27 00:00:00",
			[]string{"2024-02-28 00:00:00", "2024-02-29 00:00:00", "2025-02-28 00:00:00", "2026-02-28 00:00:00"}},
		{"year end", "0 0 1 1 *", "2026-12-31 23:59:59",
			[]string{"2027-01-01 00:00:00", "2028-01-01 00:00:00"}},
		{"dom or dow when both restricted", "0 0 1 * MON", "2026-01-27 00:00:00",
			[]string{"2026-02-01 00:00:00", "2026-02-02 00:00:00", "2026-02-09 00:00:00"}},
		{"13th or Friday", "0 0 13 * FRI", "2026-04-01 00:00:00",
			[]string{"2026-04-03 00:00:00", "2026-04-10 00:00:00", "2026-04-13 00:00:00", "2026-04-17 00:00:00"}},
		{"starred dom means and", "0 0 */2 * MON", "2026-01-01 00:00:00",
			[]string{"2026-01-05 00:00:00", "2026-01-19 00:00:00", "2026-02-09 00:00:00", "2026-02-23 00:00:00"}},
		{"question mark dow", "0 0 13 * ?", "2026-04-01 00:00:00",
			[]string{"2026-04-13 00:00:00", "2026-05-13 00:00:00"}},
		{"question mark dom", "0 8 ? * SUN", "2026-01-27 00:00:00",
			[]string{"2026-02-01 08:00:00", "2026-02-08 08:00:00"}},
		{"names and ranges", "0 9 * jan-mar Mon-Fri", "2026-03-30 10:00:00",
			[]string{"2026-03-31 09:00:00", "2027-01-01 09:00:00", "2027-01-04 09:00:00"}},
		{"range with step", "0 9-17/4 * * *", "2026-01-01 00:00:00",
			[]string{"2026-01-01 09:00:00", "2026-01-01 13:00:00", "2026-01-01 17:00:00", "2026-01-02 09:00:00"}},
		{"start with step", "5/20 * * * *", "2026-01-01 00:00:00",
			[]string{"2026-01-01 00:05:00", "2026-01-01 00:25:00", "2026-01-01 00:45:00", "2026-01-01 01:05:00"}},
		{"list", "0,30 8 * * *", "2026-01-01 08:00:00",
			[]string{"2026-01-01 08:30:00", "2026-01-02 08:00:00"}},
		{"zones nightly job", "17 3 * * *", "2026-01-30 10:14:59",
			[]string{"2026-01-31 03:17:00", "2026-02-01 03:17:00"}},
		{"daily descriptor", "@daily", "2026-01-01 12:00:00",
			[]string{"2026-01-02 00:00:00"}},
		{"weekly descriptor is Sunday", "@weekly", "2026-01-27 00:00:00",
			[]string{"2026-02-01 00:00:00"}},
		{"hourly descriptor", "@HOURLY", "2026-01-01 12:00:00",
			[]string{"2026-01-01 13:00:00"}},
		{"CRON_TZ prefix", "CRON_TZ=UTC 0 18 * * *", "2026-01-01 00:00:00",
			[]string{"2026-01-01 02:00:00", "2026-01-02 02:00:00"}},

		// 7-field form of SCF timer triggers, with the example on the SCF
		// timer trigger page first.
		{"scf 2am on the 1st", "0 0 2 1 * * *", "2026-01-15 00:00:00",
			[]string{"2026-02-01 02:00:00", "2026-03-01 02:00:00"}},
		{"scf every 5 seconds", "*/5 * * * * * *", "2026-01-31 23:59:52",
			[]string{"2026-01-31 23:59:55", "2026-02-01 00:00:00", "2026-02-01 00:00:05"}},
		{"scf weekdays 10:15", "0 15 10 * * MON-FRI *", "2026-01-30 10:14:59",
			[]string{"2026-01-30 10:15:00", "2026-02-02 10:15:00"}},
		{"scf hour list", "0 0 10,14,16 * * * *", "2026-01-01 12:00:00",
			[]string{"2026-01-01 14:00:00", "2026-01-01 16:00:00", "2026-01-02 10:00:00"}},
		{"scf half hours in office hours", "0 */30 9-17 * * * *", "2026-01-01 17:00:00",
			[]string{"2026-01-01 17:30:00", "2026-01-02 09:00:00"}},
		{"scf Wednesday noon", "0 0 12 * * WED *", "2026-01-01 00:00:00",
			[]string{"2026-01-07 12:00:00", "2026-01-14 12:00:00"}},
		{"scf seconds field", "30 17 3 * * * *", "2026-01-01 03:17:30",
			[]string{"2026-01-02 03:17:30"}},
		{"scf years end", "0 0 0 1 1 * 2030-2031", "2026-01-01 00:00:00",
			[]string{"2030-01-01 00:00:00", "2031-01-01 00:00:00", ""}},
		{"scf year step", "0 0 0 1 1 * 2026/2", "2026-06-01 00:00:00",
			[]string{"2028-01-01 00:00:00", "2030-01-01 00:00:00"}},
		{"scf leap day in listed years", "0 0 0 29 2 * 2025-2030", "2024-01-01 00:00:00",
			[]string{"2028-02-29 00:00:00", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			at := bj(t, tt.from)
			for i, w := range tt.want {
				got := s.Next(at)
				want := time.Time{}
				if w != "" {
					want = bj(t, w)
				}
				if !got.Equal(want) {
					t.Fatalf("Next #%d after %s = %s, want %s", i+1, at, got, want)
				}
				at = got
			}
		})
	}
}

func TestSchedulePrev(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		expr string
		at   string
		want string // "" is the zero time
	}{
		{"tick itself", "17 3 * * *", "2026-01-30 03:17:00", "2026-01-30 03:17:00"},
		{"between ticks", "17 3 * * *", "2026-01-30 03:16:59", "2026-01-29 03:17:00"},
		{"across month start", "0 12 31 * *", "2026-03-01 00:00:00", "2026-01-31 12:00:00"},
		{"leap day", "0 0 29 2 *", "2028-02-28 00:00:00", "2024-02-29 00:00:00"},
		{"dom or dow", "0 0 1 * MON", "2026-02-01 23:00:00", "2026-02-01 00:00:00"},
		{"seconds", "*/5 * * * * * *", "2026-02-01 00:00:04", "2026-02-01 00:00:00"},
		{"before first year", "0 0 0 1 1 * 2030", "2029-12-31 23:59:59", ""},
		{"after last year", "0 0 0 1 1 * 2030", "2099-12-31 00:00:00", "2030-01-01 00:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := MustParse(tt.expr)
			got := s.Prev(bj(t, tt.at))
			want := time.Time{}
			if tt.want != "" {
				want = bj(t, tt.want)
			}
			if !got.Equal(want) {
				t.Errorf("Prev(%s) = %s, want %s", tt.at, got, want)
			}
		})
	}
}

func TestSchedulePrevDropsFraction(t *testing.T) {
	t.Parallel()
	s := MustParse("* * * * * * *")
	at := bj(t, "2026-01-01 00:00:10").Add(600 * time.Millisecond)
	if got, want := s.Prev(at), bj(t, "2026-01-01 00:00:10"); !got.Equal(want) {
		t.Errorf("Prev(%s) = %s, want %s", at, got, want)
	}
	if got, want := s.Next(at), bj(t, "2026-01-01 00:00:11"); !got.Equal(want) {
		t.Errorf("Next(%s) = %s, want %s", at, got, want)
	}
}

// Asia/Shanghai has kept UTC+8 without daylight saving time since 1991, so
// a daily tick is always 24 hours after the one before.
func TestScheduleShanghaiHasNoDST(t *testing.T) {
	t.Parallel()
	s := MustParse("0 2 * * *")
	at := bj(t, "2025-12-31 12:00:00")
	prev := s.Next(at)
	for range 800 {
		next := s.Next(prev)
		if next.Sub(prev) != 24*time.Hour {
			t.Fatalf("Next(%s) = %s, %s later; want 24h", prev, next, next.Sub(prev))
		}
		if _, offset := next.Zone(); offset != 8*60*60 {
			t.Fatalf("tick %s has UTC offset %d s, want 28800", next, offset)
		}
		prev = next
	}
}

func TestScheduleDaylightSavingTime(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation(time.DateTime, s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	// 2026-03-08 02:00 jumps to 03:00, so 02:30 does not exist that day.
	gap, err := ParseIn("30 2 * * *", ny)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := gap.Next(at("2026-03-07 03:00:00")), at("2026-03-09 02:30:00"); !got.Equal(want) {
		t.Errorf("Next over the spring gap = %s, want %s", got, want)
	}

	// 2026-11-01 01:00-02:00 passes twice; 01:30 fires once.
	fold, err := ParseIn("30 1 * * *", ny)
	if err != nil {
		t.Fatal(err)
	}
	first := fold.Next(at("2026-10-31 12:00:00"))
	if first.Hour() != 1 || first.Minute() != 30 || first.Day() != 1 {
		t.Fatalf("Next before the fall fold = %s, want 2026-11-01 01:30", first)
	}
	if got, want := fold.Next(first), at("2026-11-02 01:30:00"); !got.Equal(want) {
		t.Errorf("Next after the first 01:30 = %s, want %s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		expr   string
		field  string
		reason string
	}{
		{"empty", "", "", "has 0 fields"},
		{"four fields", "* * * *", "", "has 4 fields"},
		{"six fields", "0 * * * * *", "", "has 6 fields; want 5"},
		{"minute out of range", "60 * * * *", "minute", "value 60 is out of range 0-59"},
		{"hour out of range", "0 24 * * *", "hour", "out of range 0-23"},
		{"day zero", "0 0 0 * *", "day-of-month", "out of range 1-31"},
		{"month 13", "0 0 * 13 *", "month", "out of range 1-12"},
		{"sunday as 7", "0 0 * * 7", "day-of-week", "write 0 or SUN"},
		{"second out of range", "60 0 0 * * * *", "second", "out of range 0-59"},
		{"year before 1970", "0 0 0 * * * 1969", "year", "out of range 1970-2099"},
		{"year after 2099", "0 0 0 * * * 2100", "year", "out of range 1970-2099"},
		{"zero step", "*/0 * * * *", "minute", "not a positive whole number"},
		{"huge step", "*/61 * * * *", "minute", "larger than the field's range 0-59"},
		{"reversed range", "5-1 * * * *", "minute", "starts after it ends"},
		{"empty list item", "1,,2 * * * *", "minute", "empty list item"},
		{"question mark in minute", "? * * * *", "minute", "allowed only in the day-of-month and day-of-week"},
		{"question mark with step", "0 0 ?/2 * *", "day-of-month", "must be the whole field"},
		{"unknown month name", "0 0 * FOO *", "month", "neither a number nor a name such as JAN"},
		{"unknown day name", "0 0 * * MONDAY", "day-of-week", "neither a number nor a name such as MON"},
		{"open range", "0 0 * * MON-", "day-of-week", "missing value"},
		{"negative number", "-1 * * * *", "minute", "missing value"},
		{"signed number", "+1 * * * *", "minute", "not a number"},
		{"letters", "a * * * *", "minute", "not a number"},
		{"February 30", "0 0 30 2 *", "day-of-month", "no selected month"},
		{"31st of short months", "0 0 31 4,6,9,11 *", "day-of-month", "no selected month"},
		{"leap day outside leap years", "0 0 0 29 2 * 2025", "year", "no selected year"},
		{"every", "@every 5m", "", "@every is not supported"},
		{"reboot", "@reboot", "", "unknown descriptor"},
		{"unknown zone", "CRON_TZ=Mars/Olympus 0 0 * * *", "time zone", "not an IANA time zone"},
		{"too long", strings.Repeat("1,", 600) + "1 * * * *", "", "longer than 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(tt.expr)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tt.expr, s)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T, want *ParseError", tt.expr, err)
			}
			if pe.Field != tt.field {
				t.Errorf("Parse(%q) field = %q, want %q (%v)", tt.expr, pe.Field, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.expr, err, tt.reason)
			}
			if !strings.HasPrefix(err.Error(), "cron: invalid schedule ") {
				t.Errorf("Parse(%q) error = %q, want the package prefix", tt.expr, err)
			}
		})
	}
}

func TestParseKeepsExpression(t *testing.T) {
	t.Parallel()
	s := MustParse("  17 3 * * *\t")
	if got := s.String(); got != "17 3 * * *" {
		t.Errorf("String() = %q, want the trimmed expression", got)
	}
	if got := s.Location().String(); got != "Asia/Shanghai" && got != "CST" {
		t.Errorf("Location() = %q, want Asia/Shanghai", got)
	}
	utc, err := ParseIn("0 0 * * *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if got := utc.Next(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Next in UTC = %s, want midnight UTC", got)
	}
}

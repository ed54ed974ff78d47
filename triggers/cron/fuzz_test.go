package cron

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary expressions to ParseIn, as an operator's typo in
// an override variable could shape them. Parsing must never panic, and for
// every schedule it accepts, Next and Prev must agree with each other.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"* * * * *", "17 3 * * *", "0 0 1 * MON", "*/5 * * * * * *", "0 0 2 1 * * *",
		"0 15 10 * * MON-FRI *", "0 0 0 29 2 ? 2028", "5/20 9-17/4 1,15 JAN-MAR ?",
		"@daily", "CRON_TZ=UTC 0 18 * * *", "TZ=America/New_York 30 2 * * *",
		"", "@every 1m", "0 0 30 2 *", "*/0 * * * *", "-1 * * * *", "9999-1 * * * *",
		"0 0 0 31 2,4,6 * 2030/7", ",,, * * * *", "? ? ? ? ?",
	} {
		f.Add(seed, int64(1767225600))
	}

	f.Fuzz(func(t *testing.T, expr string, unix int64) {
		s, err := ParseIn(expr, DefaultLocation())
		if err != nil {
			return
		}
		// Keep the time within the years the search covers.
		at := time.Unix(1e9+unix%(2e9), 0)

		if next := s.Next(at); !next.IsZero() {
			if !next.After(at) {
				t.Fatalf("%q: Next(%s) = %s, not after", expr, at, next)
			}
			if p := s.Prev(next); !p.Equal(next) {
				t.Fatalf("%q: Prev(Next(%s)) = %s, want %s", expr, at, p, next)
			}
		}
		if prev := s.Prev(at); !prev.IsZero() {
			if prev.After(at) {
				t.Fatalf("%q: Prev(%s) = %s, after", expr, at, prev)
			}
			if n := s.Next(prev.Add(-time.Second)); !n.Equal(prev) {
				t.Fatalf("%q: Next(Prev(%s) - 1s) = %s, want %s", expr, at, n, prev)
			}
		}
	})
}

// TestScheduleMatchesBruteForce checks Next and Prev of random schedules
// against a scan that tests every second or minute in a window with the
// schedule's field sets directly.
func TestScheduleMatchesBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for checked < 150 {
		expr := randomExpr(rng)
		s, err := Parse(expr)
		if err != nil {
			continue
		}
		checked++

		step, window := time.Minute, 10*24*time.Hour
		if s.years != nil {
			step, window = time.Second, 2*24*time.Hour
		}
		base := time.Date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, DefaultLocation())

		var want time.Time
		for at := base.Truncate(step).Add(step); at.Sub(base) <= window; at = at.Add(step) {
			if matches(s, at) {
				want = at
				break
			}
		}
		got := s.Next(base)
		if !want.IsZero() && !got.Equal(want) || want.IsZero() && !got.IsZero() && got.Sub(base) <= window {
			t.Errorf("%q: Next(%s) = %s, brute force found %s", expr, base, got, want)
		}

		want = time.Time{}
		for at := base.Truncate(step); base.Sub(at) <= window; at = at.Add(-step) {
			if matches(s, at) {
				want = at
				break
			}
		}
		got = s.Prev(base)
		if !want.IsZero() && !got.Equal(want) || want.IsZero() && !got.IsZero() && base.Sub(got) <= window {
			t.Errorf("%q: Prev(%s) = %s, brute force found %s", expr, base, got, want)
		}
	}
}

// matches tests one instant against the field sets of s.
func matches(s *Schedule, at time.Time) bool {
	c := civilOf(at.In(s.loc))
	if s.years != nil && !s.years.has(c.y-MinYear) {
		return false
	}
	return s.second.has(c.s) && s.minute.has(c.mi) && s.hour.has(c.h) &&
		s.month.has(c.mo) && s.dayMatches(c.y, c.mo, c.d)
}

func randomExpr(rng *rand.Rand) string {
	seven := rng.IntN(3) == 0
	var fields []string
	if seven {
		fields = append(fields, randomField(rng, secondSpec))
	}
	fields = append(fields,
		randomField(rng, minuteSpec), randomField(rng, hourSpec), randomField(rng, domSpec),
		randomField(rng, monthSpec), randomField(rng, dowSpec))
	if seven {
		fields = append(fields, randomField(rng, yearSpec))
	}
	return strings.Join(fields, " ")
}

func randomField(rng *rand.Rand, f fieldSpec) string {
	if f.question && rng.IntN(6) == 0 {
		return "?"
	}
	value := func() string {
		v := f.min + rng.IntN(f.max-f.min+1)
		if f.name == "year" {
			v = 2026 + rng.IntN(3)
		}
		for name, n := range f.names {
			if n == v && rng.IntN(2) == 0 {
				return strings.ToLower(name)
			}
		}
		return strconv.Itoa(v)
	}

	items := make([]string, 1+rng.IntN(3))
	for i := range items {
		switch rng.IntN(6) {
		case 0:
			items[i] = "*"
		case 1:
			items[i] = "*/" + strconv.Itoa(1+rng.IntN(7))
		case 2:
			items[i] = value() + "-" + value()
		case 3:
			items[i] = value() + "/" + strconv.Itoa(1+rng.IntN(5))
		default:
			items[i] = value()
		}
	}
	return strings.Join(items, ",")
}

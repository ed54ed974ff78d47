package cron

import "time"

// Next returns the first tick of the schedule strictly after after, or the
// zero time when there is none, which happens only to a 7-field schedule
// past its last year.
//
// In zones with daylight saving time, a wall time that the spring-forward
// gap skips does not fire, and a wall time that the fall-back overlap
// repeats fires once. Asia/Shanghai has neither.
func (s *Schedule) Next(after time.Time) time.Time {
	from := civilOf(after.In(s.loc)).add(1)
	for range maxWallTimeSkips {
		c, ok := s.nextCivil(from)
		if !ok {
			return time.Time{}
		}
		tick := c.in(s.loc)
		if civilOf(tick) == c && tick.After(after) {
			return tick
		}
		from = c.add(1)
	}
	return time.Time{}
}

// Prev returns the last tick of the schedule at or before at, or the zero
// time when there is none. Daylight saving time is handled as in Next.
func (s *Schedule) Prev(at time.Time) time.Time {
	from := civilOf(at.In(s.loc))
	for range maxWallTimeSkips {
		c, ok := s.prevCivil(from)
		if !ok {
			return time.Time{}
		}
		tick := c.in(s.loc)
		if civilOf(tick) == c && !tick.After(at) {
			return tick
		}
		from = c.add(-1)
	}
	return time.Time{}
}

// civil is a wall-clock date and time without a zone, to the second.
type civil struct{ y, mo, d, h, mi, s int }

func civilOf(t time.Time) civil {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return civil{y, int(mo), d, h, mi, s}
}

func (c civil) in(loc *time.Location) time.Time {
	return time.Date(c.y, time.Month(c.mo), c.d, c.h, c.mi, c.s, 0, loc)
}

// add returns c moved by n seconds of wall-clock time.
func (c civil) add(n int) civil {
	return civilOf(c.in(time.UTC).Add(time.Duration(n) * time.Second))
}

func daysIn(y, mo int) int {
	return time.Date(y, time.Month(mo)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// nextCivil returns the first wall time at or after from that the schedule
// matches.
func (s *Schedule) nextCivil(from civil) (civil, bool) {
	lastYear := from.y + searchYears
	if s.years != nil {
		lastYear = MaxYear
	}

	y, mo, d := from.y, from.mo, from.d
	h, mi, sec := from.h, from.mi, from.s // bound on the first day only
	for {
		ny, ok := s.nextYear(y)
		if !ok || ny > lastYear {
			return civil{}, false
		}
		if ny != y {
			y, mo, d = ny, 1, 1
			h, mi, sec = 0, 0, 0
		}

		if !s.month.has(mo) {
			y, mo, d = firstOfNextMonth(y, mo)
		} else {
			if s.dayMatches(y, mo, d) {
				if th, tmi, ts, ok := s.firstTimeFrom(h, mi, sec); ok {
					return civil{y, mo, d, th, tmi, ts}, true
				}
			}
			y, mo, d = nextDay(y, mo, d)
		}
		h, mi, sec = 0, 0, 0
	}
}

// prevCivil returns the last wall time at or before from that the schedule
// matches.
func (s *Schedule) prevCivil(from civil) (civil, bool) {
	firstYear := from.y - searchYears
	if s.years != nil {
		firstYear = MinYear
	}

	y, mo, d := from.y, from.mo, from.d
	h, mi, sec := from.h, from.mi, from.s // bound on the first day only
	for {
		py, ok := s.prevYear(y)
		if !ok || py < firstYear {
			return civil{}, false
		}
		if py != y {
			y, mo, d = py, 12, 31
			h, mi, sec = 23, 59, 59
		}

		if !s.month.has(mo) {
			y, mo, d = lastOfPrevMonth(y, mo)
		} else {
			if s.dayMatches(y, mo, d) {
				if th, tmi, ts, ok := s.lastTimeUntil(h, mi, sec); ok {
					return civil{y, mo, d, th, tmi, ts}, true
				}
			}
			y, mo, d = prevDay(y, mo, d)
		}
		h, mi, sec = 23, 59, 59
	}
}

// nextYear returns the first year at or after y that the schedule matches.
func (s *Schedule) nextYear(y int) (int, bool) {
	if s.years == nil {
		return y, true
	}
	v := s.years.next(y-MinYear, MaxYear-MinYear)
	return v + MinYear, v >= 0
}

// prevYear returns the last year at or before y that the schedule matches.
func (s *Schedule) prevYear(y int) (int, bool) {
	if s.years == nil {
		return y, true
	}
	v := s.years.prev(min(y, MaxYear)-MinYear, 0)
	return v + MinYear, v >= 0
}

// dayMatches applies the day-of-month and day-of-week fields to a date.
func (s *Schedule) dayMatches(y, mo, d int) bool {
	domOK := s.dom.has(d)
	dowOK := s.dow.has(int(time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Weekday()))
	if s.domStar || s.dowStar {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// firstTimeFrom returns the first time of day at or after h:mi:sec that the
// schedule matches.
func (s *Schedule) firstTimeFrom(h, mi, sec int) (int, int, int, bool) {
	for ; h <= 23; h, mi, sec = h+1, 0, 0 {
		if !s.hour.has(h) {
			continue
		}
		for ; mi <= 59; mi, sec = mi+1, 0 {
			if !s.minute.has(mi) {
				continue
			}
			if v := s.second.next(sec, 59); v >= 0 {
				return h, mi, v, true
			}
		}
	}
	return 0, 0, 0, false
}

// lastTimeUntil returns the last time of day at or before h:mi:sec that the
// schedule matches.
func (s *Schedule) lastTimeUntil(h, mi, sec int) (int, int, int, bool) {
	for ; h >= 0; h, mi, sec = h-1, 59, 59 {
		if !s.hour.has(h) {
			continue
		}
		for ; mi >= 0; mi, sec = mi-1, 59 {
			if !s.minute.has(mi) {
				continue
			}
			if v := s.second.prev(sec, 0); v >= 0 {
				return h, mi, v, true
			}
		}
	}
	return 0, 0, 0, false
}

func firstOfNextMonth(y, mo int) (int, int, int) {
	if mo == 12 {
		return y + 1, 1, 1
	}
	return y, mo + 1, 1
}

func lastOfPrevMonth(y, mo int) (int, int, int) {
	if mo == 1 {
		return y - 1, 12, 31
	}
	return y, mo - 1, daysIn(y, mo-1)
}

func nextDay(y, mo, d int) (int, int, int) {
	if d >= daysIn(y, mo) {
		return firstOfNextMonth(y, mo)
	}
	return y, mo, d + 1
}

func prevDay(y, mo, d int) (int, int, int) {
	if d <= 1 {
		return lastOfPrevMonth(y, mo)
	}
	return y, mo, d - 1
}

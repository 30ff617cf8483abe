// Package workday is the Bulgarian calendar of working days, on which the deadlines of Ordinance N-7 are
// counted (чл. 26, ал. 3–4: notices one working day before a product code is added, within seven working
// days after one is removed).
//
// A day is a working day unless it is a Saturday or Sunday, an official holiday of the Labour Code
// (Кодекс на труда, чл. 154, ал. 1), the first working day after an official holiday that fell on a
// Saturday or Sunday (чл. 154, ал. 2; not for the Easter days), or a day the Council of Ministers declared
// a day off. A Saturday the Council of Ministers declared a working day (to make up for a day off) is a
// working day. The decrees are data: a small table of known ones is built in, and a person may give
// more in a file (ReadOverrides). docs/change-rules.md describes the rules and the file format.
package workday

import (
	"sort"
	"sync"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

// Kind says why a day is or is not a working day.
type Kind uint8

// Kinds of days.
const (
	Working     Kind = iota // an ordinary working day
	Weekend                 // Saturday or Sunday
	Holiday                 // official holiday (чл. 154, ал. 1 КТ)
	Substitute              // day off for a holiday that fell on a weekend (чл. 154, ал. 2 КТ)
	DecreedOff              // declared a day off by the Council of Ministers (or the --calendar file)
	DecreedWork             // a Saturday or Sunday declared a working day
)

// Override is a decree's change of one day: a day off, or a weekend day made a working day.
type Override struct {
	Date    Date
	Working bool
	Note    string // where it comes from, e.g. "РМС от 19.11.2025"
}

// builtin are the decrees we are sure of; a newer one goes into a --calendar file until it is added here
// (docs/change-rules.md names the sources).
var builtin = []Override{
	// Решение на Министерския съвет от 19.11.2025: 31.12.2025 and 02.01.2026 are days off, once, for the
	// change-over to the euro; no working Saturday was set to make up for them.
	{Date: New(2025, time.December, 31), Working: false, Note: "РМС от 19.11.2025 (въвеждане на еврото)"},
	{Date: New(2026, time.January, 2), Working: false, Note: "РМС от 19.11.2025 (въвеждане на еврото)"},
}

// Calendar decides which days are working days. It is immutable and safe for concurrent use.
type Calendar struct {
	overrides map[Date]Override
	years     sync.Map // int -> map[Date]day: the holidays and substitutes of a year, computed once
}

type day struct {
	kind Kind
	name string // i18n key of the holiday, for a Holiday or the holiday replaced by a Substitute
}

// Bulgaria is the calendar of the Labour Code with the built-in decrees.
func Bulgaria() *Calendar { return Law().With(builtin) }

// Law is the calendar of the Labour Code alone, without any decree.
func Law() *Calendar { return &Calendar{overrides: map[Date]Override{}} }

// With returns a calendar that also applies the overrides; an override of a date replaces the
// calendar's own for that date.
func (c *Calendar) With(o []Override) *Calendar {
	n := &Calendar{overrides: make(map[Date]Override, len(c.overrides)+len(o))}
	for d, v := range c.overrides {
		n.overrides[d] = v
	}
	for _, v := range o {
		n.overrides[v.Date] = v
	}
	return n
}

// Overrides lists the calendar's decreed days in date order.
func (c *Calendar) Overrides() []Override {
	out := make([]Override, 0, len(c.overrides))
	for _, v := range c.overrides {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date.Before(out[j].Date) })
	return out
}

// Kind says what d is.
func (c *Calendar) Kind(d Date) Kind {
	k, _ := c.classify(d)
	return k
}

// Why describes d for a person: "official holiday (Christmas)", "Saturday", … and whether it is a day
// off.
func (c *Calendar) Why(d Date) (i18n.Message, bool) {
	k, name := c.classify(d)
	switch k {
	case Weekend:
		return i18n.M("workday.weekend"), true
	case Holiday:
		return i18n.M("workday.holiday", i18n.M(name)), true
	case Substitute:
		return i18n.M("workday.substitute", i18n.M(name)), true
	case DecreedOff:
		return i18n.M("workday.decreed_off", c.overrides[d].Note), true
	case DecreedWork:
		return i18n.M("workday.decreed_work", c.overrides[d].Note), false
	}
	return i18n.M("workday.working"), false
}

func (c *Calendar) classify(d Date) (Kind, string) {
	if o, ok := c.overrides[d]; ok {
		if o.Working {
			return DecreedWork, ""
		}
		return DecreedOff, ""
	}
	if h, ok := c.year(d.y)[d]; ok {
		return h.kind, h.name
	}
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return Weekend, ""
	}
	return Working, ""
}

// IsWorkingDay reports whether d is a working day.
func (c *Calendar) IsWorkingDay(d Date) bool {
	k := c.Kind(d)
	return k == Working || k == DecreedWork
}

// NextWorkingDay is the first working day after d (d itself is not considered).
func (c *Calendar) NextWorkingDay(d Date) Date { return c.AddWorkingDays(d, 1) }

// PrevWorkingDay is the last working day before d (d itself is not considered).
func (c *Calendar) PrevWorkingDay(d Date) Date { return c.AddWorkingDays(d, -1) }

// AddWorkingDays returns the n-th working day after d for n > 0, the |n|-th working day before d for
// n < 0, and d itself for n = 0. d itself is never counted, whether it is a working day or not:
// AddWorkingDays(Friday, 1) is the next Monday that is a working day.
func (c *Calendar) AddWorkingDays(d Date, n int) Date {
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		d = d.AddDays(step)
		if c.IsWorkingDay(d) {
			n--
		}
	}
	return d
}

// WorkingDaysBetween counts the working days after a up to and including b. When b is before a it is
// minus the working days from b up to but not including a, so that WorkingDaysBetween(d,
// AddWorkingDays(d, n)) is n for every n.
func (c *Calendar) WorkingDaysBetween(a, b Date) int {
	if b.Before(a) {
		n := 0
		for x := b; x.Before(a); x = x.AddDays(1) {
			if c.IsWorkingDay(x) {
				n++
			}
		}
		return -n
	}
	n := 0
	for x := a.AddDays(1); !x.After(b); x = x.AddDays(1) {
		if c.IsWorkingDay(x) {
			n++
		}
	}
	return n
}

// Holidays lists the official holidays and their substitute days of a year (without decrees), in date
// order, with the i18n key of each holiday's name.
func (c *Calendar) Holidays(year int) []HolidayDay {
	m := c.year(year)
	out := make([]HolidayDay, 0, len(m))
	for d, h := range m {
		out = append(out, HolidayDay{Date: d, Substitute: h.kind == Substitute, Name: h.name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Date.Before(out[j].Date) })
	return out
}

// HolidayDay is an official holiday, or the substitute day off for one that fell on a weekend.
type HolidayDay struct {
	Date       Date
	Substitute bool
	Name       string // i18n key of the holiday's name
}

func (c *Calendar) year(y int) map[Date]day {
	if m, ok := c.years.Load(y); ok {
		return m.(map[Date]day)
	}
	m, _ := c.years.LoadOrStore(y, holidays(y))
	return m.(map[Date]day)
}

// fixed are the official holidays of чл. 154, ал. 1 КТ with a fixed date.
var fixed = []struct {
	m    time.Month
	d    int
	name string
}{
	{time.January, 1, "workday.h.new_year"},
	{time.March, 3, "workday.h.liberation"},
	{time.May, 1, "workday.h.labour"},
	{time.May, 6, "workday.h.st_george"},
	{time.May, 24, "workday.h.letters"},
	{time.September, 6, "workday.h.unification"},
	{time.September, 22, "workday.h.independence"},
	{time.December, 24, "workday.h.christmas_eve"},
	{time.December, 25, "workday.h.christmas"},
	{time.December, 26, "workday.h.christmas"},
}

// holidays computes the official holidays of year y and the substitute days of чл. 154, ал. 2 КТ: for
// every fixed holiday on a Saturday or Sunday, in date order, the first following day that is neither a
// weekend nor a holiday nor already a substitute. Easter days on a weekend get no substitute.
func holidays(y int) map[Date]day {
	m := make(map[Date]day, 20)
	e := OrthodoxEaster(y)
	for i, name := range []string{"workday.h.good_friday", "workday.h.holy_saturday", "workday.h.easter", "workday.h.easter"} {
		m[e.AddDays(i-2)] = day{Holiday, name}
	}
	for _, f := range fixed {
		m[New(y, f.m, f.d)] = day{Holiday, f.name}
	}
	for _, f := range fixed {
		d := New(y, f.m, f.d)
		if !weekend(d) {
			continue
		}
		s := d.AddDays(1)
		for {
			if _, taken := m[s]; !taken && !weekend(s) {
				break
			}
			s = s.AddDays(1)
		}
		m[s] = day{Substitute, f.name}
	}
	return m
}

func weekend(d Date) bool { wd := d.Weekday(); return wd == time.Saturday || wd == time.Sunday }

// OrthodoxEaster is the date of Orthodox Easter Sunday of a year in the Gregorian calendar: Meeus's
// Julian-calendar algorithm, then the difference between the calendars (13 days from 1900 to 2099).
func OrthodoxEaster(year int) Date {
	a, b, c := year%4, year%7, year%19
	d := (19*c + 15) % 30
	e := (2*a + 4*b - d + 34) % 7
	month := (d + e + 114) / 31
	day := (d+e+114)%31 + 1
	shift := year/100 - year/400 - 2 // Julian to Gregorian, valid for March to December
	return New(year, time.Month(month), day+shift)
}

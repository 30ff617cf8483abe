package workday

import (
	"fmt"
	"time"
	_ "time/tzdata" // Europe/Sofia must resolve on a server without a zoneinfo database
)

// Sofia is the time zone of Bulgaria, in which the dates of the ordinance's deadlines are reckoned.
var Sofia = mustLoad("Europe/Sofia")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic("workday: " + err.Error()) // unreachable: time/tzdata is embedded
	}
	return l
}

// Date is a calendar date: a day of the Bulgarian calendar, not an instant. The zero Date is not a
// valid date (IsZero).
type Date struct {
	y int
	m time.Month
	d int
}

// New returns the date of year, month and day, normalising out-of-range values as time.Date does
// (31 April is 1 May).
func New(year int, month time.Month, day int) Date {
	return dateOf(time.Date(year, month, day, 12, 0, 0, 0, time.UTC))
}

// dateOf takes the civil date of a time in its own location.
func dateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// Of returns the date in Sofia of the instant t: 23:30 UTC on 1 March is already 2 March in Sofia.
func Of(t time.Time) Date { return dateOf(t.In(Sofia)) }

// Parse reads a date written YYYY-MM-DD.
func Parse(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("workday: date %q is not YYYY-MM-DD", s)
	}
	return dateOf(t), nil
}

// Year, Month and Day are the parts of the date.
func (d Date) Year() int { return d.y }

// Month is the month of the date.
func (d Date) Month() time.Month { return d.m }

// Day is the day of the month.
func (d Date) Day() int { return d.d }

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

func (d Date) noon() time.Time { return time.Date(d.y, d.m, d.d, 12, 0, 0, 0, time.UTC) }

// Weekday is the day of the week.
func (d Date) Weekday() time.Weekday { return d.noon().Weekday() }

// AddDays returns the date n calendar days after d (before, for a negative n).
func (d Date) AddDays(n int) Date { return dateOf(d.noon().AddDate(0, 0, n)) }

// Start is the first instant of the day in Sofia.
func (d Date) Start() time.Time { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, Sofia) }

// Compare returns -1, 0 or +1 as d is before, the same as or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.y != e.y:
		return cmp(d.y, e.y)
	case d.m != e.m:
		return cmp(int(d.m), int(e.m))
	}
	return cmp(d.d, e.d)
}

func cmp(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.Compare(e) < 0 }

// After reports whether d is after e.
func (d Date) After(e Date) bool { return d.Compare(e) > 0 }

// String writes the date as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.y, int(d.m), d.d) }

// Bulgarian writes the date as Bulgarian documents do: 02.01.2006.
func (d Date) Bulgarian() string { return fmt.Sprintf("%02d.%02d.%04d", d.d, int(d.m), d.y) }

// MarshalText writes YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads YYYY-MM-DD.
func (d *Date) UnmarshalText(b []byte) error {
	x, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = x
	return nil
}

package workday

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

func d(s string) Date {
	x, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return x
}

func TestOrthodoxEaster(t *testing.T) {
	for y, want := range map[int]string{
		1900: "1900-04-22", 2000: "2000-04-30", 2019: "2019-04-28", 2021: "2021-05-02", 2022: "2022-04-24",
		2023: "2023-04-16", 2024: "2024-05-05", 2025: "2025-04-20", 2026: "2026-04-12", 2027: "2027-05-02",
		2028: "2028-04-16", 2030: "2030-04-28",
	} {
		if got := OrthodoxEaster(y); got != d(want) {
			t.Errorf("Easter %d = %s, want %s", y, got, want)
		}
		if OrthodoxEaster(y).Weekday() != time.Sunday {
			t.Errorf("Easter %d is not a Sunday", y)
		}
	}
}

func TestKnownDays(t *testing.T) {
	cal := Bulgaria()
	for _, tc := range []struct {
		date string
		kind Kind
	}{
		// 2026: 6 September is a Sunday, so Monday 7 September is off; 24–26 December are Thursday to
		// Saturday, so Monday 28 December is off.
		{"2026-09-06", Holiday}, {"2026-09-07", Substitute}, {"2026-09-08", Working},
		{"2026-12-24", Holiday}, {"2026-12-25", Holiday}, {"2026-12-26", Holiday}, {"2026-12-27", Weekend},
		{"2026-12-28", Substitute}, {"2026-12-29", Working},
		{"2026-05-24", Holiday}, {"2026-05-25", Substitute},
		{"2026-04-10", Holiday}, {"2026-04-11", Holiday}, {"2026-04-12", Holiday}, {"2026-04-13", Holiday},
		{"2026-04-14", Working},
		{"2026-03-03", Holiday}, {"2026-03-04", Working},
		{"2026-01-02", DecreedOff}, {"2025-12-31", DecreedOff},
		// Easter days on a weekend give no substitute.
		{"2026-04-15", Working},
		// 2021: 1 May (Saturday) was also Holy Saturday, 3 May Easter Monday: the substitute is 4 May.
		{"2021-05-01", Holiday}, {"2021-05-03", Holiday}, {"2021-05-04", Substitute}, {"2021-05-05", Working},
		// 2021: 24–26 December Friday to Sunday: 27 and 28 December off.
		{"2021-12-27", Substitute}, {"2021-12-28", Substitute}, {"2021-12-29", Working},
		{"2022-01-03", Substitute}, {"2023-01-02", Substitute},
		// 2024: 6 May is both St George's Day and Easter Monday; 7 May is a working day.
		{"2024-05-06", Holiday}, {"2024-05-07", Working}, {"2024-05-03", Holiday},
		// 2025: 24 May and 6 September on Saturdays.
		{"2025-05-26", Substitute}, {"2025-09-08", Substitute}, {"2025-09-22", Holiday},
		// 2027: 1 May is Saturday and Holy Saturday; 3 May Easter Monday; 4 May substitute.
		{"2027-04-30", Holiday}, {"2027-05-04", Substitute}, {"2027-05-05", Working},
		{"2026-11-21", Weekend}, {"2026-11-23", Working},
	} {
		if got := cal.Kind(d(tc.date)); got != tc.kind {
			t.Errorf("%s: kind %d, want %d", tc.date, got, tc.kind)
		}
	}
	if Law().Kind(d("2026-01-02")) != Working {
		t.Error("the law alone knows no decree")
	}
}

func TestHolidaysOf2026(t *testing.T) {
	var got []string
	for _, h := range Law().Holidays(2026) {
		got = append(got, h.Date.String())
	}
	want := "2026-01-01 2026-03-03 2026-04-10 2026-04-11 2026-04-12 2026-04-13 2026-05-01 2026-05-06 2026-05-24 " +
		"2026-05-25 2026-09-06 2026-09-07 2026-09-22 2026-12-24 2026-12-25 2026-12-26 2026-12-28"
	if strings.Join(got, " ") != want {
		t.Errorf("holidays of 2026:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestAddWorkingDays(t *testing.T) {
	cal := Bulgaria()
	for _, tc := range []struct {
		from string
		n    int
		want string
	}{
		{"2026-12-23", 1, "2026-12-29"},
		{"2026-12-29", -1, "2026-12-23"},
		{"2026-12-23", 7, "2027-01-07"}, // 29, 30, 31 Dec, (1 Jan), 4, 5, 6, 7 Jan
		{"2026-09-04", 1, "2026-09-08"},
		{"2026-09-08", -1, "2026-09-04"},
		{"2026-11-20", 1, "2026-11-23"},
		{"2026-11-21", 0, "2026-11-21"},
		{"2026-11-21", 1, "2026-11-23"},
		{"2026-11-21", -1, "2026-11-20"},
		{"2025-12-30", 1, "2026-01-05"}, // 31 Dec and 2 Jan decreed off, 1 Jan a holiday
	} {
		if got := cal.AddWorkingDays(d(tc.from), tc.n); got != d(tc.want) {
			t.Errorf("AddWorkingDays(%s, %d) = %s, want %s", tc.from, tc.n, got, tc.want)
		}
	}
	if got := cal.NextWorkingDay(d("2026-12-24")); got != d("2026-12-29") {
		t.Errorf("NextWorkingDay = %s", got)
	}
	if got := cal.PrevWorkingDay(d("2026-04-14")); got != d("2026-04-09") {
		t.Errorf("PrevWorkingDay = %s", got)
	}
}

func TestWorkingDaysBetweenInvertsAdd(t *testing.T) {
	cal := Bulgaria()
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		from := New(2020, time.January, 1).AddDays(r.IntN(3650))
		n := r.IntN(41) - 20
		to := cal.AddWorkingDays(from, n)
		if got := cal.WorkingDaysBetween(from, to); got != n {
			t.Fatalf("WorkingDaysBetween(%s, %s) = %d, want %d", from, to, got, n)
		}
		if n != 0 && !cal.IsWorkingDay(to) {
			t.Fatalf("AddWorkingDays(%s, %d) = %s, not a working day", from, n, to)
		}
	}
	if got := cal.WorkingDaysBetween(d("2026-12-01"), d("2026-12-31")); got != 19 {
		// December 2026: 23 weekdays less 24, 25 (holidays), 28 (substitute) and 1 December itself.
		t.Errorf("working days in December 2026 after the 1st = %d, want 19", got)
	}
}

func TestOverrides(t *testing.T) {
	src := "# РМС\n2026-12-28 off\n\n2026-12-19 work  отработване # comment\n2026-12-30 OFF\n2026-12-30 off\n"
	o, err := ReadOverrides(strings.NewReader(src), "cal.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(o) != 3 || o[1].Note != "отработване" || !o[1].Working || o[0].Note != "cal.txt:2" {
		t.Fatalf("overrides = %+v", o)
	}
	cal := Bulgaria().With(o)
	if !cal.IsWorkingDay(d("2026-12-19")) || cal.IsWorkingDay(d("2026-12-30")) {
		t.Error("overrides not applied")
	}
	if cal.Kind(d("2026-12-19")) != DecreedWork {
		t.Error("Saturday 19 December is not a decreed working day")
	}
	if got := cal.AddWorkingDays(d("2026-12-18"), 1); got != d("2026-12-19") {
		t.Errorf("next working day after 18 Dec = %s", got)
	}
	if Bulgaria().IsWorkingDay(d("2026-12-30")) == false {
		t.Error("With changed the calendar it was called on")
	}
	msg, off := cal.Why(d("2026-12-30"))
	if !off || msg.Key != "workday.decreed_off" {
		t.Errorf("Why = %v %v", msg, off)
	}
}

func TestOverrideErrors(t *testing.T) {
	for src, want := range map[string]struct {
		line int
		key  string
	}{
		"2026-12-28":                       {1, "workday.file.syntax"},
		"\n2026-13-28 off":                 {2, "workday.file.date"},
		"2026-12-28 holiday":               {1, "workday.file.kind"},
		"2026-12-28 off\n2026-12-28 work":  {2, "workday.file.conflict"},
		strings.Repeat("#", MaxFileSize+1): {0, "workday.file.too_large"},
	} {
		_, err := ReadOverrides(strings.NewReader(src), "f")
		var we *Error
		if !errors.As(err, &we) || we.Line != want.line || we.Msg.Key != want.key {
			t.Errorf("%.30q: %v, want line %d %s", src, err, want.line, want.key)
			continue
		}
		if s := we.Text(i18n.For(i18n.BG)); strings.Contains(s, "%!") {
			t.Errorf("bad Bulgarian text %q", s)
		}
	}
	if _, err := ReadOverridesFile("testdata/no-such-file"); err == nil {
		t.Error("a missing file gave no error")
	}
}

func TestDate(t *testing.T) {
	if got := Of(time.Date(2026, 3, 1, 22, 30, 0, 0, time.UTC)); got != d("2026-03-02") {
		t.Errorf("Of(22:30 UTC on 1 March) = %s: Sofia is UTC+2", got)
	}
	if got := d("2026-03-02").Start(); !got.Equal(time.Date(2026, 3, 1, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("Start = %s", got)
	}
	if New(2026, time.April, 31) != d("2026-05-01") || d("2026-05-01").Bulgarian() != "01.05.2026" {
		t.Error("normalisation or Bulgarian form")
	}
	if _, err := Parse("2026-02-30"); err == nil {
		t.Error("30 February parsed")
	}
	var z Date
	if !z.IsZero() || d("2026-01-01").IsZero() {
		t.Error("IsZero")
	}
	if err := z.UnmarshalText([]byte("2026-09-06")); err != nil || z.Weekday() != time.Sunday {
		t.Errorf("UnmarshalText: %v %s", err, z.Weekday())
	}
}

func TestHolidayNamesInCatalogue(t *testing.T) {
	for y := 2020; y < 2030; y++ {
		for _, h := range Bulgaria().Holidays(y) {
			if !i18n.Has(i18n.BG, h.Name) || !i18n.Has(i18n.EN, h.Name) {
				t.Errorf("holiday name key %q missing", h.Name)
			}
		}
	}
}

func FuzzReadOverrides(f *testing.F) {
	f.Add("2026-12-28 off\n2026-12-19 work note # c\n")
	f.Add("2026-12-28 off\n2026-12-28 work\n")
	f.Add("x")
	f.Fuzz(func(t *testing.T, src string) {
		o, err := ReadOverrides(strings.NewReader(src), "f")
		if err != nil {
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		cal := Bulgaria().With(o)
		for _, x := range o {
			if cal.IsWorkingDay(x.Date) != x.Working {
				t.Fatalf("override %v not applied", x)
			}
		}
	})
}

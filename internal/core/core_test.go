package core

import (
	"testing"
	"time"
)

// The limits of чл. 30, ал. 13, т. 1–8, as the ordinance words them.
func TestIntervalClassLimits(t *testing.T) {
	want := map[IntervalClass]struct {
		d     time.Duration
		point int
	}{
		ClassRoadLoading:    {10 * time.Minute, 1},
		ClassRailLoading:    {15 * time.Minute, 2},
		ClassMarineTerminal: {time.Hour, 3},
		ClassPipeline:       {time.Hour, 4},
		ClassScale:          {2 * time.Minute, 5},
		ClassAlcohol:        {10 * time.Minute, 6},
		ClassCounter:        {15 * time.Second, 7},
		ClassCNGDispenser:   {3 * time.Minute, 8},
	}
	if len(IntervalClasses) != len(want) {
		t.Fatalf("%d classes listed, чл. 30(13) has %d", len(IntervalClasses), len(want))
	}
	for i, c := range IntervalClasses {
		w, ok := want[c]
		if !ok {
			t.Fatalf("unexpected class %q", c)
		}
		if c.MaxInterval() != w.d || c.Point() != w.point || c.Point() != i+1 {
			t.Errorf("%s: limit %v т. %d, want %v т. %d", c, c.MaxInterval(), c.Point(), w.d, w.point)
		}
		if got, err := ParseIntervalClass(string(c)); err != nil || got != c {
			t.Errorf("ParseIntervalClass(%q) = %q, %v", c, got, err)
		}
	}
	if _, err := ParseIntervalClass("truck"); err == nil {
		t.Error("ParseIntervalClass accepted an unknown class")
	}
	if IntervalClass("x").MaxInterval() != 0 {
		t.Error("an unknown class has a limit")
	}
}

func TestRoles(t *testing.T) {
	for _, r := range Roles {
		if !r.Valid() {
			t.Errorf("%q not valid", r)
		}
	}
	if Role("speed").Valid() {
		t.Error("unknown role valid")
	}
	tot := 0
	for _, r := range Roles {
		if r.Totalizer() {
			tot++
		}
	}
	if tot != 5 || !RoleTotalMass.Totalizer() || RoleFlow.Totalizer() {
		t.Errorf("totalizer roles wrong: %d", tot)
	}
	if !ModeTransaction.Valid() || Mode("batch").Valid() || !DirectionBoth.Valid() || Direction("up").Valid() {
		t.Error("mode/direction validity wrong")
	}
}

func TestPointID(t *testing.T) {
	p, err := ParsePointID("BGNCA00005001001002")
	if err != nil {
		t.Fatal(err)
	}
	if p.Warehouse != "BGNCA00005001" || p.Box != 1 || p.Point != 2 || p.String() != "BGNCA00005001001002" {
		t.Errorf("parsed %+v", p)
	}
	for _, bad := range []string{
		"", "BGNCA00005001001", "BGNCA0000500100100X", "XXNCA00005001001001", "BGnca00005001001001",
		"BGNCA00005001000001", "BGNCA00005001001000", "BGNCA000050010010011",
	} {
		if _, err := ParsePointID(bad); err == nil {
			t.Errorf("ParsePointID(%q) accepted", bad)
		}
	}
}

func TestValidEIK(t *testing.T) {
	// Real, published EIKs (state bodies and companies), and the same with one digit changed.
	for _, ok := range []string{"175074752", "000627597", "831902088", "121004736", "130460283"} {
		if !ValidEIK(ok) {
			t.Errorf("ValidEIK(%q) = false", ok)
		}
		bad := []byte(ok)
		bad[8] = '0' + (bad[8]-'0'+1)%10
		if ValidEIK(string(bad)) {
			t.Errorf("ValidEIK(%q) = true with a wrong check digit", bad)
		}
	}
	for _, s := range []string{"", "12345678", "17507475a", "1750747521", "175074752x001"} {
		if ValidEIK(s) {
			t.Errorf("ValidEIK(%q) = true", s)
		}
	}
	// 13 digits: the 9-digit code, a 3-digit branch number and the second check digit.
	found := 0
	for c := byte('0'); c <= '9'; c++ {
		if ValidEIK("175074752001" + string(c)) {
			found++
		}
	}
	if found != 1 {
		t.Errorf("%d check digits valid for one 13-digit code, want exactly 1", found)
	}
}

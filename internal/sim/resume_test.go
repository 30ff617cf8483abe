package sim

import (
	"strconv"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
)

// TestResumeTotals: a run started with Options.Totals from an earlier run's State shows every totalizer
// where the earlier run left it, so that none goes back across a restart (чл. 30, ал. 6).
func TestResumeTotals(t *testing.T) {
	sc, err := LoadFile("../../examples/fuel-depot/scenario.xml")
	if err != nil {
		t.Fatal(err)
	}
	first, err := New(sc, Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Advance(3 * time.Hour); err != nil {
		t.Fatal(err)
	}
	totals := map[string]map[core.Role]float64{}
	was := map[string]map[string]string{}
	for _, p := range first.State().Points {
		totals[p.ID], was[p.ID] = map[core.Role]float64{}, map[string]string{}
		for role, v := range p.Values {
			if core.Role(role).Totalizer() {
				f, _ := strconv.ParseFloat(v, 64)
				totals[p.ID][core.Role(role)], was[p.ID][role] = f, v
			}
		}
	}
	first.Close()
	second, err := New(sc, Options{Seed: 3, Totals: totals})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	n := 0
	for _, p := range second.State().Points {
		for role, v := range was[p.ID] {
			n++
			if p.Values[role] != v {
				t.Errorf("%s %s: %s after the restart, %s before", p.ID, role, p.Values[role], v)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d totalizers compared", n)
	}
	// And they count on from there, through transactions, never going back.
	last := was
	for minute := 0; minute < 180; minute++ {
		if err := second.Advance(time.Minute); err != nil {
			t.Fatal(err)
		}
		now := map[string]map[string]string{}
		for _, p := range second.State().Points {
			now[p.ID] = map[string]string{}
			for role := range was[p.ID] {
				before, _ := strconv.ParseFloat(last[p.ID][role], 64)
				after, _ := strconv.ParseFloat(p.Values[role], 64)
				if after < before {
					t.Fatalf("%s %s: %v at minute %d after the restart, down from %v", p.ID, role, after, minute+1, before)
				}
				now[p.ID][role] = p.Values[role]
			}
		}
		last = now
	}
}

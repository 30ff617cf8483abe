package agent

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbus"
)

// tagAt is a register tag of controller ctl at a physical address.
func tagAt(ctl string, table config.Table, addr, size int) *config.Tag {
	t := &config.Tag{Name: fmt.Sprintf("%s_%s_%d_%d", ctl, table, addr, size), Controller: ctl, Table: table,
		Physical: addr, Size: size, Type: modbus.Uint16, Role: core.RoleValue}
	switch {
	case table.Bits():
		t.Type, t.Size = modbus.Bit, 1
	case size == 2:
		t.Type = modbus.Uint32
	case size == 4:
		t.Type = modbus.Uint64
	}
	return t
}

// planConfig is a configuration of one point with tags on the given controllers.
func planConfig(ctls []*config.Controller, tags ...*config.Tag) *config.Config {
	p := &config.Point{ID: "BGNCA00005001001001", Class: core.ClassRoadLoading, Mode: core.ModeContinuous,
		Direction: core.DirectionOut, Interval: time.Minute, Tags: tags}
	return &config.Config{Site: config.Site{Warehouse: "BGNCA00005001"}, Box: config.Box{Number: 1},
		Controllers: ctls, Points: []*config.Point{p}}
}

type span3 struct{ unit, addr, qty int }

func requestsOf(p *Plan) []span3 {
	var out []span3
	for _, c := range p.Controllers {
		for _, r := range c.Requests {
			out = append(out, span3{int(r.Unit), r.Address, r.Quantity})
		}
	}
	return out
}

func TestPlanCoalescing(t *testing.T) {
	hr := config.HoldingRegisters
	tests := []struct {
		name   string
		quirks config.Quirks
		tags   []*config.Tag
		want   []span3
	}{
		{"adjacent", config.Quirks{}, []*config.Tag{tagAt("a", hr, 0, 2), tagAt("a", hr, 2, 2), tagAt("a", hr, 4, 1)},
			[]span3{{1, 0, 5}}},
		{"gap not allowed", config.Quirks{}, []*config.Tag{tagAt("a", hr, 0, 2), tagAt("a", hr, 3, 1)},
			[]span3{{1, 0, 2}, {1, 3, 1}}},
		{"gap read through", config.Quirks{MaxGap: 4}, []*config.Tag{tagAt("a", hr, 0, 2), tagAt("a", hr, 6, 2), tagAt("a", hr, 13, 1)},
			[]span3{{1, 0, 8}, {1, 13, 1}}},
		{"protocol limit", config.Quirks{MaxGap: 200}, []*config.Tag{tagAt("a", hr, 0, 2), tagAt("a", hr, 122, 2), tagAt("a", hr, 124, 2)},
			[]span3{{1, 0, 124}, {1, 124, 2}}},
		{"protocol limit exactly", config.Quirks{MaxGap: 200}, []*config.Tag{tagAt("a", hr, 0, 2), tagAt("a", hr, 123, 2)},
			[]span3{{1, 0, 125}}},
		{"quirk limit", config.Quirks{MaxRegisters: 4}, []*config.Tag{tagAt("a", hr, 0, 2), tagAt("a", hr, 2, 2), tagAt("a", hr, 4, 2)},
			[]span3{{1, 0, 4}, {1, 4, 2}}},
		{"one request per tag", config.Quirks{OneRequestPerTag: true}, []*config.Tag{tagAt("a", hr, 0, 2), tagAt("a", hr, 2, 2)},
			[]span3{{1, 0, 2}, {1, 2, 2}}},
		{"coils", config.Quirks{MaxGap: 10}, []*config.Tag{tagAt("a", config.Coils, 0, 1), tagAt("a", config.Coils, 5, 1), tagAt("a", config.Coils, 30, 1)},
			[]span3{{1, 0, 6}, {1, 30, 1}}},
		{"coil limit", config.Quirks{MaxCoils: 8, MaxGap: 100}, []*config.Tag{tagAt("a", config.Coils, 0, 1), tagAt("a", config.Coils, 7, 1), tagAt("a", config.Coils, 8, 1)},
			[]span3{{1, 0, 8}, {1, 8, 1}}},
		{"tables apart", config.Quirks{MaxGap: 100}, []*config.Tag{tagAt("a", hr, 0, 1), tagAt("a", config.InputRegisters, 1, 1), tagAt("a", config.DiscreteInputs, 2, 1)},
			[]span3{{1, 2, 1}, {1, 1, 1}, {1, 0, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &config.Controller{ID: "a", Unit: 1, Quirks: tc.quirks}
			cfg := planConfig([]*config.Controller{c}, tc.tags...)
			plan := PlanConfig(cfg)
			if got := requestsOf(plan); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("requests %v, want %v", got, tc.want)
			}
			if m := MinimumRequests(cfg); m != plan.Requests() {
				t.Errorf("minimum %d, plan %d", m, plan.Requests())
			}
		})
	}
}

func TestPlanUnitsAndIntervals(t *testing.T) {
	hr := config.HoldingRegisters
	two := 2
	fast := tagAt("a", hr, 2, 1)
	fast.ReadInterval = time.Second
	other := tagAt("a", hr, 1, 1)
	other.UnitID = &two
	c := &config.Controller{ID: "a", Unit: 1, Quirks: config.Quirks{MaxGap: 10}}
	cfg := planConfig([]*config.Controller{c}, tagAt("a", hr, 0, 1), other, fast, tagAt("a", hr, 3, 1))
	got := requestsOf(PlanConfig(cfg))
	// Unit 1 at the point's minute: 0 and 3 read through the gap; unit 1 at a second: 2; unit 2: 1.
	want := []span3{{1, 2, 1}, {1, 0, 4}, {2, 1, 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests %v, want %v", got, want)
	}
}

func TestPlanIntervals(t *testing.T) {
	p := &config.Point{Class: core.ClassCounter, Interval: time.Hour}
	if got := PointInterval(p); got != 15*time.Second {
		t.Errorf("point interval %s beyond the class maximum", got)
	}
	tag := &config.Tag{ReadInterval: time.Hour}
	if got := TagInterval(tag, p); got != 15*time.Second {
		t.Errorf("tag interval %s beyond the class maximum", got)
	}
	if got := TagInterval(&config.Tag{}, nil); got != config.DefaultBoxReadInterval {
		t.Errorf("box tag interval %s", got)
	}
}

func TestPlanSamples(t *testing.T) {
	for _, site := range []string{"fuel-depot", "distillery", "tobacco-factory", "cng-station"} {
		cfg := loadSample(t, site)
		plan := PlanConfig(cfg)
		checkPlan(t, cfg, plan)
		if m := MinimumRequests(cfg); m != plan.Requests() {
			t.Errorf("%s: plan %d requests, minimum %d", site, plan.Requests(), m)
		}
		t.Logf("%s: requests_per_scan=%d minimum=%d", site, plan.Requests(), MinimumRequests(cfg))
	}
}

// checkPlan checks the plan's invariants: every tag read exactly once, within its request, requests
// within the limits, gaps within MaxGap, one tag range per request under OneRequestPerTag.
func checkPlan(t *testing.T, cfg *config.Config, plan *Plan) {
	t.Helper()
	seen := map[*config.Tag]int{}
	for _, cp := range plan.Controllers {
		c := cp.Controller
		for _, r := range cp.Requests {
			maxQty, maxGap := limits(c, r.Table)
			if r.Quantity > maxQty && len(r.Tags) > 1 {
				t.Errorf("request %+v beyond the limit %d", r, maxQty)
			}
			end := r.Address
			for i, s := range r.Tags {
				seen[s.Ref.Tag]++
				a, n := span(s.Ref.Tag)
				if a != r.Address+s.Offset || s.Offset+n > r.Quantity {
					t.Errorf("tag %s at %d+%d outside request %d+%d", s.Ref.Tag.Name, a, n, r.Address, r.Quantity)
				}
				if i > 0 && a-end > maxGap {
					t.Errorf("gap %d > %d before %s", a-end, maxGap, s.Ref.Tag.Name)
				}
				if c.Quirks.OneRequestPerTag && (a != r.Address || n != r.Quantity) {
					t.Errorf("one request per tag: %s in %d+%d", s.Ref.Tag.Name, r.Address, r.Quantity)
				}
				end = max(end, a+n)
				if s.Ref.Tag.Controller != c.ID || s.Ref.Tag.Table != r.Table || byte(s.Ref.Tag.EffectiveUnitID(c)) != r.Unit {
					t.Errorf("tag %s in a request of another connection, unit or table", s.Ref.Tag.Name)
				}
			}
		}
	}
	for _, ref := range cfg.Tags() {
		if seen[ref.Tag] != 1 {
			t.Errorf("tag %s read %d times", ref.Tag.Name, seen[ref.Tag])
		}
	}
}

// TestPlanMinimumProperty compares the greedy planner with the dynamic programme on random maps.
func TestPlanMinimumProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tables := []config.Table{config.HoldingRegisters, config.InputRegisters, config.Coils, config.DiscreteInputs}
	for iter := range 500 {
		var ctls []*config.Controller
		for i := range 1 + rng.IntN(3) {
			q := config.Quirks{MaxGap: rng.IntN(12), OneRequestPerTag: rng.IntN(6) == 0}
			if rng.IntN(2) == 0 {
				q.MaxRegisters = 2 + rng.IntN(40)
			}
			if rng.IntN(2) == 0 {
				q.MaxCoils = 1 + rng.IntN(30)
			}
			ctls = append(ctls, &config.Controller{ID: fmt.Sprintf("c%d", i), Unit: 1 + i, Quirks: q})
		}
		var tags []*config.Tag
		for range 1 + rng.IntN(80) {
			c := ctls[rng.IntN(len(ctls))]
			table := tables[rng.IntN(len(tables))]
			size := []int{1, 2, 4}[rng.IntN(3)]
			tag := tagAt(c.ID, table, rng.IntN(300), size)
			tag.Name = fmt.Sprintf("t%d", len(tags))
			if rng.IntN(4) == 0 {
				tag.ReadInterval = time.Second
			}
			if rng.IntN(5) == 0 {
				u := 9
				tag.UnitID = &u
			}
			tags = append(tags, tag)
		}
		cfg := planConfig(ctls, tags...)
		plan := PlanConfig(cfg)
		checkPlan(t, cfg, plan)
		if got, m := plan.Requests(), MinimumRequests(cfg); got != m {
			t.Fatalf("iteration %d: plan %d requests, minimum %d: %v", iter, got, m, requestsOf(plan))
		}
	}
}

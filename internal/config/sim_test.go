package config_test

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbus"
	"github.com/akciz/akciz/internal/sim"
)

// TestSamplesMatchScenarios checks that each sample configuration describes the register map of the
// simulator scenario beside it, so that the agent reads `akciz sim` correctly with it: every register of
// the scenario has a tag at the same unit, table and address, with the same type, byte order, bit, role and
// scale (as the normalisation formula), in a point of the same class, mode and direction; and products map
// to the same raw values.
func TestSamplesMatchScenarios(t *testing.T) {
	dirs, _ := filepath.Glob("../../examples/*")
	n := 0
	for _, dir := range dirs {
		scPath := filepath.Join(dir, "scenario.xml")
		cfgPath := filepath.Join(dir, "automation_config.xml")
		sc, err := sim.LoadFile(scPath)
		if err != nil {
			continue // not every example need have a scenario
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c, err := config.Load(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			if c.Site.ID() != sc.Warehouse || c.Box.Number != sc.Box {
				t.Errorf("site %s box %d, scenario %s box %d", c.Site.ID(), c.Box.Number, sc.Warehouse, sc.Box)
			}
			type place struct {
				unit  int
				table string
				addr  int
				bit   int
			}
			tags := map[place]config.TagRef{}
			for _, r := range c.Tags() {
				u := r.Tag.EffectiveUnitID(c.Controller(r.Tag.Controller))
				tags[place{u, r.Tag.Table.String(), r.Tag.Physical, r.Tag.Bit}] = r
			}
			seen := 0
			check := func(unit byte, reg *sim.Register, pointID string) {
				bit := 0
				if reg.Type == modbus.Bit && !reg.Table.Bits() {
					bit = reg.Bit
				}
				at := place{int(unit), reg.Table.String(), int(reg.Address), bit}
				r, ok := tags[at]
				if !ok {
					t.Errorf("scenario register %+v (role %s) has no tag", at, reg.Role)
					return
				}
				seen++
				tag := r.Tag
				id := ""
				if r.Point != nil {
					id = r.Point.ID
				}
				if id != pointID {
					t.Errorf("tag %s is in point %q, the scenario's register in %q", tag.Name, id, pointID)
				}
				if tag.Role != reg.Role {
					t.Errorf("tag %s: role %s, scenario %s", tag.Name, tag.Role, reg.Role)
				}
				if want := reg.Type; want != "" && tag.Type != want {
					t.Errorf("tag %s: type %s, scenario %s", tag.Name, tag.Type, want)
				}
				if o, w := orDefault(tag.Order), orDefault(reg.Order); tag.Type.Registers() > 1 && o != w {
					t.Errorf("tag %s: order %s, scenario %s", tag.Name, o, w)
				}
				if reg.Of != "" && tag.Totalizer(r.Point).Role != reg.Of {
					t.Errorf("tag %s belongs to %s, scenario %s", tag.Name, tag.Totalizer(r.Point).Role, reg.Of)
				}
				scale := reg.Scale
				if scale == 0 {
					scale = 1
				}
				if got := tag.Normalize(1000); math.Abs(got-1000*scale) > 1e-9 {
					t.Errorf("tag %s: 1000 normalises to %v, the scenario's scale gives %v", tag.Name, got, 1000*scale)
				}
			}
			for _, d := range sc.Devices {
				for _, reg := range d.Registers {
					check(d.Unit, reg, "")
				}
				for _, p := range d.Points {
					id := fmt.Sprintf("%s%03d%03d", sc.Warehouse, sc.Box, p.Number)
					cp := c.Point(id)
					if cp == nil {
						t.Errorf("scenario point %s is not in the configuration", id)
						continue
					}
					if cp.Class != p.Class || cp.Mode != p.Mode || cp.Direction != p.Direction {
						t.Errorf("point %s: %s/%s/%s, scenario %s/%s/%s", id, cp.Class, cp.Mode, cp.Direction, p.Class, p.Mode, p.Direction)
					}
					for _, reg := range p.Registers {
						check(d.Unit, reg, id)
					}
					for _, pr := range p.Products {
						got := cp.ProductFor(int64(pr.Raw))
						if cp.Product(pr.Code) == nil || (len(cp.TagsWithRole(core.RoleProductCode)) > 0 && (got == nil || got.Code != pr.Code)) {
							t.Errorf("point %s: product %s (raw %d) is not mapped", id, pr.Code, pr.Raw)
						}
					}
					var eb []*config.ErrorBit
					for _, tg := range cp.TagsWithRole(core.RoleErrorBits) {
						eb = append(eb, tg.ErrorBits...)
					}
					for _, e := range p.Errors {
						found := false
						for _, b := range eb {
							found = found || (b.Bit == e.Bit && b.Code == e.Code)
						}
						if !found {
							t.Errorf("point %s: error bit %d %s is not in the configuration", id, e.Bit, e.Code)
						}
					}
				}
			}
			if seen != len(tags) {
				t.Errorf("%d tags, of which %d match a register of the scenario: the agent would read addresses the simulator does not serve", len(tags), seen)
			}
		})
	}
	if n == 0 {
		t.Fatal("no scenarios in examples/: the samples and their scenarios belong together")
	}
}

func orDefault(o modbus.ByteOrder) modbus.ByteOrder {
	if o == "" {
		return modbus.ABCD
	}
	return o
}

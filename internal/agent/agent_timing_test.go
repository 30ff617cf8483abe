package agent

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbus"
)

// discard is a Sink that keeps nothing.
type discard struct{ n int }

func (d *discard) Emit(context.Context, *core.Record) error { d.n++; return nil }

// bigConfig generates a site of 50 points × 20 tags = 1,000 tags on 4 units of one gateway: totalizers,
// floats, status words and coils, with holes in the map so that the gap rule matters.
func bigConfig() *config.Config {
	ctl := &config.Controller{ID: "gw", Unit: 1, Quirks: config.Quirks{MaxGap: 2}}
	cfg := &config.Config{Site: config.Site{Warehouse: "BGNCA00005001"}, Box: config.Box{Number: 1},
		Controllers: []*config.Controller{ctl}}
	addr := map[int]int{}
	for i := range 50 {
		unit := 1 + i%4
		p := &config.Point{ID: fmt.Sprintf("BGNCA00005001001%03d", i+1), Class: core.ClassRoadLoading,
			Mode: core.ModeContinuous, Direction: core.DirectionOut, Interval: time.Minute}
		for j := range 20 {
			u := unit
			t := &config.Tag{Name: fmt.Sprintf("p%d_t%d", i, j), Controller: "gw", UnitID: &u, Role: core.RoleValue,
				Table: config.HoldingRegisters}
			switch j % 5 {
			case 0:
				t.Type, t.Size, t.Role, t.Unit = modbus.Uint32, 2, core.RoleValue, "L"
			case 1:
				t.Type, t.Size, t.Order = modbus.Float32, 2, modbus.CDAB
			case 2:
				t.Type, t.Size = modbus.Int16, 1
			case 3:
				t.Type, t.Size, t.Table = modbus.Bit, 1, config.Coils
			case 4:
				t.Type, t.Size, t.Table = modbus.Uint64, 4, config.InputRegisters
			}
			key := unit*10 + int(t.Table)
			t.Physical = addr[key]
			addr[key] += t.Size + j%3 // a hole of 0–2 after some tags
			p.Tags = append(p.Tags, t)
		}
		cfg.Points = append(cfg.Points, p)
	}
	return cfg
}

// BenchmarkScan is one full scan of a 1,000-tag site over Modbus TCP on loopback against a
// modbus.Memory: every request, decoding, detection and 50 readings.
func BenchmarkScan(b *testing.B) {
	cfg := bigConfig()
	mem := modbus.NewMemory(modbus.MemoryLayout{HoldingRegisters: 4096, InputRegisters: 4096, Coils: 4096, DiscreteInputs: 16}, 1, 2, 3, 4)
	for u := byte(1); u <= 4; u++ {
		// Values of many digits, as totalizers have: small integers would hide the cost of rendering them.
		_ = mem.Update(u, func(bk *modbus.Bank) {
			for i := range bk.HoldingRegisters {
				bk.HoldingRegisters[i] = uint16(i*7919 + int(u))
				bk.InputRegisters[i] = uint16(i*104729 + int(u))
				bk.Coils[i] = i%3 == 0
			}
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &modbus.Server{Handler: mem}
	go srv.ServeTCP(ctx, ln)
	clk := newFakeClock(t0)
	sink := &discard{}
	p, err := New(cfg, sink, Options{Clock: clk, Dial: func(*config.Controller) (Conn, error) {
		return modbus.NewClient(modbus.ClientConfig{Transport: modbus.TCP, Address: ln.Addr().String()})
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	plan := PlanConfig(cfg)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clk.Advance(time.Minute)
		if err := p.Poll(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(plan.Requests()), "requests_per_scan")
	b.ReportMetric(float64(MinimumRequests(cfg)), "minimum")
	b.Logf("requests_per_scan=%d minimum=%d tags=%d", plan.Requests(), MinimumRequests(cfg), len(cfg.Tags()))
}

// BenchmarkPlan is the planning of the 1,000-tag site.
func BenchmarkPlan(b *testing.B) {
	cfg := bigConfig()
	b.ReportAllocs()
	for b.Loop() {
		PlanConfig(cfg)
	}
}

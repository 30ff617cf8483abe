package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbus"
)

// unitLog answers for unit 1 from the memory, never for unit 2 (a dead slave behind the same gateway),
// and notes when each unit was asked.
type unitLog struct {
	modbus.Handler
	clk  *fakeClock
	mu   sync.Mutex
	asks map[byte][]time.Time
}

func (u *unitLog) ReadHoldingRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	u.mu.Lock()
	u.asks[unit] = append(u.asks[unit], u.clk.Now())
	u.mu.Unlock()
	if unit == 2 {
		return modbus.ErrTimeout
	}
	return u.Handler.ReadHoldingRegisters(ctx, 1, addr, dst)
}

// One dead slave on the same connection as a live one (an RS-485 bus or a gateway: one connection, two
// unit ids): the dead one alone is backed off; the live one is read on its cadence, at every minute, as if
// nothing had happened, and every reading carries its value. A back-off shared by the connection would
// shift the live slave's reads off its cadence (the Telegraf complaint of the issue).
func TestDeadSlaveOnSharedConnection(t *testing.T) {
	c := &config.Controller{ID: "gw", Unit: 1}
	live, dead := tagAt("gw", config.HoldingRegisters, 0, 1), tagAt("gw", config.HoldingRegisters, 10, 1)
	two := 2
	dead.UnitID = &two
	r := newMemRig(t, planConfig([]*config.Controller{c}, live, dead))
	r.set(t, 0, 42)
	h := &unitLog{Handler: r.conn.h, clk: r.clk, asks: map[byte][]time.Time{}}
	r.conn.h = h
	r.poll(t)
	for range 600 {
		r.clk.Advance(time.Second)
		r.poll(t)
	}
	if n := len(h.asks[2]); n > 40 {
		t.Errorf("the dead slave was asked %d times in 10 minutes: no back-off", n)
	}
	ones := h.asks[1]
	if len(ones) != 11 {
		t.Fatalf("the live slave was asked %d times in 10 minutes, want 11 (every minute): %v", len(ones), ones)
	}
	for i, at := range ones {
		if want := t0.Add(time.Duration(i) * time.Minute); !at.Equal(want) {
			t.Errorf("live slave read %d at %s, want %s", i, at.Format(time.TimeOnly), want.Format(time.TimeOnly))
		}
	}
	rd := r.sink.kind(core.KindReading)
	if len(rd) != 11 {
		t.Fatalf("%d readings, want 11", len(rd))
	}
	for _, x := range rd {
		if len(x.Reading.Values) != 1 || x.Reading.Values[0].Value != "42" {
			t.Fatalf("reading at %s: %+v", x.Time, x.Reading.Values)
		}
	}
	if lost := r.sink.events(core.EventCommunicationLost); len(lost) != 1 {
		t.Errorf("%d communication-lost events, want 1 (unit 2)", len(lost))
	}
}

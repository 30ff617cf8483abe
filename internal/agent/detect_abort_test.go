package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/formula"
)

// The totals cannot be read at the 1→0 edge of a transaction nor at the 0→1 edge of the next one: the
// first is aborted (not closed with the second's totals), and the second begins at its edge, with the
// totals of the first scan that reads them.
func TestTransactionAbortedAtNextEdge(t *testing.T) {
	c := &config.Controller{ID: "plc", Unit: 1}
	total := tagAt("plc", config.HoldingRegisters, 0, 2)
	total.Role, total.Unit = core.RoleTotalVolume, "L"
	total.Compiled, total.ReadInterval = formula.MustCompile("x * 0.1"), time.Second
	ind := tagAt("plc", config.HoldingRegisters, 2, 1)
	ind.Role, ind.ReadInterval = core.RoleTransactionFlag, time.Second
	cfg := planConfig([]*config.Controller{c}, total, ind)
	p := cfg.Points[0]
	p.Mode = core.ModeTransaction
	p.Products = []*config.Product{{Code: "DB6", TradeName: "Дизел"}}
	r := newMemRig(t, cfg)
	put := func(tot uint32, on uint16) {
		r.set(t, 0, uint16(tot>>16), uint16(tot), on)
		r.clk.Advance(time.Second)
		r.poll(t)
	}
	put(1000, 0)
	put(1000, 1)
	put(1100, 0) // first: 100.0 → 110.0
	put(1100, 1) // second begins with readable totals
	r.conn.refuse = func(addr, qty int) bool { return addr == 0 }
	put(1200, 0) // second ends; its totals cannot be read
	put(1200, 1) // third begins; still unreadable
	secondEnd, thirdBegin := r.clk.Now().Add(-time.Second), r.clk.Now()
	put(1250, 1)
	r.conn.refuse = nil
	put(1300, 1) // third's begin totals, first read
	put(1500, 0) // third ends: 130.0 → 150.0
	txs := r.sink.kind(core.KindTransaction)
	if len(txs) != 2 {
		t.Fatalf("%d transactions, want 2", len(txs))
	}
	if v := txs[0].Transaction.Forward.Volume; v.Begin != "100" || v.End != "110" {
		t.Errorf("first: %+v", v)
	}
	third := txs[1].Transaction
	if v := third.Forward.Volume; v.Begin != "130" || v.End != "150" || v.Quantity != "20" || third.StartFromPrevious {
		t.Errorf("third: %+v from previous %v", v, third.StartFromPrevious)
	}
	if !third.Begin.Equal(thirdBegin) {
		t.Errorf("third begins %s, want %s", third.Begin, thirdBegin)
	}
	ab := r.sink.events(core.EventTransactionAborted)
	if len(ab) != 1 || !ab[0].Time.Equal(secondEnd) || ab[0].Point != p.ID || !strings.Contains(ab[0].Event.Detail, "=110 L") {
		for _, e := range ab {
			t.Logf("aborted: %s %+v", e.Time, e.Event)
		}
		t.Fatalf("%d transaction-aborted events, want 1 for the second at %s", len(ab), secondEnd)
	}
}

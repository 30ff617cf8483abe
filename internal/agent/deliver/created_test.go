package deliver

import (
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/wire"
)

// A clock stepped back must not date a batch before its own records or before the previous batch: the
// server refuses both (docs/protocol.md, verification step 5).
func TestBatchTimeNeverGoesBack(t *testing.T) {
	recTime := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	r := &core.Record{Kind: core.KindEvent, Time: recTime, Device: "BGNCA00005001001",
		Event: &core.Event{Kind: core.EventDoorOpened}}
	rec, err := wire.EncodeRecord(1, [32]byte{}, r)
	if err != nil {
		t.Fatal(err)
	}
	s := &Sender{}
	stepped := recTime.Add(-time.Hour) // the clock went back an hour after the record was read
	if got := s.batchTime(stepped, [][]byte{rec}); !got.Equal(recTime) {
		t.Errorf("batch dated %v, before its record of %v", got, recTime)
	}
	s.created = recTime.Add(time.Minute)
	if got := s.batchTime(stepped, [][]byte{rec}); !got.Equal(s.created) {
		t.Errorf("batch dated %v, before the previous batch of %v", got, s.created)
	}
	later := recTime.Add(2 * time.Hour)
	if got := s.batchTime(later, [][]byte{rec}); !got.Equal(later) {
		t.Errorf("batch dated %v, want the clock %v", got, later)
	}
}

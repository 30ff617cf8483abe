package main

import (
	"testing"
	"time"

	"github.com/akciz/akciz/internal/core"
)

// A start whose clock is behind what the last run kept raises clock-stepped (the event list):
// within a run the poller compares the wall clock with the monotonic one, across a restart only the kept
// times can show the step.
func TestClockBehindAtStart(t *testing.T) {
	state := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	created := state.Add(30 * time.Second)
	now := state.Add(-time.Hour)
	e, ok := clockBehind(now, state, created)
	if !ok || e.Kind != core.EventClockStepped || e.Value != "-3630000" || e.Previous != "2026-11-22T10:00:30Z" {
		t.Fatalf("clockBehind = %+v, %v", e, ok)
	}
	r := &core.Record{Kind: core.KindEvent, Time: core.Stamp(now), Device: "BGNCA00005001001", Event: &e}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		now  time.Time
		kept []time.Time
	}{
		{state.Add(time.Minute), []time.Time{state, created}}, // ahead: the normal restart
		{state.Add(-time.Second), []time.Time{state}},         // within the tolerance
		{state, nil}, // nothing kept: a first start
		{state, []time.Time{{}, {}}},
	} {
		if e, ok := clockBehind(c.now, c.kept...); ok {
			t.Errorf("clockBehind(%v, %v) = %+v", c.now, c.kept, e)
		}
	}
}

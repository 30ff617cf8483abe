package sim

import (
	"errors"
	"fmt"
	"time"
)

// ErrClosed is returned when a fault is injected into a finished run.
var ErrClosed = errors.New("sim: the run has ended")

// Inject validates f and queues it; it takes effect, and is logged, at the next tick. It returns the id
// that Clear takes.
func (s *Sim) Inject(f Fault) (int, error) {
	f.At = 0
	if m := f.check(s.sc); m != nil {
		return 0, &Error{File: "fault", Msg: *m}
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return 0, ErrClosed
	}
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.nextID++
	s.pending = append(s.pending, pendingOp{add: &ActiveFault{ID: s.nextID, Fault: f}})
	return s.nextID, nil
}

// Clear queues the end of the fault with id, or of every fault if id is -1; it takes effect at the next
// tick.
func (s *Sim) Clear(id int) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	s.pending = append(s.pending, pendingOp{clear: id})
}

func (s *Sim) newActive(f Fault) *ActiveFault {
	s.fmu.Lock()
	s.nextID++
	a := &ActiveFault{ID: s.nextID, Fault: f, Since: s.now}
	s.fmu.Unlock()
	if f.For > 0 {
		a.Until = s.now.Add(time.Duration(f.For))
	}
	return a
}

// applyFault puts a fault in force; s.mu is held.
func (s *Sim) applyFault(a *ActiveFault) {
	f := a.Fault
	s.logFault("injected", a)
	if f.Kind.Comm() {
		s.fmu.Lock()
		s.comm = append(s.comm, a)
		s.fmu.Unlock()
		return
	}
	if f.Kind == FaultTotalizerBackwards {
		s.totalizerBackwards(f)
		return
	}
	s.plant = append(s.plant, a)
	s.settlePlant()
}

// expireFaults ends the faults whose time is up; s.mu is held.
func (s *Sim) expireFaults() {
	done := func(a *ActiveFault) bool { return !a.Until.IsZero() && !s.now.Before(a.Until) }
	var ended []*ActiveFault
	keep := s.plant[:0]
	for _, a := range s.plant {
		if done(a) {
			ended = append(ended, a)
		} else {
			keep = append(keep, a)
		}
	}
	s.plant = keep
	s.fmu.Lock()
	keepc := s.comm[:0]
	for _, a := range s.comm {
		if done(a) {
			ended = append(ended, a)
		} else {
			keepc = append(keepc, a)
		}
	}
	s.comm = keepc
	s.fmu.Unlock()
	for _, a := range ended {
		s.logFault("cleared", a)
	}
	if len(ended) > 0 {
		s.settlePlant()
	}
}

// clearFaults ends the fault with id, or all if id is -1; s.mu is held.
func (s *Sim) clearFaults(id int) {
	var ended []*ActiveFault
	keep := s.plant[:0]
	for _, a := range s.plant {
		if id == -1 || a.ID == id {
			ended = append(ended, a)
		} else {
			keep = append(keep, a)
		}
	}
	s.plant = keep
	s.fmu.Lock()
	keepc := s.comm[:0]
	for _, a := range s.comm {
		if id == -1 || a.ID == id {
			ended = append(ended, a)
		} else {
			keepc = append(keepc, a)
		}
	}
	s.comm = keepc
	s.fmu.Unlock()
	for _, a := range ended {
		s.logFault("cleared", a)
	}
	s.settlePlant()
}

// settlePlant recomputes the door, the power and the error bits from the faults in force and logs what
// changed; s.mu is held.
func (s *Sim) settlePlant() {
	door, power := false, false
	bits := map[int]uint16{}
	for _, a := range s.plant {
		switch a.Fault.Kind {
		case FaultDoor:
			door = true
		case FaultPower:
			power = true
		case FaultErrorBits:
			bits[a.Fault.Point] |= a.Fault.Bits
		}
	}
	if door != s.door {
		s.door = door
		if door {
			s.logEvent(eventRec{Event: "door-open"})
		} else {
			s.logEvent(eventRec{Event: "door-closed"})
		}
	}
	if power != s.power {
		s.power = power
		if power {
			s.logEvent(eventRec{Event: "power-lost"})
		} else {
			s.logEvent(eventRec{Event: "power-restored"})
		}
	}
	for _, ps := range s.points {
		b := bits[ps.p.Number]
		if set := b &^ ps.errBits; set != 0 {
			s.logEvent(eventRec{Event: "error-set", Point: ps.id, Bits: hex16(set), Codes: ps.codes(set)})
		}
		if cleared := ps.errBits &^ b; cleared != 0 {
			s.logEvent(eventRec{Event: "error-cleared", Point: ps.id, Bits: hex16(cleared), Codes: ps.codes(cleared)})
		}
		if ps.errBits != b {
			ps.errBits = b
			ps.dirty = true
		}
	}
}

func hex16(b uint16) string { return fmt.Sprintf("0x%04x", b) }

// codes names the error bits set in b by the point's error table, or by number where it has none.
func (ps *pointState) codes(b uint16) []string {
	var out []string
	for bit := 0; bit < 16; bit++ {
		if b&(1<<bit) == 0 {
			continue
		}
		code := "bit" + itoa(bit)
		for _, e := range ps.p.Errors {
			if e.Bit == bit && e.Code != "" {
				code = e.Code
			}
		}
		out = append(out, code)
	}
	return out
}

// totalizerBackwards lowers the point's totalizers: the primary by the fault's amount, the others in
// proportion, as a meter whose memory was tampered with or corrupted would show.
func (s *Sim) totalizerBackwards(f Fault) {
	for _, ps := range s.points {
		if ps.p.Number != f.Point {
			continue
		}
		prim := ps.p.Kind.Primary()
		base := ps.totals[prim]
		if base <= 0 {
			return
		}
		amount := min(f.Amount, base)
		ps.dirty = true
		for _, t := range ps.p.Kind.totalizers() {
			from := ps.totals[t]
			to := from - amount*from/base
			if t == prim {
				to = base - amount
			}
			ps.totals[t] = max(0, to)
			if r := ps.role[t]; r != nil {
				s.logEvent(eventRec{Event: "totalizer-decrease", Point: ps.id, Quantity: string(t),
					From: r.observe(from), To: r.observe(ps.totals[t])})
			}
		}
		// The meter keeps counting from where it now stands; a transaction in progress keeps its start,
		// so its quantity comes out short: the anomaly the agent must report.
	}
}

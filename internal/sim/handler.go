package sim

import (
	"context"
	"time"

	"github.com/akciz/akciz/internal/modbus"
)

// handler answers Modbus requests from the simulation's register images.
type handler struct {
	s      *Sim
	serial bool
}

// Handler is the simulated PLCs as a Modbus TCP server sees them: a request for a unit id the scenario
// does not have is answered with exception 0x0B (gateway target device failed to respond), as a TCP
// gateway in front of serial devices does.
func (s *Sim) Handler() modbus.Handler { return &handler{s: s} }

// SerialHandler is the simulated PLCs on a serial line: a request for a unit id nobody has goes
// unanswered, as on a real RS-485 bus.
func (s *Sim) SerialHandler() modbus.Handler { return &handler{s: s, serial: true} }

// Function codes of the reads, for exceptions.
const (
	fcReadCoils            = 1
	fcReadDiscreteInputs   = 2
	fcReadHoldingRegisters = 3
	fcReadInputRegisters   = 4
	fcWriteRegisters       = 16
	fcWriteCoils           = 15
)

func (h *handler) ReadCoils(ctx context.Context, unit byte, addr uint16, dst []bool) error {
	return h.readBits(ctx, fcReadCoils, Coils, unit, addr, dst)
}

func (h *handler) ReadDiscreteInputs(ctx context.Context, unit byte, addr uint16, dst []bool) error {
	return h.readBits(ctx, fcReadDiscreteInputs, DiscreteInputs, unit, addr, dst)
}

func (h *handler) ReadHoldingRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	return h.readRegs(ctx, fcReadHoldingRegisters, HoldingRegisters, unit, addr, dst)
}

func (h *handler) ReadInputRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	return h.readRegs(ctx, fcReadInputRegisters, InputRegisters, unit, addr, dst)
}

// WriteCoils refuses: the PLC of a control point must not be changed from the industrial computer's
// side (чл. 32, т. 4 and 6).
func (h *handler) WriteCoils(ctx context.Context, unit byte, _ uint16, _ []bool) error {
	if _, err := h.before(ctx, fcWriteCoils, unit); err != nil {
		return err
	}
	return &modbus.Exception{Function: fcWriteCoils, Code: modbus.IllegalFunction}
}

// WriteRegisters refuses, as WriteCoils does.
func (h *handler) WriteRegisters(ctx context.Context, unit byte, _ uint16, _ []uint16) error {
	if _, err := h.before(ctx, fcWriteRegisters, unit); err != nil {
		return err
	}
	return &modbus.Exception{Function: fcWriteRegisters, Code: modbus.IllegalFunction}
}

// before applies the communication faults in force for unit and answers for a unit that is not there.
// corrupt says the answer is to be filled in and then damaged.
func (h *handler) before(ctx context.Context, fc byte, unit byte) (corrupt bool, err error) {
	unit = h.resolve(unit)
	delay, hit := h.s.commFaults(unit)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
	if _, ok := h.s.images[unit]; !ok {
		if h.serial {
			return false, modbus.ErrNoResponse
		}
		return false, &modbus.Exception{Function: fc, Code: modbus.GatewayTargetDeviceFailedToRespond}
	}
	if hit != nil {
		switch hit.Kind {
		case FaultDrop:
			return false, modbus.ErrDropConnection
		case FaultSilence:
			return false, modbus.ErrNoResponse
		case FaultException:
			return false, &modbus.Exception{Function: fc, Code: modbus.ExceptionCode(hit.Code)}
		case FaultCorrupt:
			return true, nil
		}
	}
	return false, nil
}

func (h *handler) readRegs(ctx context.Context, fc byte, t Table, unit byte, addr uint16, dst []uint16) error {
	corrupt, err := h.before(ctx, fc, unit)
	if err != nil {
		return err
	}
	unit = h.resolve(unit)
	h.s.mu.RLock()
	defer h.s.mu.RUnlock()
	img := h.s.images[unit].regs[t]
	if int(addr)+len(dst) > len(img) {
		return &modbus.Exception{Function: fc, Code: modbus.IllegalDataAddress}
	}
	copy(dst, img[addr:])
	if corrupt {
		return modbus.ErrCorruptResponse
	}
	return nil
}

func (h *handler) readBits(ctx context.Context, fc byte, t Table, unit byte, addr uint16, dst []bool) error {
	corrupt, err := h.before(ctx, fc, unit)
	if err != nil {
		return err
	}
	unit = h.resolve(unit)
	h.s.mu.RLock()
	defer h.s.mu.RUnlock()
	img := h.s.images[unit].regs[t]
	if int(addr)+len(dst) > len(img) {
		return &modbus.Exception{Function: fc, Code: modbus.IllegalDataAddress}
	}
	for i := range dst {
		dst[i] = img[int(addr)+i] != 0
	}
	if corrupt {
		return modbus.ErrCorruptResponse
	}
	return nil
}

// resolve maps the unit ids 0 and 255, which on Modbus TCP address "the server itself", to the only
// device of a scenario that has one.
func (h *handler) resolve(unit byte) byte {
	if !h.serial && (unit == 0 || unit == 255) && len(h.s.sc.Devices) == 1 {
		return h.s.sc.Devices[0].Unit
	}
	return unit
}

// commFaults returns the delay to apply to a request for unit and the communication fault that hits
// it, if any. A fault with a rate hits that share of requests.
func (s *Sim) commFaults(unit byte) (time.Duration, *Fault) {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	var delay time.Duration
	var hit *Fault
	for _, a := range s.comm {
		f := &a.Fault
		if f.Unit != 0 && f.Unit != int(unit) {
			continue
		}
		if f.Rate > 0 && f.Rate < 1 && s.frng.Float64() >= f.Rate {
			continue
		}
		if f.Kind == FaultDelay {
			delay = max(delay, time.Duration(f.MS)*time.Millisecond)
		} else if hit == nil {
			c := *f
			hit = &c
		}
	}
	return delay, hit
}

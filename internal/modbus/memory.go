package modbus

import (
	"context"
	"fmt"
	"sync"
)

// MemoryLayout is the number of items in each table of a unit; a zero count is the full 65536.
type MemoryLayout struct {
	Coils, DiscreteInputs, HoldingRegisters, InputRegisters int
}

// Bank is the data of one unit: the four Modbus tables.
type Bank struct {
	Coils            []bool
	DiscreteInputs   []bool
	HoldingRegisters []uint16
	InputRegisters   []uint16
}

// Memory is a Handler that keeps its units' tables in memory. It is safe for concurrent use, and every
// request sees (and every write makes) one consistent state, so a client never reads half of an update
// made with Update. Requests beyond a table's size get IllegalDataAddress.
type Memory struct {
	mu     sync.RWMutex
	banks  map[byte]*Bank
	single *Bank // the bank when exactly one unit is served
	any    bool  // one bank serves every unit id
}

var _ Handler = (*Memory)(nil)

// NewMemory returns a Memory with a bank of layout l for each of units, all zero. With no units it
// keeps a single bank that answers every unit id. With units, a unit not listed gets exception
// GatewayPathUnavailable, except that 0 and 255 (which on Modbus TCP address "the server itself") reach
// the bank when there is only one.
func NewMemory(l MemoryLayout, units ...byte) *Memory {
	size := func(n int) int {
		if n <= 0 || n > 0x10000 {
			return 0x10000
		}
		return n
	}
	newBank := func() *Bank {
		return &Bank{
			Coils:            make([]bool, size(l.Coils)),
			DiscreteInputs:   make([]bool, size(l.DiscreteInputs)),
			HoldingRegisters: make([]uint16, size(l.HoldingRegisters)),
			InputRegisters:   make([]uint16, size(l.InputRegisters)),
		}
	}
	m := &Memory{banks: map[byte]*Bank{}}
	if len(units) == 0 {
		m.any, m.single = true, newBank()
		return m
	}
	for _, u := range units {
		if m.banks[u] == nil {
			m.banks[u] = newBank()
		}
	}
	if len(m.banks) == 1 {
		m.single = m.banks[units[0]]
	}
	return m
}

func (m *Memory) bank(unit byte) (*Bank, error) {
	if m.any {
		return m.single, nil
	}
	if b := m.banks[unit]; b != nil {
		return b, nil
	}
	if (unit == 0 || unit == 0xFF) && m.single != nil {
		return m.single, nil
	}
	return nil, &Exception{Code: GatewayPathUnavailable}
}

// Update calls f with unit's bank under the write lock, so that all it changes becomes visible to
// clients at once. f must not keep the bank or its slices.
func (m *Memory) Update(unit byte, f func(b *Bank)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bank(unit)
	if err != nil {
		return fmt.Errorf("modbus: memory: unit %d not served", unit)
	}
	f(b)
	return nil
}

// View calls f with unit's bank under the read lock. f must not change the bank or keep it.
func (m *Memory) View(unit byte, f func(b *Bank)) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, err := m.bank(unit)
	if err != nil {
		return fmt.Errorf("modbus: memory: unit %d not served", unit)
	}
	f(b)
	return nil
}

func span[T any](table []T, addr uint16, n int) ([]T, error) {
	if int(addr)+n > len(table) {
		return nil, &Exception{Code: IllegalDataAddress}
	}
	return table[int(addr) : int(addr)+n], nil
}

func memRead[T any](m *Memory, unit byte, addr uint16, dst []T, table func(*Bank) []T) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, err := m.bank(unit)
	if err != nil {
		return err
	}
	src, err := span(table(b), addr, len(dst))
	if err != nil {
		return err
	}
	copy(dst, src)
	return nil
}

func memWrite[T any](m *Memory, unit byte, addr uint16, values []T, table func(*Bank) []T) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bank(unit)
	if err != nil {
		return err
	}
	dst, err := span(table(b), addr, len(values))
	if err != nil {
		return err
	}
	copy(dst, values)
	return nil
}

func coils(b *Bank) []bool              { return b.Coils }
func discreteInputs(b *Bank) []bool     { return b.DiscreteInputs }
func holdingRegisters(b *Bank) []uint16 { return b.HoldingRegisters }
func inputRegisters(b *Bank) []uint16   { return b.InputRegisters }

// ReadCoils implements Handler.
func (m *Memory) ReadCoils(_ context.Context, unit byte, addr uint16, dst []bool) error {
	return memRead(m, unit, addr, dst, coils)
}

// ReadDiscreteInputs implements Handler.
func (m *Memory) ReadDiscreteInputs(_ context.Context, unit byte, addr uint16, dst []bool) error {
	return memRead(m, unit, addr, dst, discreteInputs)
}

// ReadHoldingRegisters implements Handler.
func (m *Memory) ReadHoldingRegisters(_ context.Context, unit byte, addr uint16, dst []uint16) error {
	return memRead(m, unit, addr, dst, holdingRegisters)
}

// ReadInputRegisters implements Handler.
func (m *Memory) ReadInputRegisters(_ context.Context, unit byte, addr uint16, dst []uint16) error {
	return memRead(m, unit, addr, dst, inputRegisters)
}

// WriteCoils implements Handler.
func (m *Memory) WriteCoils(_ context.Context, unit byte, addr uint16, values []bool) error {
	return memWrite(m, unit, addr, values, coils)
}

// WriteRegisters implements Handler.
func (m *Memory) WriteRegisters(_ context.Context, unit byte, addr uint16, values []uint16) error {
	return memWrite(m, unit, addr, values, holdingRegisters)
}

// SetCoils stores values in unit's coils from addr.
func (m *Memory) SetCoils(unit byte, addr uint16, values []bool) error {
	return memWrite(m, unit, addr, values, coils)
}

// SetDiscreteInputs stores values in unit's discrete inputs from addr.
func (m *Memory) SetDiscreteInputs(unit byte, addr uint16, values []bool) error {
	return memWrite(m, unit, addr, values, discreteInputs)
}

// SetHoldingRegisters stores values in unit's holding registers from addr.
func (m *Memory) SetHoldingRegisters(unit byte, addr uint16, values []uint16) error {
	return memWrite(m, unit, addr, values, holdingRegisters)
}

// SetInputRegisters stores values in unit's input registers from addr.
func (m *Memory) SetInputRegisters(unit byte, addr uint16, values []uint16) error {
	return memWrite(m, unit, addr, values, inputRegisters)
}

// Coils returns qty of unit's coils from addr.
func (m *Memory) Coils(unit byte, addr uint16, qty int) ([]bool, error) {
	dst := make([]bool, max(qty, 0))
	if err := memRead(m, unit, addr, dst, coils); err != nil {
		return nil, err
	}
	return dst, nil
}

// DiscreteInputs returns qty of unit's discrete inputs from addr.
func (m *Memory) DiscreteInputs(unit byte, addr uint16, qty int) ([]bool, error) {
	dst := make([]bool, max(qty, 0))
	if err := memRead(m, unit, addr, dst, discreteInputs); err != nil {
		return nil, err
	}
	return dst, nil
}

// HoldingRegisters returns qty of unit's holding registers from addr.
func (m *Memory) HoldingRegisters(unit byte, addr uint16, qty int) ([]uint16, error) {
	dst := make([]uint16, max(qty, 0))
	if err := memRead(m, unit, addr, dst, holdingRegisters); err != nil {
		return nil, err
	}
	return dst, nil
}

// InputRegisters returns qty of unit's input registers from addr.
func (m *Memory) InputRegisters(unit byte, addr uint16, qty int) ([]uint16, error) {
	dst := make([]uint16, max(qty, 0))
	if err := memRead(m, unit, addr, dst, inputRegisters); err != nil {
		return nil, err
	}
	return dst, nil
}

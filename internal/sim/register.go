package sim

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/modbus"
)

// accumulates reports whether the register holds a count that a real instrument truncates (a totalizer
// shows the whole units it has finished counting) rather than rounds.
func (r *Register) accumulates() bool {
	return r.Role.Totalizer() || r.Role == core.RoleStartTotal || r.Role == core.RoleTransactionQuantity
}

// raw is the number the register holds for the engineering value v, before the byte layout: an integer
// for integer types (truncated for totalizers, rounded otherwise, clamped to the type's range), the
// float32 nearest v/Scale for float32.
func (r *Register) raw(v float64) float64 {
	x := v / r.Scale
	switch r.Type {
	case modbus.Float32:
		return float64(float32(x))
	case modbus.Float64:
		return x
	case modbus.Bit:
		if v != 0 {
			return 1
		}
		return 0
	}
	if r.accumulates() {
		// The tiny bias keeps a total that is exactly n (but computed as n−ε) from showing n−1.
		x = math.Floor(x + 1e-9)
	} else {
		x = math.Round(x)
	}
	lo, hi := intLimits(r.Type)
	return math.Max(lo, math.Min(hi, x))
}

func intLimits(t modbus.DataType) (lo, hi float64) {
	switch t {
	case modbus.Int16:
		return math.MinInt16, math.MaxInt16
	case modbus.Uint16:
		return 0, math.MaxUint16
	case modbus.Int32:
		return math.MinInt32, math.MaxInt32
	case modbus.Uint32:
		return 0, math.MaxUint32
	case modbus.Int64:
		return -(1 << 53), 1 << 53 // beyond 2^53 a float64 is no longer exact; no totalizer gets there
	case modbus.Uint64:
		return 0, 1 << 53
	}
	return 0, 0
}

// put writes the engineering value v into the table image at the register's address.
func (r *Register) put(img []uint16, v float64) {
	a := int(r.Address)
	if r.Table.Bits() {
		img[a] = uint16(r.raw(v))
		return
	}
	x := r.raw(v)
	regs := img[a : a+r.Size()]
	o := r.Order
	switch r.Type {
	case modbus.Int16:
		o.PutInt16(regs, int16(x))
	case modbus.Uint16:
		o.PutUint16(regs, uint16(x))
	case modbus.Int32:
		o.PutInt32(regs, int32(x))
	case modbus.Uint32:
		o.PutUint32(regs, uint32(x))
	case modbus.Int64:
		o.PutInt64(regs, int64(x))
	case modbus.Uint64:
		o.PutUint64(regs, uint64(x))
	case modbus.Float32:
		o.PutFloat32(regs, float32(x))
	case modbus.Float64:
		o.PutFloat64(regs, x)
	case modbus.Bit:
		regs[0] = modbus.SetBit(regs[0], uint(r.Bit), x != 0)
	}
}

// decimals is the number of decimal places of the register's scale, which is how many an integer
// register's engineering value has.
func (r *Register) decimals() int {
	s := strconv.FormatFloat(math.Abs(r.Scale), 'f', -1, 64)
	if _, frac, ok := strings.Cut(s, "."); ok {
		return len(frac)
	}
	return 0
}

// observe formats the engineering value a reader of the register sees for v: the truth log states
// values as the agent can read them, not as the simulator holds them internally.
func (r *Register) observe(v float64) json.Number {
	return r.format(r.raw(v))
}

// format turns a raw register number into the engineering value's shortest exact text.
func (r *Register) format(x float64) json.Number {
	switch r.Type {
	case modbus.Float32:
		if r.Scale == 1 {
			return json.Number(strconv.FormatFloat(x, 'f', -1, 32))
		}
		return json.Number(strconv.FormatFloat(x*r.Scale, 'f', -1, 64))
	case modbus.Float64:
		return json.Number(strconv.FormatFloat(x*r.Scale, 'f', -1, 64))
	}
	return json.Number(strconv.FormatFloat(x*r.Scale, 'f', r.decimals(), 64))
}

// difference is end − start as a reader of the register computes it from the two readings.
func (r *Register) difference(start, end float64) json.Number {
	a, b := r.raw(start), r.raw(end)
	switch r.Type {
	case modbus.Float32, modbus.Float64:
		return json.Number(strconv.FormatFloat(b*r.Scale-a*r.Scale, 'f', -1, 64))
	}
	return json.Number(strconv.FormatFloat((b-a)*r.Scale, 'f', r.decimals(), 64))
}

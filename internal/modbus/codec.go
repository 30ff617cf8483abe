package modbus

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ByteOrder is how a value wider than one byte is laid out over 16-bit registers. The letters name the
// bytes of the value from the most significant (A) down, in the order they appear on the wire: register 0
// high byte, register 0 low byte, register 1 high byte, and so on. For 64-bit values the same rule extends
// to four words (ABCD is ABCDEFGH, DCBA is HGFEDCBA, BADC is BADCFEHG, CDAB is GHEFCDAB).
//
// The names are those PLC manuals and Modbus maps use (чл. 35(4) asks the map to state the data type of
// each register; the byte order belongs to it).
type ByteOrder string

// Byte orders.
const (
	ABCD ByteOrder = "ABCD" // big-endian bytes, big-endian words (Modicon default)
	DCBA ByteOrder = "DCBA" // little-endian bytes and words
	BADC ByteOrder = "BADC" // bytes swapped within each word, words big-endian
	CDAB ByteOrder = "CDAB" // words swapped (little-endian word order), bytes big-endian in each word
)

// ParseByteOrder parses a byte order: ABCD, DCBA, BADC or CDAB in any letter case, or the digit
// notation some manuals use (1234, 4321, 2143, 3412).
func ParseByteOrder(s string) (ByteOrder, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "ABCD", "1234":
		return ABCD, nil
	case "DCBA", "4321":
		return DCBA, nil
	case "BADC", "2143":
		return BADC, nil
	case "CDAB", "3412":
		return CDAB, nil
	}
	return "", fmt.Errorf("modbus: unknown byte order %q (want ABCD, DCBA, BADC or CDAB)", s)
}

// Valid reports whether o is one of the four byte orders.
func (o ByteOrder) Valid() bool {
	switch o {
	case ABCD, DCBA, BADC, CDAB:
		return true
	}
	return false
}

func (o ByteOrder) swapsBytes() bool { return o == DCBA || o == BADC }
func (o ByteOrder) swapsWords() bool { return o == DCBA || o == CDAB }

// DataType is the type of a value held in one or more registers.
type DataType string

// Data types.
const (
	Int16   DataType = "int16"
	Uint16  DataType = "uint16"
	Int32   DataType = "int32"
	Uint32  DataType = "uint32"
	Int64   DataType = "int64"
	Uint64  DataType = "uint64"
	Float32 DataType = "float32"
	Float64 DataType = "float64"
	String  DataType = "string" // characters, two to a register; the length is the tag's register count
	Bit     DataType = "bit"    // one bit of a register
)

var dataTypes = []DataType{Int16, Uint16, Int32, Uint32, Int64, Uint64, Float32, Float64, String, Bit}

// ParseDataType parses a data type name (int16, uint16, int32, uint32, int64, uint64, float32, float64,
// string, bit) in any letter case.
func ParseDataType(s string) (DataType, error) {
	l := DataType(strings.ToLower(strings.TrimSpace(s)))
	for _, t := range dataTypes {
		if l == t {
			return t, nil
		}
	}
	return "", fmt.Errorf("modbus: unknown data type %q (want one of int16, uint16, int32, uint32, int64, uint64, float32, float64, string, bit)", s)
}

// Registers is the number of registers a value of type t takes: 1, 2 or 4; 1 for Bit; 0 for String,
// whose length varies, and for an unknown type.
func (t DataType) Registers() int {
	switch t {
	case Int16, Uint16, Bit:
		return 1
	case Int32, Uint32, Float32:
		return 2
	case Int64, Uint64, Float64:
		return 4
	}
	return 0
}

// Valid reports whether t is a known data type.
func (t DataType) Valid() bool {
	for _, d := range dataTypes {
		if t == d {
			return true
		}
	}
	return false
}

// getBits assembles the n-register (n = 1, 2 or 4) unsigned value at the start of regs in order o.
func getBits(regs []uint16, n int, o ByteOrder) uint64 {
	_ = regs[n-1]
	var v uint64
	for i := 0; i < n; i++ {
		w := regs[i]
		if o.swapsWords() {
			w = regs[n-1-i]
		}
		if o.swapsBytes() {
			w = w<<8 | w>>8
		}
		v = v<<16 | uint64(w)
	}
	return v
}

// putBits is the inverse of getBits.
func putBits(regs []uint16, n int, o ByteOrder, v uint64) {
	_ = regs[n-1]
	for i := 0; i < n; i++ {
		w := uint16(v >> (16 * uint(n-1-i)))
		if o.swapsBytes() {
			w = w<<8 | w>>8
		}
		if o.swapsWords() {
			regs[n-1-i] = w
		} else {
			regs[i] = w
		}
	}
}

// The decoding and encoding methods below mirror encoding/binary.ByteOrder: o.Float32(regs) decodes the
// float32 held in regs[0:2] in byte order o, o.PutFloat32(regs, v) is its inverse. regs must hold at
// least the type's register count (they panic otherwise, like slice indexing). An invalid o is taken as
// ABCD.

// Uint16 decodes regs[0]: as is for ABCD and CDAB, with its bytes swapped for DCBA and BADC.
func (o ByteOrder) Uint16(regs []uint16) uint16 { return uint16(getBits(regs, 1, o)) }

// Int16 decodes regs[0] as a two's complement integer; see Uint16.
func (o ByteOrder) Int16(regs []uint16) int16 { return int16(getBits(regs, 1, o)) }

// Uint32 decodes regs[0:2].
func (o ByteOrder) Uint32(regs []uint16) uint32 { return uint32(getBits(regs, 2, o)) }

// Int32 decodes regs[0:2] as a two's complement integer.
func (o ByteOrder) Int32(regs []uint16) int32 { return int32(getBits(regs, 2, o)) }

// Uint64 decodes regs[0:4].
func (o ByteOrder) Uint64(regs []uint16) uint64 { return getBits(regs, 4, o) }

// Int64 decodes regs[0:4] as a two's complement integer.
func (o ByteOrder) Int64(regs []uint16) int64 { return int64(getBits(regs, 4, o)) }

// Float32 decodes regs[0:2] as an IEEE 754 single.
func (o ByteOrder) Float32(regs []uint16) float32 { return math.Float32frombits(o.Uint32(regs)) }

// Float64 decodes regs[0:4] as an IEEE 754 double.
func (o ByteOrder) Float64(regs []uint16) float64 { return math.Float64frombits(o.Uint64(regs)) }

// PutUint16 encodes v into regs[0]; the inverse of Uint16.
func (o ByteOrder) PutUint16(regs []uint16, v uint16) { putBits(regs, 1, o, uint64(v)) }

// PutInt16 encodes v into regs[0].
func (o ByteOrder) PutInt16(regs []uint16, v int16) { putBits(regs, 1, o, uint64(uint16(v))) }

// PutUint32 encodes v into regs[0:2].
func (o ByteOrder) PutUint32(regs []uint16, v uint32) { putBits(regs, 2, o, uint64(v)) }

// PutInt32 encodes v into regs[0:2].
func (o ByteOrder) PutInt32(regs []uint16, v int32) { putBits(regs, 2, o, uint64(uint32(v))) }

// PutUint64 encodes v into regs[0:4].
func (o ByteOrder) PutUint64(regs []uint16, v uint64) { putBits(regs, 4, o, v) }

// PutInt64 encodes v into regs[0:4].
func (o ByteOrder) PutInt64(regs []uint16, v int64) { putBits(regs, 4, o, uint64(v)) }

// PutFloat32 encodes v into regs[0:2].
func (o ByteOrder) PutFloat32(regs []uint16, v float32) { o.PutUint32(regs, math.Float32bits(v)) }

// PutFloat64 encodes v into regs[0:4].
func (o ByteOrder) PutFloat64(regs []uint16, v float64) { o.PutUint64(regs, math.Float64bits(v)) }

// BitAt reports bit n of reg; n = 0 is the least significant bit. n > 15 is false.
func BitAt(reg uint16, n uint) bool { return n < 16 && reg>>n&1 == 1 }

// SetBit returns reg with bit n (0 = least significant) set to v; n > 15 leaves reg unchanged.
func SetBit(reg uint16, n uint, v bool) uint16 {
	if n > 15 {
		return reg
	}
	if v {
		return reg | 1<<n
	}
	return reg &^ (1 << n)
}

// StringPlacement is where the first of the two characters a register holds goes.
type StringPlacement string

// String placements.
const (
	HighFirst StringPlacement = "high-first" // the first character in the high byte (the default)
	LowFirst  StringPlacement = "low-first"  // the first character in the low byte
)

// ParseStringPlacement parses "high-first" or "low-first"; the empty string is HighFirst.
func ParseStringPlacement(s string) (StringPlacement, error) {
	switch StringPlacement(strings.ToLower(strings.TrimSpace(s))) {
	case "", HighFirst:
		return HighFirst, nil
	case LowFirst:
		return LowFirst, nil
	}
	return "", fmt.Errorf("modbus: unknown string placement %q (want high-first or low-first)", s)
}

// DecodeString decodes the characters held in regs, two to a register. It stops at the first NUL, as
// PLCs that keep C strings leave garbage after it, and trims trailing spaces (space padding). The bytes
// are returned as they are; no character set conversion is made.
func DecodeString(regs []uint16, p StringPlacement) string {
	b := make([]byte, 0, 2*len(regs))
	for _, r := range regs {
		hi, lo := byte(r>>8), byte(r)
		if p == LowFirst {
			hi, lo = lo, hi
		}
		b = append(b, hi, lo)
	}
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimRight(string(b), " ")
}

// EncodeString writes s into regs, two bytes to a register, padding with NULs; bytes of s that do not
// fit are dropped.
func EncodeString(regs []uint16, p StringPlacement, s string) {
	for i := range regs {
		var hi, lo byte
		if 2*i < len(s) {
			hi = s[2*i]
		}
		if 2*i+1 < len(s) {
			lo = s[2*i+1]
		}
		if p == LowFirst {
			hi, lo = lo, hi
		}
		regs[i] = uint16(hi)<<8 | uint16(lo)
	}
}

// Kind is which field of a Value holds it.
type Kind uint8

// Kinds of Value.
const (
	KindInvalid Kind = iota
	KindInt          // Value.Int: int16, int32, int64
	KindUint         // Value.Uint: uint16, uint32, uint64
	KindFloat        // Value.Float: float32, float64
	KindString       // Value.Str
	KindBool         // Value.Bool: bit
)

// Value is a decoded register value. Integers are kept exactly (a uint64 totalizer does not fit a
// float64 exactly); Float64 gives the value for normalisation.
type Value struct {
	Kind  Kind
	Int   int64
	Uint  uint64
	Float float64
	Str   string
	Bool  bool
}

// Float64 returns v as a float64: integers converted (rounded to the nearest double beyond 2^53), a bit
// as 0 or 1, a string parsed as a decimal number or NaN if it is none.
func (v Value) Float64() float64 {
	switch v.Kind {
	case KindInt:
		return float64(v.Int)
	case KindUint:
		return float64(v.Uint)
	case KindFloat:
		return v.Float
	case KindBool:
		if v.Bool {
			return 1
		}
		return 0
	case KindString:
		if f, err := strconv.ParseFloat(strings.TrimSpace(v.Str), 64); err == nil {
			return f
		}
	}
	return math.NaN()
}

// String formats v exactly: integers in decimal, floats in the shortest form that reads back to the
// same float64, a bit as 0 or 1, a string as itself.
func (v Value) String() string {
	switch v.Kind {
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindUint:
		return strconv.FormatUint(v.Uint, 10)
	case KindFloat:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case KindBool:
		if v.Bool {
			return "1"
		}
		return "0"
	case KindString:
		return v.Str
	}
	return "<invalid>"
}

// ErrShortRegisters is returned by Decode and Encode when regs has fewer registers than the type takes.
var ErrShortRegisters = errors.New("modbus: too few registers for the data type")

// Decode decodes the value of type t at the start of regs in byte order o. A String takes all of regs,
// high byte first (use Format for another placement); a Bit is bit 0 of regs[0] (use Format or BitAt for
// another bit).
func Decode(t DataType, o ByteOrder, regs []uint16) (Value, error) {
	return Format{Type: t, Order: o}.Decode(regs)
}

// Format is everything needed to decode or encode one tag's value: its type, byte order, the bit number
// for a Bit and the character placement for a String. The zero Order is ABCD and the zero Placement is
// HighFirst.
type Format struct {
	Type      DataType
	Order     ByteOrder
	Bit       uint            // for Bit: 0 is the least significant bit
	Placement StringPlacement // for String
}

func (f Format) order() (ByteOrder, error) {
	if f.Order == "" {
		return ABCD, nil
	}
	if !f.Order.Valid() {
		return "", fmt.Errorf("modbus: unknown byte order %q", f.Order)
	}
	return f.Order, nil
}

// Decode decodes the value at the start of regs (all of regs for a String).
func (f Format) Decode(regs []uint16) (Value, error) {
	o, err := f.order()
	if err != nil {
		return Value{}, err
	}
	if n := f.Type.Registers(); len(regs) < n {
		return Value{}, fmt.Errorf("%w: %s needs %d, have %d", ErrShortRegisters, f.Type, n, len(regs))
	}
	switch f.Type {
	case Int16:
		return Value{Kind: KindInt, Int: int64(o.Int16(regs))}, nil
	case Int32:
		return Value{Kind: KindInt, Int: int64(o.Int32(regs))}, nil
	case Int64:
		return Value{Kind: KindInt, Int: o.Int64(regs)}, nil
	case Uint16:
		return Value{Kind: KindUint, Uint: uint64(o.Uint16(regs))}, nil
	case Uint32:
		return Value{Kind: KindUint, Uint: uint64(o.Uint32(regs))}, nil
	case Uint64:
		return Value{Kind: KindUint, Uint: o.Uint64(regs)}, nil
	case Float32:
		return Value{Kind: KindFloat, Float: float64(o.Float32(regs))}, nil
	case Float64:
		return Value{Kind: KindFloat, Float: o.Float64(regs)}, nil
	case String:
		return Value{Kind: KindString, Str: DecodeString(regs, f.Placement)}, nil
	case Bit:
		if f.Bit > 15 {
			return Value{}, fmt.Errorf("modbus: bit %d out of range 0..15", f.Bit)
		}
		return Value{Kind: KindBool, Bool: BitAt(regs[0], f.Bit)}, nil
	}
	return Value{}, fmt.Errorf("modbus: unknown data type %q", f.Type)
}

// Encode writes v into regs as f describes; the inverse of Decode. A numeric v of another kind is
// converted (a float to an integer type is rounded to nearest; out-of-range values are an error). A Bit
// changes only its bit of regs[0].
func (f Format) Encode(regs []uint16, v Value) error {
	o, err := f.order()
	if err != nil {
		return err
	}
	if n := f.Type.Registers(); len(regs) < n {
		return fmt.Errorf("%w: %s needs %d, have %d", ErrShortRegisters, f.Type, n, len(regs))
	}
	switch f.Type {
	case Int16, Int32, Int64:
		i, err := v.toInt(f.Type)
		if err != nil {
			return err
		}
		switch f.Type {
		case Int16:
			o.PutInt16(regs, int16(i))
		case Int32:
			o.PutInt32(regs, int32(i))
		default:
			o.PutInt64(regs, i)
		}
	case Uint16, Uint32, Uint64:
		u, err := v.toUint(f.Type)
		if err != nil {
			return err
		}
		switch f.Type {
		case Uint16:
			o.PutUint16(regs, uint16(u))
		case Uint32:
			o.PutUint32(regs, uint32(u))
		default:
			o.PutUint64(regs, u)
		}
	case Float32:
		o.PutFloat32(regs, float32(v.Float64()))
	case Float64:
		o.PutFloat64(regs, v.Float64())
	case String:
		EncodeString(regs, f.Placement, v.String())
	case Bit:
		if f.Bit > 15 {
			return fmt.Errorf("modbus: bit %d out of range 0..15", f.Bit)
		}
		regs[0] = SetBit(regs[0], f.Bit, v.Float64() != 0)
	default:
		return fmt.Errorf("modbus: unknown data type %q", f.Type)
	}
	return nil
}

func intRange(t DataType) (lo, hi int64) {
	switch t {
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Int32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

func uintMax(t DataType) uint64 {
	switch t {
	case Uint16:
		return math.MaxUint16
	case Uint32:
		return math.MaxUint32
	}
	return math.MaxUint64
}

func (v Value) toInt(t DataType) (int64, error) {
	lo, hi := intRange(t)
	var i int64
	switch v.Kind {
	case KindInt:
		i = v.Int
	case KindUint:
		if v.Uint > math.MaxInt64 {
			return 0, fmt.Errorf("modbus: %d out of range for %s", v.Uint, t)
		}
		i = int64(v.Uint)
	case KindBool:
		if v.Bool {
			i = 1
		}
	default:
		f := math.Round(v.Float64())
		// float64(MaxInt64) rounds up to 2^63, so the upper bound is exclusive.
		if math.IsNaN(f) || f < float64(lo) || f > float64(hi) || f >= 9223372036854775808.0 {
			return 0, fmt.Errorf("modbus: %s out of range for %s", v, t)
		}
		i = int64(f)
	}
	if i < lo || i > hi {
		return 0, fmt.Errorf("modbus: %d out of range for %s", i, t)
	}
	return i, nil
}

func (v Value) toUint(t DataType) (uint64, error) {
	hi := uintMax(t)
	var u uint64
	switch v.Kind {
	case KindUint:
		u = v.Uint
	case KindInt:
		if v.Int < 0 {
			return 0, fmt.Errorf("modbus: %d out of range for %s", v.Int, t)
		}
		u = uint64(v.Int)
	case KindBool:
		if v.Bool {
			u = 1
		}
	default:
		f := math.Round(v.Float64())
		if math.IsNaN(f) || f < 0 || f >= 18446744073709551616.0 {
			return 0, fmt.Errorf("modbus: %s out of range for %s", v, t)
		}
		u = uint64(f)
	}
	if u > hi {
		return 0, fmt.Errorf("modbus: %d out of range for %s", u, t)
	}
	return u, nil
}

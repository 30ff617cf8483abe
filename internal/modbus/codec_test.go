package modbus

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// Hand-computed register images: float32 123.456 is 0x42F6E979, float64 123.456 is 0x405EDD2F1A9FBE77.
func TestByteOrderTable(t *testing.T) {
	tests := []struct {
		typ  DataType
		o    ByteOrder
		regs []uint16
		want Value
	}{
		{Uint16, ABCD, []uint16{0x1234}, Value{Kind: KindUint, Uint: 0x1234}},
		{Uint16, CDAB, []uint16{0x1234}, Value{Kind: KindUint, Uint: 0x1234}},
		{Uint16, DCBA, []uint16{0x1234}, Value{Kind: KindUint, Uint: 0x3412}},
		{Uint16, BADC, []uint16{0x1234}, Value{Kind: KindUint, Uint: 0x3412}},
		{Int16, ABCD, []uint16{0xFFFE}, Value{Kind: KindInt, Int: -2}},
		{Int16, DCBA, []uint16{0xFEFF}, Value{Kind: KindInt, Int: -2}},
		{Int16, BADC, []uint16{0x0080}, Value{Kind: KindInt, Int: math.MinInt16}},
		{Uint32, ABCD, []uint16{0x0102, 0x0304}, Value{Kind: KindUint, Uint: 0x01020304}},
		{Uint32, DCBA, []uint16{0x0403, 0x0201}, Value{Kind: KindUint, Uint: 0x01020304}},
		{Uint32, BADC, []uint16{0x0201, 0x0403}, Value{Kind: KindUint, Uint: 0x01020304}},
		{Uint32, CDAB, []uint16{0x0304, 0x0102}, Value{Kind: KindUint, Uint: 0x01020304}},
		{Int32, ABCD, []uint16{0xFFFF, 0xFFFE}, Value{Kind: KindInt, Int: -2}},
		{Int32, CDAB, []uint16{0xFFFE, 0xFFFF}, Value{Kind: KindInt, Int: -2}},
		{Int32, DCBA, []uint16{0xFEFF, 0xFFFF}, Value{Kind: KindInt, Int: -2}},
		{Int32, BADC, []uint16{0xFFFF, 0xFEFF}, Value{Kind: KindInt, Int: -2}},
		{Float32, ABCD, []uint16{0x42F6, 0xE979}, Value{Kind: KindFloat, Float: float64(float32(123.456))}},
		{Float32, DCBA, []uint16{0x79E9, 0xF642}, Value{Kind: KindFloat, Float: float64(float32(123.456))}},
		{Float32, BADC, []uint16{0xF642, 0x79E9}, Value{Kind: KindFloat, Float: float64(float32(123.456))}},
		{Float32, CDAB, []uint16{0xE979, 0x42F6}, Value{Kind: KindFloat, Float: float64(float32(123.456))}},
		{Uint64, ABCD, []uint16{0x0102, 0x0304, 0x0506, 0x0708}, Value{Kind: KindUint, Uint: 0x0102030405060708}},
		{Uint64, DCBA, []uint16{0x0807, 0x0605, 0x0403, 0x0201}, Value{Kind: KindUint, Uint: 0x0102030405060708}},
		{Uint64, BADC, []uint16{0x0201, 0x0403, 0x0605, 0x0807}, Value{Kind: KindUint, Uint: 0x0102030405060708}},
		{Uint64, CDAB, []uint16{0x0708, 0x0506, 0x0304, 0x0102}, Value{Kind: KindUint, Uint: 0x0102030405060708}},
		// A totalizer beyond 2^53 must stay exact.
		{Uint64, ABCD, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, Value{Kind: KindUint, Uint: math.MaxUint64}},
		{Int64, ABCD, []uint16{0x8000, 0, 0, 0}, Value{Kind: KindInt, Int: math.MinInt64}},
		{Int64, CDAB, []uint16{0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF}, Value{Kind: KindInt, Int: -2}},
		{Float64, ABCD, []uint16{0x405E, 0xDD2F, 0x1A9F, 0xBE77}, Value{Kind: KindFloat, Float: 123.456}},
		{Float64, DCBA, []uint16{0x77BE, 0x9F1A, 0x2FDD, 0x5E40}, Value{Kind: KindFloat, Float: 123.456}},
		{Float64, BADC, []uint16{0x5E40, 0x2FDD, 0x9F1A, 0x77BE}, Value{Kind: KindFloat, Float: 123.456}},
		{Float64, CDAB, []uint16{0xBE77, 0x1A9F, 0xDD2F, 0x405E}, Value{Kind: KindFloat, Float: 123.456}},
		{Bit, ABCD, []uint16{0x0001}, Value{Kind: KindBool, Bool: true}},
		{Bit, ABCD, []uint16{0xFFFE}, Value{Kind: KindBool, Bool: false}},
		{String, ABCD, []uint16{0x4142, 0x4300}, Value{Kind: KindString, Str: "ABC"}},
	}
	for _, tc := range tests {
		got, err := Decode(tc.typ, tc.o, tc.regs)
		if err != nil {
			t.Fatalf("Decode(%s, %s, %04x): %v", tc.typ, tc.o, tc.regs, err)
		}
		if got != tc.want {
			t.Errorf("Decode(%s, %s, %04x) = %+v, want %+v", tc.typ, tc.o, tc.regs, got, tc.want)
		}
		// Encoding the value back must give the same registers.
		regs := make([]uint16, len(tc.regs))
		if tc.typ == Bit { // a Bit changes only its own bit
			copy(regs, tc.regs)
		}
		if err := (Format{Type: tc.typ, Order: tc.o}).Encode(regs, got); err != nil {
			t.Fatalf("Encode(%s, %s, %v): %v", tc.typ, tc.o, got, err)
		}
		for i := range regs {
			if regs[i] != tc.regs[i] {
				t.Errorf("Encode(%s, %s, %v) = %04x, want %04x", tc.typ, tc.o, got, regs, tc.regs)
				break
			}
		}
	}
}

var orders = []ByteOrder{ABCD, DCBA, BADC, CDAB}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	regs := make([]uint16, 4)
	for i := 0; i < 2000; i++ {
		u := r.Uint64()
		for _, o := range orders {
			o.PutUint16(regs, uint16(u))
			if g := o.Uint16(regs); g != uint16(u) {
				t.Fatalf("%s uint16 %d -> %d", o, uint16(u), g)
			}
			o.PutInt16(regs, int16(u))
			if g := o.Int16(regs); g != int16(u) {
				t.Fatalf("%s int16 %d -> %d", o, int16(u), g)
			}
			o.PutUint32(regs, uint32(u))
			if g := o.Uint32(regs); g != uint32(u) {
				t.Fatalf("%s uint32 %d -> %d", o, uint32(u), g)
			}
			o.PutInt32(regs, int32(u))
			if g := o.Int32(regs); g != int32(u) {
				t.Fatalf("%s int32 %d -> %d", o, int32(u), g)
			}
			o.PutUint64(regs, u)
			if g := o.Uint64(regs); g != u {
				t.Fatalf("%s uint64 %d -> %d", o, u, g)
			}
			o.PutInt64(regs, int64(u))
			if g := o.Int64(regs); g != int64(u) {
				t.Fatalf("%s int64 %d -> %d", o, int64(u), g)
			}
			f32 := math.Float32frombits(uint32(u))
			o.PutFloat32(regs, f32)
			if g := o.Float32(regs); math.Float32bits(g) != math.Float32bits(f32) {
				t.Fatalf("%s float32 %x -> %x", o, math.Float32bits(f32), math.Float32bits(g))
			}
			f64 := math.Float64frombits(u)
			o.PutFloat64(regs, f64)
			if g := o.Float64(regs); math.Float64bits(g) != u {
				t.Fatalf("%s float64 %x -> %x", o, u, math.Float64bits(g))
			}
		}
	}
}

// The orders must differ from one another for a value whose bytes are all distinct, or a swapped
// configuration would go unnoticed.
func TestOrdersDistinct(t *testing.T) {
	seen := map[[4]uint16]ByteOrder{}
	for _, o := range orders {
		var regs [4]uint16
		o.PutUint64(regs[:], 0x0102030405060708)
		if p, ok := seen[regs]; ok {
			t.Errorf("%s and %s give the same registers %04x", o, p, regs)
		}
		seen[regs] = o
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]ByteOrder{"abcd": ABCD, "DCBA": DCBA, " badc ": BADC, "3412": CDAB, "1234": ABCD} {
		if got, err := ParseByteOrder(in); err != nil || got != want {
			t.Errorf("ParseByteOrder(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "ABDC", "big"} {
		if _, err := ParseByteOrder(in); err == nil {
			t.Errorf("ParseByteOrder(%q): no error", in)
		}
	}
	for _, d := range dataTypes {
		if got, err := ParseDataType(string(d)); err != nil || got != d {
			t.Errorf("ParseDataType(%q) = %q, %v", d, got, err)
		}
	}
	if got, _ := ParseDataType("FLOAT32"); got != Float32 {
		t.Errorf("ParseDataType(FLOAT32) = %q", got)
	}
	if _, err := ParseDataType("real"); err == nil {
		t.Error("ParseDataType(real): no error")
	}
	want := map[DataType]int{Int16: 1, Uint16: 1, Bit: 1, Int32: 2, Uint32: 2, Float32: 2, Int64: 4, Uint64: 4, Float64: 4, String: 0, "x": 0}
	for d, n := range want {
		if d.Registers() != n {
			t.Errorf("%s.Registers() = %d, want %d", d, d.Registers(), n)
		}
	}
	if p, err := ParseStringPlacement(""); err != nil || p != HighFirst {
		t.Errorf("ParseStringPlacement(\"\") = %q, %v", p, err)
	}
	if _, err := ParseStringPlacement("middle"); err == nil {
		t.Error("ParseStringPlacement(middle): no error")
	}
}

func TestBits(t *testing.T) {
	reg := uint16(0x8001)
	if !BitAt(reg, 0) || !BitAt(reg, 15) || BitAt(reg, 1) || BitAt(reg, 16) {
		t.Errorf("BitAt(0x8001) wrong")
	}
	if SetBit(0, 3, true) != 8 || SetBit(0xFFFF, 0, false) != 0xFFFE || SetBit(5, 16, true) != 5 {
		t.Error("SetBit wrong")
	}
	v, err := Format{Type: Bit, Bit: 15}.Decode([]uint16{0x8000})
	if err != nil || !v.Bool {
		t.Errorf("Format bit 15 = %v, %v", v, err)
	}
	if _, err := (Format{Type: Bit, Bit: 16}).Decode([]uint16{0}); err == nil {
		t.Error("bit 16: no error")
	}
	regs := []uint16{0x00F0}
	if err := (Format{Type: Bit, Bit: 0}).Encode(regs, Value{Kind: KindBool, Bool: true}); err != nil || regs[0] != 0x00F1 {
		t.Errorf("Encode bit 0 = %04x, %v", regs[0], err)
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		regs []uint16
		p    StringPlacement
		want string
	}{
		{[]uint16{0x4142, 0x4344}, HighFirst, "ABCD"},
		{[]uint16{0x4142, 0x4344}, LowFirst, "BADC"},
		{[]uint16{0x4142, 0x2020}, HighFirst, "AB"},
		{[]uint16{0x4100, 0x4344}, HighFirst, "A"}, // garbage after the NUL
		{[]uint16{0x0041}, LowFirst, "A"},
		{nil, HighFirst, ""},
	}
	for _, tc := range tests {
		if got := DecodeString(tc.regs, tc.p); got != tc.want {
			t.Errorf("DecodeString(%04x, %s) = %q, want %q", tc.regs, tc.p, got, tc.want)
		}
	}
	for _, p := range []StringPlacement{HighFirst, LowFirst} {
		for _, s := range []string{"", "A", "AB", "ABC", "BG00ABC0001"} {
			regs := make([]uint16, 6)
			for i := range regs {
				regs[i] = 0xFFFF
			}
			EncodeString(regs, p, s)
			if got := DecodeString(regs, p); got != s {
				t.Errorf("%s: %q -> %04x -> %q", p, s, regs, got)
			}
		}
	}
	regs := make([]uint16, 1)
	EncodeString(regs, HighFirst, "ABC")
	if regs[0] != 0x4142 {
		t.Errorf("EncodeString truncation: %04x", regs[0])
	}
}

func TestValue(t *testing.T) {
	tests := []struct {
		v   Value
		f   float64
		str string
	}{
		{Value{Kind: KindInt, Int: -5}, -5, "-5"},
		{Value{Kind: KindUint, Uint: math.MaxUint64}, 18446744073709551615, "18446744073709551615"},
		{Value{Kind: KindFloat, Float: 0.1}, 0.1, "0.1"},
		{Value{Kind: KindBool, Bool: true}, 1, "1"},
		{Value{Kind: KindString, Str: " 12.5"}, 12.5, " 12.5"},
	}
	for _, tc := range tests {
		if tc.v.Float64() != tc.f || tc.v.String() != tc.str {
			t.Errorf("%+v: Float64 %v String %q, want %v %q", tc.v, tc.v.Float64(), tc.v.String(), tc.f, tc.str)
		}
	}
	if !math.IsNaN((Value{Kind: KindString, Str: "x"}).Float64()) || !math.IsNaN(Value{}.Float64()) {
		t.Error("non-numeric Float64 is not NaN")
	}
}

func TestEncodeErrors(t *testing.T) {
	regs := make([]uint16, 4)
	bad := []struct {
		f Format
		v Value
	}{
		{Format{Type: Int16}, Value{Kind: KindInt, Int: 40000}},
		{Format{Type: Uint16}, Value{Kind: KindInt, Int: -1}},
		{Format{Type: Uint32}, Value{Kind: KindUint, Uint: 1 << 32}},
		{Format{Type: Int64}, Value{Kind: KindUint, Uint: math.MaxUint64}},
		{Format{Type: Int64}, Value{Kind: KindFloat, Float: 1e19}},
		{Format{Type: Uint64}, Value{Kind: KindFloat, Float: -1}},
		{Format{Type: Uint64}, Value{Kind: KindFloat, Float: math.NaN()}},
		{Format{Type: "int8"}, Value{Kind: KindInt}},
		{Format{Type: Int16, Order: "XYZW"}, Value{Kind: KindInt}},
	}
	for _, tc := range bad {
		if err := tc.f.Encode(regs, tc.v); err == nil {
			t.Errorf("Encode(%+v, %+v): no error", tc.f, tc.v)
		}
	}
	if err := (Format{Type: Float64}).Encode(regs[:2], Value{Kind: KindFloat}); !errors.Is(err, ErrShortRegisters) {
		t.Errorf("short Encode: %v", err)
	}
	if _, err := Decode(Uint32, ABCD, regs[:1]); !errors.Is(err, ErrShortRegisters) {
		t.Errorf("short Decode: %v", err)
	}
	// A float is rounded to the nearest integer.
	if err := (Format{Type: Int32}).Encode(regs, Value{Kind: KindFloat, Float: -2.5}); err != nil || ABCD.Int32(regs) != -3 {
		t.Errorf("Encode -2.5 as int32: %d, %v", ABCD.Int32(regs), err)
	}
}

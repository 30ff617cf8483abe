package agent

import (
	"math"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/core"
	"github.com/akciz/akciz/internal/formula"
	"github.com/akciz/akciz/internal/modbus"
)

func regsOf(t modbus.DataType, o modbus.ByteOrder, v modbus.Value) []uint16 {
	regs := make([]uint16, max(t.Registers(), 1))
	if err := (modbus.Format{Type: t, Order: o}).Encode(regs, v); err != nil {
		panic(err)
	}
	return regs
}

func TestDecodeTag(t *testing.T) {
	tests := []struct {
		name    string
		typ     modbus.DataType
		order   modbus.ByteOrder
		formula string
		v       modbus.Value
		want    core.Decimal
		invalid bool
	}{
		{"uint64 exact", modbus.Uint64, modbus.ABCD, "", modbus.Value{Kind: modbus.KindUint, Uint: 1<<63 + 1}, "9223372036854775809", false},
		{"uint64 scaled exactly", modbus.Uint64, modbus.CDAB, "x * 0.001", modbus.Value{Kind: modbus.KindUint, Uint: 1<<60 + 1}, "1152921504606846.977", false},
		{"uint32 divided", modbus.Uint32, modbus.DCBA, "x / 100", modbus.Value{Kind: modbus.KindUint, Uint: 4294967295}, "42949672.95", false},
		{"int32 negative scaled", modbus.Int32, modbus.BADC, "x * 0.01", modbus.Value{Kind: modbus.KindInt, Int: -1234}, "-12.34", false},
		{"affine offset", modbus.Int16, modbus.ABCD, "x * 0.1 - 40", modbus.Value{Kind: modbus.KindInt, Int: 655}, "25.5", false},
		{"float32 shortest", modbus.Float32, modbus.CDAB, "", modbus.Value{Kind: modbus.KindFloat, Float: float64(float32(2012.3))}, "2012.3", false},
		{"float64 scaled", modbus.Float64, modbus.ABCD, "x * 1000", modbus.Value{Kind: modbus.KindFloat, Float: 12345.678}, "12345678", false},
		{"float NaN", modbus.Float32, modbus.ABCD, "", modbus.Value{Kind: modbus.KindFloat, Float: math.NaN()}, "0", true},
		{"other formula", modbus.Uint16, modbus.ABCD, "sqrt(x)", modbus.Value{Kind: modbus.KindUint, Uint: 16}, "4", false},
		{"third not exact", modbus.Uint16, modbus.ABCD, "x / 3", modbus.Value{Kind: modbus.KindUint, Uint: 1}, "0.3333333333333333", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tag := &config.Tag{Name: "t", Table: config.HoldingRegisters, Type: tc.typ, Order: tc.order, Size: tc.typ.Registers()}
			if tc.formula != "" {
				tag.Compiled = formula.MustCompile(tc.formula)
			}
			s := decodeTag(tag, config.Quirks{}, exactFormula(tag), regsOf(tc.typ, tc.order, tc.v), nil, time.Time{})
			if s.value != tc.want || s.invalid != tc.invalid {
				t.Errorf("value %q invalid %v, want %q %v", s.value, s.invalid, tc.want, tc.invalid)
			}
		})
	}
}

func TestDecimalArithmetic(t *testing.T) {
	for _, tc := range []struct{ a, b, diff core.Decimal }{
		{"18258184", "18250400", "7784"},
		{"1520353.69", "1520334.25", "19.44"},
		{"100", "99.999", "0.001"},
		{"0.5", "1", "-0.5"},
		{"123456789012345678901234567890.1", "0.1", "123456789012345678901234567890"},
	} {
		if got, ok := subDecimal(tc.a, tc.b); !ok || got != tc.diff {
			t.Errorf("%s − %s = %s, want %s", tc.a, tc.b, got, tc.diff)
		}
	}
	if c, ok := cmpDecimal("10.10", "10.1"); !ok || c != 0 {
		t.Errorf("10.10 vs 10.1: %d", c)
	}
	if _, ok := subDecimal("1e5", "1"); ok {
		t.Error("an exponent is not a Decimal")
	}
}

// FuzzDecodeTag decodes random registers as random tag configurations: it never panics, and whatever it
// gives is a Decimal.
func FuzzDecodeTag(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, uint8(0), uint8(0), uint8(0), "x * 0.1")
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint8(6), uint8(1), uint8(3), "")
	f.Add([]byte{0x7f, 0xc0, 0, 0}, uint8(6), uint8(2), uint8(0), "x / 3 + 1")
	f.Add([]byte{'1', '2', '.', '5'}, uint8(8), uint8(0), uint8(0), "x")
	f.Fuzz(func(t *testing.T, data []byte, typ, order, bit uint8, src string) {
		types := []modbus.DataType{modbus.Int16, modbus.Uint16, modbus.Int32, modbus.Uint32, modbus.Int64, modbus.Uint64,
			modbus.Float32, modbus.Float64, modbus.String, modbus.Bit}
		orders := []modbus.ByteOrder{modbus.ABCD, modbus.DCBA, modbus.BADC, modbus.CDAB, "XYZW"}
		tables := []config.Table{config.HoldingRegisters, config.InputRegisters, config.Coils}
		tag := &config.Tag{Name: "f", Type: types[int(typ)%len(types)], Order: orders[int(order)%len(orders)],
			Bit: int(bit % 20), Table: tables[int(bit)%len(tables)], Low: ptr(-1e6), High: ptr(1e6)}
		if fm, err := formula.Compile(src); err == nil {
			tag.Compiled = fm
		}
		regs := make([]uint16, len(data)/2)
		for i := range regs {
			regs[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		}
		tag.Size = len(regs)
		bits := make([]bool, len(data))
		for i, b := range data {
			bits[i] = b&1 == 1
		}
		s := decodeTag(tag, config.Quirks{}, exactFormula(tag), regs, bits, time.Time{})
		if !s.value.Valid() {
			t.Fatalf("value %q is not a Decimal", s.value)
		}
	})
}

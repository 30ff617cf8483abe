package modbus_test

import (
	"context"
	"fmt"
	"net"

	"github.com/akciz/akciz/internal/modbus"
)

// A server holding a 64-bit totalizer and a float32 flow, and a client reading them.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	mem := modbus.NewMemory(modbus.MemoryLayout{HoldingRegisters: 100}, 1)
	_ = mem.Update(1, func(b *modbus.Bank) {
		modbus.CDAB.PutUint64(b.HoldingRegisters[0:], 12345678901234567)
		modbus.ABCD.PutFloat32(b.HoldingRegisters[4:], 123.456)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &modbus.Server{Handler: mem}
	go srv.ServeTCP(ctx, ln)

	c, err := modbus.NewClient(modbus.ClientConfig{Transport: modbus.TCP, Address: ln.Addr().String()})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	regs, err := c.ReadHoldingRegisters(ctx, 1, 0, 6)
	if err != nil {
		panic(err)
	}
	fmt.Println(modbus.CDAB.Uint64(regs[0:]))
	fmt.Println(modbus.ABCD.Float32(regs[4:]))

	_, err = c.ReadHoldingRegisters(ctx, 1, 99, 2) // beyond the 100 registers
	fmt.Println(err)
	// Output:
	// 12345678901234567
	// 123.456
	// modbus: function 3: exception 2 (illegal data address)
}

// Decoding a tag whose type and byte order come from the configuration.
func ExampleFormat() {
	f := modbus.Format{Type: modbus.Float32, Order: modbus.CDAB}
	v, err := f.Decode([]uint16{0xE979, 0x42F6})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.3f\n", v.Float64())

	total, _ := modbus.Decode(modbus.Uint64, modbus.ABCD, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE})
	fmt.Println(total) // exact, beyond 2^53
	// Output:
	// 123.456
	// 18446744073709551614
}

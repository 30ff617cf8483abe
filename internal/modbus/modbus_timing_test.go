package modbus

import (
	"context"
	"sync"
	"testing"
)

// benchRead125 reads 125 holding registers per request from an in-process server over loopback, from
// `parallel` goroutines at once.
func benchRead125(b *testing.B, tr Transport, inFlight, parallel int) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 125})
	c := newTestClient(b, ClientConfig{Transport: tr, Address: serveLoopback(b, &Server{Handler: mem}, tr), MaxInFlight: inFlight})
	ctx := context.Background()
	dst := make([]uint16, 125)
	if err := c.ReadHoldingRegistersInto(ctx, 1, 0, dst); err != nil { // connect outside the timing
		b.Fatal(err)
	}
	b.SetBytes(250)
	b.ReportAllocs()
	b.ResetTimer()
	if parallel == 1 {
		for b.Loop() {
			if err := c.ReadHoldingRegistersInto(ctx, 1, 0, dst); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	var wg sync.WaitGroup
	per := b.N / parallel
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]uint16, 125)
			for range per {
				if err := c.ReadHoldingRegistersInto(ctx, 1, 0, dst); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkTCPRead125(b *testing.B)           { benchRead125(b, TCP, 1, 1) }
func BenchmarkTCPRead125InFlight8(b *testing.B)  { benchRead125(b, TCP, 8, 8) }
func BenchmarkRTUOverTCPRead125(b *testing.B)    { benchRead125(b, RTUOverTCP, 1, 1) }
func BenchmarkTCPRead125Allocating(b *testing.B) { benchReadAlloc(b) }

func benchReadAlloc(b *testing.B) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 125})
	c := newTestClient(b, ClientConfig{Transport: TCP, Address: serveLoopback(b, &Server{Handler: mem}, TCP)})
	ctx := context.Background()
	b.SetBytes(250)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ReadHoldingRegisters(ctx, 1, 0, 125); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCRC(b *testing.B) {
	frame := make([]byte, MaxRTUADU-2)
	for i := range frame {
		frame[i] = byte(i)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		_ = CRC(frame)
	}
}

// BenchmarkServePDU decodes a read request of 125 registers and encodes its answer, server side.
func BenchmarkServePDU(b *testing.B) {
	mem := NewMemory(MemoryLayout{HoldingRegisters: 125})
	req := []byte{3, 0, 0, 0, 125}
	resp := make([]byte, MaxPDU)
	var sb serverBuffers
	ctx := context.Background()
	b.SetBytes(250)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := serve(ctx, mem, 1, req, resp, &sb); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientFrame encodes a request and checks and decodes its 125-register answer, client side.
func BenchmarkClientFrame(b *testing.B) {
	resp := make([]byte, 252)
	resp[0], resp[1] = 3, 250
	dst := make([]uint16, 125)
	b.SetBytes(250)
	b.ReportAllocs()
	for b.Loop() {
		c := getCall(1, FuncReadHoldingRegisters)
		c.put16(0)
		c.put16(125)
		c.n = copy(c.resp[:], resp)
		if err := checkResponse(c.pdu(), c.response()); err != nil {
			b.Fatal(err)
		}
		for i := range dst {
			dst[i] = be16(c.resp[2+2*i:])
		}
		putCall(c)
	}
}

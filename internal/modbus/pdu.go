package modbus

import (
	"context"
	"errors"
	"fmt"
)

// Function codes (Modbus Application Protocol v1.1b3, §6).
const (
	FuncReadCoils                  byte = 0x01
	FuncReadDiscreteInputs         byte = 0x02
	FuncReadHoldingRegisters       byte = 0x03
	FuncReadInputRegisters         byte = 0x04
	FuncWriteSingleCoil            byte = 0x05
	FuncWriteSingleRegister        byte = 0x06
	FuncWriteMultipleCoils         byte = 0x0F
	FuncWriteMultipleRegisters     byte = 0x10
	FuncReadWriteMultipleRegisters byte = 0x17
)

// Quantity limits per request (Modbus Application Protocol v1.1b3, §6); they keep every PDU within
// MaxPDU bytes.
const (
	MaxReadBits          = 2000 // FC 1, 2
	MaxReadRegisters     = 125  // FC 3, 4, and the read part of FC 23
	MaxWriteBits         = 1968 // FC 15
	MaxWriteRegisters    = 123  // FC 16
	MaxReadWriteRegister = 121  // the write part of FC 23
)

// Frame size limits.
const (
	MaxPDU    = 253 // function code and data
	MaxTCPADU = 260 // MBAP header (7 bytes) and PDU
	MaxRTUADU = 256 // unit, PDU, CRC
)

const (
	mbapLen   = 7
	coilOn    = 0xFF00
	coilOff   = 0x0000
	exception = 0x80
)

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func put16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }

// checkRange checks a quantity against its function's limit and the 65536-address space, in the order
// and with the exception codes of the specification's server state diagrams: the quantity first
// (IllegalDataValue), then the address range (IllegalDataAddress).
func checkRange(addr uint16, qty, max int) ExceptionCode {
	if qty < 1 || qty > max {
		return IllegalDataValue
	}
	if int(addr)+qty > 0x10000 {
		return IllegalDataAddress
	}
	return 0
}

func requestError(fn byte, addr uint16, qty, max int) error {
	switch checkRange(addr, qty, max) {
	case IllegalDataValue:
		return fmt.Errorf("%w: function %d: quantity %d outside 1..%d", ErrInvalidRequest, fn, qty, max)
	case IllegalDataAddress:
		return fmt.Errorf("%w: function %d: address %d + quantity %d exceeds 65536", ErrInvalidRequest, fn, addr, qty)
	}
	return nil
}

// Response PDU lengths (function code included) of the normal answer to each request.
func bitsResponseLen(qty int) int { return 2 + (qty+7)/8 }
func regsResponseLen(qty int) int { return 2 + 2*qty }

const echoResponseLen = 5

// unpackBits writes the bits of packed, least significant bit of the first byte first, into dst.
func unpackBits(dst []bool, packed []byte) {
	for i := range dst {
		dst[i] = packed[i/8]>>(uint(i)%8)&1 == 1
	}
}

// packBits is the inverse of unpackBits; it returns the number of bytes written.
func packBits(dst []byte, bits []bool) int {
	n := (len(bits) + 7) / 8
	clear(dst[:n])
	for i, b := range bits {
		if b {
			dst[i/8] |= 1 << (uint(i) % 8)
		}
	}
	return n
}

// checkResponse checks a response PDU against the request PDU it answers: an exception becomes an
// *Exception, anything not shaped as the normal answer an ErrInvalidResponse. The unit and, on TCP, the
// transaction were matched before.
func checkResponse(req, resp []byte) error {
	fn := req[0]
	if len(resp) == 0 {
		return fmt.Errorf("%w: empty pdu", ErrInvalidResponse)
	}
	if resp[0] == fn|exception {
		if len(resp) != 2 {
			return fmt.Errorf("%w: exception pdu of %d bytes", ErrInvalidResponse, len(resp))
		}
		return &Exception{Function: fn, Code: ExceptionCode(resp[1])}
	}
	if resp[0] != fn {
		return fmt.Errorf("%w: function %d answered by function %d", ErrInvalidResponse, fn, resp[0])
	}
	want := responseLen(req)
	if len(resp) != want {
		return fmt.Errorf("%w: function %d: pdu of %d bytes, want %d", ErrInvalidResponse, fn, len(resp), want)
	}
	switch fn {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters, FuncReadWriteMultipleRegisters:
		if int(resp[1]) != want-2 {
			return fmt.Errorf("%w: function %d: byte count %d, want %d", ErrInvalidResponse, fn, resp[1], want-2)
		}
	case FuncWriteSingleCoil, FuncWriteSingleRegister, FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		// Single writes echo address and value, multiple writes address and quantity: both are the
		// four bytes after the function code of the request.
		if string(resp[1:5]) != string(req[1:5]) {
			return fmt.Errorf("%w: function %d: echo % x, want % x", ErrInvalidResponse, fn, resp[1:5], req[1:5])
		}
	}
	return nil
}

// responseLen is the length of the normal response PDU to the well-formed request PDU req (0 for a
// function this package does not send).
func responseLen(req []byte) int {
	switch req[0] {
	case FuncReadCoils, FuncReadDiscreteInputs:
		return bitsResponseLen(int(be16(req[3:])))
	case FuncReadHoldingRegisters, FuncReadInputRegisters, FuncReadWriteMultipleRegisters:
		return regsResponseLen(int(be16(req[3:])))
	case FuncWriteSingleCoil, FuncWriteSingleRegister, FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		return echoResponseLen
	}
	return 0
}

// serverBuffers are a connection's scratch space, so that serving a request allocates nothing.
type serverBuffers struct {
	bits [MaxReadBits]bool
	regs [MaxReadRegisters]uint16
}

// serve decodes the request PDU req for unit, calls h and writes the response PDU into resp (at least
// MaxPDU bytes), returning its length. A nil error or ErrCorruptResponse come with a response; the other
// fault sentinels with none. Malformed requests get the exception the specification's state diagrams
// give (IllegalFunction, IllegalDataValue, IllegalDataAddress); handler errors that are not an
// *Exception or a fault sentinel become ServerDeviceFailure.
func serve(ctx context.Context, h Handler, unit byte, req, resp []byte, sb *serverBuffers) (int, error) {
	if len(req) == 0 {
		return 0, ErrNoResponse
	}
	fn := req[0]
	exc := func(c ExceptionCode) (int, error) {
		resp[0], resp[1] = fn|exception, byte(c)
		return 2, nil
	}
	var err error
	n := 0
	switch fn {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters:
		if len(req) != 5 {
			return exc(IllegalDataValue)
		}
		addr, qty := be16(req[1:]), int(be16(req[3:]))
		max := MaxReadRegisters
		if fn <= FuncReadDiscreteInputs {
			max = MaxReadBits
		}
		if c := checkRange(addr, qty, max); c != 0 {
			return exc(c)
		}
		resp[0] = fn
		switch fn {
		case FuncReadCoils, FuncReadDiscreteInputs:
			dst := sb.bits[:qty]
			if fn == FuncReadCoils {
				err = h.ReadCoils(ctx, unit, addr, dst)
			} else {
				err = h.ReadDiscreteInputs(ctx, unit, addr, dst)
			}
			resp[1] = byte(packBits(resp[2:], dst))
		default:
			dst := sb.regs[:qty]
			if fn == FuncReadHoldingRegisters {
				err = h.ReadHoldingRegisters(ctx, unit, addr, dst)
			} else {
				err = h.ReadInputRegisters(ctx, unit, addr, dst)
			}
			resp[1] = byte(2 * qty)
			for i, v := range dst {
				put16(resp[2+2*i:], v)
			}
		}
		n = 2 + int(resp[1])
	case FuncWriteSingleCoil:
		if len(req) != 5 {
			return exc(IllegalDataValue)
		}
		v := be16(req[3:])
		if v != coilOn && v != coilOff {
			return exc(IllegalDataValue)
		}
		sb.bits[0] = v == coilOn
		err = h.WriteCoils(ctx, unit, be16(req[1:]), sb.bits[:1])
		n = copy(resp, req[:5])
	case FuncWriteSingleRegister:
		if len(req) != 5 {
			return exc(IllegalDataValue)
		}
		sb.regs[0] = be16(req[3:])
		err = h.WriteRegisters(ctx, unit, be16(req[1:]), sb.regs[:1])
		n = copy(resp, req[:5])
	case FuncWriteMultipleCoils:
		if len(req) < 6 {
			return exc(IllegalDataValue)
		}
		addr, qty, bc := be16(req[1:]), int(be16(req[3:])), int(req[5])
		if qty < 1 || qty > MaxWriteBits || bc != (qty+7)/8 || len(req) != 6+bc {
			return exc(IllegalDataValue)
		}
		if c := checkRange(addr, qty, MaxWriteBits); c != 0 {
			return exc(c)
		}
		vals := sb.bits[:qty]
		unpackBits(vals, req[6:])
		err = h.WriteCoils(ctx, unit, addr, vals)
		n = copy(resp, req[:5])
	case FuncWriteMultipleRegisters:
		if len(req) < 6 {
			return exc(IllegalDataValue)
		}
		addr, qty, bc := be16(req[1:]), int(be16(req[3:])), int(req[5])
		if qty < 1 || qty > MaxWriteRegisters || bc != 2*qty || len(req) != 6+bc {
			return exc(IllegalDataValue)
		}
		if c := checkRange(addr, qty, MaxWriteRegisters); c != 0 {
			return exc(c)
		}
		vals := sb.regs[:qty]
		for i := range vals {
			vals[i] = be16(req[6+2*i:])
		}
		err = h.WriteRegisters(ctx, unit, addr, vals)
		n = copy(resp, req[:5])
	case FuncReadWriteMultipleRegisters:
		if len(req) < 10 {
			return exc(IllegalDataValue)
		}
		raddr, rqty := be16(req[1:]), int(be16(req[3:]))
		waddr, wqty, bc := be16(req[5:]), int(be16(req[7:])), int(req[9])
		if rqty < 1 || rqty > MaxReadRegisters || wqty < 1 || wqty > MaxReadWriteRegister || bc != 2*wqty || len(req) != 10+bc {
			return exc(IllegalDataValue)
		}
		if checkRange(raddr, rqty, MaxReadRegisters) != 0 || checkRange(waddr, wqty, MaxReadWriteRegister) != 0 {
			return exc(IllegalDataAddress)
		}
		// The write happens before the read (§6.17); the two share the scratch registers, so the
		// values to write are taken first.
		vals := sb.regs[:wqty]
		for i := range vals {
			vals[i] = be16(req[10+2*i:])
		}
		if err = h.WriteRegisters(ctx, unit, waddr, vals); err == nil {
			dst := sb.regs[:rqty]
			err = h.ReadHoldingRegisters(ctx, unit, raddr, dst)
			resp[0], resp[1] = fn, byte(2*rqty)
			for i, v := range dst {
				put16(resp[2+2*i:], v)
			}
			n = 2 + 2*rqty
		}
	default:
		return exc(IllegalFunction)
	}
	if err == nil || errors.Is(err, ErrCorruptResponse) {
		if err != nil && n == 0 {
			// The write part of FC 23 failed "corruptly": there is no read data to damage.
			n, _ = exc(ServerDeviceFailure)
		}
		return n, err
	}
	var e *Exception
	switch {
	case errors.As(err, &e):
		return exc(e.Code)
	case errors.Is(err, ErrNoResponse), errors.Is(err, ErrDropConnection):
		return 0, err
	}
	return exc(ServerDeviceFailure)
}

// isBroadcastable reports whether fn may be sent to unit 0 on a serial line: only writes (Modbus over
// Serial Line v1.02, §2.1).
func isBroadcastable(fn byte) bool {
	switch fn {
	case FuncWriteSingleCoil, FuncWriteSingleRegister, FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		return true
	}
	return false
}

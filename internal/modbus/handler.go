package modbus

import (
	"context"
	"errors"
	"fmt"
)

// ExceptionCode is the code of a Modbus exception response (Modbus Application Protocol v1.1b3, §7).
type ExceptionCode byte

// Exception codes.
const (
	IllegalFunction                    ExceptionCode = 0x01
	IllegalDataAddress                 ExceptionCode = 0x02
	IllegalDataValue                   ExceptionCode = 0x03
	ServerDeviceFailure                ExceptionCode = 0x04
	Acknowledge                        ExceptionCode = 0x05
	ServerDeviceBusy                   ExceptionCode = 0x06
	MemoryParityError                  ExceptionCode = 0x08
	GatewayPathUnavailable             ExceptionCode = 0x0A
	GatewayTargetDeviceFailedToRespond ExceptionCode = 0x0B
)

var exceptionNames = map[ExceptionCode]string{
	IllegalFunction:                    "illegal function",
	IllegalDataAddress:                 "illegal data address",
	IllegalDataValue:                   "illegal data value",
	ServerDeviceFailure:                "server device failure",
	Acknowledge:                        "acknowledge",
	ServerDeviceBusy:                   "server device busy",
	MemoryParityError:                  "memory parity error",
	GatewayPathUnavailable:             "gateway path unavailable",
	GatewayTargetDeviceFailedToRespond: "gateway target device failed to respond",
}

func (c ExceptionCode) String() string {
	if s, ok := exceptionNames[c]; ok {
		return s
	}
	return fmt.Sprintf("exception 0x%02x", byte(c))
}

// Exception is an exception response, as an error: a client returns it when the server answered with
// one, and a Handler returns it to make the server answer with one.
type Exception struct {
	Function byte // the function code of the request, without the 0x80 bit
	Code     ExceptionCode
}

func (e *Exception) Error() string {
	return fmt.Sprintf("modbus: function %d: exception %d (%s)", e.Function, byte(e.Code), e.Code)
}

// Is makes errors.Is(err, &Exception{Code: c}) match any exception with code c, whatever its function.
func (e *Exception) Is(target error) bool {
	t, ok := target.(*Exception)
	return ok && t.Code == e.Code && (t.Function == 0 || t.Function == e.Function)
}

// Errors a Handler may return to make the server misbehave on purpose, as faulty field devices do. The
// simulator's fault injection is built on them.
var (
	// ErrNoResponse makes the server read the request and answer nothing.
	ErrNoResponse = errors.New("modbus: no response")
	// ErrDropConnection makes the server close the connection the request came on without answering
	// (on a serial line, where there is no connection, it answers nothing).
	ErrDropConnection = errors.New("modbus: drop connection")
	// ErrCorruptResponse makes the server send the response the Handler filled in, but damaged: a wrong
	// CRC on RTU, a wrong MBAP length on TCP.
	ErrCorruptResponse = errors.New("modbus: corrupt response")
)

// Handler serves the data model of a Modbus server for one or more unit ids. The server decodes and
// checks every request (function code, quantity limits, address overflow) before calling it, so a
// Handler sees only well-formed requests; it need not be safe for concurrent use only if the server
// serves a single connection.
//
// Read methods fill dst, whose length is the requested quantity. Write methods receive the values to
// store. FC 5 and 15 call WriteCoils; FC 6 and 16 call WriteRegisters; FC 23 calls WriteRegisters and then
// ReadHoldingRegisters. A broadcast (unit 0 on a serial line) reaches the write methods only, and is never
// answered.
//
// A method returns nil to answer normally, an *Exception to answer with that exception, ErrNoResponse,
// ErrDropConnection or ErrCorruptResponse to misbehave, and any other error to answer
// ServerDeviceFailure. ctx is cancelled when the server shuts down or the connection closes, so a Handler
// that delays its answer must watch it.
type Handler interface {
	ReadCoils(ctx context.Context, unit byte, addr uint16, dst []bool) error
	ReadDiscreteInputs(ctx context.Context, unit byte, addr uint16, dst []bool) error
	ReadHoldingRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error
	ReadInputRegisters(ctx context.Context, unit byte, addr uint16, dst []uint16) error
	WriteCoils(ctx context.Context, unit byte, addr uint16, values []bool) error
	WriteRegisters(ctx context.Context, unit byte, addr uint16, values []uint16) error
}

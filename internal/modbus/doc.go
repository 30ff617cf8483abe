// Package modbus is akciz's own implementation of Modbus (Modbus Application Protocol v1.1b3, Modbus over
// Serial Line v1.02, Modbus Messaging on TCP/IP v1.0b): a client and a server over Modbus TCP (MBAP),
// RTU on a serial line and RTU over TCP, and the typed decoding of what PLCs hold in their registers.
//
// A Client (NewClient) connects lazily, reconnects after failures, is safe for concurrent use, can
// pipeline requests on TCP (ClientConfig.MaxInFlight), and never takes a late answer for the answer to a
// later request: on TCP answers are matched by transaction id, on RTU the line is drained after a
// failure and every answer is checked for unit, function, length and CRC. Clients of one serial device
// share one port owner.
//
// A Server serves a Handler (Memory keeps the tables in memory) over TCP, RTU over TCP and serial lines,
// checking every request against the limits of its function code; Handlers can inject faults with
// ErrNoResponse, ErrDropConnection and ErrCorruptResponse.
//
// ByteOrder, DataType, Format and Value decode and encode integers, floats, bits and strings in the four
// byte orders PLCs use. docs/modbus.md describes the design and its limits.
package modbus

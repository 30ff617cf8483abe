// Package modbus is akciz's own implementation of Modbus (Modbus Application Protocol v1.1b3, Modbus over
// Serial Line v1.02, Modbus Messaging on TCP/IP v1.0b): a client and a server over Modbus TCP (MBAP),
// RTU on a serial line and RTU over TCP, and the typed decoding of what PLCs hold in their registers.
package modbus

//go:build !linux

package modbus

import "syscall"

// rawSyscalls: see connIO. Elsewhere than on Linux, connections are read and written the ordinary way.
const rawSyscalls = false

func rawRead(fd uintptr, b []byte) (int, syscall.Errno)  { panic("modbus: rawRead unsupported") }
func rawWrite(fd uintptr, b []byte) (int, syscall.Errno) { panic("modbus: rawWrite unsupported") }

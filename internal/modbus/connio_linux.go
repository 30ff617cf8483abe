package modbus

import (
	"syscall"
	"unsafe"
)

// rawSyscalls: see connIO.
const rawSyscalls = true

// rawRead and rawWrite are read(2) and write(2) on a non-blocking descriptor, made with RawSyscall:
// they never block, so the runtime need not be told (see connIO).

func rawRead(fd uintptr, b []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return int(n), errno
}

func rawWrite(fd uintptr, b []byte) (int, syscall.Errno) {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	return int(n), errno
}

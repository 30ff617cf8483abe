package modbus

import (
	"io"
	"net"
	"os"
	"syscall"
)

// connIO reads and writes one connection. Where the platform allows (rawSyscalls), it makes its read
// and write system calls directly on the non-blocking socket and lets the runtime's poller do only the
// waiting, through syscall.RawConn: a strict request/answer exchange then costs no more system calls
// and context switches than a C loop does. A system call made the ordinary way tells the runtime it
// may block (entersyscall), which wakes the runtime's monitor thread whenever the process was idle
// before it (golang/go#18236); with one request at a time the process is idle before every request,
// and those wake-ups cost more processor time than the exchange itself. Go's net package keeps every
// socket non-blocking, so a read or write made this way returns at once (EAGAIN when it would block)
// and holding the processor through it is safe.
//
// A connIO is used by one goroutine at a time for reading and one for writing.
type connIO struct {
	nc net.Conn
	rc syscall.RawConn // nil: nc's own Read and Write

	// The operation in progress, for readFn and writeFn, which are made once per connection so that
	// a call allocates nothing.
	rb, wb  []byte
	rn, wn  int
	rerr    syscall.Errno
	werr    syscall.Errno
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

func newConnIO(nc net.Conn) *connIO {
	c := &connIO{nc: nc}
	if !rawSyscalls {
		return c
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	c.rc = rc
	c.readFn = func(fd uintptr) bool {
		for {
			n, errno := rawRead(fd, c.rb)
			switch errno {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // the poller waits until the socket is readable
			}
			c.rn, c.rerr = n, errno
			return true
		}
	}
	c.writeFn = func(fd uintptr) bool {
		for c.wn < len(c.wb) {
			n, errno := rawWrite(fd, c.wb[c.wn:])
			switch errno {
			case 0:
				c.wn += n
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // the poller waits until the socket is writable
			default:
				c.werr = errno
				return true
			}
		}
		return true
	}
	return c
}

// Read reads like net.Conn's Read: io.EOF at the end of the stream, the deadline's and a closed
// connection's errors as net.Conn gives them.
func (c *connIO) Read(b []byte) (int, error) {
	if c.rc == nil {
		return c.nc.Read(b)
	}
	if len(b) == 0 {
		return 0, nil
	}
	c.rb, c.rn, c.rerr = b, 0, 0
	err := c.rc.Read(c.readFn)
	c.rb = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case c.rerr != 0:
		return 0, c.opError("read", os.NewSyscallError("read", c.rerr))
	case c.rn == 0:
		return 0, io.EOF
	}
	return c.rn, nil
}

// Write writes all of b like net.Conn's Write.
func (c *connIO) Write(b []byte) (int, error) {
	if c.rc == nil {
		return c.nc.Write(b)
	}
	c.wb, c.wn, c.werr = b, 0, 0
	err := c.rc.Write(c.writeFn)
	c.wb = nil
	switch {
	case err != nil:
		return c.wn, c.opError("write", err)
	case c.werr != 0:
		return c.wn, c.opError("write", os.NewSyscallError("write", c.werr))
	}
	return c.wn, nil
}

func (c *connIO) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.nc.LocalAddr(), Addr: c.nc.RemoteAddr(), Err: err}
}

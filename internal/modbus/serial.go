package modbus

import (
	"fmt"
	"net"
	"strings"
	"time"

	"go.bug.st/serial"
)

// SerialConfig is the setting of a serial line. The zero value is the Modbus default line (Modbus over
// Serial Line v1.02 §2.5.1): 19200 baud, 8 data bits, even parity, 1 stop bit.
type SerialConfig struct {
	Baud     int    // bits per second; default 19200
	DataBits int    // 7 or 8; default 8
	Parity   string // "N" (none), "E" (even) or "O" (odd); default "E"
	StopBits int    // 1 or 2; default 1
}

func (s *SerialConfig) setDefaults() error {
	if s.Baud == 0 {
		s.Baud = 19200
	}
	if s.DataBits == 0 {
		s.DataBits = 8
	}
	if s.Parity == "" {
		s.Parity = "E"
	}
	s.Parity = strings.ToUpper(s.Parity)
	if s.StopBits == 0 {
		s.StopBits = 1
	}
	switch {
	case s.Baud < 50 || s.Baud > 4000000:
		return fmt.Errorf("modbus: serial: baud rate %d out of range", s.Baud)
	case s.DataBits != 7 && s.DataBits != 8:
		return fmt.Errorf("modbus: serial: %d data bits (want 7 or 8)", s.DataBits)
	case s.Parity != "N" && s.Parity != "E" && s.Parity != "O":
		return fmt.Errorf("modbus: serial: parity %q (want N, E or O)", s.Parity)
	case s.StopBits != 1 && s.StopBits != 2:
		return fmt.Errorf("modbus: serial: %d stop bits (want 1 or 2)", s.StopBits)
	}
	return nil
}

// CharTime is the time one character takes on the line: start bit, data bits, parity bit, stop bits.
func (s SerialConfig) CharTime() time.Duration {
	_ = s.setDefaults()
	bits := 1 + s.DataBits + s.StopBits
	if s.Parity != "N" {
		bits++
	}
	return time.Duration(bits) * time.Second / time.Duration(s.Baud)
}

// SilentIntervals returns t1.5, the longest silence allowed inside a frame, and t3.5, the least silence
// between frames (Modbus over Serial Line v1.02 §2.5.1.1): 1.5 and 3.5 character times, fixed at 750 µs
// and 1750 µs above 19200 baud.
func (s SerialConfig) SilentIntervals() (t15, t35 time.Duration) {
	_ = s.setDefaults()
	if s.Baud > 19200 {
		return 750 * time.Microsecond, 1750 * time.Microsecond
	}
	c := s.CharTime()
	return c * 3 / 2, c * 7 / 2
}

func (s SerialConfig) mode() *serial.Mode {
	m := &serial.Mode{BaudRate: s.Baud, DataBits: s.DataBits, StopBits: serial.OneStopBit}
	switch s.Parity {
	case "E":
		m.Parity = serial.EvenParity
	case "O":
		m.Parity = serial.OddParity
	default:
		m.Parity = serial.NoParity
	}
	if s.StopBits == 2 {
		m.StopBits = serial.TwoStopBits
	}
	return m
}

// Port is a byte stream with a read timeout, as a serial port is: Read returns 0 bytes and no error
// when the timeout passes without data. go.bug.st/serial's Port satisfies it.
type Port interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	SetReadTimeout(d time.Duration) error
}

// link is what the RTU code reads and writes: a serial port, or a TCP connection made to look like one.
type link interface {
	Port
	Close() error
	// flushInput discards what has been received and not read, where the system can.
	flushInput()
}

type serialLink struct{ serial.Port }

func (l serialLink) flushInput() { _ = l.ResetInputBuffer() }

func openSerial(path string, cfg SerialConfig) (link, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	p, err := serial.Open(path, cfg.mode())
	if err != nil {
		return nil, fmt.Errorf("modbus: open %s: %w", path, err)
	}
	return serialLink{p}, nil
}

// connLink makes a net.Conn behave as a Port.
type connLink struct {
	net.Conn
	timeout time.Duration
}

func (l *connLink) SetReadTimeout(d time.Duration) error {
	l.timeout = d
	return nil
}

func (l *connLink) Read(p []byte) (int, error) {
	if l.timeout >= 0 {
		_ = l.Conn.SetReadDeadline(time.Now().Add(l.timeout))
	} else {
		_ = l.Conn.SetReadDeadline(time.Time{})
	}
	n, err := l.Conn.Read(p)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return n, nil
	}
	return n, err
}

func (l *connLink) flushInput() {}

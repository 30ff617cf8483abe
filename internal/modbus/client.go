package modbus

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Transport is how Modbus frames travel.
type Transport string

// Transports.
const (
	TCP        Transport = "tcp"          // Modbus TCP: MBAP header, transaction ids
	RTU        Transport = "rtu"          // RTU frames on a serial line (RS-485/RS-232, чл. 32)
	RTUOverTCP Transport = "rtu-over-tcp" // RTU frames, CRC included, in a TCP stream (serial device servers)
)

// ParseTransport parses "tcp", "rtu" or "rtu-over-tcp".
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(s); t {
	case TCP, RTU, RTUOverTCP:
		return t, nil
	}
	return "", fmt.Errorf("modbus: unknown transport %q (want tcp, rtu or rtu-over-tcp)", s)
}

// Defaults of ClientConfig.
const (
	DefaultTimeout        = time.Second
	DefaultConnectTimeout = 3 * time.Second
	maxBackoff            = 5 * time.Second
	minBackoff            = 100 * time.Millisecond
)

// ClientConfig configures a Client. Only Transport and Address are required.
type ClientConfig struct {
	Transport Transport
	// Address is host:port for tcp and rtu-over-tcp (port 502 is added when missing), the serial device
	// path (/dev/ttyS1, /dev/ttyUSB0) for rtu.
	Address string
	// Serial is the line setting for rtu. Clients of one device path share one port owner and must
	// agree on it.
	Serial SerialConfig
	// Timeout bounds each request from the moment it is sent (default 1s); ctx bounds it too.
	Timeout time.Duration
	// ConnectTimeout bounds dialling a TCP connection (default 3s).
	ConnectTimeout time.Duration
	// MaxInFlight is how many requests may wait for their answers at once on one TCP connection
	// (pipelining, matched by transaction id). The default 1 suits devices that cannot pipeline. RTU
	// has one request on the line at a time whatever this says.
	MaxInFlight int
	// ConnectDelay is a pause after connecting before the first request: some devices (and serial
	// gateways) drop the first frame sent too soon.
	ConnectDelay time.Duration
	// RequestGap is the least pause between the end of one exchange and the next request on the same
	// line or connection, for devices that need time to recover.
	RequestGap time.Duration
	// DrainSilence is, on RTU, how long the line must have been silent after a timeout or a bad frame
	// before the next request is sent, so that a late answer is discarded rather than taken for the
	// next one: a device answering later than Timeout+DrainSilence cannot be told from the next answer
	// on a serial line. The default is Timeout; it is at least 3.5 character times.
	DrainSilence time.Duration
}

func (cfg *ClientConfig) setDefaults() error {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 1
	}
	if cfg.MaxInFlight > 32768 {
		// Transaction ids of in-flight requests must stay unique among 65536.
		cfg.MaxInFlight = 32768
	}
	if cfg.Address == "" {
		return fmt.Errorf("modbus: empty address")
	}
	if cfg.Transport == RTU {
		if err := cfg.Serial.setDefaults(); err != nil {
			return err
		}
	}
	if cfg.DrainSilence <= 0 {
		cfg.DrainSilence = cfg.Timeout
	}
	return nil
}

// Client is a Modbus client (master). It connects lazily, on the first request, and reconnects after a
// broken connection on the next request (after a failed attempt it waits a backoff that doubles up to
// 5 s before dialling again, failing requests meanwhile). It is safe for concurrent use: on TCP up to
// MaxInFlight requests are in flight at once, the others wait; on RTU requests take turns on the line.
//
// Every method takes the unit id (slave address) of the device it addresses. On a serial line unit 0
// is a broadcast: only writes may be broadcast, and they return without an answer.
type Client struct {
	cfg ClientConfig
	tr  transport
}

type transport interface {
	// do sends c's request and fills in its response, or fails.
	do(ctx context.Context, cfg *ClientConfig, c *call) error
	close() error
}

// NewClient returns a Client for cfg. It checks cfg but does not connect.
func NewClient(cfg ClientConfig) (*Client, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg}
	switch cfg.Transport {
	case TCP:
		c.tr = newTCPTransport(&c.cfg)
	case RTU, RTUOverTCP:
		tr, err := openRTUTransport(&c.cfg)
		if err != nil {
			return nil, err
		}
		c.tr = tr
	default:
		return nil, fmt.Errorf("modbus: unknown transport %q (want tcp, rtu or rtu-over-tcp)", cfg.Transport)
	}
	return c, nil
}

// Close ends the client's connection and fails its requests in flight with ErrClosed. On RTU it gives
// up the client's share of the port owner; the last Client to close a port waits for the request on
// the line (at most its Timeout) and closes the port.
func (cl *Client) Close() error { return cl.tr.close() }

// Config returns the client's configuration with defaults filled in.
func (cl *Client) Config() ClientConfig { return cl.cfg }

// call is one request and its answer. Calls are pooled: the buffers and the timer are reused.
type call struct {
	// buf holds the request ADU: the PDU starts at buf[mbapLen], leaving room for the MBAP header in
	// front (TCP) or the unit id just before it (RTU), and for the CRC behind.
	buf    [mbapLen + MaxPDU + 2]byte
	pduLen int
	unit   byte
	resp   [MaxPDU]byte
	n      int // response PDU length
	err    error
	tid    uint16
	done   chan struct{}
	timer  *time.Timer
}

var callPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &call{done: make(chan struct{}, 1), timer: t}
}}

func getCall(unit, fn byte) *call {
	c := callPool.Get().(*call)
	c.unit, c.n, c.err, c.pduLen = unit, 0, nil, 1
	c.buf[mbapLen] = fn
	return c
}

func putCall(c *call) { callPool.Put(c) }

func (c *call) pdu() []byte      { return c.buf[mbapLen : mbapLen+c.pduLen] }
func (c *call) fn() byte         { return c.buf[mbapLen] }
func (c *call) response() []byte { return c.resp[:c.n] }

func (c *call) put16(v uint16) {
	put16(c.buf[mbapLen+c.pduLen:], v)
	c.pduLen += 2
}

func (c *call) put8(v byte) {
	c.buf[mbapLen+c.pduLen] = v
	c.pduLen++
}

// expectLen is the PDU length of the normal answer.
func (c *call) expectLen() int { return responseLen(c.pdu()) }

// roundTrip sends c and checks its answer; the caller reads c.resp.
func (cl *Client) roundTrip(ctx context.Context, c *call) error {
	if c.unit == 0 && cl.cfg.Transport != TCP && !isBroadcastable(c.fn()) {
		return fmt.Errorf("%w: function %d cannot be broadcast (unit 0)", ErrInvalidRequest, c.fn())
	}
	if err := cl.tr.do(ctx, &cl.cfg, c); err != nil {
		return err
	}
	if c.unit == 0 && cl.cfg.Transport != TCP {
		return nil // a broadcast has no answer
	}
	return checkResponse(c.pdu(), c.response())
}

func (cl *Client) readBits(ctx context.Context, fn, unit byte, addr uint16, dst []bool) error {
	if err := requestError(fn, addr, len(dst), MaxReadBits); err != nil {
		return err
	}
	c := getCall(unit, fn)
	defer putCall(c)
	c.put16(addr)
	c.put16(uint16(len(dst)))
	if err := cl.roundTrip(ctx, c); err != nil {
		return err
	}
	unpackBits(dst, c.resp[2:c.n])
	return nil
}

func (cl *Client) readRegisters(ctx context.Context, fn, unit byte, addr uint16, dst []uint16) error {
	if err := requestError(fn, addr, len(dst), MaxReadRegisters); err != nil {
		return err
	}
	c := getCall(unit, fn)
	defer putCall(c)
	c.put16(addr)
	c.put16(uint16(len(dst)))
	if err := cl.roundTrip(ctx, c); err != nil {
		return err
	}
	for i := range dst {
		dst[i] = be16(c.resp[2+2*i:])
	}
	return nil
}

// ReadCoils reads qty (1..2000) coils from addr (FC 1).
func (cl *Client) ReadCoils(ctx context.Context, unit byte, addr, qty uint16) ([]bool, error) {
	if err := requestError(FuncReadCoils, addr, int(qty), MaxReadBits); err != nil {
		return nil, err
	}
	dst := make([]bool, qty)
	if err := cl.readBits(ctx, FuncReadCoils, unit, addr, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ReadDiscreteInputs reads qty (1..2000) discrete inputs from addr (FC 2).
func (cl *Client) ReadDiscreteInputs(ctx context.Context, unit byte, addr, qty uint16) ([]bool, error) {
	if err := requestError(FuncReadDiscreteInputs, addr, int(qty), MaxReadBits); err != nil {
		return nil, err
	}
	dst := make([]bool, qty)
	if err := cl.readBits(ctx, FuncReadDiscreteInputs, unit, addr, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ReadHoldingRegisters reads qty (1..125) holding registers from addr (FC 3).
func (cl *Client) ReadHoldingRegisters(ctx context.Context, unit byte, addr, qty uint16) ([]uint16, error) {
	if err := requestError(FuncReadHoldingRegisters, addr, int(qty), MaxReadRegisters); err != nil {
		return nil, err
	}
	dst := make([]uint16, qty)
	if err := cl.readRegisters(ctx, FuncReadHoldingRegisters, unit, addr, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ReadInputRegisters reads qty (1..125) input registers from addr (FC 4).
func (cl *Client) ReadInputRegisters(ctx context.Context, unit byte, addr, qty uint16) ([]uint16, error) {
	if err := requestError(FuncReadInputRegisters, addr, int(qty), MaxReadRegisters); err != nil {
		return nil, err
	}
	dst := make([]uint16, qty)
	if err := cl.readRegisters(ctx, FuncReadInputRegisters, unit, addr, dst); err != nil {
		return nil, err
	}
	return dst, nil
}

// ReadCoilsInto reads len(dst) coils from addr into dst, allocating nothing (FC 1).
func (cl *Client) ReadCoilsInto(ctx context.Context, unit byte, addr uint16, dst []bool) error {
	return cl.readBits(ctx, FuncReadCoils, unit, addr, dst)
}

// ReadDiscreteInputsInto reads len(dst) discrete inputs from addr into dst, allocating nothing (FC 2).
func (cl *Client) ReadDiscreteInputsInto(ctx context.Context, unit byte, addr uint16, dst []bool) error {
	return cl.readBits(ctx, FuncReadDiscreteInputs, unit, addr, dst)
}

// ReadHoldingRegistersInto reads len(dst) holding registers from addr into dst, allocating nothing
// (FC 3): the path for a polling loop.
func (cl *Client) ReadHoldingRegistersInto(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	return cl.readRegisters(ctx, FuncReadHoldingRegisters, unit, addr, dst)
}

// ReadInputRegistersInto reads len(dst) input registers from addr into dst, allocating nothing (FC 4).
func (cl *Client) ReadInputRegistersInto(ctx context.Context, unit byte, addr uint16, dst []uint16) error {
	return cl.readRegisters(ctx, FuncReadInputRegisters, unit, addr, dst)
}

// WriteSingleCoil sets the coil at addr (FC 5).
func (cl *Client) WriteSingleCoil(ctx context.Context, unit byte, addr uint16, v bool) error {
	c := getCall(unit, FuncWriteSingleCoil)
	defer putCall(c)
	c.put16(addr)
	if v {
		c.put16(coilOn)
	} else {
		c.put16(coilOff)
	}
	return cl.roundTrip(ctx, c)
}

// WriteSingleRegister writes the holding register at addr (FC 6).
func (cl *Client) WriteSingleRegister(ctx context.Context, unit byte, addr, v uint16) error {
	c := getCall(unit, FuncWriteSingleRegister)
	defer putCall(c)
	c.put16(addr)
	c.put16(v)
	return cl.roundTrip(ctx, c)
}

// WriteMultipleCoils writes len(values) (1..1968) coils from addr (FC 15).
func (cl *Client) WriteMultipleCoils(ctx context.Context, unit byte, addr uint16, values []bool) error {
	if err := requestError(FuncWriteMultipleCoils, addr, len(values), MaxWriteBits); err != nil {
		return err
	}
	c := getCall(unit, FuncWriteMultipleCoils)
	defer putCall(c)
	c.put16(addr)
	c.put16(uint16(len(values)))
	n := packBits(c.buf[mbapLen+c.pduLen+1:], values)
	c.put8(byte(n))
	c.pduLen += n
	return cl.roundTrip(ctx, c)
}

// WriteMultipleRegisters writes len(values) (1..123) holding registers from addr (FC 16).
func (cl *Client) WriteMultipleRegisters(ctx context.Context, unit byte, addr uint16, values []uint16) error {
	if err := requestError(FuncWriteMultipleRegisters, addr, len(values), MaxWriteRegisters); err != nil {
		return err
	}
	c := getCall(unit, FuncWriteMultipleRegisters)
	defer putCall(c)
	c.put16(addr)
	c.put16(uint16(len(values)))
	c.put8(byte(2 * len(values)))
	for _, v := range values {
		c.put16(v)
	}
	return cl.roundTrip(ctx, c)
}

// ReadWriteMultipleRegisters writes values (1..121 registers) from writeAddr, then reads readQty
// (1..125) holding registers from readAddr, in one transaction (FC 23).
func (cl *Client) ReadWriteMultipleRegisters(ctx context.Context, unit byte, readAddr, readQty, writeAddr uint16, values []uint16) ([]uint16, error) {
	if err := requestError(FuncReadWriteMultipleRegisters, readAddr, int(readQty), MaxReadRegisters); err != nil {
		return nil, err
	}
	if err := requestError(FuncReadWriteMultipleRegisters, writeAddr, len(values), MaxReadWriteRegister); err != nil {
		return nil, err
	}
	c := getCall(unit, FuncReadWriteMultipleRegisters)
	defer putCall(c)
	c.put16(readAddr)
	c.put16(readQty)
	c.put16(writeAddr)
	c.put16(uint16(len(values)))
	c.put8(byte(2 * len(values)))
	for _, v := range values {
		c.put16(v)
	}
	if err := cl.roundTrip(ctx, c); err != nil {
		return nil, err
	}
	dst := make([]uint16, readQty)
	for i := range dst {
		dst[i] = be16(c.resp[2+2*i:])
	}
	return dst, nil
}

// deadline is when a request sent now must have its answer: Timeout from now, or ctx's deadline if
// sooner.
func deadline(ctx context.Context, cfg *ClientConfig) time.Time {
	d := time.Now().Add(cfg.Timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

func timeoutErr(c *call) error {
	return fmt.Errorf("modbus: unit %d function %d: %w", c.unit, c.fn(), ErrTimeout)
}

// ctxErr is the error for a request ended by ctx: a deadline is a timeout.
func ctxErr(ctx context.Context, c *call) error {
	if ctx.Err() == context.DeadlineExceeded {
		return timeoutErr(c)
	}
	return fmt.Errorf("modbus: unit %d function %d: %w", c.unit, c.fn(), ctx.Err())
}

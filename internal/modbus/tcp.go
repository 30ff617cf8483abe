package modbus

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tcpTransport carries Modbus TCP. Requests are matched to answers by transaction id alone: a reader
// goroutine per connection hands each answer to the request waiting for its id, and drops answers
// nobody waits for any more (late answers to requests that timed out), so a connection can never fall
// one answer behind.
type tcpTransport struct {
	addr string
	sem  chan struct{} // MaxInFlight tokens

	mu       sync.Mutex // guards the fields below
	conn     *tcpConn
	closed   bool
	dialErr  error
	nextDial time.Time
	backoff  time.Duration
}

func newTCPTransport(cfg *ClientConfig) *tcpTransport {
	return &tcpTransport{addr: withPort(cfg.Address), sem: make(chan struct{}, cfg.MaxInFlight)}
}

// withPort adds the Modbus port 502 to a host without one.
func withPort(addr string) string {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return net.JoinHostPort(addr, "502")
	}
	return addr
}

type tcpConn struct {
	nc  net.Conn
	io  *connIO // nc's reads and writes
	br  *bufio.Reader
	wmu sync.Mutex // serialises writes

	pmu     sync.Mutex
	pending map[uint16]*call
	nextTID uint16
	err     error         // why the connection ended; set once, under pmu
	dead    chan struct{} // closed when the connection ended

	lastIO atomic.Int64 // unix nanoseconds of the last frame sent or received, for RequestGap

	// With MaxInFlight 1 there is no reader goroutine: the request holding the connection reads its
	// answer itself (one goroutine hand-off less per request). Answers are framed in rbuf[r:w], which
	// keeps a partial frame across requests, so a timeout in the middle of one loses no framing.
	sync   bool
	rbuf   []byte
	r, w   int
	readDL time.Time
}

func (t *tcpTransport) close() error {
	t.mu.Lock()
	t.closed = true
	c := t.conn
	t.conn = nil
	t.mu.Unlock()
	if c != nil {
		c.fail(ErrClosed)
	}
	return nil
}

// connection returns the live connection, dialling when there is none; fresh reports a new one.
func (t *tcpTransport) connection(ctx context.Context, cfg *ClientConfig) (c *tcpConn, fresh bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, false, ErrClosed
	}
	if c := t.conn; c != nil {
		select {
		case <-c.dead:
		default:
			return c, false, nil
		}
		t.conn = nil
	}
	if t.dialErr != nil && time.Now().Before(t.nextDial) {
		return nil, false, fmt.Errorf("modbus: connect %s: %w (next attempt in %v)", t.addr, t.dialErr, time.Until(t.nextDial).Round(time.Millisecond))
	}
	d := net.Dialer{Timeout: cfg.ConnectTimeout}
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		t.backoff = min(max(2*t.backoff, minBackoff), maxBackoff)
		t.dialErr, t.nextDial = err, time.Now().Add(t.backoff)
		return nil, false, fmt.Errorf("modbus: connect %s: %w", t.addr, err)
	}
	t.dialErr, t.backoff = nil, 0
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
	}
	if cfg.ConnectDelay > 0 {
		if err := sleepCtx(ctx, cfg.ConnectDelay); err != nil {
			nc.Close()
			return nil, false, err
		}
	}
	c = &tcpConn{nc: nc, io: newConnIO(nc), dead: make(chan struct{}), pending: map[uint16]*call{}}
	if cfg.MaxInFlight == 1 {
		c.sync, c.rbuf = true, make([]byte, 4096)
	} else {
		c.br = bufio.NewReaderSize(c.io, 4096)
		go c.readLoop()
	}
	t.conn = c
	return c, true, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fail ends the connection: every request waiting on it gets err.
func (c *tcpConn) fail(err error) {
	c.pmu.Lock()
	if c.err != nil {
		c.pmu.Unlock()
		return
	}
	c.err = err
	close(c.dead)
	for tid, p := range c.pending {
		delete(c.pending, tid)
		p.err = err
		p.done <- struct{}{}
	}
	c.pmu.Unlock()
	c.nc.Close()
}

func (t *tcpTransport) do(ctx context.Context, cfg *ClientConfig, p *call) error {
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return ctxErr(ctx, p)
	}
	defer func() { <-t.sem }()
	for attempt := 0; ; attempt++ {
		c, fresh, err := t.connection(ctx, cfg)
		if err != nil {
			return err
		}
		if !c.sync {
			return t.doAsync(ctx, cfg, p, c)
		}
		silent, err := t.doSync(ctx, cfg, p, c)
		// A connection the peer closed while it was idle shows only now. A read is sent again on a
		// new connection; a write is not, since it might have been carried out.
		if err != nil && silent && !fresh && attempt == 0 && p.fn() <= FuncReadInputRegisters {
			continue
		}
		return err
	}
}

func (c *tcpConn) header(p *call) []byte {
	h := p.buf[:mbapLen]
	put16(h[0:], p.tid)
	put16(h[2:], 0)
	put16(h[4:], uint16(p.pduLen+1))
	h[6] = p.unit
	return p.buf[:mbapLen+p.pduLen]
}

func (c *tcpConn) send(cfg *ClientConfig, frame []byte, dl time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if cfg.RequestGap > 0 {
		if wait := time.Until(time.Unix(0, c.lastIO.Load()).Add(cfg.RequestGap)); wait > 0 {
			time.Sleep(wait)
		}
	}
	_ = c.nc.SetWriteDeadline(dl)
	_, err := c.io.Write(frame)
	c.lastIO.Store(time.Now().UnixNano())
	return err
}

// doSync sends p and reads frames until the one with p's transaction id; earlier answers (late ones
// to requests that timed out) are dropped. silent reports that the connection failed before any byte
// came back.
func (t *tcpTransport) doSync(ctx context.Context, cfg *ClientConfig, p *call, c *tcpConn) (silent bool, err error) {
	c.nextTID++
	p.tid = c.nextTID
	dl := deadline(ctx, cfg)
	if err := c.send(cfg, c.header(p), dl); err != nil {
		c.fail(err)
		return true, fmt.Errorf("modbus: %s: %w", t.addr, err)
	}
	got := false
	for {
		for c.w-c.r >= mbapLen {
			h := c.rbuf[c.r:c.w]
			tid, proto, length := be16(h[0:]), be16(h[2:]), int(be16(h[4:]))
			if proto != 0 || length < 2 || length > MaxPDU+1 {
				err := fmt.Errorf("%w: mbap header % x (protocol %d, length %d)", ErrInvalidResponse, h[:mbapLen], proto, length)
				c.fail(fmt.Errorf("connection dropped after a malformed frame: %w", err))
				return false, err
			}
			total := mbapLen - 1 + length
			if len(h) < total {
				break
			}
			c.r += total
			if tid != p.tid {
				continue // a late answer to a request that timed out, or a stray one
			}
			c.lastIO.Store(time.Now().UnixNano())
			p.n = copy(p.resp[:], h[mbapLen:total])
			return false, p.check(h[6])
		}
		if c.r == c.w {
			c.r, c.w = 0, 0
		} else if len(c.rbuf)-c.w < MaxTCPADU {
			c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
			c.r = 0
		}
		now := time.Now()
		if !now.Before(dl) {
			return false, timeoutErr(p)
		}
		if ctx.Err() != nil {
			return false, ctxErr(ctx, p)
		}
		rd := dl
		if ctx.Done() != nil && dl.Sub(now) > pollInterval {
			rd = now.Add(pollInterval) // to notice a cancelled ctx
		}
		if !rd.Equal(c.readDL) {
			_ = c.nc.SetReadDeadline(rd)
			c.readDL = rd
		}
		n, err := c.io.Read(c.rbuf[c.w:])
		c.w += n
		got = got || n > 0
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			c.fail(connErr(err))
			c.pmu.Lock()
			why := c.err // ErrClosed if Close broke the read
			c.pmu.Unlock()
			if errors.Is(why, ErrClosed) {
				return false, ErrClosed
			}
			return !got, fmt.Errorf("modbus: %s: %w", t.addr, why)
		}
	}
}

// check checks that the answer in p.resp comes from the unit asked and for the function asked.
func (p *call) check(unit byte) error {
	if unit != p.unit {
		return fmt.Errorf("%w: unit %d answered for unit %d", ErrInvalidResponse, unit, p.unit)
	}
	if fn := p.resp[0]; fn != p.fn() && fn != p.fn()|exception {
		return fmt.Errorf("%w: function %d answered by function %d", ErrInvalidResponse, p.fn(), fn)
	}
	return nil
}

func (t *tcpTransport) doAsync(ctx context.Context, cfg *ClientConfig, p *call, c *tcpConn) error {
	// Register before sending: the answer may come before Write returns.
	c.pmu.Lock()
	if c.err != nil {
		err := c.err
		c.pmu.Unlock()
		return fmt.Errorf("modbus: %s: %w", t.addr, err)
	}
	for {
		c.nextTID++
		if _, busy := c.pending[c.nextTID]; !busy {
			break
		}
	}
	p.tid = c.nextTID
	c.pending[p.tid] = p
	c.pmu.Unlock()

	dl := deadline(ctx, cfg)
	err := c.send(cfg, c.header(p), dl)
	if err != nil {
		// A write that failed (or half-succeeded) leaves the stream unusable.
		c.fail(err)
		<-p.done
		return fmt.Errorf("modbus: %s: %w", t.addr, err)
	}

	p.timer.Reset(time.Until(dl))
	select {
	case <-p.done:
		p.timer.Stop()
	case <-p.timer.C:
		err = timeoutErr(p)
	case <-ctx.Done():
		p.timer.Stop()
		err = ctxErr(ctx, p)
	}
	if err != nil {
		c.pmu.Lock()
		mine := c.pending[p.tid] == p
		if mine {
			delete(c.pending, p.tid)
		}
		c.pmu.Unlock()
		if mine {
			return err
		}
		// The reader took the answer just now: use it.
		<-p.done
	}
	if p.err != nil {
		if errors.Is(p.err, ErrClosed) || errors.Is(p.err, ErrInvalidResponse) {
			return p.err
		}
		return fmt.Errorf("modbus: %s: %w", t.addr, p.err)
	}
	return nil
}

// readLoop reads answers and hands each to the request waiting for its transaction id, until the
// connection breaks. A malformed MBAP header means the stream can no longer be trusted to be framed,
// so the connection is dropped (the next request reconnects).
func (c *tcpConn) readLoop() {
	var hdr [mbapLen]byte
	var discard [MaxPDU]byte
	for {
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			c.fail(connErr(err))
			return
		}
		tid, proto, length := be16(hdr[0:]), be16(hdr[2:]), int(be16(hdr[4:]))
		if proto != 0 || length < 2 || length > MaxPDU+1 {
			err := fmt.Errorf("%w: mbap header % x (protocol %d, length %d)", ErrInvalidResponse, hdr, proto, length)
			// The connection is marked dead before the request is woken, so that the caller's next
			// request dials anew rather than landing on this connection.
			p := c.take(tid)
			c.fail(fmt.Errorf("connection dropped after a malformed frame: %w", err))
			if p != nil {
				p.err = err
				p.done <- struct{}{}
			}
			return
		}
		p := c.take(tid)
		dst := discard[:length-1]
		if p != nil {
			dst = p.resp[:length-1]
		}
		if _, err := io.ReadFull(c.br, dst); err != nil {
			c.fail(connErr(err))
			if p != nil {
				p.err = connErr(err)
				p.done <- struct{}{}
			}
			return
		}
		c.lastIO.Store(time.Now().UnixNano())
		if p == nil {
			continue // a late answer to a request that timed out, or a stray one
		}
		p.n = length - 1
		p.err = p.check(hdr[6])
		p.done <- struct{}{}
	}
}

// take removes and returns the request waiting for tid, if any.
func (c *tcpConn) take(tid uint16) *call {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	p := c.pending[tid]
	if p != nil {
		delete(c.pending, tid)
	}
	return p
}

func connErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("connection closed by peer: %w", err)
	}
	return err
}

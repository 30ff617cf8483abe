package modbus

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// broadcastTurnaround is how long the line is left quiet after a broadcast, for the slaves to process
// it (Modbus over Serial Line v1.02 §2.4.1 calls it the turnaround delay and puts it at 100–200 ms).
const broadcastTurnaround = 100 * time.Millisecond

// pollInterval bounds each blocking read so that a cancelled ctx is noticed.
const pollInterval = 50 * time.Millisecond

// bus is the owner of one serial line (or one RTU-over-TCP connection): every Client opened on the same
// device path or address shares it, and it lets one request at a time onto the line. It is
// reference-counted and closes the port when the last Client closes.
//
// RTU has no transaction ids, so a late answer cannot be told from the next one by its header. The bus
// prevents that confusion instead: after a timeout or a bad frame it discards whatever arrives until
// the line has been silent for DrainSilence since the failure (bounded to four times that), over TCP
// it also drops the connection and dials a new one, it flushes the input before every request, and it
// checks unit, function, byte count, length and CRC of every answer.
type bus struct {
	key       string
	transport Transport
	addr      string
	serial    SerialConfig
	refs      int // guarded by buses.mu

	sem chan struct{} // held by the request on the line

	// Owned by the holder of sem.
	link     link
	buf      [MaxRTUADU]byte
	scratch  [512]byte
	charTime time.Duration
	t35      time.Duration
	lastIO   time.Time // when the line was last busy (end of the last frame, estimated for ours)
	dirty    bool      // drain before the next request
	dialErr  error
	nextDial time.Time
	backoff  time.Duration
}

var buses = struct {
	mu sync.Mutex
	m  map[string]*bus
}{m: map[string]*bus{}}

type rtuTransport struct {
	bus    *bus
	closed atomic.Bool
}

func openRTUTransport(cfg *ClientConfig) (*rtuTransport, error) {
	addr := cfg.Address
	if cfg.Transport == RTUOverTCP {
		addr = withPort(addr)
	} else if real, err := filepath.EvalSymlinks(addr); err == nil {
		// /dev/serial/by-id/… and /dev/ttyUSB0 may name one port: it must have one owner.
		addr = real
	}
	key := string(cfg.Transport) + " " + addr
	buses.mu.Lock()
	defer buses.mu.Unlock()
	b := buses.m[key]
	if b != nil {
		if cfg.Transport == RTU && b.serial != cfg.Serial {
			return nil, fmt.Errorf("modbus: %s is already open with %+v, not %+v", addr, b.serial, cfg.Serial)
		}
	} else {
		b = &bus{key: key, transport: cfg.Transport, addr: addr, serial: cfg.Serial, sem: make(chan struct{}, 1)}
		if cfg.Transport == RTU {
			b.charTime = cfg.Serial.CharTime()
			_, b.t35 = cfg.Serial.SilentIntervals()
		}
		buses.m[key] = b
	}
	b.refs++
	return &rtuTransport{bus: b}, nil
}

func (t *rtuTransport) close() error {
	if t.closed.Swap(true) {
		return nil
	}
	b := t.bus
	buses.mu.Lock()
	b.refs--
	last := b.refs == 0
	if last {
		delete(buses.m, b.key)
	}
	buses.mu.Unlock()
	if !last {
		return nil
	}
	b.sem <- struct{}{} // wait for the request on the line
	defer func() { <-b.sem }()
	if b.link != nil {
		err := b.link.Close()
		b.link = nil
		return err
	}
	return nil
}

func (b *bus) open(ctx context.Context, cfg *ClientConfig) error {
	if b.dialErr != nil && time.Now().Before(b.nextDial) {
		return fmt.Errorf("modbus: open %s: %w (next attempt in %v)", b.addr, b.dialErr, time.Until(b.nextDial).Round(time.Millisecond))
	}
	var l link
	var err error
	if b.transport == RTU {
		l, err = openSerial(b.addr, b.serial)
	} else {
		d := net.Dialer{Timeout: cfg.ConnectTimeout}
		var nc net.Conn
		nc, err = d.DialContext(ctx, "tcp", b.addr)
		if err == nil {
			if tc, ok := nc.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
				_ = tc.SetKeepAlive(true)
			}
			l = &connLink{Conn: nc}
		} else {
			err = fmt.Errorf("modbus: connect %s: %w", b.addr, err)
		}
	}
	if err != nil {
		b.backoff = min(max(2*b.backoff, minBackoff), maxBackoff)
		b.dialErr, b.nextDial = err, time.Now().Add(b.backoff)
		return err
	}
	b.dialErr, b.backoff = nil, 0
	b.link = l
	if cfg.ConnectDelay > 0 {
		if err := sleepCtx(ctx, cfg.ConnectDelay); err != nil {
			return err
		}
	}
	return nil
}

func (b *bus) closeLink() {
	if b.link != nil {
		_ = b.link.Close()
		b.link = nil
	}
}

// drain discards input until the line has been silent for silence, counted from the end of the failed
// exchange (so a drain long after it costs one short read), or for at most 4×silence.
func (b *bus) drain(silence time.Duration) {
	silence = max(silence, b.t35, time.Millisecond)
	limit := time.Now().Add(4 * silence)
	quietSince := b.lastIO
	for time.Now().Before(limit) {
		wait := max(time.Until(quietSince.Add(silence)), time.Millisecond)
		_ = b.link.SetReadTimeout(wait)
		k, err := b.link.Read(b.scratch[:])
		if err != nil {
			b.closeLink()
			return
		}
		if k > 0 {
			quietSince = time.Now()
			continue
		}
		if time.Since(quietSince) >= silence {
			break
		}
	}
	b.lastIO = time.Now()
	b.dirty = false
}

func (t *rtuTransport) do(ctx context.Context, cfg *ClientConfig, p *call) error {
	if t.closed.Load() {
		return ErrClosed
	}
	b := t.bus
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return ctxErr(ctx, p)
	}
	defer func() { <-b.sem }()
	if t.closed.Load() {
		return ErrClosed
	}
	for attempt := 0; ; attempt++ {
		fresh := b.link == nil
		if fresh {
			if err := b.open(ctx, cfg); err != nil {
				return err
			}
		}
		silent, err := b.exchange(ctx, cfg, p)
		// A connection the peer closed while it was idle shows only now. A read is sent again on a
		// new connection; a write is not, since it might have been carried out.
		if err != nil && silent && !fresh && attempt == 0 && b.transport == RTUOverTCP && p.fn() <= FuncReadInputRegisters {
			continue
		}
		return err
	}
}

// exchange sends p on the open line and reads its answer. silent reports that the connection broke
// before any byte of an answer came.
func (b *bus) exchange(ctx context.Context, cfg *ClientConfig, p *call) (silent bool, err error) {
	if b.dirty {
		b.drain(cfg.DrainSilence)
		if b.link == nil {
			return true, fmt.Errorf("modbus: %s: connection lost while draining", b.addr)
		}
	} else {
		b.link.flushInput()
	}
	if gap := max(b.t35, cfg.RequestGap); gap > 0 {
		if wait := time.Until(b.lastIO.Add(gap)); wait > 0 {
			if err := sleepCtx(ctx, wait); err != nil {
				return false, ctxErr(ctx, p)
			}
		}
	}

	frame := p.buf[mbapLen-1 : mbapLen+p.pduLen]
	frame[0] = p.unit
	frame = appendCRC(frame)
	if _, err := b.link.Write(frame); err != nil {
		b.closeLink()
		return true, fmt.Errorf("modbus: %s: %w", b.addr, err)
	}
	sent := time.Now()
	txTime := time.Duration(len(frame)) * b.charTime
	b.lastIO = sent.Add(txTime)
	if p.unit == 0 {
		b.lastIO = b.lastIO.Add(broadcastTurnaround)
		return false, nil
	}
	// The timeout starts when the request has left (at low baud rates that takes a while).
	dl := deadline(ctx, cfg).Add(txTime)
	got, err := b.readResponse(ctx, dl, p)
	broken := err != nil && b.link == nil // readResponse closes the link when the connection breaks
	if err != nil && b.link != nil {
		// The line is up, and whatever is still coming belongs to this failed exchange: drain it
		// before the next request. Over TCP a new connection also leaves behind what the old one
		// still carries. (After a broken connection there is nothing to drain.)
		b.dirty, b.lastIO = true, time.Now()
		if b.transport == RTUOverTCP {
			b.closeLink()
		}
	}
	return broken && !got, err
}

// readResponse reads the answer to p. It reads no further than the answer's end, computed from the
// request, so a frame that follows stays unread (and is flushed or drained before the next request).
func (b *bus) readResponse(ctx context.Context, dl time.Time, p *call) (got bool, err error) {
	fn := p.fn()
	expect := p.expectLen()
	buf := b.buf[:]
	n, need, sized := 0, 5, false
	for n < need {
		now := time.Now()
		if !now.Before(dl) {
			return n > 0, timeoutErr(p)
		}
		if ctx.Err() != nil {
			return n > 0, ctxErr(ctx, p)
		}
		_ = b.link.SetReadTimeout(min(dl.Sub(now), pollInterval))
		k, err := b.link.Read(buf[n:need])
		if err != nil {
			b.closeLink()
			return n > 0, fmt.Errorf("modbus: %s: %w", b.addr, connErr(err))
		}
		n += k
		if !sized && n >= 2 {
			if buf[0] != p.unit {
				return n > 0, fmt.Errorf("%w: unit %d answered for unit %d", ErrInvalidResponse, buf[0], p.unit)
			}
			switch buf[1] {
			case fn | exception:
			case fn:
				need = 1 + expect + 2
			default:
				return n > 0, fmt.Errorf("%w: function %d answered by function %d", ErrInvalidResponse, fn, buf[1])
			}
			sized = true
		}
		if sized && n >= 3 && buf[1] == fn && expect != echoResponseLen && int(buf[2]) != expect-2 {
			return n > 0, fmt.Errorf("%w: function %d: byte count %d, want %d", ErrInvalidResponse, fn, buf[2], expect-2)
		}
	}
	b.lastIO = time.Now()
	if !crcOK(buf[:need]) {
		return n > 0, fmt.Errorf("modbus: unit %d function %d: %w", p.unit, fn, ErrBadCRC)
	}
	p.n = copy(p.resp[:], buf[1:need-2])
	return n > 0, nil
}

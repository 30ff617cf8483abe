package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a Modbus server (slave): it decodes requests, checks them against the limits of their
// function code, and lets Handler answer them. The zero value with a Handler set is ready to serve;
// one Server may serve several listeners and ports at once.
//
// On TCP each connection is served by one goroutine. Requests a client sends without waiting for the
// answers (pipelining) are served in order, and the answers to requests that arrived together go out in
// one write. The ctx of a Handler call is cancelled when the server stops, on CloseConnections, and when
// the client closes the connection while the call has lasted longer than 20 ms (a quicker call is not
// watched: it ends before watching would pay off).
type Server struct {
	// Handler serves the data. Required.
	Handler Handler
	// Units are the unit ids served. Empty serves every unit id. On a serial line (and RTU over TCP)
	// requests for other units are ignored, as slaves on a shared bus must; on Modbus TCP they are
	// answered with exception GatewayPathUnavailable, and units 0 and 255, which mean "the server
	// itself" there, are always served. A broadcast (unit 0 on a serial line) reaches the Handler once
	// for each of Units, with that unit's id, or once with unit 0 when Units is empty.
	Units []byte
	// IdleTimeout closes a TCP connection on which no request came for that long; 0 never does.
	IdleTimeout time.Duration
	// MaxConns is the most TCP connections served at once; connections beyond it are closed at once.
	// 0 means no limit.
	MaxConns int
	// Logger receives connection events and errors; nil discards them.
	Logger *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]context.CancelFunc
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// serves reports whether unit is one of s.Units (or s.Units is empty).
func (s *Server) serves(unit byte) bool {
	return len(s.Units) == 0 || slices.Contains(s.Units, unit)
}

// CloseConnections closes every open TCP connection (fault injection: "drop connections") and cancels
// the ctx of the Handler calls serving them; the listeners keep accepting new ones.
func (s *Server) CloseConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, cancel := range s.conns {
		cancel()
		c.Close()
	}
}

// Connections returns the number of open TCP connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) track(c net.Conn, cancel context.CancelFunc) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.MaxConns > 0 && len(s.conns) >= s.MaxConns {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]context.CancelFunc{}
	}
	s.conns[c] = cancel
	return true
}

func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// ServeTCP serves Modbus TCP on ln until ctx is done (then it closes ln and every connection it
// accepted and returns nil) or ln fails.
func (s *Server) ServeTCP(ctx context.Context, ln net.Listener) error {
	return s.serveListener(ctx, ln, s.serveTCPConn)
}

// ServeRTUOverTCP serves RTU frames over TCP connections accepted on ln, as a serial device server
// would, until ctx is done or ln fails.
func (s *Server) ServeRTUOverTCP(ctx context.Context, ln net.Listener) error {
	return s.serveListener(ctx, ln, func(ctx context.Context, nc net.Conn) {
		l := &connLink{Conn: nc}
		err := s.serveRTU(ctx, l, 0, true)
		if err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
			s.logger().Debug("modbus: rtu-over-tcp connection ended", "remote", nc.RemoteAddr(), "err", err)
		}
	})
}

func (s *Server) serveListener(ctx context.Context, ln net.Listener, serveConn func(context.Context, net.Conn)) error {
	if s.Handler == nil {
		return errors.New("modbus: server has no handler")
	}
	// On return the connections are closed (cancel) before they are waited for (wg.Wait).
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		cctx, ccancel := context.WithCancel(ctx)
		if !s.track(nc, ccancel) {
			ccancel()
			s.logger().Warn("modbus: too many connections, refusing one", "remote", nc.RemoteAddr(), "max", s.MaxConns)
			nc.Close()
			continue
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.untrack(nc)
			defer nc.Close()
			defer ccancel()
			stop := context.AfterFunc(cctx, func() { nc.Close() })
			defer stop()
			serveConn(cctx, nc)
		}()
	}
}

// slowHandler is how long a Handler call may take before the connection is watched for the client
// leaving (which cancels the call's ctx). Quicker calls cost the watch nothing but a timer's reset.
const slowHandler = 20 * time.Millisecond

// tcpServerConn is the state of one Modbus TCP connection being served.
type tcpServerConn struct {
	s      *Server
	nc     net.Conn
	io     *connIO
	cancel context.CancelFunc // cancels the ctx of the Handler calls

	// Requests are framed in in[r:w]; answers gather in out[:o] until no further request is there.
	in   [8192]byte
	r, w int
	out  [4096]byte
	o    int
	sb   serverBuffers

	idle time.Time // when the last request was served, with IdleTimeout

	// The watch of a slow Handler call: state is watchIdle, watchServing while the Handler runs, and
	// watchOn once the timer found it still running and the watch reads the connection.
	state     atomic.Int32
	timer     *time.Timer
	watchDone chan struct{}
}

const (
	watchIdle = iota
	watchServing
	watchOn
)

// serveTCPConn serves one connection on one goroutine: it frames requests from what has been read,
// serves each in turn and writes the answers; answers to requests that arrived together (a pipelining
// client's) go out in one write, when no further complete request is buffered. One goroutine and no
// hand-off keeps a request's processor time down to the system calls it needs: on a strict
// request/answer exchange the goroutine hand-offs cost more than the exchange itself.
//
// Nothing reads the connection while the Handler works, so a client leaving would go unnoticed until
// the answer is written; a Handler call that lasts longer than slowHandler has the connection watched
// (read ahead) meanwhile, and the client leaving cancels its ctx.
func (s *Server) serveTCPConn(ctx context.Context, nc net.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := &tcpServerConn{s: s, nc: nc, io: newConnIO(nc), cancel: cancel, watchDone: make(chan struct{}, 1)}
	c.timer = time.AfterFunc(time.Hour, c.onSlow)
	c.timer.Stop()
	defer c.timer.Stop()
	if s.IdleTimeout > 0 {
		c.idle = time.Now()
		_ = nc.SetReadDeadline(c.idle.Add(s.IdleTimeout))
	}
	log := s.logger()
	for {
		frame, err := c.next()
		if err != nil {
			_ = c.flush()
			var ne net.Error
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !(errors.As(err, &ne) && ne.Timeout()) {
				log.Debug("modbus: connection ended", "remote", nc.RemoteAddr(), "err", err)
			}
			return
		}
		if frame == nil {
			// The length is all there is to find the next frame by: without it the stream is lost.
			log.Warn("modbus: malformed mbap header, closing connection", "remote", nc.RemoteAddr(), "header", fmt.Sprintf("% x", c.in[c.r:c.r+mbapLen]))
			_ = c.flush()
			return
		}
		if be16(frame[2:]) != 0 {
			continue // not Modbus: discarded (Modbus Messaging on TCP/IP v1.0b §4.4.1.2)
		}
		if len(c.out)-c.o < MaxTCPADU {
			if c.flush() != nil {
				return
			}
		}
		unit, pdu := frame[6], frame[mbapLen:]
		h := c.out[c.o : c.o+mbapLen]
		resp := c.out[c.o+mbapLen : c.o+MaxTCPADU]
		var n int
		if unit != 0 && unit != 0xFF && !s.serves(unit) {
			resp[0], resp[1] = pdu[0]|exception, byte(GatewayPathUnavailable)
			n = 2
		} else {
			c.state.Store(watchServing)
			c.timer.Reset(slowHandler)
			n, err = serve(ctx, s.Handler, unit, pdu, resp, &c.sb)
			c.timer.Stop()
			if !c.state.CompareAndSwap(watchServing, watchIdle) {
				c.stopWatch()
			}
		}
		if s.IdleTimeout > 0 {
			c.idle = time.Now()
		}
		copy(h, frame[:mbapLen])
		put16(h[4:], uint16(n+1))
		switch {
		case err == nil:
		case errors.Is(err, ErrNoResponse):
			continue
		case errors.Is(err, ErrDropConnection):
			_ = c.flush()
			return
		case errors.Is(err, ErrCorruptResponse):
			put16(h[4:], 0) // a length no frame can have
		}
		c.o += mbapLen + n
	}
}

// next returns the next request frame (MBAP header and PDU), reading when none is buffered, and
// writing the answers gathered before it blocks; nil with no error for a malformed MBAP header.
func (c *tcpServerConn) next() ([]byte, error) {
	for {
		if b := c.in[c.r:c.w]; len(b) >= mbapLen {
			length := int(be16(b[4:]))
			if length < 2 || length > MaxPDU+1 {
				return nil, nil
			}
			if total := mbapLen - 1 + length; len(b) >= total {
				c.r += total
				return b[:total], nil
			}
		}
		// Nothing more to serve until the client sends more: send the answers gathered so far.
		if err := c.flush(); err != nil {
			return nil, err
		}
		if c.r == c.w {
			c.r, c.w = 0, 0
		} else if len(c.in)-c.w < MaxTCPADU {
			c.w = copy(c.in[:], c.in[c.r:c.w])
			c.r = 0
		}
		n, err := c.io.Read(c.in[c.w:])
		c.w += n
		if err != nil {
			var ne net.Error
			if c.s.IdleTimeout > 0 && errors.As(err, &ne) && ne.Timeout() {
				// The deadline is set once per IdleTimeout, not per request: it may have passed
				// with requests served since.
				if dl := c.idle.Add(c.s.IdleTimeout); time.Now().Before(dl) {
					_ = c.nc.SetReadDeadline(dl)
					continue
				}
			}
			return nil, err
		}
	}
}

// flush writes the answers gathered.
func (c *tcpServerConn) flush() error {
	if c.o == 0 {
		return nil
	}
	_, err := c.io.Write(c.out[:c.o])
	c.o = 0
	return err
}

// onSlow starts the watch of a Handler call that is taking long, on the timer's goroutine.
func (c *tcpServerConn) onSlow() {
	if !c.state.CompareAndSwap(watchServing, watchOn) {
		return // the call has ended (the timer fired late)
	}
	defer func() { c.watchDone <- struct{}{} }()
	// Read ahead into the free end of in: the request being served lies before it, untouched.
	for c.w < len(c.in) {
		n, err := c.io.Read(c.in[c.w:])
		c.w += n
		if err != nil {
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				// The client is gone (or the connection was closed): the Handler can stop. What it
				// sent before it left is still served (a half-closed client may wait for the answers),
				// with the ctx cancelled, as the next read sees the end too.
				c.cancel()
			}
			return
		}
	}
}

// stopWatch ends the watch of a Handler call, which has returned, and waits for it.
func (c *tcpServerConn) stopWatch() {
	_ = c.nc.SetReadDeadline(time.Unix(1, 0)) // in the past: the watch's read returns at once
	<-c.watchDone
	c.state.Store(watchIdle)
	var dl time.Time
	if c.s.IdleTimeout > 0 {
		dl = time.Now().Add(c.s.IdleTimeout)
	}
	_ = c.nc.SetReadDeadline(dl)
}

// ServeSerial opens the serial device path with cfg and serves RTU on it until ctx is done (then it
// returns nil) or the port fails.
func (s *Server) ServeSerial(ctx context.Context, path string, cfg SerialConfig) error {
	if s.Handler == nil {
		return errors.New("modbus: server has no handler")
	}
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	l, err := openSerial(path, cfg)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer l.Close()
	return s.ServeRTU(ctx, l, cfg)
}

// ServeRTU serves RTU frames on port, whose line runs at cfg (used for the silent intervals), until ctx
// is done (then it returns nil) or port fails.
func (s *Server) ServeRTU(ctx context.Context, port Port, cfg SerialConfig) error {
	if s.Handler == nil {
		return errors.New("modbus: server has no handler")
	}
	if err := cfg.setDefaults(); err != nil {
		return err
	}
	_, t35 := cfg.SilentIntervals()
	err := s.serveRTU(ctx, port, t35, false)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// minSilence is the least silence that ends an incomplete frame on reception. The interval of the
// specification (t3.5, 1.75 ms at high baud rates) is shorter than the gaps with which USB adapters,
// pseudo-terminals and busy machines deliver the bytes of one frame; frames are delimited by their
// length, computed from their header, and silence only ends frames that cannot be, or leftovers. A
// master waits far longer than this before it repeats a request.
const minSilence = 50 * time.Millisecond

// rtuRequestLen is the length of the RTU request ADU starting at b: 0 if more bytes are needed to tell,
// -1 for a function code whose requests this package cannot size (the frame ends at silence).
func rtuRequestLen(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	switch b[1] {
	case FuncReadCoils, FuncReadDiscreteInputs, FuncReadHoldingRegisters, FuncReadInputRegisters,
		FuncWriteSingleCoil, FuncWriteSingleRegister:
		return 8
	case FuncWriteMultipleCoils, FuncWriteMultipleRegisters:
		if len(b) < 7 {
			return 0
		}
		return 9 + int(b[6])
	case FuncReadWriteMultipleRegisters:
		if len(b) < 11 {
			return 0
		}
		return 13 + int(b[10])
	}
	return -1
}

// rtuServer is the state of one RTU line being served.
type rtuServer struct {
	buf  [2 * MaxRTUADU]byte
	resp [MaxRTUADU]byte
	sb   serverBuffers
}

// serveRTU serves RTU on p; overTCP makes ErrDropConnection end it (a serial line cannot be dropped).
//
// Frames are found by their length, computed from their header, and their CRC. Where the bytes at the
// start of the buffer do not make an intact frame (noise, a frame cut short, another slave's answer on
// a shared bus run together with the next request), the search moves on one byte and tries again, so
// the next intact request is found without waiting for silence. Silence (max(t3.5, minSilence)) ends a
// frame of a function whose length cannot be computed, and clears what is left.
func (s *Server) serveRTU(ctx context.Context, p Port, t35 time.Duration, overTCP bool) error {
	r := new(rtuServer)
	silence := max(t35, minSilence)
	n := 0
	var lastRx time.Time
	for {
		if ctx.Err() != nil {
			return nil
		}
		for n >= 2 {
			l := rtuRequestLen(r.buf[:n])
			if l < 0 && n < len(r.buf) {
				// Maybe a function we cannot size, which silence will end; but if an intact frame
				// follows, what comes before it was noise.
				if i := nextFrame(r.buf[1:n]); i >= 0 {
					n = copy(r.buf[:], r.buf[1+i:n])
					continue
				}
				break
			}
			if l == 0 || l > 0 && l <= MaxRTUADU && n < l {
				break // wait for the rest
			}
			if l > 0 && l <= MaxRTUADU && crcOK(r.buf[:l]) {
				if drop := s.handleRTU(ctx, p, r, r.buf[:l], lastRx, t35); drop && overTCP {
					return nil
				}
				n = copy(r.buf[:], r.buf[l:n])
				continue
			}
			n = copy(r.buf[:], r.buf[1:n])
		}
		timeout := pollInterval
		if n > 0 {
			timeout = silence
		}
		_ = p.SetReadTimeout(timeout)
		k, err := p.Read(r.buf[n:])
		if err != nil {
			return err
		}
		if k > 0 {
			n += k
			lastRx = time.Now()
			continue
		}
		if n >= 4 && n <= MaxRTUADU && rtuRequestLen(r.buf[:n]) < 0 && crcOK(r.buf[:n]) {
			// A whole frame of a function we do not know, ended by silence: answer IllegalFunction.
			if drop := s.handleRTU(ctx, p, r, r.buf[:n], lastRx, t35); drop && overTCP {
				return nil
			}
		}
		n = 0
	}
}

// nextFrame returns the offset of the first intact request frame of known length in b, or -1.
func nextFrame(b []byte) int {
	for i := range b {
		if l := rtuRequestLen(b[i:]); l > 0 && l <= MaxRTUADU && l <= len(b)-i && crcOK(b[i:i+l]) {
			return i
		}
	}
	return -1
}

// handleRTU answers the intact frame; it reports whether the Handler asked to drop the connection.
func (s *Server) handleRTU(ctx context.Context, p Port, r *rtuServer, frame []byte, lastRx time.Time, t35 time.Duration) bool {
	unit, pdu := frame[0], frame[1:len(frame)-2]
	if unit == 0 {
		if !isBroadcastable(pdu[0]) {
			return false
		}
		if len(s.Units) == 0 {
			_, _ = serve(ctx, s.Handler, 0, pdu, r.resp[1:], &r.sb)
		}
		for _, u := range s.Units {
			_, _ = serve(ctx, s.Handler, u, pdu, r.resp[1:], &r.sb)
		}
		return false
	}
	if !s.serves(unit) {
		return false
	}
	n, err := serve(ctx, s.Handler, unit, pdu, r.resp[1:], &r.sb)
	switch {
	case errors.Is(err, ErrNoResponse):
		return false
	case errors.Is(err, ErrDropConnection):
		return true
	}
	r.resp[0] = unit
	out := appendCRC(r.resp[:1+n])
	if errors.Is(err, ErrCorruptResponse) {
		out[len(out)-1] ^= 0xFF
		out[len(out)-2] ^= 0xFF
	}
	// A slave answers no sooner than t3.5 after the request ended.
	if wait := time.Until(lastRx.Add(t35)); wait > 0 {
		time.Sleep(wait)
	}
	if _, err := p.Write(out); err != nil {
		s.logger().Debug("modbus: rtu write", "err", err)
	}
	return false
}

package modbus

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// streamConn is a net.Conn that reads a fixed input and records what is written.
type streamConn struct {
	r   io.Reader
	out bytes.Buffer
}

func (c *streamConn) Read(p []byte) (int, error)         { return c.r.Read(p) }
func (c *streamConn) Write(p []byte) (int, error)        { return c.out.Write(p) }
func (c *streamConn) Close() error                       { return nil }
func (c *streamConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *streamConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *streamConn) SetDeadline(time.Time) error        { return nil }
func (c *streamConn) SetReadDeadline(time.Time) error    { return nil }
func (c *streamConn) SetWriteDeadline(time.Time) error   { return nil }
func (c *streamConn) SetReadTimeout(time.Duration) error { return nil }
func (c *streamConn) flushInput()                        {}

// chunkPort delivers its input in chunks separated by silences (reads of 0 bytes): a 0xFE byte in the
// input marks a silence and is not delivered.
type chunkPort struct {
	in  []byte
	out bytes.Buffer
}

func (p *chunkPort) Read(b []byte) (int, error) {
	if len(p.in) == 0 {
		return 0, io.EOF
	}
	if p.in[0] == 0xFE {
		p.in = p.in[1:]
		return 0, nil
	}
	end := bytes.IndexByte(p.in, 0xFE)
	if end < 0 {
		end = len(p.in)
	}
	n := copy(b, p.in[:end])
	p.in = p.in[n:]
	return n, nil
}

func (p *chunkPort) Write(b []byte) (int, error)        { return p.out.Write(b) }
func (p *chunkPort) SetReadTimeout(time.Duration) error { return nil }
func (p *chunkPort) Close() error                       { return nil }
func (p *chunkPort) flushInput()                        {}

func tcpFrame(tid uint16, unit byte, pdu ...byte) []byte {
	return append([]byte{byte(tid >> 8), byte(tid), 0, 0, 0, byte(len(pdu) + 1), unit}, pdu...)
}

func rtuFrame(unit byte, pdu ...byte) []byte { return appendCRC(append([]byte{unit}, pdu...)) }

var seedPDUs = [][]byte{
	{1, 0, 0, 0, 10},
	{2, 0, 5, 0x07, 0xD0},
	{3, 0, 0, 0, 125},
	{4, 0xFF, 0xFF, 0, 1},
	{5, 0, 1, 0xFF, 0},
	{6, 0, 1, 0x12, 0x34},
	{15, 0, 0, 0, 10, 2, 0xFF, 0x03},
	{16, 0, 0, 0, 2, 4, 0, 1, 0, 2},
	{23, 0, 0, 0, 2, 0, 10, 0, 1, 2, 0xAB, 0xCD},
	{3, 0, 0, 0, 0},
	{0x2B, 0x0E, 1, 0},
}

func fuzzMemory() Handler {
	return &faultHandler{Memory: NewMemory(MemoryLayout{Coils: 100, DiscreteInputs: 100, HoldingRegisters: 100, InputRegisters: 100})}
}

// checkResponsePDU checks invariants of any response the server makes to req.
func checkResponsePDU(t *testing.T, req, resp []byte) {
	t.Helper()
	if len(resp) < 2 || len(resp) > MaxPDU {
		t.Fatalf("response of %d bytes to % x", len(resp), req)
	}
	if resp[0] != req[0] && resp[0] != req[0]|exception {
		t.Fatalf("response function %d to request function %d", resp[0], req[0])
	}
	if resp[0]&exception != 0 && len(resp) != 2 {
		t.Fatalf("exception of %d bytes", len(resp))
	}
	if resp[0]&exception == 0 {
		// A normal answer must be exactly what a client expects for the request.
		if err := checkResponse(req, resp); err != nil {
			t.Fatalf("server answer % x to % x fails the client's check: %v", resp, req, err)
		}
	}
}

// FuzzServerPDU: the server's request decoding, for any PDU.
func FuzzServerPDU(f *testing.F) {
	for _, p := range seedPDUs {
		f.Add(byte(1), p)
	}
	h := fuzzMemory()
	var sb serverBuffers
	f.Fuzz(func(t *testing.T, unit byte, req []byte) {
		if len(req) > MaxPDU {
			req = req[:MaxPDU]
		}
		resp := make([]byte, MaxPDU)
		n, err := serve(context.Background(), h, unit, req, resp, &sb)
		if len(req) == 0 {
			return
		}
		if err != nil {
			t.Fatalf("serve(% x): %v", req, err)
		}
		checkResponsePDU(t, req, resp[:n])
	})
}

// FuzzServerTCPStream: the Modbus TCP server reading any byte stream.
func FuzzServerTCPStream(f *testing.F) {
	for i, p := range seedPDUs {
		f.Add(tcpFrame(uint16(i), 1, p...))
	}
	f.Add(append(tcpFrame(1, 1, 3, 0, 0, 0, 1), tcpFrame(2, 1, 3, 0, 0, 0, 2)...))
	f.Add([]byte{0, 1, 0, 0, 0, 0, 1})                          // length 0
	f.Add([]byte{0, 1, 0, 0, 0xFF, 0xFF, 1, 3})                 // length too big
	f.Add(append([]byte{0, 1, 0, 7, 0, 6, 1}, 3, 0, 0, 0, 1))   // not Modbus: protocol 7
	f.Add(append(tcpFrame(1, 1, 3, 0, 0, 0, 1), 0, 1, 0, 0, 0)) // truncated second frame
	srv := &Server{Handler: fuzzMemory()}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 4*MaxTCPADU {
			in = in[:4*MaxTCPADU]
		}
		c := &streamConn{r: bytes.NewReader(in)}
		srv.serveTCPConn(context.Background(), c)
		out := c.out.Bytes()
		for len(out) > 0 {
			if len(out) < mbapLen+2 {
				t.Fatalf("truncated answer % x", out)
			}
			n := int(be16(out[4:]))
			if n < 3 || mbapLen-1+n > len(out) || mbapLen-1+n > MaxTCPADU {
				t.Fatalf("answer with length %d in % x", n, out)
			}
			out = out[mbapLen-1+n:]
		}
	})
}

// FuzzServerRTUStream: the RTU server reading any bytes, with silences anywhere.
func FuzzServerRTUStream(f *testing.F) {
	for _, p := range seedPDUs {
		f.Add(rtuFrame(1, p...))
	}
	f.Add(append(rtuFrame(1, 3, 0, 0, 0, 1), rtuFrame(1, 6, 0, 1, 0, 2)...))
	f.Add(append(append(rtuFrame(2, 3, 0, 0, 0, 1), 0xFE), rtuFrame(1, 3, 0, 0, 0, 1)...))
	f.Add(append([]byte{1, 3, 0, 0, 0xFE}, rtuFrame(1, 3, 0, 0, 0, 1)...))       // a frame cut by silence
	f.Add(append([]byte{1, 3, 0, 0, 0, 1, 0, 0}, rtuFrame(1, 4, 0, 0, 0, 1)...)) // bad CRC, then good
	f.Add(rtuFrame(0, 6, 0, 1, 0, 2))                                            // broadcast
	f.Add(rtuFrame(1, 0x2B, 0x0E, 1, 0))                                         // unknown function
	f.Add(rtuFrame(1, 16, 0, 0, 0, 0x7F, 0xFE))                                  // byte count beyond a frame
	srv := &Server{Handler: fuzzMemory()}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 4*MaxRTUADU {
			in = in[:4*MaxRTUADU]
		}
		p := &chunkPort{in: in}
		if err := srv.serveRTU(context.Background(), p, 0, false); err != io.EOF {
			t.Fatalf("serveRTU: %v", err)
		}
		out := p.out.Bytes()
		// Every answer is a whole frame with a good CRC; they are not delimited, so check the total.
		if len(out) > 0 && len(out) < 5 {
			t.Fatalf("answer % x", out)
		}
	})
}

// FuzzClientTCPStream: the client's reader with any byte stream as the server's answers.
func FuzzClientTCPStream(f *testing.F) {
	f.Add(byte(3), uint16(2), tcpFrame(1, 1, 3, 4, 0, 1, 0, 2))
	f.Add(byte(3), uint16(2), tcpFrame(1, 1, 0x83, 2))
	f.Add(byte(1), uint16(10), tcpFrame(1, 1, 1, 2, 0xFF, 3))
	f.Add(byte(16), uint16(2), tcpFrame(1, 1, 16, 0, 0, 0, 2))
	f.Add(byte(3), uint16(1), append(tcpFrame(9, 1, 3, 2, 0, 1), tcpFrame(1, 1, 3, 2, 0, 7)...))
	f.Add(byte(3), uint16(1), []byte{0, 1, 0, 0, 0, 0, 1})
	f.Add(byte(3), uint16(1), []byte{0, 1, 0, 0, 0, 200, 1, 3})
	f.Fuzz(func(t *testing.T, fn byte, qty uint16, in []byte) {
		p := fuzzCall(fn, qty)
		if p == nil {
			return
		}
		defer putCall(p)
		p.tid = 1
		nc := &streamConn{r: bytes.NewReader(in)}
		c := &tcpConn{nc: nc, io: newConnIO(nc), br: bufio.NewReader(nc), pending: map[uint16]*call{1: p}, dead: make(chan struct{})}
		c.readLoop()
		<-p.done // by an answer or by the end of the stream
		if p.err != nil {
			return
		}
		if p.n < 1 || p.n > MaxPDU {
			t.Fatalf("response of %d bytes", p.n)
		}
		if err := checkResponse(p.pdu(), p.response()); err == nil && p.n != p.expectLen() {
			t.Fatalf("accepted a response of %d bytes, want %d", p.n, p.expectLen())
		}
	})
}

// FuzzClientTCPSync: the client reading its own answers (MaxInFlight 1) from any byte stream.
func FuzzClientTCPSync(f *testing.F) {
	f.Add(byte(3), uint16(2), tcpFrame(1, 1, 3, 4, 0, 1, 0, 2))
	f.Add(byte(3), uint16(2), tcpFrame(1, 1, 0x83, 2))
	f.Add(byte(15), uint16(9), tcpFrame(1, 1, 15, 0, 0, 0, 9))
	f.Add(byte(3), uint16(1), append(tcpFrame(9, 1, 3, 2, 0, 1), tcpFrame(1, 1, 3, 2, 0, 7)...))
	f.Add(byte(3), uint16(1), []byte{0, 1, 0, 0, 0, 0, 1})
	f.Add(byte(3), uint16(1), []byte{0, 1, 0, 0, 0, 200, 1, 3})
	cfg := &ClientConfig{Timeout: time.Hour}
	f.Fuzz(func(t *testing.T, fn byte, qty uint16, in []byte) {
		p := fuzzCall(fn, qty)
		defer putCall(p)
		nc := &streamConn{r: bytes.NewReader(in)}
		c := &tcpConn{nc: nc, io: newConnIO(nc), sync: true, rbuf: make([]byte, 4096), pending: map[uint16]*call{}, dead: make(chan struct{})}
		tr := &tcpTransport{addr: "fuzz"}
		if _, err := tr.doSync(context.Background(), cfg, p, c); err != nil {
			return
		}
		if p.n < 1 || p.n > MaxPDU {
			t.Fatalf("response of %d bytes", p.n)
		}
		if err := checkResponse(p.pdu(), p.response()); err == nil && p.n != p.expectLen() {
			t.Fatalf("accepted a response of %d bytes, want %d", p.n, p.expectLen())
		}
	})
}

// fuzzCall makes a well-formed request for function fn (folded onto the ones this package sends).
func fuzzCall(fn byte, qty uint16) *call {
	fns := []byte{1, 2, 3, 4, 5, 6, 15, 16, 23}
	fn = fns[int(fn)%len(fns)]
	p := getCall(1, fn)
	switch fn {
	case 1, 2:
		qty = 1 + qty%MaxReadBits
		p.put16(0)
		p.put16(qty)
	case 3, 4:
		qty = 1 + qty%MaxReadRegisters
		p.put16(0)
		p.put16(qty)
	case 5, 6:
		p.put16(0)
		p.put16(coilOn)
	case 15:
		qty = 1 + qty%MaxWriteBits
		p.put16(0)
		p.put16(qty)
		n := packBits(p.buf[mbapLen+p.pduLen+1:], make([]bool, qty))
		p.put8(byte(n))
		p.pduLen += n
	case 16:
		qty = 1 + qty%MaxWriteRegisters
		p.put16(0)
		p.put16(qty)
		p.put8(byte(2 * qty))
		p.pduLen += 2 * int(qty)
	case 23:
		qty = 1 + qty%MaxReadWriteRegister
		p.put16(0)
		p.put16(qty)
		p.put16(0)
		p.put16(qty)
		p.put8(byte(2 * qty))
		p.pduLen += 2 * int(qty)
	}
	return p
}

// FuzzClientRTUResponse: the client reading any bytes as the answer on an RTU line.
func FuzzClientRTUResponse(f *testing.F) {
	f.Add(byte(3), uint16(2), rtuFrame(1, 3, 4, 0, 1, 0, 2))
	f.Add(byte(3), uint16(2), rtuFrame(1, 0x83, 2))
	f.Add(byte(1), uint16(10), rtuFrame(1, 1, 2, 0xFF, 3))
	f.Add(byte(5), uint16(0), rtuFrame(1, 5, 0, 0, 0xFF, 0))
	f.Add(byte(3), uint16(1), append([]byte{1, 3, 2, 0, 1, 0, 0}, 0xFE, 1))
	f.Add(byte(3), uint16(1), rtuFrame(2, 3, 2, 0, 1))
	f.Fuzz(func(t *testing.T, fn byte, qty uint16, in []byte) {
		p := fuzzCall(fn, qty)
		if p == nil {
			return
		}
		defer putCall(p)
		b := &bus{addr: "fuzz", transport: RTU, sem: make(chan struct{}, 1)}
		b.link = &chunkPort{in: in}
		_, err := b.readResponse(context.Background(), time.Now().Add(time.Hour), p)
		if err != nil {
			return
		}
		if p.n < 2 || p.n > MaxPDU {
			t.Fatalf("response of %d bytes", p.n)
		}
		if err := checkResponse(p.pdu(), p.response()); err == nil && p.n != p.expectLen() {
			t.Fatalf("accepted a response of %d bytes, want %d", p.n, p.expectLen())
		}
	})
}

// FuzzDecode: the typed decoding of any registers.
func FuzzDecode(f *testing.F) {
	f.Add("float32", "CDAB", uint(0), []byte{0xE9, 0x79, 0x42, 0xF6})
	f.Add("string", "ABCD", uint(0), []byte("BG00ABC\x00"))
	f.Add("bit", "ABCD", uint(17), []byte{0, 1})
	f.Fuzz(func(t *testing.T, typ, order string, bit uint, raw []byte) {
		regs := make([]uint16, len(raw)/2)
		for i := range regs {
			regs[i] = be16(raw[2*i:])
		}
		fm := Format{Type: DataType(typ), Order: ByteOrder(order), Bit: bit}
		v, err := fm.Decode(regs)
		if err != nil {
			return
		}
		_ = v.String()
		_ = v.Float64()
		out := make([]uint16, len(regs))
		copy(out, regs)
		if err := fm.Encode(out, v); err != nil && fm.Type != Float32 && fm.Type != Float64 && fm.Type != String {
			t.Fatalf("re-encoding %v as %s: %v", v, fm.Type, err)
		}
	})
}

package wire

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/akciz/akciz/internal/core"
)

// BatchFormat is the value of a batch header's "format" member.
const BatchFormat = "akciz-batch"

// Header is the first line of a batch: what the batch holds and the operator's signature over it.
type Header struct {
	Format    string    `json:"format"`    // BatchFormat
	Version   int       `json:"v"`         // Version
	Device    string    `json:"device"`    // the ИКУНК that made the records, e.g. BGNCA00005001001
	First     uint64    `json:"first"`     // seq of the first record
	Last      uint64    `json:"last"`      // seq of the last record
	Count     uint64    `json:"count"`     // number of records: Last − First + 1
	PrevChain Hash      `json:"prevChain"` // chain hash of the record before First (prev of the first record)
	LastChain Hash      `json:"lastChain"` // chain hash of the last record
	PrevBatch Hash      `json:"prevBatch"` // digest of the device's previous batch; ZeroHash for its first
	Created   time.Time `json:"created"`   // when the batch was signed: UTC, milliseconds
	Alg       string    `json:"alg"`       // signature algorithm, one of the Alg… constants
	Certs     [][]byte  `json:"certs"`     // the signer's certificate chain, DER, leaf first (base64 in JSON)
	Sig       []byte    `json:"sig"`       // the signature over Digest (base64 in JSON)
}

// DigestText is the byte-exact text that a batch's digest is the SHA-256 of (docs/protocol.md, "The
// digest"). It is also what the signature covers.
func (h *Header) DigestText() []byte {
	b := make([]byte, 0, 400)
	b = append(b, "akciz-batch/"...)
	b = strconv.AppendInt(b, int64(h.Version), 10)
	b = append(b, "\ndevice "...)
	b = append(b, h.Device...)
	b = append(b, "\nfirst "...)
	b = strconv.AppendUint(b, h.First, 10)
	b = append(b, "\nlast "...)
	b = strconv.AppendUint(b, h.Last, 10)
	b = append(b, "\ncount "...)
	b = strconv.AppendUint(b, h.Count, 10)
	b = append(b, "\nprev-chain "...)
	b = append(b, h.PrevChain.String()...)
	b = append(b, "\nlast-chain "...)
	b = append(b, h.LastChain.String()...)
	b = append(b, "\nprev-batch "...)
	b = append(b, h.PrevBatch.String()...)
	b = append(b, "\ncreated "...)
	b = h.Created.UTC().AppendFormat(b, timeLayout)
	b = append(b, '\n')
	return b
}

// Digest is the batch hash: SHA-256 of DigestText. The next batch of the device names it as its PrevBatch,
// and the server's transparency log holds it.
func (h *Header) Digest() Hash { return sha256.Sum256(h.DigestText()) }

// NewBatch makes the header of a batch of records (each as EncodeRecord gave it, in order) of device,
// following the batch whose digest is prevBatch, created at created. The records must form an unbroken
// chain. The header still has to be signed.
func NewBatch(device string, prevBatch Hash, created time.Time, records [][]byte) (*Header, error) {
	if len(records) == 0 {
		return nil, errors.New("wire: a batch needs at least one record")
	}
	if len(records) > DefaultLimits.MaxRecords {
		return nil, fmt.Errorf("wire: %d records, over the limit of %d a batch", len(records), DefaultLimits.MaxRecords)
	}
	h := &Header{Format: BatchFormat, Version: Version, Device: device, PrevBatch: prevBatch,
		Created: core.Stamp(created), Count: uint64(len(records))}
	var e Entry
	var scratch bytes.Buffer
	for i, raw := range records {
		if err := decodeRecord(raw, &e, &scratch, nil); err != nil {
			return nil, fmt.Errorf("wire: record %d of the batch: %w", i+1, err)
		}
		if e.Record.Device != device {
			return nil, fmt.Errorf("wire: record seq %d is of device %s, not %s", e.Seq, e.Record.Device, device)
		}
		if i == 0 {
			h.First, h.PrevChain = e.Seq, e.Prev
		} else if e.Seq != h.Last+1 || e.Prev != h.LastChain {
			return nil, fmt.Errorf("wire: record seq %d does not follow seq %d", e.Seq, h.Last)
		}
		h.Last, h.LastChain = e.Seq, e.Hash
	}
	return h, nil
}

// WriteBatch writes the batch file: a gzip stream of the header line and the record lines, each ended by a
// line feed. It is what the agent POSTs and what `akciz agent export` writes.
func WriteBatch(w io.Writer, h *Header, records [][]byte) error {
	if uint64(len(records)) != h.Count {
		return fmt.Errorf("wire: header counts %d records, have %d", h.Count, len(records))
	}
	hb, err := marshal(h)
	if err != nil {
		return fmt.Errorf("wire: batch header: %w", err)
	}
	zw := gzip.NewWriter(w)
	bw := bufio.NewWriterSize(zw, 32<<10)
	bw.Write(hb)
	bw.WriteByte('\n')
	for _, r := range records {
		bw.Write(r)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("wire: write batch: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("wire: write batch: %w", err)
	}
	return nil
}

// Limits bound what a decoder reads, so that no input can make it use unbounded memory or time.
type Limits struct {
	MaxCompressed   int64 // bytes of the gzip stream
	MaxDecompressed int64 // bytes after decompression, header included
	MaxLine         int   // bytes of one line (the header or a record), without its line feed
	MaxRecords      int   // records in one batch
}

// DefaultLimits are the limits of protocol version 1. A sender must stay within them; a receiver may set
// lower ones and answers too-large beyond them.
var DefaultLimits = Limits{
	MaxCompressed:   16 << 20,
	MaxDecompressed: 128 << 20,
	MaxLine:         MaxRecordSize,
	MaxRecords:      10000,
}

// DecodeOptions say how DecodeBatch checks a batch.
type DecodeOptions struct {
	Limits Limits // zero fields take DefaultLimits
	// Verify, when not nil, checks the signature and certificate before any record is read. When nil the
	// signature is not checked: the caller must call Header.Verify itself.
	Verify *VerifyOptions
	// Header, when not nil, is called with the header once it is read and verified, before any record:
	// the server checks there that the client owns the device and that the batch continues the device's
	// tip (Tip.Check), so that a refused batch costs no record decoding. Its error is returned as is.
	Header func(*Header) error
}

// DecodeBatch reads a batch file from r. It reads and checks the header (and, with opt.Verify, its
// signature and certificate), then streams the records, calling fn (if not nil) with each one as soon as
// it is decoded and its link to the one before is checked. The Entry and its Raw bytes are reused: fn
// must copy what it keeps. Only when DecodeBatch returns a nil error is the whole batch proven (count and
// the last chain hash are checked at the end): a receiver stores what fn saw inside a transaction that it
// commits only then. Failures are *Error values naming the code and the seq; an error of fn or
// opt.Header is returned as is.
func DecodeBatch(r io.Reader, opt DecodeOptions, fn func(*Entry) error) (*Header, error) {
	lim := opt.Limits
	if lim.MaxCompressed <= 0 {
		lim.MaxCompressed = DefaultLimits.MaxCompressed
	}
	if lim.MaxDecompressed <= 0 {
		lim.MaxDecompressed = DefaultLimits.MaxDecompressed
	}
	if lim.MaxLine <= 0 {
		lim.MaxLine = DefaultLimits.MaxLine
	}
	if lim.MaxRecords <= 0 {
		lim.MaxRecords = DefaultLimits.MaxRecords
	}
	cr := &limitedReader{r: r, n: lim.MaxCompressed}
	zr, err := gzip.NewReader(cr)
	if err != nil {
		return nil, gzipError(cr, err)
	}
	dr := &limitedReader{r: zr, n: lim.MaxDecompressed}
	br := bufio.NewReaderSize(dr, lim.MaxLine+1)
	d := batchDecoder{br: br, cr: cr, dr: dr, lim: lim}

	hl, err := d.line(0)
	if err != nil {
		return nil, err
	}
	if hl == nil {
		return nil, fail(CodeMalformed, 0, "wire.batch.empty")
	}
	h, err := ParseHeader(hl)
	if err != nil {
		return nil, err
	}
	if h.Count > uint64(lim.MaxRecords) {
		return nil, fail(CodeTooLarge, h.First, "wire.batch.too_many", h.Count, lim.MaxRecords)
	}
	if opt.Verify != nil {
		if _, err := h.Verify(*opt.Verify); err != nil {
			return nil, err
		}
	}
	if opt.Header != nil {
		if err := opt.Header(h); err != nil {
			return nil, err
		}
	}

	var e Entry
	var scratch bytes.Buffer
	in := interner{}
	want, prev := h.First, h.PrevChain
	for n := uint64(0); ; n++ {
		raw, err := d.line(want)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			if n < h.Count {
				return nil, fail(CodeGap, want, "wire.batch.missing_tail", want, h.Last, n, h.Count)
			}
			break
		}
		if n >= h.Count {
			return nil, fail(CodeAltered, h.Last+1, "wire.batch.extra", h.Count, h.Last)
		}
		if err := decodeRecord(raw, &e, &scratch, in); err != nil {
			return nil, failErr(CodeMalformed, want, err, "wire.record.malformed", want, n+2)
		}
		if e.Seq != want {
			return nil, d.misplaced(&e, want, n)
		}
		if e.Prev != prev {
			if n == 0 {
				return nil, fail(CodeAltered, want, "wire.batch.first_link", want)
			}
			return nil, fail(CodeAltered, want-1, "wire.batch.broken_link", want-1, want)
		}
		if e.Record.Device != h.Device {
			return nil, fail(CodeWrongDevice, want, "wire.batch.record_device", want, e.Record.Device, h.Device)
		}
		if fn != nil {
			if err := fn(&e); err != nil {
				return nil, err
			}
		}
		prev = e.Hash
		want++
	}
	if prev != h.LastChain {
		return nil, fail(CodeAltered, h.Last, "wire.batch.last_link", h.Last)
	}
	// The gzip trailer (CRC and length) is checked only when the stream is read to its end.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, d.readError(err, h.Last)
	}
	return h, nil
}

// ParseHeader reads and checks a batch header line (without the signature: see Header.Verify).
func ParseHeader(b []byte) (*Header, error) {
	var h Header
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || dec.More() {
		if err == nil {
			err = errors.New("data after the header")
		}
		return nil, failErr(CodeMalformed, 0, err, "wire.header.malformed")
	}
	if h.Format != BatchFormat {
		return nil, fail(CodeMalformed, 0, "wire.header.format", h.Format)
	}
	if h.Version != Version {
		return nil, fail(CodeUnsupportedVersion, 0, "wire.header.version", h.Version, Version)
	}
	if !core.ValidDeviceID(h.Device) {
		return nil, fail(CodeMalformed, 0, "wire.header.device", h.Device)
	}
	if h.First == 0 || h.Last < h.First {
		return nil, fail(CodeMalformed, h.First, "wire.header.range", h.First, h.Last)
	}
	if h.Count != h.Last-h.First+1 {
		return nil, fail(CodeMalformed, h.First, "wire.header.count", h.Count, h.First, h.Last, h.Last-h.First+1)
	}
	if h.First == 1 && h.PrevChain != ZeroHash {
		return nil, fail(CodeMalformed, 1, "wire.header.first_prev")
	}
	if !stamped(h.Created) {
		return nil, fail(CodeMalformed, 0, "wire.header.created")
	}
	if _, ok := algs[h.Alg]; !ok {
		return nil, fail(CodeMalformed, 0, "wire.header.alg", h.Alg)
	}
	if len(h.Certs) == 0 || len(h.Sig) == 0 {
		return nil, fail(CodeMalformed, 0, "wire.header.unsigned")
	}
	return &h, nil
}

type batchDecoder struct {
	br     *bufio.Reader
	cr, dr *limitedReader
	lim    Limits
}

// line reads the next line without its line feed; nil at the end of the stream. seq names the place.
func (d *batchDecoder) line(seq uint64) ([]byte, error) {
	b, err := d.br.ReadSlice('\n')
	switch {
	case err == nil:
		return b[:len(b)-1], nil
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fail(CodeTooLarge, seq, "wire.batch.line_too_long", d.lim.MaxLine)
	case err == io.EOF && len(b) == 0:
		return nil, nil
	case err == io.EOF:
		return nil, fail(CodeMalformed, seq, "wire.batch.no_newline")
	default:
		return nil, d.readError(err, seq)
	}
}

func (d *batchDecoder) readError(err error, seq uint64) error {
	if d.dr.over {
		return fail(CodeTooLarge, seq, "wire.batch.decompressed_too_large", d.lim.MaxDecompressed)
	}
	return gzipError(d.cr, err)
}

func gzipError(cr *limitedReader, err error) error {
	if cr.over {
		return fail(CodeTooLarge, 0, "wire.batch.compressed_too_large", cr.n0)
	}
	return failErr(CodeMalformed, 0, err, "wire.batch.gzip")
}

// misplaced classifies a record found where seq want was expected. It looks at the next line, which it may
// consume: the batch is rejected anyway.
func (d *batchDecoder) misplaced(e *Entry, want, n uint64) error {
	got := e.Seq
	if got < want {
		return fail(CodeReplay, got, "wire.batch.replayed", got, want)
	}
	if next, err := d.line(want); err == nil && next != nil {
		var f Entry
		if decodeRecord(next, &f, nil, nil) == nil && f.Seq == want {
			return fail(CodeReorder, want, "wire.batch.reordered", want, got)
		}
	}
	if got == want+1 {
		return fail(CodeGap, want, "wire.batch.missing_one", want)
	}
	return fail(CodeGap, want, "wire.batch.missing", want, got-1)
}

// limitedReader reads at most n bytes and remembers whether the source had more.
type limitedReader struct {
	r      io.Reader
	n, n0  int64
	over   bool
	inited bool
}

var errLimit = errors.New("wire: size limit reached")

func (l *limitedReader) Read(p []byte) (int, error) {
	if !l.inited {
		l.n0, l.inited = l.n, true
	}
	if l.n <= 0 {
		// One byte more tells a source of exactly n bytes from a longer one.
		var one [1]byte
		if k, _ := l.r.Read(one[:]); k > 0 {
			l.over = true
			return 0, errLimit
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	return k, err
}

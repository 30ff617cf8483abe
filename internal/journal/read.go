package journal

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"sort"
)

// Contents describe a journal read by Read.
type Contents struct {
	// Device is the device id of the segment headers ("" if no header is intact).
	Device string
	// Acked, AckHash and Receipt are the acknowledged mark and the server's receipt kept with it (zero if
	// there is none; Recovery.AckError says why it could not be read).
	Acked   uint64
	AckHash [32]byte
	Receipt []byte
	// AckDiffers is set when the record at the acknowledged mark is on disk and its hash is not the one the
	// mark keeps: the record was changed after the server acknowledged it.
	AckDiffers bool
	// First and Last are the seqs of the first and last intact records read (0 if none); Records counts
	// them. Prev is the hash the first segment's header names as the predecessor of its first record: the
	// chain is verifiable from there although older segments were trimmed.
	First, Last uint64
	Records     int
	Prev        [32]byte
	// Recovery is what Open would find and repair, without repairing anything: TruncatedBytes is the tail
	// Open would cut (a torn last write, or, when an agent is running, the append in progress), Skipped,
	// Lost, HeaderErrors and AckError are damage. Removed stays empty.
	Recovery
}

// Read reads the journal in dir without changing anything in it, and calls fn with every intact record in
// order (data is valid only during the call): for `akciz verify` and for anyone who inspects a journal. It
// creates nothing, takes no lock, repairs nothing, removes nothing and syncs nothing, so it may read a
// journal that a running agent holds (docs/journal.md, "Reading a journal without opening it"). fsys nil is
// the operating system's. An error of fn ends the reading and is returned as is.
//
// With an agent running, Read sees the journal as it was at some moment: the segment files are opened
// first (a segment the agent trims afterwards stays readable), then the acknowledged mark is read, then
// the records. Records the agent appended but has not yet synced may be read; a frame being written shows
// as a tail Open would cut (TruncatedBytes), not as damage.
func Read(dir string, fsys FS, fn func(seq uint64, data []byte) error) (*Contents, error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	names, err := fsys.List(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: read %s: %w", dir, err)
	}
	j := &Journal{dir: dir, fs: fsys, held: map[string]File{},
		opt: Options{MaxRecord: DefaultMaxRecord, Origin: 1, FS: fsys}}
	defer func() {
		for _, f := range j.held {
			f.Close()
		}
	}()
	for _, n := range names {
		first, ok := parseSegName(n)
		if !ok {
			continue
		}
		f, err := fsys.OpenFile(j.path(n), os.O_RDONLY, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue // trimmed since the listing: all its records were acknowledged
		}
		if err != nil {
			return nil, wrapIO("read "+n, err)
		}
		j.held[n] = f
		j.segs = append(j.segs, &segment{name: n, first: first})
	}
	sort.Slice(j.segs, func(a, b int) bool { return j.segs[a].first < j.segs[b].first })
	c := &Contents{}
	// The mark is read after the segments were opened: a Trim writes it before it removes a segment, so it
	// covers every segment that vanished.
	if a, err := j.readAck(); err == nil {
		j.acked = a
	} else if !errors.Is(err, os.ErrNotExist) {
		c.AckError = err
	}
	for _, g := range j.segs {
		var hb [segHeaderSize]byte
		if n, _ := j.held[g.name].ReadAt(hb[:], 0); n == segHeaderSize {
			if h, err := decodeSegHeader(hb[:]); err == nil {
				j.opt.Device = h.device
				break
			}
		}
	}
	if len(j.segs) > 0 && j.segs[0].first-1 > j.acked.seq {
		if h, err := j.readHeader(j.segs[0]); err == nil && h.firstSeq > 1 {
			j.acked = ackMark{seq: h.firstSeq - 1, hash: h.prev}
		}
	}
	seen := func(seq uint64, data []byte) error {
		if c.Records == 0 {
			c.First = seq
		}
		c.Records++
		c.Last = seq
		if seq == j.acked.seq && j.acked.hash != ([32]byte{}) && sha256.Sum256(data) != j.acked.hash {
			c.AckDiffers = true
		}
		if fn != nil {
			return fn(seq, data)
		}
		return nil
	}
	j.visit = seen
	if err := j.scanAll(&c.Recovery); err != nil {
		return nil, err
	}
	c.Device, c.Acked, c.AckHash, c.Receipt = j.opt.Device, j.acked.seq, j.acked.hash, j.acked.receipt
	if len(j.segs) > 0 {
		c.Prev = j.segs[0].prev
	}
	// What settle would report, without its repairs.
	n := len(j.segs)
	for n > 0 && !j.segs[n-1].headerOK && !j.segs[n-1].records {
		n-- // a segment whose creation a crash interrupted: Open removes it
	}
	// Where Open would continue the chain (settle): the tail of a last segment that cannot take appends there
	// is not cut but the segment set aside or removed.
	next := uint64(1)
	if c.Records > 0 {
		next = c.Last + 1
	}
	if n > 0 {
		g := j.segs[n-1]
		if !g.records && g.headerOK && g.first >= next {
			next = g.first
		}
		if g.torn >= next {
			c.lose(next, g.torn, j.acked.seq)
			next = g.torn + 1
		}
	}
	next = max(next, j.acked.seq+1)
	for i, g := range j.segs[:n] {
		if !g.headerOK {
			why := g.headerErr
			if why == "" {
				why = fmt.Sprintf("%d bytes, shorter than a header", g.size)
			}
			c.HeaderErrors = append(c.HeaderErrors, g.name+": "+why)
		}
		switch {
		case g.tail >= g.size:
		case i < n-1 || !g.headerOK && g.records:
			c.Skipped = append(c.Skipped, Damage{g.name, g.tail, g.size - g.tail})
		case g.records || g.first == next:
			c.TruncatedBytes = g.size - g.tail
		}
	}
	return c, nil
}

// visitError carries an error of Read's fn through the scanner, to be returned as is.
type visitError struct{ err error }

func (e *visitError) Error() string { return e.err.Error() }

// heldFile is a descriptor Read opened beforehand: the scanner's Close must not close it.
type heldFile struct{ File }

func (heldFile) Close() error { return nil }

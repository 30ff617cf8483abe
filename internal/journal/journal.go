// Package journal is the agent's on-disk journal: an append-only, sequence-numbered, hash-chained log of
// the records of one device (one ИКУНК), kept in segment files in one directory, that survives SIGKILL,
// power loss and a torn last write.
//
// Every record carries its own sequence number and the SHA-256 of its predecessor's bytes (the caller's
// builder puts them in; the journal hands them over under its lock), so the records are self-contained
// evidence and the server sees any gap, replay or alteration. A record counts as kept only once Sync has
// returned after it was appended. Records are removed only by Trim, after the server's receipt for them
// has been checked and the acknowledged mark persisted. Open always starts: it truncates a torn tail,
// skips corrupt frames in the middle and reports what was lost. The format and the guarantees are
// described in docs/journal.md.
package journal

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Errors of the journal. Callers test them with errors.Is.
var (
	// ErrFull means the journal reached its size limit or the disk is full; nothing was appended. The agent
	// raises an alarm and stops polling until a Trim makes room: it never drops records to make room.
	ErrFull = errors.New("journal full")
	// ErrTooLarge means a record is larger than Options.MaxRecord.
	ErrTooLarge = errors.New("record too large")
	// ErrTrimmed means records asked for were already trimmed.
	ErrTrimmed = errors.New("records already trimmed")
	// ErrDevice means the directory holds the journal of another device.
	ErrDevice = errors.New("journal of another device")
	// ErrClosed means the journal was closed.
	ErrClosed = errors.New("journal closed")
	// ErrLocked means another process has the journal open.
	ErrLocked = errors.New("journal in use by another process")
)

// Defaults of Options.
const (
	DefaultSegmentSize = 16 << 20
	DefaultMaxSize     = 1 << 30
	DefaultMaxRecord   = 1 << 20
)

// indexEvery is the distance between entries of a segment's sparse index: finding a record reads at most
// this much of a segment, and the index costs 16 bytes per this much journal.
const indexEvery = 256 << 10

// Options configure a journal. The zero value of every field but Device has a sensible default.
type Options struct {
	// Device identifies the device whose records the journal holds (at most 63 bytes). It is written in
	// every segment header; Open refuses a directory written for another device.
	Device string
	// FS is the filesystem; nil means the operating system's.
	FS FS
	// SegmentSize is the size at which the journal starts a new segment file (default 16 MiB).
	SegmentSize int64
	// MaxSize bounds the bytes of all segment files (default 1 GiB); an Append beyond it fails with ErrFull.
	MaxSize int64
	// MaxRecord bounds one record (default 1 MiB or SegmentSize less the headers, whichever is smaller).
	MaxRecord int
	// Origin and OriginPrev are the sequence number and predecessor hash of the first record of a journal
	// that has no state yet (default 1 and all zero): a replacement disk continues the device's chain.
	Origin     uint64
	OriginPrev [32]byte
	// Now is the clock stamped on every frame (default time.Now).
	Now func() time.Time
}

func (o *Options) normalize() error {
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxRecord == 0 {
		o.MaxRecord = int(min(DefaultMaxRecord, o.SegmentSize-segHeaderSize-frameHeaderSize))
	}
	if o.Origin == 0 {
		o.Origin = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	switch {
	case len(o.Device) == 0 || len(o.Device) > maxDeviceLen:
		return fmt.Errorf("journal: device id %q: want 1 to %d bytes", o.Device, maxDeviceLen)
	case o.SegmentSize < 4096:
		return fmt.Errorf("journal: segment size %d: want at least 4096", o.SegmentSize)
	case o.MaxRecord < 1 || int64(o.MaxRecord) > o.SegmentSize-segHeaderSize-frameHeaderSize:
		return fmt.Errorf("journal: max record %d: want 1 to segment size less %d", o.MaxRecord, segHeaderSize+frameHeaderSize)
	case o.MaxSize < o.SegmentSize:
		return fmt.Errorf("journal: max size %d: want at least the segment size %d", o.MaxSize, o.SegmentSize)
	}
	return nil
}

// segment is what the journal remembers of one segment file; records themselves stay on disk.
type segment struct {
	name      string
	first     uint64 // from the file name, equal to the header's first seq when the header is intact
	headerOK  bool
	prev      [32]byte // header's prev hash (if headerOK)
	size      int64    // bytes in use (the valid end for the active segment)
	last      uint64   // seq of the last intact record; meaningful when records
	records   bool
	lastOff   int64        // offset of the last intact record's frame
	index     []indexEntry // sparse: seq → frame offset, ascending
	tail      int64        // recovery only: where trailing damage begins
	headerErr string       // recovery only: why the header is not intact
	torn      uint64       // recovery only: highest seq of a whole but corrupt record in the tail
}

type indexEntry struct {
	seq uint64
	off int64
}

func (s *segment) note(seq uint64, off int64) {
	if n := len(s.index); n == 0 || off-s.index[n-1].off >= indexEvery {
		s.index = append(s.index, indexEntry{seq, off})
	}
	s.last, s.records, s.lastOff = seq, true, off
}

// startFor returns the offset from which to scan for seq.
func (s *segment) startFor(seq uint64) int64 {
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq > seq })
	if i == 0 {
		return segHeaderSize
	}
	return s.index[i-1].off
}

// Journal is an open journal. Its methods are safe for concurrent use.
type Journal struct {
	dir string
	fs  FS
	opt Options

	mu        sync.Mutex
	segs      []*segment // oldest first; the last is the active one
	active    File
	next      uint64
	prev      [32]byte
	bytes     int64
	tailDirty bool  // a failed write may have left bytes past the active segment's size
	err       error // sticky: after a failed fsync nothing is known to be durable
	closed    bool
	frame     []byte
	toClose   []File // retired segments, synced at roll, closed by the next Sync
	acked     ackMark
	oldest    int64 // append time (unix ns) of the first unacknowledged record, 0 if none

	syncMu sync.Mutex
	// synced is the last durable seq: every record up to it is durable. Written under syncMu; readers load
	// it without a lock because they must see only durable records.
	synced atomic.Uint64

	trimMu sync.Mutex

	lock io.Closer // the directory lock, if the FS offers one

	// Read only (read.go): the segment files opened before reading, and the function given every record.
	held  map[string]File
	visit func(seq uint64, data []byte) error
}

func (j *Journal) path(name string) string { return filepath.Join(j.dir, name) }

// wrapIO adds context to a filesystem error and makes a full disk an ErrFull.
func wrapIO(op string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("journal: %s: %w: %w", op, ErrFull, err)
	}
	return fmt.Errorf("journal: %s: %w", op, err)
}

func (j *Journal) usable() error {
	if j.closed {
		return ErrClosed
	}
	return j.err
}

// Append stores one record. Under the journal's lock it calls build with the record's sequence number and
// the SHA-256 of the previous record's bytes (all zero before the first record), and stores the bytes
// build returns; it returns the sequence number and the SHA-256 of those bytes. build must not call the
// journal. The record is durable only once a later Sync returns; until then a crash may lose it (and its
// sequence number is then given to the next record). When the journal or the disk is full Append returns
// an error wrapping ErrFull and stores nothing.
func (j *Journal) Append(build func(seq uint64, prev [32]byte) ([]byte, error)) (uint64, [32]byte, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.usable(); err != nil {
		return 0, [32]byte{}, err
	}
	seg := j.segs[len(j.segs)-1]
	if j.tailDirty {
		if err := j.active.Truncate(seg.size); err != nil {
			return 0, [32]byte{}, wrapIO("truncate failed write", err)
		}
		j.tailDirty = false
	}
	seq := j.next
	data, err := build(seq, j.prev)
	if err != nil {
		return 0, [32]byte{}, fmt.Errorf("journal: build record %d: %w", seq, err)
	}
	if len(data) > j.opt.MaxRecord {
		return 0, [32]byte{}, fmt.Errorf("journal: record %d: %d bytes: %w", seq, len(data), ErrTooLarge)
	}
	n := int64(frameHeaderSize + len(data))
	if seg.records && seg.size+n > j.opt.SegmentSize {
		if j.bytes+segHeaderSize+n > j.opt.MaxSize {
			return 0, [32]byte{}, fmt.Errorf("journal: record %d: %d of %d bytes used: %w", seq, j.bytes, j.opt.MaxSize, ErrFull)
		}
		if err := j.roll(); err != nil {
			return 0, [32]byte{}, err
		}
		seg = j.segs[len(j.segs)-1]
	} else if j.bytes+n > j.opt.MaxSize {
		return 0, [32]byte{}, fmt.Errorf("journal: record %d: %d of %d bytes used: %w", seq, j.bytes, j.opt.MaxSize, ErrFull)
	}
	now := j.opt.Now().UnixNano()
	if cap(j.frame) < int(n) {
		j.frame = make([]byte, n, max(n, 4096))
	}
	fr := j.frame[:n]
	copy(fr[frameHeaderSize:], data)
	h := frameHeader{length: uint32(len(data)), seq: seq, time: now, dataCRC: crc32c(data)}
	h.encode(fr)
	if _, err := j.active.WriteAt(fr, seg.size); err != nil {
		// Whatever part of the frame reached the file must not stay there: cut it now, or before the next
		// write. If neither happens, recovery cuts it as a torn tail.
		if terr := j.active.Truncate(seg.size); terr != nil {
			j.tailDirty = true
		}
		return 0, [32]byte{}, wrapIO(fmt.Sprintf("append record %d", seq), err)
	}
	seg.note(seq, seg.size)
	seg.size += n
	j.bytes += n
	j.next = seq + 1
	j.prev = sha256.Sum256(data)
	if j.oldest == 0 {
		j.oldest = now
	}
	return seq, j.prev, nil
}

// AppendSync is Append followed by Sync: when it returns without error the record is durable.
func (j *Journal) AppendSync(build func(seq uint64, prev [32]byte) ([]byte, error)) (uint64, [32]byte, error) {
	seq, h, err := j.Append(build)
	if err != nil {
		return 0, h, err
	}
	return seq, h, j.Sync()
}

// roll starts a new segment. The old one is fsynced first, so that every segment but the last is durable
// as a whole and recovery may truncate only the last. Called with j.mu held.
func (j *Journal) roll() error {
	if err := j.active.Sync(); err != nil {
		j.err = wrapIO("sync segment", err)
		return j.err
	}
	f, seg, err := j.createSegment(j.next, j.prev)
	if err != nil {
		return err
	}
	j.toClose = append(j.toClose, j.active)
	j.active = f
	j.segs = append(j.segs, seg)
	j.bytes += segHeaderSize
	return nil
}

// createSegment creates, fills in and makes durable (file and directory entry) an empty segment.
func (j *Journal) createSegment(first uint64, prev [32]byte) (File, *segment, error) {
	name := segName(first)
	p := j.path(name)
	f, err := j.fs.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, nil, wrapIO("create segment", err)
	}
	h := segHeader{firstSeq: first, prev: prev, created: j.opt.Now().UnixNano(), device: j.opt.Device}
	var b [segHeaderSize]byte
	h.encode(b[:])
	if _, err = f.WriteAt(b[:], 0); err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = j.fs.SyncDir(j.dir)
	}
	if err != nil {
		// Leave no half-made segment behind; if this fails too, recovery removes it (no intact header).
		f.Close()
		if j.fs.Remove(p) == nil {
			j.fs.SyncDir(j.dir)
		}
		return nil, nil, wrapIO("create segment", err)
	}
	return f, &segment{name: name, first: first, headerOK: true, prev: prev, size: segHeaderSize}, nil
}

// Sync makes every record appended before it was called durable. Concurrent calls share one fsync: a
// caller whose records another caller's fsync already covered returns without one. After a failed fsync
// the journal refuses further writes (the kernel may have dropped the dirty pages, so nothing is known to
// be durable); reopen it to recover.
func (j *Journal) Sync() error {
	j.mu.Lock()
	target := j.next - 1
	err := j.usable()
	j.mu.Unlock()
	if err != nil {
		return err
	}
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced.Load() >= target {
		return nil
	}
	j.mu.Lock()
	f, upto, closing := j.active, j.next-1, j.toClose
	j.toClose = nil
	err = j.usable()
	j.mu.Unlock()
	if err != nil {
		return err
	}
	for _, c := range closing {
		c.Close()
	}
	if err := f.Sync(); err != nil {
		j.mu.Lock()
		if j.err == nil {
			j.err = wrapIO("sync", err)
		}
		err = j.err
		j.mu.Unlock()
		return err
	}
	j.synced.Store(upto)
	return nil
}

// Close makes everything appended durable and closes the files.
func (j *Journal) Close() error {
	err := j.Sync()
	if errors.Is(err, ErrClosed) {
		return nil
	}
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range j.toClose {
		c.Close()
	}
	j.toClose = nil
	if cerr := j.active.Close(); err == nil && cerr != nil {
		err = wrapIO("close", cerr)
	}
	if j.lock != nil {
		j.lock.Close()
	}
	j.closed = true
	return err
}

// snapshot is a reader's view of the journal, taken under the lock and used without it.
type snapshot struct {
	segs    []segment
	next    uint64
	durable uint64
}

func (j *Journal) snapshot() snapshot {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := snapshot{segs: make([]segment, len(j.segs)), next: j.next, durable: j.synced.Load()}
	for i, g := range j.segs {
		s.segs[i] = *g // index: entries below len never change, appends go past it
	}
	return s
}

// scan calls fn for every intact record with from <= seq <= through, in order, reading the files without
// holding the journal's lock.
func (j *Journal) scan(s snapshot, from, through uint64, fn func(h frameHeader, data []byte) error) error {
	if len(s.segs) == 0 {
		return nil
	}
	if from < s.segs[0].first {
		return fmt.Errorf("journal: read from %d: first kept record is %d: %w", from, s.segs[0].first, ErrTrimmed)
	}
	var sc *scanner
	for i := range s.segs {
		g := &s.segs[i]
		if i+1 < len(s.segs) && s.segs[i+1].first <= from || !g.records || g.last < from {
			continue
		}
		f, err := j.fs.OpenFile(j.path(g.name), os.O_RDONLY, 0)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("journal: read %s: %w", g.name, ErrTrimmed)
		}
		if err != nil {
			return wrapIO("read", err)
		}
		if sc == nil {
			sc = newScanner(f, g.size, j.opt.MaxRecord)
		} else {
			sc.reset(f, g.size)
		}
		after := uint64(0)
		_, err = sc.walk(g.startFor(from), func(_ int64, h frameHeader, data []byte) (bool, error) {
			// The same rules as recovery: seqs only go up, within the segment's range.
			if h.seq < g.first || h.seq <= after || h.seq > g.last {
				return false, nil
			}
			after = h.seq
			if h.seq < from {
				return true, nil
			}
			if h.seq > through {
				return false, errStop
			}
			return true, fn(h, data)
		}, nil)
		f.Close()
		if err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
	return nil
}

// ReadFrom calls fn with every durable record whose sequence number is at least from, in order, up to the
// last record a Sync had made durable when ReadFrom was called; data is valid only during the call. Only
// durable records are read because a record that a crash can still take may get its sequence number
// reused: one that was sent could then come back with other bytes. Records lost to corruption
// are missing (the gap in the sequence numbers shows it). It holds the journal's lock only to take a view,
// so appends go on while it reads. An error from fn ends the reading and is returned. Reading from before
// the first kept record fails with ErrTrimmed.
func (j *Journal) ReadFrom(from uint64, fn func(seq uint64, data []byte) error) error {
	s := j.snapshot()
	return j.scan(s, from, s.durable, func(h frameHeader, data []byte) error { return fn(h.seq, data) })
}

// Trim records that the server's receipt acknowledges every record up to through, then removes the segment
// files all of whose records are acknowledged. Call it only after the receipt has been checked. The mark
// (through, the record's hash, the receipt) is made durable before any file is removed, so a crash at any
// point leaves either the old mark and all files, or the new mark. A through at or below the current mark
// is a no-op; one past the last durable record is an error. If the record through was lost to corruption
// the mark's hash is all zero.
func (j *Journal) Trim(through uint64, receipt []byte) error {
	if len(receipt) > maxAckReceipt {
		return fmt.Errorf("journal: trim through %d: receipt of %d bytes, limit %d", through, len(receipt), maxAckReceipt)
	}
	j.trimMu.Lock()
	defer j.trimMu.Unlock()
	j.mu.Lock()
	acked, err := j.acked.seq, j.usable()
	j.mu.Unlock()
	last := j.synced.Load()
	if err != nil {
		return err
	}
	if through <= acked {
		return nil
	}
	if through > last {
		return fmt.Errorf("journal: trim through %d: last durable record is %d", through, last)
	}
	var hash [32]byte
	var oldest int64
	s := j.snapshot()
	from := max(through, s.segs[0].first)
	err = j.scan(s, from, s.next-1, func(h frameHeader, data []byte) error {
		if h.seq == through {
			hash = sha256.Sum256(data)
			return nil
		}
		if h.seq > through {
			oldest = h.time
			return errStop
		}
		return nil
	})
	if err != nil {
		return err
	}
	mark := ackMark{seq: through, hash: hash, receipt: append([]byte(nil), receipt...)}
	if err := j.writeAck(&mark); err != nil {
		return err
	}

	j.mu.Lock()
	j.acked = mark
	if oldest == 0 && j.next-1 > through {
		oldest = j.opt.Now().UnixNano() // appended after the view was taken
	}
	j.oldest = oldest
	var drop []*segment
	for len(j.segs) > 1 && j.segs[1].first-1 <= through {
		drop = append(drop, j.segs[0])
		j.bytes -= j.segs[0].size
		j.segs = j.segs[1:]
	}
	j.mu.Unlock()

	// A crash from here on leaves files whose records are all acknowledged; Open removes them.
	for _, g := range drop {
		if err := j.fs.Remove(j.path(g.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return wrapIO("remove trimmed segment", err)
		}
	}
	if len(drop) > 0 {
		if err := j.fs.SyncDir(j.dir); err != nil {
			return wrapIO("sync directory", err)
		}
	}
	return nil
}

// writeAck replaces the ack file atomically and durably: temp file, fsync, rename, fsync of the directory.
func (j *Journal) writeAck(m *ackMark) error {
	tmp, dst := j.path(ackTmpName), j.path(ackName)
	f, err := j.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return wrapIO("write ack", err)
	}
	_, err = f.WriteAt(m.encode(), 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = j.fs.Rename(tmp, dst)
	}
	if err != nil {
		j.fs.Remove(tmp)
		return wrapIO("write ack", err)
	}
	if err := j.fs.SyncDir(j.dir); err != nil {
		return wrapIO("write ack: sync directory", err)
	}
	return nil
}

// Acked returns the acknowledged mark: the last record the server's receipt covers, that record's hash
// and the receipt (a copy). Zero values mean nothing was acknowledged yet.
func (j *Journal) Acked() (seq uint64, hash [32]byte, receipt []byte) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.acked.seq, j.acked.hash, append([]byte(nil), j.acked.receipt...)
}

// Stats describe the journal at one moment.
type Stats struct {
	First    uint64 // first record kept on disk (0 if none); records up to Acked may still be among them
	Last     uint64 // last record appended (0 if none)
	Durable  uint64 // last record a Sync made durable; readers see records up to it
	Next     uint64 // sequence number the next record gets
	Acked    uint64 // last acknowledged record
	Bytes    int64  // bytes of all segment files
	MaxBytes int64  // Options.MaxSize
	Segments int
	// OldestUnacked is when the first unacknowledged record was appended (zero if every record is
	// acknowledged): the agent's "unsent for too long" alarm watches it.
	OldestUnacked time.Time
}

// Stats returns the journal's figures.
func (j *Journal) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := Stats{Next: j.next, Durable: j.synced.Load(), Acked: j.acked.seq, Bytes: j.bytes, MaxBytes: j.opt.MaxSize, Segments: len(j.segs)}
	for _, g := range j.segs {
		if g.records {
			st.First = g.index[0].seq
			break
		}
	}
	st.Last = j.next - 1
	if j.oldest != 0 && j.next-1 > j.acked.seq {
		st.OldestUnacked = time.Unix(0, j.oldest)
	}
	return st
}

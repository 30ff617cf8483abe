package journal

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Recovery reports what Open found and repaired. A crash (SIGKILL, power loss) leaves at most a torn tail
// and a half-made segment or temp file, which Open repairs silently apart from TruncatedBytes and Removed;
// Skipped, Lost and AckError mean the disk damaged data that had been written, and the agent raises an
// event for them.
type Recovery struct {
	// TruncatedBytes were cut from the end of the last segment: an incomplete or corrupt tail, normally a
	// write torn by a crash before it was synced.
	TruncatedBytes int64
	// Skipped are damaged ranges inside segments that Open stepped over by resynchronising on the next
	// frame.
	Skipped []Damage
	// Lost are ranges of unacknowledged sequence numbers missing between intact records; the chain breaks
	// there and the server sees it.
	Lost []SeqRange
	// Removed are files Open removed: a segment whose creation a crash interrupted (no intact header, no
	// records), a leftover temp file, segments of a Trim that a crash interrupted (all acknowledged).
	Removed []string
	// AckError is set when the ack file could not be read; the mark then falls back to what the remaining
	// segments prove, and records may be delivered twice (the server ignores duplicates).
	AckError error
	// HeaderErrors name segments whose header is damaged; their records are still read.
	HeaderErrors []string
}

// Damage is a damaged byte range of a segment file.
type Damage struct {
	File   string
	Offset int64
	Length int64
}

// SeqRange is an inclusive range of sequence numbers.
type SeqRange struct{ First, Last uint64 }

// Damaged reports whether recovery found damage beyond what a crash leaves.
func (r *Recovery) Damaged() bool {
	return len(r.Skipped) > 0 || len(r.Lost) > 0 || r.AckError != nil || len(r.HeaderErrors) > 0
}

func (r *Recovery) lose(first, last, acked uint64) {
	first = max(first, acked+1)
	if first <= last {
		r.Lost = append(r.Lost, SeqRange{first, last})
	}
}

// Open opens the journal in dir, creating it if needed, and recovers it. It fails only when the directory
// cannot be used at all (permissions, I/O errors), when it holds another device's journal, or on bad
// Options; damage never stops it: it is repaired and reported in the Recovery.
func Open(dir string, opt Options) (*Journal, *Recovery, error) {
	if err := opt.normalize(); err != nil {
		return nil, nil, err
	}
	j := &Journal{dir: dir, fs: opt.FS, opt: opt}
	if err := j.fs.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, wrapIO("open", err)
	}
	// The directory's own entry in its parent must be durable too, or a power cut after the first records
	// were kept could take the whole journal with it. (Cheap, and harmless when the directory existed.)
	if err := j.fs.SyncDir(filepath.Dir(dir)); err != nil {
		return nil, nil, wrapIO("open: sync parent directory", err)
	}
	if l, ok := j.fs.(Locker); ok {
		c, err := l.Lock(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("journal: open: %w", err)
		}
		j.lock = c
	}
	rec, err := j.recover()
	if err != nil {
		if j.lock != nil {
			j.lock.Close()
		}
		return nil, nil, err
	}
	return j, rec, nil
}

func (j *Journal) recover() (*Recovery, error) {
	rec := &Recovery{}
	dir, opt := j.dir, j.opt
	names, err := j.fs.List(dir)
	if err != nil {
		return nil, wrapIO("open", err)
	}
	sort.Strings(names)
	for _, n := range names {
		// A leftover temp file is harmless (the next Trim truncates it): failing to remove it is no reason
		// not to start.
		if n == ackTmpName && j.fs.Remove(j.path(n)) == nil {
			rec.Removed = append(rec.Removed, n)
		}
	}
	for _, n := range names {
		if n == ackName {
			a, err := j.readAck()
			if err != nil {
				rec.AckError = err
			} else {
				j.acked = a
			}
		}
	}
	for _, n := range names {
		if first, ok := parseSegName(n); ok {
			j.segs = append(j.segs, &segment{name: n, first: first})
		}
	}
	sort.Slice(j.segs, func(a, b int) bool { return j.segs[a].first < j.segs[b].first })
	// Only segments whose records are all acknowledged are ever removed, so the first remaining one proves
	// that everything before it was acknowledged, even when the ack file is damaged.
	if len(j.segs) > 0 && j.segs[0].first-1 > j.acked.seq {
		h, err := j.readHeader(j.segs[0])
		if err == nil && h.firstSeq > opt.Origin {
			j.acked = ackMark{seq: h.firstSeq - 1, hash: h.prev}
		}
	}
	if err := j.scanAll(rec); err != nil {
		return nil, err
	}
	if err := j.settle(rec); err != nil {
		j.closeAll()
		return nil, err
	}
	return rec, nil
}

func (j *Journal) readAck() (ackMark, error) {
	f, err := j.fs.OpenFile(j.path(ackName), os.O_RDONLY, 0)
	if err != nil {
		return ackMark{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ackMark{}, err
	}
	if fi.Size() > ackFixedSize+maxAckReceipt+4 {
		return ackMark{}, fmt.Errorf("ack file: %d bytes, too long", fi.Size())
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return ackMark{}, err
	}
	return decodeAck(b)
}

func (j *Journal) readHeader(g *segment) (segHeader, error) {
	f, err := j.fs.OpenFile(j.path(g.name), os.O_RDONLY, 0)
	if err != nil {
		return segHeader{}, err
	}
	defer f.Close()
	var b [segHeaderSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return segHeader{}, err
	}
	return decodeSegHeader(b[:])
}

// scanAll reads every segment once, front to back, noting its intact records, damage and trailing damage.
func (j *Journal) scanAll(rec *Recovery) error {
	var sc *scanner
	expected := uint64(0)
	for i, g := range j.segs {
		f, err := j.openRead(g.name)
		if err != nil {
			return wrapIO("open: read "+g.name, err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return wrapIO("open: read "+g.name, err)
		}
		g.size = fi.Size()
		var hb [segHeaderSize]byte
		if n, _ := f.ReadAt(hb[:], 0); n == segHeaderSize {
			h, herr := decodeSegHeader(hb[:])
			switch {
			case herr != nil:
				g.headerErr = herr.Error()
			case h.device != j.opt.Device:
				f.Close()
				return fmt.Errorf("journal: open %s: segment %s is of device %q, not %q: %w", j.dir, g.name, h.device, j.opt.Device, ErrDevice)
			case h.firstSeq != g.first:
				g.headerErr = fmt.Sprintf("header says first record %d", h.firstSeq)
			default:
				g.headerOK, g.prev = true, h.prev
			}
		}
		limit := uint64(0) // records at or past the next segment's first belong there
		if i+1 < len(j.segs) {
			limit = j.segs[i+1].first
		}
		if expected != 0 && g.first > expected {
			rec.lose(expected, g.first-1, j.acked.seq)
		}
		expected = max(expected, g.first)
		if g.size <= segHeaderSize {
			g.tail = g.size
			f.Close()
			continue
		}
		if sc == nil {
			sc = newScanner(f, g.size, j.opt.MaxRecord)
		} else {
			sc.reset(f, g.size)
		}
		g.tail, err = sc.walk(segHeaderSize, func(off int64, h frameHeader, data []byte) (bool, error) {
			if h.seq < expected || limit != 0 && h.seq >= limit {
				return false, nil
			}
			if h.seq > expected {
				rec.lose(expected, h.seq-1, j.acked.seq)
			}
			if h.seq > j.acked.seq && j.oldest == 0 {
				j.oldest = h.time
			}
			g.note(h.seq, off)
			expected = h.seq + 1
			if j.visit != nil {
				if err := j.visit(h.seq, data); err != nil {
					return false, &visitError{err}
				}
			}
			return true, nil
		}, func(off, end int64) {
			rec.Skipped = append(rec.Skipped, Damage{g.name, off, end - off})
		})
		if err == nil && i == len(j.segs)-1 && g.tail < g.size {
			g.torn, err = tornSeq(sc, g.tail, expected)
		}
		f.Close()
		if ve, ok := err.(*visitError); ok {
			return ve.err
		}
		if err != nil {
			return wrapIO("open: read "+g.name, err)
		}
	}
	return nil
}

// openRead opens a segment for reading: the descriptor Read opened beforehand, if there is one.
func (j *Journal) openRead(name string) (File, error) {
	if f, ok := j.held[name]; ok {
		return heldFile{f}, nil
	}
	return j.fs.OpenFile(j.path(name), os.O_RDONLY, 0)
}

// tornSeq returns the highest seq named by an intact frame header in the damaged tail from off whose
// record is all there but fails its checksum, or 0. Such a record was written whole and may have been
// synced and sent before the disk damaged it, so its seq must not be given to another record: the server
// would take the new record for a duplicate. A record cut short by the end of the file was torn by a crash
// and never synced; its seq is reused.
func tornSeq(sc *scanner, off int64, expected uint64) (uint64, error) {
	var seq uint64
	for off < sc.size {
		h, _, st, err := sc.frameAt(off)
		if err != nil {
			return 0, err
		}
		if st == frameBadData {
			if h.seq >= expected && h.seq-expected < 1<<20 {
				seq = max(seq, h.seq)
			}
			off += frameHeaderSize + int64(h.length)
			continue
		}
		if off, err = sc.findMagic(off + 1); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

// settle repairs what scanAll found and sets the journal up for appending.
func (j *Journal) settle(rec *Recovery) error {
	remove := func(g *segment) error {
		if err := j.fs.Remove(j.path(g.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return wrapIO("open: remove "+g.name, err)
		}
		rec.Removed = append(rec.Removed, g.name)
		return nil
	}
	// A segment whose creation a crash interrupted has no intact header and no records.
	for len(j.segs) > 0 {
		g := j.segs[len(j.segs)-1]
		if g.headerOK || g.records {
			break
		}
		if err := remove(g); err != nil {
			return err
		}
		j.segs = j.segs[:len(j.segs)-1]
	}
	// Finish a Trim a crash interrupted.
	for len(j.segs) > 1 && j.segs[1].first-1 <= j.acked.seq {
		if remove(j.segs[0]) != nil {
			break // acknowledged records are harmless: the next Trim tries again
		}
		j.segs = j.segs[1:]
	}
	// Report damage only in the files that remain.
	kept := map[string]bool{}
	for _, g := range j.segs {
		kept[g.name] = true
	}
	rec.Skipped = slices.DeleteFunc(rec.Skipped, func(d Damage) bool { return !kept[d.File] })
	for _, g := range j.segs {
		if !g.headerOK {
			if g.headerErr == "" {
				g.headerErr = fmt.Sprintf("%d bytes, shorter than a header", g.size)
			}
			rec.HeaderErrors = append(rec.HeaderErrors, g.name+": "+g.headerErr)
		}
	}
	// Damage at the end of a segment that was complete before the next one was made is damage, not a torn
	// write; only the last segment's tail is cut.
	for i, g := range j.segs {
		if g.tail < g.size && i < len(j.segs)-1 {
			rec.Skipped = append(rec.Skipped, Damage{g.name, g.tail, g.size - g.tail})
		}
	}

	// Where the chain continues: after the last intact record, or where the last segment's header says
	// it starts, or after the acknowledged mark, whichever is furthest; else at the origin.
	j.next, j.prev = j.opt.Origin, j.opt.OriginPrev
	var lastRec *segment
	for i := len(j.segs) - 1; i >= 0 && lastRec == nil; i-- {
		if j.segs[i].records {
			lastRec = j.segs[i]
		}
	}
	if lastRec != nil {
		h, err := j.recordHash(lastRec)
		if err != nil {
			return err
		}
		j.next, j.prev = lastRec.last+1, h
	}
	if n := len(j.segs); n > 0 && !j.segs[n-1].records && j.segs[n-1].headerOK && j.segs[n-1].first >= j.next {
		j.next, j.prev = j.segs[n-1].first, j.segs[n-1].prev
	}
	if n := len(j.segs); n > 0 && j.segs[n-1].torn >= j.next {
		rec.lose(j.next, j.segs[n-1].torn, j.acked.seq)
		j.next = j.segs[n-1].torn + 1 // prev stays: the chain breaks where the record was lost
	}
	if j.acked.seq >= j.next {
		j.next, j.prev = j.acked.seq+1, j.acked.hash
	}

	// The active segment: the last one, with its torn tail cut, unless it cannot take appends.
	var active, retired *segment
	if n := len(j.segs); n > 0 {
		active = j.segs[n-1]
		if !active.headerOK || !active.records && active.first != j.next {
			if !active.records {
				if err := remove(active); err != nil {
					return err
				}
				j.segs = j.segs[:n-1]
			} else {
				retired = active
				if active.tail < active.size {
					rec.Skipped = append(rec.Skipped, Damage{active.name, active.tail, active.size - active.tail})
				}
			}
			active = nil
		}
	}
	if retired != nil {
		// It takes no more appends, but what recovery read from it may be only in the page cache.
		if err := j.syncFile(retired.name); err != nil {
			return err
		}
	}
	for _, g := range j.segs {
		if g != active {
			j.bytes += g.size
		}
	}
	// Always: the entries recovery read may be only in the page cache too, as may the removals above.
	if err := j.fs.SyncDir(j.dir); err != nil {
		return wrapIO("open: sync directory", err)
	}
	if active == nil {
		f, g, err := j.createSegment(j.next, j.prev)
		if err != nil {
			return err
		}
		j.active = f
		j.segs = append(j.segs, g)
		j.bytes += g.size
	} else {
		f, err := j.fs.OpenFile(j.path(active.name), os.O_RDWR, 0)
		if err != nil {
			return wrapIO("open: "+active.name, err)
		}
		j.active = f
		if active.tail < active.size {
			if err := f.Truncate(active.tail); err != nil {
				return wrapIO("open: truncate torn tail of "+active.name, err)
			}
			rec.TruncatedBytes = active.size - active.tail
			active.size = active.tail
		}
		// What recovery read may still be only in the page cache (after SIGKILL): make it durable before
		// building on it.
		if err := f.Sync(); err != nil {
			return wrapIO("open: sync "+active.name, err)
		}
		j.bytes += active.size
	}
	j.synced.Store(j.next - 1)
	if j.oldest != 0 && j.next-1 <= j.acked.seq {
		j.oldest = 0
	}
	return nil
}

// recordHash returns the SHA-256 of the last intact record of g.
func (j *Journal) recordHash(g *segment) ([32]byte, error) {
	f, err := j.fs.OpenFile(j.path(g.name), os.O_RDONLY, 0)
	if err != nil {
		return [32]byte{}, wrapIO("open: read "+g.name, err)
	}
	defer f.Close()
	sc := newScanner(f, g.size, j.opt.MaxRecord)
	_, data, st, err := sc.frameAt(g.lastOff)
	if err != nil {
		return [32]byte{}, wrapIO("open: read "+g.name, err)
	}
	if st != frameOK {
		return [32]byte{}, fmt.Errorf("journal: open: %s changed while being read", g.name)
	}
	return sha256.Sum256(data), nil
}

func (j *Journal) syncFile(name string) error {
	f, err := j.fs.OpenFile(j.path(name), os.O_RDWR, 0)
	if err != nil {
		return wrapIO("open: sync "+name, err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return wrapIO("open: sync "+name, err)
	}
	return nil
}

func (j *Journal) closeAll() {
	if j.active != nil {
		j.active.Close()
	}
}

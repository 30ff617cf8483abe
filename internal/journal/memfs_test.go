package journal

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// memFS is an in-memory FS with a crash model. Each file keeps the content its last Sync made durable and
// the writes and truncations made since; each directory keeps the entries its last SyncDir made durable
// and the creations, renames and removals since. Crash keeps, per file and per directory, a random prefix
// of the operations since the last sync (the last kept write possibly torn to a random prefix of its
// bytes) and drops the rest, which covers "everything not fsynced is lost" (an empty prefix) and "the
// last write is torn". Reordering of unsynced writes is not modelled; docs/journal.md says why it is safe.
//
// crashAt arms a crash in the middle of what the journal is doing: after that many more mutating
// operations every operation fails with errCrashed until Crash is called. capacity simulates a full disk.
type memFS struct {
	mu   sync.Mutex
	dirs map[string]*memDir
	// Directories are entries of their parent too: ddirs is the namespace of directories as the last
	// SyncDir of each parent made it durable, nsOps the MkdirAll, Rename and Remove of directories since,
	// by parent. A power loss keeps a random prefix of each parent's nsOps. Parents of the directories
	// made count as existing and durable (the journal's parent is made by the installation).
	ddirs    map[string]*memDir
	nsOps    map[string][]dirOp
	gen      int
	crashAt  int // mutating operations left before the crash; -1: none armed
	crashed  bool
	capacity int64 // 0: unlimited
	syncs    int   // file fsyncs, for tests of group commit
	// gate, when set, holds every file fsync until the test lets it go: it receives on entered, then
	// waits on release.
	gate *syncGate
}

type syncGate struct{ entered, release chan struct{} }

type memDir struct {
	cur, durable map[string]*inode
	ops          []dirOp
}

type dirOp struct {
	kind     int // opCreate, opRemove, opRename
	name, to string
	ino      *inode
	dir      *memDir // for operations on directories (nsOps): names are then full paths
}

const (
	opCreate = iota
	opRemove
	opRename
)

type inode struct {
	data   []byte
	synced []byte
	ops    []fileOp
}

type fileOp struct {
	trunc bool
	off   int64 // write offset, or truncation size
	data  []byte
}

var errCrashed = errors.New("simulated crash")

func newMemFS() *memFS {
	return &memFS{dirs: map[string]*memDir{}, ddirs: map[string]*memDir{}, nsOps: map[string][]dirOp{}, crashAt: -1}
}

// nsOp notes an operation on the directory namespace under the parent of name.
func (m *memFS) nsOp(op dirOp) {
	p := filepath.Dir(op.name)
	m.nsOps[p] = append(m.nsOps[p], op)
}

// applyNS applies operations on directories to the namespace ns.
func applyNS(ns map[string]*memDir, ops []dirOp) {
	for _, op := range ops {
		switch op.kind {
		case opCreate:
			ns[op.name] = op.dir
		case opRemove:
			delete(ns, op.name)
		case opRename:
			delete(ns, op.name)
			ns[op.to] = op.dir
		}
	}
}

// step accounts for one mutating operation. Called with m.mu held.
func (m *memFS) step() error {
	if m.crashed {
		return errCrashed
	}
	if m.crashAt == 0 {
		m.crashed = true
		return errCrashed
	}
	if m.crashAt > 0 {
		m.crashAt--
	}
	return nil
}

func (m *memFS) dir(name string) (*memDir, string, error) {
	d, base := filepath.Split(name)
	md := m.dirs[filepath.Clean(d)]
	if md == nil {
		return nil, "", &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return md, base, nil
}

func (m *memFS) used() int64 {
	var n int64
	seen := map[*inode]bool{}
	for _, d := range m.dirs {
		for _, ino := range d.cur {
			if !seen[ino] {
				seen[ino] = true
				n += int64(len(ino.data))
			}
		}
	}
	return n
}

func (m *memFS) MkdirAll(dir string, _ fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return errCrashed
	}
	dir = filepath.Clean(dir)
	if m.dirs[dir] == nil {
		d := &memDir{cur: map[string]*inode{}, durable: map[string]*inode{}}
		m.dirs[dir] = d
		m.nsOp(dirOp{kind: opCreate, name: dir, dir: d})
	}
	return nil
}

// isParent reports whether dir is the parent of a directory of the FS (or the root): it exists.
func (m *memFS) isParent(dir string) bool {
	for d := range m.dirs {
		if filepath.Dir(d) == dir {
			return true
		}
	}
	return dir == "/"
}

func (m *memFS) OpenFile(name string, flag int, _ fs.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return nil, errCrashed
	}
	d, base, err := m.dir(name)
	if err != nil {
		return nil, err
	}
	ino := d.cur[base]
	if flag&(os.O_CREATE|os.O_TRUNC) != 0 {
		if err := m.step(); err != nil {
			return nil, err
		}
	}
	if ino == nil {
		if flag&os.O_CREATE == 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		ino = &inode{}
		d.cur[base] = ino
		d.ops = append(d.ops, dirOp{kind: opCreate, name: base, ino: ino})
	} else if flag&os.O_EXCL != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	}
	if flag&os.O_TRUNC != 0 && len(ino.data) > 0 {
		ino.data = ino.data[:0]
		ino.ops = append(ino.ops, fileOp{trunc: true})
	}
	return &memFile{m: m, ino: ino, gen: m.gen, name: name, write: flag&(os.O_WRONLY|os.O_RDWR) != 0}, nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step(); err != nil {
		return err
	}
	if sub := m.dirs[filepath.Clean(name)]; sub != nil {
		if len(sub.cur) > 0 {
			return &fs.PathError{Op: "remove", Path: name, Err: syscall.ENOTEMPTY}
		}
		delete(m.dirs, filepath.Clean(name))
		m.nsOp(dirOp{kind: opRemove, name: filepath.Clean(name), dir: sub})
		return nil
	}
	d, base, err := m.dir(name)
	if err != nil {
		return err
	}
	if d.cur[base] == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(d.cur, base)
	d.ops = append(d.ops, dirOp{kind: opRemove, name: base})
	return nil
}

func (m *memFS) Rename(from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step(); err != nil {
		return err
	}
	if sub := m.dirs[filepath.Clean(from)]; sub != nil {
		from, to = filepath.Clean(from), filepath.Clean(to)
		if filepath.Dir(from) != filepath.Dir(to) {
			return &fs.PathError{Op: "rename", Path: from, Err: syscall.EXDEV} // not needed by the journal
		}
		if old := m.dirs[to]; old != nil && len(old.cur) > 0 {
			return &fs.PathError{Op: "rename", Path: to, Err: syscall.ENOTEMPTY}
		}
		delete(m.dirs, from)
		m.dirs[to] = sub
		m.nsOp(dirOp{kind: opRename, name: from, to: to, dir: sub})
		return nil
	}
	d, base, err := m.dir(from)
	if err != nil {
		return err
	}
	_, tbase, _ := m.dir(to)
	ino := d.cur[base]
	if ino == nil {
		return &fs.PathError{Op: "rename", Path: from, Err: fs.ErrNotExist}
	}
	delete(d.cur, base)
	d.cur[tbase] = ino
	d.ops = append(d.ops, dirOp{kind: opRename, name: base, to: tbase, ino: ino})
	return nil
}

func (m *memFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.crashed {
		return nil, errCrashed
	}
	d := m.dirs[filepath.Clean(dir)]
	if d == nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: fs.ErrNotExist}
	}
	var names []string
	for n := range d.cur {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step(); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	applyNS(m.ddirs, m.nsOps[dir])
	delete(m.nsOps, dir)
	d := m.dirs[dir]
	if d == nil {
		if m.isParent(dir) {
			return nil
		}
		return &fs.PathError{Op: "sync", Path: dir, Err: fs.ErrNotExist}
	}
	d.durable = maps(d.cur)
	d.ops = nil
	return nil
}

func maps(m map[string]*inode) map[string]*inode {
	c := make(map[string]*inode, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// Crash simulates power loss: what was not synced is lost, except a random prefix of it.
func (m *memFS) Crash(rnd *rand.Rand) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ops := range m.nsOps {
		applyNS(m.ddirs, ops[:rnd.IntN(len(ops)+1)])
	}
	clear(m.nsOps)
	m.dirs = make(map[string]*memDir, len(m.ddirs))
	for p, d := range m.ddirs {
		m.dirs[p] = d
	}
	live := map[*inode]bool{}
	for _, d := range m.dirs {
		keep := d.ops[:rnd.IntN(len(d.ops)+1)]
		for _, op := range keep {
			switch op.kind {
			case opCreate:
				d.durable[op.name] = op.ino
			case opRemove:
				delete(d.durable, op.name)
			case opRename:
				delete(d.durable, op.name)
				d.durable[op.to] = op.ino
			}
		}
		d.cur = maps(d.durable)
		d.ops = nil
		for _, ino := range d.cur {
			live[ino] = true
		}
	}
	for ino := range live {
		data := append([]byte(nil), ino.synced...)
		k := rnd.IntN(len(ino.ops) + 1)
		for i, op := range ino.ops[:k] {
			if i == k-1 && !op.trunc && rnd.IntN(2) == 0 {
				op.data = op.data[:rnd.IntN(len(op.data)+1)] // the last kept write is torn
			}
			data = apply(data, op)
		}
		ino.data, ino.synced, ino.ops = data, append([]byte(nil), data...), nil
	}
	m.gen++
	m.crashed = false
	m.crashAt = -1
	m.capacity = 0
}

// Kill simulates the process dying (SIGKILL): its open files are gone, but what it wrote is still in the
// page cache, not yet durable; a later Crash may still lose it.
func (m *memFS) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen++
	m.crashed = false
	m.crashAt = -1
	m.capacity = 0
}

func apply(data []byte, op fileOp) []byte {
	if op.trunc {
		if op.off <= int64(len(data)) {
			return data[:op.off]
		}
		return append(data, make([]byte, op.off-int64(len(data)))...)
	}
	end := op.off + int64(len(op.data))
	if end > int64(len(data)) {
		data = append(data, make([]byte, end-int64(len(data)))...)
	}
	copy(data[op.off:], op.data)
	return data
}

// file returns the current content of a file, for tests that damage it.
func (m *memFS) file(name string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.dir(name)
	if err != nil || d.cur[base] == nil {
		return nil
	}
	return append([]byte(nil), d.cur[base].data...)
}

// setFile replaces a file's content durably, as damage at rest would.
func (m *memFS) setFile(name string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.dir(name)
	if err != nil {
		panic(err)
	}
	ino := d.cur[base]
	if ino == nil {
		ino = &inode{}
		d.cur[base] = ino
		d.durable[base] = ino
	}
	ino.data, ino.synced, ino.ops = append([]byte(nil), data...), append([]byte(nil), data...), nil
}

type memFile struct {
	m      *memFS
	ino    *inode
	gen    int
	name   string
	write  bool
	closed bool
}

func (f *memFile) check(mutating bool) error {
	if f.closed {
		return fs.ErrClosed
	}
	if f.gen != f.m.gen {
		return errCrashed
	}
	if mutating {
		return f.m.step()
	}
	if f.m.crashed {
		return errCrashed
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(false); err != nil {
		return 0, err
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if !f.write {
		return 0, &fs.PathError{Op: "write", Path: f.name, Err: syscall.EBADF}
	}
	if err := f.check(true); err != nil {
		return 0, err
	}
	var err error
	if f.m.capacity > 0 {
		grow := off + int64(len(p)) - int64(len(f.ino.data))
		if room := f.m.capacity - f.m.used(); grow > room {
			n := max(int64(len(f.ino.data))+room-off, 0)
			p = p[:min(n, int64(len(p)))]
			err = &fs.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
		}
	}
	op := fileOp{off: off, data: append([]byte(nil), p...)}
	f.ino.data = apply(f.ino.data, op)
	f.ino.ops = append(f.ino.ops, op)
	return len(p), err
}

func (f *memFile) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(true); err != nil {
		return err
	}
	op := fileOp{trunc: true, off: size}
	f.ino.data = apply(f.ino.data, op)
	f.ino.ops = append(f.ino.ops, op)
	return nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	g := f.m.gate
	f.m.mu.Unlock()
	if g != nil {
		g.entered <- struct{}{}
		<-g.release
	}
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(true); err != nil {
		return err
	}
	f.m.syncs++
	f.ino.synced = append(f.ino.synced[:0], f.ino.data...)
	f.ino.ops = nil
	return nil
}

func (f *memFile) Stat() (fs.FileInfo, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check(false); err != nil {
		return nil, err
	}
	return memInfo{name: filepath.Base(f.name), size: int64(len(f.ino.data))}, nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	return nil
}

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o640 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

package journal

import (
	"io"
	"io/fs"
	"os"
)

// FS is the little of a filesystem the journal uses. Tests put a crash-simulating implementation behind
// it; OSFS is the default. Names passed to it are full paths built with filepath.Join.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	Remove(name string) error
	Rename(oldpath, newpath string) error
	// List returns the names (not paths) of the entries of dir.
	List(dir string) ([]string, error)
	MkdirAll(dir string, perm fs.FileMode) error
	// SyncDir makes the creations, renames and removals of entries of dir durable.
	SyncDir(dir string) error
}

// Locker is implemented by an FS that can lock a journal directory against other processes; Open takes
// the lock when the FS offers it (OSFS does on Unix).
type Locker interface {
	Lock(dir string) (io.Closer, error)
}

// File is an open file of an FS. *os.File implements it.
type File interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	Close() error
}

// OSFS is the operating system's filesystem.
type OSFS struct{}

// OpenFile opens a file with os.OpenFile.
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Remove removes a file.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// Rename renames a file, replacing the target atomically.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// MkdirAll creates a directory and its parents.
func (OSFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

// List returns the entry names of dir.
func (OSFS) List(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// SyncDir fsyncs the directory itself, which is what makes entry changes survive power loss on Linux.
func (OSFS) SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

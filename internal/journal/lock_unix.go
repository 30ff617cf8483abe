//go:build unix

package journal

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Lock takes an exclusive advisory lock (flock) on the file lock in dir, held until the returned Closer
// is closed or the process dies, so that two processes never append to one journal.
func (OSFS) Lock(dir string) (io.Closer, error) {
	f, err := os.OpenFile(dir+string(os.PathSeparator)+lockName, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, err
	}
	return f, nil
}

//go:build linux || darwin

package capture

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps a regular file read-only; ok is false when it cannot (a pipe,
// an empty file, a system without mmap), and the caller reads it instead.
func mapFile(f *os.File) (data []byte, unmap func(), ok bool) {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < 24 || int64(int(fi.Size())) != fi.Size() {
		return nil, nil, false
	}
	data, err = unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, false
	}
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	return data, func() { _ = unix.Munmap(data) }, true
}

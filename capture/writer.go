package capture

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapWriter writes packets to a pcap file (nanosecond timestamps, which
// tcpdump, tshark and libpcap read). The loop writes; StopWriting and Close
// close it from another goroutine, hence the mutex.
type pcapWriter struct {
	path    string
	packets atomic.Uint64

	mu     sync.Mutex
	f      *os.File
	bw     *bufio.Writer
	pw     *pcapgo.Writer
	closed bool
	err    error // first write error
}

func newPcapWriter(path string, dlt, snaplen int) (*pcapWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write pcap: %w", err)
	}
	// An existing file keeps its mode through O_TRUNC: packets are private.
	// (Not for a device or a pipe, such as /dev/stdout.)
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return nil, fmt.Errorf("write pcap: %w", err)
		}
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	pw := pcapgo.NewWriterNanos(bw)
	if err := pw.WriteFileHeader(uint32(snaplen), layers.LinkType(dlt)); err != nil {
		f.Close()
		return nil, fmt.Errorf("write pcap %s: %w", path, err)
	}
	return &pcapWriter{path: path, f: f, bw: bw, pw: pw}, nil
}

// write appends one packet. After close it does nothing.
func (w *pcapWriter) write(ci *gopacket.CaptureInfo, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil {
		return nil
	}
	hdr := *ci
	hdr.CaptureLength = len(data)
	if hdr.Length < hdr.CaptureLength { // a damaged source record: keep it readable
		hdr.Length = hdr.CaptureLength
	}
	if err := w.pw.WritePacket(hdr, data); err != nil {
		w.err = fmt.Errorf("write pcap %s: %w", w.path, err)
		return w.err
	}
	w.packets.Add(1)
	return nil
}

// flush pushes buffered packets to the file, so that readers see them.
func (w *pcapWriter) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil {
		return nil
	}
	if err := w.bw.Flush(); err != nil {
		w.err = fmt.Errorf("write pcap %s: %w", w.path, err)
		return w.err
	}
	return nil
}

// close flushes and closes the file; it returns the first error met.
func (w *pcapWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	if w.err == nil {
		if err := w.bw.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("write pcap %s: %w", w.path, err))
		}
	}
	if err := w.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close pcap %s: %w", w.path, err))
	}
	return errors.Join(errs...)
}

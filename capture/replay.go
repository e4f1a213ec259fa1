package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

// A replay reads classic pcap files with pcapFile (pcapfile.go), pcapng and
// compressed files with pcapgo, both pure Go and a fraction of the cost of
// libpcap's reads through cgo (see docs/bench-capture.md), and applies the
// base filter, compiled by libpcap for the file's link type, in the same
// interpreter as the packet filter. Files neither can open (rare pcap
// variants) are read by libpcap instead, where there is one.

// fileHandle is a capture file read by pcapgo.
type fileHandle struct {
	f    *os.File
	src  gopacket.ZeroCopyPacketDataSource
	path string
	dlt  int
	snap int
}

func (h *fileHandle) source() gopacket.ZeroCopyPacketDataSource     { return h.src }
func (h *fileHandle) linkType() int                                 { return h.dlt }
func (h *fileHandle) snapLen() int                                  { return h.snap }
func (h *fileHandle) timeout(error) bool                            { return false }
func (h *fileHandle) stats() (recv, drop, ifdrop uint32, err error) { return 0, 0, 0, nil }
func (h *fileHandle) close()                                        { h.f.Close() }
func (h *fileHandle) readError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: truncated dump file: unexpected end of file in a packet", ErrBadFile, h.path)
	}
	return fmt.Errorf("%w: %s: %v", ErrBadFile, h.path, err)
}

// pcapngMagic starts a pcapng file (a Section Header Block).
var pcapngMagic = []byte{0x0a, 0x0d, 0x0d, 0x0a}

// openReplay opens a pcap or pcapng file; filter is the base filter for the
// file's link type (nil without one).
func openReplay(path, baseFilter string) (h handle, filter matcher, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("replay: %w", err)
	}
	h, err = openPcapgo(f, path)
	if err != nil {
		f.Close()
		// libpcap knows more variants and says better what is wrong.
		if h, err = openReplayLibpcap(path); err != nil {
			return nil, nil, err
		}
	}
	if baseFilter != "" {
		if filter, err = compileFilter(h.linkType(), baseFilter); err != nil {
			h.close()
			return nil, nil, err
		}
	}
	return h, filter, nil
}

func openPcapgo(f *os.File, path string) (handle, error) {
	br := bufio.NewReaderSize(f, 1<<20)
	if p, err := newPcapFile(br); err == nil {
		return &fileHandle{f: f, src: p, path: path, dlt: p.dlt, snap: int(p.snaplen)}, nil
	}
	magic, err := br.Peek(4)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(magic, pcapngMagic) {
		r, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{ErrorOnMismatchingLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, err
		}
		snap := 0
		if ifc, err := r.Interface(0); err == nil {
			snap = int(ifc.SnapLength)
		}
		if snap <= 0 {
			snap = WriteSnaplen
		}
		return &fileHandle{f: f, src: r, path: path, dlt: int(r.LinkType()), snap: snap}, nil
	}
	r, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, err
	}
	return &fileHandle{f: f, src: r, path: path, dlt: int(r.LinkType()), snap: int(r.Snaplen())}, nil
}

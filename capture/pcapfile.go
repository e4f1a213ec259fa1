package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
)

// pcapFile reads a classic pcap file held in memory (mapped from the file by
// mapFile): each packet is a slice of the mapping, nothing is copied, and the
// kernel's page cache is the only buffer. It reads what pcapgo.Reader reads,
// with the same limits (FuzzPcapFile compares them), at about a tenth of the
// cost per packet, which is what lets a replay keep up with tcpdump reading
// the same file.
type pcapFile struct {
	data    []byte
	off     int
	order   binary.ByteOrder
	nanos   int64 // nanoseconds per timestamp unit: 1 or 1000
	snaplen uint32
	dlt     int
	maxCap  int

	closed atomic.Bool
	mu     sync.Mutex
	active bool // the loop reads slices of data: unmap later
	unmap  func()
}

// Classic pcap magic numbers as read little-endian.
const (
	pcapMagicMicro   = 0xa1b2c3d4
	pcapMagicNano    = 0xa1b23c4d
	pcapMagicMicroBE = 0xd4c3b2a1
	pcapMagicNanoBE  = 0x4d3cb2a1
)

// newPcapFile parses the file header of data; it fails for anything that is
// not a classic pcap file (pcapng, gzip, garbage), which then goes to pcapgo.
func newPcapFile(data []byte) (*pcapFile, error) {
	if len(data) < 24 {
		return nil, errors.New("pcap: short file header")
	}
	p := &pcapFile{data: data, off: 24}
	switch binary.LittleEndian.Uint32(data) {
	case pcapMagicMicro:
		p.order, p.nanos = binary.LittleEndian, 1000
	case pcapMagicNano:
		p.order, p.nanos = binary.LittleEndian, 1
	case pcapMagicMicroBE:
		p.order, p.nanos = binary.BigEndian, 1000
	case pcapMagicNanoBE:
		p.order, p.nanos = binary.BigEndian, 1
	default:
		return nil, errors.New("pcap: not a classic pcap file")
	}
	if maj, min := p.order.Uint16(data[4:]), p.order.Uint16(data[6:]); maj != 2 || min != 4 {
		return nil, fmt.Errorf("pcap: version %d.%d", maj, min)
	}
	p.snaplen = p.order.Uint32(data[16:])
	p.dlt = int(p.order.Uint32(data[20:]) & 0xffff) // the upper bits say whether frames carry an FCS
	p.maxCap = max(int(p.snaplen), WriteSnaplen)
	return p, nil
}

// ZeroCopyReadPacketData returns the next packet, a slice of the mapping
// valid until Close.
func (p *pcapFile) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	if p.closed.Load() {
		return nil, ci, io.EOF
	}
	rest := len(p.data) - p.off
	if rest == 0 {
		return nil, ci, io.EOF
	}
	if rest < 16 {
		return nil, ci, io.ErrUnexpectedEOF
	}
	h := p.data[p.off : p.off+16]
	caplen, wire := p.order.Uint32(h[8:]), p.order.Uint32(h[12:])
	if int64(caplen) > int64(p.maxCap) {
		return nil, ci, fmt.Errorf("capture length exceeds snap length: %d > %d", caplen, p.snaplen)
	}
	if caplen > wire {
		return nil, ci, fmt.Errorf("capture length exceeds original packet length: %d > %d", caplen, wire)
	}
	if int(caplen) > rest-16 {
		return nil, ci, io.ErrUnexpectedEOF
	}
	ci.Timestamp = time.Unix(int64(p.order.Uint32(h[0:])), int64(p.order.Uint32(h[4:]))*p.nanos)
	ci.CaptureLength, ci.Length = int(caplen), int(wire)
	start := p.off + 16
	p.off = start + int(caplen)
	return p.data[start:p.off:p.off], ci, nil
}

// acquire marks the mapping in use by the loop; false once closed.
func (p *pcapFile) acquire() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return false
	}
	p.active = true
	return true
}

// release ends the loop's use; the mapping goes if Close came meanwhile.
func (p *pcapFile) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active = false
	if p.closed.Load() && p.unmap != nil {
		p.unmap()
		p.unmap = nil
	}
}

// close stops the reads; the mapping goes now, or when the loop releases it.
func (p *pcapFile) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed.Store(true)
	if !p.active && p.unmap != nil {
		p.unmap()
		p.unmap = nil
	}
}

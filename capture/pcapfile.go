package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
)

// pcapFile reads a classic pcap file through a large bufio.Reader and hands
// out each packet as a slice of that buffer (Peek), where pcapgo.Reader
// copies the header and the packet out of its buffer with two io.ReadFull
// calls. It reads what pcapgo.Reader reads, with the same limits
// (FuzzPcapFile compares them), at less than half the cost per packet.
// pcapng and compressed files go to pcapgo.
type pcapFile struct {
	br      *bufio.Reader
	pending int // bytes of the last packet, discarded at the next read
	order   binary.ByteOrder
	nanos   int64 // nanoseconds per timestamp unit: 1 or 1000
	snaplen uint32
	dlt     int
	maxCap  int
	big     []byte // for a packet larger than the buffer
}

// Classic pcap magic numbers as read little-endian.
const (
	pcapMagicMicro   = 0xa1b2c3d4
	pcapMagicNano    = 0xa1b23c4d
	pcapMagicMicroBE = 0xd4c3b2a1
	pcapMagicNanoBE  = 0x4d3cb2a1
)

// newPcapFile reads the file header; it fails for anything that is not a
// classic pcap file (pcapng, gzip, garbage), which then goes to pcapgo.
func newPcapFile(br *bufio.Reader) (*pcapFile, error) {
	hdr, err := br.Peek(24)
	if err != nil {
		return nil, fmt.Errorf("pcap: short file header: %w", err)
	}
	p := &pcapFile{br: br, pending: 24}
	switch binary.LittleEndian.Uint32(hdr) {
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
	if maj, min := p.order.Uint16(hdr[4:]), p.order.Uint16(hdr[6:]); maj != 2 || min != 4 {
		return nil, fmt.Errorf("pcap: version %d.%d", maj, min)
	}
	p.snaplen = p.order.Uint32(hdr[16:])
	p.dlt = int(p.order.Uint32(hdr[20:]) & 0xffff) // the upper bits say whether frames carry an FCS
	p.maxCap = max(int(p.snaplen), WriteSnaplen)
	return p, nil
}

// ZeroCopyReadPacketData returns the next packet, valid until the next call.
func (p *pcapFile) ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error) {
	var ci gopacket.CaptureInfo
	if p.pending > 0 {
		if _, err := p.br.Discard(p.pending); err != nil {
			return nil, ci, err
		}
		p.pending = 0
	}
	h, err := p.br.Peek(16)
	if len(h) < 16 {
		if len(h) == 0 && errors.Is(err, io.EOF) {
			return nil, ci, io.EOF
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, ci, err
	}
	caplen, wire := p.order.Uint32(h[8:]), p.order.Uint32(h[12:])
	if int64(caplen) > int64(p.maxCap) {
		return nil, ci, fmt.Errorf("capture length exceeds snap length: %d > %d", caplen, p.snaplen)
	}
	if caplen > wire {
		return nil, ci, fmt.Errorf("capture length exceeds original packet length: %d > %d", caplen, wire)
	}
	ci.Timestamp = time.Unix(int64(p.order.Uint32(h[0:])), int64(p.order.Uint32(h[4:]))*p.nanos)
	ci.CaptureLength, ci.Length = int(caplen), int(wire)
	need := 16 + int(caplen)
	if need > p.br.Size() {
		return p.readBig(ci, need)
	}
	b, err := p.br.Peek(need)
	if len(b) < need {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, ci, err
	}
	p.pending = need
	return b[16:need:need], ci, nil
}

// readBig reads a packet too large for the buffer (a file whose snaplen is
// larger than the buffer) into a buffer of its own, grown a megabyte at a
// time as the data comes, so that a damaged length field cannot make it
// allocate gigabytes.
func (p *pcapFile) readBig(ci gopacket.CaptureInfo, need int) ([]byte, gopacket.CaptureInfo, error) {
	if _, err := p.br.Discard(16); err != nil {
		return nil, ci, err
	}
	n := need - 16
	data := p.big[:0]
	for len(data) < n {
		chunk := min(n-len(data), 1<<20)
		data = append(data, make([]byte, chunk)...)
		if _, err := io.ReadFull(p.br, data[len(data)-chunk:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, ci, err
		}
	}
	p.big = data
	return data, ci, nil
}

// Package pcapgen writes synthetic, well-formed captures for benchmarks:
// Ethernet frames carrying TCP and UDP over IPv4 and IPv6, spread over many
// flows, with data packets longer than the snaplen (cut, as a capture with
// snaplen 256 has them) and small acknowledgements. Spoof gives every packet
// a random source address, as in a spoofed flood; Flood mixes a spoofed SYN
// flood into the other traffic.
package pcapgen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Options say what to generate.
type Options struct {
	// Packets is the number of packets.
	Packets int
	// Flows is the number of distinct flows (ignored with Spoof).
	Flows int
	// Snaplen cuts longer packets (default 256).
	Snaplen int
	// Spoof gives each packet a random IPv4 source: every packet is a new
	// flow.
	Spoof bool
	// Flood is the share (0 to 1) of packets that are a spoofed SYN flood,
	// as `hping3 -S --flood --rand-source` sends it: a 54-byte TCP SYN from
	// a random IPv4 source and port to 198.19.0.1:80, each one a new flow.
	// The other packets are the Flows.
	Flood float64
	// PPS spaces the timestamps (default 100,000 packets per second).
	PPS int
	// Seed makes the output reproducible.
	Seed uint64
}

// Start is the timestamp of the first packet.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Write writes a pcap file (microsecond timestamps) to w.
func Write(w io.Writer, o Options) error {
	if o.Snaplen <= 0 {
		o.Snaplen = 256
	}
	if o.PPS <= 0 {
		o.PPS = 100000
	}
	if o.Flows <= 0 {
		o.Flows = 1
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(uint32(o.Snaplen), layers.LinkTypeEthernet); err != nil {
		return err
	}
	g := NewGen(o)
	step := time.Second / time.Duration(o.PPS)
	for i := 0; i < o.Packets; i++ {
		data, wire := g.Next()
		ci := gopacket.CaptureInfo{Timestamp: Start.Add(time.Duration(i) * step), CaptureLength: len(data), Length: wire}
		if err := pw.WritePacket(ci, data); err != nil {
			return fmt.Errorf("pcapgen: %w", err)
		}
	}
	return bw.Flush()
}

// Gen makes packets one at a time into a reused buffer.
type Gen struct {
	o   Options
	rng *rand.Rand
	buf [1600]byte
}

// NewGen returns a generator.
func NewGen(o Options) *Gen {
	if o.Snaplen <= 0 {
		o.Snaplen = 256
	}
	if o.Flows <= 0 {
		o.Flows = 1
	}
	return &Gen{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
}

// Next returns the next packet's captured bytes (valid until the next call)
// and its length on the wire.
func (g *Gen) Next() (data []byte, wire int) {
	r := g.rng
	if g.o.Flood > 0 && r.Float64() < g.o.Flood {
		return g.syn()
	}
	flow := r.IntN(g.o.Flows)
	kind := flow % 20 // 14/20 TCPv4, 3/20 UDPv4, 2/20 TCPv6, 1/20 UDPv6
	tcp := kind < 14 || kind == 17 || kind == 18
	v6 := kind >= 17
	if g.o.Spoof {
		tcp, v6 = true, false
	}
	toServer := g.o.Spoof || r.IntN(2) == 0
	payload := 0
	switch {
	case !tcp:
		payload = 40 + flow%60
	case r.IntN(10) < 6:
		payload = 1448 // a full segment, on a 1500 MTU
		if v6 {
			payload = 1428
		}
	}
	b := g.buf[:]
	// Ethernet
	copy(b[0:6], []byte{0x02, 0, 0xc6, 0x13, 0, 1})
	copy(b[6:12], []byte{0x02, 0, 0xc6, 0x13, 0, 2})
	off := 14
	l4len := payload + 8
	proto := byte(17)
	if tcp {
		l4len = payload + 20
		proto = 6
	}
	cli := [4]byte{198, 18, byte(flow >> 8), byte(flow)}
	if g.o.Spoof {
		binary.BigEndian.PutUint32(cli[:], r.Uint32())
	}
	srv := [4]byte{198, 19, 0, byte(1 + flow%200)}
	sport, dport := uint16(10000+flow%50000), uint16(443)
	if !tcp {
		dport = 53
	}
	if !toServer {
		sport, dport = dport, sport
	}
	if !v6 {
		binary.BigEndian.PutUint16(b[12:14], 0x0800)
		ip := b[off : off+20]
		ip[0], ip[1] = 0x45, 0
		binary.BigEndian.PutUint16(ip[2:4], uint16(20+l4len))
		binary.BigEndian.PutUint16(ip[4:6], uint16(r.Uint32()))
		binary.BigEndian.PutUint16(ip[6:8], 0x4000)
		ip[8], ip[9] = 64, proto
		ip[10], ip[11] = 0, 0
		src, dst := cli, srv
		if !toServer {
			src, dst = srv, cli
		}
		copy(ip[12:16], src[:])
		copy(ip[16:20], dst[:])
		off += 20
	} else {
		binary.BigEndian.PutUint16(b[12:14], 0x86dd)
		ip := b[off : off+40]
		binary.BigEndian.PutUint32(ip[0:4], 6<<28)
		binary.BigEndian.PutUint16(ip[4:6], uint16(l4len))
		ip[6], ip[7] = proto, 64
		c6 := [16]byte{0xfd, 0, 0x01, 0x98, 0, 0x18, 0, 0x13, 0, 0, 0, 0, 0, 0, byte(flow >> 8), byte(flow)}
		s6 := [16]byte{0xfd, 0, 0x01, 0x98, 0, 0x18, 0, 0x14, 0, 0, 0, 0, 0, 0, 0, byte(1 + flow%200)}
		src, dst := c6, s6
		if !toServer {
			src, dst = s6, c6
		}
		copy(ip[8:24], src[:])
		copy(ip[24:40], dst[:])
		off += 40
	}
	binary.BigEndian.PutUint16(b[off:], sport)
	binary.BigEndian.PutUint16(b[off+2:], dport)
	if tcp {
		t := b[off : off+20]
		binary.BigEndian.PutUint32(t[4:8], r.Uint32())
		binary.BigEndian.PutUint32(t[8:12], r.Uint32())
		t[12] = 5 << 4
		t[13] = 0x10 // ACK
		if payload > 0 {
			t[13] |= 0x08 // PSH
		}
		binary.BigEndian.PutUint16(t[14:16], 502)
		t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	} else {
		u := b[off : off+8]
		binary.BigEndian.PutUint16(u[4:6], uint16(l4len))
		u[6], u[7] = 0, 0
	}
	wire = off + l4len
	caplen := min(wire, g.o.Snaplen)
	for i := off + (l4len - payload); i < caplen; i++ {
		b[i] = byte(i)
	}
	return b[:caplen], wire
}

// syn returns a spoofed SYN (see Options.Flood).
func (g *Gen) syn() (data []byte, wire int) {
	r := g.rng
	b := g.buf[:54]
	copy(b[0:6], []byte{0x02, 0, 0xc6, 0x13, 0, 1})
	copy(b[6:12], []byte{0x02, 0, 0xc6, 0x13, 0, 2})
	binary.BigEndian.PutUint16(b[12:14], 0x0800)
	ip := b[14:34]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:4], 40)
	binary.BigEndian.PutUint16(ip[4:6], uint16(r.Uint32()))
	binary.BigEndian.PutUint16(ip[6:8], 0)
	ip[8], ip[9] = 64, 6
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint32(ip[12:16], r.Uint32())
	copy(ip[16:20], []byte{198, 19, 0, 1})
	t := b[34:54]
	binary.BigEndian.PutUint16(t[0:2], uint16(1024+r.IntN(64512)))
	binary.BigEndian.PutUint16(t[2:4], 80)
	binary.BigEndian.PutUint32(t[4:8], r.Uint32())
	binary.BigEndian.PutUint32(t[8:12], 0)
	t[12] = 5 << 4
	t[13] = 0x02 // SYN
	binary.BigEndian.PutUint16(t[14:16], 512)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	return b, 54
}

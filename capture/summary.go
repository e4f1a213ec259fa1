package capture

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// tcpFlagString renders TCP flags as tcpdump does ("[S.]", "[P.]", "[none]").
func tcpFlagString(f uint8) string {
	var b [10]byte
	n := 0
	b[n] = '['
	n++
	for _, fl := range [...]struct {
		bit uint8
		c   byte
	}{{tcpFIN, 'F'}, {tcpSYN, 'S'}, {tcpRST, 'R'}, {tcpPSH, 'P'}, {tcpACK, '.'}, {tcpURG, 'U'}, {tcpECE, 'E'}, {tcpCWR, 'W'}} {
		if f&fl.bit != 0 {
			b[n] = fl.c
			n++
		}
	}
	if n == 1 {
		return "[none]"
	}
	b[n] = ']'
	return string(b[:n+1])
}

// ringSlot holds a copy of one matched packet until the batch is built.
type ringSlot struct {
	ts      time.Time
	wireLen int
	data    []byte // len = captured bytes kept, cap = ring data cap
}

// packetRing keeps the newest matched packets of an interval.
type packetRing struct {
	slots   []ringSlot
	next    int    // slot to write next
	count   int    // slots filled (<= len(slots))
	matched uint64 // packets matched in the interval
}

func newPacketRing(size, dataCap int) *packetRing {
	r := &packetRing{slots: make([]ringSlot, size)}
	buf := make([]byte, size*dataCap)
	for i := range r.slots {
		r.slots[i].data = buf[i*dataCap : i*dataCap : (i+1)*dataCap]
	}
	return r
}

func (r *packetRing) push(ts time.Time, wireLen int, data []byte) {
	r.matched++
	if len(r.slots) == 0 {
		return
	}
	s := &r.slots[r.next]
	s.ts = ts
	s.wireLen = wireLen
	n := min(len(data), cap(s.data))
	s.data = s.data[:n]
	copy(s.data, data)
	r.next++
	if r.next == len(r.slots) {
		r.next = 0
	}
	if r.count < len(r.slots) {
		r.count++
	}
}

// drain builds the summaries of the ring, oldest first, and empties it.
func (r *packetRing) drain(lk linkKind) ([]PacketSummary, uint64) {
	if r.count == 0 {
		matched := r.matched
		r.next, r.matched = 0, 0
		return nil, matched
	}
	out := make([]PacketSummary, 0, r.count)
	start := r.next - r.count
	if start < 0 {
		start += len(r.slots)
	}
	var p pktInfo
	for i := 0; i < r.count; i++ {
		s := &r.slots[(start+i)%len(r.slots)]
		out = append(out, summarize(lk, s.ts, s.wireLen, s.data, &p))
	}
	matched := r.matched
	r.next, r.count, r.matched = 0, 0, 0
	return out, matched
}

// summarize describes one packet; data is copied.
func summarize(lk linkKind, ts time.Time, wireLen int, data []byte, p *pktInfo) PacketSummary {
	ps := PacketSummary{Time: ts, Length: wireLen, Data: append([]byte(nil), data...)}
	if !decode(lk, data, p) {
		ps.Proto, ps.Summary = summarizeNonIP(p, data, wireLen)
		return ps
	}
	ps.Proto = protoName(p.proto)
	ps.Src, ps.Dst = p.src, p.dst
	ps.SrcPort, ps.DstPort = p.sport, p.dport
	ip := "IP"
	if p.ipv6 {
		ip = "IP6"
	}
	var b strings.Builder
	b.WriteString(ip)
	b.WriteByte(' ')
	switch {
	case p.frag:
		fmt.Fprintf(&b, "%s > %s: %s fragment", p.src, p.dst, ps.Proto)
		if p.l4len >= 0 {
			fmt.Fprintf(&b, ", length %d", p.l4len)
		}
	case p.proto == protoTCP && p.hasL4 && len(data) >= p.l4+20:
		ps.Flags = tcpFlagString(p.flags)
		t := data[p.l4:]
		seq := binary.BigEndian.Uint32(t[4:8])
		ack := binary.BigEndian.Uint32(t[8:12])
		win := binary.BigEndian.Uint16(t[14:16])
		hl := int(t[12]>>4) * 4
		fmt.Fprintf(&b, "%s > %s: Flags %s, seq %d", endpoint(p.src, p.sport), endpoint(p.dst, p.dport), ps.Flags, seq)
		if p.flags&tcpACK != 0 {
			fmt.Fprintf(&b, ", ack %d", ack)
		}
		fmt.Fprintf(&b, ", win %d", win)
		if p.l4len >= hl {
			fmt.Fprintf(&b, ", length %d", p.l4len-hl)
		}
	case p.proto == protoUDP && p.hasL4:
		fmt.Fprintf(&b, "%s > %s: UDP", endpoint(p.src, p.sport), endpoint(p.dst, p.dport))
		if len(data) >= p.l4+8 {
			fmt.Fprintf(&b, ", length %d", int(binary.BigEndian.Uint16(data[p.l4+4:p.l4+6]))-8)
		}
	case p.proto == protoICMP && len(data) >= p.l4+8:
		fmt.Fprintf(&b, "%s > %s: ICMP %s", p.src, p.dst, icmpText(data[p.l4:], false))
		if p.l4len >= 0 {
			fmt.Fprintf(&b, ", length %d", p.l4len)
		}
	case p.proto == protoICMPv6 && len(data) >= p.l4+8:
		fmt.Fprintf(&b, "%s > %s: ICMP6, %s", p.src, p.dst, icmpText(data[p.l4:], true))
		if p.l4len >= 0 {
			fmt.Fprintf(&b, ", length %d", p.l4len)
		}
	case p.hasL4:
		fmt.Fprintf(&b, "%s > %s: %s", endpoint(p.src, p.sport), endpoint(p.dst, p.dport), strings.ToUpper(ps.Proto))
		if p.l4len >= 0 {
			fmt.Fprintf(&b, ", length %d", p.l4len)
		}
	default:
		fmt.Fprintf(&b, "%s > %s: %s", p.src, p.dst, ps.Proto)
		if p.l4len >= 0 {
			fmt.Fprintf(&b, ", length %d", p.l4len)
		}
	}
	ps.Summary = b.String()
	return ps
}

// endpoint prints address.port as tcpdump does (no brackets for IPv6).
func endpoint(a netip.Addr, port uint16) string {
	return fmt.Sprintf("%s.%d", a, port)
}

func icmpText(h []byte, v6 bool) string {
	typ, code := h[0], h[1]
	id := binary.BigEndian.Uint16(h[4:6])
	seq := binary.BigEndian.Uint16(h[6:8])
	if !v6 {
		switch typ {
		case 0:
			return fmt.Sprintf("echo reply, id %d, seq %d", id, seq)
		case 8:
			return fmt.Sprintf("echo request, id %d, seq %d", id, seq)
		case 3:
			return fmt.Sprintf("unreachable, code %d", code)
		case 11:
			return "time exceeded in-transit"
		}
		return fmt.Sprintf("type %d, code %d", typ, code)
	}
	switch typ {
	case 128:
		return fmt.Sprintf("echo request, id %d, seq %d", id, seq)
	case 129:
		return fmt.Sprintf("echo reply, id %d, seq %d", id, seq)
	case 1:
		return fmt.Sprintf("destination unreachable, code %d", code)
	case 133:
		return "router solicitation"
	case 134:
		return "router advertisement"
	case 135:
		if len(h) >= 24 {
			return "neighbor solicitation, who has " + netip.AddrFrom16([16]byte(h[8:24])).String()
		}
		return "neighbor solicitation"
	case 136:
		if len(h) >= 24 {
			return "neighbor advertisement, tgt is " + netip.AddrFrom16([16]byte(h[8:24])).String()
		}
		return "neighbor advertisement"
	case 143:
		return "multicast listener report v2"
	}
	return fmt.Sprintf("type %d, code %d", typ, code)
}

func summarizeNonIP(p *pktInfo, data []byte, wireLen int) (proto, summary string) {
	if p.etype == etherARP && len(data) >= p.l3+28 {
		a := data[p.l3:]
		spa := netip.AddrFrom4([4]byte(a[14:18]))
		tpa := netip.AddrFrom4([4]byte(a[24:28]))
		switch binary.BigEndian.Uint16(a[6:8]) {
		case 1:
			return "arp", fmt.Sprintf("ARP, Request who-has %s tell %s, length %d", tpa, spa, len(data)-p.l3)
		case 2:
			return "arp", fmt.Sprintf("ARP, Reply %s is-at %x, length %d", spa, a[8:14], len(data)-p.l3)
		}
		return "arp", fmt.Sprintf("ARP, length %d", wireLen)
	}
	if p.etype != 0 {
		return fmt.Sprintf("0x%04x", p.etype), fmt.Sprintf("ethertype 0x%04x, length %d", p.etype, wireLen)
	}
	return "unknown", fmt.Sprintf("unknown link or network header, length %d", wireLen)
}

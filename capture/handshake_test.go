package capture

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	hsLocal  = netip.MustParseAddr("198.18.110.1")
	hsRemote = netip.MustParseAddr("198.18.110.2")
)

// hsPacket builds an Ethernet/IPv4 packet: TCP with flags, UDP when flags is "udp", or an
// ICMP port unreachable quoting a UDP packet from qsrc:qsport to qdst:qdport.
func hsPacket(tb testing.TB, src, dst netip.Addr, sport, dport uint16, kind string) []byte {
	tb.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	var ls []gopacket.SerializableLayer
	switch kind {
	case "udp":
		ip.Protocol = layers.IPProtocolUDP
		udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		_ = udp.SetNetworkLayerForChecksum(ip)
		ls = []gopacket.SerializableLayer{eth, ip, udp, gopacket.Payload("probe")}
	case "unreach":
		// src sends "port unreachable" about a UDP packet dst:dport -> src:sport
		ip.Protocol = layers.IPProtocolICMPv4
		qip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: dst.AsSlice(), DstIP: src.AsSlice()}
		qudp := &layers.UDP{SrcPort: layers.UDPPort(dport), DstPort: layers.UDPPort(sport)}
		_ = qudp.SetNetworkLayerForChecksum(qip)
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}
		ls = []gopacket.SerializableLayer{eth, ip, icmp, qip, qudp}
	default:
		ip.Protocol = layers.IPProtocolTCP
		tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Window: 1024}
		for _, f := range kind {
			switch f {
			case 'S':
				tcp.SYN = true
			case 'A':
				tcp.ACK = true
			case 'R':
				tcp.RST = true
			case 'F':
				tcp.FIN = true
			}
		}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		ls = []gopacket.SerializableLayer{eth, ip, tcp}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestHandshakeFacts: the facts of a flow are read from its packets in both directions and
// kept across intervals, and an ICMP port unreachable marks the UDP flow it quotes, also
// when the probe was in the previous interval.
func TestHandshakeFacts(t *testing.T) {
	type pkt struct {
		out          bool // from the local host
		kind         string
		swapAfter    bool
		sport, dport uint16
	}
	for _, c := range []struct {
		name string
		pkts []pkt
		key  FlowKey
		want uint16
	}{
		{"closed port: SYN answered by RST", []pkt{{false, "S", false, 40000, 81}, {true, "RA", false, 81, 40000}},
			FlowKey{Proto: 6, Local: netip.AddrPortFrom(hsLocal, 81), Remote: netip.AddrPortFrom(hsRemote, 40000)}, HsSynIn | HsRstOut},
		{"completed handshake", []pkt{{false, "S", false, 40001, 22}, {true, "SA", false, 22, 40001}, {false, "A", false, 40001, 22}},
			FlowKey{Proto: 6, Local: netip.AddrPortFrom(hsLocal, 22), Remote: netip.AddrPortFrom(hsRemote, 40001)}, HsSynIn | HsSynAckOut | HsAckIn},
		{"half-open across intervals", []pkt{{false, "S", true, 40002, 80}, {true, "SA", false, 80, 40002}, {false, "R", false, 40002, 80}},
			FlowKey{Proto: 6, Local: netip.AddrPortFrom(hsLocal, 80), Remote: netip.AddrPortFrom(hsRemote, 40002)}, HsSynIn | HsSynAckOut | HsRstIn},
		{"outbound SYN refused", []pkt{{true, "S", false, 50000, 443}, {false, "RA", false, 443, 50000}},
			FlowKey{Proto: 6, Local: netip.AddrPortFrom(hsLocal, 50000), Remote: netip.AddrPortFrom(hsRemote, 443)}, HsSynOut | HsRstIn},
		{"UDP probe, unreachable in the next interval", []pkt{{false, "udp", true, 40003, 161}, {true, "unreach", false, 161, 40003}},
			FlowKey{Proto: 17, Local: netip.AddrPortFrom(hsLocal, 161), Remote: netip.AddrPortFrom(hsRemote, 40003)}, HsUnreachOut},
		{"outbound UDP probe, unreachable", []pkt{{true, "udp", false, 50001, 53}, {false, "unreach", false, 53, 50001}},
			FlowKey{Proto: 17, Local: netip.AddrPortFrom(hsLocal, 50001), Remote: netip.AddrPortFrom(hsRemote, 53)}, HsUnreachIn},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newTestLoop(newTestCapture(Options{LocalAddrs: []netip.Addr{hsLocal}}, linkEthernet))
			var got uint16
			collect := func() {
				l.flushAcct()
				flows, _, _ := l.table.swap()
				for _, f := range flows {
					if f.Key == c.key {
						got = f.Handshake
					}
				}
			}
			for _, p := range c.pkts {
				src, dst := hsRemote, hsLocal
				if p.out {
					src, dst = hsLocal, hsRemote
				}
				d := hsPacket(t, src, dst, p.sport, p.dport, p.kind)
				ci := gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(d), Length: len(d)}
				l.packet(d, &ci)
				if p.swapAfter {
					collect()
				}
			}
			collect()
			if got != c.want {
				t.Errorf("handshake facts %#x, want %#x", got, c.want)
			}
		})
	}
}

// BenchmarkHandshakePath is the packet path over the packets of a port scan and its
// answers (SYN, RST, SYN+ACK, UDP probes and ICMP port unreachable): the handshake facts
// must not allocate.
func BenchmarkHandshakePath(b *testing.B) {
	var pkts [][]byte
	for port := uint16(1); port <= 256; port++ {
		pkts = append(pkts,
			hsPacket(b, hsRemote, hsLocal, 40000, port, "S"),
			hsPacket(b, hsLocal, hsRemote, port, 40000, "RA"),
			hsPacket(b, hsRemote, hsLocal, 40001, port, "udp"),
			hsPacket(b, hsLocal, hsRemote, port, 40001, "unreach"))
	}
	l := newTestLoop(newTestCapture(Options{LocalAddrs: []netip.Addr{hsLocal}}, linkEthernet))
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(1, 0)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d := pkts[i%len(pkts)]
		ci.CaptureLength, ci.Length = len(d), len(d)
		l.packet(d, &ci)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

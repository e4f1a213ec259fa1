//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"net/netip"

	"github.com/cilium/ebpf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// readPackets returns the packets of an Ethernet capture file and its link type.
func readPackets(t *testing.T, path string) (pkts [][]byte, cis []gopacket.CaptureInfo, dlt layers.LinkType) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var src interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	if strings.HasSuffix(path, ".pcapng") {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		src, dlt = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		src, dlt = r, r.LinkType()
	}
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return pkts, cis, dlt
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		pkts = append(pkts, data)
		cis = append(cis, ci)
	}
}

// unreachPackets builds UDP and TCP probes answered by ICMP and ICMPv6 port unreachable,
// over IPv4 and IPv6, untagged and behind an 802.1Q tag, which the test captures lack.
func unreachPackets(t *testing.T) (pkts [][]byte, cis []gopacket.CaptureInfo) {
	t.Helper()
	eth := func(vlan bool, et layers.EthernetType) []gopacket.SerializableLayer {
		e := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: et}
		if !vlan {
			return []gopacket.SerializableLayer{e}
		}
		e.EthernetType = layers.EthernetTypeDot1Q
		return []gopacket.SerializableLayer{e, &layers.Dot1Q{VLANIdentifier: 7, Type: et}}
	}
	ser := func(ls ...gopacket.SerializableLayer) []byte {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
			t.Fatal(err)
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	ts := time.Unix(1700000000, 0)
	add := func(b []byte) {
		pkts = append(pkts, b)
		cis = append(cis, gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(b), Length: len(b)})
		ts = ts.Add(time.Millisecond)
	}
	for _, vlan := range []bool{false, true} {
		for i, proto := range []layers.IPProtocol{layers.IPProtocolUDP, layers.IPProtocolTCP} {
			a, b := []byte{198, 18, 184, 1}, []byte{198, 18, 184, byte(2 + i)}
			a6, b6 := netip.MustParseAddr("2001:db8::1").AsSlice(), netip.MustParseAddr("2001:db8::2").AsSlice()
			var l4 gopacket.SerializableLayer
			var l4b, l4b6 []byte
			ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: a, DstIP: b}
			ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: a6, DstIP: b6}
			if proto == layers.IPProtocolUDP {
				u := &layers.UDP{SrcPort: 40000, DstPort: 53}
				_ = u.SetNetworkLayerForChecksum(ip4)
				l4 = u
			} else {
				c := &layers.TCP{SrcPort: 40001, DstPort: 81, SYN: true, Window: 1024}
				_ = c.SetNetworkLayerForChecksum(ip4)
				l4 = c
			}
			probe4 := ser(append(eth(vlan, layers.EthernetTypeIPv4), ip4, l4)...)
			hl := 14
			if vlan {
				hl = 18
			}
			l4b = probe4[hl+20:] // Ethernet pads the frame to 60 bytes: 8 are enough

			add(probe4)
			if u, ok := l4.(*layers.UDP); ok {
				_ = u.SetNetworkLayerForChecksum(ip6)
			} else {
				_ = l4.(*layers.TCP).SetNetworkLayerForChecksum(ip6)
			}
			probe6 := ser(append(eth(vlan, layers.EthernetTypeIPv6), ip6, l4)...)
			l4b6 = probe6[hl+40:]
			add(probe6)
			// the answers quote the probe's IP header and the first 8 bytes after it
			q4 := ser(&layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: a, DstIP: b, Length: uint16(20 + len(l4b))})
			q4 = append(q4, l4b[:8]...)
			add(ser(append(eth(vlan, layers.EthernetTypeIPv4),
				&layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: b, DstIP: a},
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, gopacket.Payload(q4))...))
			q6 := ser(&layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: a6, DstIP: b6, Length: uint16(len(l4b6))})
			q6 = append(q6, l4b6[:8]...)
			i6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: b6, DstIP: a6}
			ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 4)}
			_ = ic.SetNetworkLayerForChecksum(i6)
			add(ser(append(eth(vlan, layers.EthernetTypeIPv6), i6, ic, gopacket.Payload(append(make([]byte, 4), q6...)))...))
		}
	}
	return pkts, cis
}

// flowLine is a flow's counts and facts as the agreement tests compare them.
func flowLine(d FlowDelta) string {
	return fmt.Sprintf("%s %s>%s rx %d/%d tx %d/%d flags %#02x hs %#03x", d.Key.ProtoName(), d.Key.Remote, d.Key.Local,
		d.RxPackets, d.RxBytes, d.TxPackets, d.TxBytes, d.Flags, d.Handshake)
}

func flowLines(m map[FlowKey]FlowDelta) []string {
	var out []string
	for _, d := range m {
		out = append(out, flowLine(d))
	}
	sort.Strings(out)
	return out
}

// TestKernelDecoderAgrees runs every packet of the Ethernet test captures (TCP, UDP and ICMP
// over IPv4 and IPv6, 802.1Q and QinQ tags, extension headers, fragments, ARP, port
// unreachables) through the tc program (BPF_PROG_TEST_RUN, nothing attached) and compares
// the flows the kernel path reports with what the libpcap path (the Go decoder) reports for
// the same packets: the same flows, packets, bytes, TCP flags and handshake facts, and the
// same count of packets without an IP flow.
func TestKernelDecoderAgrees(t *testing.T) {
	needRoot(t)
	files, _ := filepath.Glob(filepath.Join(pcapDir, "*.pcap*"))
	checked := 0
	// What the captures exercise, so that "the same" is not about nothing.
	var v6, unreach, synRst, frag int
	files = append(files, "synthetic")
	for _, path := range files {
		var (
			pkts [][]byte
			cis  []gopacket.CaptureInfo
			dlt  = layers.LinkTypeEthernet
		)
		if path == "synthetic" {
			pkts, cis = unreachPackets(t)
		} else {
			pkts, cis, dlt = readPackets(t, path)
		}
		if dlt != layers.LinkTypeEthernet {
			continue
		}
		checked++
		t.Run(filepath.Base(path), func(t *testing.T) {
			k, err := loadKacct(DefaultFlowCap)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			defer k.close()
			// No budget of new entries: a capture's 1,024-port scan and the rest, all in
			// one interval, are more than the start budget on one CPU.
			k.budget = 0
			if err := k.ctl.Update(uint32(0), kctl{Gen: k.gen}, ebpf.UpdateAny); err != nil {
				t.Fatal(err)
			}
			// The program sees the packet as captured: its wire length is the
			// captured length. Write the same packets so for the replay.
			tmp := filepath.Join(t.TempDir(), "in.pcap")
			f, err := os.Create(tmp)
			if err != nil {
				t.Fatal(err)
			}
			w := pcapgo.NewWriter(f)
			if err := w.WriteFileHeader(262144, dlt); err != nil {
				t.Fatal(err)
			}
			ran := 0
			for i, data := range pkts {
				if len(data) < 14 {
					continue // BPF_PROG_TEST_RUN wants an Ethernet header
				}
				ci := cis[i]
				ci.Length = len(data)
				if err := w.WritePacket(ci, data); err != nil {
					t.Fatal(err)
				}
				if _, err := k.prog.Run(&ebpf.RunOptions{Data: data}); err != nil {
					t.Fatalf("packet %d: test run: %v", i, err)
				}
				ran++
			}
			f.Close()
			flows, over, other, err := k.read(newLocalSet(nil), time.Hour, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			kern := map[FlowKey]FlowDelta{}
			for _, d := range flows {
				if _, dup := kern[d.Key]; dup {
					t.Errorf("flow %v twice in one read", d.Key)
				}
				kern[d.Key] = d
				if d.Key.Local.Addr().Is6() {
					v6++
				}
				if d.Handshake&(HsUnreachIn|HsUnreachOut) != 0 {
					unreach++
				}
				if d.Handshake&(HsSynIn|HsSynOut) != 0 && d.Handshake&(HsRstIn|HsRstOut) != 0 {
					synRst++
				}
				if d.Key.Proto == protoUDP && d.Key.Local.Port() == 0 {
					frag++
				}
			}
			want := replay(t, Options{ReplayFile: tmp, Interval: time.Hour}, nil)
			if want.err != nil {
				t.Fatal(want.err)
			}
			if k.stats.Received != uint64(ran) {
				t.Errorf("kernel saw %d packets, ran %d", k.stats.Received, ran)
			}
			if over.Packets() != 0 || over.Bytes() != 0 {
				t.Errorf("overflow %+v with a table far from full", over)
			}
			if other != want.other {
				t.Errorf("other: kernel %+v, libpcap path %+v", other, want.other)
			}
			got, exp := flowLines(kern), flowLines(want.flows)
			if strings.Join(got, "\n") != strings.Join(exp, "\n") {
				t.Errorf("flows differ\nkernel (%d):\n%s\nlibpcap path (%d):\n%s", len(got), strings.Join(got, "\n"), len(exp), strings.Join(exp, "\n"))
			}
			t.Logf("%d packets, %d flows, %d other: the same", ran, len(kern), other.Packets)

		})
	}
	if checked < 3 {
		t.Fatalf("only %d Ethernet captures in %s", checked, pcapDir)
	}
	t.Logf("flows compared: %d IPv6, %d marked by ICMP port unreachable, %d SYN answered by RST, %d UDP fragment host pairs", v6, unreach, synRst, frag)
	if v6 == 0 || unreach == 0 || synRst == 0 {
		t.Errorf("the captures no longer exercise IPv6 (%d), port unreachables (%d) or refused SYNs (%d)", v6, unreach, synRst)
	}
}

// BenchmarkKernelProgram times the tc program on one 60-byte UDP frame (an existing flow)
// with BPF_PROG_TEST_RUN's
// repeat: the kernel's own measure of the program, without the rest of the packet path.
func BenchmarkKernelProgram(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	k, err := loadKacct(DefaultFlowCap)
	if err != nil {
		b.Fatal(err)
	}
	defer k.close()
	frame := make([]byte, 60)
	copy(frame[12:], []byte{0x08, 0x00, 0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 182, 2, 198, 18, 182, 250, 0x9c, 0x40, 0, 9, 0, 26})
	b.Run("udp60", func(b *testing.B) {
		_, d, err := k.prog.Benchmark(frame, b.N, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(d.Nanoseconds()), "ns/packet")
	})
}

// TestKernelOverflowAddsUp: with a table far too small for its flows (64 entries, 5,000 UDP
// flows), the kernel's LRU evicts entries with packets not yet read; those packets are in
// the batch's overflow, so that flows and overflow still add up to every packet sent, as with
// the libpcap path. Twin: a table large enough has no overflow (TestKernelDecoderAgrees).
func TestKernelOverflowAddsUp(t *testing.T) {
	needRoot(t)
	k, err := loadKacct(32)
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	frame := make([]byte, 60)
	copy(frame[12:], []byte{0x08, 0x00, 0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 182, 2, 198, 18, 182, 250, 0x9c, 0x40, 0, 9, 0, 26})
	const n = 5000
	var sum, over uint64
	ls := newLocalSet(nil)
	for i := range n {
		frame[34], frame[35] = byte(i>>8), byte(i) // the source port: a new flow each
		if _, err := k.prog.Run(&ebpf.RunOptions{Data: frame}); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			flows, o, _, err := k.read(ls, time.Hour, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range flows {
				sum += d.Packets()
			}
			over += o.Packets()
		}
	}
	if sum+over != n {
		t.Fatalf("flows %d + overflow %d = %d packets, sent %d", sum, over, sum+over, n)
	}
	if over == 0 {
		t.Fatalf("no overflow with 5,000 flows in a 64-entry table: the test did not fill it")
	}
	if len(k.raw) > 64 {
		t.Errorf("user space keeps %d entries for a 64-entry table", len(k.raw))
	}
	t.Logf("flows %d packets, overflow %d", sum, over)
}

package capture

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

// seedPackets reads the test pcaps with pcapgo (pure Go, so this file needs
// no libpcap) and returns their packets with their link kinds.
func seedPackets(tb testing.TB) (kinds []linkKind, pkts [][]byte) {
	tb.Helper()
	files, _ := filepath.Glob("../testdata/pcap/*.pcap*")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		var (
			read func() ([]byte, error)
			dlt  int
		)
		if strings.HasSuffix(file, ".pcapng") {
			r, err := pcapgo.NewNgReader(strings.NewReader(string(data)), pcapgo.DefaultNgReaderOptions)
			if err != nil {
				tb.Fatal(err)
			}
			dlt = int(r.LinkType())
			read = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
		} else {
			r, err := pcapgo.NewReader(strings.NewReader(string(data)))
			if err != nil {
				tb.Fatal(err)
			}
			dlt = int(r.LinkType())
			read = func() ([]byte, error) { d, _, err := r.ReadPacketData(); return d, err }
		}
		for {
			d, err := read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatalf("%s: %v", file, err)
			}
			kinds = append(kinds, linkKindOf(dlt))
			pkts = append(pkts, d)
		}
	}
	if len(pkts) == 0 {
		tb.Fatal("no seed packets")
	}
	return kinds, pkts
}

// FuzzDecode decodes arbitrary bytes as every link kind, orients the flow
// and accounts it: nothing may panic, and the results must be coherent.
func FuzzDecode(f *testing.F) {
	kinds, pkts := seedPackets(f)
	for i, p := range pkts {
		f.Add(uint8(kinds[i]), p)
	}
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		lk := linkKind(kind % uint8(linkRaw+1))
		var p pktInfo
		ok := decode(lk, data, &p)
		_ = loopbackOutgoing(lk, data)
		s := summarize(lk, time.Unix(1, 0), len(data), data, &pktInfo{})
		if s.Summary == "" || s.Proto == "" {
			t.Fatalf("empty summary %+v", s)
		}
		if ok != p.isIP {
			t.Fatalf("decode = %v, isIP = %v", ok, p.isIP)
		}
		if !ok {
			return
		}
		switch {
		case !p.src.IsValid() || !p.dst.IsValid():
			t.Fatalf("invalid addresses %v %v", p.src, p.dst)
		case p.ipv6 != p.src.Is6() || p.ipv6 != p.dst.Is6():
			t.Fatalf("ipv6=%v with %v > %v", p.ipv6, p.src, p.dst)
		case p.l3 < 0 || p.l3 > len(data):
			t.Fatalf("l3 %d outside %d bytes", p.l3, len(data))
		case p.hasL4 && (p.frag || p.l4+4 > len(data)):
			t.Fatalf("ports read at %d of %d bytes (frag %v)", p.l4, len(data), p.frag)
		case !p.hasL4 && (p.sport != 0 || p.dport != 0 || p.flags != 0):
			t.Fatalf("ports %d %d flags %#x without a transport header", p.sport, p.dport, p.flags)
		case p.flags != 0 && p.proto != protoTCP:
			t.Fatalf("TCP flags on protocol %d", p.proto)
		}
		if s.Src != p.src || s.Dst != p.dst || s.SrcPort != p.sport || s.DstPort != p.dport {
			t.Fatalf("summary %+v disagrees with decode %+v", s, p)
		}
		for _, local := range [][]netip.Addr{nil, {p.src}, {p.dst}, {p.src, p.dst}} {
			ls := newLocalSet(local)
			var k1, k2 FlowKey
			tx1 := orient(ls, p.proto, p.src, p.sport, p.dst, p.dport, &k1)
			tx2 := orient(ls, p.proto, p.dst, p.dport, p.src, p.sport, &k2)
			if k1 != k2 {
				t.Fatalf("the two directions give two flows: %v and %v", k1, k2)
			}
			same := p.src == p.dst && p.sport == p.dport
			if !same && tx1 == tx2 {
				t.Fatalf("both directions tx=%v for %v", tx1, k1)
			}
			if src := netip.AddrPortFrom(p.src, p.sport); (tx1 && k1.Local != src) || (!tx1 && k1.Remote != src) {
				t.Fatalf("tx=%v but key %v for a packet from %v", tx1, k1, src)
			}
			if len(local) == 1 && p.src != p.dst && tx1 != (local[0] == p.src) {
				t.Fatalf("local %v, packet %v > %v: tx=%v", local, p.src, p.dst, tx1)
			}
			if fk := toFkey(&k1); fk.flowKey() != k1 {
				t.Fatalf("flow key %v comes back from the table as %v", k1, fk.flowKey())
			}
			tab := newFlowTable(2)
			tab.account(&k1, tx1, 100, p.flags, 1)
			tab.account(&k2, tx2, 50, 0, 2)
			flows, over, _ := tab.swap()
			if len(flows) != 1 || flows[0].Packets() != 2 || flows[0].Bytes() != 150 || over.Packets() != 0 {
				t.Fatalf("two packets of one flow accounted as %+v, overflow %+v", flows, over)
			}
		}
	})
}

// TestDecodeSeeds: every packet of the test pcaps decodes, and the
// non-IP ones are the ARP frames (and the like) the captures hold.
func TestDecodeSeeds(t *testing.T) {
	kinds, pkts := seedPackets(t)
	var ip, other int
	for i, d := range pkts {
		var p pktInfo
		if decode(kinds[i], d, &p) {
			ip++
			if (p.proto == protoTCP || p.proto == protoUDP) && !p.hasL4 && !p.frag {
				t.Errorf("packet %d: %v > %v proto %d without ports", i, p.src, p.dst, p.proto)
			}
		} else {
			other++
			if p.etype == etherIPv4 || p.etype == etherIPv6 {
				t.Errorf("packet %d: IP ethertype %#04x not decoded", i, p.etype)
			}
		}
	}
	if ip < 10*other {
		t.Errorf("%d IP packets, %d others", ip, other)
	}
}

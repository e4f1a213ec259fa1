//go:build linux

package capture

import (
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
)

// fuzzFilters cover what pcap_compile emits: absolute and indirect loads
// (IPv4 header length, VLAN offsets), BPF_LEN, ALU, scratch memory, every
// jump.
var fuzzFilters = []string{
	"tcp",
	"vlan and (tcp port 8080 or udp port 53)",
	"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0",
	"greater 1000",
	"less 100",
	"ip[2:2] - ((ip[0]&0xf)<<2) - ((tcp[12]&0xf0)>>2) > 0",
	"ip6 and ip6[6] == 44",
	"vlan and vlan and udp",
	"icmp[icmptype] == icmp-echo or icmp6",
	"net 198.18.0.0/15 and portrange 1000-9000",
	"ip[8] * 3 / 2 % 7 > 2",
	"ether[len - 4:4] != 0",
}

// FuzzPacketFilter checks the Go interpreter against libpcap's
// pcap_offline_filter on arbitrary packets, for programs that pcap_compile
// emits.
func FuzzPacketFilter(f *testing.F) {
	type pair struct{ gobpf, cgo matcher }
	progs := make([]pair, len(fuzzFilters))
	for i, expr := range fuzzFilters {
		g, err := compileFilter(dltEthernet, expr)
		if err != nil {
			f.Fatal(err)
		}
		if _, ok := g.(bpfProg); !ok {
			f.Fatalf("%q: the Go interpreter refused libpcap's program", expr)
		}
		c, err := compileFilterCgo(dltEthernet, expr)
		if err != nil {
			f.Fatal(err)
		}
		progs[i] = pair{g, c}
	}
	pkts, _ := loadPackets(f, filepath.Join(pcapDir, "mixed-vlan.pcap"))
	for i, p := range pkts {
		if i%7 == 0 {
			f.Add(uint8(i), uint16(p.ci.Length), p.data)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, wire uint16, data []byte) {
		pr := progs[int(which)%len(progs)]
		ci := gopacket.CaptureInfo{CaptureLength: len(data), Length: int(wire)}
		if g, c := pr.gobpf.Matches(ci, data), pr.cgo.Matches(ci, data); g != c {
			t.Fatalf("%q on %d bytes (wire %d): Go %v, libpcap %v", fuzzFilters[int(which)%len(progs)], len(data), wire, g, c)
		}
	})
}

// TestFilterEnginesAgree runs every filter on every test packet in both
// engines.
func TestFilterEnginesAgree(t *testing.T) {
	for _, file := range testPcaps(t) {
		pkts, dlt := loadPackets(t, file)
		for _, expr := range append(fuzzFilters, filterExprs...) {
			g, err := compileFilter(dlt, expr)
			if err != nil {
				continue // "vlan" on a cooked capture
			}
			c, err := compileFilterCgo(dlt, expr)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pkts {
				if g.Matches(p.ci, p.data) != c.Matches(p.ci, p.data) {
					t.Errorf("%s %q: engines disagree on a packet of %d bytes", filepath.Base(file), expr, p.ci.Length)
				}
			}
		}
	}
}

//go:build linux

package capture

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"github.com/wiretop/wiretop/capture/internal/pcapgen"
	"golang.org/x/net/bpf"
)

// testPacket is one packet of a test pcap, copied out of libpcap.
type testPacket struct {
	ci   gopacket.CaptureInfo
	data []byte
}

// loadPackets reads every packet of file; it returns them with the link
// type.
func loadPackets(tb testing.TB, file string) ([]testPacket, int) {
	tb.Helper()
	h, err := pcap.OpenOffline(file)
	if err != nil {
		tb.Fatal(err)
	}
	defer h.Close()
	var pkts []testPacket
	for {
		data, ci, err := h.ReadPacketData()
		if err != nil {
			break
		}
		pkts = append(pkts, testPacket{ci, data})
	}
	if len(pkts) == 0 {
		tb.Fatalf("no packets in %s", file)
	}
	return pkts, int(h.LinkType())
}

// vmMatcher runs libpcap's compiled program in golang.org/x/net/bpf's
// virtual machine, the pure-Go alternative to pcap_offline_filter.
type vmMatcher struct{ vm *bpf.VM }

func (m vmMatcher) Matches(_ gopacket.CaptureInfo, data []byte) bool {
	n, err := m.vm.Run(data)
	return err == nil && n > 0
}

func newVMMatcher(tb testing.TB, dlt int, expr string) matcher {
	tb.Helper()
	ins, err := pcap.CompileBPFFilter(layers.LinkType(dlt), WriteSnaplen, expr)
	if err != nil {
		tb.Fatal(err)
	}
	raw := make([]bpf.RawInstruction, len(ins))
	for i, in := range ins {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	prog, ok := bpf.Disassemble(raw)
	if !ok {
		tb.Fatalf("x/net/bpf cannot decode the program of %q", expr)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		tb.Fatal(err)
	}
	return vmMatcher{vm}
}

const benchFilter = "vlan and (tcp port 8080 or udp port 53)"

// BenchmarkPacketPath is the per-packet work of the loop: decode, flow
// update and packet filter, over the packets of mixed-vlan.pcap (TCP and UDP
// over IPv4 and IPv6, 802.1Q). It must not allocate. The filter variants:
// none; libpcap's pcap_offline_filter through cgo (what the package uses);
// the same program in x/net/bpf's pure-Go VM.
func BenchmarkPacketPath(b *testing.B) {
	file := filepath.Join(pcapDir, "mixed-vlan.pcap")
	pkts, dlt := loadPackets(b, file)
	for _, v := range []struct {
		name string
		m    func() matcher
	}{
		{"nofilter", nil},
		{"gobpf", func() matcher { m, _ := compileFilter(dlt, benchFilter); return m }},
		{"cgo", func() matcher { m, _ := compileFilterCgo(dlt, benchFilter); return m }},
		{"xnetbpf", func() matcher { return newVMMatcher(b, dlt, benchFilter) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			c, err := Open(Options{ReplayFile: file})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if v.m != nil {
				c.pf.Store(&packetFilter{expr: benchFilter, m: v.m()})
			}
			l := newTestLoop(c)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := &pkts[i%len(pkts)]
				l.packet(p.data, &p.ci)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// BenchmarkFilter compares the two packet filter engines alone.
func BenchmarkFilter(b *testing.B) {
	file := filepath.Join(pcapDir, "mixed-vlan.pcap")
	pkts, dlt := loadPackets(b, file)
	gb, err := compileFilter(dlt, benchFilter)
	if err != nil {
		b.Fatal(err)
	}
	if _, ok := gb.(bpfProg); !ok {
		b.Fatalf("compileFilter returned a %T", gb)
	}
	cg, err := compileFilterCgo(dlt, benchFilter)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []struct {
		name string
		m    matcher
	}{{"gobpf", gb}, {"cgo", cg}, {"xnetbpf", newVMMatcher(b, dlt, benchFilter)}} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for i := 0; i < b.N; i++ {
				p := &pkts[i%len(pkts)]
				if v.m.Matches(p.ci, p.data) {
					n++
				}
			}
			if b.N >= len(pkts) && n == 0 {
				b.Fatal("nothing matched")
			}
		})
	}
}

// genPcap writes a synthetic capture (capture/internal/pcapgen) once per
// test binary run.
func genPcap(tb testing.TB, name string, o pcapgen.Options) string {
	tb.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("wiretop-bench-%s-%d.pcap", name, os.Getpid()))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pcapgen.Write(f, o); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkReplay1M replays a 1-million-packet capture (10,000 flows, TCP
// and UDP over IPv4 and IPv6, snaplen 256) as fast as possible through
// Open and Run, with a consumer summing the batches per flow.
func BenchmarkReplay1M(b *testing.B) {
	const n = 1000000
	path := genPcap(b, "1m", pcapgen.Options{Packets: n, Flows: 10000, Seed: 1})
	b.Cleanup(func() { os.Remove(path) })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := Open(Options{ReplayFile: path})
		if err != nil {
			b.Fatal(err)
		}
		res := drive(b, c)
		c.Close()
		if res.err != nil || res.packets() != n {
			b.Fatalf("replay: %d packets, %v", res.packets(), res.err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

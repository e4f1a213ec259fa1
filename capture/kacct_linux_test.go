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
	for _, path := range files {
		pkts, cis, dlt := readPackets(t, path)
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
			flows, other, err := k.read(newLocalSet(nil), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			kern := map[FlowKey]FlowDelta{}
			for _, d := range flows {
				if _, dup := kern[d.Key]; dup {
					t.Errorf("flow %v twice in one read", d.Key)
				}
				kern[d.Key] = d
			}
			want := replay(t, Options{ReplayFile: tmp, Interval: time.Hour}, nil)
			if want.err != nil {
				t.Fatal(want.err)
			}
			if k.stats.Received != uint64(ran) {
				t.Errorf("kernel saw %d packets, ran %d", k.stats.Received, ran)
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

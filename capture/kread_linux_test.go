//go:build linux

package capture

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// floodInterval runs one interval of a spoofed SYN flood through the program: n bare SYNs of
// new flows towards victim:80, from the sources first, first+1, ... (BPF_PROG_TEST_RUN, on
// the calling thread's CPU).
func floodInterval(tb testing.TB, k *kacct, victim netip.Addr, first, n int) {
	tb.Helper()
	for i := range n {
		s, sp := spoofed(first + i)
		if _, err := k.prog.Run(&ebpf.RunOptions{Data: tcpFrame(s, victim, sp, 80, tcpSYN)}); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkKernelReadFlood times the read of one interval of a spoofed SYN flood through the
// program on one CPU (BPF_PROG_TEST_RUN before each read, not timed):
//
//   - admitted: the full budget (kacctBudget, kept: FlowCap/8/ncpu, 4,096 on 2 CPUs) of new
//     flows an interval, none over it, beside the flows of the intervals before until the
//     user-space table is crowded and evicts them; ns/flow is per flow admitted in the
//     interval: what each one costs the read.
//   - flood: twice the full budget of SYNs an interval with the budget as it adapts
//     (kacctStartBudget, then kacctFloodBudget); ns/op is what a read costs under the flood.
func BenchmarkKernelReadFlood(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for _, mode := range []string{"admitted", "flood"} {
		b.Run(mode, func(b *testing.B) {
			pinCPU(b)
			k, err := loadKacct(DefaultFlowCap)
			if err != nil {
				b.Fatal(err)
			}
			defer k.close()
			victim := netip.MustParseAddr("198.18.223.2")
			ls := newLocalSet([]netip.Addr{victim})
			n := 2 * int(k.budget)
			if mode == "admitted" {
				if err := k.keepFullBudget(); err != nil {
					b.Fatal(err)
				}
				n = int(k.budget)
			}
			src, rows := 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				floodInterval(b, k, victim, src, n)
				src += n
				b.StartTimer()
				flows, _, _, err := k.read(ls, 2*time.Minute, nil, false)
				if err != nil {
					b.Fatal(err)
				}
				rows += len(flows)
			}
			if mode == "admitted" && rows < b.N*n {
				b.Fatalf("%d rows in %d reads of %d admitted flows", rows, b.N, n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(rows, 1)), "ns/flow")
			b.ReportMetric(float64(rows)/float64(b.N), "flows/read")
		})
	}
}

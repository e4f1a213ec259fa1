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

// BenchmarkKernelReadFlood times the read of one interval of a spoofed SYN flood's admitted
// flows: the budget's worth of new flows (FlowCap/8/ncpu on the one CPU: 4,096 on 2 CPUs),
// none aggregated (so the budget stays the full one), beside the flows of the intervals
// before, until the user-space table is crowded and evicts them. ns/flow is per flow
// admitted in the interval.
func BenchmarkKernelReadFlood(b *testing.B) {
	if testing.Short() {
		b.Skip("short")
	}
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	pinCPU(b)
	k, err := loadKacct(DefaultFlowCap)
	if err != nil {
		b.Fatal(err)
	}
	defer k.close()
	victim := netip.MustParseAddr("198.18.223.2")
	ls := newLocalSet([]netip.Addr{victim})
	k.level = budgetBusy // the full budget: none is aggregated, so it stays
	n := int(k.budget)
	src := 0
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
		if len(flows) < n/2 {
			b.Fatalf("%d flows read, %d admitted", len(flows), n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/flow")
}

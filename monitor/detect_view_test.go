package monitor

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wiretop/wiretop/capture"
)

// TestDetectViewRemotes: the view's bytes per remote address are the sums of the interval's
// flows to it (two flows to one host, one to another); an interval without bytes has none,
// and a table over its cap leaves the overflow row out.
func TestDetectViewRemotes(t *testing.T) {
	st := liveState(Options{})
	a1 := fk(pTCP, "198.18.61.1:40000", "198.18.61.2:443")
	a2 := fk(pTCP, "198.18.61.1:40001", "198.18.61.2:22")
	b := fk(pUDP, "198.18.61.1:5353", "198.18.61.3:53")
	st.ApplyBatch(batchAt(0, fd(a1, 100, 5000), fd(a2, 20, 300), fd(b, 70, 0)))
	closeWith(st, 1, 1e9)
	var v DetectView
	st.DetectView(&v)
	got := map[netip.Addr][2]uint64{}
	for _, r := range v.Remotes {
		got[r.Remote] = [2]uint64{r.RxBytes, r.TxBytes}
	}
	want := map[netip.Addr][2]uint64{netip.MustParseAddr("198.18.61.2"): {120, 5300}, netip.MustParseAddr("198.18.61.3"): {70, 0}}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("remotes (-want +got):\n%s", diff)
	}
	closeWith(st, 2, 1e9)
	st.DetectView(&v)
	if len(v.Remotes) != 0 {
		t.Errorf("a silent interval has remotes %v", v.Remotes)
	}

	st = liveState(Options{TalkerCap: 2})
	st.ApplyBatch(batchAt(0, fd(a1, 100, 5000), fd(a2, 20, 300), fd(b, 70, 0)))
	closeWith(st, 1, 1e9)
	st.DetectView(&v)
	var sum uint64
	for _, r := range v.Remotes {
		if !r.Remote.IsValid() {
			t.Errorf("the overflow row is a remote: %+v", r)
		}
		sum += r.RxBytes + r.TxBytes
	}
	if sum >= 5490 {
		t.Errorf("remotes hold %d bytes, the overflow row's included", sum)
	}
}

// TestDetectViewOverflowPackets: the packets of a batch's Overflow (flows that found the
// capture's flow table full) are counted in the interval's view, two batches summed, and
// the next interval starts from none.
func TestDetectViewOverflowPackets(t *testing.T) {
	st := liveState(Options{})
	a := fk(pTCP, "198.18.61.1:80", "198.18.61.2:40000")
	b1 := batchAt(0, fd(a, 100, 100))
	b1.Overflow = capture.FlowDelta{RxBytes: 5400, RxPackets: 100, Flags: 0x02}
	b2 := batchAt(0)
	b2.Overflow = capture.FlowDelta{RxBytes: 540, RxPackets: 10, TxBytes: 58, TxPackets: 1}
	st.ApplyBatch(b1)
	st.ApplyBatch(b2)
	closeWith(st, 1, 1e9)
	var v DetectView
	st.DetectView(&v)
	if v.FlowOverflowPackets != 111 {
		t.Errorf("FlowOverflowPackets %d, want 111 (100 + 10 + 1)", v.FlowOverflowPackets)
	}
	st.ApplyBatch(batchAt(1, fd(a, 100, 0)))
	closeWith(st, 2, 1e9)
	st.DetectView(&v)
	if v.FlowOverflowPackets != 0 {
		t.Errorf("an interval without overflow: FlowOverflowPackets %d, want 0", v.FlowOverflowPackets)
	}
}

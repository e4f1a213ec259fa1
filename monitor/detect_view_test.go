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

// TestAggregateRow: an aggregate row of the capture (capture.FlowDelta.Flows: a victim's
// SYNs from sources the kernel path gave no row each) is one talker whose remote is "*" in
// the JSON, with its flows per interval and over the session; its fact carries the count,
// and it is no remote address for the detectors. An ordinary flow beside it is one flow.
func TestAggregateRow(t *testing.T) {
	st := liveState(Options{})
	agg := fk(pTCP, "198.18.206.2:80", "0.0.0.0:0")
	one := fk(pTCP, "198.18.206.2:80", "198.18.206.1:40000")
	syns := func(k capture.FlowKey, n uint64) capture.FlowDelta {
		return capture.FlowDelta{Key: k, RxPackets: n, RxBytes: 54 * n, Flags: 0x02, Handshake: capture.HsSynIn, Flows: n}
	}
	plain := syns(one, 1)
	plain.Flows = 0
	first := syns(agg, 5000)
	first.FlowsAcked = 40
	st.ApplyBatch(batchAt(0, first, plain))
	closeWith(st, 1, 1e9)
	var v DetectView
	st.DetectView(&v)
	var counts []uint64
	for i := range v.Flows {
		counts = append(counts, max(v.Flows[i].Flows, 1))
		if v.Flows[i].Key == agg && (v.Flows[i].Flows != 5000 || v.Flows[i].FlowsAcked != 40) {
			t.Errorf("the aggregate's fact says %d flows, %d completed; want 5000, 40", v.Flows[i].Flows, v.Flows[i].FlowsAcked)
		}
	}
	if len(counts) != 2 || counts[0]+counts[1] != 5001 {
		t.Errorf("facts stand for %v flows, want 5000 and 1", counts)
	}
	for _, r := range v.Remotes {
		if r.Remote.IsUnspecified() {
			t.Errorf("the aggregate row is a remote: %+v", r)
		}
	}
	st.ApplyBatch(batchAt(1, syns(agg, 300)))
	closeWith(st, 2, 1e9)
	rec := st.SampleRecord(10, StatusRecord{})
	var found bool
	for _, r := range rec.Talkers {
		if r.LocalPort == 80 && r.RemoteAddr == "*" {
			found = true
			if r.Flows != 300 || r.RxPackets != 300 {
				t.Errorf("aggregate record %+v: want 300 flows, 300 packets in the last interval", r)
			}
		} else if r.Flows != 0 {
			t.Errorf("an ordinary talker with flows: %+v", r)
		}
	}
	if !found {
		t.Fatalf("no aggregate talker (remote *) in %+v", rec.Talkers)
	}
	for _, tk := range st.Talkers(TalkerQuery{}) {
		if tk.Key == agg && (!tk.Aggregate || tk.FlowsTotal != 5300) {
			t.Errorf("aggregate talker: Aggregate %v, FlowsTotal %d, want true, 5300", tk.Aggregate, tk.FlowsTotal)
		}
		if tk.Key == one && tk.Aggregate {
			t.Errorf("an ordinary flow marked aggregate")
		}
	}
}

package monitor

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
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

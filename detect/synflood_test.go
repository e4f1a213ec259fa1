package detect

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
)

// TestSynFloodFactsCapped: when the monitor's view dropped flow facts (past
// monitor.MaxFlowFacts), the per-port finding says its counts are a floor: facts_capped,
// facts_dropped and "at least" in the summary; so it does when the capture's flow table was
// full (overflow_packets); when neither, it says so too.
func TestSynFloodFactsCapped(t *testing.T) {
	victim := netip.AddrPortFrom(mustAddr("198.18.0.1"), 80)
	var flows []monitor.FlowFact
	for i := range 300 {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), uint16(1024+i))
		flows = append(flows, monitor.FlowFact{Key: capture.FlowKey{Proto: 6, Local: victim, Remote: src},
			Handshake: capture.HsSynIn | capture.HsSynAckOut, Flags: 0x02, RxBytes: 54, TxBytes: 58})
	}
	for _, tc := range []struct {
		dropped  int
		overflow uint64
		atLeast  bool
	}{{0, 0, false}, {70_000, 0, true}, {0, 5000, true}} {
		e := New(&RuleSet{Rules: []*Rule{{Name: RuleSynFlood, Severity: Critical, Enabled: true, Attack: true, Detector: newSynFlood()}}})
		now := time.Date(2026, 3, 2, 10, 0, 1, 0, time.UTC)
		alerts := e.Eval(&View{Time: now, Elapsed: time.Second, Capture: true, Flows: flows, FlowFactsDropped: tc.dropped, FlowOverflowPackets: tc.overflow}, now)
		if len(alerts) != 1 || alerts[0].Key != "syn_flood/"+victim.String() || alerts[0].State != Firing {
			t.Fatalf("dropped %d: alerts %v, want syn_flood/%s firing", tc.dropped, alerts, victim)
		}
		a := alerts[0]
		ev := a.Evidence
		t.Logf("dropped %d: %s; evidence %v", tc.dropped, a.Summary, ev)
		if ev["half_open"] != 300 || ev["facts_capped"] != tc.atLeast || ev["facts_dropped"] != tc.dropped || ev["overflow_packets"] != tc.overflow {
			t.Errorf("dropped %d, overflow %d: half_open %v, facts_capped %v, facts_dropped %v, overflow_packets %v: want 300, %v, %d, %d",
				tc.dropped, tc.overflow, ev["half_open"], ev["facts_capped"], ev["facts_dropped"], ev["overflow_packets"], tc.atLeast, tc.dropped, tc.overflow)
		}
		if got := strings.Contains(a.Summary, "at least 300 half-open"); got != tc.atLeast {
			t.Errorf("dropped %d: summary %q: says \"at least 300 half-open\" %v, want %v", tc.dropped, a.Summary, got, tc.atLeast)
		}
	}
}

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

// TestSynFloodAggregated: the capture's kernel path gave 40 sources a row each and counted
// the rest of the flood's SYNs in one aggregate row for the victim (FlowFact.Flows 5,000):
// syn_flood counts the row's flows, not one, and says how many were aggregated. Twin: the
// same aggregate with 20 flows, under min_half_open, stays quiet, as 20 sources would; and
// so does a burst of 5,000 real connections beyond the budget, whose handshakes the clients
// completed (FlowsAcked: their ACKs started rows of their own).
func TestSynFloodAggregated(t *testing.T) {
	victim := netip.AddrPortFrom(mustAddr("198.18.206.2"), 8099)
	for _, tc := range []struct {
		aggregated, acked int
		fire              bool
	}{{5000, 0, true}, {20, 0, false}, {5000, 5000, false}} {
		var flows []monitor.FlowFact
		n := 40
		if !tc.fire {
			n = 0
		}
		for i := range n {
			src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(1024+i))
			flows = append(flows, monitor.FlowFact{Key: capture.FlowKey{Proto: 6, Local: victim, Remote: src},
				Handshake: capture.HsSynIn | capture.HsSynAckOut, Flags: 0x12, RxBytes: 54, TxBytes: 58})
		}
		flows = append(flows, monitor.FlowFact{Key: capture.FlowKey{Proto: 6, Local: victim, Remote: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)},
			Handshake: capture.HsSynIn | capture.HsSynAckOut, Flags: 0x12, RxBytes: 54 * uint64(tc.aggregated), TxBytes: 58 * uint64(tc.aggregated),
			Flows: uint64(tc.aggregated), FlowsAcked: uint64(tc.acked)})
		e := New(&RuleSet{Rules: []*Rule{
			{Name: RuleSynFlood, Severity: Critical, Enabled: true, Attack: true, Detector: newSynFlood()},
			{Name: RulePortScan, Severity: Warning, Enabled: true, Attack: true, Detector: newPortScan()},
		}})
		now := time.Date(2026, 3, 2, 10, 0, 1, 0, time.UTC)
		alerts := e.Eval(&View{Time: now, Elapsed: time.Second, Capture: true, Flows: flows}, now)
		if !tc.fire {
			if len(alerts) != 0 {
				t.Errorf("%d aggregated, %d acked: alerts %v", tc.aggregated, tc.acked, alerts)
			}
			continue
		}
		if len(alerts) != 1 || alerts[0].Key != "syn_flood/"+victim.String() || alerts[0].State != Firing {
			t.Fatalf("alerts %v, want syn_flood/%s firing", alerts, victim)
		}
		a := alerts[0]
		t.Logf("%s; evidence %v", a.Summary, a.Evidence)
		ev := a.Evidence
		if ev["half_open"] != 5040 || ev["aggregated"] != 5000 || ev["sources"] != 40 || ev["syn_acked"] != 5040 {
			t.Errorf("evidence %v: want half_open 5040, aggregated 5000, sources 40, syn_acked 5040", ev)
		}
		if !strings.Contains(a.Summary, "from 40 sources and 5000 aggregated SYNs") {
			t.Errorf("summary %q does not say how many were aggregated", a.Summary)
		}
	}
}

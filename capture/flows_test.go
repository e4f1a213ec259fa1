package capture

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func testKey(i int) FlowKey {
	return FlowKey{
		Proto:  protoUDP,
		Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 50, 1}), 53),
		Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), uint16(i)),
	}
}

// TestFlowTableModel drives the table with random packets and evictions
// and checks it against a map: every packet lands in its flow or in the
// overflow, nothing is lost or counted twice, and lookups keep working after
// backward-shift deletions.
func TestFlowTableModel(t *testing.T) {
	const capacity = 64
	tab := newFlowTable(capacity)
	rng := rand.New(rand.NewPCG(1, 2))
	inTable := map[FlowKey]bool{}
	last := map[FlowKey]int64{}
	var sent, counted uint64
	for round := int64(1); round <= 200; round++ {
		for i := 0; i < 100; i++ {
			k := testKey(rng.IntN(150))
			tab.account(&k, rng.IntN(2) == 0, 10, 0, round)
			sent++
			if !inTable[k] && tab.n > len(inTable) {
				inTable[k] = true
			}
			if inTable[k] {
				last[k] = round
			}
		}
		flows, over, _ := tab.swap()
		seen := map[FlowKey]bool{}
		for _, f := range flows {
			if seen[f.Key] {
				t.Fatalf("round %d: flow %v twice in one batch", round, f.Key)
			}
			seen[f.Key] = true
			if !inTable[f.Key] {
				t.Fatalf("round %d: flow %v reported but never entered the table", round, f.Key)
			}
			counted += f.Packets()
			if f.Bytes() != 10*f.Packets() {
				t.Fatalf("flow %+v: bytes do not add up", f)
			}
		}
		counted += over.Packets()
		if tab.n > capacity || tab.n != len(inTable) {
			t.Fatalf("round %d: table holds %d, model %d, cap %d", round, tab.n, len(inTable), capacity)
		}
		// Evict flows idle for 3 rounds.
		n := tab.evict(round - 3)
		evicted := 0
		for k, r := range last {
			if r < round-3 {
				delete(inTable, k)
				delete(last, k)
				evicted++
			}
		}
		if n != evicted {
			t.Fatalf("round %d: evicted %d, model %d", round, n, evicted)
		}
	}
	if sent != counted {
		t.Fatalf("sent %d packets, batches count %d", sent, counted)
	}
}

// TestOrientLowerPort: without local addresses the lower port is the local
// (server) side; with them, the host's address is local.
func TestOrientLowerPort(t *testing.T) {
	cli := netip.MustParseAddr("198.18.50.2")
	srv := netip.MustParseAddr("198.18.50.1")
	var k FlowKey
	if tx := orient(newLocalSet(nil), protoTCP, cli, 40000, srv, 443, &k); tx || k.Local.Port() != 443 {
		t.Errorf("client to server without local addresses: tx=%v key %v", tx, k)
	}
	if tx := orient(newLocalSet([]netip.Addr{cli}), protoTCP, cli, 40000, srv, 443, &k); !tx || k.Local.Addr() != cli {
		t.Errorf("from the local client: tx=%v key %v", tx, k)
	}
}

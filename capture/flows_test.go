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

// synKey is the i-th flow of a spoofed SYN flood towards 198.18.214.1:80.
func synKey(i int) FlowKey {
	return FlowKey{
		Proto:  protoTCP,
		Local:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 214, 1}), 80),
		Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024+i)),
	}
}

// evictTable runs fill (the packets of a full table's flows) through a table of capacity
// flows in interval 1, an empty interval 2, then in interval 3 one UDP packet for each of
// capacity new flows, each interval swapped and evicted as the loop does (idle timeout far
// away). It returns the rows and overflow of interval 3, the flows in the table after
// interval 2, and whether every packet is in a row, overflow or other.
func evictTable(t *testing.T, capacity int, fill func(tab *flowTable) uint64) (rows int, over uint64, kept int) {
	t.Helper()
	tab := newFlowTable(capacity)
	sent := fill(tab)
	var counted uint64
	sweep := func(ivl int64) []FlowDelta {
		flows, o, other := tab.swap()
		for _, f := range flows {
			counted += f.Packets()
		}
		counted += o.Packets() + other.Packets
		over = o.Packets()
		tab.evict(ivl - 1000) // the idle timeout: long after these intervals
		return flows
	}
	sweep(1)
	sweep(2)
	kept = tab.n
	for i := range capacity {
		k := testKey(i)
		tab.account(&k, false, 100, 0, 3)
		sent++
	}
	rows = len(sweep(3))
	if counted != sent {
		t.Errorf("rows, overflow and other hold %d packets, %d accounted", counted, sent)
	}
	return rows, over, kept
}

// TestFlowTableEvictsFleeting: a table full of spoofed SYNs (each answered by a SYN-ACK, some
// by a RST) evicts them, once an interval without their packets has passed, before the idle
// timeout: the next interval's new flows all get rows, none goes to overflow. The twin is
// TestFlowTableKeepsRealFlows.
func TestFlowTableEvictsFleeting(t *testing.T) {
	const capacity = 256
	rows, over, kept := evictTable(t, capacity, func(tab *flowTable) (sent uint64) {
		for i := range capacity {
			k := synKey(i)
			tab.account(&k, false, 54, tcpSYN, 1)
			if i%2 == 0 {
				tab.account(&k, true, 54, tcpSYN|tcpACK, 1)
			} else {
				tab.account(&k, true, 54, tcpRST|tcpACK, 1)
			}
			sent += 2
		}
		return sent
	})
	if kept != 0 || rows != capacity || over != 0 {
		t.Errorf("after the flood: %d flows kept; then %d new flows: %d rows, %d packets in overflow; want 0, %d rows, 0", kept, capacity, rows, over, capacity)
	}
}

// TestFlowTableKeepsRealFlows: a table full of connections (handshake, then data), of
// three-packet SYN flows (a SYN-ACK retransmitted) and of UDP flows of one packet keeps them
// until the idle timeout, crowded or not: the next interval's new flows find it full.
func TestFlowTableKeepsRealFlows(t *testing.T) {
	const capacity = 256
	rows, over, kept := evictTable(t, capacity, func(tab *flowTable) (sent uint64) {
		for i := range capacity {
			switch k := synKey(i); i % 3 {
			case 0: // established
				tab.account(&k, false, 54, tcpSYN, 1)
				tab.account(&k, true, 54, tcpSYN|tcpACK, 1)
				tab.account(&k, false, 54, tcpACK, 1)
				sent += 3
			case 1: // three handshake packets
				tab.account(&k, false, 54, tcpSYN, 1)
				tab.account(&k, true, 54, tcpSYN|tcpACK, 1)
				tab.account(&k, true, 54, tcpSYN|tcpACK, 1)
				sent += 3
			default: // not TCP
				k.Proto = protoUDP
				tab.account(&k, false, 54, 0, 1)
				sent++
			}
		}
		return sent
	})
	if kept != capacity || rows != 0 || over != capacity {
		t.Errorf("after the flows: %d kept; then %d new flows: %d rows, %d packets in overflow; want %d, 0 rows, %d", kept, capacity, rows, over, capacity, capacity)
	}
}

// TestFlowTableEvictsOnlyWhenCrowded: the same SYN flows in a table at most 3/4 full stay
// until the idle timeout.
func TestFlowTableEvictsOnlyWhenCrowded(t *testing.T) {
	tab := newFlowTable(256)
	for i := range 192 {
		k := synKey(i)
		tab.account(&k, false, 54, tcpSYN, 1)
	}
	for ivl := range int64(3) {
		tab.swap()
		tab.evict(ivl - 1000)
	}
	if tab.n != 192 {
		t.Errorf("%d of 192 SYN flows kept in a table of 256, want all", tab.n)
	}
	k := synKey(192) // one more: crowded
	tab.account(&k, false, 54, tcpSYN, 1)
	tab.swap()
	tab.evict(-1000)
	// The old ones leave; the new one, seen in the interval just closed, stays.
	if e := tab.lookupTest(&k); tab.n != 1 || e == nil {
		t.Errorf("%d SYN flows kept in a crowded table (the newest: %v), want only the newest", tab.n, e != nil)
	}
}

// lookupTest returns the entry of k, nil when the table does not hold it.
func (t *flowTable) lookupTest(k *FlowKey) *flowEntry {
	fk := toFkey(k)
	h := t.hash(&fk)
	for i := h & t.mask; t.slots[i] != 0; i = (i + 1) & t.mask {
		if e := &t.entries[int32(t.slots[i])-1]; e.key.equal(&fk) {
			return e
		}
	}
	return nil
}

//go:build linux

package capture

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// pinCPU keeps the test's goroutine on one thread and that thread on one CPU until the test
// ends: the program's budget is per CPU, and a thread that moved would spend two.
func pinCPU(t testing.TB) {
	t.Helper()
	runtime.LockOSThread()
	var old, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		t.Fatal(err)
	}
	cpu := 0
	for !old.IsSet(cpu) {
		cpu++
	}
	one.Set(cpu)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	})
}

// tcpFrame builds a 54-byte Ethernet, IPv4 and TCP frame with the given flags.
func tcpFrame(src, dst netip.Addr, sport, dport uint16, flags uint8) []byte {
	f := make([]byte, 54)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0], ip[3], ip[8], ip[9] = 0x45, 40, 64, 6
	s, d := src.As4(), dst.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	tcp[12], tcp[13] = 5<<4, flags
	return f
}

// spoofed returns the i-th spoofed source of a flood: a distinct address and port.
func spoofed(i int) (netip.Addr, uint16) {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(1024 + i%60000)
}

// flowEntries counts the entries of the kernel's flow map.
func flowEntries(t *testing.T, k *kacct) int {
	t.Helper()
	var (
		key kkey
		n   int
	)
	vals := make([]kval, k.ncpu)
	it := k.flows.Iterate()
	for it.Next(&key, &vals) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestKernelSynBudget: a spoofed SYN flood through the tc program (BPF_PROG_TEST_RUN) to a
// local port that answers every SYN with a SYN-ACK. Per interval the program creates at most
// its budget of new entries (per CPU); the SYNs of new flows beyond it, and the SYN-ACKs that
// answer them, are one aggregate row towards the victim (Remote 0.0.0.0:0, Flows the SYNs
// aggregated, rx the SYNs, tx the SYN-ACKs, FlowsAcked the handshakes that half the clients
// complete, whose ACKs start rows of their own), and flows, aggregate and overflow add up to
// every packet sent. A known flow, a UDP flow and a SYN-ACK of a SYN that has its entry are
// counted as before, beyond the budget too. The quiet twin is TestKernelSynBudgetQuiet.
func TestKernelSynBudget(t *testing.T) {
	needRoot(t)
	pinCPU(t)
	const flowCap = 4096
	k, err := loadKacct(flowCap)
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	budget := int(k.budget) // the most new entries an interval may create on the one CPU
	if k.budget != uint32(flowCap/8/k.ncpu) {
		t.Fatalf("budget %d per CPU, want flowCap/8/ncpu = %d", k.budget, flowCap/8/k.ncpu)
	}
	victim := netip.MustParseAddr("198.18.206.2")
	client := netip.MustParseAddr("198.18.206.1")
	ls := newLocalSet([]netip.Addr{victim})
	run := func(f []byte) {
		t.Helper()
		if _, err := k.prog.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatal(err)
		}
	}
	// A connection established before the flood: its packets in the flood must stay its own.
	known := tcpFrame(client, victim, 40000, 22, tcpACK)
	run(tcpFrame(client, victim, 40000, 22, tcpSYN))
	var sent, sum, over uint64 = 1, 0, 0
	n := 3 * budget // SYNs per interval
	src := 0
	for ivl := range 3 {
		before := flowEntries(t, k)
		for i := range n {
			s, sp := spoofed(src)
			src++
			run(tcpFrame(s, victim, sp, 80, tcpSYN))
			run(tcpFrame(victim, s, 80, sp, tcpSYN|tcpACK)) // the victim answers every one
			sent += 2
			if i%2 == 0 { // and half the clients complete the handshake
				run(tcpFrame(s, victim, sp, 80, tcpACK))
				sent++
			}
			if i%100 == 0 {
				run(known)
				sent++
			}
		}
		// Beyond the budget: a new UDP flow gets its row, as before.
		run(func() []byte {
			f := make([]byte, 60)
			copy(f[12:], []byte{0x08, 0x00, 0x45, 0, 0, 46, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 206, 1, 198, 18, 206, 2, 0x9c, 0x40, 0, 53, 0, 26})
			f[35] = byte(ivl) // a new source port each interval
			return f
		}())
		sent++
		created := flowEntries(t, k) - before
		flows, o, _, err := k.read(ls, time.Hour, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		over += o.Packets()
		var agg []FlowDelta
		var rows, acked, udp int
		var knownP uint64
		for _, d := range flows {
			sum += d.Packets()
			switch {
			case d.Aggregate():
				agg = append(agg, d)
			case d.Key.Proto == protoUDP:
				udp++
			case d.Key.Local.Port() == 22:
				knownP = d.Packets()
			case d.Handshake&HsSynIn == 0:
				acked++ // the ACK of a handshake counted in the aggregate: a row of its own
			default:
				rows++
			}
		}
		// Beyond the budget: the SYN-ACK of the last SYN that had its entry, the UDP flow and
		// the ACKs that complete handshakes (no handshake packets: entries as before).
		if created > budget+2+acked {
			t.Errorf("interval %d: %d new entries in the flow map, budget %d (+2, +%d ACKs)", ivl, created, budget, acked)
		}
		if len(agg) != 1 {
			t.Fatalf("interval %d: %d aggregate rows, want 1: %+v", ivl, len(agg), agg)
		}
		a := agg[0]
		wantKey := FlowKey{Proto: protoTCP, Local: netip.AddrPortFrom(victim, 80), Remote: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)}
		if a.Key != wantKey {
			t.Errorf("aggregate key %v, want %v", a.Key, wantKey)
		}
		// Each SYN has a row or is in the aggregate, and so has its SYN-ACK.
		if a.Flows != a.RxPackets || a.RxPackets != a.TxPackets || a.RxPackets+uint64(rows) != uint64(n) {
			t.Errorf("interval %d: aggregate %d flows, %d SYNs in, %d SYN-ACKs out; %d SYNs with a row; sent %d", ivl, a.Flows, a.RxPackets, a.TxPackets, rows, n)
		}
		if want := uint64(acked); a.FlowsAcked != want || want == 0 || want > a.Flows/2+1 {
			t.Errorf("interval %d: aggregate says %d handshakes completed, %d ACK rows", ivl, a.FlowsAcked, acked)
		}
		if a.Flags != tcpSYN|tcpACK || a.Handshake != HsSynIn|HsSynAckOut || a.RxBytes != 54*a.RxPackets {
			t.Errorf("aggregate flags %#x handshake %#x bytes %d", a.Flags, a.Handshake, a.RxBytes)
		}
		// The rows are pairs (a SYN with its entry, its SYN-ACK counted with it).
		if rows == 0 || rows > budget/2+1 {
			t.Errorf("interval %d: %d flows with a row, budget %d entries", ivl, rows, budget)
		}
		want := uint64((n + 99) / 100)
		if ivl == 0 {
			want++ // its SYN
		}
		if knownP != want || udp != 1 {
			t.Errorf("interval %d: the known flow %d packets (sent %d), %d UDP rows (want 1)", ivl, knownP, want, udp)
		}
		t.Logf("interval %d: %d SYNs: %d rows, %d aggregated (%d completed); %d new entries (budget %d)", ivl, n, rows, a.Flows, a.FlowsAcked, created, budget)
	}
	if sum+over != sent {
		t.Fatalf("flows %d + overflow %d = %d packets, sent %d", sum, over, sum+over, sent)
	}
}

// TestKernelSynBudgetQuiet: fewer new flows than the budget a capture starts with
// (kacctStartBudget), SYNs and their SYN-ACKs to one port: every flow has its own row, none
// is aggregated.
func TestKernelSynBudgetQuiet(t *testing.T) {
	needRoot(t)
	pinCPU(t)
	k, err := loadKacct(4096)
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	victim := netip.MustParseAddr("198.18.206.2")
	ls := newLocalSet([]netip.Addr{victim})
	n := int(k.curBudget()) / 2 // SYN and SYN-ACK: two entries a flow, on one CPU at worst
	for i := range n {
		s, sp := spoofed(i)
		for _, f := range [][]byte{tcpFrame(s, victim, sp, 80, tcpSYN), tcpFrame(victim, s, 80, sp, tcpSYN|tcpACK)} {
			if _, err := k.prog.Run(&ebpf.RunOptions{Data: f}); err != nil {
				t.Fatal(err)
			}
		}
	}
	flows, o, _, err := k.read(ls, time.Hour, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var pk uint64
	for _, d := range flows {
		if d.Aggregate() {
			t.Errorf("an aggregate row under the budget: %+v", d)
		}
		pk += d.Packets()
	}
	if len(flows) != n || pk != uint64(2*n) || o.Packets() != 0 {
		t.Errorf("%d rows with %d packets (overflow %d), sent %d flows of 2 packets", len(flows), pk, o.Packets(), n)
	}
}

// TestKacctVictimDelta: the conversion of the victim map's per-CPU counters into aggregate
// rows, without the kernel: deltas since the last read, counted afresh when the LRU
// re-created the entry, nothing for an entry that did not grow.
func TestKacctVictimDelta(t *testing.T) {
	k := &kacct{vprev: map[kvkey]*kvprev{}}
	key := kvkey{Port: 443, Proto: 6, Is4: 1}
	copy(key.Addr[:], netip.MustParseAddr("::ffff:198.18.206.2").AsSlice())
	cpu := func(in, out uint64, syns, synacks, rsts uint32) kvval {
		return kvval{InPackets: in, InBytes: 60 * in, OutPackets: out, OutBytes: 54 * out, First: 1e9, Last: 2e9,
			Syns: syns, Synacks: synacks, Rsts: rsts}
	}
	read := func(v ...kvval) []FlowDelta {
		k.seq++
		var flows []FlowDelta
		k.victim(&key, v, &flows)
		return flows
	}
	d := read(cpu(100, 40, 100, 40, 0), cpu(50, 0, 50, 0, 0))
	want := FlowDelta{
		Key:       FlowKey{Proto: 6, Local: netip.MustParseAddrPort("198.18.206.2:443"), Remote: netip.MustParseAddrPort("0.0.0.0:0")},
		RxPackets: 150, RxBytes: 9000, TxPackets: 40, TxBytes: 2160, Flags: tcpSYN | tcpACK, Handshake: HsSynIn | HsSynAckOut,
		First: time.Unix(1, 0), Last: time.Unix(2, 0), Flows: 150,
	}
	if len(d) != 1 || d[0] != want {
		t.Fatalf("first read:\n got %+v\nwant %+v", d, want)
	}
	// The next interval: only the growth, RSTs this time.
	d = read(cpu(110, 45, 110, 40, 5), cpu(50, 0, 50, 0, 0))
	if len(d) != 1 || d[0].RxPackets != 10 || d[0].TxPackets != 5 || d[0].Flows != 10 || d[0].Flags != tcpSYN|tcpRST || d[0].Handshake != HsSynIn|HsRstOut {
		t.Fatalf("second read: %+v", d)
	}
	if d = read(cpu(110, 45, 110, 40, 5), cpu(50, 0, 50, 0, 0)); len(d) != 0 {
		t.Fatalf("no growth, yet %+v", d)
	}
	// Completions arrive in an interval without SYNs: kept for the next row, which says them.
	if d = read(cpu(110, 45, 110, 40, 5), cpu(50, 0, 50, 0, 0)); len(d) != 0 {
		t.Fatalf("no growth, yet %+v", d)
	}
	c := cpu(110, 45, 110, 40, 5)
	c.Acks = 7
	if d = read(c, cpu(50, 0, 50, 0, 0)); len(d) != 0 {
		t.Fatalf("only completions, yet %+v", d)
	}
	c = cpu(120, 45, 120, 40, 5)
	c.Acks = 9
	if d = read(c, cpu(50, 0, 50, 0, 0)); len(d) != 1 || d[0].Flows != 10 || d[0].FlowsAcked != 9 {
		t.Fatalf("completions: %+v, want 10 flows, 9 acked", d)
	}
	// The LRU evicted and re-created the entry: its counters are smaller, all of them new.
	if d = read(cpu(3, 0, 3, 0, 0)); len(d) != 1 || d[0].RxPackets != 3 || d[0].Flows != 3 {
		t.Fatalf("after re-creation: %+v", d)
	}
	// Merging two intervals of the same aggregate sums its flows; an ordinary flow stays one.
	a, b := FlowDelta{Flows: 3, RxPackets: 3}, FlowDelta{Flows: 4, RxPackets: 4}
	a.add(&b)
	o := FlowDelta{RxPackets: 1}
	o.add(&FlowDelta{RxPackets: 2})
	if a.Flows != 7 || !a.Aggregate() || o.Flows != 0 || o.Aggregate() {
		t.Errorf("merged aggregate %d flows (aggregate %v), merged flow %d (aggregate %v)", a.Flows, a.Aggregate(), o.Flows, o.Aggregate())
	}
}

// floodRead runs one interval of n spoofed SYNs towards victim:80 (completed, when acked, by
// the client's ACK after the victim's SYN-ACK), reads it, and returns the SYN flows that got
// a row, the SYNs aggregated and the new entries the interval created in the flow map.
func floodRead(t *testing.T, k *kacct, ls *localSet, victim netip.Addr, src *int, n int, acked bool) (rows int, agg uint64, created int) {
	t.Helper()
	run := func(f []byte) {
		t.Helper()
		if _, err := k.prog.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatal(err)
		}
	}
	before := flowEntries(t, k)
	for range n {
		s, sp := spoofed(*src)
		*src++
		run(tcpFrame(s, victim, sp, 80, tcpSYN))
		if acked {
			run(tcpFrame(victim, s, 80, sp, tcpSYN|tcpACK))
			run(tcpFrame(s, victim, sp, 80, tcpACK))
		}
	}
	created = flowEntries(t, k) - before
	flows, _, _, err := k.read(ls, time.Hour, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range flows {
		switch {
		case d.Aggregate():
			agg += d.Flows
		case d.Handshake&HsSynIn != 0:
			rows++
		}
	}
	return rows, agg, created
}

// TestKernelFloodBudget: a capture starts with the start budget (kacctStartBudget); a spoofed
// SYN flood that completes no handshake (every packet a new flow, no client ACK) spends it
// in its first interval, and the read that finds the rest over the budget, none completed,
// lowers it to the flood's (kacctFloodBudget) until a read finds none over it. While the
// flood lasts the SYN flows of an interval leave the map at the next read (fleeting), so
// that a read walks only the last interval's. A busy server (SYNs over the budget, their
// handshakes completed) earns the full budget (kacctBudget), which the next flood's first
// interval spends. The twin is TestKernelFloodBudgetBusyServer.
func TestKernelFloodBudget(t *testing.T) {
	needRoot(t)
	pinCPU(t)
	k, err := loadKacct(DefaultFlowCap)
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	budget, start, fb := int(k.budget), int(k.startBudget), int(k.floodBudget)
	if budget != DefaultFlowCap/8/k.ncpu || start != DefaultFlowCap/32/k.ncpu || fb != DefaultFlowCap/256/k.ncpu {
		t.Fatalf("budgets %d, %d, %d per CPU: want flowCap/8, /32 and /256 over %d CPUs", budget, start, fb, k.ncpu)
	}
	victim := netip.MustParseAddr("198.18.223.2")
	ls := newLocalSet([]netip.Addr{victim})
	src := 0
	n := 2 * budget
	base := 0 // the entries of flows that are not fleeting
	flood := func(what string, want int) {
		t.Helper()
		rows, agg, created := floodRead(t, k, ls, victim, &src, n, false)
		e := flowEntries(t, k)
		t.Logf("%s: %d SYNs: %d rows, %d aggregated, %d new entries; %d entries after the read", what, n, rows, agg, created, e)
		if rows != want || created != want || agg != uint64(n-want) {
			t.Errorf("%s: %d SYNs: %d rows, %d new entries, %d aggregated; want %d rows", what, n, rows, created, agg, want)
		}
		if e > base+max(want, 2*fb) {
			t.Errorf("%s: %d entries in the map after the read; want the interval's %d (+%d)", what, e, want, base)
		}
		if !k.flood || k.level != budgetFlood {
			t.Errorf("%s: flood %v, budget level %d: want the flood's", what, k.flood, k.level)
		}
	}
	flood("a flood's first interval", start)
	flood("its second", fb)
	flood("its third", fb)
	// A quiet interval (a few SYNs, under the budget) ends the flood.
	if rows, agg, _ := floodRead(t, k, ls, victim, &src, fb/2, false); rows != fb/2 || agg != 0 || k.flood || k.level != budgetStart {
		t.Errorf("after the flood, %d SYNs: %d rows, %d aggregated, flood %v, level %d", fb/2, rows, agg, k.flood, k.level)
	}
	flood("a second flood's first interval", start)
	flood("its second", fb)
	// A busy server: connections over the budget, completed.
	if rows, agg, _ := floodRead(t, k, ls, victim, &src, start, true); rows != fb/2 || agg == 0 || k.flood || k.level != budgetBusy {
		t.Errorf("%d connections: %d rows, %d aggregated, flood %v, level %d; want %d rows and the full budget", start, rows, agg, k.flood, k.level, fb/2)
	}
	base = flowEntries(t, k) // the connections' entries, which stay
	flood("a third flood's first interval, on a busy server", budget)
	flood("its second", fb)
}

// TestKernelFloodBudgetBusyServer: more new connections an interval than the budget, each
// completed by its client's ACK (a busy server, not a flood), earn the full budget from the
// second interval on and keep it; those beyond it have their rows from the ACK on.
func TestKernelFloodBudgetBusyServer(t *testing.T) {
	needRoot(t)
	pinCPU(t)
	k, err := loadKacct(DefaultFlowCap)
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	budget, start := int(k.budget), int(k.startBudget)
	victim := netip.MustParseAddr("198.18.223.2")
	ls := newLocalSet([]netip.Addr{victim})
	src := 0
	n := budget // SYN and SYN-ACK are two entries: half of them get rows
	for ivl, want := range []int{start / 2, budget / 2, budget / 2} {
		rows, agg, created := floodRead(t, k, ls, victim, &src, n, true)
		t.Logf("interval %d: %d connections: %d rows from their SYN, %d aggregated, %d new entries", ivl, n, rows, agg, created)
		if rows < want-1 || rows > want || agg == 0 {
			t.Errorf("interval %d: %d connections: %d rows from their SYN, %d aggregated; want %d rows", ivl, n, rows, agg, want)
		}
	}
	if k.flood || k.level != budgetBusy {
		t.Errorf("completed handshakes: flood %v, budget level %d", k.flood, k.level)
	}
}

package monitor

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// liveState returns a State with capture on after its baseline sample.
func liveState(opts Options) *State {
	opts.Capture = true
	st := New(opts)
	st.Apply(sample(0, true, nil, nil))
	return st
}

// closeWith applies a regular sample i of the given length.
func closeWith(st *State, i int, el time.Duration) {
	s := sample(i, false, nil, nil)
	s.Elapsed = el
	st.Apply(s)
}

func talkerByKey(st *State, k capture.FlowKey) Talker {
	for _, t := range st.Talkers(TalkerQuery{}) {
		if t.Key == k {
			return t
		}
	}
	return Talker{}
}

func TestTalkerWindows(t *testing.T) {
	k := fk(pTCP, "198.18.60.1:443", "198.18.60.2:50000")
	type step struct {
		rx, tx uint64 // bytes in the interval (0, 0: the flow is silent)
		el     time.Duration
		rx2    float64 // expected 2s, 10s, 40s rx rates after the interval
		rx10   float64
		rx40   float64
		tx2    float64
	}
	steps := []step{
		{100, 10, time.Second, 100, 100, 100, 10},
		{200, 0, time.Second, 150, 150, 150, 5},
		{0, 0, time.Second, 100, 100, 100, 0},
		{400, 30, time.Second, 200, 175, 175, 15},
		{1000, 0, time.Second, 700, 340, 340, 15},
		// a 2 s interval: the 2s window covers it alone; 10s and 40s cover all 6 s
		{600, 0, 2 * time.Second, 300, 2300.0 / 7, 2300.0 / 7, 0},
		// the 2s window covers this 1 s interval only: with the 2 s one it would span 3 s
		{0, 0, time.Second, 0, 2300.0 / 8, 2300.0 / 8, 0},
	}
	// then silent 1 s intervals: 10s drops what is older than 12 s, 40s keeps it all
	for i := 0; i < 6; i++ {
		steps = append(steps, step{0, 0, time.Second, 0, 0, 0, 0})
	}
	// steps 7..12: 1 s each; after step 12 the run is 14 s long. The 10s window covers
	// what fits in 12.5 s: steps 2..12 (step 5 is 2 s), 12 s with 400+1000+600 bytes
	steps[12].rx10 = 2000.0 / 12
	steps[12].rx40 = 2300.0 / 14
	for i := 7; i < 12; i++ { // the 10s window drops steps 0 and 1 along the way: not checked
		steps[i].rx10, steps[i].rx40 = -1, -1
	}

	st := liveState(Options{})
	var rxTot, txTot uint64
	for i, s := range steps {
		if s.rx+s.tx > 0 {
			st.ApplyBatch(batchAt(i, fd(k, s.rx, s.tx)))
		}
		rxTot += s.rx
		txTot += s.tx
		closeWith(st, i+1, s.el)
		got := talkerByKey(st, k)
		if got.RxBytes != s.rx || got.TxBytes != s.tx {
			t.Errorf("step %d: interval bytes %d/%d, want %d/%d", i, got.RxBytes, got.TxBytes, s.rx, s.tx)
		}
		if got.RxTotal != rxTot || got.TxTotal != txTot {
			t.Errorf("step %d: totals %d/%d, want %d/%d", i, got.RxTotal, got.TxTotal, rxTot, txTot)
		}
		if got.Rx[0] != s.rx2 || got.Tx[0] != s.tx2 {
			t.Errorf("step %d: 2s rx/tx = %v/%v, want %v/%v", i, got.Rx[0], got.Tx[0], s.rx2, s.tx2)
		}
		if s.rx10 >= 0 && (!near(got.Rx[1], s.rx10) || !near(got.Rx[2], s.rx40)) {
			t.Errorf("step %d: 10s/40s rx = %v/%v, want %v/%v", i, got.Rx[1], got.Rx[2], s.rx10, s.rx40)
		}
	}
	// long silence: every window empties and the ring is released
	for i := 0; i < 50; i++ {
		closeWith(st, 100+i, time.Second)
	}
	got := talkerByKey(st, k)
	if got.Rx != [3]float64{} || got.Tx != [3]float64{} || got.RxTotal != rxTot {
		t.Errorf("after 50 s of silence: rates %v/%v total %d", got.Rx, got.Tx, got.RxTotal)
	}
	if n := len(st.recent); n != 0 {
		t.Errorf("%d talkers still in the window list", n)
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

// TestTalkerWindowShortInterval: at a 100 ms interval the 40s window spans more intervals
// than a talker's ring holds: a steady 1000 B/s still reads 1000 B/s in every window.
func TestTalkerWindowShortInterval(t *testing.T) {
	k := fk(pUDP, "198.18.60.1:5000", "198.18.60.2:5000")
	st := liveState(Options{})
	for i := 0; i < 700; i++ {
		b := batchAt(i, fd(k, 100, 50))
		st.ApplyBatch(b)
		closeWith(st, i+1, 100*time.Millisecond)
	}
	got := talkerByKey(st, k)
	want := [3]float64{1000, 1000, 1000}
	for w := range want {
		if !near(got.Rx[w], want[w]) || !near(got.Tx[w], want[w]/2) {
			t.Errorf("window %s: %v/%v, want %v/%v", WindowNames[w], got.Rx[w], got.Tx[w], want[w], want[w]/2)
		}
	}
	if n := st.talker(k).ring.n; n > maxRing {
		t.Errorf("ring holds %d points, cap %d", n, maxRing)
	}
}

// totalsOf sums every row of Talkers (the overflow row included).
func totalsOf(ts []Talker) (bytes, packets uint64) {
	for _, t := range ts {
		bytes += t.RxTotal + t.TxTotal
		packets += t.RxPacketsTotal + t.TxPacketsTotal
	}
	return bytes, packets
}

func TestEvictionAndOverflowKeepTotals(t *testing.T) {
	const capN = 16 // evicts above 15, down to 14
	st := liveState(Options{TalkerCap: capN})
	key := func(i int) capture.FlowKey {
		return fk(pTCP, "198.18.60.1:80", fmt.Sprintf("198.18.61.%d:%d", i/200, 1024+i))
	}
	var sentBytes, sentPackets uint64
	feed := func(i int, flows ...capture.FlowDelta) {
		b := batchAt(i, flows...)
		for _, f := range b.Flows {
			sentBytes += f.Bytes()
			sentPackets += f.Packets()
		}
		st.ApplyBatch(b)
		closeWith(st, i+1, time.Second)
	}
	var fl []capture.FlowDelta
	for i := 0; i < 20; i++ {
		fl = append(fl, fd(key(i), 100, 100))
	}
	feed(0, fl...) // 16 rows, 4 to the overflow row
	if st.TalkerCount() != capN || st.Evicted() != 0 {
		t.Fatalf("after 20 flows: %d talkers, %d evicted", st.TalkerCount(), st.Evicted())
	}
	// flows 0..2 stay active; 5 new flows find the table full
	feed(1, fd(key(0), 1, 1), fd(key(1), 1, 1), fd(key(2), 1, 1),
		fd(key(30), 10, 0), fd(key(31), 10, 0), fd(key(32), 10, 0), fd(key(33), 10, 0), fd(key(34), 10, 0))
	// above 15 talkers: the close evicted the two least recently seen idle ones
	if st.TalkerCount() != capN-2 || st.Evicted() != 2 {
		t.Fatalf("after eviction: %d talkers, %d evicted; want %d, 2", st.TalkerCount(), st.Evicted(), capN-2)
	}
	for i := 0; i < 3; i++ {
		if st.talker(key(i)) == nil {
			t.Errorf("active talker %d was evicted", i)
		}
	}
	feed(2, fd(key(40), 7, 7), fd(key(41), 7, 7)) // they get the room; the table fills again: 2 more go
	if st.talker(key(40)) == nil {
		t.Error("a new flow did not get the room eviction made")
	}
	if st.TalkerCount() != capN-2 || st.Evicted() != 4 {
		t.Fatalf("after the second eviction: %d talkers, %d evicted; want %d, 4", st.TalkerCount(), st.Evicted(), capN-2)
	}
	all := st.Talkers(TalkerQuery{})
	bytes, packets := totalsOf(all)
	if bytes != sentBytes || packets != sentPackets {
		t.Errorf("talkers total %d bytes %d packets, sent %d bytes %d packets", bytes, packets, sentBytes, sentPackets)
	}
	var over *Talker
	for i := range all {
		if all[i].Overflow() {
			over = &all[i]
		}
	}
	// overflow: 4 flows x 200 + 5 x 10 + 4 evicted x 200
	if over == nil || over.RxTotal+over.TxTotal != 800+50+800 {
		t.Errorf("overflow row = %+v, want 1650 bytes", over)
	}
	sum := st.SummaryRecord(StatusRecord{})
	var sb uint64
	for _, r := range sum.Talkers {
		sb += r.RxBytes + r.TxBytes
	}
	if sb != sentBytes || len(sum.Talkers) != st.TalkerCount()+1 {
		t.Errorf("summary: %d bytes in %d talkers, want %d in %d", sb, len(sum.Talkers), sentBytes, st.TalkerCount()+1)
	}
	if u, _ := st.Unattributed(); u.RxBytes != 14 || u.TxBytes != 14 {
		t.Errorf("unattributed last interval = %+v, want 14/14 (nothing attributed)", u)
	}
}

func TestTalkerIdleEviction(t *testing.T) {
	st := liveState(Options{TalkerIdle: 20 * time.Second})
	old := fk(pUDP, "198.18.60.1:53", "198.18.60.2:4000")
	busy := fk(pUDP, "198.18.60.1:53", "198.18.60.3:4000")
	st.ApplyBatch(batchAt(0, fd(old, 10, 10)))
	for i := 0; i < 64; i++ {
		st.ApplyBatch(batchAt(i, fd(busy, 1, 1)))
		closeWith(st, i+1, time.Second)
	}
	if st.talker(old) != nil {
		t.Error("a talker silent for 60 s is still in the table")
	}
	if st.talker(busy) == nil {
		t.Error("the busy talker was evicted")
	}
	if b, _ := totalsOf(st.Talkers(TalkerQuery{})); b != 20+128 {
		t.Errorf("total = %d, want 148", b)
	}
}

func TestTalkersQuery(t *testing.T) {
	a := fk(pTCP, "198.18.60.1:443", "198.18.60.2:50000")
	b := fk(pTCP, "198.18.60.1:443", "198.18.60.2:50001")
	c := fk(pUDP, "198.18.60.1:53", "198.18.60.2:50002")
	d := fk(pTCP, "[fd00:198:18:60::1]:22", "[fd00:198:18:60::5]:60000")
	socks := []sampler.Socket{listen("0.0.0.0:443", 7)}
	st := New(Options{})
	st.Apply(sample(0, true, socks, nil, 7))
	// a: big long ago; b: steady; c: a burst in the last interval; d: small
	st.ApplyBatch(batchAt(0, fd(a, 90000, 0), fd(b, 1000, 0), fd(d, 10, 0)))
	st.Apply(sample(1, false, socks, nil, 7))
	for i := 1; i < 5; i++ {
		st.ApplyBatch(batchAt(i, fd(b, 1000, 0)))
		st.Apply(sample(i+1, false, socks, nil, 7))
	}
	st.ApplyBatch(batchAt(5, fd(b, 1000, 0), fd(c, 3000, 0), fd(d, 10, 0)))
	st.Apply(sample(6, false, socks, nil, 7))

	keys := func(ts []Talker) []string {
		var out []string
		for _, t := range ts {
			out = append(out, t.Proto+" "+t.Key.Local.String()+" "+t.Key.Remote.String())
		}
		return out
	}
	ka, kb, kc, kd := "tcp 198.18.60.1:443 198.18.60.2:50000", "tcp 198.18.60.1:443 198.18.60.2:50001",
		"udp 198.18.60.1:53 198.18.60.2:50002", "tcp [fd00:198:18:60::1]:22 [fd00:198:18:60::5]:60000"
	tests := []struct {
		name string
		q    TalkerQuery
		want []string
	}{
		{"2s", TalkerQuery{Sort: TalkerSortRate, Window: 0}, []string{kc, kb, kd, ka}},
		{"40s", TalkerQuery{Sort: TalkerSortRate, Window: 2}, []string{ka, kb, kc, kd}},
		{"total", TalkerQuery{Sort: TalkerSortTotal}, []string{ka, kb, kc, kd}},
		{"last interval, active only", TalkerQuery{Sort: TalkerSortLast, ActiveOnly: true}, []string{kc, kb, kd}},
		{"limit", TalkerQuery{Sort: TalkerSortTotal, Limit: 2}, []string{ka, kb}},
		{"limit 3 by 2s", TalkerQuery{Sort: TalkerSortRate, Limit: 3}, []string{kc, kb, kd}},
		{"filter address", TalkerQuery{Sort: TalkerSortTotal, Filter: "60.2:5000"}, []string{ka, kb, kc}},
		{"filter comm, case", TalkerQuery{Sort: TalkerSortTotal, Filter: "PROC7"}, []string{ka, kb}},
		{"filter pid", TalkerQuery{Sort: TalkerSortTotal, Filter: " 7 "[1:2]}, []string{ka, kb}},
		{"filter ipv6", TalkerQuery{Filter: "fd00:198:18:60::5"}, []string{kd}},
		{"filter proto", TalkerQuery{Sort: TalkerSortTotal, Filter: "udp"}, []string{kc}},
		{"filter nothing", TalkerQuery{Filter: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, keys(st.Talkers(tt.q))); d != "" {
				t.Errorf("order (-want +got):\n%s", d)
			}
		})
	}

	pairs := st.Talkers(TalkerQuery{By: ByHostPair, Sort: TalkerSortTotal})
	if len(pairs) != 2 {
		t.Fatalf("host pairs = %+v", pairs)
	}
	p := pairs[0]
	want := Talker{Key: capture.FlowKey{Local: p.Key.Local, Remote: p.Key.Remote}, Proto: MixedProto,
		RxBytes: 4000, RxPackets: 40, RxTotal: 90000 + 6000 + 3000, RxPacketsTotal: 900 + 60 + 30,
		Rx:    [3]float64{(1000 + 1000 + 3000) / 2.0, (90000 + 6000 + 3000) / 6.0, (90000 + 6000 + 3000) / 6.0},
		First: t0, Last: t0.Add(5*time.Second + 500*time.Millisecond)}
	if p.Key.Local.String() != "198.18.60.1:0" || p.Key.Remote.String() != "198.18.60.2:0" {
		t.Errorf("pair key = %v", p.Key)
	}
	if d := cmp.Diff(want, p, cmpopts.EquateComparable(netip.AddrPort{})); d != "" {
		t.Errorf("host pair (-want +got):\n%s", d)
	}
	if pairs[1].Proto != "tcp" || pairs[1].RxTotal != 20 {
		t.Errorf("second pair = %+v", pairs[1])
	}
}

func TestPacketRing(t *testing.T) {
	st := New(Options{Capture: true, PacketRing: 3})
	mk := func(n ...int) []capture.PacketSummary {
		var out []capture.PacketSummary
		for _, i := range n {
			out = append(out, capture.PacketSummary{Time: t0.Add(time.Duration(i) * time.Millisecond), Length: i})
		}
		return out
	}
	b := batchAt(0)
	b.Packets = mk(1, 2)
	st.ApplyBatch(b)
	b = batchAt(1)
	b.Packets = mk(3, 4)
	b.PacketsMatched = 7
	st.ApplyBatch(b)
	var lens []int
	for _, p := range st.Packets(nil) {
		lens = append(lens, p.Length)
	}
	if d := cmp.Diff([]int{2, 3, 4}, lens); d != "" {
		t.Errorf("ring, newest last (-want +got):\n%s", d)
	}
	if recs := st.PacketRecords(); len(recs) != 2 || recs[0].Length != 3 || recs[1].Type != "packet" {
		t.Errorf("packet records of the last batch = %+v", recs)
	}
	if c := st.Capture(); !c.On || c.Matched != 7 || c.MatchedTotal != 7 || c.Batches != 2 {
		t.Errorf("capture = %+v", c)
	}
}

// TestWinRingSinceAll checks the nested window search against a plain sum over the ticks
// pushed, on rings of every size with gaps, trimming and drops (a fixed random sequence).
func TestWinRingSinceAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	type pt struct {
		tick   uint32
		rx, tx uint64
	}
	drops := 0
	for run := 0; run < 200; run++ {
		var r winRing
		var all []pt
		tick := uint32(0)
		horizon := uint32(0)
		steps := 1 + rng.IntN(400)
		for step := 0; step < steps; step++ {
			tick += 1 + uint32(rng.IntN(3))
			if run%2 == 1 && rng.IntN(4) == 0 && tick > 60 { // even runs fill the ring: drops
				horizon = tick - 60
			}
			p := pt{tick, uint64(rng.IntN(1000)), uint64(rng.IntN(10))}
			r.push(p.tick, p.rx, p.tx, horizon)
			all = append(all, p)
		}
		// what the ring still covers: after the horizon and after the newest drop
		floor := max(horizon, r.dropped)
		a := uint32(rng.IntN(int(tick) + 2))
		b := a + uint32(rng.IntN(20))
		c := b + uint32(rng.IntN(20))
		from := [3]uint32{max(c, floor), max(b, floor), max(a, floor)}
		var want [3][2]uint64
		for w := range from {
			for _, p := range all {
				if p.tick > from[w] && p.tick > floor {
					want[w][0] += p.rx
					want[w][1] += p.tx
				}
			}
		}
		if r.dropped > 0 {
			drops++
		}
		rx, tx := r.sinceAll(from)
		got := [3][2]uint64{{rx[0], tx[0]}, {rx[1], tx[1]}, {rx[2], tx[2]}}
		if got != want {
			t.Fatalf("run %d: from %v (floor %d, n %d): got %v, want %v", run, from, floor, r.n, got, want)
		}
	}
	if drops < 20 {
		t.Errorf("only %d runs filled the ring: the drop path is hardly tested", drops)
	}
}

// TestTalkerMemoryFollowsCap: a replay of many more flows than the cap (a spoofed flood: a
// new flow per packet, each interval) keeps at most the cap of talkers, and the talkers
// ever allocated stay within the cap plus what one eviction frees (evicted ones are
// reused): memory follows the cap, not the file. It also checks that nothing is lost.
func TestTalkerMemoryFollowsCap(t *testing.T) {
	const capN, perBatch, batches = 1024, 600, 50 // 30,000 flows through a table of 1,024
	st := New(Options{Replay: true, TalkerCap: capN})
	var sent uint64
	for i := range batches {
		flows := make([]capture.FlowDelta, perBatch)
		for j := range flows {
			n := i*perBatch + j
			remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), uint16(1024+n%60000))
			flows[j] = capture.FlowDelta{Key: capture.FlowKey{Proto: pTCP, Local: netip.MustParseAddrPort("198.18.60.1:80"), Remote: remote},
				RxBytes: 60, RxPackets: 1, Flags: 0x02}
			sent += 60
		}
		st.ApplyBatch(batchAt(i, flows...))
		if n := st.TalkerCount(); n > capN {
			t.Fatalf("batch %d: %d talkers, over the cap of %d", i, n, capN)
		}
		var v DetectView
		st.DetectView(&v)
	}
	// evict keeps the table under 15/16 of the cap down to 7/8: one eviction frees about
	// capN/8 talkers, reused after the next close
	if limit := capN + capN/4 + talkerChunk; st.talkersMade > limit {
		t.Errorf("%d talkers allocated for a cap of %d over %d flows: want at most %d (reuse)", st.talkersMade, capN, batches*perBatch, limit)
	}
	if st.Evicted() == 0 {
		t.Error("nothing was evicted: the test does not exercise reuse")
	}
	bytes, _ := totalsOf(st.Talkers(TalkerQuery{}))
	if bytes != sent {
		t.Errorf("talkers total %d bytes, sent %d", bytes, sent)
	}
}

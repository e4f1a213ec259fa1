package monitor

import (
	"cmp"
	"container/heap"
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wiretop/wiretop/capture"
)

// OverflowProto is the Proto of the overflow row: flows that found the talker table (or the
// capture's flow table) full, and the session totals of talkers evicted to make room. With
// it, the talkers always add up to everything that was captured in flows.
const OverflowProto = "overflow"

// MixedProto is the Proto of a host pair whose flows use more than one protocol.
const MixedProto = "mixed"

// Talker is one flow (or, from a ByHostPair query, one host pair), oriented local/remote as
// the capture oriented it: rx is traffic towards Key.Local, tx traffic from it.
type Talker struct {
	Key   capture.FlowKey // ports 0 for a host pair; zero for the overflow row
	Proto string          // "tcp", "udp", "icmp", ...; OverflowProto; MixedProto for a host pair

	RxBytes, TxBytes     uint64 // bytes in the last interval
	RxPackets, TxPackets uint64 // packets in the last interval

	RxTotal, TxTotal               uint64 // bytes over the session
	RxPacketsTotal, TxPacketsTotal uint64 // packets over the session

	// Rx and Tx are the average rates in bytes per second over monitor.Windows (2s, 10s,
	// 40s), computed like Series.Window over the intervals closed so far.
	Rx, Tx [3]float64

	PID  int    // the owning process; 0 when unknown (or, for a host pair, not one process)
	Comm string // the process's comm when PID is known

	First, Last time.Time // when the flow was first and last seen (capture clock)

	// Aggregate says the row is an aggregate of flows to one victim that the kernel path
	// did not give a row each (capture.FlowDelta.Flows; a SYN flood's spoofed sources):
	// Key.Remote is the unspecified address with port 0, shown as "*". Flows is how many
	// flows it stood for in the last interval, FlowsTotal over the session.
	Aggregate         bool
	Flows, FlowsTotal uint64
}

// Overflow reports whether t is the overflow row.
func (t *Talker) Overflow() bool { return t.Proto == OverflowProto }

// talker is a Talker with its open interval, its window ring and its attribution.
type talker struct {
	Talker
	curRx, curTx   uint64 // bytes of the open interval
	curRxP, curTxP uint64 // packets of the open interval
	curFlows       uint64 // flows of an aggregate row in the open interval

	ring     winRing
	idx      int  // position in State.list
	touched  bool // in State.touched (bytes in the open interval)
	inRecent bool // in State.recent (ring entries inside the longest window)
	evicted  bool

	attr    attribution
	retries int
	search  string // lowercased text for TalkerQuery.Filter, built when first needed
}

// winPoint is a talker's ring entry for one closed interval (tick) in which it moved bytes:
// the ring's cumulative byte counts up to and including that interval, so that the bytes of
// any window are a difference found by binary search.
type winPoint struct {
	tick   uint32
	rx, tx uint64 // cumulative since the ring was last empty
}

// maxRing bounds a talker's window ring: it holds only the intervals in which the talker
// moved bytes, up to this many. At the default 1 s interval the 40 s window (which covers
// up to 50 intervals, see Series.Window) fits; at shorter intervals a talker busy in every
// one of them has its 40 s figure averaged over the span its ring still covers.
const maxRing = 128

// maxIntervals bounds the durations of closed intervals kept for the windows.
const maxIntervals = 512

// winRing is a growable circular buffer of winPoints (its length a power of two), oldest
// first, sorted by tick. It starts small and is released when the talker falls out of every
// window, so memory follows the talkers that are active, not every talker of the table.
type winRing struct {
	buf            []winPoint
	head, n        int
	baseRx, baseTx uint64 // cumulative counts before the oldest entry
	cumRx, cumTx   uint64 // cumulative counts of the newest entry
	dropped        uint32 // tick of the newest entry dropped because the ring was full (0: none)
	// small is the first buf, in place: most talkers (a flood's one-packet flows) never
	// need more, and then cost no allocation. A winRing is not copied: buf may point here.
	small [4]winPoint
}

func (r *winRing) at(i int) *winPoint { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

// popFront drops the oldest entry, its counts becoming the base.
func (r *winRing) popFront() {
	p := r.at(0)
	r.baseRx, r.baseTx = p.rx, p.tx
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
}

// push records the bytes of interval tick, first dropping entries at or before horizon
// (outside every window).
func (r *winRing) push(tick uint32, rx, tx uint64, horizon uint32) {
	for r.n > 0 && r.at(0).tick <= horizon {
		r.popFront()
	}
	switch {
	case len(r.buf) == 0:
		r.buf = r.small[:]
	case r.n == len(r.buf) && len(r.buf) < maxRing:
		nb := make([]winPoint, 2*len(r.buf))
		for i := 0; i < r.n; i++ {
			nb[i] = *r.at(i)
		}
		r.buf, r.head = nb, 0
	case r.n == len(r.buf):
		r.dropped = r.at(0).tick
		r.popFront()
	}
	r.cumRx += rx
	r.cumTx += tx
	*r.at(r.n) = winPoint{tick, r.cumRx, r.cumTx}
	r.n++
}

// firstAfter returns the index of the first entry in [lo, hi) with a tick after from (hi
// when none), by binary search: ticks are sorted.
func (r *winRing) firstAfter(from uint32, lo, hi int) int {
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if r.at(h).tick <= from {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// sinceAll returns the bytes of the entries after each of from, which must not decrease
// from window to window (from[0] >= from[1] >= from[2]: nested windows). The shortest
// window is found by a short scan from the newest entry, the others by binary search
// inside what is left, so that a busy talker's ring is touched in few cache lines.
func (r *winRing) sinceAll(from [3]uint32) (rx, tx [3]uint64) {
	i := r.n
	for i > 0 && i > r.n-4 && r.at(i-1).tick > from[0] {
		i--
	}
	if i > 0 && i == r.n-4 && r.at(i-1).tick > from[0] {
		i = r.firstAfter(from[0], 0, i)
	}
	idx := [3]int{i}
	for w := 1; w < 3; w++ {
		switch {
		case idx[w-1] == 0 || r.at(0).tick > from[w]:
			idx[w] = 0
		default:
			idx[w] = r.firstAfter(from[w], 0, idx[w-1])
		}
	}
	for w, i := range idx {
		if i == r.n {
			continue
		}
		bx, btx := r.baseRx, r.baseTx
		if i > 0 {
			p := r.at(i - 1)
			bx, btx = p.rx, p.tx
		}
		rx[w], tx[w] = r.cumRx-bx, r.cumTx-btx
	}
	return rx, tx
}

func (r *winRing) release() { *r = winRing{} }

// newest returns the tick of the newest entry (0 when empty).
func (r *winRing) newest() uint32 {
	if r.n == 0 {
		return 0
	}
	return r.at(r.n - 1).tick
}

// durRing keeps the durations of the latest closed intervals, newest last.
type durRing struct {
	buf  [maxIntervals]time.Duration
	next int
	n    int
}

func (d *durRing) push(e time.Duration) {
	d.buf[d.next] = e
	d.next = (d.next + 1) % maxIntervals
	if d.n < maxIntervals {
		d.n++
	}
}

// last returns the duration of the i-th latest interval (0: the latest).
func (d *durRing) last(i int) time.Duration { return d.buf[(d.next-1-i+2*maxIntervals)%maxIntervals] }

// sum returns the duration of the k latest intervals.
func (d *durRing) sum(k int) time.Duration {
	var el time.Duration
	for i := 0; i < k && i < d.n; i++ {
		el += d.last(i)
	}
	return el
}

// spans returns, for each window, how many of the latest intervals it covers and their
// duration, by the rule of Series.Window: at least the latest interval, then older ones
// while the total stays within the window plus a quarter.
func (d *durRing) spans() (k [3]int, el [3]time.Duration) {
	for w, win := range Windows {
		for i := 0; i < d.n; i++ {
			e := d.last(i)
			if i > 0 && el[w]+e > win+win/4 {
				break
			}
			el[w] += e
			k[w]++
		}
	}
	return k, el
}

// rates computes t's window rates at tick now.
func (t *talker) rates(now uint32, k [3]int, el [3]time.Duration, ivals *durRing) {
	var from [3]uint32
	span := el
	for w := range Windows {
		from[w] = now - uint32(k[w]) // entries with tick > from are inside the window
		if t.ring.dropped > from[w] {
			// the ring no longer holds the whole window: average over what it covers
			from[w] = t.ring.dropped
			span[w] = ivals.sum(int(now - from[w]))
		}
	}
	rx, tx := t.ring.sinceAll(from)
	for w := range Windows {
		t.Rx[w], t.Tx[w] = 0, 0
		if secs := span[w].Seconds(); secs > 0 {
			t.Rx[w] = float64(rx[w]) / secs
			t.Tx[w] = float64(tx[w]) / secs
		}
	}
}

// tkey is a capture.FlowKey as the talker map's key: five words without pointers or
// padding, which the map hashes and compares as plain memory (a FlowKey's netip.Addr
// fields carry a zone handle, and its layout padding, so the map would hash it field by
// field). The addresses are 16 bytes (IPv4 as ::ffff:a.b.c.d) with a bit saying IPv4, so
// that an IPv4 flow and its IPv4-mapped twin stay two keys, as they are two FlowKeys. An
// address zone, which a captured key never carries, is not part of it.
type tkey [5]uint64

func toTkey(k *capture.FlowKey) tkey {
	l, r := k.Local.Addr().As16(), k.Remote.Addr().As16()
	var is4 uint64
	if k.Local.Addr().Is4() {
		is4 |= 1
	}
	if k.Remote.Addr().Is4() {
		is4 |= 2
	}
	if !k.Local.Addr().IsValid() {
		is4 |= 4
	}
	if !k.Remote.Addr().IsValid() {
		is4 |= 8
	}
	return tkey{
		binary.BigEndian.Uint64(l[:8]), binary.BigEndian.Uint64(l[8:]),
		binary.BigEndian.Uint64(r[:8]), binary.BigEndian.Uint64(r[8:]),
		uint64(k.Local.Port()) | uint64(k.Remote.Port())<<16 | uint64(k.Proto)<<32 | is4<<40,
	}
}

// talker returns the talker of the flow k, nil when the table has none.
func (st *State) talker(k capture.FlowKey) *talker { return st.talkers[toTkey(&k)] }

// talkerChunk is how many talkers newTalker allocates at once.
const talkerChunk = 256

// newTalker returns a zeroed talker: one evicted before the previous close (recycle), or the
// next of a chunk of talkerChunk, so that a table of tens of thousands of talkers costs a
// few hundred allocations, and the churn of a flood, once the table is full, none. At most
// the cap plus the talkers of one eviction exist: memory follows the cap, not the traffic.
func (st *State) newTalker() *talker {
	if n := len(st.free); n > 0 {
		t := st.free[n-1]
		st.free[n-1] = nil
		st.free = st.free[:n-1]
		return t
	}
	if len(st.slab) == cap(st.slab) {
		st.slab = make([]talker, 0, talkerChunk)
	}
	st.slab = st.slab[:len(st.slab)+1]
	st.talkersMade++
	return &st.slab[len(st.slab)-1]
}

// recycle makes the talkers that the previous close evicted reusable. No list holds them by
// now: closeTalkers has since dropped them from recent and replaced prevTouched, the facts
// are of a later interval (DetectView of theirs came before), and pending is filtered here.
func (st *State) recycle() {
	if len(st.dying) == 0 {
		return
	}
	if len(st.pending) > 0 {
		keep := st.pending[:0]
		for _, t := range st.pending {
			if !t.evicted {
				keep = append(keep, t)
			}
		}
		clear(st.pending[len(keep):])
		st.pending = keep
	}
	for _, t := range st.dying {
		*t = talker{}
		st.free = append(st.free, t)
	}
	clear(st.dying)
	st.dying = st.dying[:0]
}

// roomForTalkers makes the talker map room for n more talkers at once (within the cap)
// when it has less: a batch of a full capture table (tens of thousands of new flows under a
// flood) then costs one map of the right size, not a map that doubles, rehashing every
// entry, a dozen times while the batch is applied. A quiet host keeps a small map.
func (st *State) roomForTalkers(n int) {
	need := min(len(st.talkers)+n, st.opts.TalkerCap)
	if need <= st.talkerRoom {
		return
	}
	room := min(max(need, 2*st.talkerRoom), st.opts.TalkerCap)
	m := make(map[tkey]*talker, room)
	for k, t := range st.talkers {
		m[k] = t
	}
	st.talkers, st.talkerRoom = m, room
}

// talkerFor returns the talker of a flow, creating (and attributing) it, or the overflow row
// when the table is full.
func (st *State) talkerFor(d *capture.FlowDelta, seen time.Time) *talker {
	k := toTkey(&d.Key)
	if t := st.talkers[k]; t != nil {
		return t
	}
	if len(st.list) >= st.opts.TalkerCap {
		return st.overflow
	}
	t := st.newTalker()
	t.Talker = Talker{Key: d.Key, Proto: d.Key.ProtoName(), First: seen}
	t.idx = len(st.list)
	st.talkers[k] = t
	st.list = append(st.list, t)
	st.attribute(t)
	return t
}

// add accumulates one flow delta into t's open interval.
func (st *State) add(t *talker, d *capture.FlowDelta, start time.Time) {
	t.curRx += d.RxBytes
	t.curTx += d.TxBytes
	t.curRxP += d.RxPackets
	t.curTxP += d.TxPackets
	if d.Aggregate() {
		t.Aggregate = true
		t.curFlows += d.Flows
	}
	first := d.First
	if first.IsZero() {
		first = start
	}
	if t.First.IsZero() || first.Before(t.First) {
		t.First = first
	}
	if d.Last.After(t.Last) {
		t.Last = d.Last
	}
	if !t.touched {
		t.touched = true
		st.touched = append(st.touched, t)
	}
}

// closeTalkers closes the open interval of every talker: its bytes become the last
// interval's, go into the session totals, the window ring and the processes' (or the
// unattributed) bytes; window rates are recomputed; the table is trimmed.
func (st *State) closeTalkers(elapsed time.Duration) {
	st.ivals.push(elapsed)
	st.itick++
	now := st.itick
	k, el := st.ivals.spans()
	horizon := uint32(0)
	if now > uint32(k[2]) {
		horizon = now - uint32(k[2])
	}
	st.captured = Counts{}
	for _, t := range st.prevTouched {
		t.RxBytes, t.TxBytes, t.RxPackets, t.TxPackets, t.Flows = 0, 0, 0, 0, 0
	}
	for _, t := range st.touched {
		t.touched = false
		t.RxBytes, t.TxBytes, t.RxPackets, t.TxPackets = t.curRx, t.curTx, t.curRxP, t.curTxP
		t.curRx, t.curTx, t.curRxP, t.curTxP = 0, 0, 0, 0
		t.Flows, t.curFlows = t.curFlows, 0
		t.FlowsTotal += t.Flows
		t.RxTotal += t.RxBytes
		t.TxTotal += t.TxBytes
		t.RxPacketsTotal += t.RxPackets
		t.TxPacketsTotal += t.TxPackets
		t.ring.push(now, t.RxBytes, t.TxBytes, horizon)
		if !t.inRecent {
			t.inRecent = true
			st.recent = append(st.recent, t)
		}
		st.captured.RxBytes += t.RxBytes
		st.captured.TxBytes += t.TxBytes
		if t.attr == attrPending && st.opts.Owners != nil {
			// the flow's socket event may have come after its batch: a last look before
			// its bytes are booked
			if o, ok := st.opts.Owners.Lookup(t.Key.Proto, t.Key.Local, t.Key.Remote); ok && o.PID != 0 {
				st.noteOwner(&o)
				st.resolve(t, o.PID)
			}
		}
		if t.attr == attrResolved && t.PID != 0 {
			p := st.procs[t.PID]
			if p == nil {
				p = &Process{PID: t.PID, Comm: t.Comm, Source: st.procSource()}
				st.procs[t.PID] = p
			}
			p.RxBytes += t.RxBytes
			p.TxBytes += t.TxBytes
			p.RxTotal += t.RxBytes
			p.TxTotal += t.TxBytes
			p.lastActive = st.tick
		} else {
			st.unattrib.RxBytes += t.RxBytes
			st.unattrib.TxBytes += t.TxBytes
		}
	}
	st.capturedTot.RxBytes += st.captured.RxBytes
	st.capturedTot.TxBytes += st.captured.TxBytes
	st.prevTouched, st.touched = st.touched, st.prevTouched[:0]

	keep := st.recent[:0]
	for _, t := range st.recent {
		if t.evicted {
			continue
		}
		if t.ring.newest() <= horizon {
			t.inRecent = false
			t.ring.release()
			t.Rx, t.Tx = [3]float64{}, [3]float64{}
			continue
		}
		t.rates(now, k, el, &st.ivals)
		keep = append(keep, t)
	}
	clear(st.recent[len(keep):])
	st.recent = keep
	st.evict()
	st.version++
}

// evict keeps room in the talker table. Above 15/16 of the cap, the talkers that moved
// nothing in the last interval are evicted, least recently seen first, down to 7/8 of the
// cap; with Options.TalkerIdle, talkers silent for longer are evicted as well (checked every
// 16 intervals). An evicted talker's session totals go to the overflow row.
func (st *State) evict() {
	st.recycle()
	limit := st.opts.TalkerCap
	high, low := limit-max(limit/16, 1), limit-max(limit/8, 1)
	idle := st.opts.TalkerIdle > 0 && st.itick%16 == 0
	if len(st.list) < high && !idle {
		return
	}
	cands := st.evictBuf[:0]
	cutoff := st.last.Add(-st.opts.TalkerIdle)
	nidle := 0
	for _, t := range st.list {
		if t.RxBytes+t.TxBytes != 0 || t.RxPackets+t.TxPackets != 0 {
			continue
		}
		cands = append(cands, evictCand{t.Last, t})
		if idle && t.Last.Before(cutoff) && !t.inRecent {
			// idle ones first (drop reorders st.list: not while ranging over it)
			cands[nidle], cands[len(cands)-1] = cands[len(cands)-1], cands[nidle]
			nidle++
		}
	}
	for _, c := range cands[:nidle] {
		st.drop(c.t)
	}
	rest := cands[nidle:]
	if n := len(st.list) - low; n > 0 && len(st.list) >= high {
		// sorted on the copies of Last, so that the sort does not visit every talker
		slices.SortFunc(rest, func(a, b evictCand) int { return a.last.Compare(b.last) })
		for _, c := range rest[:min(n, len(rest))] {
			st.drop(c.t)
		}
	}
	clear(cands)
	st.evictBuf = cands[:0] // kept, grown, for the next eviction
}

// evictCand is a talker that evict may drop, with its Last.
type evictCand struct {
	last time.Time
	t    *talker
}

// drop removes t from the table, folding its session totals into the overflow row.
func (st *State) drop(t *talker) {
	if t.evicted {
		return
	}
	o := st.overflow
	o.RxTotal += t.RxTotal
	o.TxTotal += t.TxTotal
	o.RxPacketsTotal += t.RxPacketsTotal
	o.TxPacketsTotal += t.TxPacketsTotal
	if o.First.IsZero() || t.First.Before(o.First) {
		o.First = t.First
	}
	if t.Last.After(o.Last) {
		o.Last = t.Last
	}
	t.evicted = true
	t.ring.release()
	delete(st.talkers, toTkey(&t.Key))
	st.dying = append(st.dying, t)
	last := st.list[len(st.list)-1]
	st.list[t.idx] = last
	last.idx = t.idx
	st.list[len(st.list)-1] = nil
	st.list = st.list[:len(st.list)-1]
	st.evicted++
}

// TalkerGroup selects what a row of Talkers is.
type TalkerGroup int

// Groupings for Talkers.
const (
	ByFlow     TalkerGroup = iota // one row per flow (protocol and both endpoints)
	ByHostPair                    // one row per (local address, remote address), ports 0, protocols summed
)

// TalkerSort selects the order of Talkers, largest first.
type TalkerSort int

// Orders for Talkers.
const (
	TalkerSortRate  TalkerSort = iota // rx+tx average over Windows[TalkerQuery.Window]
	TalkerSortTotal                   // rx+tx over the session
	TalkerSortLast                    // rx+tx bytes of the last interval
)

// TalkerQuery selects and orders talkers.
type TalkerQuery struct {
	By     TalkerGroup
	Sort   TalkerSort
	Window int    // for TalkerSortRate: 0 (2s), 1 (10s) or 2 (40s)
	Filter string // keep rows whose protocol, addresses, ports, pid or comm contain this text
	// ActiveOnly keeps only rows that moved bytes in the last interval.
	ActiveOnly bool
	Limit      int // 0 means all
}

// Talkers returns copies of the talkers that match q, ordered as it asks (ties: the session
// total, then protocol and addresses), the overflow row included when it counted anything.
// It only copies the rows it returns: with a Limit, the cost is one pass over the table and
// a heap of Limit rows.
func (st *State) Talkers(q TalkerQuery) []Talker {
	w := min(max(q.Window, 0), len(Windows)-1)
	filter := strings.ToLower(q.Filter)
	var src []*talker
	if q.By == ByHostPair {
		src = st.hostPairs()
	} else {
		src = st.list
	}
	sel := rankHeap(st.rankBuf[:0])
	consider := func(t *talker) {
		if q.ActiveOnly && t.RxBytes+t.TxBytes+t.RxPackets+t.TxPackets == 0 {
			return
		}
		if filter != "" && !strings.Contains(t.searchText(), filter) {
			return
		}
		r := ranked{key: sortKey(t, q.Sort, w), total: t.RxTotal + t.TxTotal, t: t}
		if q.Limit <= 0 || len(sel) < q.Limit {
			sel = append(sel, r)
			if q.Limit > 0 && len(sel) == q.Limit {
				heap.Init(&sel)
			}
			return
		}
		// sel is a heap whose root is the row that sorts last: replace it when r sorts before
		if rankCmp(&r, &sel[0]) < 0 {
			sel[0] = r
			heap.Fix(&sel, 0)
		}
	}
	for _, t := range src {
		consider(t)
	}
	if o := st.overflow; o.RxTotal+o.TxTotal+o.RxPacketsTotal+o.TxPacketsTotal+o.curRxP+o.curTxP > 0 {
		consider(o)
	}
	slices.SortFunc(sel, func(a, b ranked) int { return rankCmp(&a, &b) })
	out := make([]Talker, len(sel))
	for i := range sel {
		out[i] = sel[i].t.Talker
	}
	clear(sel)
	st.rankBuf = sel[:0]
	return out
}

// ranked is a row being selected, with its sort keys copied out so that comparisons stay
// in one contiguous slice.
type ranked struct {
	key   float64
	total uint64
	t     *talker
}

func sortKey(t *talker, by TalkerSort, w int) float64 {
	switch by {
	case TalkerSortTotal:
		return float64(t.RxTotal + t.TxTotal)
	case TalkerSortLast:
		return float64(t.RxBytes + t.TxBytes)
	}
	return t.Rx[w] + t.Tx[w]
}

// rankCmp orders rows largest first, then by session total, then by key.
func rankCmp(a, b *ranked) int {
	if a.key != b.key {
		if a.key > b.key {
			return -1
		}
		return 1
	}
	if a.total != b.total {
		if a.total > b.total {
			return -1
		}
		return 1
	}
	return compareKeys(a.t, b.t)
}

func compareKeys(a, b *talker) int {
	if c := cmp.Compare(a.Proto, b.Proto); c != 0 {
		return c
	}
	if c := a.Key.Local.Compare(b.Key.Local); c != 0 {
		return c
	}
	if c := a.Key.Remote.Compare(b.Key.Remote); c != 0 {
		return c
	}
	return cmp.Compare(a.Key.Proto, b.Key.Proto)
}

// rankHeap is a heap whose root is the kept row that sorts last (the first to drop).
type rankHeap []ranked

func (h rankHeap) Len() int           { return len(h) }
func (h rankHeap) Less(i, j int) bool { return rankCmp(&h[i], &h[j]) > 0 }
func (h rankHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rankHeap) Push(x any)        { *h = append(*h, x.(ranked)) }
func (h *rankHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// searchText is the lowercased text a filter matches: protocol, both endpoints, pid, comm.
func (t *talker) searchText() string {
	if t.search == "" {
		var b strings.Builder
		b.WriteString(t.Proto)
		for _, ap := range []netip.AddrPort{t.Key.Local, t.Key.Remote} {
			b.WriteByte(' ')
			if ap.Addr().IsValid() {
				b.WriteString(ap.Addr().String())
				if ap.Port() != 0 {
					b.WriteByte(':')
					b.WriteString(strconv.Itoa(int(ap.Port())))
				}
			}
		}
		if t.PID != 0 {
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(t.PID))
		}
		if t.Comm != "" {
			b.WriteByte(' ')
			b.WriteString(t.Comm)
		}
		t.search = strings.ToLower(b.String())
	}
	return t.search
}

type pairKey struct{ local, remote netip.Addr }

// hostPairs returns the talkers summed per (local address, remote address), built once per
// change of the state into reused storage.
func (st *State) hostPairs() []*talker {
	if st.pairsVersion == st.version && st.pairs != nil {
		return st.pairs
	}
	if st.pairIndex == nil {
		st.pairIndex = make(map[pairKey]int)
	}
	clear(st.pairIndex)
	clear(st.pairStore)
	st.pairStore = st.pairStore[:0]
	for _, t := range st.list {
		k := pairKey{t.Key.Local.Addr(), t.Key.Remote.Addr()}
		i, ok := st.pairIndex[k]
		if !ok {
			i = len(st.pairStore)
			st.pairIndex[k] = i
			st.pairStore = append(st.pairStore, talker{Talker: Talker{
				Key:   capture.FlowKey{Proto: t.Key.Proto, Local: netip.AddrPortFrom(k.local, 0), Remote: netip.AddrPortFrom(k.remote, 0)},
				Proto: t.Proto, PID: t.PID, Comm: t.Comm, First: t.First, Last: t.Last,
			}})
		}
		p := &st.pairStore[i]
		if ok {
			if p.Key.Proto != t.Key.Proto {
				p.Key.Proto, p.Proto = 0, MixedProto
			}
			if p.PID != t.PID {
				p.PID, p.Comm = 0, ""
			}
			if t.First.Before(p.First) {
				p.First = t.First
			}
			if t.Last.After(p.Last) {
				p.Last = t.Last
			}
		}
		p.RxBytes += t.RxBytes
		p.TxBytes += t.TxBytes
		p.RxPackets += t.RxPackets
		p.TxPackets += t.TxPackets
		p.RxTotal += t.RxTotal
		p.TxTotal += t.TxTotal
		p.RxPacketsTotal += t.RxPacketsTotal
		p.TxPacketsTotal += t.TxPacketsTotal
		for w := range Windows {
			p.Rx[w] += t.Rx[w]
			p.Tx[w] += t.Tx[w]
		}
	}
	clear(st.pairs)
	st.pairs = st.pairs[:0]
	for i := range st.pairStore {
		st.pairs = append(st.pairs, &st.pairStore[i])
	}
	st.pairsVersion = st.version
	return st.pairs
}

// TalkerCount returns the number of flows in the talker table (the overflow row excluded).
func (st *State) TalkerCount() int { return len(st.list) }

// Evicted returns how many talkers were evicted from the table so far.
func (st *State) Evicted() int { return st.evicted }

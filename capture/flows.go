package capture

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"
	"unsafe"
)

// flowTable is a bounded hash table of flows: open addressing with linear
// probing over a slot array at most half full, entries in a fixed array, and
// backward-shift deletion, so that nothing is allocated after newFlowTable,
// whatever the churn (a Go map would allocate when it rehashes).
//
// The per-packet cost is memory latency: a slot and an entry, at random, in
// a table of megabytes. So an entry is 128 bytes, pointer-free (the GC never
// scans the table) and laid out so that what every packet touches (key and
// interval counters) fills the first 64-byte cache line; the second (flags,
// first and last seen) is its neighbour, which the CPU fetches with it.
type flowTable struct {
	slots   []uint64 // hash tag<<32 | entry index+1; 0 when empty
	mask    uint64
	entries []flowEntry
	free    []int32 // unused entry indices (a stack)
	dirty   []int32 // entries touched in the current interval
	seed    uint64
	n       int // entries in use

	overflow      FlowDelta // new flows that found the table full
	overflowDirty bool
	other         Counter // packets without an IP flow
	ivl           uint32  // intervals swapped out so far
}

// crowdedNum/crowdedDen is the level above which a table is under pressure: more than 3/4
// of its flows in use. Then evict removes the flows not worth a row (see fleeting) without
// waiting for the idle timeout, so that flows that start later find room. Below it a flood
// that ends leaves its one-packet flows until the idle timeout, as any other flow.
const crowdedNum, crowdedDen = 3, 4

// crowded says whether n flows in use out of capacity put a table under pressure.
func crowded(n, capacity int) bool { return crowdedDen*n > crowdedNum*capacity }

// fkey is a FlowKey without pointers (netip.Addr carries a zone handle),
// as five words that compare without a call to memequal: the local and the
// remote address (IPv4 as ::ffff:a.b.c.d, big-endian halves), then the ports,
// the protocol and whether the addresses are IPv4.
type fkey [5]uint64

func toFkey(k *FlowKey) fkey {
	l, r := k.Local.Addr().As16(), k.Remote.Addr().As16()
	var is4 uint64
	if k.Local.Addr().Is4() {
		is4 = 1
	}
	return fkey{
		binary.BigEndian.Uint64(l[:8]), binary.BigEndian.Uint64(l[8:]),
		binary.BigEndian.Uint64(r[:8]), binary.BigEndian.Uint64(r[8:]),
		uint64(k.Local.Port()) | uint64(k.Remote.Port())<<16 | uint64(k.Proto)<<32 | is4<<40,
	}
}

func (f *fkey) equal(o *fkey) bool {
	return f[0] == o[0] && f[1] == o[1] && f[2] == o[2] && f[3] == o[3] && f[4] == o[4]
}

func (f *fkey) flowKey() FlowKey {
	var l, r [16]byte
	binary.BigEndian.PutUint64(l[:8], f[0])
	binary.BigEndian.PutUint64(l[8:], f[1])
	binary.BigEndian.PutUint64(r[:8], f[2])
	binary.BigEndian.PutUint64(r[8:], f[3])
	la, ra := netip.AddrFrom16(l), netip.AddrFrom16(r)
	if f[4]>>40&1 != 0 {
		la, ra = la.Unmap(), ra.Unmap()
	}
	return FlowKey{
		Proto:  uint8(f[4] >> 32),
		Local:  netip.AddrPortFrom(la, uint16(f[4])),
		Remote: netip.AddrPortFrom(ra, uint16(f[4]>>16)),
	}
}

// flowEntry is one flow, 128 bytes. Interval packet counters are 32 bits in
// the hot line, with their high halves in the cold one.
type flowEntry struct {
	// first cache line: what every packet reads or writes
	key      fkey   // 40 bytes
	rxP, txP uint32 // interval packets, low 32 bits; all 0: not dirty
	rxB, txB uint64 // interval bytes
	// second cache line
	flags       uint8 // TCP flags seen in the interval
	used        bool
	hs          uint16 // handshake facts (Hs*) since the flow entered the table
	rxPH, txPH  uint32 // interval packets, high 32 bits
	first, last int64  // unix nanoseconds
	marked      bool   // in dirty without packets in the interval (markKey)
	life        uint8  // packets since the flow entered the table, saturating at 255
	real        bool   // a packet other than a TCP SYN, SYN-ACK or RST was seen
	ivl         uint32 // flowTable.ivl of the last interval that had a delta for it
	_           [24]byte
}

// fleeting says whether the flow is not worth a row under pressure: at most 2 packets in
// its whole life, all of them TCP handshake packets (a SYN, its SYN-ACK, a RST: what a
// spoofed SYN flood leaves), and none in the interval just swapped out (ivl), so that what
// it counted was sent in a batch and nothing of it is waiting.
func (e *flowEntry) fleeting(ivl uint32) bool {
	return e.life <= 2 && !e.real && e.ivl != ivl && e.rxP|e.txP|e.rxPH|e.txPH == 0 && !e.marked
}

func newFlowTable(capacity int) *flowTable {
	if capacity < 1 {
		capacity = 1
	}
	nslots := 2
	for nslots < 2*capacity {
		nslots <<= 1
	}
	t := &flowTable{
		slots:   make([]uint64, nslots),
		mask:    uint64(nslots - 1),
		entries: make([]flowEntry, capacity),
		free:    make([]int32, capacity),
		dirty:   make([]int32, 0, capacity),
	}
	for i := range t.free {
		t.free[i] = int32(capacity - 1 - i)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	t.seed = binary.LittleEndian.Uint64(b[:]) | 1
	return t
}

func fmix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func (t *flowTable) hash(k *fkey) uint64 {
	const m1, m2 = 0x9e3779b97f4a7c15, 0xc2b2ae3d27d4eb4f
	h := fmix64(t.seed ^ k[4] ^ (k[0]^k[3])*m1)
	h = fmix64(h ^ k[1]*m2 ^ k[2]*m1)
	return fmix64(h ^ k[3])
}

// account adds one packet of wireLen bytes to the flow k; tx says it goes
// from the local endpoint.
func (t *flowTable) account(k *FlowKey, tx bool, wireLen uint64, flags uint8, ts int64) {
	fk := toFkey(k)
	t.accountKey(&fk, t.hash(&fk), tx, wireLen, flags, ts)
}

// touch loads the slots, then the entries, that the packets of a batch
// will use, one independent load after the other, so that their cache
// misses overlap instead of costing one memory latency per packet each. It
// returns a sum only so that the loads are not optimised away.
func (t *flowTable) touch(acct []acctPacket) (sink uint64) {
	for i := range acct {
		a := &acct[i]
		a.slot = t.slots[a.h&t.mask]
		sink += a.slot
	}
	for i := range acct {
		if s := acct[i].slot; s != 0 && s>>32 == acct[i].h>>32 {
			sink += t.entries[int32(s)-1].key[0]
		}
	}
	return sink
}

// acctPacket is a packet waiting to be accounted (see loop.packet).
type acctPacket struct {
	k     fkey
	h     uint64
	slot  uint64
	wire  uint64
	ts    int64
	tx    bool
	flags uint8
}

// accountKey is account with the key converted and hashed.
func (t *flowTable) accountKey(fk *fkey, h uint64, tx bool, wireLen uint64, flags uint8, ts int64) {
	tag := h >> 32
	i := h & t.mask
	var e *flowEntry
	idx := int32(-1)
	for {
		s := t.slots[i]
		if s == 0 {
			break
		}
		// The tag spares reading the entries of other flows: a probe
		// touches one cache line of the slot array, not one per flow.
		if s>>32 == tag {
			if c := &t.entries[int32(s)-1]; c.key.equal(fk) {
				e, idx = c, int32(s)-1
				break
			}
		}
		i = (i + 1) & t.mask
	}
	if e == nil {
		if len(t.free) == 0 {
			o := &t.overflow
			if tx {
				o.TxBytes += wireLen
				o.TxPackets++
			} else {
				o.RxBytes += wireLen
				o.RxPackets++
			}
			o.Flags |= flags
			t.overflowDirty = true
			return
		}
		idx = t.free[len(t.free)-1]
		t.free = t.free[:len(t.free)-1]
		t.slots[i] = tag<<32 | uint64(idx+1)
		e = &t.entries[idx]
		*e = flowEntry{key: *fk, used: true, first: ts, last: ts}
		t.n++
	}
	if e.rxP|e.txP|e.rxPH|e.txPH == 0 && !e.marked {
		t.dirty = append(t.dirty, idx)
	}
	if tx {
		e.txB += wireLen
		if e.txP++; e.txP == 0 {
			e.txPH++
		}
	} else {
		e.rxB += wireLen
		if e.rxP++; e.rxP == 0 {
			e.rxPH++
		}
	}
	e.flags |= flags
	hs := hsBits(flags, tx)
	e.hs |= hs
	if hs == 0 || hs&(HsAckIn|HsAckOut) != 0 {
		e.real = true
	}
	if e.life != 255 {
		e.life++
	}
	if ts > e.last {
		e.last = ts
	} else if ts < e.first {
		e.first = ts
	}
}

// remove deletes entry idx from the table (backward-shift deletion).
func (t *flowTable) remove(idx int32) {
	e := &t.entries[idx]
	i := t.hash(&e.key) & t.mask
	for uint32(t.slots[i]) != uint32(idx+1) {
		i = (i + 1) & t.mask
	}
	t.slots[i] = 0
	j := i
	for {
		j = (j + 1) & t.mask
		s := t.slots[j]
		if s == 0 {
			break
		}
		k := t.hash(&t.entries[int32(s)-1].key) & t.mask
		// Move s back to i when its home k is not cyclically in (i, j].
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			t.slots[i] = s
			t.slots[j] = 0
			i = j
		}
	}
	*e = flowEntry{}
	t.free = append(t.free, idx)
	t.n--
}

// swap returns the deltas of the interval and resets them.
func (t *flowTable) swap() ([]FlowDelta, FlowDelta, Counter) { return t.swapInto(nil) }

// swapInto is swap with the deltas written into flows (its contents replaced, its
// storage reused when it has room; nil: a new slice).
func (t *flowTable) swapInto(flows []FlowDelta) ([]FlowDelta, FlowDelta, Counter) {
	flows = slices.Grow(flows[:0], len(t.dirty))[:len(t.dirty)]
	t.ivl++
	for i, idx := range t.dirty {
		e := &t.entries[idx]
		e.ivl = t.ivl
		flows[i] = FlowDelta{
			Key: e.key.flowKey(), RxBytes: e.rxB, TxBytes: e.txB,
			RxPackets: uint64(e.rxPH)<<32 | uint64(e.rxP), TxPackets: uint64(e.txPH)<<32 | uint64(e.txP),
			Flags: e.flags, Handshake: e.hs, First: time.Unix(0, e.first), Last: time.Unix(0, e.last),
		}
		e.rxB, e.txB, e.rxP, e.txP, e.rxPH, e.txPH, e.flags, e.marked = 0, 0, 0, 0, 0, 0, 0, false
	}
	var overflow FlowDelta
	var other Counter
	t.dirty = t.dirty[:0]
	if t.overflowDirty {
		overflow = t.overflow
	}
	t.overflow, t.overflowDirty = FlowDelta{}, false
	other, t.other = t.other, Counter{}
	return flows, overflow, other
}

// evict removes the flows last seen before cutoff (unix nanoseconds) and, when the table is
// crowded (more than 3/4 full), the flows not worth a row (fleeting: at most 2 handshake
// packets, none in the interval just swapped out). Call it right after swap: a flow with
// packets not swapped out yet is never evicted. It returns the number of flows evicted.
func (t *flowTable) evict(cutoff int64) int {
	n := 0
	early := crowded(t.n, len(t.entries))
	for i := range t.entries {
		e := &t.entries[i]
		if e.used && e.rxP|e.txP|e.rxPH|e.txPH == 0 && (e.last < cutoff || early && e.fleeting(t.ivl)) {
			t.remove(int32(i))
			n++
		}
	}
	return n
}

// localSet is an immutable set of this host's addresses.
type localSet struct {
	m map[netip.Addr]struct{}
}

func newLocalSet(addrs []netip.Addr) *localSet {
	s := &localSet{m: make(map[netip.Addr]struct{}, len(addrs))}
	for _, a := range addrs {
		if a.IsValid() {
			s.m[a.Unmap().WithZone("")] = struct{}{}
		}
	}
	return s
}

func (s *localSet) has(a netip.Addr) bool {
	if len(s.m) == 0 {
		return false
	}
	_, ok := s.m[a]
	return ok
}

// orient builds the flow key of a packet from src to dst and says whether
// the packet goes from the local endpoint (tx). See the package documentation.
func orient(ls *localSet, proto uint8, src netip.Addr, sport uint16, dst netip.Addr, dport uint16, k *FlowKey) (tx bool) {
	sl, dl := ls.has(src), ls.has(dst)
	switch {
	case sl != dl:
		tx = sl
	case sport != dport:
		tx = sport < dport
	default:
		tx = src.Compare(dst) <= 0
	}
	k.Proto = proto
	if tx {
		k.Local = netip.AddrPortFrom(src, sport)
		k.Remote = netip.AddrPortFrom(dst, dport)
	} else {
		k.Local = netip.AddrPortFrom(dst, dport)
		k.Remote = netip.AddrPortFrom(src, sport)
	}
	return tx
}

// The entry layout that the cache-line reasoning above depends on.
var _ = [1]struct{}{}[unsafe.Sizeof(flowEntry{})-128]
var _ = [1]struct{}{}[unsafe.Offsetof(flowEntry{}.flags)-64]

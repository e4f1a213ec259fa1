package capture

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"time"
)

// flowTable is a bounded hash table of flows: open addressing with linear
// probing over a slot array at most half full, entries in a fixed array, and
// backward-shift deletion, so that nothing is allocated after newFlowTable,
// whatever the churn (a Go map would allocate when it rehashes).
type flowTable struct {
	slots   []int32 // index into entries, -1 when empty
	mask    uint64
	entries []flowEntry
	free    []int32 // unused entry indices (a stack)
	dirty   []int32 // entries touched in the current interval
	seed    uint64
	n       int // entries in use

	overflow      FlowDelta // new flows that found the table full
	overflowDirty bool
	other         Counter // packets without an IP flow
}

type flowEntry struct {
	key      FlowKey
	hash     uint64
	rxB, txB uint64 // interval deltas
	rxP, txP uint64
	flags    uint8
	dirty    bool
	used     bool
	first    int64 // unix nanoseconds
	last     int64
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
		slots:   make([]int32, nslots),
		mask:    uint64(nslots - 1),
		entries: make([]flowEntry, capacity),
		free:    make([]int32, capacity),
		dirty:   make([]int32, 0, capacity),
	}
	for i := range t.slots {
		t.slots[i] = -1
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

func (t *flowTable) hash(k *FlowKey) uint64 {
	a := k.Local.Addr().As16()
	b := k.Remote.Addr().As16()
	h := t.seed ^ uint64(k.Proto)<<32 ^ uint64(k.Local.Port())<<16 ^ uint64(k.Remote.Port())
	h = fmix64(h ^ binary.LittleEndian.Uint64(a[:8]))
	h = fmix64(h ^ binary.LittleEndian.Uint64(a[8:]))
	h = fmix64(h ^ binary.LittleEndian.Uint64(b[:8]))
	h = fmix64(h ^ binary.LittleEndian.Uint64(b[8:]))
	return h
}

// account adds one packet of wireLen bytes to the flow k; tx says it goes
// from the local endpoint.
func (t *flowTable) account(k *FlowKey, tx bool, wireLen uint64, flags uint8, ts int64) {
	h := t.hash(k)
	i := h & t.mask
	var e *flowEntry
	idx := int32(-1)
	for {
		s := t.slots[i]
		if s < 0 {
			break
		}
		if c := &t.entries[s]; c.hash == h && c.key == *k {
			e, idx = c, s
			break
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
		t.slots[i] = idx
		e = &t.entries[idx]
		*e = flowEntry{key: *k, hash: h, used: true, first: ts}
		t.n++
	}
	if !e.dirty {
		e.dirty = true
		t.dirty = append(t.dirty, idx)
	}
	if tx {
		e.txB += wireLen
		e.txP++
	} else {
		e.rxB += wireLen
		e.rxP++
	}
	e.flags |= flags
	if ts > e.last {
		e.last = ts
	}
	if ts < e.first {
		e.first = ts
	}
}

// remove deletes entry idx from the table (backward-shift deletion).
func (t *flowTable) remove(idx int32) {
	e := &t.entries[idx]
	i := e.hash & t.mask
	for t.slots[i] != idx {
		i = (i + 1) & t.mask
	}
	t.slots[i] = -1
	j := i
	for {
		j = (j + 1) & t.mask
		s := t.slots[j]
		if s < 0 {
			break
		}
		k := t.entries[s].hash & t.mask
		// Move s back to i when its home k is not cyclically in (i, j].
		if (i <= j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			t.slots[i] = s
			t.slots[j] = -1
			i = j
		}
	}
	*e = flowEntry{}
	t.free = append(t.free, idx)
	t.n--
}

// swap returns the deltas of the interval and resets them.
func (t *flowTable) swap() (flows []FlowDelta, overflow FlowDelta, other Counter) {
	flows = make([]FlowDelta, 0, len(t.dirty))
	for _, idx := range t.dirty {
		e := &t.entries[idx]
		flows = append(flows, FlowDelta{
			Key: e.key, RxBytes: e.rxB, TxBytes: e.txB, RxPackets: e.rxP, TxPackets: e.txP,
			Flags: e.flags, First: time.Unix(0, e.first), Last: time.Unix(0, e.last),
		})
		e.rxB, e.txB, e.rxP, e.txP, e.flags, e.dirty = 0, 0, 0, 0, 0, false
	}
	t.dirty = t.dirty[:0]
	if t.overflowDirty {
		overflow = t.overflow
	}
	t.overflow, t.overflowDirty = FlowDelta{}, false
	other, t.other = t.other, Counter{}
	return flows, overflow, other
}

// evict removes the flows last seen before cutoff (unix nanoseconds). Call it
// right after swap. It returns the number of flows evicted.
func (t *flowTable) evict(cutoff int64) int {
	n := 0
	for i := range t.entries {
		e := &t.entries[i]
		if e.used && !e.dirty && e.last < cutoff {
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

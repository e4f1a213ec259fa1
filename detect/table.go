package detect

import (
	"iter"
)

// table is a hash table of at most max entries, for the detectors' per-source state.
//
// The entries are stored densely (hashes[i], keys[i], vals[i]) in insertion order, and an
// index of slots (open addressing, linear probing, at most half full) leads from a key's
// hash to its entry. Unlike a Go map it never holds more than max entries, keeps its
// storage when entries go, and iterates in a fixed order.
//
// Under a spoofed flood nearly every lookup is of an absent key (a fresh source) in a full
// table, one per flow fact: 65,536 an interval. A filter with 32 bits of room per entry (a
// bit set for each entry's hash) rejects about 97% of them on one bit, and a slot holds
// the upper half of its entry's hash, so that most of the rest are rejected without
// reading a key. Without the filter, the probe loop's exit was the cost of a miss: a branch
// that goes either way at half load; the filter's test nearly always goes one way.
//
// The caller hashes the keys (facts.go: the flow facts' addresses are hashed once per
// interval for every detector), and gives a key the same hash every time.
type table[K comparable, V any] struct {
	max    int
	filter []uint64 // bit (h>>12)&fmask of each entry's hash h is set
	fmask  uint64
	slots  []uint64 // 0: empty; else the hash's upper 32 bits << 32 | (entry index + 1)
	hashes []uint64
	keys   []K
	vals   []V
}

// newTable returns an empty table that holds at most max entries.
func newTable[K comparable, V any](max int) *table[K, V] {
	nbits := 64
	for nbits < 32*max {
		nbits *= 2
	}
	return &table[K, V]{max: max, filter: make([]uint64, nbits/64), fmask: uint64(nbits - 1), slots: make([]uint64, 16)}
}

// len is the number of entries (0 for a nil table).
func (t *table[K, V]) len() int {
	if t == nil {
		return 0
	}
	return len(t.keys)
}

// all yields the entries in their order (none for a nil table). The table must not change
// meanwhile.
func (t *table[K, V]) all() iter.Seq2[K, *V] {
	return func(yield func(K, *V) bool) {
		for j := range t.len() {
			if !yield(t.keys[j], &t.vals[j]) {
				return
			}
		}
	}
}

// cannotAdd says, from its hash h alone, that a key is absent and cannot be added (the
// table is full): a spoofed flood's fresh source, told without reading the key (which
// would be a cache miss on a flow fact), nearly always in the filter's test, inlined.
// False is no promise either way.
func (t *table[K, V]) cannotAdd(h uint64) bool {
	return len(t.keys) >= t.max && t.absent(h)
}

// absent says, from its hash h alone, that a key is absent (false is no promise).
func (t *table[K, V]) absent(h uint64) bool {
	b := (h >> 12) & t.fmask
	return t.filter[b/64]&(1<<(b%64)) == 0 || !t.tagged(h)
}

// tagged says whether a slot on h's probe sequence holds an entry with h's upper half.
func (t *table[K, V]) tagged(h uint64) bool {
	tag := h >> 32 << 32
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; t.slots[i] != 0; i = (i + 1) & mask {
		if t.slots[i]&^0xffffffff == tag {
			return true
		}
	}
	return false
}

// get returns *k's value, or nil. h is *k's hash.
func (t *table[K, V]) get(k *K, h uint64) *V {
	if j := t.find(k, h); j >= 0 {
		return &t.vals[j]
	}
	return nil
}

// find returns the index of the entry of *k, whose hash is h, or -1.
func (t *table[K, V]) find(k *K, h uint64) int {
	if b := (h >> 12) & t.fmask; t.filter[b/64]&(1<<(b%64)) == 0 {
		return -1
	}
	tag := h >> 32 << 32
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return -1
		}
		if s&^0xffffffff == tag {
			if j := int(uint32(s)) - 1; t.keys[j] == *k {
				return j
			}
		}
	}
}

// add returns *k's value, adding a zero one when *k is absent (added); nil when it is
// absent and the table is full. h is *k's hash. The pointer is valid until the next add,
// retain or reset.
//
// The key is passed by pointer: a key written field by field and then copied as a whole
// (to pass it by value) makes the CPU wait for the stores, each time (see addrHash).
func (t *table[K, V]) add(k *K, h uint64) (v *V, added bool) {
	if j := t.find(k, h); j >= 0 {
		return &t.vals[j], false
	}
	if len(t.keys) >= t.max {
		return nil, false
	}
	if 2*(len(t.keys)+1) > len(t.slots) {
		t.slots = make([]uint64, 2*len(t.slots))
		t.reindex()
	}
	t.hashes = append(t.hashes, h)
	t.keys = append(t.keys, *k)
	var zero V
	t.vals = append(t.vals, zero)
	t.index(h, len(t.keys)-1)
	return &t.vals[len(t.vals)-1], true
}

// index enters entry j, whose hash is h, in the filter and the slots.
func (t *table[K, V]) index(h uint64, j int) {
	b := (h >> 12) & t.fmask
	t.filter[b/64] |= 1 << (b % 64)
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = h>>32<<32 | uint64(j+1)
}

func (t *table[K, V]) reindex() {
	clear(t.filter)
	clear(t.slots)
	for j, h := range t.hashes {
		t.index(h, j)
	}
}

// retain keeps the entries for which keep returns true (it may change the value), in
// their order, and drops the others.
func (t *table[K, V]) retain(keep func(k K, v *V) bool) {
	n := 0
	for j := range t.keys {
		if !keep(t.keys[j], &t.vals[j]) {
			continue
		}
		if n != j {
			t.hashes[n], t.keys[n], t.vals[n] = t.hashes[j], t.keys[j], t.vals[j]
		}
		n++
	}
	if n == len(t.keys) {
		return
	}
	clear(t.vals[n:]) // what the dropped values held is garbage now
	t.hashes, t.keys, t.vals = t.hashes[:n], t.keys[:n], t.vals[:n]
	t.reindex()
}

// reset drops every entry and keeps the storage.
func (t *table[K, V]) reset() {
	if len(t.keys) == 0 {
		return
	}
	clear(t.vals)
	t.hashes, t.keys, t.vals = t.hashes[:0], t.keys[:0], t.vals[:0]
	clear(t.filter)
	clear(t.slots)
}

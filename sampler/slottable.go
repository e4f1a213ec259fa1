package sampler

// slotTable maps 64-bit hashes to slot numbers of an OwnerIndex: open addressing with linear
// probing, at most half full, and deletion by backward shift, so that it never fills with
// tombstones however many owners come and go (a Go map under a steady stream of deletes and
// inserts probes ever longer chains until it grows: at 10,000 events a second that was most
// of the reader's time). A hash of 0 is stored as 1: 0 marks an empty cell.
type slotTable struct {
	hash []uint64
	slot []int32
	mask uint64
	n    int
}

func newSlotTable(capacity int) slotTable {
	size := 16
	for size < 2*capacity {
		size <<= 1
	}
	return slotTable{hash: make([]uint64, size), slot: make([]int32, size), mask: uint64(size - 1)}
}

func fixHash(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// get returns the slot stored for h.
func (t *slotTable) get(h uint64) (int32, bool) {
	h = fixHash(h)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		switch t.hash[i] {
		case 0:
			return 0, false
		case h:
			return t.slot[i], true
		}
	}
}

// put stores slot for h, replacing the slot stored for it before.
func (t *slotTable) put(h uint64, slot int32) {
	h = fixHash(h)
	if 2*(t.n+1) > len(t.hash) {
		return // cannot happen: an OwnerIndex holds at most capacity entries
	}
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		switch t.hash[i] {
		case 0:
			t.hash[i], t.slot[i] = h, slot
			t.n++
			return
		case h:
			t.slot[i] = slot
			return
		}
	}
}

// del removes h if it maps to slot, and moves the cells after it back into place.
func (t *slotTable) del(h uint64, slot int32) {
	h = fixHash(h)
	i := h & t.mask
	for ; ; i = (i + 1) & t.mask {
		if t.hash[i] == 0 {
			return
		}
		if t.hash[i] == h {
			if t.slot[i] != slot {
				return
			}
			break
		}
	}
	t.n--
	for j := i; ; {
		j = (j + 1) & t.mask
		if t.hash[j] == 0 {
			break
		}
		// a cell whose home is cyclically in (i, j] stays; any other moves to the hole
		home := t.hash[j] & t.mask
		if (i < j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
			t.hash[i], t.slot[i] = t.hash[j], t.slot[j]
			i = j
		}
	}
	t.hash[i], t.slot[i] = 0, 0
}

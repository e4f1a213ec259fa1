package metrics

import (
	"cmp"
	"slices"
)

// slotSeconds is the width of one slot of a key's hour: the last hour's bytes are the sum
// of the slots of the last 60 minutes (the current, partial slot included).
const (
	slotSeconds = 300
	hourSlots   = 3600 / slotSeconds
)

type slot struct {
	id    int64 // unix time / slotSeconds
	bytes uint64
}

// keyStat is what the exporter keeps of one tracked key.
type keyStat struct {
	rx, tx   uint64 // bytes since the key was first tracked
	hour     [hourSlots]slot
	exported bool
	score    uint64 // scratch: hour bytes at the latest selection
}

func (k *keyStat) add(rx, tx uint64, now int64) {
	k.rx += rx
	k.tx += tx
	s := &k.hour[now%hourSlots]
	if s.id != now {
		*s = slot{id: now}
	}
	s.bytes += rx + tx
}

func (k *keyStat) hourBytes(now int64) uint64 {
	var sum uint64
	for _, s := range k.hour {
		if s.id > now-hourSlots && s.id <= now {
			sum += s.bytes
		}
	}
	return sum
}

// topN tracks keys of one kind (processes, hosts or ports) and selects the exported ones.
// Its memory is bounded: it tracks at most 2*capacity keys between selections, and prunes
// to capacity (exported keys always kept) by the hour's bytes.
type topN[K comparable] struct {
	n        int
	capacity int
	keys     map[K]*keyStat
	exported []K // the current selection, in no particular order
	buf      []ranked[K]
}

type ranked[K comparable] struct {
	key   K
	st    *keyStat
	score uint64
}

func newTopN[K comparable](n int) *topN[K] {
	return &topN[K]{n: n, capacity: max(20*n, 1000), keys: make(map[K]*keyStat)}
}

// add counts bytes of the interval for key, in the slot now.
func (t *topN[K]) add(key K, rx, tx uint64, now int64) {
	k := t.keys[key]
	if k == nil {
		k = &keyStat{}
		t.keys[key] = k
	}
	k.add(rx, tx, now)
}

// selectTop prunes the tracked keys if needed and chooses the exported keys at slot now.
func (t *topN[K]) selectTop(now int64) {
	if t.n <= 0 {
		t.exported = t.exported[:0]
		return
	}
	rs := t.buf[:0]
	for key, k := range t.keys {
		h := k.hourBytes(now)
		k.score = h
		if k.exported {
			h += h / 4 // stickiness: an exported key leaves only when clearly outranked
		}
		rs = append(rs, ranked[K]{key, k, h})
	}
	slices.SortFunc(rs, func(a, b ranked[K]) int { return cmp.Compare(b.score, a.score) })
	t.exported = t.exported[:0]
	for i := range rs {
		r := &rs[i]
		r.st.exported = i < t.n && r.score > 0
		if r.st.exported {
			t.exported = append(t.exported, r.key)
		}
	}
	if len(rs) > 2*t.capacity {
		// keep the best capacity keys; the exported ones are among them (n <= capacity)
		for _, r := range rs[t.capacity:] {
			delete(t.keys, r.key)
		}
	} else {
		// forget keys silent for an hour, unless memory is plentiful
		for _, r := range rs {
			if r.score == 0 && len(t.keys) > t.capacity {
				delete(t.keys, r.key)
			}
		}
	}
	clear(rs)
	t.buf = rs[:0]
}

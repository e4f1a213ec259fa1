package sampler

import (
	"math/rand/v2"
	"testing"
)

// TestSlotTable drives the table and a Go map with the same random puts and deletes, with
// hashes crowded into few home cells so that probe chains wrap and deletions shift.
func TestSlotTable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tab := newSlotTable(64)
	ref := map[uint64]int32{}
	for step := 0; step < 200000; step++ {
		h := uint64(r.IntN(100))<<60 | uint64(r.IntN(8))*uint64(len(tab.hash)/8) + uint64(r.IntN(3))
		switch {
		case len(ref) < 64 && r.IntN(2) == 0:
			s := int32(r.IntN(1000))
			tab.put(h, s)
			ref[fixHash(h)] = s
		default:
			s, ok := ref[fixHash(h)]
			if ok && r.IntN(4) == 0 {
				s++ // a stale slot: must not delete
			}
			tab.del(h, s)
			if ok && ref[fixHash(h)] == s {
				delete(ref, fixHash(h))
			}
		}
		if tab.n != len(ref) {
			t.Fatalf("step %d: table holds %d, map %d", step, tab.n, len(ref))
		}
		if step%97 == 0 {
			for k, v := range ref {
				if got, ok := tab.get(k); !ok || got != v {
					t.Fatalf("step %d: get(%x) = %d %v, want %d", step, k, got, ok, v)
				}
			}
		}
	}
	if _, ok := tab.get(0xdead); ok && ref[0xdead] == 0 {
		t.Error("found a hash never put")
	}
}

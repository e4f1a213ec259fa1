package capture

import (
	"context"
	"testing"
	"time"
)

// newTestLoop builds the loop of a capture without running it, for driving
// loop.packet directly.
func newTestLoop(c *Capture) *loop {
	return &loop{
		c: c, ctx: context.Background(), lk: c.lk,
		table: newFlowTable(c.opts.FlowCap),
		ring:  newPacketRing(c.opts.RingSize, ringDataCap),
	}
}

// newTestCapture is a replay Capture with no handle, for loop tests that
// feed packets themselves.
func newTestCapture(opts Options, lk linkKind) *Capture {
	opts.ReplayFile = "test"
	c := &Capture{opts: opts.withDefaults(), replay: true, lk: lk, done: make(chan struct{})}
	c.local.Store(newLocalSet(opts.LocalAddrs))
	c.stats.Store(&Stats{})
	return c
}

func TestLiveReadTimeout(t *testing.T) {
	for _, c := range []struct{ iv, want time.Duration }{
		{time.Second, readTimeout},
		{200 * time.Millisecond, readTimeout},
		{100 * time.Millisecond, 50 * time.Millisecond},
		{10 * time.Millisecond, 5 * time.Millisecond},
		{time.Millisecond, time.Millisecond},
	} {
		if got := liveReadTimeout(c.iv); got != c.want {
			t.Errorf("liveReadTimeout(%v) = %v, want %v", c.iv, got, c.want)
		}
	}
}

// TestBatchRelease: a batch built by hand keeps its flows; a pooled one hands its slice to
// the pool, whose next get reuses it, emptied, when it has room, and allocates otherwise.
func TestBatchRelease(t *testing.T) {
	hand := &Batch{Flows: make([]FlowDelta, 3)}
	hand.Release()
	if len(hand.Flows) != 3 {
		t.Errorf("a batch not sent by Run lost its flows: %d left", len(hand.Flows))
	}
	p := newFlowPool()
	b := &Batch{Flows: make([]FlowDelta, 5, 8), pool: p}
	first := &b.Flows[:1][0]
	b.Release()
	if b.Flows != nil {
		t.Errorf("Flows after Release = %d flows, want nil", len(b.Flows))
	}
	b.Release() // twice: nothing more to give
	got := p.get(8)
	if len(got) != 0 || cap(got) != 8 || &got[:1][0] != first {
		t.Errorf("get(8) after Release = len %d cap %d, not the released slice", len(got), cap(got))
	}
	p.put(got)
	if big := p.get(9); cap(big) < 9 {
		t.Errorf("get(9) = cap %d, want room for 9", cap(big))
	}
}

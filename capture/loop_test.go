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

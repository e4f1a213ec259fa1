package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket"
)

// Bits of loop.attn: what the packet loop must look at between two packets.
const (
	attnTick uint32 = 1 << iota // an interval ended (live)
	attnStop                    // ctx is done or Close was called
)

// acctBatch is how many packets are decoded before they are accounted
// together (see flowTable.touch).
const acctBatch = 16

// kacctFinalRead bounds the last read of the kernel's flow map when a capture stops: under a
// flood of new flows a full read takes a few hundred milliseconds (the packets of the
// entries not read are counted in overflow).
const kacctFinalRead = 100 * time.Millisecond

// maxEmptyIntervals bounds the empty batches sent for a silent stretch of a
// replayed file; a longer gap is sent as one empty batch spanning it.
const maxEmptyIntervals = 3600

// loop is the state of one Run: everything here belongs to the goroutine
// that runs it.
type loop struct {
	c   *Capture
	ctx context.Context
	out chan<- *Batch

	h       handle
	src     gopacket.ZeroCopyPacketDataSource
	curSnap int
	lk      linkKind
	skipOut bool

	table *flowTable
	ring  *packetRing
	p     pktInfo
	acct  [acctBatch]acctPacket // decoded packets not yet in the table
	nacct int
	sink  uint64

	w    *pcapWriter // writer in use
	wgen uint64      // Capture.wgen when w was taken

	attn atomic.Uint32
	wake chan struct{} // a token when attn is set, for a loop without a packet handle

	k         *kacct // flows counted in the kernel; nil: counted here from the packets
	pass      bool   // kernel accounting: the packet handle lets packets through
	krecv     uint64 // kernel accounting: k.stats.Received at the last batch
	finishing bool   // kernel accounting: the last batch is being built

	pf *packetFilter // the packet filter the ring's packets matched

	received uint64    // packets accounted (replay statistics)
	stats    Stats     // live statistics, accumulated over reopened handles
	last     [3]uint32 // last raw libpcap counters of the current handle

	pending    *Batch   // a batch the consumer had no room for
	pool       flowPool // Batch.Flows slices released by the consumer, for the next swaps
	errs       []error  // to report in the next batch
	evictEvery int64
	lastEvict  int64
}

// Run captures (or replays) and sends one Batch per interval on out until
// ctx is done, Close is called, or the replayed file ends. It never blocks on
// a full channel: a batch that finds no room is summed into the next one.
// The last, partial interval is sent too (at the end of a replay Run waits
// for room for it, unless ctx is done or Close is called; a last batch that
// finds no room then is kept for Unsent). Run returns nil
// at a clean end, and an error wrapping ErrBadFile for a damaged file, after
// sending what was read. Run may be called once.
func (c *Capture) Run(ctx context.Context, out chan<- *Batch) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("capture: Run called twice")
	}
	c.hmu.Lock()
	closed, h := c.closed, c.h
	c.hmu.Unlock()
	if closed {
		if c.kern != nil {
			c.kern.close()
		}
		return errClosed
	}
	o := c.opts
	l := &loop{
		c: c, ctx: ctx, out: out,
		h: h, curSnap: c.snaplen, lk: c.lk, skipOut: c.skipLoopOut,
		ring:       newPacketRing(o.RingSize, ringDataCap),
		evictEvery: int64(max(o.Interval, o.IdleTimeout/8)),
		wake:       make(chan struct{}, 1),
		pool:       newFlowPool(),
		k:          c.kern,
		pass:       true,
	}
	if h != nil {
		l.src = h.source()
	}
	if l.k == nil {
		l.table = newFlowTable(o.FlowCap) // the kernel's map holds the flows otherwise
	} else {
		defer l.k.close()
	}
	l.syncWriter() // a writer started before Run (Options.WriteFile)
	var tick time.Duration
	if !c.replay {
		tick = o.Interval
	}
	quit := l.watch(tick)
	defer quit()
	switch {
	case c.replay:
		return l.runReplay()
	case l.k != nil:
		return l.runKernel()
	}
	return l.runLive()
}

// watch sets attention bits from another goroutine: a tick every d (if d >
// 0) and the stop bit when ctx is done or the capture is closed.
func (l *loop) watch(d time.Duration) (quit func()) {
	done := make(chan struct{})
	go func() {
		var tc <-chan time.Time
		if d > 0 {
			t := time.NewTicker(d)
			defer t.Stop()
			tc = t.C
		}
		for {
			select {
			case <-tc:
				l.attn.Or(attnTick)
				l.poke()
			case <-l.ctx.Done():
				l.attn.Or(attnStop)
				l.poke()
				return
			case <-l.c.done:
				l.attn.Or(attnStop)
				l.poke()
				return
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}

// poke wakes a loop that waits for attention without a packet handle.
func (l *loop) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// packet accounts one packet: decode, flow update, packet filter, packet
// ring, pcap writer. It allocates nothing. The flow update waits until
// acctBatch packets are decoded: the table's memory is then read for all of
// them at once (flushAcct), which costs about one memory latency for the
// batch instead of one or two per packet.
func (l *loop) packet(data []byte, ci *gopacket.CaptureInfo) {
	if l.skipOut && loopbackOutgoing(l.lk, data) {
		return
	}
	l.received++
	wire := uint64(ci.Length)
	p := &l.p
	if l.k != nil {
		// The kernel counted it: the packet is here for the packet view and the writer.
	} else if decode(l.lk, data, p) {
		var k FlowKey
		a := &l.acct[l.nacct]
		a.tx = orient(l.c.local.Load(), p.proto, p.src, p.sport, p.dst, p.dport, &k)
		a.k = toFkey(&k)
		a.h = l.table.hash(&a.k)
		a.wire, a.flags, a.ts = wire, p.flags, ci.Timestamp.UnixNano()
		if l.nacct++; l.nacct == acctBatch {
			l.flushAcct()
		}
		if p.unreach {
			l.unreachable(p)
		}
	} else {
		l.table.other.Packets++
		l.table.other.Bytes += wire
	}
	pf := l.c.pf.Load()
	if pf != l.pf {
		l.filterChanged(pf)
	}
	if pf != nil && !pf.m.Matches(*ci, data) {
		return
	}
	if pf != nil || l.c.viewing.Load() {
		l.ring.push(ci.Timestamp, ci.Length, data)
	} else {
		l.ring.matched++
	}
	if l.w != nil {
		if err := l.w.write(ci, data); err != nil {
			l.writeFailed(err)
		}
	}
}

// flushAcct accounts the decoded packets into the flow table.
func (l *loop) flushAcct() {
	if l.nacct == 0 {
		return
	}
	acct := l.acct[:l.nacct]
	l.sink += l.table.touch(acct)
	for i := range acct {
		a := &acct[i]
		l.table.accountKey(&a.k, a.h, a.tx, a.wire, a.flags, a.ts)
	}
	l.nacct = 0
}

func (l *loop) runLive() error {
	start := time.Now()
	for {
		data, ci, err := l.src.ZeroCopyReadPacketData()
		switch {
		case err == nil:
			l.packet(data, &ci)
		case l.h.timeout(err):
		case l.stopping() || errors.Is(err, io.EOF):
			return l.finish(start, time.Now(), nil)
		default:
			return l.finish(start, time.Now(), l.readError(err))
		}
		if a := l.attn.Load(); a != 0 {
			if a&attnStop != 0 {
				return l.finish(start, time.Now(), nil)
			}
			l.attn.And(^attnTick)
			now := time.Now()
			l.emit(start, now)
			start = now
		}
		if l.c.wgen.Load() != l.wgen {
			l.syncWriter()
		}
	}
}

// runKernel is runLive when the kernel counts the flows: packets are read only while they
// are wanted (packet view, packet filter, writing), and without a packet handle the loop
// only waits for its intervals.
func (l *loop) runKernel() error {
	start := time.Now()
	for {
		if l.h == nil {
			<-l.wake
		} else {
			l.syncPass()
			data, ci, err := l.src.ZeroCopyReadPacketData()
			switch {
			case err == nil:
				l.packet(data, &ci)
			case l.h.timeout(err):
			case l.stopping() || errors.Is(err, io.EOF):
				return l.finish(start, time.Now(), nil)
			default:
				return l.finish(start, time.Now(), l.readError(err))
			}
		}
		if a := l.attn.Load(); a != 0 {
			if a&attnStop != 0 {
				return l.finish(start, time.Now(), nil)
			}
			l.attn.And(^attnTick)
			now := time.Now()
			l.emit(start, now)
			start = now
		}
		if l.c.wgen.Load() != l.wgen {
			l.syncWriter()
		}
	}
}

// syncPass lets packets through the packet handle's kernel filter while they are wanted,
// and none otherwise: with kernel accounting an unwanted packet costs no copy to user space.
func (l *loop) syncPass() {
	want := l.w != nil || l.c.pf.Load() != nil || l.c.viewing.Load()
	if want == l.pass {
		return
	}
	if p, ok := l.h.(passer); ok {
		if err := p.setPass(want); err != nil {
			l.errs = append(l.errs, err)
		}
	}
	l.pass = want
}

// passer is a live handle whose kernel filter can drop every packet.
type passer interface {
	setPass(pass bool) error
}

func (l *loop) runReplay() error {
	iv := l.c.opts.Interval
	speed := l.c.opts.Speed
	var (
		start, end   time.Time // the interval on the file's clock
		file0, wall0 time.Time // pacing origin
		started      bool
		readErr      error
	)
	for {
		if l.attn.Load()&attnStop != 0 {
			return l.finish(start, end, nil)
		}
		data, ci, err := l.src.ZeroCopyReadPacketData()
		if err != nil {
			if l.h.timeout(err) {
				continue
			}
			if !errors.Is(err, io.EOF) && !l.stopping() {
				readErr = l.readError(err)
			}
			break
		}
		if l.c.base != nil && !l.c.base.Matches(ci, data) {
			continue
		}
		ts := ci.Timestamp
		if !started {
			started = true
			start = ts.Truncate(iv)
			end = start.Add(iv)
			file0, wall0 = ts, time.Now()
		}
		for !ts.Before(end) {
			if speed > 0 && !l.sleepUntil(wall0.Add(time.Duration(float64(end.Sub(file0))/speed))) {
				return l.finish(start, end, nil)
			}
			l.emit(start, end)
			start, end = end, end.Add(iv)
			if gap := ts.Sub(start); gap > maxEmptyIntervals*iv {
				next := ts.Truncate(iv)
				l.emit(start, next)
				start, end = next, next.Add(iv)
			}
		}
		if speed > 0 {
			if due := wall0.Add(time.Duration(float64(ts.Sub(file0)) / speed)); time.Until(due) > time.Millisecond {
				if !l.sleepUntil(due) {
					return l.finish(start, end, nil)
				}
			}
		}
		if l.c.wgen.Load() != l.wgen {
			l.syncWriter()
		}
		l.packet(data, &ci)
	}
	if !started && readErr == nil {
		// An empty file (or nothing passed the base filter): one empty batch
		// still carries the statistics.
		now := time.Now()
		start, end = now, now
	}
	return l.finish(start, end, readErr)
}

// sleepUntil waits for t; false when the capture is stopped meanwhile.
func (l *loop) sleepUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-l.ctx.Done():
	case <-l.c.done:
	}
	return false
}

func (l *loop) stopping() bool {
	select {
	case <-l.ctx.Done():
		return true
	case <-l.c.done:
		return true
	default:
		return false
	}
}

// readError describes a failed read; for a replay it carries libpcap's text
// and wraps ErrBadFile.
func (l *loop) readError(err error) error {
	l.c.hmu.Lock()
	defer l.c.hmu.Unlock()
	if l.c.closed {
		return nil
	}
	return l.h.readError(err)
}

// finish closes the writer, sends the last batch (with err, if any) and
// returns err.
func (l *loop) finish(start, end time.Time, err error) error {
	if l.k != nil {
		l.k.detach() // the last read then holds every packet counted
		l.finishing = true
	}
	l.w = nil
	if werr := l.c.StopWriting(); werr != nil {
		l.errs = append(l.errs, werr)
	}
	if err != nil {
		l.errs = append(l.errs, err)
	}
	if p := l.pending; p != nil && !l.stopping() {
		// The end of a replay waits for room anyway: the batch still waiting goes first, on
		// its own, instead of being merged with the last one (a merge of two batches of a
		// full table is a map of every flow). The statistics are those of the end, as
		// when the last batch was built before this wait.
		st := l.currentStats()
		l.c.stats.Store(&st)
		select {
		case l.out <- p:
			l.pending = nil
			start = p.End // what the table holds began there
		case <-l.ctx.Done():
		case <-l.c.done:
		}
	}
	b := l.build(start, end)
	if l.stopping() {
		select { // the consumer may be gone: try once, and keep it for Unsent
		case l.out <- b:
		default:
			l.c.unsent.Store(b)
		}
		return err
	}
	select {
	case l.out <- b:
	case <-l.ctx.Done():
	case <-l.c.done:
	}
	return err
}

// filterChanged starts the packet list afresh under a new packet filter: the
// packets kept so far matched the old one.
func (l *loop) filterChanged(pf *packetFilter) {
	l.pf = pf
	l.ring.next, l.ring.count, l.ring.matched = 0, 0, 0
	if l.pending != nil {
		l.pending.Packets, l.pending.PacketsMatched = nil, 0
	}
}

// emit sends the interval's batch, or keeps it for the next interval when
// the channel is full. While the consumer is behind, no batch is built only to
// be merged: the flow table (or the kernel's counters) and the packet ring go
// on summing, and the batch that finds room spans every interval since the
// one still waiting.
func (l *loop) emit(start, end time.Time) {
	if p := l.pending; p != nil {
		select {
		case l.out <- p:
			l.pending = nil
			start = p.End // what the table holds began there
		default:
			return
		}
	}
	b := l.build(start, end)
	select {
	case l.out <- b:
	default:
		l.pending = b
	}
}

// build swaps the interval's deltas and packets out into a batch, merged
// into the pending one if the consumer had no room for it.
func (l *loop) build(start, end time.Time) *Batch { return l.buildBatch(start, end, true) }

// buildBatch is build; without packets, the packet ring keeps its packets
// (and its count of matches) for a later batch.
func (l *loop) buildBatch(start, end time.Time, packets bool) *Batch {
	var (
		flows    []FlowDelta
		overflow FlowDelta
		other    Counter
	)
	if l.k != nil {
		var err error
		abort, final := l.stopping, l.finishing
		if final {
			// The last read: within kacctFinalRead, the rest goes to overflow.
			deadline := time.Now().Add(kacctFinalRead)
			abort = func() bool { return time.Now().After(deadline) }
		}
		flows, overflow, other, err = l.k.read(l.c.local.Load(), l.c.opts.IdleTimeout, abort, final)
		if err != nil {
			l.errs = append(l.errs, err)
		}
	} else {
		l.flushAcct()
		flows, overflow, other = l.table.swapInto(l.pool.get(len(l.table.dirty)))
		now := end.UnixNano()
		// A crowded table is swept every interval: its fleeting flows leave early.
		if crowded(l.table.n, len(l.table.entries)) || now-l.lastEvict >= l.evictEvery {
			l.table.evict(now - int64(l.c.opts.IdleTimeout))
			l.lastEvict = now
		}
	}
	var (
		pkts    []PacketSummary
		matched uint64
	)
	if packets {
		pkts, matched = l.ring.drain(l.lk)
		for i := range pkts {
			pkts[i].LinkType = l.c.dlt
		}
	}
	if l.k != nil {
		// Without a packet filter every packet matches: those the kernel counted while
		// no packet came up to user space are matches too.
		if (l.h == nil || !l.pass) && l.c.pf.Load() == nil {
			matched += l.k.stats.Received - l.krecv
		}
		l.krecv = l.k.stats.Received
	}
	if l.w != nil {
		if err := l.w.flush(); err != nil {
			l.writeFailed(err)
		}
	}
	st := l.currentStats()
	l.c.stats.Store(&st)
	b := &Batch{
		Start: start, End: end, Flows: flows, Overflow: overflow, Other: other,
		Packets: pkts, PacketsMatched: matched, Stats: st, Err: errors.Join(l.errs...),
	}
	if l.pf != nil {
		b.PacketFilter = l.pf.expr
	}
	if l.k == nil {
		b.pool = l.pool
	}
	l.errs = nil
	if p := l.pending; p != nil {
		l.pending = nil
		p.merge(b, l.c.opts.RingSize)
		b.Release() // merged into p
		return p
	}
	return b
}

// currentStats returns the statistics since Open.
func (l *loop) currentStats() Stats {
	if l.c.replay {
		return Stats{Received: l.received}
	}
	if l.k != nil {
		return l.k.stats
	}
	l.pollStats()
	return l.stats
}

// pollStats adds libpcap's counters since the last poll (they are 32 bits
// wide and wrap).
func (l *loop) pollStats() {
	recv, drop, ifdrop, err := l.h.stats()
	if err != nil {
		return
	}
	l.stats.Received += uint64(recv - l.last[0])
	l.stats.Dropped += uint64(drop - l.last[1])
	l.stats.IfDropped += uint64(ifdrop - l.last[2])
	l.last = [3]uint32{recv, drop, ifdrop}
}

// syncWriter takes the writer StartWriting or StopWriting left, and on a
// live capture reopens the handle with the snaplen that writing needs (full
// packets) or, once writing stops, the normal one.
func (l *loop) syncWriter() {
	l.wgen = l.c.wgen.Load()
	l.c.wmu.Lock()
	w := l.c.w
	l.c.wmu.Unlock()
	if !l.c.replay {
		want := l.c.snaplen
		if w != nil {
			want = max(want, LiveWriteSnaplen)
		}
		if want != l.curSnap {
			if err := l.reopen(want); err != nil {
				l.errs = append(l.errs, err)
				if w != nil && want > l.curSnap {
					l.c.dropWriter(w) // it would write truncated packets
					w = nil
				}
			}
		}
	}
	l.w = w
}

// reopen replaces the live handle by one with snaplen snap. Packets still
// buffered in the old handle are lost (a few at most: the loop keeps up).
func (l *loop) reopen(snap int) error {
	nh, err := l.c.openLive(snap)
	if err != nil {
		return fmt.Errorf("capture: reopen with snaplen %d: %w", snap, err)
	}
	l.c.hmu.Lock()
	if l.c.closed {
		l.c.hmu.Unlock()
		nh.close()
		return nil
	}
	old := l.c.h
	l.c.h = nh
	l.c.hmu.Unlock()
	l.pollStats()
	old.close()
	l.last = [3]uint32{}
	l.h, l.src, l.curSnap = nh, nh.source(), snap
	l.pass = true // a new handle has no filter yet
	return nil
}

// writeFailed stops writing after an error and reports it.
func (l *loop) writeFailed(err error) {
	l.errs = append(l.errs, err)
	w := l.w
	l.w = nil
	l.c.dropWriter(w)
}

// merge sums n, the next interval's batch, into b.
func (b *Batch) merge(n *Batch, ringSize int) {
	idx := make(map[FlowKey]int, len(b.Flows))
	for i := range b.Flows {
		idx[b.Flows[i].Key] = i
	}
	for i := range n.Flows {
		f := &n.Flows[i]
		if j, ok := idx[f.Key]; ok {
			b.Flows[j].add(f)
		} else {
			idx[f.Key] = len(b.Flows)
			b.Flows = append(b.Flows, *f)
		}
	}
	b.Overflow.add(&n.Overflow)
	b.Other.Packets += n.Other.Packets
	b.Other.Bytes += n.Other.Bytes
	b.Packets = append(b.Packets, n.Packets...)
	if extra := len(b.Packets) - ringSize; extra > 0 {
		b.Packets = append([]PacketSummary(nil), b.Packets[extra:]...)
	}
	b.PacketsMatched += n.PacketsMatched
	b.PacketFilter = n.PacketFilter
	b.End = n.End
	b.Stats = n.Stats
	b.Err = errors.Join(b.Err, n.Err)
}

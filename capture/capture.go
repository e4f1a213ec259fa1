package capture

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/gopacket/gopacket"
)

// handle is a libpcap handle as the loop drives it, live or offline. The
// libpcap implementation is in pcap_linux.go; other systems have none.
type handle interface {
	// source is what the loop reads packets from.
	source() gopacket.ZeroCopyPacketDataSource
	// linkType is the DLT_ value of the handle.
	linkType() int
	// snapLen is the handle's snapshot length in bytes.
	snapLen() int
	// stats returns libpcap's counters (live handles; zero for files).
	stats() (recv, drop, ifdrop uint32, err error)
	// timeout says whether err is the read timeout of an idle live handle.
	timeout(err error) bool
	// readError turns an error from a read into a descriptive one
	// (libpcap's text for a damaged file).
	readError(err error) error
	// close releases the handle; a blocked read returns within the read
	// timeout.
	close()
}

// matcher is a compiled packet filter.
type matcher interface {
	Matches(ci gopacket.CaptureInfo, data []byte) bool
}

// packetFilter is the packet filter in force, swapped atomically.
type packetFilter struct {
	expr string
	m    matcher
}

// Capture is one live capture or one replay. Open it, run it once with Run,
// and Close it. The setters are safe to call from any goroutine while Run
// runs.
type Capture struct {
	opts        Options // defaults applied
	replay      bool
	dlt         int      // link type (DLT_) of the source
	lk          linkKind // how the decoder reads that link type
	snaplen     int      // snapshot length when not writing
	skipLoopOut bool     // live -i any: skip the outgoing copy of loopback packets
	openLive    func(snaplen int) (handle, error)
	base        matcher // replay: the base filter, applied in the loop
	kern        *kacct  // flow accounting in the kernel; nil: from the packets
	acctNote    string  // why flows are counted from packets although AccountAuto asked

	hmu    sync.Mutex
	h      handle // current handle; the loop replaces it to change the snaplen
	closed bool

	local   atomic.Pointer[localSet]
	pf      atomic.Pointer[packetFilter]
	viewing atomic.Bool

	wmu  sync.Mutex
	w    *pcapWriter   // the writer StartWriting asked for, nil when not writing
	wgen atomic.Uint64 // bumped whenever w changes, so the loop picks it up

	stats atomic.Pointer[Stats]

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	running   atomic.Bool

	unsent atomic.Pointer[Batch] // the last batch, when Run found no room for it (see Unsent)
}

// Unsent returns the last batch of a Run that was stopped (its ctx done, or Close called)
// while out had no room for it, or nil: Run does not wait for a consumer that may be gone.
// A consumer that stops the capture and then drains out applies it last: it follows the
// batches in out. Call it after Run has returned.
func (c *Capture) Unsent() *Batch { return c.unsent.Load() }

// errClosed is returned by Run on a closed Capture.
var errClosed = errors.New("capture: closed")

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.Snaplen <= 0 {
		o.Snaplen = DefaultSnaplen
		if o.WriteFile != "" && o.Interface != "" {
			o.Snaplen = LiveWriteSnaplen
		}
	}
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.FlowCap <= 0 {
		o.FlowCap = DefaultFlowCap
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.RingSize <= 0 {
		o.RingSize = DefaultRingSize
	}
	if o.Speed < 0 {
		o.Speed = 0
	}
	return o
}

// Open starts a live capture on opts.Interface or opens opts.ReplayFile for
// a replay. Errors wrap ErrNoInterface, ErrPermission, ErrBadFilter or
// ErrBadFile where they apply.
func Open(opts Options) (*Capture, error) {
	switch {
	case opts.Interface == "" && opts.ReplayFile == "":
		return nil, errors.New("capture: no interface and no replay file")
	case opts.Interface != "" && opts.ReplayFile != "":
		return nil, errors.New("capture: both an interface and a replay file")
	}
	opts = opts.withDefaults()
	c := &Capture{opts: opts, replay: opts.ReplayFile != "", done: make(chan struct{})}
	var (
		h   handle
		err error
	)
	if c.replay {
		h, c.base, err = openReplay(opts.ReplayFile, opts.BaseFilter)
	} else {
		var skip bool
		c.openLive, skip, err = liveOpener(opts)
		if err == nil {
			c.skipLoopOut = skip
			err = c.openKernel()
		}
		if err == nil && (c.kern == nil || !opts.NoLatePackets || opts.PacketFilter != "" || opts.WriteFile != "") {
			h, err = c.openLive(opts.Snaplen)
			if err != nil && c.kern != nil {
				c.kern.close()
			}
		}
	}
	if err != nil {
		return nil, err
	}
	c.h = h
	c.dlt = dltEthernet // kernel accounting without a packet handle: what the program reads
	if h != nil {
		c.dlt = h.linkType()
	}
	c.lk = linkKindOf(c.dlt)
	c.snaplen = opts.Snaplen
	local := opts.LocalAddrs
	if local == nil && !c.replay {
		local, _ = HostAddrs() // best effort: without them, ports orient the flows
	}
	c.local.Store(newLocalSet(local))
	c.stats.Store(&Stats{})
	if err := c.SetPacketFilter(opts.PacketFilter); err != nil {
		c.release()
		return nil, err
	}
	if opts.WriteFile != "" {
		if err := c.StartWriting(opts.WriteFile); err != nil {
			c.release()
			return nil, err
		}
	}
	return c, nil
}

// openKernel loads and attaches the flow accounting program when the options allow it
// (see AccountAuto). A failure under AccountAuto is not an error: flows are counted from
// the packets, and acctNote says why.
func (c *Capture) openKernel() error {
	o := c.opts
	if o.Accounting == AccountLibpcap {
		return nil
	}
	var err error
	switch {
	case o.BaseFilter != "":
		err = errors.New("a base filter (-f) is run by libpcap")
	default:
		if err = kacctLinkOK(o.Interface); err == nil {
			c.kern, err = openKacct(o.Interface, o.FlowCap)
		}
	}
	if err == nil {
		return nil
	}
	if o.Accounting == AccountKernel {
		return fmt.Errorf("capture on %s: flow accounting in the kernel: %w", o.Interface, err)
	}
	c.acctNote = "flows counted by libpcap, not in the kernel: " + err.Error()
	return nil
}

// release closes what Open opened, for Open's error paths.
func (c *Capture) release() {
	if c.h != nil {
		c.h.close()
	}
	if c.kern != nil {
		c.kern.close()
	}
}

// KeepFullBudget keeps the kernel's budget of new flows an interval at its full value
// (FlowCap/8) whatever the reads find, as it was before the budget adapted to floods (see
// "Flows not worth a row" in the package doc): for tests and benchmarks that need a flood's
// SYN flows admitted at that rate. Call it before Run; it does nothing when the flows are
// not counted in the kernel.
func (c *Capture) KeepFullBudget() error {
	if c.kern == nil {
		return nil
	}
	return c.kern.keepFullBudget()
}

// AccountingSource says where flows are counted: SourceKernel (the tc program),
// SourceLibpcap (packets captured by libpcap) or SourceFile (a replay).
func (c *Capture) AccountingSource() string {
	switch {
	case c.replay:
		return SourceFile
	case c.kern != nil:
		return SourceKernel
	}
	return SourceLibpcap
}

// AccountingNote says why a live capture counts flows from packets although the kernel
// path was asked for (AccountAuto); "" otherwise.
func (c *Capture) AccountingNote() string { return c.acctNote }

// Close stops the capture: a running Run sends what it has and returns, the
// pcap file being written is flushed and closed, and the handle is released.
// It never waits longer than the read timeout, and may be called more than
// once.
func (c *Capture) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		c.hmu.Lock()
		c.closed = true
		h := c.h
		c.hmu.Unlock()
		if h != nil {
			h.close()
		}
		if c.kern != nil && !c.running.Load() {
			c.kern.close() // a running Run reads the map one last time, then closes it
		}
		err = c.StopWriting()
	})
	return err
}

// SetPacketFilter compiles expr with libpcap for the capture's link type and
// makes it the packet filter; "" removes it. On error (wrapping
// ErrBadFilter, with libpcap's message) the previous filter stays in force.
func (c *Capture) SetPacketFilter(expr string) error {
	if expr == "" {
		c.pf.Store(nil)
		return nil
	}
	m, err := compileFilter(c.dlt, expr)
	if err != nil {
		return err
	}
	c.pf.Store(&packetFilter{expr: expr, m: m})
	return nil
}

// PacketFilter returns the packet filter in force ("" for none).
func (c *Capture) PacketFilter() string {
	if pf := c.pf.Load(); pf != nil {
		return pf.expr
	}
	return ""
}

// BaseFilter returns the base (kernel) filter given to Open.
func (c *Capture) BaseFilter() string { return c.opts.BaseFilter }

// SetViewing turns the collection of packets into Batch.Packets on or off.
// With a packet filter set, packets are collected whatever Viewing says.
func (c *Capture) SetViewing(on bool) { c.viewing.Store(on) }

// Viewing says whether packets are collected into Batch.Packets.
func (c *Capture) Viewing() bool { return c.viewing.Load() }

// SetLocalAddrs replaces the addresses that orient flows (see the package
// documentation); flows already in the table keep their orientation.
func (c *Capture) SetLocalAddrs(addrs []netip.Addr) { c.local.Store(newLocalSet(addrs)) }

// Stats returns the capture statistics as of the last interval.
func (c *Capture) Stats() Stats { return *c.stats.Load() }

// Source returns the interface name, or the replay file's path.
func (c *Capture) Source() string {
	if c.replay {
		return c.opts.ReplayFile
	}
	return c.opts.Interface
}

// Replay says whether the capture replays a file.
func (c *Capture) Replay() bool { return c.replay }

// StartWriting writes the packets that match the packet filter (all packets
// when there is none) to a new pcap file at path, created with mode 0600. A
// live capture switches to full packets (snaplen 262144) for as long as it
// writes. Errors while writing stop the writing and are reported in
// Batch.Err.
func (c *Capture) StartWriting(path string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.w != nil {
		return fmt.Errorf("capture: already writing to %s", c.w.path)
	}
	select {
	case <-c.done:
		return errClosed
	default:
	}
	snap := LiveWriteSnaplen
	if c.h == nil {
		return errors.New("capture: counting flows in the kernel without a packet handle (Options.NoLatePackets): cannot write packets")
	}
	if c.replay {
		c.hmu.Lock()
		snap = c.h.snapLen()
		c.hmu.Unlock()
	}
	w, err := newPcapWriter(path, c.dlt, max(snap, c.snaplen))
	if err != nil {
		return err
	}
	c.w = w
	c.wgen.Add(1)
	return nil
}

// StopWriting flushes and closes the pcap file being written, if any.
func (c *Capture) StopWriting() error {
	c.wmu.Lock()
	w := c.w
	c.w = nil
	c.wgen.Add(1)
	c.wmu.Unlock()
	if w == nil {
		return nil
	}
	return w.close()
}

// Writing returns the path of the pcap file being written and the packets
// written to it so far; path is "" when not writing.
func (c *Capture) Writing() (path string, packets uint64) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.w == nil {
		return "", 0
	}
	return c.w.path, c.w.packets.Load()
}

// dropWriter forgets w after a write error (unless it was replaced already)
// and closes it.
func (c *Capture) dropWriter(w *pcapWriter) {
	c.wmu.Lock()
	if c.w == w {
		c.w = nil
		c.wgen.Add(1)
	}
	c.wmu.Unlock()
	_ = w.close()
}

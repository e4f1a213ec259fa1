package capture

import (
	"net/netip"
	"time"
)

// Defaults applied by Open to zero fields of Options.
const (
	// DefaultSnaplen is the number of bytes captured per packet: enough for
	// the headers, small enough that the kernel keeps up (see DESIGN.md).
	DefaultSnaplen = 256
	// WriteSnaplen is the snaplen used when Options.WriteFile asks for full
	// packets from the start.
	WriteSnaplen = 262144
	// LiveWriteSnaplen is the snaplen of a live capture while it writes a
	// pcap file: the largest packet an interface hands to a packet socket
	// (64 KiB GSO/GRO super-packets, the 65536-byte MTU of lo) plus link
	// headers. libpcap sizes its ring blocks from the snaplen, so a larger one
	// only wastes kernel buffer.
	LiveWriteSnaplen = 65536 + 256
	// DefaultBufferSize is the kernel capture buffer in bytes (8 MiB).
	DefaultBufferSize = 8 << 20
	// DefaultInterval is the time between two batches.
	DefaultInterval = time.Second
	// DefaultFlowCap is the number of flows the table holds before new flows
	// go to the overflow bucket.
	DefaultFlowCap = 65536
	// DefaultIdleTimeout is how long a flow may stay silent before it is
	// evicted from the table.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultRingSize is the number of packet summaries a Batch holds at most.
	DefaultRingSize = 1000
	// ringDataCap bounds the bytes kept per packet for the detail view.
	ringDataCap = 4096
	// readTimeout bounds a read on an idle interface, so that intervals are
	// emitted and Close never waits longer than this. It is also how long
	// libpcap's TPACKET_V3 ring may hold a block that is not full.
	readTimeout = 100 * time.Millisecond
)

// Options configures Open. Exactly one of Interface and ReplayFile is set.
type Options struct {
	// Interface is the network interface to capture on ("any" for all).
	Interface string
	// ReplayFile is a pcap or pcapng file to replay instead of a live capture.
	ReplayFile string
	// Speed paces a replay by the file's timestamps: 1 is real time, 10 is ten
	// times faster, 0 is as fast as possible.
	Speed float64
	// Snaplen is the number of bytes captured per packet (default 256;
	// 262144 when WriteFile is set).
	Snaplen int
	// BufferSize is the kernel capture buffer in bytes (default 8 MiB).
	BufferSize int
	// Promisc puts the interface in promiscuous mode.
	Promisc bool
	// BaseFilter is a BPF expression applied by the kernel (live) or by
	// libpcap (replay) to everything that is captured and accounted.
	BaseFilter string
	// PacketFilter is a BPF expression run in user space that selects the
	// packets for Batch.Packets and for writing. Empty selects all packets.
	PacketFilter string
	// WriteFile, when set, writes the packets that match the packet filter to
	// this pcap file from the start.
	WriteFile string
	// Interval is the time between batches (default 1s), on the file's clock
	// in a replay.
	Interval time.Duration
	// FlowCap is the maximum number of flows in the table (default 65536).
	FlowCap int
	// IdleTimeout evicts flows silent for longer than this (default 2m).
	IdleTimeout time.Duration
	// RingSize is the maximum number of packet summaries per batch (default
	// 1000); the newest are kept.
	RingSize int
	// LocalAddrs are the addresses of this host, used to orient flows. Nil
	// for a live capture means HostAddrs(); a replay has none unless given.
	LocalAddrs []netip.Addr
	// Accounting chooses where a live capture accounts flows (default
	// AccountAuto: in the kernel when it can).
	Accounting Accounting
	// NoLatePackets promises that packets are never asked for after Open
	// (no SetViewing, no packet filter or writing that Options did not
	// set). With kernel accounting and neither PacketFilter nor WriteFile,
	// no libpcap handle is opened then: no packet reaches user space.
	NoLatePackets bool
}

// Accounting is where a live capture accounts flows.
type Accounting int

const (
	// AccountAuto counts flows in the kernel, with a tc program on the
	// interface (capture/bpf/flowacct.bpf.c) that user space reads once per
	// interval, when the program loads and the capture allows it: an
	// Ethernet or loopback interface (not "any"), no base filter, CAP_BPF and
	// CAP_NET_ADMIN. Otherwise it falls back to libpcap, and
	// Capture.AccountingNote says why.
	AccountAuto Accounting = iota
	// AccountLibpcap counts flows from the packets libpcap captures.
	AccountLibpcap
	// AccountKernel counts flows in the kernel or fails to open.
	AccountKernel
)

// Names of the accounting sources (Capture.AccountingSource).
const (
	SourceKernel  = "ebpf"    // the tc program's flow map
	SourceLibpcap = "libpcap" // packets read through libpcap
	SourceFile    = "file"    // a replayed file
)

// FlowKey identifies a flow: the IP protocol number and both endpoints,
// oriented local/remote (see the package documentation). Ports are 0 for
// protocols without ports and for non-first IP fragments.
type FlowKey struct {
	// Proto is the IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
	Proto uint8
	// Local is the local (or server) endpoint.
	Local netip.AddrPort
	// Remote is the remote (or client) endpoint.
	Remote netip.AddrPort
}

// ServicePort is the port of the flow's service, as the port series of the metrics and
// the history count it: the lower of its two ports (a server's port is the well-known or
// registered one, a client's the ephemeral one); 0 for protocols without ports.
func (k FlowKey) ServicePort() uint16 {
	l, r := k.Local.Port(), k.Remote.Port()
	switch {
	case l == 0:
		return r
	case r == 0:
		return l
	}
	return min(l, r)
}

// ProtoName returns the name of the flow's protocol ("tcp", "udp", "icmp",
// "icmp6", ...), or its number.
func (k FlowKey) ProtoName() string { return protoName(k.Proto) }

// FlowDelta is what one flow did during an interval.
type FlowDelta struct {
	// Key identifies the flow.
	Key FlowKey
	// RxBytes is the wire length in bytes of the packets towards Local.
	RxBytes uint64
	// TxBytes is the wire length in bytes of the packets from Local.
	TxBytes uint64
	// RxPackets is the number of packets towards Local.
	RxPackets uint64
	// TxPackets is the number of packets from Local.
	TxPackets uint64
	// Flags is the OR of the TCP flags seen in the interval (FIN 0x01, SYN
	// 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80).
	Flags uint8
	// Handshake is the OR of the handshake facts (HsSynIn, HsRstOut, ...) seen since the
	// flow entered the table, not only in the interval: a SYN of the previous interval and
	// the RST that answered it in this one are read together.
	Handshake uint16
	// First is when the flow was first seen (since it entered the table).
	First time.Time
	// Last is when the flow was last seen.
	Last time.Time
	// Flows is the number of flows the delta stands for when it is an aggregate row (see
	// the package documentation, "Flows not worth a row"): the handshakes of flows that
	// the kernel path counted per victim instead of one row each, under a SYN flood. 0 for
	// an ordinary flow, which is one flow.
	Flows uint64
	// FlowsAcked is, of an aggregate row's Flows, how many handshakes the client completed:
	// ACKs towards the victim that started a flow of their own (its packets are in that
	// flow, not here). The others are half-open, as far as the capture can tell.
	FlowsAcked uint64
}

// Aggregate says whether the delta is an aggregate row of several flows (Flows > 0).
func (d FlowDelta) Aggregate() bool { return d.Flows > 0 }

// Packets returns the packets of both directions.
func (d FlowDelta) Packets() uint64 { return d.RxPackets + d.TxPackets }

// Bytes returns the bytes of both directions.
func (d FlowDelta) Bytes() uint64 { return d.RxBytes + d.TxBytes }

// add sums o into d (same key assumed).
func (d *FlowDelta) add(o *FlowDelta) {
	d.RxBytes += o.RxBytes
	d.TxBytes += o.TxBytes
	d.RxPackets += o.RxPackets
	d.TxPackets += o.TxPackets
	d.Flags |= o.Flags
	d.Handshake |= o.Handshake
	d.Flows += o.Flows // aggregate rows of two intervals: their flows are not the same
	d.FlowsAcked += o.FlowsAcked
	if d.First.IsZero() || (!o.First.IsZero() && o.First.Before(d.First)) {
		d.First = o.First
	}
	if o.Last.After(d.Last) {
		d.Last = o.Last
	}
}

// Counter is a number of packets and their bytes on the wire.
type Counter struct {
	// Packets is a number of packets.
	Packets uint64
	// Bytes is the wire length of those packets in bytes.
	Bytes uint64
}

// Stats are the capture statistics, totals since Open.
type Stats struct {
	// Received is the number of packets received by the capture (live: as
	// libpcap reports it, pcap_stats' ps_recv, which counts both copies of a
	// loopback packet; replay: packets read that passed the base filter).
	Received uint64
	// Dropped is the number of packets dropped by the kernel because the
	// capture buffer was full.
	Dropped uint64
	// IfDropped is the number of packets dropped by the interface or driver.
	IfDropped uint64
}

// Batch is what the capture loop sends once per interval.
type Batch struct {
	// Start and End bound the interval (End excluded): the wall clock live,
	// the file's clock in a replay, where intervals are aligned on multiples
	// of Options.Interval. After coalescing they span every interval summed
	// into the batch. The last batch of a replay ends at its interval's end
	// although the file may end earlier.
	Start, End time.Time
	// Flows are the flows active in the interval, in no particular order.
	Flows []FlowDelta
	// Overflow sums the packets of new flows that found the table full
	// (its Key is zero).
	Overflow FlowDelta
	// Other counts the packets that carry no IP flow (ARP, LLDP, unknown link
	// or ethertype, headers too short to decode).
	Other Counter
	// Packets are the newest packets of the interval that matched the packet
	// filter, oldest first, at most Options.RingSize. They are collected only
	// while a packet filter is set or Viewing is on (then, without a filter,
	// every packet matches); otherwise Packets is empty.
	Packets []PacketSummary
	// PacketsMatched is the number of packets that matched the packet filter
	// in the interval (every packet when there is none); it may exceed
	// len(Packets).
	PacketsMatched uint64
	// PacketFilter is the packet filter that Packets and PacketsMatched are
	// about ("" for all packets). When the filter changes, the packets
	// collected under the old one are dropped, so a batch never mixes two.
	PacketFilter string
	// Stats are the capture statistics, totals since Open.
	Stats Stats
	// Err reports a problem met during the interval: a damaged replay file
	// (then Run returns it too, wrapping ErrBadFile), a failed pcap write
	// (writing stopped), or a failed reopen of the live handle.
	Err error

	pool flowPool // where Release hands Flows back; nil for a batch not built by Run
}

// Release hands the batch's Flows back to the capture that sent it, for a later batch
// to reuse instead of allocating a slice of every flow of the table each interval: call
// it once done with them (monitor.State.ApplyBatch does). Flows is nil afterwards. A
// batch not sent by Run (built by hand, in a test) keeps its Flows.
func (b *Batch) Release() {
	if b.pool == nil || b.Flows == nil {
		return
	}
	b.pool.put(b.Flows)
	b.Flows, b.pool = nil, nil
}

// flowPool holds Batch.Flows slices that their consumer released, for the next swaps: a
// replay or a live capture in its steady state allocates no slice per interval. Its few
// slots bound what it keeps (each at most the flow cap).
type flowPool chan []FlowDelta

func newFlowPool() flowPool { return make(flowPool, 2) }

// get returns a released slice with room for n flows, emptied, or a new one.
func (p flowPool) get(n int) []FlowDelta {
	select {
	case f := <-p:
		if cap(f) >= n {
			return f[:0]
		}
	default:
	}
	return make([]FlowDelta, 0, n)
}

// put keeps f for a later get, unless the pool is full.
func (p flowPool) put(f []FlowDelta) {
	select {
	case p <- f:
	default:
	}
}

// PacketSummary describes one packet for the packet view.
type PacketSummary struct {
	// Time is the capture timestamp.
	Time time.Time
	// Length is the length of the packet on the wire in bytes.
	Length int
	// Proto is the protocol name ("tcp", "udp", "icmp", "icmp6", "arp", ...).
	Proto string
	// Src and Dst are the IP addresses (invalid for non-IP packets).
	Src, Dst netip.Addr
	// SrcPort and DstPort are the transport ports, 0 when there are none.
	SrcPort, DstPort uint16
	// Flags are the TCP flags as tcpdump prints them ("[S.]"), empty for
	// other protocols.
	Flags string
	// Summary is a one-line description in tcpdump's style.
	Summary string
	// Data is a copy of the captured bytes (at most 4096), link header
	// included, for a detail view.
	Data []byte
	// LinkType is the link-layer header type (DLT_ value, as in
	// github.com/gopacket/gopacket/layers.LinkType) of Data, for decoding it.
	LinkType int
}

// liveReadTimeout is the libpcap timeout of a live capture with interval iv:
// readTimeout, or half the interval when that is shorter, so that a ring
// block is handed over within the interval its packets belong to.
func liveReadTimeout(iv time.Duration) time.Duration {
	return min(readTimeout, max(iv/2, time.Millisecond))
}

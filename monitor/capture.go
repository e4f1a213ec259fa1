package monitor

import (
	"slices"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// ApplyBatch folds one capture batch into the state: its flow deltas go into the open
// interval of their talkers (new flows are looked up in the socket index, see NeedRefresh),
// its overflow into the overflow row, its packets into the packet ring, its stats into
// Capture. The first batch turns capture on: processes count pcap bytes from then on.
//
// Live, the interval is closed by the next regular sample (Apply): rates use that sample's
// Elapsed. With Options.Replay, each batch closes its own interval of b.End-b.Start, drives
// the clock (Time is b.End) and feeds the pseudo-interface Options.ReplayName.
//
// ApplyBatch releases b's flows (capture.Batch.Release): b.Flows is nil afterwards for a
// batch that a capture sent.
func (st *State) ApplyBatch(b *capture.Batch) {
	if b == nil {
		return
	}
	if !st.captureSeen {
		st.captureSeen = true
		st.index.build(st.lastSockets, true) // connected sockets join flows from now on
		for _, p := range st.procs {
			p.Source = "pcap"
		}
	}
	st.version++
	st.cap.Stats = b.Stats
	st.cap.Matched = b.PacketsMatched
	st.cap.MatchedTotal += b.PacketsMatched
	st.cap.Err = b.Err
	st.cap.Batches++
	st.roomForTalkers(len(b.Flows))
	if f := st.openFacts(); cap(f.list)-len(f.list) < len(b.Flows) {
		// room for the batch's facts at once, not by doubling (a full table's batch is tens
		// of thousands of them under a flood)
		f.list = slices.Grow(f.list, min(len(b.Flows), MaxFlowFacts-len(f.list)))
	}
	for i := range b.Flows {
		d := &b.Flows[i]
		t := st.talkerFor(d, b.Start)
		st.add(t, d, b.Start)
		st.noteFact(d, t)
	}
	if n := b.Overflow.RxPackets + b.Overflow.TxPackets; n > 0 {
		st.add(st.overflow, &b.Overflow, b.Start)
		st.openFacts().overflow += n
	}
	if b.PacketFilter != st.packetFilter {
		// the ring holds packets of the old packet filter: the list starts afresh
		st.packets.reset()
		st.packetFilter = b.PacketFilter
	}
	st.lastPackets = st.lastPackets[:0]
	for i := range b.Packets {
		st.packets.push(b.Packets[i])
	}
	st.lastPackets = append(st.lastPackets, b.Packets...)
	if st.opts.Replay {
		st.closeReplay(b)
	}
	b.Release() // the flows are summed: the capture reuses their slice
}

// closeReplay closes the interval of a replayed batch on the file's clock.
func (st *State) closeReplay(b *capture.Batch) {
	el := b.End.Sub(b.Start)
	if el < 0 {
		el = 0
	}
	if st.start.IsZero() {
		st.start = b.Start
	}
	st.tick++
	st.intervals++
	st.last = b.End
	st.elapsed += el
	st.lastEl = el
	d := sampler.IfaceDelta{Name: st.opts.ReplayName, RxBytes: b.Other.Bytes, RxPackets: b.Other.Packets}
	add := func(f *capture.FlowDelta) {
		d.RxBytes += f.RxBytes
		d.TxBytes += f.TxBytes
		d.RxPackets += f.RxPackets
		d.TxPackets += f.TxPackets
	}
	for i := range b.Flows {
		add(&b.Flows[i])
	}
	add(&b.Overflow)
	st.applyInterfaces([]sampler.IfaceDelta{d}, el)
	st.unattrib = Counts{}
	st.closeTalkers(el)
	st.unattribTot.RxBytes += st.unattrib.RxBytes
	st.unattribTot.TxBytes += st.unattrib.TxBytes
}

// CaptureInfo is the packet capture as the state knows it, for the status line and the JSON.
type CaptureInfo struct {
	On           bool          // Options.Capture, or a batch was applied
	Stats        capture.Stats // of the latest batch: totals since the capture opened
	Filter       string        // the base (kernel) filter, from SetCaptureInfo
	PacketFilter string        // the packet-view filter, from SetCaptureInfo
	Source       string        // where flows are counted ("ebpf", "libpcap", "file"), from SetCaptureSource
	Matched      uint64        // packets that matched the packet filter in the latest batch
	MatchedTotal uint64        // packets that matched the packet filter over the session
	Batches      int           // batches applied
	Err          error         // the latest batch's Err (a damaged file, a failed write)
}

// SetCaptureInfo records the capture's filters, which batches do not carry: the owner calls
// it when capture starts and whenever the packet filter changes (as
// capture.Capture.BaseFilter and PacketFilter report them).
func (st *State) SetCaptureInfo(filter, packetFilter string) {
	st.cap.Filter, st.cap.PacketFilter = filter, packetFilter
}

// SetCaptureSource records where the capture counts flows (capture.SourceKernel, ...), for
// the status.
func (st *State) SetCaptureSource(src string) { st.cap.Source = src }

// Capture returns the capture's state: on, its stats and filters.
func (st *State) Capture() CaptureInfo {
	c := st.cap
	c.On = st.CaptureOn()
	return c
}

// CaptureOn reports whether processes and unattributed bytes come from captured packets.
func (st *State) CaptureOn() bool { return st.opts.Capture || st.captureSeen }

func (st *State) procSource() string {
	if st.CaptureOn() {
		return "pcap"
	}
	return "tcp_info"
}

// Captured returns the bytes captured in flows in the last interval and over the session
// (what Unattributed is a share of).
func (st *State) Captured() (interval, total Counts) { return st.captured, st.capturedTot }

// UnattributedShare returns the fraction (0 to 1) of the captured bytes that no process was
// found for, in the last interval and over the session; 0 when nothing was captured.
func (st *State) UnattributedShare() (interval, session float64) {
	share := func(u, c Counts) float64 {
		if c.RxBytes+c.TxBytes == 0 {
			return 0
		}
		return float64(u.RxBytes+u.TxBytes) / float64(c.RxBytes+c.TxBytes)
	}
	if !st.CaptureOn() {
		return 0, 0
	}
	return share(st.unattrib, st.captured), share(st.unattribTot, st.capturedTot)
}

// pktRing keeps the newest packet summaries.
type pktRing struct {
	buf  []capture.PacketSummary
	next int
	n    int
}

func (r *pktRing) reset() {
	clear(r.buf)
	r.next, r.n = 0, 0
}

func (r *pktRing) push(p capture.PacketSummary) {
	if len(r.buf) == 0 {
		return
	}
	r.buf[r.next] = p
	r.next = (r.next + 1) % len(r.buf)
	if r.n < len(r.buf) {
		r.n++
	}
}

// Packets appends the packets of the ring (Options.PacketRing, newest kept) to dst[:0],
// oldest first, newest last. They all matched the same packet filter, PacketFilter: a batch
// with another one empties the ring first. The summaries share their Data with the state: do not modify it.
func (st *State) Packets(dst []capture.PacketSummary) []capture.PacketSummary {
	r := &st.packets
	dst = dst[:0]
	for i := r.n; i > 0; i-- {
		dst = append(dst, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return dst
}

// PacketFilter returns the packet filter of the packets in the ring (Batch.PacketFilter of
// the latest batch; "" for all packets).
func (st *State) PacketFilter() string { return st.packetFilter }

// PacketCount returns the number of packets in the ring.
func (st *State) PacketCount() int { return st.packets.n }

// PacketRecord is one "packet" line of the headless JSON Lines output (DESIGN.md).
type PacketRecord struct {
	Type    string `json:"type"` // "packet"
	Time    string `json:"time"`
	Length  int    `json:"length"` // bytes on the wire
	Proto   string `json:"proto"`
	Src     string `json:"src"` // "" for a packet without IP
	Dst     string `json:"dst"`
	SrcPort uint16 `json:"src_port"`
	DstPort uint16 `json:"dst_port"`
	Flags   string `json:"flags"` // TCP flags as tcpdump prints them ("[S.]"), "" otherwise
	Summary string `json:"summary"`
}

// PacketRecords returns the packets of the latest batch as "packet" lines, oldest first.
func (st *State) PacketRecords() []PacketRecord {
	out := make([]PacketRecord, len(st.lastPackets))
	for i := range st.lastPackets {
		p := &st.lastPackets[i]
		r := PacketRecord{Type: "packet", Time: p.Time.Format(TimeFormat), Length: p.Length, Proto: p.Proto,
			SrcPort: p.SrcPort, DstPort: p.DstPort, Flags: p.Flags, Summary: p.Summary}
		if p.Src.IsValid() {
			r.Src = p.Src.String()
		}
		if p.Dst.IsValid() {
			r.Dst = p.Dst.String()
		}
		out[i] = r
	}
	return out
}

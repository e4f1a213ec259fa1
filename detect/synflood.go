package detect

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
)

// synFlood: SYNs that never complete piling up on one local port (from capture), the
// SYN-RECV count, and the kernel's SYN-queue counters (without capture too).
type synFlood struct {
	HalfOpenRate float64 // half-open SYNs per second to one local port
	MinHalfOpen  int     // and at least this many in the interval
	SynRecv      int     // SYN-RECV sockets host-wide
	KernelRate   float64 // SyncookiesSent + TCPReqQFullDrop per second
	Clear        float64

	// The interval's victims, kept between intervals for their storage only: each Check
	// starts them empty.
	victims     *table[netip.AddrPort, victim]
	spare       []*table[netip.Addr, int] // source tables of past victims, for reuse
	shared, own *facts                    // the hashes of the interval's facts (factsOf)
}

func (d *synFlood) shareFacts(fs *facts) { d.shared = fs }

func newSynFlood() *synFlood {
	return &synFlood{HalfOpenRate: 100, MinHalfOpen: 50, SynRecv: 256, KernelRate: 10, Clear: 0.5}
}

func (d *synFlood) clone() Detector {
	return &synFlood{HalfOpenRate: d.HalfOpenRate, MinHalfOpen: d.MinHalfOpen, SynRecv: d.SynRecv, KernelRate: d.KernelRate, Clear: d.Clear}
}

func (d *synFlood) params() []param {
	return []param{
		{key: "half_open_rate", doc: "half-open SYNs per second to one local port (capture)", ptr: &d.HalfOpenRate, check: atLeast(&d.HalfOpenRate, 1)},
		{key: "min_half_open", doc: "and at least this many half-open SYNs in the interval", ptr: &d.MinHalfOpen, check: atLeast(&d.MinHalfOpen, 1)},
		{key: "syn_recv", doc: "SYN-RECV sockets host-wide (socket table)", ptr: &d.SynRecv, check: atLeast(&d.SynRecv, 1)},
		{key: "kernel_rate", doc: "SyncookiesSent + TCPReqQFullDrop per second (kernel counters)", ptr: &d.KernelRate, check: atLeast(&d.KernelRate, 0.001)},
		{key: "clear", doc: "the clear level, a fraction of each firing level", ptr: &d.Clear, check: clearCheck(&d.Clear)},
	}
}

type victim struct {
	halfOpen, synAcked int
	aggregated         int                     // half-open flows of aggregate rows (FlowFact.Flows): no source each
	sources            *table[netip.Addr, int] // SYNs per source, at most maxFloodSources sources
}

// halfOpen says whether f is a half-open SYN to a listener: an inbound SYN in the interval
// that was not acknowledged, and not refused.
func halfOpen(f *monitor.FlowFact) bool {
	hs := f.Handshake
	if f.Key.Proto != 6 || f.Flags&0x02 == 0 || hs&capture.HsSynIn == 0 || hs&capture.HsAckIn != 0 {
		return false
	}
	return hs&capture.HsRstOut == 0 || hs&capture.HsSynAckOut != 0 // else a closed port's answer: a scan, not a flood
}

// maxFloodSources bounds the sources counted per victim: a spoofed flood has one per SYN.
const maxFloodSources = 1024

func (d *synFlood) Check(v *View, now time.Time, emit func(Finding)) {
	s := secs(v)
	if d.victims == nil {
		d.victims = newTable[netip.AddrPort, victim](MaxAlertsPerRule)
	}
	fs := factsOf(v, d.shared, &d.own)
	for _, vi := range d.victims.all() {
		vi.sources.reset()
		d.spare = append(d.spare, vi.sources)
	}
	d.victims.reset()
	// The victim of the previous half-open SYN, and its entry: the same while the local
	// address's hash and the port are (two addresses of this host with the same 64-bit hash
	// would be taken for one).
	var lastAddr uint64
	var lastPort uint16
	var vi *victim
	for i := range fs.info {
		fi := &fs.info[i]
		if fi.kind&kindHalfOpen == 0 {
			continue
		}
		if vi == nil || fi.local != lastAddr || fi.localPort != lastPort {
			var added bool
			vi, added = d.victims.add(&v.Flows[i].Key.Local, portHash(fi.local, fi.localPort))
			if vi == nil {
				continue // MaxAlertsPerRule victims already
			}
			if added {
				if n := len(d.spare); n > 0 {
					vi.sources, d.spare = d.spare[n-1], d.spare[:n-1]
				} else {
					vi.sources = newTable[netip.Addr, int](maxFloodSources)
				}
			}
			lastAddr, lastPort = fi.local, fi.localPort
		}
		if fi.kind&kindAggregate != 0 {
			// An aggregate row: its flows count, not its completed handshakes; the sources
			// were not kept. (Only for these is the fact itself read: info is the hot part.)
			f := &v.Flows[i]
			n := int(f.Flows - min(f.FlowsAcked, f.Flows))
			vi.halfOpen += n
			if fi.kind&kindSynAcked != 0 {
				vi.synAcked += n
			}
			vi.aggregated += n
			continue
		}
		vi.halfOpen++
		if fi.kind&kindSynAcked != 0 {
			vi.synAcked++
		}
		if vi.sources.cannotAdd(fi.remote) {
			continue // a source beyond maxFloodSources
		}
		src := v.Flows[i].Key.Remote.Addr()
		if n, _ := vi.sources.add(&src, fi.remote); n != nil {
			*n++
		}
	}
	for ap, vi := range d.victims.all() {
		rate := float64(vi.halfOpen) / s
		found, firing := band(rate, d.HalfOpenRate, d.Clear)
		if !found || vi.halfOpen < int(float64(d.MinHalfOpen)*d.Clear) {
			continue
		}
		firing = firing && vi.halfOpen >= d.MinHalfOpen
		var top netip.Addr
		topSyns := 0
		for a, n := range vi.sources.all() {
			if !top.IsValid() || *n > topSyns || (*n == topSyns && a.Less(top)) {
				top, topSyns = a, *n
			}
		}
		nsrc := vi.sources.len()
		srcs := fmt.Sprint(nsrc)
		if nsrc >= maxFloodSources {
			srcs = fmt.Sprintf("at least %d", maxFloodSources)
		}
		// Past monitor.MaxFlowFacts the view holds no more flows, and past the capture's flow
		// table their packets are in its overflow: every count here is then a floor, and the
		// evidence says so (and by how much).
		halfOpen := fmt.Sprint(vi.halfOpen)
		capped := v.FlowFactsDropped > 0 || v.FlowOverflowPackets > 0
		if capped {
			halfOpen = "at least " + halfOpen
		}
		// The capture's kernel path counts the SYNs of new flows beyond its budget per victim
		// (aggregated): their sources were not kept, each SYN is counted as one.
		summary := fmt.Sprintf("SYN flood on %s: %s half-open SYNs (%.0f/s) from %s sources", ap, halfOpen, rate, srcs)
		if vi.aggregated > 0 {
			summary += fmt.Sprintf(" and %d aggregated SYNs", vi.aggregated)
		}
		emit(Finding{Key: ap.String(), Firing: firing, Dst: ap.Addr(),
			Summary: summary,
			Evidence: map[string]any{"target": ap.String(), "half_open": vi.halfOpen, "half_open_per_sec": rate, "syn_acked": vi.synAcked,
				"sources": nsrc, "sources_capped": nsrc >= maxFloodSources, "aggregated": vi.aggregated,
				"facts_capped": capped, "facts_dropped": v.FlowFactsDropped, "overflow_packets": v.FlowOverflowPackets,
				"top_source": addrText(top), "top_source_syns": topSyns, "source": "capture"}})
	}
	// The kernel's view: no capture needed.
	k := v.Kernel
	kr := float64(k.SyncookiesSent+k.TCPReqQFullDrop) / s
	synRecv := v.TCPStates["SYN-RECV"]
	f1, fire1 := band(kr, d.KernelRate, d.Clear)
	f2, fire2 := false, false
	if v.Sockets {
		f2, fire2 = band(float64(synRecv), float64(d.SynRecv), d.Clear)
	}
	if f1 || f2 {
		emit(Finding{Key: "kernel", Firing: fire1 || fire2,
			Summary: fmt.Sprintf("SYN flood (kernel): %d SYN-RECV, %d SYN cookies sent, %d SYNs dropped (queue full), %d listen drops",
				synRecv, k.SyncookiesSent, k.TCPReqQFullDrop, k.ListenDrops),
			Evidence: map[string]any{"syn_recv": synRecv, "syncookies_sent": k.SyncookiesSent, "req_q_full_drop": k.TCPReqQFullDrop,
				"listen_overflows": k.ListenOverflows, "listen_drops": k.ListenDrops, "per_sec": kr, "source": "kernel"}})
	}
}

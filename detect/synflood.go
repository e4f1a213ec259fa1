package detect

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/wiretop/wiretop/capture"
)

// synFlood: SYNs that never complete piling up on one local port (from capture), the
// SYN-RECV count, and the kernel's SYN-queue counters (without capture too).
type synFlood struct {
	HalfOpenRate float64 // half-open SYNs per second to one local port
	MinHalfOpen  int     // and at least this many in the interval
	SynRecv      int     // SYN-RECV sockets host-wide
	KernelRate   float64 // SyncookiesSent + TCPReqQFullDrop per second
	Clear        float64
}

func newSynFlood() *synFlood {
	return &synFlood{HalfOpenRate: 100, MinHalfOpen: 50, SynRecv: 256, KernelRate: 10, Clear: 0.5}
}

func (d *synFlood) clone() Detector { c := *d; return &c }

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
	sources            map[netip.Addr]int
}

// maxFloodSources bounds the sources counted per victim: a spoofed flood has one per SYN.
const maxFloodSources = 1024

func (d *synFlood) Check(v *View, now time.Time, emit func(Finding)) {
	s := secs(v)
	victims := map[netip.AddrPort]*victim{}
	for i := range v.Flows {
		f := &v.Flows[i]
		hs := f.Handshake
		if f.Key.Proto != 6 || f.Flags&0x02 == 0 || hs&capture.HsSynIn == 0 || hs&capture.HsAckIn != 0 {
			continue
		}
		if hs&capture.HsRstOut != 0 && hs&capture.HsSynAckOut == 0 {
			continue // a closed port's answer: a scan, not a flood of a listener
		}
		vi := victims[f.Key.Local]
		if vi == nil {
			if len(victims) >= MaxAlertsPerRule {
				continue
			}
			vi = &victim{sources: map[netip.Addr]int{}}
			victims[f.Key.Local] = vi
		}
		vi.halfOpen++
		if hs&capture.HsSynAckOut != 0 {
			vi.synAcked++
		}
		src := f.Key.Remote.Addr()
		if _, ok := vi.sources[src]; ok || len(vi.sources) < maxFloodSources {
			vi.sources[src]++
		}
	}
	for ap, vi := range victims {
		rate := float64(vi.halfOpen) / s
		found, firing := band(rate, d.HalfOpenRate, d.Clear)
		if !found || vi.halfOpen < int(float64(d.MinHalfOpen)*d.Clear) {
			continue
		}
		firing = firing && vi.halfOpen >= d.MinHalfOpen
		var top netip.Addr
		for a, n := range vi.sources {
			if !top.IsValid() || n > vi.sources[top] || (n == vi.sources[top] && a.Less(top)) {
				top = a
			}
		}
		srcs := fmt.Sprint(len(vi.sources))
		if len(vi.sources) >= maxFloodSources {
			srcs = fmt.Sprintf("at least %d", maxFloodSources)
		}
		emit(Finding{Key: ap.String(), Firing: firing, Dst: ap.Addr(),
			Summary: fmt.Sprintf("SYN flood on %s: %d half-open SYNs (%.0f/s) from %s sources", ap, vi.halfOpen, rate, srcs),
			Evidence: map[string]any{"target": ap.String(), "half_open": vi.halfOpen, "half_open_per_sec": rate, "syn_acked": vi.synAcked,
				"sources": len(vi.sources), "sources_capped": len(vi.sources) >= maxFloodSources,
				"top_source": addrText(top), "top_source_syns": vi.sources[top], "source": "capture"}})
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

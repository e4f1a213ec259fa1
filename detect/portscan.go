package detect

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
)

// portScan: one source failing to reach many ports of one target in a sliding window.
// Only failed attempts count (a SYN answered by RST or not answered, a UDP probe answered
// by ICMP port unreachable), so busy clients and servers never look like scanners.
type portScan struct {
	Ports    int           // distinct ports with failed attempts in the window
	Window   time.Duration // the sliding window
	Clear    float64
	Inbound  bool
	Outbound bool

	pairs   map[scanKey]*scanPair
	dropped int // attempts of new pairs dropped because the table was full
}

// Bounds of the port-scan state: source/target pairs, and ports remembered per pair.
const (
	maxScanPairs   = 4096
	maxPortsPerKey = 1024
)

type scanKey struct {
	out      bool
	src, dst netip.Addr
}

type scanPair struct {
	ports    map[uint16]time.Time // port -> last failed attempt
	udp, tcp int                  // failed attempts in the window's intervals, by protocol
	last     time.Time
	pids     map[int]string // outbound: the local processes seen
}

func newPortScan() *portScan {
	return &portScan{Ports: 20, Window: 60 * time.Second, Clear: 0.5, Inbound: true, Outbound: true}
}

func (d *portScan) clone() Detector {
	return &portScan{Ports: d.Ports, Window: d.Window, Clear: d.Clear, Inbound: d.Inbound, Outbound: d.Outbound}
}

func (d *portScan) params() []param {
	return []param{
		{key: "ports", doc: "distinct ports with failed attempts from one source to one target in the window", ptr: &d.Ports, check: atLeast(&d.Ports, 2)},
		{key: "window", doc: "the sliding window", ptr: &d.Window, check: positive(&d.Window)},
		{key: "clear", doc: "the clear level, a fraction of ports", ptr: &d.Clear, check: clearCheck(&d.Clear)},
		{key: "inbound", doc: "watch scans of this host", ptr: &d.Inbound},
		{key: "outbound", doc: "watch scans from this host (names the local process)", ptr: &d.Outbound},
	}
}

// failed classifies a flow fact: a failed attempt inbound or outbound, and its port.
func failed(f *monitor.FlowFact) (ok, out bool, port uint16) {
	hs := f.Handshake
	switch f.Key.Proto {
	case 6:
		if f.Flags&0x06 == 0 { // no SYN or RST in the interval: not the attempt's interval
			return false, false, 0
		}
		if hs&capture.HsSynIn != 0 && hs&capture.HsSynAckOut == 0 {
			return true, false, f.Key.Local.Port()
		}
		if hs&capture.HsSynOut != 0 && hs&capture.HsSynAckIn == 0 {
			return true, true, f.Key.Remote.Port()
		}
	case 17:
		if hs&capture.HsUnreachOut != 0 {
			return true, false, f.Key.Local.Port()
		}
		if hs&capture.HsUnreachIn != 0 {
			return true, true, f.Key.Remote.Port()
		}
	}
	return false, false, 0
}

func (d *portScan) Check(v *View, now time.Time, emit func(Finding)) {
	if d.pairs == nil {
		d.pairs = map[scanKey]*scanPair{}
	}
	for i := range v.Flows {
		f := &v.Flows[i]
		ok, out, port := failed(f)
		if !ok || (out && !d.Outbound) || (!out && !d.Inbound) {
			continue
		}
		k := scanKey{out: out, src: f.Key.Remote.Addr(), dst: f.Key.Local.Addr()}
		if out {
			k.src, k.dst = f.Key.Local.Addr(), f.Key.Remote.Addr()
		}
		p := d.pairs[k]
		if p == nil {
			if len(d.pairs) >= maxScanPairs {
				d.dropped++
				continue
			}
			p = &scanPair{ports: map[uint16]time.Time{}}
			d.pairs[k] = p
		}
		if _, seen := p.ports[port]; seen || len(p.ports) < maxPortsPerKey {
			p.ports[port] = now
		}
		if f.Key.Proto == 17 {
			p.udp++
		} else {
			p.tcp++
		}
		p.last = now
		if out && f.PID != 0 {
			if p.pids == nil {
				p.pids = map[int]string{}
			}
			if len(p.pids) < 8 {
				p.pids[f.PID] = f.Comm
			}
		}
	}
	cut := now.Add(-d.Window)
	for k, p := range d.pairs {
		for port, t := range p.ports {
			if !t.After(cut) {
				delete(p.ports, port)
			}
		}
		if len(p.ports) == 0 {
			delete(d.pairs, k)
			continue
		}
		n := len(p.ports)
		found, firing := band(float64(n), float64(d.Ports), d.Clear)
		if !found {
			continue
		}
		dir := "in"
		if k.out {
			dir = "out"
		}
		src, dst := addrText(k.src), addrText(k.dst)
		ev := map[string]any{"direction": dir, "source": src, "target": dst, "ports": n,
			"ports_capped": n >= maxPortsPerKey, "sample_ports": firstPorts(p.ports, 10),
			"tcp_attempts": p.tcp, "udp_attempts": p.udp, "window_s": d.Window.Seconds()}
		who := ""
		if k.out {
			procs := make([]map[string]any, 0, len(p.pids))
			for pid, comm := range p.pids {
				procs = append(procs, map[string]any{"pid": pid, "comm": comm})
			}
			slices.SortFunc(procs, func(a, b map[string]any) int { return cmp.Compare(a["pid"].(int), b["pid"].(int)) })
			ev["processes"] = procs
			who = " (process unknown: raw sockets or gone)"
			if len(procs) > 0 {
				who = fmt.Sprintf(" (process %s, pid %d)", procs[0]["comm"], procs[0]["pid"])
			}
		}
		emit(Finding{Key: dir + "/" + src + "->" + dst, Firing: firing, Src: k.src, Dst: k.dst,
			Summary:  fmt.Sprintf("%s%s failed to reach %d ports of %s in %v", src, who, n, dst, d.Window),
			Evidence: ev})
	}
}

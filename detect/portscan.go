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

	pairs   *table[scanKey, scanPair]
	dropped int // attempts of new pairs dropped because the table was full

	shared, own *facts // the hashes of the interval's facts (factsOf)
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
	ports    portSet // the ports with failed attempts in the window
	udp, tcp int     // failed attempts in the window's intervals, by protocol
	last     time.Time
	pids     map[int]string // outbound: the local processes seen
}

func newPortScan() *portScan {
	return &portScan{Ports: 20, Window: 60 * time.Second, Clear: 0.5, Inbound: true, Outbound: true}
}

func (d *portScan) clone() Detector {
	return &portScan{Ports: d.Ports, Window: d.Window, Clear: d.Clear, Inbound: d.Inbound, Outbound: d.Outbound}
}

func (d *portScan) shareFacts(fs *facts) { d.shared = fs }

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
		d.pairs = newTable[scanKey, scanPair](maxScanPairs)
	}
	fs := factsOf(v, d.shared, &d.own)
	for i := range fs.info {
		fi := &fs.info[i]
		var out bool
		var h uint64
		var port uint16
		switch {
		case fi.kind&kindFailedIn != 0 && d.Inbound:
			h, port = pairHash(false, fi.remote, fi.local), fi.localPort
		case fi.kind&kindFailedOut != 0 && d.Outbound:
			out, h, port = true, pairHash(true, fi.local, fi.remote), fi.remotePort
		default:
			continue
		}
		if d.pairs.cannotAdd(h) {
			d.dropped++
			continue
		}
		f := &v.Flows[i]
		k := scanKey{out: out, src: f.Key.Remote.Addr(), dst: f.Key.Local.Addr()}
		if out {
			k.src, k.dst = f.Key.Local.Addr(), f.Key.Remote.Addr()
		}
		p, _ := d.pairs.add(&k, h)
		if p == nil {
			d.dropped++
			continue
		}
		p.ports.note(port, now, maxPortsPerKey)
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
	d.pairs.retain(func(_ scanKey, p *scanPair) bool { return p.ports.expire(cut) > 0 })
	for k, p := range d.pairs.all() {
		n := p.ports.len()
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
			"ports_capped": n >= maxPortsPerKey, "sample_ports": p.ports.first(10),
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

// portSet is the ports of a scan pair, each with its latest failed attempt: the first few
// inline (a spoofed flood's pairs have one port each, and a pair costs no allocation), a
// map once there are more.
type portSet struct {
	n    int // ports in few
	few  [4]portSeen
	many map[uint16]time.Time // every port, once there were more than len(few); nil before
}

type portSeen struct {
	port uint16
	at   time.Time
}

func (s *portSet) len() int {
	if s.many != nil {
		return len(s.many)
	}
	return s.n
}

// note records a failed attempt on port at at; a new port beyond max is left out.
func (s *portSet) note(port uint16, at time.Time, max int) {
	if s.many != nil {
		if _, ok := s.many[port]; ok || len(s.many) < max {
			s.many[port] = at
		}
		return
	}
	for i := range s.n {
		if s.few[i].port == port {
			s.few[i].at = at
			return
		}
	}
	switch {
	case s.n >= max:
	case s.n < len(s.few):
		s.few[s.n] = portSeen{port, at}
		s.n++
	default:
		s.many = make(map[uint16]time.Time, 4*len(s.few))
		for _, p := range s.few[:s.n] {
			s.many[p.port] = p.at
		}
		s.few, s.n = [len(s.few)]portSeen{}, 0
		s.many[port] = at
	}
}

// expire drops the ports whose latest attempt is not after cut and returns how many are left.
func (s *portSet) expire(cut time.Time) int {
	if s.many != nil {
		for port, t := range s.many {
			if !t.After(cut) {
				delete(s.many, port)
			}
		}
		if len(s.many) == 0 {
			s.many = nil
		}
		return len(s.many)
	}
	n := 0
	for _, p := range s.few[:s.n] {
		if p.at.After(cut) {
			s.few[n] = p
			n++
		}
	}
	clear(s.few[n:s.n])
	s.n = n
	return n
}

// first returns up to n of the ports, sorted.
func (s *portSet) first(n int) []int {
	out := make([]int, 0, s.len())
	for _, p := range s.few[:s.n] {
		out = append(out, int(p.port))
	}
	for p := range s.many {
		out = append(out, int(p))
	}
	slices.Sort(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}

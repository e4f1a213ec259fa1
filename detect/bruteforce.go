package detect

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
)

// bruteForce: many short, small connections from one source to an authentication port
// within minutes (SSHCure, Stream4Flow), counted from the flows, without reading logs.
// Inbound, a remote guesses passwords of a service of this host; outbound, this host
// guesses those of another's (a compromised machine used to attack others), and the local
// process is named.
type bruteForce struct {
	Ports    []int         // authentication ports
	Attempts int           // connections from one source to one service in the window
	Window   time.Duration // the sliding window
	MaxBytes int           // a connection carrying more in its first interval is a session, not an attempt
	Clear    float64
	Inbound  bool // count connections accepted by this host's services
	Outbound bool // count connections from this host accepted by another's

	pairs *table[bfKey, bfPair]

	shared, own *facts // the hashes of the interval's facts (factsOf)
}

type bfKey struct {
	out    bool // this host is the source
	src    netip.Addr
	target netip.AddrPort
}

// bfPair is what one source/target pair did in the window.
type bfPair struct {
	starts []time.Time    // connection start times in the window, oldest first
	pids   map[int]string // outbound: the local processes seen (at most bfMaxPids)
}

const (
	maxBruteKeys = 4096
	bfMaxPids    = 8
)

// authPorts are the default authentication ports: ssh, ftp, telnet, rdp, mysql,
// postgresql, vnc, pop3, imap, imaps, pop3s, submission.
var authPorts = []int{22, 21, 23, 3389, 3306, 5432, 5900, 110, 143, 993, 995, 587}

var serviceNames = map[int]string{22: "ssh", 21: "ftp", 23: "telnet", 3389: "rdp", 3306: "mysql", 5432: "postgresql",
	5900: "vnc", 110: "pop3", 143: "imap", 993: "imaps", 995: "pop3s", 587: "submission"}

func newBruteForce() *bruteForce {
	return &bruteForce{Ports: slices.Clone(authPorts), Attempts: 20, Window: 5 * time.Minute, MaxBytes: 64 << 10, Clear: 0.5,
		Inbound: true, Outbound: true}
}

func (d *bruteForce) clone() Detector {
	return &bruteForce{Ports: slices.Clone(d.Ports), Attempts: d.Attempts, Window: d.Window, MaxBytes: d.MaxBytes, Clear: d.Clear,
		Inbound: d.Inbound, Outbound: d.Outbound}
}

func (d *bruteForce) shareFacts(fs *facts) { d.shared = fs }

func (d *bruteForce) params() []param {
	return []param{
		{key: "ports", doc: "authentication ports watched", ptr: &d.Ports, check: func() string {
			for _, p := range d.Ports {
				if p < 1 || p > 65535 {
					return fmt.Sprintf("port %d out of range 1-65535", p)
				}
			}
			return ""
		}},
		{key: "attempts", doc: "connections from one source to one service in the window", ptr: &d.Attempts, check: atLeast(&d.Attempts, 2)},
		{key: "window", doc: "the sliding window", ptr: &d.Window, check: positive(&d.Window)},
		{key: "max_bytes", doc: "a connection with more bytes than this in its first interval is not counted", ptr: &d.MaxBytes, check: atLeast(&d.MaxBytes, 1)},
		{key: "clear", doc: "the clear level, a fraction of attempts", ptr: &d.Clear, check: clearCheck(&d.Clear)},
		{key: "inbound", doc: "watch connections to this host's services", ptr: &d.Inbound},
		{key: "outbound", doc: "watch connections from this host to others' services (names the local process)", ptr: &d.Outbound},
	}
}

// keep is how many start times one source/target pair keeps: 4 × attempts, saturating (a
// rules file's attempts = 4611686018427387904 made it wrap to 0, and the first attempt
// sliced an empty list).
func (d *bruteForce) keep() int {
	if d.Attempts > math.MaxInt/4 {
		return math.MaxInt
	}
	return 4 * d.Attempts
}

// accepted classifies a flow fact: a TCP connection that began in this interval (a SYN in
// it) and was accepted, inbound (their SYN, our SYN-ACK) or outbound (our SYN, their
// SYN-ACK), and the service's end of it.
func accepted(f *monitor.FlowFact) (ok, out bool, service netip.AddrPort) {
	if f.Key.Proto != 6 || f.Flags&0x02 == 0 {
		return false, false, netip.AddrPort{}
	}
	hs := f.Handshake
	switch {
	case hs&capture.HsSynIn != 0 && hs&capture.HsSynAckOut != 0:
		return true, false, f.Key.Local
	case hs&capture.HsSynOut != 0 && hs&capture.HsSynAckIn != 0:
		return true, true, f.Key.Remote
	}
	return false, false, netip.AddrPort{}
}

func (d *bruteForce) Check(v *View, now time.Time, emit func(Finding)) {
	if d.pairs == nil {
		d.pairs = newTable[bfKey, bfPair](maxBruteKeys)
	}
	fs := factsOf(v, d.shared, &d.own)
	for i := range fs.info {
		fi := &fs.info[i]
		var out bool
		var h uint64
		var port uint16
		switch {
		case fi.kind&kindAcceptedIn != 0 && d.Inbound:
			port = fi.localPort
			h = pairHash(false, fi.remote, portHash(fi.local, port))
		case fi.kind&kindAcceptedOut != 0 && d.Outbound:
			out, port = true, fi.remotePort
			h = pairHash(true, fi.local, portHash(fi.remote, port))
		default:
			continue
		}
		if !slices.Contains(d.Ports, int(port)) || d.pairs.cannotAdd(h) {
			continue
		}
		f := &v.Flows[i]
		if f.RxBytes+f.TxBytes > uint64(d.MaxBytes) {
			continue
		}
		k := bfKey{out: out, src: f.Key.Remote.Addr(), target: f.Key.Local}
		if out {
			k.src, k.target = f.Key.Local.Addr(), f.Key.Remote
		}
		p, _ := d.pairs.add(&k, h)
		if p == nil {
			continue
		}
		if len(p.starts) >= d.keep() {
			p.starts = p.starts[1:]
		}
		p.starts = append(p.starts, now)
		if out && f.PID != 0 {
			if p.pids == nil {
				p.pids = map[int]string{}
			}
			if _, seen := p.pids[f.PID]; seen || len(p.pids) < bfMaxPids {
				p.pids[f.PID] = f.Comm
			}
		}
	}
	cut := now.Add(-d.Window)
	d.pairs.retain(func(_ bfKey, p *bfPair) bool {
		j := 0
		for j < len(p.starts) && !p.starts[j].After(cut) {
			j++
		}
		p.starts = p.starts[j:]
		return len(p.starts) > 0
	})
	for k, p := range d.pairs.all() {
		n := len(p.starts)
		found, firing := band(float64(n), float64(d.Attempts), d.Clear)
		if !found {
			continue
		}
		port := int(k.target.Port())
		svc := serviceNames[port]
		if svc == "" {
			svc = fmt.Sprint(port)
		}
		src := addrText(k.src)
		ev := map[string]any{"direction": "in", "source": src, "target": k.target.String(), "service": svc, "attempts": n,
			"window_s": d.Window.Seconds()}
		who := ""
		if k.out {
			ev["direction"] = "out"
			procs := make([]map[string]any, 0, len(p.pids))
			for pid, comm := range p.pids {
				procs = append(procs, map[string]any{"pid": pid, "comm": comm})
			}
			slices.SortFunc(procs, func(a, b map[string]any) int { return cmp.Compare(a["pid"].(int), b["pid"].(int)) })
			ev["processes"] = procs
			who = " (process unknown)"
			if len(procs) > 0 {
				who = fmt.Sprintf(" (process %s, pid %d)", procs[0]["comm"], procs[0]["pid"])
			}
		}
		emit(Finding{Key: src + "->" + k.target.String(), Firing: firing, Src: k.src, Dst: k.target.Addr(),
			Summary:  fmt.Sprintf("%s%s made %d short connections to %s (%s) in %v", src, who, n, svc, k.target, d.Window),
			Evidence: ev})
	}
}

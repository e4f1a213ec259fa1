package detect

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/wiretop/wiretop/capture"
)

// bruteForce: many short, small connections from one source to an authentication port
// within minutes (SSHCure, Stream4Flow), counted from the flows, without reading logs.
type bruteForce struct {
	Ports    []int         // authentication ports
	Attempts int           // connections from one source to one service in the window
	Window   time.Duration // the sliding window
	MaxBytes int           // a connection carrying more in its first interval is a session, not an attempt
	Clear    float64

	pairs map[bfKey][]time.Time // connection start times in the window, oldest first
}

type bfKey struct {
	src    netip.Addr
	target netip.AddrPort
}

const maxBruteKeys = 4096

// authPorts are the default authentication ports: ssh, ftp, telnet, rdp, mysql,
// postgresql, vnc, pop3, imap, imaps, pop3s, submission.
var authPorts = []int{22, 21, 23, 3389, 3306, 5432, 5900, 110, 143, 993, 995, 587}

var serviceNames = map[int]string{22: "ssh", 21: "ftp", 23: "telnet", 3389: "rdp", 3306: "mysql", 5432: "postgresql",
	5900: "vnc", 110: "pop3", 143: "imap", 993: "imaps", 995: "pop3s", 587: "submission"}

func newBruteForce() *bruteForce {
	return &bruteForce{Ports: slices.Clone(authPorts), Attempts: 20, Window: 5 * time.Minute, MaxBytes: 64 << 10, Clear: 0.5}
}

func (d *bruteForce) clone() Detector {
	return &bruteForce{Ports: slices.Clone(d.Ports), Attempts: d.Attempts, Window: d.Window, MaxBytes: d.MaxBytes, Clear: d.Clear}
}

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

func (d *bruteForce) Check(v *View, now time.Time, emit func(Finding)) {
	if d.pairs == nil {
		d.pairs = map[bfKey][]time.Time{}
	}
	for i := range v.Flows {
		f := &v.Flows[i]
		hs := f.Handshake
		if f.Key.Proto != 6 || f.Flags&0x02 == 0 || hs&capture.HsSynIn == 0 || hs&capture.HsSynAckOut == 0 {
			continue // not an accepted inbound connection that began in this interval
		}
		if !slices.Contains(d.Ports, int(f.Key.Local.Port())) || f.RxBytes+f.TxBytes > uint64(d.MaxBytes) {
			continue
		}
		k := bfKey{src: f.Key.Remote.Addr(), target: f.Key.Local}
		ts, ok := d.pairs[k]
		if !ok && len(d.pairs) >= maxBruteKeys {
			continue
		}
		if len(ts) >= d.keep() {
			ts = ts[1:]
		}
		d.pairs[k] = append(ts, now)
	}
	cut := now.Add(-d.Window)
	for k, ts := range d.pairs {
		j := 0
		for j < len(ts) && !ts[j].After(cut) {
			j++
		}
		ts = ts[j:]
		if len(ts) == 0 {
			delete(d.pairs, k)
			continue
		}
		d.pairs[k] = ts
		found, firing := band(float64(len(ts)), float64(d.Attempts), d.Clear)
		if !found {
			continue
		}
		port := int(k.target.Port())
		svc := serviceNames[port]
		if svc == "" {
			svc = fmt.Sprint(port)
		}
		src := addrText(k.src)
		emit(Finding{Key: src + "->" + k.target.String(), Firing: firing, Src: k.src, Dst: k.target.Addr(),
			Summary: fmt.Sprintf("%s made %d short connections to %s (%s) in %v", src, len(ts), svc, k.target, d.Window),
			Evidence: map[string]any{"source": src, "target": k.target.String(), "service": svc, "attempts": len(ts),
				"window_s": d.Window.Seconds()}})
	}
}

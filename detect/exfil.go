package detect

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/wiretop/wiretop/monitor"
)

// exfiltration: outbound bytes to one remote host, over a sliding window, far above what
// that host usually gets, weighted by novelty (a host not seen during the learning period
// and without history is judged at the lowest level), asymmetry (the upload must be ratio
// times the download) and duration (the window sums a slow upload as a fast one).
type exfiltration struct {
	Bytes       int           // the firing level for a new host: bytes sent to it in the window
	KnownFactor float64       // a known host's level is Bytes × this; with history, this × its usual bytes in a window
	Ratio       float64       // bytes sent must be at least this many times the bytes received
	Window      time.Duration // the sliding window
	Learn       time.Duration // hosts that exchange bytes with this one during it are known
	MinBytes    int           // a host is tracked from the first interval it is sent this many bytes
	Clear       float64

	started bool
	until   time.Time
	known   map[netip.Addr]struct{}
	hosts   *table[netip.Addr, exHost] // keyed by the unmapped address
	// Untracked counts hosts not tracked because the table was full.
	Untracked int
}

// exBuckets is the number of buckets a host's window is kept in: the window slides by
// Window/exBuckets.
const exBuckets = 16

// maxExfilHosts and maxKnownHosts bound the detector's tables (a spoofed flood sends to a
// million hosts; only hosts sent MinBytes in an interval are tracked).
const (
	maxExfilHosts = 4096
	maxKnownHosts = 1 << 16
)

type exHost struct {
	tx, rx [exBuckets]uint64
	newest int64     // bucket number of the newest bucket (time / bucket width)
	first  time.Time // the first interval in the window with bytes sent
	active bool      // bytes were sent to it in the current interval
	pid    int
	comm   string
}

func newExfiltration() *exfiltration {
	return &exfiltration{Bytes: 100 << 20, KnownFactor: 10, Ratio: 10, Window: 15 * time.Minute, Learn: 5 * time.Minute,
		MinBytes: 64 << 10, Clear: 0.5}
}

func (d *exfiltration) clone() Detector {
	return &exfiltration{Bytes: d.Bytes, KnownFactor: d.KnownFactor, Ratio: d.Ratio, Window: d.Window, Learn: d.Learn,
		MinBytes: d.MinBytes, Clear: d.Clear}
}

func (d *exfiltration) params() []param {
	return []param{
		{key: "bytes", doc: "bytes sent to a new host in the window that fire", ptr: &d.Bytes, check: atLeast(&d.Bytes, 1)},
		{key: "known_factor", doc: "a known host's level: bytes × this; with history, this × its usual bytes in a window", ptr: &d.KnownFactor, check: atLeast(&d.KnownFactor, 1)},
		{key: "ratio", doc: "bytes sent must be at least this many times the bytes received in the window", ptr: &d.Ratio, check: atLeast(&d.Ratio, 0)},
		{key: "window", doc: "the sliding window", ptr: &d.Window, check: positive(&d.Window)},
		{key: "learn", doc: "hosts that exchange bytes with this one during the learning period are known", ptr: &d.Learn, check: nonNegative(&d.Learn)},
		{key: "min_bytes", doc: "a host is tracked from the first interval in which it is sent this many bytes", ptr: &d.MinBytes, check: atLeast(&d.MinBytes, 1)},
		{key: "clear", doc: "the clear level, a fraction of the firing level", ptr: &d.Clear, check: clearCheck(&d.Clear)},
	}
}

func (d *exfiltration) Check(v *View, now time.Time, emit func(Finding)) {
	if !d.started {
		d.started, d.until = true, now.Add(d.Learn)
		d.known, d.hosts = map[netip.Addr]struct{}{}, newTable[netip.Addr, exHost](maxExfilHosts)
	}
	if now.Before(d.until) {
		for i := range v.Remotes {
			if len(d.known) >= maxKnownHosts {
				break
			}
			d.known[v.Remotes[i].Remote.Unmap()] = struct{}{}
		}
		return
	}
	width := d.Window / exBuckets
	if width <= 0 {
		width = 1
	}
	bucket := now.UnixNano() / int64(width)
	for _, h := range d.hosts.all() {
		h.active = false
	}
	swept := false
	for i := range v.Remotes {
		r := &v.Remotes[i]
		small := r.TxBytes < uint64(d.MinBytes) // not tracked from this interval
		if small && d.hosts.len() == 0 {
			continue // a spoofed flood's SYN-ACKs on a quiet host
		}
		a := r.Remote.Unmap()
		ah := addrHash(a)
		if small && d.hosts.absent(ah) {
			continue // and on a busy one, nearly always
		}
		h := d.hosts.get(&a, ah)
		if h == nil {
			if small {
				continue
			}
			if d.hosts.len() >= maxExfilHosts && !swept {
				d.sweep(bucket)
				swept = true
			}
			var added bool
			if h, added = d.hosts.add(&a, ah); !added {
				d.Untracked++ // full
				continue
			}
			*h = exHost{newest: bucket, first: now}
		}
		h.slide(bucket)
		if h.sum(&h.tx) == 0 && r.TxBytes > 0 {
			h.first = now
		}
		h.tx[slot(bucket)] += r.TxBytes
		h.rx[slot(bucket)] += r.RxBytes
		if r.TxBytes > 0 {
			h.active = true
			if r.PID != 0 {
				h.pid, h.comm = r.PID, r.Comm
			}
		}
	}
	d.hosts.retain(func(_ netip.Addr, h *exHost) bool {
		h.slide(bucket)
		return h.sum(&h.tx) != 0 || h.sum(&h.rx) != 0
	})
	for a, h := range d.hosts.all() {
		tx, rx := h.sum(&h.tx), h.sum(&h.rx)
		// only an upload under way is judged: the alert resolves once it has stopped for hold
		if !h.active || float64(tx) < d.Ratio*float64(rx) {
			continue
		}
		level, novelty := d.level(v, a, now)
		found, firing := band(float64(tx), level, d.Clear)
		if !found {
			continue
		}
		host := addrText(a)
		who := "an unknown process"
		if h.pid != 0 {
			who = fmt.Sprintf("%s (pid %d)", h.comm, h.pid)
		}
		dur := now.Sub(h.first)
		emit(Finding{Key: host, Firing: firing, Dst: a,
			Summary: fmt.Sprintf("%s sent %s to %s host %s in %v (received %s)", who, byteText(tx), novelty, host,
				dur.Round(time.Second), byteText(rx)),
			Evidence: map[string]any{"remote": host, "tx_bytes": tx, "rx_bytes": rx, "level": level, "novelty": novelty,
				"duration_s": dur.Seconds(), "window_s": d.Window.Seconds(), "pid": h.pid, "comm": h.comm}})
	}
}

// level is the firing level for host a, and why: "new" (not seen during learning, no
// history), "known" (seen during learning), or "usual" (history has a baseline for it).
func (d *exfiltration) level(v *View, a netip.Addr, now time.Time) (float64, string) {
	novelty, level := "new", float64(d.Bytes)
	if _, ok := d.known[a]; ok {
		novelty, level = "known", float64(d.Bytes)*d.KnownFactor
	}
	if v.Baselines != nil && float64(d.Bytes) <= level { // asked only for a candidate: the lookup is per host
		if b, ok := v.Baselines.Baseline(monitor.MetricHostTx, addrText(a), now); ok && b.Weeks > 0 {
			novelty = "usual"
			level = math.Max(float64(d.Bytes), d.KnownFactor*b.Median*d.Window.Seconds())
		}
	}
	return level, novelty
}

// slot is bucket's place in a host's ring of buckets. A bucket number is negative for a
// clock before 1970, or after 2262 where UnixNano wraps (a replayed pcapng's timestamps):
// bucket%exBuckets was then a negative index, and Check panicked.
func slot(bucket int64) int64 { return (bucket%exBuckets + exBuckets) % exBuckets }

// slide moves h's window to end at bucket, zeroing the buckets that fell out of it.
func (h *exHost) slide(bucket int64) {
	if bucket <= h.newest {
		return
	}
	for b := h.newest + 1; b <= bucket && b <= h.newest+exBuckets; b++ {
		h.tx[slot(b)], h.rx[slot(b)] = 0, 0
	}
	h.newest = bucket
}

func (h *exHost) sum(b *[exBuckets]uint64) uint64 {
	var n uint64
	for _, x := range b {
		n += x
	}
	return n
}

// sweep makes room in a full table, once an interval at most: the hosts sent nothing so
// far in the current bucket go.
func (d *exfiltration) sweep(bucket int64) {
	d.hosts.retain(func(_ netip.Addr, h *exHost) bool { return h.newest == bucket && h.tx[slot(bucket)] != 0 })
}

// byteText is n in binary units (B, KiB, MiB, GiB).
func byteText(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

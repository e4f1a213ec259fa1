package metrics

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

// Options configure an Exporter.
type Options struct {
	// Top is how many processes, remote hosts and ports are exported each (a sticky top N by
	// the last hour's bytes); 0 exports none of them. Default 50 when negative.
	Top int
	// Version is the build's version, for wiretop_build_info.
	Version string
	// Capture says a packet capture was asked for (not --no-capture): then
	// wiretop_source_up{source="capture"} is exported, 0 while the capture is not working.
	Capture bool
	// Interval is the sampling interval: a snapshot older than three of them (and at least
	// 10 s) means the sampler has stopped, and its sources are reported down.
	Interval time.Duration
	// MaxAlertKeys bounds the wiretop_alert_firing series (default 1000).
	MaxAlertKeys int
}

// Exporter turns the monitor state into snapshots for its collector. Observe runs on the
// goroutine that owns the state; Collector is safe for any goroutine.
type Exporter struct {
	opts  Options
	cur   atomic.Pointer[Snapshot]
	procs *topN[procKey]
	hosts *topN[netip.Addr]
	ports *topN[portKey]
	// capture health: the batch count at the latest interval that saw it advance
	lastBatches, staleIntervals int
}

type procKey struct{ comm, user string }

type portKey struct {
	proto string
	port  uint16
}

// New returns an Exporter with an empty snapshot (every source down until the first
// interval).
func New(opts Options) *Exporter {
	if opts.Top < 0 {
		opts.Top = 50
	}
	if opts.MaxAlertKeys <= 0 {
		opts.MaxAlertKeys = 1000
	}
	e := &Exporter{opts: opts, procs: newTopN[procKey](opts.Top), hosts: newTopN[netip.Addr](opts.Top), ports: newTopN[portKey](opts.Top)}
	e.cur.Store(&Snapshot{Version: opts.Version, Sources: e.sources(false, nil, false)})
	return e
}

// Snapshot is what a scrape reports: totals since the start of the run, copied out of the
// state at the end of an interval. It is never changed once published.
type Snapshot struct {
	Time     time.Time // of the interval's sample
	Observed time.Time // wall clock when Observe built it (zero before the first interval)
	Version  string

	Interfaces []IfaceTotals // present interfaces, sorted by name
	TCPStates  []monitor.StateCount
	Kernel     sampler.KernelTCP // over the session

	Processes []KeyTotals // Labels: comm, user
	Remotes   []KeyTotals // Labels: remote
	Ports     []KeyTotals // Labels: proto, port

	CaptureOn   bool
	Capture     capture.Stats // totals since the capture opened
	Captured    monitor.Counts
	Unattrib    monitor.Counts
	Alerts      []AlertCount // by rule, severity, state
	Firing      []FiringKey
	FiringTrunc int // firing keys left out (Options.MaxAlertKeys)

	Sources []SourceUp

	SockEvents *sampler.SockEventStats // with process_source sock_events, else nil
}

// IfaceTotals are one interface's counters over the session.
type IfaceTotals struct {
	Name                 string
	RxBytes, TxBytes     uint64
	RxPackets, TxPackets uint64
	RxErrors, TxErrors   uint64
	RxDropped, TxDropped uint64
}

// KeyTotals are the bytes of one exported key since the exporter began tracking it.
type KeyTotals struct {
	Labels           [2]string // label values, in the order of the metric's labels
	RxBytes, TxBytes uint64
}

// AlertCount is how many alerts of one rule are in one state.
type AlertCount struct {
	Rule, Severity, State string
	Count                 int
}

// FiringKey is one firing alert.
type FiringKey struct{ Rule, Key string }

// SourceUp says whether one source worked in the latest interval.
type SourceUp struct {
	Source string
	Up     bool
}

// Current returns the latest published snapshot.
func (e *Exporter) Current() *Snapshot { return e.cur.Load() }

// Observe reads the interval just closed in st, with the detectors' current alerts, and
// publishes a new snapshot. It must run on the goroutine that owns st, after each closed
// interval (each call adds the interval's process, host and port bytes).
func (e *Exporter) Observe(st *monitor.State, alerts []detect.Alert) {
	now := st.Time()
	slotNow := now.Unix() / slotSeconds
	s := &Snapshot{Time: now, Observed: time.Now(), Version: e.opts.Version}

	netdevDown := failed(st.Errors(), sampler.SourceNetDev)
	st.EachInterfaceAll(func(f *monitor.Iface) {
		// while /proc/net/dev fails, every interface looks absent: keep reporting their
		// totals (the source_up series says they are not current)
		if !f.Present && !netdevDown {
			return
		}
		s.Interfaces = append(s.Interfaces, IfaceTotals{Name: f.Name, RxBytes: f.Rx.Total, TxBytes: f.Tx.Total,
			RxPackets: f.RxPackets, TxPackets: f.TxPackets, RxErrors: f.RxErrors, TxErrors: f.TxErrors,
			RxDropped: f.RxDropped, TxDropped: f.TxDropped})
	})
	slices.SortFunc(s.Interfaces, func(a, b IfaceTotals) int { return cmp.Compare(a.Name, b.Name) })
	s.TCPStates = st.TCPStates()
	_, s.Kernel = st.Kernel()

	st.EachIntervalProcess(func(p *monitor.Process) {
		e.procs.add(procKey{p.Comm, p.User}, p.RxBytes, p.TxBytes, slotNow)
	})
	st.EachIntervalTalker(func(t *monitor.Talker) {
		e.hosts.add(t.Key.Remote.Addr(), t.RxBytes, t.TxBytes, slotNow)
		if port := t.Key.ServicePort(); port != 0 {
			e.ports.add(portKey{t.Proto, port}, t.RxBytes, t.TxBytes, slotNow)
		}
	})
	e.procs.selectTop(slotNow)
	e.hosts.selectTop(slotNow)
	e.ports.selectTop(slotNow)
	s.Processes = totals(e.procs, func(k procKey) [2]string { return [2]string{k.comm, k.user} })
	s.Remotes = totals(e.hosts, func(k netip.Addr) [2]string { return [2]string{k.String()} })
	s.Ports = totals(e.ports, func(k portKey) [2]string { return [2]string{k.proto, strconv.Itoa(int(k.port))} })

	ci := st.Capture()
	s.CaptureOn = ci.On
	s.Capture = ci.Stats
	_, s.Captured = st.Captured()
	_, s.Unattrib = st.Unattributed()
	captureUp := false
	if ci.On {
		if ci.Batches != e.lastBatches {
			e.lastBatches, e.staleIntervals = ci.Batches, 0
		} else {
			e.staleIntervals++
		}
		captureUp = ci.Err == nil && ci.Batches > 0 && e.staleIntervals < 3
	}
	if status := st.Status(); status.ProcessSource == sampler.ProcessFromSockEvents {
		ev := status.SockEvents
		s.SockEvents = &ev
	}
	s.Alerts, s.Firing, s.FiringTrunc = alertSeries(alerts, e.opts.MaxAlertKeys)
	s.Sources = e.sources(true, st.Errors(), captureUp)
	e.cur.Store(s)
}

// sources says which sources worked: after an interval was observed, the sampler's sources
// that reported no error in its sample, and the capture when its batches arrive.
func (e *Exporter) sources(observed bool, errs []error, captureUp bool) []SourceUp {
	up := make([]SourceUp, 0, len(sampler.Sources)+1)
	for _, name := range sampler.Sources {
		up = append(up, SourceUp{Source: name, Up: observed && !failed(errs, name)})
	}
	if e.opts.Capture {
		up = append(up, SourceUp{Source: "capture", Up: observed && captureUp})
	}
	return up
}

// failed says whether errs holds a failure of the sampler's source name.
func failed(errs []error, name string) bool {
	for _, err := range errs {
		var se *sampler.SourceError
		if errors.As(err, &se) && se.Source == name {
			return true
		}
	}
	return false
}

func totals[K comparable](t *topN[K], labels func(K) [2]string) []KeyTotals {
	out := make([]KeyTotals, 0, len(t.exported))
	for _, key := range t.exported {
		k := t.keys[key]
		out = append(out, KeyTotals{Labels: labels(key), RxBytes: k.rx, TxBytes: k.tx})
	}
	slices.SortFunc(out, func(a, b KeyTotals) int {
		return cmp.Or(cmp.Compare(a.Labels[0], b.Labels[0]), cmp.Compare(a.Labels[1], b.Labels[1]))
	})
	return out
}

// alertSeries counts the alerts by rule, severity and state, and lists the firing ones.
func alertSeries(alerts []detect.Alert, maxKeys int) ([]AlertCount, []FiringKey, int) {
	type k3 struct{ rule, sev, state string }
	counts := make(map[k3]int)
	var firing []FiringKey
	seen := make(map[FiringKey]bool)
	trunc := 0
	for _, a := range alerts {
		counts[k3{a.Rule, string(a.Severity), string(a.State)}]++
		if a.State != detect.Firing {
			continue
		}
		fk := FiringKey{a.Rule, a.Key}
		if seen[fk] {
			continue
		}
		seen[fk] = true
		if len(firing) >= maxKeys {
			trunc++
			continue
		}
		firing = append(firing, fk)
	}
	out := make([]AlertCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, AlertCount{k.rule, k.sev, k.state, n})
	}
	slices.SortFunc(out, func(a, b AlertCount) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Severity, b.Severity), cmp.Compare(a.State, b.State))
	})
	slices.SortFunc(firing, func(a, b FiringKey) int { return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Key, b.Key)) })
	return out, firing, trunc
}

package detect

import (
	"fmt"
	"math"
	"time"

	"github.com/wiretop/wiretop/monitor"
)

// connSurge: CLOSE-WAIT accumulating in one process (a leak: the peer closed, the program
// never did), SYN-SENT piling up (a host that cannot connect, or a worm), and, with
// history, ESTAB and new connections far above the same-hour-of-week baseline.
type connSurge struct {
	CloseWait   int     // CLOSE-WAIT sockets of one process
	SynSentProc int     // SYN-SENT sockets of one process
	SynSent     int     // SYN-SENT sockets host-wide
	MADs        float64 // baseline: how many MADs above the median
	MinEstab    int     // baseline: ESTAB floor
	MinNewConns float64 // baseline: new connections per second floor
	Clear       float64
}

func newConnSurge() *connSurge {
	return &connSurge{CloseWait: 100, SynSentProc: 50, SynSent: 100, MADs: 6, MinEstab: 500, MinNewConns: 50, Clear: 0.5}
}

func (d *connSurge) clone() Detector { c := *d; return &c }

func (d *connSurge) params() []param {
	return []param{
		{key: "close_wait", doc: "CLOSE-WAIT sockets of one process", ptr: &d.CloseWait, check: atLeast(&d.CloseWait, 1)},
		{key: "syn_sent_process", doc: "SYN-SENT sockets of one process", ptr: &d.SynSentProc, check: atLeast(&d.SynSentProc, 1)},
		{key: "syn_sent", doc: "SYN-SENT sockets host-wide", ptr: &d.SynSent, check: atLeast(&d.SynSent, 1)},
		{key: "mads", doc: "with history: ESTAB or new connections this many MADs above the same-hour-of-week median", ptr: &d.MADs, check: atLeast(&d.MADs, 0.1)},
		{key: "min_estab", doc: "with history: and at least this many ESTAB", ptr: &d.MinEstab, check: atLeast(&d.MinEstab, 0)},
		{key: "min_new_conns", doc: "with history: and at least this many new connections per second", ptr: &d.MinNewConns, check: atLeast(&d.MinNewConns, 0)},
		{key: "clear", doc: "the clear level, a fraction of each firing level", ptr: &d.Clear, check: clearCheck(&d.Clear)},
	}
}

func (d *connSurge) Check(v *View, now time.Time, emit func(Finding)) {
	if !v.Sockets {
		return
	}
	for _, p := range v.Procs {
		if found, firing := band(float64(p.CloseWait), float64(d.CloseWait), d.Clear); found {
			emit(Finding{Key: fmt.Sprintf("close_wait/%d", p.PID), Firing: firing,
				Summary:  fmt.Sprintf("%s (pid %d) holds %d connections in CLOSE-WAIT: the peers closed, it did not", p.Comm, p.PID, p.CloseWait),
				Evidence: map[string]any{"pid": p.PID, "comm": p.Comm, "close_wait": p.CloseWait, "estab": p.Estab}})
		}
		if found, firing := band(float64(p.SynSent), float64(d.SynSentProc), d.Clear); found {
			emit(Finding{Key: fmt.Sprintf("syn_sent/%d", p.PID), Firing: firing,
				Summary:  fmt.Sprintf("%s (pid %d) has %d connections stuck in SYN-SENT", p.Comm, p.PID, p.SynSent),
				Evidence: map[string]any{"pid": p.PID, "comm": p.Comm, "syn_sent": p.SynSent}})
		}
	}
	ss := v.TCPStates["SYN-SENT"]
	if found, firing := band(float64(ss), float64(d.SynSent), d.Clear); found {
		emit(Finding{Key: "syn_sent/host", Firing: firing,
			Summary:  fmt.Sprintf("%d connections stuck in SYN-SENT host-wide", ss),
			Evidence: map[string]any{"syn_sent": ss}})
	}
	if v.Baselines == nil {
		return
	}
	estab := float64(v.TCPStates["ESTAB"])
	d.againstBaseline(v, now, monitor.MetricEstab, "estab", estab, float64(d.MinEstab), emit)
	nc := float64(v.Kernel.ActiveOpens+v.Kernel.PassiveOpens) / secs(v)
	d.againstBaseline(v, now, monitor.MetricNewConns, "new_conns", nc, d.MinNewConns, emit)
}

func (d *connSurge) againstBaseline(v *View, now time.Time, m monitor.Metric, key string, value, floor float64, emit func(Finding)) {
	b, ok := v.Baselines.Baseline(m, "", now)
	if !ok || b.Weeks == 0 {
		return
	}
	level := math.Max(floor, b.Median+d.MADs*math.Max(b.MAD, 1))
	if found, firing := band(value, level, d.Clear); found {
		emit(Finding{Key: key, Firing: firing,
			Summary:  fmt.Sprintf("%s at %.0f, usual for this hour of the week %.0f (MAD %.0f, %d weeks)", key, value, b.Median, b.MAD, b.Weeks),
			Evidence: map[string]any{"metric": string(m), "value": value, "median": b.Median, "mad": b.MAD, "weeks": b.Weeks, "level": level}})
	}
}

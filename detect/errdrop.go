package detect

import (
	"fmt"
	"time"
)

// errorsDrops: interface errors and drops, and capture drops, above a share of the
// packets, with a floor.
type errorsDrops struct {
	Share float64 // errors+drops over packets
	Floor int     // and at least this many errors+drops in the interval
	Clear float64
}

func newErrorsDrops() *errorsDrops { return &errorsDrops{Share: 0.01, Floor: 10, Clear: 0.5} }

func (d *errorsDrops) clone() Detector { c := *d; return &c }

func (d *errorsDrops) params() []param {
	return []param{
		{key: "share", doc: "errors and drops as a share of the packets (0.01 is 1%)", ptr: &d.Share, check: func() string {
			if d.Share <= 0 || d.Share > 1 {
				return "must be in (0, 1]"
			}
			return ""
		}},
		{key: "floor", doc: "and at least this many errors and drops in the interval", ptr: &d.Floor, check: atLeast(&d.Floor, 1)},
		{key: "clear", doc: "the clear level, a fraction of share and floor", ptr: &d.Clear, check: clearCheck(&d.Clear)},
	}
}

func (d *errorsDrops) judge(key, what string, bad, total uint64, ev map[string]any, emit func(Finding)) {
	if bad == 0 || total == 0 {
		return
	}
	share := float64(bad) / float64(total)
	f1, fire1 := band(share, d.Share, d.Clear)
	f2, fire2 := band(float64(bad), float64(d.Floor), d.Clear)
	if !f1 || !f2 {
		return
	}
	ev["share"] = share
	emit(Finding{Key: key, Firing: fire1 && fire2, Evidence: ev,
		Summary: fmt.Sprintf("%s: %d of %d packets (%.1f%%) lost to errors or drops", what, bad, total, 100*share)})
}

func (d *errorsDrops) Check(v *View, now time.Time, emit func(Finding)) {
	for _, f := range v.Ifaces {
		bad := f.RxErrors + f.RxDropped + f.TxErrors + f.TxDropped
		d.judge(f.Name, f.Name, bad, f.RxPackets+f.TxPackets+bad, map[string]any{
			"interface": f.Name, "rx_errors": f.RxErrors, "rx_dropped": f.RxDropped, "tx_errors": f.TxErrors,
			"tx_dropped": f.TxDropped, "packets": f.RxPackets + f.TxPackets}, emit)
	}
	if v.Capture {
		bad := v.CapDropped + v.CapIfDropped
		d.judge("capture", "capture", bad, v.CapReceived+bad, map[string]any{
			"received": v.CapReceived, "dropped": v.CapDropped, "if_dropped": v.CapIfDropped}, emit)
	}
}

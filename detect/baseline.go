package detect

import (
	"fmt"
	"math"
	"time"

	"github.com/wiretop/wiretop/monitor"
)

// baselineRule: an interface's receive or transmit rate outside the same-hour-of-week band
// (median + MADs × MAD) for several minutes, with an absolute floor; the evidence gives
// yesterday's and last week's values at this time (growth). Needs history: without
// baselines the rule is off and says so.
type baselineRule struct {
	MADs  float64 // how many MADs above the median
	Floor float64 // bytes per second below which nothing is judged
	Clear float64
}

func newBaseline() *baselineRule { return &baselineRule{MADs: 6, Floor: 1 << 20, Clear: 0.8} }

func (d *baselineRule) clone() Detector { c := *d; return &c }

func (d *baselineRule) params() []param {
	return []param{
		{key: "mads", doc: "how many MADs above the same-hour-of-week median", ptr: &d.MADs, check: atLeast(&d.MADs, 0.1)},
		{key: "floor", doc: "rates below this many bytes per second are never judged", ptr: &d.Floor, check: atLeast(&d.Floor, 0)},
		{key: "clear", doc: "the clear level, a fraction of the band's top", ptr: &d.Clear, check: clearCheck(&d.Clear)},
	}
}

func (d *baselineRule) Check(v *View, now time.Time, emit func(Finding)) {
	if v.Baselines == nil {
		return
	}
	s := secs(v)
	for _, f := range v.Ifaces {
		if f.Name == "lo" {
			continue
		}
		for _, dir := range []struct {
			m     monitor.Metric
			name  string
			bytes uint64
		}{{monitor.MetricIfaceRx, "rx", f.RxBytes}, {monitor.MetricIfaceTx, "tx", f.TxBytes}} {
			rate := float64(dir.bytes) / s
			b, ok := v.Baselines.Baseline(dir.m, f.Name, now)
			if !ok || b.Weeks == 0 {
				continue
			}
			level := math.Max(d.Floor, b.Median+d.MADs*math.Max(b.MAD, 1))
			found, firing := band(rate, level, d.Clear)
			if !found {
				continue
			}
			ev := map[string]any{"interface": f.Name, "direction": dir.name, "rate": rate, "median": b.Median,
				"mad": b.MAD, "weeks": b.Weeks, "level": level}
			if b.HaveYesterday {
				ev["yesterday"] = b.Yesterday
			}
			if b.HaveLastWeek {
				ev["last_week"] = b.LastWeek
			}
			emit(Finding{Key: f.Name + "/" + dir.name, Firing: firing, Evidence: ev,
				Summary: fmt.Sprintf("%s %s at %.0f B/s, usual for this hour of the week %.0f B/s (%d weeks)", f.Name, dir.name, rate, b.Median, b.Weeks)})
		}
	}
}

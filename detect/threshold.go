package detect

import (
	"fmt"
	"slices"
	"time"
)

// threshold: an interface's rate above a limit (the seed's shell script, done right).
type threshold struct {
	Interfaces []string // names; empty: every interface but lo
	Direction  string   // "rx", "tx" or "both"
	Unit       string   // "bytes" or "bits" (per second)
	Limit      float64  // in Unit per second
	Clear      float64  // the clear level, a fraction of Limit
}

func newThreshold() *threshold {
	return &threshold{Direction: "both", Unit: "bits", Limit: 1e9, Clear: 0.8}
}

func (d *threshold) clone() Detector { c := *d; c.Interfaces = slices.Clone(d.Interfaces); return &c }

func (d *threshold) params() []param {
	return []param{
		{key: "interfaces", doc: "interfaces watched (empty: all but lo)", ptr: &d.Interfaces},
		{key: "direction", doc: `"rx", "tx" or "both"`, ptr: &d.Direction, check: func() string {
			if d.Direction != "rx" && d.Direction != "tx" && d.Direction != "both" {
				return `want "rx", "tx" or "both"`
			}
			return ""
		}},
		{key: "unit", doc: `"bits" or "bytes" (per second) for limit`, ptr: &d.Unit, check: func() string {
			if d.Unit != "bits" && d.Unit != "bytes" {
				return `want "bits" or "bytes"`
			}
			return ""
		}},
		{key: "limit", doc: "the firing level, in unit per second", ptr: &d.Limit, check: atLeast(&d.Limit, 1)},
		{key: "clear", doc: "the clear level, a fraction of limit", ptr: &d.Clear, check: clearCheck(&d.Clear)},
	}
}

func (d *threshold) Check(v *View, now time.Time, emit func(Finding)) {
	s := secs(v)
	mult := 1.0
	if d.Unit == "bits" {
		mult = 8
	}
	for _, f := range v.Ifaces {
		if len(d.Interfaces) == 0 && f.Name == "lo" {
			continue
		}
		if len(d.Interfaces) > 0 && !slices.Contains(d.Interfaces, f.Name) {
			continue
		}
		for _, dir := range []string{"rx", "tx"} {
			if d.Direction != "both" && d.Direction != dir {
				continue
			}
			b := f.RxBytes
			if dir == "tx" {
				b = f.TxBytes
			}
			rate := float64(b) * mult / s
			found, firing := band(rate, d.Limit, d.Clear)
			if !found {
				continue
			}
			emit(Finding{Key: f.Name + "/" + dir, Firing: firing,
				Summary:  fmt.Sprintf("%s %s at %.0f %s/s (limit %.0f)", f.Name, dir, rate, d.Unit, d.Limit),
				Evidence: map[string]any{"interface": f.Name, "direction": dir, "rate": rate, "unit": d.Unit + "/s", "limit": d.Limit}})
		}
	}
}

package monitor

import "time"

// Read methods for the metrics exporter (metrics/): visitors over the last closed interval
// that copy nothing, so that the exporter's per-interval work stays small with 100,000
// talkers and 10,000 processes.

// EachInterfaceAll calls fn for every interface seen so far (present or not), in no order.
func (st *State) EachInterfaceAll(fn func(f *Iface)) {
	for _, f := range st.ifaces {
		fn(f)
	}
}

// EachIntervalProcess calls fn for every process that moved bytes in the last closed
// interval (its RxBytes and TxBytes), in no order. fn must not keep p.
func (st *State) EachIntervalProcess(fn func(p *Process)) {
	for _, p := range st.procs {
		if p.RxBytes+p.TxBytes > 0 {
			fn(p)
		}
	}
}

// EachIntervalTalker calls fn for every flow that moved bytes in the last closed interval
// (its RxBytes and TxBytes), in no order; the overflow row is not among them. fn must not
// keep t.
func (st *State) EachIntervalTalker(fn func(t *Talker)) {
	for _, t := range st.prevTouched {
		if !t.evicted && t.RxBytes+t.TxBytes > 0 {
			fn(&t.Talker)
		}
	}
}

// Intervals returns how many intervals were closed so far.
func (st *State) Intervals() int { return st.intervals }

// IntervalElapsed returns the length of the last closed interval.
func (st *State) IntervalElapsed() time.Duration { return st.lastEl }

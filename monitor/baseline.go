package monitor

import "time"

// Metric names a quantity that history keeps per bucket and can give a baseline for.
type Metric string

// The metrics with baselines. The key of each names the series: an interface, a remote
// host, a process identity; "" for the host-wide counts.
const (
	MetricIfaceRx  Metric = "iface_rx_bytes_per_sec" // key: interface name
	MetricIfaceTx  Metric = "iface_tx_bytes_per_sec" // key: interface name
	MetricEstab    Metric = "tcp_estab"              // ESTAB sockets; key ""
	MetricNewConns Metric = "tcp_new_conns_per_sec"  // connections opened (active + passive opens); key ""
	MetricHostTx   Metric = "host_tx_bytes_per_sec"  // bytes sent to one remote host; key: its address
	MetricHostRx   Metric = "host_rx_bytes_per_sec"  // bytes received from one remote host; key: its address
	MetricProcTx   Metric = "proc_tx_bytes_per_sec"  // a process's send rate; key: its identity (see history)
	MetricProcRx   Metric = "proc_rx_bytes_per_sec"  // a process's receive rate; key: its identity
)

// Baseline is what is normal for a metric at one moment: the same hour of the week over the
// last weeks, and the values of yesterday and of last week at this time.
type Baseline struct {
	Metric Metric
	Key    string
	At     time.Time // the moment it describes

	Median float64 // of the same hour of the week over the weeks kept
	MAD    float64 // median absolute deviation of those values (a robust spread)
	Weeks  int     // how many weeks had data for that hour (0: no baseline yet)

	Yesterday, LastWeek         float64 // the value 24 h and 7 days before At
	HaveYesterday, HaveLastWeek bool
}

// Baselines answers "what is normal now" (implemented by history.Store; detect/ and ui/ ask
// through this interface, never SQL). ok is false when there is no history for it.
type Baselines interface {
	Baseline(m Metric, key string, at time.Time) (b Baseline, ok bool)
}

package metrics

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"net/http"
)

const ns = "wiretop"

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(ns+"_"+name, help, labels, nil)
}

// The descriptions of every metric (README, "Metrics", lists them).
var (
	descIface = [8]*prometheus.Desc{
		desc("network_receive_bytes_total", "Bytes received by the interface since wiretop started (/proc/net/dev).", "device"),
		desc("network_transmit_bytes_total", "Bytes sent by the interface since wiretop started (/proc/net/dev).", "device"),
		desc("network_receive_packets_total", "Packets received by the interface since wiretop started.", "device"),
		desc("network_transmit_packets_total", "Packets sent by the interface since wiretop started.", "device"),
		desc("network_receive_errs_total", "Receive errors of the interface since wiretop started.", "device"),
		desc("network_transmit_errs_total", "Transmit errors of the interface since wiretop started.", "device"),
		desc("network_receive_drop_total", "Received packets the interface dropped since wiretop started.", "device"),
		desc("network_transmit_drop_total", "Outgoing packets the interface dropped since wiretop started.", "device"),
	}
	descTCPSockets = desc("tcp_sockets", "TCP sockets by state (as ss names them) in the latest sample.", "state")
	descKernel     = []struct {
		d   *prometheus.Desc
		get func(*Snapshot) uint64
	}{
		{desc("netstat_tcp_active_opens_total", "Tcp ActiveOpens since wiretop started (/proc/net/snmp)."), func(s *Snapshot) uint64 { return s.Kernel.ActiveOpens }},
		{desc("netstat_tcp_passive_opens_total", "Tcp PassiveOpens since wiretop started (/proc/net/snmp)."), func(s *Snapshot) uint64 { return s.Kernel.PassiveOpens }},
		{desc("netstat_tcp_attempt_fails_total", "Tcp AttemptFails since wiretop started (/proc/net/snmp)."), func(s *Snapshot) uint64 { return s.Kernel.AttemptFails }},
		{desc("netstat_tcp_estab_resets_total", "Tcp EstabResets since wiretop started (/proc/net/snmp)."), func(s *Snapshot) uint64 { return s.Kernel.EstabResets }},
		{desc("netstat_tcp_retrans_segs_total", "Tcp RetransSegs since wiretop started (/proc/net/snmp)."), func(s *Snapshot) uint64 { return s.Kernel.RetransSegs }},
		{desc("netstat_tcp_in_errs_total", "Tcp InErrs since wiretop started (/proc/net/snmp)."), func(s *Snapshot) uint64 { return s.Kernel.InErrs }},
		{desc("netstat_tcp_out_rsts_total", "Tcp OutRsts since wiretop started (/proc/net/snmp)."), func(s *Snapshot) uint64 { return s.Kernel.OutRsts }},
		{desc("netstat_tcpext_listen_overflows_total", "TcpExt ListenOverflows since wiretop started (/proc/net/netstat)."), func(s *Snapshot) uint64 { return s.Kernel.ListenOverflows }},
		{desc("netstat_tcpext_listen_drops_total", "TcpExt ListenDrops since wiretop started (/proc/net/netstat)."), func(s *Snapshot) uint64 { return s.Kernel.ListenDrops }},
		{desc("netstat_tcpext_syncookies_sent_total", "TcpExt SyncookiesSent since wiretop started (/proc/net/netstat)."), func(s *Snapshot) uint64 { return s.Kernel.SyncookiesSent }},
		{desc("netstat_tcpext_syncookies_recv_total", "TcpExt SyncookiesRecv since wiretop started (/proc/net/netstat)."), func(s *Snapshot) uint64 { return s.Kernel.SyncookiesRecv }},
		{desc("netstat_tcpext_syncookies_failed_total", "TcpExt SyncookiesFailed since wiretop started (/proc/net/netstat)."), func(s *Snapshot) uint64 { return s.Kernel.SyncookiesFailed }},
		{desc("netstat_tcpext_tcp_req_q_full_drop_total", "TcpExt TCPReqQFullDrop since wiretop started (/proc/net/netstat)."), func(s *Snapshot) uint64 { return s.Kernel.TCPReqQFullDrop }},
	}
	descProcRx   = desc("process_receive_bytes_total", "Bytes received by the processes of this comm and user (top N by the last hour's bytes).", "comm", "user")
	descProcTx   = desc("process_transmit_bytes_total", "Bytes sent by the processes of this comm and user (top N by the last hour's bytes).", "comm", "user")
	descRemoteRx = desc("remote_receive_bytes_total", "Captured bytes received from this remote host (top N by the last hour's bytes).", "remote")
	descRemoteTx = desc("remote_transmit_bytes_total", "Captured bytes sent to this remote host (top N by the last hour's bytes).", "remote")
	descPortRx   = desc("port_receive_bytes_total", "Captured bytes received on flows of this protocol and service port (top N by the last hour's bytes).", "proto", "port")
	descPortTx   = desc("port_transmit_bytes_total", "Captured bytes sent on flows of this protocol and service port (top N by the last hour's bytes).", "proto", "port")

	descCapRecv     = desc("capture_received_packets_total", "Packets the capture received (libpcap ps_recv) since it opened.")
	descCapDrop     = desc("capture_dropped_packets_total", "Packets the kernel dropped because the capture buffer was full (ps_drop) since it opened.")
	descCapIfDrop   = desc("capture_if_dropped_packets_total", "Packets the interface or driver dropped (ps_ifdrop) since the capture opened.")
	descCapturedRx  = desc("captured_receive_bytes_total", "Bytes received in captured flows since wiretop started.")
	descCapturedTx  = desc("captured_transmit_bytes_total", "Bytes sent in captured flows since wiretop started.")
	descUnattribRx  = desc("unattributed_receive_bytes_total", "Received bytes no process was found for since wiretop started.")
	descUnattribTx  = desc("unattributed_transmit_bytes_total", "Sent bytes no process was found for since wiretop started.")
	descSockEvRecv  = desc("sock_events_received_total", "Socket events (the owner of a socket, from BPF) read since wiretop started; absent without socket events.")
	descSockEvLost  = desc("sock_events_lost_total", "Socket events the kernel could not queue because the ring buffer was full, since wiretop started.")
	descSockOwners  = desc("sock_event_owners", "Socket owners held from socket events (bounded).")
	descAlerts      = desc("alerts", "Alerts the detectors hold, by rule, severity and state (pending, firing, resolved).", "rule", "severity", "state")
	descFiring      = desc("alert_firing", "1 for each firing alert of a wiretop detector, by rule and key.", "rule", "key")
	descFiringTrunc = desc("alert_firing_truncated", "Firing alerts left out of wiretop_alert_firing (more keys than its bound).")
	descBuild       = desc("build_info", "A metric with a constant 1 labelled by wiretop's version and Go version.", "version", "goversion")
	descSourceUp    = desc("source_up", "1 if the source worked in the latest interval, 0 if it failed.", "source")
	descLastIval    = desc("last_interval_timestamp_seconds", "When the latest interval was observed, in seconds since the epoch (0: none yet).")
)

// Collector returns the prometheus.Collector that reports e's latest snapshot.
func (e *Exporter) Collector() prometheus.Collector { return collector{e} }

type collector struct{ e *Exporter }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range descIface {
		ch <- d
	}
	ch <- descTCPSockets
	for _, k := range descKernel {
		ch <- k.d
	}
	for _, d := range []*prometheus.Desc{descProcRx, descProcTx, descRemoteRx, descRemoteTx, descPortRx, descPortTx,
		descCapRecv, descCapDrop, descCapIfDrop, descCapturedRx, descCapturedTx, descUnattribRx, descUnattribTx,
		descSockEvRecv, descSockEvLost, descSockOwners,
		descAlerts, descFiring, descFiringTrunc, descBuild, descSourceUp, descLastIval} {
		ch <- d
	}
}

func counter(ch chan<- prometheus.Metric, d *prometheus.Desc, v uint64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.e.cur.Load()
	gauge(ch, descBuild, 1, s.Version, runtime.Version())
	last := 0.0
	if !s.Observed.IsZero() {
		last = float64(s.Observed.UnixNano()) / 1e9
	}
	gauge(ch, descLastIval, last)
	stale := !s.Observed.IsZero() && time.Since(s.Observed) > c.e.staleAfter()
	for _, u := range s.Sources {
		v := 0.0
		if u.Up && !stale {
			v = 1
		}
		gauge(ch, descSourceUp, v, u.Source)
	}
	if s.Observed.IsZero() {
		return // nothing measured yet
	}
	for i := range s.Interfaces {
		f := &s.Interfaces[i]
		for j, v := range [8]uint64{f.RxBytes, f.TxBytes, f.RxPackets, f.TxPackets, f.RxErrors, f.TxErrors, f.RxDropped, f.TxDropped} {
			counter(ch, descIface[j], v, f.Name)
		}
	}
	for _, sc := range s.TCPStates {
		gauge(ch, descTCPSockets, float64(sc.Count), sc.Name)
	}
	for _, k := range descKernel {
		counter(ch, k.d, k.get(s))
	}
	pairs := []struct {
		rx, tx *prometheus.Desc
		rows   []KeyTotals
		n      int // labels
	}{{descProcRx, descProcTx, s.Processes, 2}, {descRemoteRx, descRemoteTx, s.Remotes, 1}, {descPortRx, descPortTx, s.Ports, 2}}
	for _, p := range pairs {
		for i := range p.rows {
			r := &p.rows[i]
			counter(ch, p.rx, r.RxBytes, r.Labels[:p.n]...)
			counter(ch, p.tx, r.TxBytes, r.Labels[:p.n]...)
		}
	}
	if s.CaptureOn {
		counter(ch, descCapRecv, s.Capture.Received)
		counter(ch, descCapDrop, s.Capture.Dropped)
		counter(ch, descCapIfDrop, s.Capture.IfDropped)
		counter(ch, descCapturedRx, s.Captured.RxBytes)
		counter(ch, descCapturedTx, s.Captured.TxBytes)
	}
	counter(ch, descUnattribRx, s.Unattrib.RxBytes)
	counter(ch, descUnattribTx, s.Unattrib.TxBytes)
	if e := s.SockEvents; e != nil {
		counter(ch, descSockEvRecv, e.Received)
		counter(ch, descSockEvLost, e.Lost)
		gauge(ch, descSockOwners, float64(e.Owners))
	}
	for _, a := range s.Alerts {
		gauge(ch, descAlerts, float64(a.Count), a.Rule, a.Severity, a.State)
	}
	for _, f := range s.Firing {
		gauge(ch, descFiring, 1, f.Rule, f.Key)
	}
	gauge(ch, descFiringTrunc, float64(s.FiringTrunc))
}

// staleAfter is how old a snapshot may be before the sampler is taken to have stopped.
func (e *Exporter) staleAfter() time.Duration {
	return max(3*e.opts.Interval, 10*time.Second)
}

// Handler returns the /metrics handler: e's collector, and the Go runtime's and the
// process's standard collectors, on a registry of their own. A collector that fails is
// reported in the scrape and the rest is served (promhttp.ContinueOnError).
func (e *Exporter) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.Collector(), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: reg})
}

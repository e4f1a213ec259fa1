package monitor

import (
	"sort"
	"time"

	"github.com/wiretop/wiretop/sampler"
)

// TimeFormat is RFC 3339 with fixed microsecond fractional seconds, as every JSON time is written.
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// SampleRecord is one "sample" line of the headless JSON Lines output (DESIGN.md).
type SampleRecord struct {
	Type         string          `json:"type"` // "sample"
	Time         string          `json:"time"`
	IntervalS    float64         `json:"interval_s"`
	Interfaces   []IfaceRecord   `json:"interfaces"`
	TCPStates    map[string]int  `json:"tcp_states"`
	Processes    []ProcessRecord `json:"processes"`
	Talkers      []TalkerRecord  `json:"talkers"`
	Capture      *CaptureRecord  `json:"capture,omitempty"`
	Unattributed CountsRecord    `json:"unattributed"`
	KernelTCP    KernelTCPRecord `json:"kernel_tcp"`
	Status       StatusRecord    `json:"status"`
}

// SummaryRecord is the "summary" line written once, last, when a run ends.
type SummaryRecord struct {
	Type         string          `json:"type"` // "summary"
	Time         string          `json:"time"`
	DurationS    float64         `json:"duration_s"`
	Samples      int             `json:"samples"`
	Interfaces   []IfaceRecord   `json:"interfaces"`
	Processes    []ProcessRecord `json:"processes"`
	Talkers      []TalkerRecord  `json:"talkers"`
	Capture      *CaptureRecord  `json:"capture,omitempty"`
	Unattributed CountsRecord    `json:"unattributed"`
	KernelTCP    KernelTCPRecord `json:"kernel_tcp"`
	Status       StatusRecord    `json:"status"`
}

// IfaceRecord is an interface's counts (for the interval, or the run in a summary) and rates.
type IfaceRecord struct {
	Name          string  `json:"name"`
	RxBytes       uint64  `json:"rx_bytes"`
	TxBytes       uint64  `json:"tx_bytes"`
	RxPackets     uint64  `json:"rx_packets"`
	TxPackets     uint64  `json:"tx_packets"`
	RxErrors      uint64  `json:"rx_errors"`
	TxErrors      uint64  `json:"tx_errors"`
	RxDropped     uint64  `json:"rx_dropped"`
	TxDropped     uint64  `json:"tx_dropped"`
	RxBytesPerSec float64 `json:"rx_bytes_per_sec"`
	TxBytesPerSec float64 `json:"tx_bytes_per_sec"`
}

// ProcessRecord is a process's traffic.
type ProcessRecord struct {
	PID           int     `json:"pid"`
	Comm          string  `json:"comm"`
	User          string  `json:"user"`
	RxBytes       uint64  `json:"rx_bytes"`
	TxBytes       uint64  `json:"tx_bytes"`
	RxBytesPerSec float64 `json:"rx_bytes_per_sec"`
	TxBytesPerSec float64 `json:"tx_bytes_per_sec"`
	Source        string  `json:"source"`              // "pcap" or "tcp_info"
	Container     string  `json:"container,omitempty"` // "docker:ID", "podman:ID", "containerd:ID", "crio:ID", "lxc:NAME"
	Unit          string  `json:"unit,omitempty"`      // systemd unit of its cgroup
	NetNS         uint32  `json:"netns,omitempty"`     // inode of its network namespace
}

// RateRecord is a pair of rates in bytes per second.
type RateRecord struct {
	Rx float64 `json:"rx"`
	Tx float64 `json:"tx"`
}

// TalkerRecord is one flow, oriented local/remote.
type TalkerRecord struct {
	Proto      string                `json:"proto"`
	LocalAddr  string                `json:"local_addr"`
	LocalPort  uint16                `json:"local_port"`
	RemoteAddr string                `json:"remote_addr"`
	RemotePort uint16                `json:"remote_port"`
	RxBytes    uint64                `json:"rx_bytes"`
	TxBytes    uint64                `json:"tx_bytes"`
	RxPackets  uint64                `json:"rx_packets"`
	TxPackets  uint64                `json:"tx_packets"`
	Rates      map[string]RateRecord `json:"rates,omitempty"`
	PID        int                   `json:"pid,omitempty"`
	Comm       string                `json:"comm,omitempty"`
	// Flows is set on an aggregate row (remote_addr "*", remote_port 0): the flows it stood
	// for, the SYNs of spoofed sources the kernel path counted per victim.
	Flows uint64 `json:"flows,omitempty"`
}

// CaptureRecord is the packet capture's state and counters.
type CaptureRecord struct {
	Received     uint64 `json:"received"`
	Dropped      uint64 `json:"dropped"`
	IfDropped    uint64 `json:"if_dropped"`
	Filter       string `json:"filter"`
	PacketFilter string `json:"packet_filter"`
	// PacketsMatched counts the packets that matched the packet filter since the start
	// (every packet without one): headless prints at most the newest 1,000 of an interval
	// as "packet" lines, and this says how many there were.
	PacketsMatched uint64 `json:"packets_matched"`
}

// CountsRecord is bytes each way.
type CountsRecord struct {
	RxBytes uint64 `json:"rx_bytes"`
	TxBytes uint64 `json:"tx_bytes"`
}

// KernelTCPRecord holds the kernel TCP counters (deltas of the interval, or of the run in a summary).
type KernelTCPRecord struct {
	ActiveOpens      uint64 `json:"active_opens"`
	PassiveOpens     uint64 `json:"passive_opens"`
	AttemptFails     uint64 `json:"attempt_fails"`
	EstabResets      uint64 `json:"estab_resets"`
	RetransSegs      uint64 `json:"retrans_segs"`
	InErrs           uint64 `json:"in_errs"`
	OutRsts          uint64 `json:"out_rsts"`
	ListenOverflows  uint64 `json:"listen_overflows"`
	ListenDrops      uint64 `json:"listen_drops"`
	SyncookiesSent   uint64 `json:"syncookies_sent"`
	SyncookiesRecv   uint64 `json:"syncookies_recv"`
	SyncookiesFailed uint64 `json:"syncookies_failed"`
	TCPReqQFullDrop  uint64 `json:"tcp_req_q_full_drop"`
}

// StatusRecord says what wiretop could see, so a reader of the JSON knows what a zero means.
type StatusRecord struct {
	Capture       bool   `json:"capture"`                  // packets are captured
	CaptureSource string `json:"capture_source,omitempty"` // where flows are counted: "ebpf", "libpcap" or "file"; absent without capture
	SocketSource  string `json:"socket_source"`            // "bpf_iter", "sock_diag", "proc", or "none" in a replay
	// ProcessSource is how sockets are joined to processes: "sock_events" (BPF socket
	// events, and the socket table with /proc/PID/fd for sockets opened before the start),
	// "proc_fd" (the socket table with /proc/PID/fd only: connections that close between two
	// samples may be unattributed), or "none" (a replay).
	ProcessSource string `json:"process_source"`
	// ProcessBytes is what process bytes are counted from: "pcap" (captured packets),
	// "tcp_info" (the sockets' byte counters), or "none".
	ProcessBytes  string            `json:"process_bytes"`
	SockEvents    *SockEventsRecord `json:"sock_events,omitempty"` // with process_source "sock_events"
	ProcessScope  string            `json:"process_scope"`         // "all", "partial" (root, some processes unreadable), "own-uid", or "none" in a replay
	DestroyEvents bool              `json:"destroy_events"`        // socket-destroy events complete closed sockets' counts
	Notes         []string          `json:"notes,omitempty"`
	Errors        []string          `json:"errors,omitempty"`
}

func kernelRecord(k sampler.KernelTCP) KernelTCPRecord {
	return KernelTCPRecord(k)
}

func ifaceRecord(name string, rx, tx uint64, p *sampler.IfaceDelta, secs float64) IfaceRecord {
	r := IfaceRecord{Name: name, RxBytes: rx, TxBytes: tx}
	if p != nil {
		r.RxPackets, r.TxPackets = p.RxPackets, p.TxPackets
		r.RxErrors, r.TxErrors = p.RxErrors, p.TxErrors
		r.RxDropped, r.TxDropped = p.RxDropped, p.TxDropped
	}
	if secs > 0 {
		r.RxBytesPerSec = float64(rx) / secs
		r.TxBytesPerSec = float64(tx) / secs
	}
	return r
}

// SockEventsRecord counts the socket events of the session.
type SockEventsRecord struct {
	Received uint64 `json:"received"` // events read
	Lost     uint64 `json:"lost"`     // events lost because the kernel's ring buffer was full
	Owners   int    `json:"owners"`   // socket owners held now (bounded)
}

// StatusRecord returns the status of the latest sample in its JSON form. Extra notes (such
// as why capture is off) are appended. Capture is on (and processes come from "pcap") when
// capture says so or the state's capture is on (Options.Capture, or a batch was applied);
// in a replay (Options.Replay) the process source is "none".
func (st *State) StatusRecord(capture bool, extra ...string) StatusRecord {
	s := st.status
	r := StatusRecord{
		Capture:       capture,
		SocketSource:  s.SocketSource,
		ProcessSource: s.ProcessSource,
		ProcessBytes:  "tcp_info",
		ProcessScope:  s.ProcessScope,
		DestroyEvents: s.DestroyEvents,
		Notes:         append(append([]string(nil), s.Notes...), extra...),
	}
	if capture || st.opts.Replay {
		r.CaptureSource = st.cap.Source
	}
	switch {
	case st.opts.Replay:
		// a replayed file's flows belong to no process of this host
		r.Capture = true
		r.ProcessSource, r.ProcessBytes = "none", "none"
		r.SocketSource, r.ProcessScope = "none", "none" // no socket table is read
		r.Notes = append(r.Notes, "replay: flows are not attributed to processes")
	case capture || st.CaptureOn():
		r.Capture = true
		r.ProcessBytes = "pcap"
	case !s.ByteCounters():
		r.ProcessBytes = "none"
	}
	if r.ProcessSource == "" {
		r.ProcessSource = sampler.ProcessFromProcFD
	}
	if r.ProcessSource == sampler.ProcessFromSockEvents {
		e := s.SockEvents
		r.SockEvents = &SockEventsRecord{Received: e.Received, Lost: e.Lost, Owners: e.Owners}
	}
	if r.ProcessScope == "" {
		r.ProcessScope = "all"
	}
	for _, e := range st.errors {
		r.Errors = append(r.Errors, e.Error())
	}
	return r
}

// SampleRecord returns the latest interval as a "sample" line; top caps processes and
// talkers (0 means all).
func (st *State) SampleRecord(top int, status StatusRecord) SampleRecord {
	r := SampleRecord{Type: "sample", Time: st.last.Format(TimeFormat), TCPStates: map[string]int{},
		Processes: []ProcessRecord{}, Talkers: []TalkerRecord{}, Status: status,
		KernelTCP: kernelRecord(st.kernel)}
	names := st.InterfaceNames()
	for _, n := range names[:len(names)-1] {
		f := st.ifaces[n]
		if !f.Present {
			continue
		}
		d := f.Last
		r.Interfaces = append(r.Interfaces, ifaceRecord(n, d.RxBytes, d.TxBytes, &d, 0))
	}
	r.IntervalS = st.lastElapsed().Seconds()
	for i := range r.Interfaces {
		if r.IntervalS > 0 {
			r.Interfaces[i].RxBytesPerSec = float64(r.Interfaces[i].RxBytes) / r.IntervalS
			r.Interfaces[i].TxBytesPerSec = float64(r.Interfaces[i].TxBytes) / r.IntervalS
		}
	}
	if r.Interfaces == nil {
		r.Interfaces = []IfaceRecord{}
	}
	for _, sc := range st.TCPStates() {
		r.TCPStates[sc.Name] = sc.Count
	}
	for _, p := range st.Processes(ProcessQuery{ActiveOnly: true, Limit: top}) {
		r.Processes = append(r.Processes, ProcessRecord{PID: p.PID, Comm: p.Comm, User: p.User,
			RxBytes: p.RxBytes, TxBytes: p.TxBytes, RxBytesPerSec: p.RxRate, TxBytesPerSec: p.TxRate, Source: p.Source,
			Container: p.Container, Unit: p.Unit, NetNS: p.NetNS})
	}
	for _, t := range st.Talkers(TalkerQuery{Sort: TalkerSortLast, ActiveOnly: true, Limit: top}) {
		r.Talkers = append(r.Talkers, talkerRecord(&t, false))
	}
	r.Capture = st.captureRecord()
	r.Unattributed = CountsRecord(st.unattrib)
	return r
}

// talkerRecord renders a talker: the last interval's counts and the window rates, or with
// session set, the session totals and no rates.
func talkerRecord(t *Talker, session bool) TalkerRecord {
	r := TalkerRecord{Proto: t.Proto, PID: t.PID, Comm: t.Comm}
	if t.Key.Local.Addr().IsValid() {
		r.LocalAddr, r.LocalPort = t.Key.Local.Addr().String(), t.Key.Local.Port()
	}
	if t.Key.Remote.Addr().IsValid() {
		r.RemoteAddr, r.RemotePort = t.Key.Remote.Addr().String(), t.Key.Remote.Port()
	}
	if t.Aggregate {
		r.RemoteAddr, r.Flows = "*", t.Flows
	}
	if session {
		r.RxBytes, r.TxBytes, r.RxPackets, r.TxPackets = t.RxTotal, t.TxTotal, t.RxPacketsTotal, t.TxPacketsTotal
		if t.Aggregate {
			r.Flows = t.FlowsTotal
		}
		return r
	}
	r.RxBytes, r.TxBytes, r.RxPackets, r.TxPackets = t.RxBytes, t.TxBytes, t.RxPackets, t.TxPackets
	r.Rates = make(map[string]RateRecord, len(Windows))
	for w, name := range WindowNames {
		r.Rates[name] = RateRecord{Rx: t.Rx[w], Tx: t.Tx[w]}
	}
	return r
}

// captureRecord returns the capture's JSON form, nil when capture is off.
func (st *State) captureRecord() *CaptureRecord {
	c := st.Capture()
	if !c.On {
		return nil
	}
	return &CaptureRecord{Received: c.Stats.Received, Dropped: c.Stats.Dropped, IfDropped: c.Stats.IfDropped,
		Filter: c.Filter, PacketFilter: c.PacketFilter, PacketsMatched: c.MatchedTotal}
}

// SummaryRecord totals the whole run: every interface, every process that moved bytes, and
// every talker of the table plus the overflow row (uncapped), with session totals in their
// rx/tx fields and no rates. Only closed intervals count: apply the last batch before the
// last sample.
func (st *State) SummaryRecord(status StatusRecord) SummaryRecord {
	secs := st.elapsed.Seconds()
	r := SummaryRecord{Type: "summary", Time: st.last.Format(TimeFormat), DurationS: secs, Samples: st.intervals,
		Interfaces: []IfaceRecord{}, Processes: []ProcessRecord{}, Talkers: []TalkerRecord{}, Status: status,
		Unattributed: CountsRecord(st.unattribTot), KernelTCP: kernelRecord(st.kernelTot), Capture: st.captureRecord()}
	all := st.Talkers(TalkerQuery{Sort: TalkerSortTotal})
	r.Talkers = make([]TalkerRecord, 0, len(all))
	for i := range all {
		t := &all[i]
		if t.RxPacketsTotal+t.TxPacketsTotal == 0 {
			continue // seen in the open interval only
		}
		r.Talkers = append(r.Talkers, talkerRecord(t, true))
	}
	names := make([]string, 0, len(st.ifaces))
	for n := range st.ifaces {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := st.ifaces[n]
		d := sampler.IfaceDelta{RxPackets: f.RxPackets, TxPackets: f.TxPackets, RxErrors: f.RxErrors,
			TxErrors: f.TxErrors, RxDropped: f.RxDropped, TxDropped: f.TxDropped}
		r.Interfaces = append(r.Interfaces, ifaceRecord(n, f.Rx.Total, f.Tx.Total, &d, secs))
	}
	for _, p := range st.Processes(ProcessQuery{Cumulative: true}) {
		if p.RxTotal+p.TxTotal == 0 {
			continue
		}
		rec := ProcessRecord{PID: p.PID, Comm: p.Comm, User: p.User, RxBytes: p.RxTotal, TxBytes: p.TxTotal, Source: p.Source,
			Container: p.Container, Unit: p.Unit, NetNS: p.NetNS}
		if secs > 0 {
			rec.RxBytesPerSec = float64(p.RxTotal) / secs
			rec.TxBytesPerSec = float64(p.TxTotal) / secs
		}
		r.Processes = append(r.Processes, rec)
	}
	return r
}

func (st *State) lastElapsed() time.Duration { return st.lastEl }

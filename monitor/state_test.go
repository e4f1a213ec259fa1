package monitor

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretop/wiretop/sampler"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func tcp(cookie uint64, pid int, acked, recv uint64) sampler.Socket {
	return sampler.Socket{
		Proto: sampler.ProtoTCP, State: sampler.StateEstablished, Cookie: cookie, PID: pid,
		Local:  netip.MustParseAddrPort("198.18.0.1:40000"),
		Remote: netip.MustParseAddrPort("198.18.0.2:5201"),
		Inode:  cookie + 1000, HasInfo: true, BytesAcked: acked, BytesReceived: recv,
	}
}

// listener is a TCP socket listening on 0.0.0.0:8080, held by pid.
func listener(pid int) sampler.Socket {
	return sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateListen, Cookie: 900, PID: pid,
		Local: netip.MustParseAddrPort("0.0.0.0:8080"), Inode: 900, HasInfo: true}
}

// accepted is a connection accepted on listener's port whose owner was not resolved.
func accepted(cookie uint64, acked, recv uint64) sampler.Socket {
	s := tcp(cookie, 0, acked, recv)
	s.Local, s.Remote = netip.MustParseAddrPort("198.18.0.1:8080"), netip.MustParseAddrPort("198.18.0.2:50000")
	return s
}

func procs(pids ...int) map[int]*sampler.Proc {
	m := map[int]*sampler.Proc{}
	for _, p := range pids {
		m[p] = &sampler.Proc{PID: p, Comm: "proc" + string(rune('0'+p%10)), User: "root"}
	}
	return m
}

func sample(i int, base bool, socks []sampler.Socket, destroyed []sampler.Socket, pids ...int) *sampler.Sample {
	s := &sampler.Sample{Time: t0.Add(time.Duration(i) * time.Second), Baseline: base,
		Sockets: socks, Destroyed: destroyed, Procs: procs(pids...)}
	if !base {
		s.Elapsed = time.Second
	}
	return s
}

type totals map[int][2]uint64 // pid -> {tx, rx}

func procTotals(st *State) totals {
	out := totals{}
	for _, p := range st.Processes(ProcessQuery{Cumulative: true}) {
		if p.TxTotal+p.RxTotal > 0 {
			out[p.PID] = [2]uint64{p.TxTotal, p.RxTotal}
		}
	}
	return out
}

func TestSocketAccounting(t *testing.T) {
	tests := []struct {
		name    string
		samples []*sampler.Sample
		want    totals
		unattr  Counts
	}{
		{
			name: "baseline sockets count only their growth",
			samples: []*sampler.Sample{
				sample(0, true, []sampler.Socket{tcp(1, 10, 5000, 700)}, nil, 10),
				sample(1, false, []sampler.Socket{tcp(1, 10, 8000, 900)}, nil, 10),
			},
			want: totals{10: {3000, 200}},
		},
		{
			name: "a socket first seen later counts all its bytes",
			samples: []*sampler.Sample{
				sample(0, true, nil, nil),
				sample(1, false, []sampler.Socket{tcp(2, 11, 4000, 10)}, nil, 11),
				sample(2, false, []sampler.Socket{tcp(2, 11, 9000, 10)}, nil, 11),
			},
			want: totals{11: {9000, 10}},
		},
		{
			name: "destroy event completes a socket that vanished from the dump",
			samples: []*sampler.Sample{
				sample(0, true, nil, nil),
				sample(1, false, []sampler.Socket{tcp(3, 12, 1000, 0)}, nil, 12),
				sample(2, false, nil, nil), // gone from the dump, event not yet read
				sample(3, false, nil, []sampler.Socket{tcp(3, 0, 4000, 0)}),
			},
			want: totals{12: {4000, 0}},
		},
		{
			name: "destroy event after the socket was still in the same dump",
			samples: []*sampler.Sample{
				sample(0, true, nil, nil),
				sample(1, false, []sampler.Socket{tcp(4, 13, 1000, 0)}, nil, 13),
				sample(2, false, []sampler.Socket{tcp(4, 13, 2000, 0)}, []sampler.Socket{tcp(4, 0, 2500, 0)}, 13),
				sample(3, false, nil, nil),
			},
			want: totals{13: {2500, 0}},
		},
		{
			name: "vanished without an event counts nothing more, late event past the grace is unattributed",
			samples: []*sampler.Sample{
				sample(0, true, nil, nil),
				sample(1, false, []sampler.Socket{tcp(5, 14, 1000, 0)}, nil, 14),
				sample(2, false, nil, nil), sample(3, false, nil, nil), sample(4, false, nil, nil),
				sample(5, false, nil, nil), sample(6, false, nil, nil),
				sample(7, false, nil, []sampler.Socket{tcp(5, 0, 1500, 0)}),
			},
			want:   totals{14: {1000, 0}},
			unattr: Counts{TxBytes: 1500},
		},
		{
			name: "opened and closed between two dumps: all bytes, no process",
			samples: []*sampler.Sample{
				sample(0, true, nil, nil),
				sample(1, false, nil, []sampler.Socket{tcp(6, 0, 700, 300)}),
			},
			want:   totals{},
			unattr: Counts{TxBytes: 700, RxBytes: 300},
		},
		{
			name: "an accepted socket whose owner was not read is credited to the listener's process",
			samples: []*sampler.Sample{
				sample(0, true, []sampler.Socket{listener(20)}, nil, 20),
				sample(1, false, []sampler.Socket{listener(20), accepted(31, 5000, 100)}, nil, 20),
			},
			want: totals{20: {5000, 100}},
		},
		{
			name: "an accepted socket opened and closed between two dumps goes to the listener's process",
			samples: []*sampler.Sample{
				sample(0, true, []sampler.Socket{listener(21)}, nil, 21),
				sample(1, false, []sampler.Socket{listener(21)}, []sampler.Socket{accepted(32, 7000, 200)}, 21),
			},
			want: totals{21: {7000, 200}},
		},
		{
			name: "without a listener an unresolved socket stays unattributed",
			samples: []*sampler.Sample{
				sample(0, true, nil, nil),
				sample(1, false, nil, []sampler.Socket{accepted(33, 7000, 200)}),
			},
			want:   totals{},
			unattr: Counts{TxBytes: 7000, RxBytes: 200},
		},
		{
			name: "a baseline socket's destroy event counts only its growth",
			samples: []*sampler.Sample{
				sample(0, true, []sampler.Socket{tcp(7, 15, 50000, 0)}, nil, 15),
				sample(1, false, nil, []sampler.Socket{tcp(7, 0, 50100, 0)}),
			},
			want: totals{15: {100, 0}},
		},
		{
			name: "orphaned socket (inode gone after close) stays with its process",
			samples: []*sampler.Sample{
				sample(0, true, nil, nil),
				sample(1, false, []sampler.Socket{tcp(8, 16, 100, 0)}, nil, 16),
				sample(2, false, []sampler.Socket{tcp(8, 0, 300, 0)}, nil),
			},
			want: totals{16: {300, 0}},
		},
		{
			name: "a counter that goes backwards counts nothing",
			samples: []*sampler.Sample{
				sample(0, true, []sampler.Socket{tcp(9, 17, 1000, 1000)}, nil, 17),
				sample(1, false, []sampler.Socket{tcp(9, 17, 10, 2000)}, nil, 17),
			},
			want: totals{17: {0, 1000}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := New(Options{})
			for _, s := range tt.samples {
				st.Apply(s)
			}
			if d := cmp.Diff(tt.want, procTotals(st)); d != "" {
				t.Errorf("process totals (-want +got):\n%s", d)
			}
			if _, got := st.Unattributed(); got != tt.unattr {
				t.Errorf("unattributed = %+v, want %+v", got, tt.unattr)
			}
		})
	}
}

func TestStateNamesMatch(t *testing.T) {
	if numStates != len(sampler.StateNames) || len(stateIndex) != numStates {
		t.Fatalf("numStates = %d, StateNames has %d", numStates, len(sampler.StateNames))
	}
}

func TestTCPStatesHistogram(t *testing.T) {
	st := New(Options{})
	mk := func(states ...sampler.TCPState) []sampler.Socket {
		var out []sampler.Socket
		for _, s := range states {
			out = append(out, sampler.Socket{Proto: sampler.ProtoTCP, State: s})
		}
		// UDP sockets never count as TCP states
		return append(out, sampler.Socket{Proto: sampler.ProtoUDP, State: sampler.StateEstablished})
	}
	st.Apply(sample(0, true, mk(sampler.StateListen, sampler.StateEstablished), nil))
	st.Apply(sample(1, false, mk(sampler.StateListen, sampler.StateEstablished, sampler.StateEstablished,
		sampler.StateNewSynRecv, sampler.StateSynRecv, sampler.StateCloseWait), nil))
	got := map[string][2]int{}
	for _, sc := range st.TCPStates() {
		if sc.Count != 0 || sc.Delta != 0 {
			got[sc.Name] = [2]int{sc.Count, sc.Delta}
		}
	}
	want := map[string][2]int{"LISTEN": {1, 0}, "ESTAB": {2, 1}, "SYN-RECV": {2, 2}, "CLOSE-WAIT": {1, 1}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("histogram (-want +got):\n%s", d)
	}
	if st.TCPSockets() != 6 {
		t.Errorf("TCPSockets = %d, want 6", st.TCPSockets())
	}
}

func TestSeriesWindowsAndSession(t *testing.T) {
	s := newSeries(4)
	for _, b := range []uint64{100, 200, 300, 400, 1000} {
		s.add(b, time.Second)
	}
	if s.Cur != 1000 || s.Min != 100 || s.Max != 1000 || s.Total != 2000 || s.Avg != 400 {
		t.Errorf("cur/min/max/total/avg = %v/%v/%v/%v/%v", s.Cur, s.Min, s.Max, s.Total, s.Avg)
	}
	if got := s.Window(2 * time.Second); got != 700 {
		t.Errorf("2s window = %v, want 700", got)
	}
	if got := s.Window(10 * time.Second); got != 400 {
		t.Errorf("10s window = %v, want 400", got)
	}
	if d := cmp.Diff([]float64{200, 300, 400, 1000}, s.History(nil, 0)); d != "" {
		t.Errorf("history keeps the last 4 (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]float64{400, 1000}, s.History(nil, 2)); d != "" {
		t.Errorf("history(2) (-want +got):\n%s", d)
	}
}

func TestInterfacesAndAggregate(t *testing.T) {
	st := New(Options{})
	st.Apply(sample(0, true, nil, nil))
	s := sample(1, false, nil, nil)
	s.Elapsed = 2 * time.Second
	s.Interfaces = []sampler.IfaceDelta{
		{Name: "eth0", RxBytes: 2000, TxBytes: 4000, RxPackets: 2, TxPackets: 4},
		{Name: "lo", RxBytes: 100, TxBytes: 100},
		{Name: "veth0", RxBytes: 10, TxBytes: 20, RxDropped: 1},
	}
	st.Apply(s)
	if got := st.Interface("eth0").Rx.Cur; got != 1000 {
		t.Errorf("eth0 rx rate = %v, want 1000", got)
	}
	all := st.Interface(AllInterfaces)
	if all.Rx.Total != 2010 || all.Tx.Total != 4020 {
		t.Errorf("all (without lo) = %d/%d, want 2010/4020", all.Rx.Total, all.Tx.Total)
	}
	if d := cmp.Diff([]string{"eth0", "lo", "veth0", "all"}, st.InterfaceNames()); d != "" {
		t.Errorf("names (-want +got):\n%s", d)
	}
	rec := st.SampleRecord(0, StatusRecord{})
	if rec.IntervalS != 2 || len(rec.Interfaces) != 3 || rec.Interfaces[0].RxBytesPerSec != 1000 {
		t.Errorf("sample record = %+v", rec)
	}
	if rec.TCPStates["ESTAB"] != 0 || len(rec.TCPStates) != len(sampler.StateNames) {
		t.Errorf("tcp_states must list every state: %v", rec.TCPStates)
	}
	sum := st.SummaryRecord(StatusRecord{})
	if sum.Samples != 1 || sum.Interfaces[2].RxDropped != 1 || sum.Interfaces[0].TxBytesPerSec != 2000 {
		t.Errorf("summary = %+v", sum)
	}
}

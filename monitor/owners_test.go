package monitor

import (
	"net/netip"
	"testing"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// owners returns a socket-event index holding these connects.
func owners(evs ...*sampler.SockEvent) *sampler.OwnerIndex {
	ix := sampler.NewOwnerIndex(64, 0)
	for _, e := range evs {
		ix.Add(e)
	}
	return ix
}

func connEvent(k capture.FlowKey, pid int, comm string, cookie uint64) *sampler.SockEvent {
	return &sampler.SockEvent{Proto: sampler.Proto(k.Proto), Local: k.Local, Remote: k.Remote,
		Owner: sampler.SockOwner{PID: pid, Comm: comm, UID: 1000, User: "alice", Cookie: cookie, Kind: sampler.EventConnect}}
}

// TestOwnersAtFirstSight: a flow whose socket no table holds (it closed between two dumps,
// its process exited) is attributed from the socket events when it is first seen, keeps the
// event's process name, and its bytes go to that process.
func TestOwnersAtFirstSight(t *testing.T) {
	k := fk(pTCP, "198.18.173.1:40000", "198.18.173.2:7300")
	st := New(Options{Capture: true, Owners: owners(connEvent(k, 4242, "curl", 7))})
	st.Apply(sample(0, true, nil, nil))
	st.ApplyBatch(batchAt(0, fd(k, 300, 40000)))
	if st.Pending() != 0 || st.NeedRefresh() {
		t.Fatalf("pending %d, NeedRefresh %v: the event should have resolved the flow", st.Pending(), st.NeedRefresh())
	}
	got := st.Talkers(TalkerQuery{})
	if len(got) != 1 || got[0].PID != 4242 || got[0].Comm != "curl" {
		t.Fatalf("talkers %+v, want pid 4242 curl", got)
	}
	st.Apply(sample(1, false, nil, nil)) // the process is gone: no Procs
	if tot := procTotals(st); tot[4242] != [2]uint64{40000, 300} {
		t.Errorf("totals %v, want pid 4242 tx 40000 rx 300", tot)
	}
	var p *Process
	for _, q := range st.Processes(ProcessQuery{Cumulative: true}) {
		if q.PID == 4242 {
			p = &q
		}
	}
	if p == nil || p.Comm != "curl" || p.User != "alice" || p.UID != 1000 || p.Source != "pcap" {
		t.Errorf("process %+v, want curl of alice from pcap", p)
	}
	if u, _ := st.Unattributed(); u != (Counts{}) {
		t.Errorf("unattributed %+v", u)
	}
}

// TestOwnersTableFirst: a connected socket of the table with a process wins over the event
// (the holder now: a child the socket was passed to); one without a process (TIME-WAIT)
// does not, and neither does a listener of the table.
func TestOwnersTableFirst(t *testing.T) {
	k := fk(pTCP, "198.18.173.1:40000", "198.18.173.2:22")
	ev := owners(connEvent(k, 20, "nc", 1))
	for _, tc := range []struct {
		name  string
		socks []sampler.Socket
		pids  []int
		want  int
	}{
		{"holder in the table", []sampler.Socket{estab("198.18.173.1:40000", "198.18.173.2:22", 10)}, []int{10}, 10},
		{"time-wait in the table", []sampler.Socket{sockOf(sampler.ProtoTCP, sampler.StateTimeWait, "198.18.173.1:40000", "198.18.173.2:22", 0)}, nil, 20},
		{"a listener on the port", []sampler.Socket{listen("0.0.0.0:40000", 30)}, []int{30}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := New(Options{Capture: true, Owners: ev})
			st.Apply(sample(0, true, tc.socks, nil, tc.pids...))
			st.ApplyBatch(batchAt(0, fd(k, 100, 100)))
			if got := st.Talkers(TalkerQuery{}); len(got) != 1 || got[0].PID != tc.want {
				t.Errorf("talkers %+v, want pid %d", got, tc.want)
			}
		})
	}
}

// TestOwnersLateEvent: an event read after its flow's batch leaves the flow pending; the
// interval's close looks once more, so the bytes are the process's, not unattributed.
func TestOwnersLateEvent(t *testing.T) {
	k := fk(pUDP, "198.18.173.1:33000", "198.18.173.2:53")
	ix := owners()
	st := New(Options{Capture: true, Owners: ix})
	st.Apply(sample(0, true, nil, nil))
	st.ApplyBatch(batchAt(0, fd(k, 120, 60)))
	if st.Pending() != 1 {
		t.Fatalf("pending %d, want 1", st.Pending())
	}
	ix.Add(&sampler.SockEvent{Proto: sampler.ProtoUDP, Local: netip.MustParseAddrPort("0.0.0.0:33000"),
		Owner: sampler.SockOwner{PID: 77, Comm: "dig", Kind: sampler.EventUDPSend}})
	st.Apply(sample(1, false, nil, nil))
	if tot := procTotals(st); tot[77] != [2]uint64{60, 120} {
		t.Errorf("totals %v, want pid 77 tx 60 rx 120", tot)
	}
	if u, _ := st.Unattributed(); u != (Counts{}) {
		t.Errorf("unattributed %+v", u)
	}
	// the control: without the event the same flow's bytes are unattributed
	st = New(Options{Capture: true, Owners: owners()})
	st.Apply(sample(0, true, nil, nil))
	st.ApplyBatch(batchAt(0, fd(k, 120, 60)))
	st.Apply(sample(1, false, nil, nil))
	if u, _ := st.Unattributed(); u != (Counts{RxBytes: 120, TxBytes: 60}) {
		t.Errorf("without the event: unattributed %+v, want rx 120 tx 60", u)
	}
}

// TestOwnersTCPInfo: without capture, a socket that closed before its owner was read (a
// destroy event, no pid) counts for the process of its socket event, found by cookie.
func TestOwnersTCPInfo(t *testing.T) {
	s := tcp(55, 0, 40001, 1) // destroyed: final counters, no pid
	ix := owners(&sampler.SockEvent{Proto: sampler.ProtoTCP, Local: s.Local, Remote: s.Remote,
		Owner: sampler.SockOwner{PID: 9, Comm: "short", Cookie: 55, Kind: sampler.EventConnect}})
	st := New(Options{Owners: ix})
	st.Apply(sample(0, true, nil, nil))
	st.Apply(sample(1, false, nil, []sampler.Socket{s}))
	if tot := procTotals(st); tot[9] != [2]uint64{40001, 1} {
		t.Errorf("totals %v, want pid 9 tx 40001 rx 1", tot)
	}
	st = New(Options{})
	st.Apply(sample(0, true, nil, nil))
	st.Apply(sample(1, false, nil, []sampler.Socket{s}))
	if tot := procTotals(st); len(tot) != 0 {
		t.Errorf("without events: totals %v, want none", tot)
	}
}

// TestExitedProcessesBounded: every short-lived process with bytes gets a row (a curl loop);
// past MaxExitedProcesses the least recently active exited ones are forgotten, the newest kept.
func TestExitedProcessesBounded(t *testing.T) {
	ix := sampler.NewOwnerIndex(8192, 0)
	st := New(Options{Capture: true, Owners: ix})
	st.Apply(sample(0, true, nil, nil))
	const n = MaxExitedProcesses + 500
	for i := 0; i < n; i += 250 {
		var flows []capture.FlowDelta
		for j := i; j < i+250; j++ {
			k := capture.FlowKey{Proto: pTCP, Local: netip.AddrPortFrom(netip.MustParseAddr("198.18.173.1"), uint16(10000+j)),
				Remote: netip.MustParseAddrPort("198.18.173.2:80")}
			ix.Add(connEvent(k, 100000+j, "curl", uint64(j+1)))
			flows = append(flows, fd(k, 1000, 100))
		}
		st.ApplyBatch(batchAt(i/250, flows...))
		st.Apply(sample(i/250+1, false, nil, nil))
	}
	if got := len(st.procs); got != MaxExitedProcesses {
		t.Errorf("%d processes kept, want %d", got, MaxExitedProcesses)
	}
	if st.procs[100000+n-1] == nil || st.procs[100000] != nil {
		t.Errorf("the newest exited process should be kept and the oldest forgotten")
	}
}

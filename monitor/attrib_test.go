package monitor

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

func TestAttribution(t *testing.T) {
	tests := []struct {
		name    string
		socks   []sampler.Socket
		flow    capture.FlowKey
		pid     int
		pending bool
	}{
		{"connected tcp, 4-tuple",
			[]sampler.Socket{estab("198.18.60.1:40000", "198.18.60.2:5201", 10), listen("0.0.0.0:40000", 99)},
			fk(pTCP, "198.18.60.1:40000", "198.18.60.2:5201"), 10, false},
		{"connected tcp, orientation guessed the other way",
			[]sampler.Socket{estab("198.18.60.1:40000", "198.18.60.2:5201", 10)},
			fk(pTCP, "198.18.60.2:5201", "198.18.60.1:40000"), 10, false},
		{"connected ipv6",
			[]sampler.Socket{estab("[fd00:198:18:60::1]:443", "[fd00:198:18:60::2]:50000", 11)},
			fk(pTCP, "[fd00:198:18:60::1]:443", "[fd00:198:18:60::2]:50000"), 11, false},
		{"listener bound to the address",
			[]sampler.Socket{listen("198.18.60.1:80", 20)},
			fk(pTCP, "198.18.60.1:80", "198.18.60.9:5555"), 20, false},
		{"listener on another address of the host does not match",
			[]sampler.Socket{listen("198.18.60.7:80", 20)},
			fk(pTCP, "198.18.60.1:80", "198.18.60.9:5555"), 0, true},
		{"listener on 0.0.0.0",
			[]sampler.Socket{listen("0.0.0.0:80", 20)},
			fk(pTCP, "198.18.60.1:80", "198.18.60.9:5555"), 20, false},
		{"dual-stack listener on :: takes an ipv4 flow",
			[]sampler.Socket{listen("[::]:80", 21)},
			fk(pTCP, "198.18.60.1:80", "198.18.60.9:5555"), 21, false},
		{"listener on :: takes an ipv6 flow",
			[]sampler.Socket{listen("[::]:80", 21)},
			fk(pTCP, "[fd00:198:18:60::1]:80", "[fd00:198:18:60::9]:5555"), 21, false},
		{"listener on 0.0.0.0 does not take an ipv6 flow",
			[]sampler.Socket{listen("0.0.0.0:80", 20)},
			fk(pTCP, "[fd00:198:18:60::1]:80", "[fd00:198:18:60::9]:5555"), 0, true},
		{"the specific bind wins over the wildcard",
			[]sampler.Socket{listen("0.0.0.0:80", 20), listen("198.18.60.1:80", 22)},
			fk(pTCP, "198.18.60.1:80", "198.18.60.9:5555"), 22, false},
		{"v4-mapped connected socket (accepted on a dual-stack listener)",
			[]sampler.Socket{estab("[::ffff:198.18.60.1]:22", "[::ffff:198.18.60.3]:60000", 30), listen("[::]:22", 31)},
			fk(pTCP, "198.18.60.1:22", "198.18.60.3:60000"), 30, false},
		{"v4-mapped listener",
			[]sampler.Socket{listen("[::ffff:198.18.60.1]:8080", 32)},
			fk(pTCP, "198.18.60.1:8080", "198.18.60.3:60000"), 32, false},
		{"unconnected udp on 0.0.0.0",
			[]sampler.Socket{udpBound("0.0.0.0:53", 40)},
			fk(pUDP, "198.18.60.1:53", "198.18.60.5:33000"), 40, false},
		{"connected udp",
			[]sampler.Socket{sockOf(sampler.ProtoUDP, sampler.StateEstablished, "198.18.60.1:33000", "198.18.60.8:53", 41),
				udpBound("0.0.0.0:33000", 42)},
			fk(pUDP, "198.18.60.1:33000", "198.18.60.8:53"), 41, false},
		{"unconnected udp on the remote side (orientation by port)",
			[]sampler.Socket{udpBound("198.18.60.1:33333", 43)},
			fk(pUDP, "198.18.60.2:53", "198.18.60.1:33333"), 43, false},
		{"protocols do not mix",
			[]sampler.Socket{udpBound("0.0.0.0:53", 40)},
			fk(pTCP, "198.18.60.1:53", "198.18.60.5:33000"), 0, true},
		{"time-wait socket falls back to the server's listener",
			[]sampler.Socket{sockOf(sampler.ProtoTCP, sampler.StateTimeWait, "198.18.60.1:80", "198.18.60.9:5555", 0), listen("0.0.0.0:80", 20)},
			fk(pTCP, "198.18.60.1:80", "198.18.60.9:5555"), 20, false},
		{"time-wait socket without a listener: known, unattributed, not pending",
			[]sampler.Socket{sockOf(sampler.ProtoTCP, sampler.StateTimeWait, "198.18.60.1:41000", "198.18.60.9:443", 0)},
			fk(pTCP, "198.18.60.1:41000", "198.18.60.9:443"), 0, false},
		{"nothing",
			nil,
			fk(pTCP, "198.18.60.1:41000", "198.18.60.9:443"), 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pids []int
			for _, s := range tt.socks {
				if s.PID != 0 {
					pids = append(pids, s.PID)
				}
			}
			st := New(Options{Capture: true})
			st.Apply(sample(0, true, tt.socks, nil, pids...))
			st.ApplyBatch(batchAt(0, fd(tt.flow, 100, 100)))
			got := st.Talkers(TalkerQuery{})
			if len(got) != 1 {
				t.Fatalf("talkers = %+v", got)
			}
			if got[0].PID != tt.pid {
				t.Errorf("pid = %d, want %d", got[0].PID, tt.pid)
			}
			if tt.pid != 0 && got[0].Comm != procs(tt.pid)[tt.pid].Comm {
				t.Errorf("comm = %q", got[0].Comm)
			}
			if st.NeedRefresh() != tt.pending || (st.Pending() == 1) != tt.pending {
				t.Errorf("NeedRefresh %v, Pending %d; want pending %v", st.NeedRefresh(), st.Pending(), tt.pending)
			}
		})
	}
}

// TestPendingRefreshResolved: a flow whose socket is not in the table yet is pending; the
// refresh sample resolves it, and its bytes of the interval go to the process.
func TestPendingRefreshResolved(t *testing.T) {
	k := fk(pTCP, "198.18.60.1:40000", "198.18.60.2:5201")
	sock := estab("198.18.60.1:40000", "198.18.60.2:5201", 10)
	st := New(Options{})
	st.Apply(sample(0, true, nil, nil))
	if st.NeedRefresh() {
		t.Fatal("NeedRefresh before any flow")
	}
	st.ApplyBatch(batchAt(0, fd(k, 1000, 2000)))
	if !st.NeedRefresh() || st.Pending() != 1 {
		t.Fatalf("after a miss: NeedRefresh %v, Pending %d", st.NeedRefresh(), st.Pending())
	}
	st.Apply(refreshOf(0, []sampler.Socket{sock}, 10))
	if st.NeedRefresh() || st.Pending() != 0 {
		t.Fatalf("after the refresh: NeedRefresh %v, Pending %d", st.NeedRefresh(), st.Pending())
	}
	if st.Elapsed() != 0 || st.Time() != t0 {
		t.Errorf("a refresh moved the clock: %v %v", st.Elapsed(), st.Time())
	}
	st.ApplyBatch(batchAt(0, fd(k, 500, 0)))
	st.Apply(sample(1, false, []sampler.Socket{sock}, nil, 10))
	ps := st.Processes(ProcessQuery{ActiveOnly: true})
	want := []Process{{PID: 10, Comm: "proc0", User: "root", Source: "pcap", RxBytes: 1500, TxBytes: 2000,
		RxRate: 1500, TxRate: 2000, RxTotal: 1500, TxTotal: 2000, Alive: true}}
	if d := cmp.Diff(want, ps, cmpopts.IgnoreUnexported(Process{})); d != "" {
		t.Errorf("processes (-want +got):\n%s", d)
	}
	if u, tot := st.Unattributed(); u != (Counts{}) || tot != (Counts{}) {
		t.Errorf("unattributed = %+v / %+v, want none", u, tot)
	}
}

// TestPendingUnresolved: a flow that stays unknown goes to unattributed, with its share; it is
// retried at PendingRetries regular samples, then no more; a flow resolved at a regular
// sample's retry moves that interval's bytes to its process.
func TestPendingUnresolved(t *testing.T) {
	known := fk(pTCP, "198.18.60.1:40000", "198.18.60.2:5201")
	lost := fk(pUDP, "198.18.60.1:9999", "198.18.60.3:9999")
	late := fk(pTCP, "198.18.60.1:40001", "198.18.60.2:5201")
	socks := []sampler.Socket{estab("198.18.60.1:40000", "198.18.60.2:5201", 10)}
	st := New(Options{PendingRetries: 2})
	st.Apply(sample(0, true, socks, nil, 10))
	st.ApplyBatch(batchAt(0, fd(known, 3000, 0), fd(lost, 500, 500), fd(late, 2000, 0)))
	if st.Pending() != 2 {
		t.Fatalf("pending = %d, want 2", st.Pending())
	}
	st.Apply(refreshOf(0, socks, 10)) // the refresh does not find them either
	st.Apply(sample(1, false, socks, nil, 10))
	u, _ := st.Unattributed()
	if u != (Counts{RxBytes: 2500, TxBytes: 500}) {
		t.Errorf("interval 1 unattributed = %+v, want 2500/500", u)
	}
	if si, ss := st.UnattributedShare(); si != 0.5 || ss != 0.5 {
		t.Errorf("share = %v / %v, want 0.5 / 0.5", si, ss)
	}

	// interval 2: late's socket appears at the regular sample: its bytes of this interval move
	socks2 := append(socks, estab("198.18.60.1:40001", "198.18.60.2:5201", 10))
	st.ApplyBatch(batchAt(1, fd(known, 1000, 0), fd(lost, 100, 100), fd(late, 800, 0)))
	st.Apply(sample(2, false, socks2, nil, 10))
	u, tot := st.Unattributed()
	if u != (Counts{RxBytes: 100, TxBytes: 100}) || tot != (Counts{RxBytes: 2600, TxBytes: 600}) {
		t.Errorf("interval 2 unattributed = %+v, total %+v; want 100/100, 2600/600", u, tot)
	}
	if p := st.Processes(ProcessQuery{})[0]; p.RxBytes != 1800 || p.RxTotal != 4800 {
		t.Errorf("process: interval %d, total %d; want 1800, 4800", p.RxBytes, p.RxTotal)
	}
	// retries 1 and 2 were used at samples 1 and 2; sample 3 gives up
	if st.Pending() != 1 {
		t.Errorf("pending after 2 regular samples = %d, want 1", st.Pending())
	}
	st.Apply(sample(3, false, socks2, nil, 10))
	if st.Pending() != 0 {
		t.Errorf("pending after the retries = %d, want 0", st.Pending())
	}
	// a socket showing up now is not looked for any more
	socks3 := append(socks2, udpBound("0.0.0.0:9999", 10))
	st.ApplyBatch(batchAt(3, fd(lost, 50, 50)))
	st.Apply(sample(4, false, socks3, nil, 10))
	if u, _ := st.Unattributed(); u != (Counts{RxBytes: 50, TxBytes: 50}) {
		t.Errorf("given-up flow: unattributed %+v, want 50/50", u)
	}
	_, tot = st.Unattributed()
	_, capTot := st.Captured()
	if want := float64(tot.RxBytes+tot.TxBytes) / float64(capTot.RxBytes+capTot.TxBytes); want <= 0 {
		t.Errorf("captured %+v", capTot)
	} else if _, ss := st.UnattributedShare(); ss != want {
		t.Errorf("session share = %v, want %v", ss, want)
	}
}

// TestCaptureReplacesTCPInfo: with capture on, tcp_info deltas are not added; the socket
// table still feeds the TCP state histogram.
func TestCaptureReplacesTCPInfo(t *testing.T) {
	st := New(Options{Capture: true})
	st.Apply(sample(0, true, nil, nil))
	st.Apply(sample(1, false, []sampler.Socket{tcp(1, 10, 5000, 700)}, nil, 10))
	if got := procTotals(st); len(got) != 0 {
		t.Errorf("tcp_info bytes counted with capture on: %v", got)
	}
	if st.TCPStates()[0].Count != 1 {
		t.Errorf("histogram = %+v", st.TCPStates())
	}
	if p := st.Processes(ProcessQuery{}); len(p) != 1 || p[0].Source != "pcap" {
		t.Errorf("processes = %+v, want one with source pcap", p)
	}
	if r := st.StatusRecord(false); r.ProcessBytes != "pcap" || !r.Capture {
		t.Errorf("status = %+v", r)
	}

	// without Options.Capture the first batch switches the source
	st = New(Options{})
	st.Apply(sample(0, true, nil, nil, 10))
	st.Apply(sample(1, false, []sampler.Socket{tcp(1, 10, 5000, 700)}, nil, 10))
	if got := procTotals(st); got[10] != [2]uint64{5000, 700} {
		t.Errorf("tcp_info totals = %v", got)
	}
	st.ApplyBatch(batchAt(1, fd(fk(pTCP, "198.18.0.1:40000", "198.18.0.2:5201"), 10, 20)))
	st.Apply(sample(2, false, []sampler.Socket{tcp(1, 10, 9000, 900)}, nil, 10))
	if got := procTotals(st); got[10] != [2]uint64{5020, 710} {
		t.Errorf("totals after capture started = %v, want tcp_info then pcap bytes", got)
	}
	if p := st.Processes(ProcessQuery{}); p[0].Source != "pcap" {
		t.Errorf("source = %q", p[0].Source)
	}
}

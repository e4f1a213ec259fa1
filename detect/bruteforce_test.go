package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
)

// The addresses of TestLabSSHBruteForceFires: this host (the attacker there) and the sshd.
var (
	bfHere = mustAddr("198.18.170.1")
	bfSSHD = mustAddr("198.18.170.2")
)

// bfAccepted is the handshake of a connection accepted and closed, seen from the side that
// connected (out) or accepted (in).
const (
	bfAcceptedOut = capture.HsSynOut | capture.HsSynAckIn | capture.HsAckIn | capture.HsAckOut
	bfAcceptedIn  = capture.HsSynIn | capture.HsSynAckOut | capture.HsAckIn | capture.HsAckOut
)

// bfSSHOut is connection i from this host to the sshd, as one wrong-password attempt of the
// lab test looks in its interval: SYN, FIN, PSH, ACK, 7,700 bytes (the lab's connections
// carried 7,650 to 7,914), from an ssh process.
func bfSSHOut(i int) monitor.FlowFact {
	return monitor.FlowFact{Key: capture.FlowKey{Proto: 6, Local: netip.AddrPortFrom(bfHere, uint16(40000+i)), Remote: netip.AddrPortFrom(bfSSHD, 22)},
		Handshake: bfAcceptedOut, Flags: 0x1b, RxBytes: 4200, TxBytes: 3500, PID: 5000 + i, Comm: "ssh"}
}

// bfSSHIn is connection i from a remote to this host's sshd.
func bfSSHIn(i int) monitor.FlowFact {
	return monitor.FlowFact{Key: capture.FlowKey{Proto: 6, Local: netip.AddrPortFrom(bfSSHD, 22), Remote: netip.AddrPortFrom(bfHere, uint16(40000+i))},
		Handshake: bfAcceptedIn, Flags: 0x1b, RxBytes: 3500, TxBytes: 4200, PID: 310, Comm: "sshd"}
}

// bfRun evaluates brute_force alone (no warm-up) over one view of 1 s per step, and returns
// the transitions as "i:state key" and the last alert announced.
func bfRun(t *testing.T, d *bruteForce, steps [][]monitor.FlowFact) (string, Alert) {
	t.Helper()
	e := New(&RuleSet{Rules: []*Rule{{Name: RuleBruteForce, Severity: Critical, Enabled: true, Attack: true, Detector: d}}})
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var got []string
	var last Alert
	for i, flows := range steps {
		now := t0.Add(time.Duration(i+1) * time.Second)
		for _, a := range e.Eval(&View{Time: now, Elapsed: time.Second, Capture: true, Flows: flows}, now) {
			got = append(got, fmt.Sprintf("%d:%s %s", i, a.State, a.Key))
			last = a
		}
	}
	return strings.Join(got, " "), last
}

// bfBurst is n intervals of per connections each (numbered on), then quiet ones up to total.
func bfBurst(n, per, total int, conn func(int) monitor.FlowFact) [][]monitor.FlowFact {
	steps := make([][]monitor.FlowFact, total)
	for i := range n {
		for j := range per {
			steps[i] = append(steps[i], conn(i*per+j))
		}
	}
	return steps
}

// TestBruteForceOutboundSSH replays the lab test's attack as the host side's capture sees
// it: 30 wrong-password connections from this host to an sshd, 6 a second for 5 s, with
// the lab's 10 s window. The connections are outbound (our SYN, their SYN-ACK): the rule
// counted only inbound ones and missed it. It fires at the fourth second (24 attempts),
// names this host, the sshd and the ssh processes, and resolves at the 14th, when only
// the last second's 6 are left in the window (below the clear level, 10).
func TestBruteForceOutboundSSH(t *testing.T) {
	d := newBruteForce()
	d.Window = 10 * time.Second
	got, last := bfRun(t, d, bfBurst(5, 6, 20, bfSSHOut))
	key := "brute_force/198.18.170.1->198.18.170.2:22"
	if want := "3:firing " + key + " 13:resolved " + key; got != want {
		t.Fatalf("transitions %q, want %q", got, want)
	}
	procs := []map[string]any{}
	for i := range bfMaxPids {
		procs = append(procs, map[string]any{"pid": 5000 + i, "comm": "ssh"})
	}
	want := map[string]any{"direction": "out", "source": "198.18.170.1", "target": "198.18.170.2:22", "service": "ssh",
		"attempts": 24, "window_s": 10.0, "processes": procs}
	if diff := cmp.Diff(want, last.Evidence); diff != "" {
		t.Errorf("evidence (-want +got):\n%s", diff)
	}
	if s := "198.18.170.1 (process ssh, pid 5000) made 24 short connections to ssh (198.18.170.2:22) in 10s"; last.Summary != s {
		t.Errorf("summary %q, want %q", last.Summary, s)
	}
}

// TestBruteForceDirections: inbound and outbound attempts each fire with the default
// settings, under the same key format (source -> service); each is ignored when its
// direction is off.
func TestBruteForceDirections(t *testing.T) {
	for _, c := range []struct {
		name          string
		conn          func(int) monitor.FlowFact
		inbound, out  bool
		want, wantDir string
	}{
		{"inbound", bfSSHIn, true, true, "brute_force/198.18.170.1->198.18.170.2:22", "in"},
		{"inbound off", bfSSHIn, false, true, "", ""},
		{"outbound", bfSSHOut, true, true, "brute_force/198.18.170.1->198.18.170.2:22", "out"},
		{"outbound off", bfSSHOut, true, false, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newBruteForce()
			d.Inbound, d.Outbound = c.inbound, c.out
			got, last := bfRun(t, d, bfBurst(1, 20, 1, c.conn))
			if c.want == "" {
				if got != "" {
					t.Fatalf("transitions %q with the direction off", got)
				}
				return
			}
			if got != "0:firing "+c.want {
				t.Fatalf("transitions %q, want 0:firing %s", got, c.want)
			}
			if last.Evidence["direction"] != c.wantDir {
				t.Errorf("direction %v, want %s", last.Evidence["direction"], c.wantDir)
			}
			if _, has := last.Evidence["processes"]; has != (c.wantDir == "out") {
				t.Errorf("evidence %v: processes only outbound (the local process is the attacker's)", last.Evidence)
			}
		})
	}
}

// TestBruteForceNotAttempts: 40 connections in one interval fire when they are accepted,
// small and to port 22 (the first case, the control); changed in one way each, they are
// not attempts and raise nothing.
func TestBruteForceNotAttempts(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(f *monitor.FlowFact)
		fires  bool
	}{
		{"accepted, small, to ssh (control)", func(f *monitor.FlowFact) {}, true},
		{"inbound control", func(f *monitor.FlowFact) { *f = bfSSHIn(int(f.Key.Local.Port()) - 40000) }, true},
		{"not an authentication port", func(f *monitor.FlowFact) { f.Key.Remote = netip.AddrPortFrom(bfSSHD, 443) }, false},
		{"refused (port_scan's)", func(f *monitor.FlowFact) { f.Handshake = capture.HsSynOut | capture.HsRstIn }, false},
		{"not answered yet", func(f *monitor.FlowFact) { f.Handshake = capture.HsSynOut }, false},
		{"a session: more than max_bytes in its first interval", func(f *monitor.FlowFact) { f.RxBytes = 64<<10 + 1 }, false},
		{"begun in an earlier interval (no SYN in this one)", func(f *monitor.FlowFact) { f.Flags = 0x18 }, false},
		{"udp", func(f *monitor.FlowFact) { f.Key.Proto, f.Flags, f.Handshake = 17, 0, 0 }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, _ := bfRun(t, newBruteForce(), bfBurst(1, 40, 1, func(i int) monitor.FlowFact {
				f := bfSSHOut(i)
				c.change(&f)
				return f
			}))
			if fired := got != ""; fired != c.fires {
				t.Errorf("transitions %q, want firing %v", got, c.fires)
			}
		})
	}
}

package sampler

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// refreshTree builds a proc root from the fixtures: net/dev, net/snmp, net/netstat, the
// socket tables of proc-sock-basic, and pid 100 holding the socket of inode 34567.
func refreshTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	for src, names := range map[string][]string{
		"testdata/proc-dev-basic/net":   {"dev"},
		"testdata/proc-snmp-basic/net":  {"snmp", "netstat"},
		"testdata/proc-sock-basic/net/": {"tcp", "tcp6", "udp", "udp6"},
	} {
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join(src, n))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "net", n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeProc(t, root, fakeProc{pid: 100, comm: "curl", cmdline: "curl\x00", uid: 0, start: 10,
		fds: map[string]string{"3": "socket:[34567]"}})
	return root
}

func newRefreshSampler(t *testing.T, root string, interval time.Duration) *Sampler {
	t.Helper()
	s, err := New(Options{ProcRoot: root, NoNetlink: true, Interval: interval})
	if err != nil {
		t.Fatal(err)
	}
	s.resolver.fdCount = fixtureFDCount
	t.Cleanup(func() { s.Close() })
	return s
}

// bumpRx replaces from by to in root/net/dev (to change a counter).
func bumpRx(t *testing.T, root string, from, to string) {
	t.Helper()
	p := filepath.Join(root, "net", "dev")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), from, to, 1)
	if s == string(b) {
		t.Fatalf("%q not in net/dev", from)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshSample(t *testing.T) {
	root := refreshTree(t)
	s := newRefreshSampler(t, root, time.Second)
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	if base := s.Tick(t0); !base.Baseline {
		t.Fatal("first tick is not the baseline")
	}
	// traffic between the baseline and the refresh, and after it
	bumpRx(t, root, "eth0: 99497682", "eth0: 99498682") // +1000
	r := s.refresh(t0.Add(300 * time.Millisecond))
	bumpRx(t, root, "eth0: 99498682", "eth0: 99498782") // +100
	if !r.Refresh || r.Baseline || r.Elapsed != 0 || r.Interfaces != nil || r.Kernel != (KernelTCP{}) || r.Destroyed != nil {
		t.Errorf("refresh sample carries deltas: %+v", r)
	}
	var pid int
	for _, sk := range r.Sockets {
		if sk.Inode == 34567 {
			pid = sk.PID
		}
	}
	if pid != 100 || r.Procs[100] == nil || r.Procs[100].Comm != "curl" {
		t.Errorf("refresh: socket 34567 pid %d, procs %v; want pid 100 (curl)", pid, r.Procs)
	}
	if want := len(cat(procTCP, procTCP6, procUDP, procUDP6)); len(r.Sockets) != want {
		t.Errorf("refresh has %d sockets, want %d", len(r.Sockets), want)
	}
	if r.Status.SocketSource != "proc" {
		t.Errorf("refresh status = %+v", r.Status)
	}

	n := s.Tick(t0.Add(time.Second))
	if n.Refresh || n.Elapsed != time.Second {
		t.Errorf("regular sample after a refresh: Refresh %v, Elapsed %v; want false, 1s", n.Refresh, n.Elapsed)
	}
	var rx uint64
	for _, d := range n.Interfaces {
		if d.Name == "eth0" {
			rx = d.RxBytes
		}
	}
	if rx != 1100 {
		t.Errorf("eth0 rx delta after a refresh = %d, want 1100 (the whole interval)", rx)
	}
}

func TestRefreshWait(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		last, now time.Time
		want      time.Duration
	}{
		{time.Time{}, t0, 0},
		{t0, t0, 250 * time.Millisecond},
		{t0, t0.Add(100 * time.Millisecond), 150 * time.Millisecond},
		{t0, t0.Add(250 * time.Millisecond), 0},
		{t0, t0.Add(time.Hour), 0},
	}
	for _, tt := range tests {
		if got := refreshWait(tt.last, tt.now, time.Second); got != tt.want {
			t.Errorf("refreshWait(%v, %v) = %v, want %v", tt.last, tt.now, got, tt.want)
		}
	}
}

// TestRunRefresh drives Run with an interval of an hour, so no regular tick comes during the
// test: requests are answered by one refresh sample, and a second request within
// Interval/4 of the first is deferred, not served.
func TestRunRefresh(t *testing.T) {
	root := refreshTree(t)
	s := newRefreshSampler(t, root, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan *Sample, 4)
	done := make(chan *Sample, 1)
	go func() { done <- s.Run(ctx, out) }()

	recv := func() *Sample {
		t.Helper()
		select {
		case smp := <-out:
			return smp
		case <-time.After(30 * time.Second): // a bound against a hang, not a timing check
			t.Fatal("no sample from Run")
		}
		return nil
	}
	if base := recv(); !base.Baseline {
		t.Fatalf("first sample is not the baseline: %+v", base)
	}
	for range 3 { // coalesce into one
		s.RequestRefresh()
	}
	r := recv()
	if !r.Refresh || r.Elapsed != 0 || len(r.Sockets) == 0 {
		t.Fatalf("answer to RequestRefresh: Refresh %v, Elapsed %v, %d sockets", r.Refresh, r.Elapsed, len(r.Sockets))
	}
	s.RequestRefresh() // within 15 minutes of the last one: deferred
	cancel()
	if p := <-done; p != nil {
		t.Errorf("Run returned a pending sample: %+v", p)
	}
	var extra []bool
	for len(out) > 0 {
		extra = append(extra, (<-out).Refresh)
	}
	if d := cmp.Diff([]bool(nil), extra); d != "" {
		t.Errorf("samples after the rate-limited request (-want +got):\n%s", d)
	}
}

func TestMergeRefresh(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	reg := &Sample{Time: t0.Add(time.Second), Elapsed: time.Second, Interfaces: []IfaceDelta{{Name: "eth0", RxBytes: 5}},
		Procs: map[int]*Proc{}}
	r := &Sample{Time: t0, Refresh: true, Sockets: []Socket{{Inode: 1}}, Procs: map[int]*Proc{}}
	r.merge(reg)
	if r.Refresh || r.Elapsed != time.Second || len(r.Interfaces) != 1 || r.Interfaces[0].RxBytes != 5 || r.Sockets != nil {
		t.Errorf("refresh merged with a regular sample = %+v, want the regular sample", r)
	}
}

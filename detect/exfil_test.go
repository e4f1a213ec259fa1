package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wiretop/wiretop/monitor"
)

// exfilRun evaluates the default exfiltration rule (warm-up off, learning 10 s) over one
// view per second from steps, and returns the transitions as "firing KEY" / "resolved KEY"
// per interval and the last firing alert.
func exfilRun(t *testing.T, bl monitor.Baselines, steps []func(i int) []monitor.RemoteBytes) ([]string, Alert) {
	t.Helper()
	rs := DefaultRules()
	rs.WarmUp = 0
	for _, r := range rs.Rules {
		r.Enabled = r.Name == RuleExfiltration
		if r.Enabled {
			r.Detector.(*exfiltration).Learn = 10 * time.Second
		}
	}
	e := New(rs)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	var got []string
	var last Alert
	for i, f := range steps {
		now := t0.Add(time.Duration(i+1) * time.Second)
		v := &View{Time: now, Elapsed: time.Second, Capture: true, Baselines: bl}
		if f != nil {
			v.Remotes = f(i)
		}
		var s []string
		for _, a := range e.Eval(v, now) {
			s = append(s, string(a.State)+" "+a.Key)
			if a.State == Firing {
				last = a
			}
		}
		got = append(got, strings.Join(s, "+"))
	}
	return got, last
}

var (
	exLocalTalk = mustAddr("198.18.160.9") // a host exchanging bytes during learning
	exNew       = mustAddr("198.18.160.2") // a host first seen after learning
)

// upload sends tx (and receives rx) per second to host, as curl (pid 4242) would.
func upload(host netip.Addr, tx, rx uint64) func(int) []monitor.RemoteBytes {
	return func(int) []monitor.RemoteBytes {
		return []monitor.RemoteBytes{{Remote: host, TxBytes: tx, RxBytes: rx, PID: 4242, Comm: "curl"}}
	}
}

// steps is n copies of f.
func steps(n int, f func(int) []monitor.RemoteBytes) []func(int) []monitor.RemoteBytes {
	s := make([]func(int) []monitor.RemoteBytes, n)
	for i := range s {
		s[i] = f
	}
	return s
}

func transitions(got []string) string {
	var out []string
	for i, g := range got {
		if g != "" {
			out = append(out, fmt.Sprintf("%d:%s", i, g))
		}
	}
	return strings.Join(out, " ")
}

// TestExfiltrationFiresOnUploadToNewHost: 200 MiB at 50 MiB/s to a host never seen fires
// at the second second (100 MiB), names the process, and resolves 30 s (hold) after the
// last second of the upload, once.
func TestExfiltrationFiresOnUploadToNewHost(t *testing.T) {
	s := steps(12, upload(exLocalTalk, 1000, 1000))              // learning: a known host
	s = append(s, steps(4, upload(exNew, 50<<20, 200<<10))...)   // the upload: seconds 12-15
	s = append(s, steps(40, upload(exLocalTalk, 1000, 1000))...) // after it
	got, a := exfilRun(t, nil, s)
	want := "13:firing exfiltration/198.18.160.2 45:resolved exfiltration/198.18.160.2"
	if tr := transitions(got); tr != want {
		t.Fatalf("transitions %q, want %q", tr, want)
	}
	if a.Evidence["novelty"] != "new" || a.Evidence["pid"] != 4242 || a.Evidence["comm"] != "curl" || a.Evidence["remote"] != "198.18.160.2" {
		t.Errorf("evidence %v", a.Evidence)
	}
	t.Logf("summary: %s", a.Summary)
}

// TestExfiltrationQuiet: what an upload detector must not take for one: a 400 MiB download
// from a new host, a symmetric transfer (iperf3 --bidir) with a new host, an upload of
// 400 MiB to a host known from the learning period (below its level, 1000 MiB), and an
// upload below the level spread over the window.
func TestExfiltrationQuiet(t *testing.T) {
	learn := steps(12, upload(exLocalTalk, 1000, 1000))
	for _, c := range []struct {
		name string
		s    []func(int) []monitor.RemoteBytes
	}{
		{"download from a new host", steps(8, upload(exNew, 100<<10, 50<<20))},
		{"both directions with a new host", steps(8, upload(exNew, 50<<20, 40<<20))},
		{"upload to a known host", steps(8, upload(exLocalTalk, 50<<20, 10<<10))},
		{"90 MiB over the window to a new host", steps(90, upload(exNew, 1<<20, 0))},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, _ := exfilRun(t, nil, append(append([]func(int) []monitor.RemoteBytes{}, learn...), c.s...))
			if tr := transitions(got); tr != "" {
				t.Fatalf("alerts on innocent traffic: %s", tr)
			}
		})
	}
}

// TestExfiltrationKnownHostAndBaseline: a known host fires above bytes × known_factor; a
// host with history is judged against known_factor × its usual bytes in a window.
func TestExfiltrationKnownHostAndBaseline(t *testing.T) {
	learn := steps(12, upload(exLocalTalk, 1000, 1000))
	got, a := exfilRun(t, nil, append(learn, steps(25, upload(exLocalTalk, 50<<20, 0))...))
	if tr := transitions(got); !strings.HasPrefix(tr, "31:firing exfiltration/198.18.160.9") { // 20 s × 50 MiB = 1000 MiB
		t.Fatalf("known host: transitions %q", tr)
	}
	if a.Evidence["novelty"] != "known" {
		t.Errorf("novelty %v, want known", a.Evidence["novelty"])
	}
	// usually 1 MiB/s to it at this hour: the level is 10 × 1 MiB/s × 900 s, 9000 MiB
	bl := fixedBaseline{monitor.MetricHostTx: 1 << 20}
	got, _ = exfilRun(t, bl, append(learn, steps(40, upload(exNew, 100<<20, 0))...))
	if tr := transitions(got); tr != "" {
		t.Fatalf("4000 MiB to a host usually sent 900 MiB a window: %s", tr)
	}
	bl = fixedBaseline{monitor.MetricHostTx: 1 << 10} // usually 1 KiB/s: the level is the floor, bytes
	got, a = exfilRun(t, bl, append(learn, steps(4, upload(exNew, 100<<20, 0))...))
	if tr := transitions(got); tr != "12:firing exfiltration/198.18.160.2" || a.Evidence["novelty"] != "usual" {
		t.Fatalf("host with a small baseline: transitions %q, evidence %v", tr, a.Evidence)
	}
}

// TestExfiltrationBounded: a flood to 25,000 hosts an interval (each sent 60 bytes), then
// 10,000 of them sent more than min_bytes every interval, keep the table at its cap; an
// upload that starts before the table fills is still found during it.
func TestExfiltrationBounded(t *testing.T) {
	d := newExfiltration()
	d.Learn = 0
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for i := range 40 {
		now := t0.Add(time.Duration(i) * time.Second)
		v := &View{Time: now, Elapsed: time.Second}
		if i >= 10 {
			v.Remotes = append(v.Remotes, monitor.RemoteBytes{Remote: exNew, TxBytes: 20 << 20})
		}
		for j := range 25000 {
			tx := uint64(60)
			if i >= 20 && j < 10000 {
				tx = 128 << 10
			}
			v.Remotes = append(v.Remotes, monitor.RemoteBytes{Remote: netip.AddrFrom4([4]byte{198, 19, byte(j >> 8), byte(j)}), TxBytes: tx})
		}
		var hit bool
		d.Check(v, now, func(f Finding) {
			if f.Key == "198.18.160.2" && f.Firing {
				hit = true
			}
		})
		if d.hosts.len() > maxExfilHosts || len(d.known) > maxKnownHosts {
			t.Fatalf("interval %d: %d hosts, %d known", i, d.hosts.len(), len(d.known))
		}
		if i >= 20 && !hit {
			t.Fatalf("interval %d: the upload to %v was not found during the flood (%d hosts tracked, %d untracked)", i, exNew, d.hosts.len(), d.Untracked)
		}
	}
	if d.Untracked == 0 {
		t.Errorf("no host left untracked: the table was never full")
	}
	t.Logf("tracked %d hosts, untracked %d", d.hosts.len(), d.Untracked)
}

// fixedBaseline gives every key of a metric the same median, with 5 weeks of history.
type fixedBaseline map[monitor.Metric]float64

func (f fixedBaseline) Baseline(m monitor.Metric, key string, at time.Time) (monitor.Baseline, bool) {
	med, ok := f[m]
	if !ok {
		return monitor.Baseline{}, false
	}
	return monitor.Baseline{Metric: m, Key: key, At: at, Median: med, MAD: med / 10, Weeks: 5}, true
}

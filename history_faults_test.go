package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

// historyTotals runs wiretop history --json and returns the rx bytes of iface per bucket
// of kind (a flag: --5min, --days), and their sum.
func historyTotals(t *testing.T, db, kind, iface string) (map[string]uint64, uint64) {
	t.Helper()
	out, err := exec.Command(wiretopBin, "history", "--db", db, kind, "--json", "-i", iface).CombinedOutput()
	if err != nil {
		t.Fatalf("wiretop history %s: %v\n%s", kind, err, out)
	}
	var rep struct {
		Buckets []struct {
			Start string `json:"start"`
			Rx    uint64 `json:"rx_bytes"`
		} `json:"buckets"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("wiretop history %s --json: %v\n%s", kind, err, out)
	}
	m := map[string]uint64{}
	var sum uint64
	for _, b := range rep.Buckets {
		m[b.Start] += b.Rx
		sum += b.Rx
	}
	return m, sum
}

// fakeProc is a /proc root whose /proc/net/dev the test writes.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc {
	root := filepath.Join(t.TempDir(), "proc")
	if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"snmp", "netstat"} {
		data, err := os.ReadFile("/proc/net/" + f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, "net", f), data, 0o644)
	}
	hdr := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	for _, f := range []string{"tcp", "tcp6", "udp", "udp6"} {
		os.WriteFile(filepath.Join(root, "net", f), []byte(hdr), 0o644)
	}
	return &fakeProc{t: t, root: root}
}

// dev writes /proc/net/dev with the given rx byte counters (an interface absent from the
// map is absent from the file).
func (p *fakeProc) dev(rx map[string]uint64) {
	var b strings.Builder
	b.WriteString("Inter-|   Receive                                                |  Transmit\n")
	b.WriteString(" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n")
	for name, v := range rx {
		fmt.Fprintf(&b, "%6s: %d 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", name, v)
	}
	tmp := filepath.Join(p.root, "net", ".dev")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(p.root, "net", "dev")); err != nil {
		p.t.Fatal(err)
	}
}

// TestHistoryCounterFaults drives a recorder over a /proc root whose counters reset, wrap
// at 64 bits, vanish and return, while the recorder is killed with SIGKILL and restarted:
// the history holds exactly the traffic the counters really counted, no bucket more, and
// every interval that completed before the kill is there. (Clock steps of +1 h and -1 h
// cannot be made for a separate process without stepping the machine's clock:
// TestHistoryClockSteps drives the same recorder in this process with a stepped clock.)
func TestHistoryCounterFaults(t *testing.T) {
	p := newFakeProc(t)
	db := filepath.Join(t.TempDir(), "h.db")
	const iface = "fk0"
	var real uint64 // bytes really counted while a recorder ran
	cur := uint64(1000)
	p.dev(map[string]uint64{iface: cur})
	start := func() *wtRun {
		w := startWiretop(t, nil, "daemon", "--db", db, "--no-capture", "--no-netlink", "--proc-root", p.root, "--interval", "100ms")
		time.Sleep(500 * time.Millisecond) // its baseline sample
		return w
	}
	// wait until the history holds what was counted so far (the recorder is behind by an
	// interval and its queue)
	settle := func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, got := historyTotals(t, db, "--days", iface)
			if got == real {
				return
			}
			if got > real || time.Now().After(deadline) {
				t.Fatalf("the history holds %d bytes of %s, the counters counted %d", got, iface, real)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	step := func(next uint64, counted uint64) {
		cur = next
		real += counted
		p.dev(map[string]uint64{iface: cur})
		time.Sleep(300 * time.Millisecond)
		_, got := historyTotals(t, db, "--days", iface)
		t.Logf("counter %d: %d counted, the history holds %d", cur, real, got)
	}
	w := start()
	step(cur+5000, 5000)
	step(cur+7000, 7000)
	step(300, 300) // a reset (a driver reload): what was counted since is 300
	step(cur+4000, 4000)
	settle()

	// SIGKILL: what completed is kept; a restart starts from a new baseline
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.done
	cur += 100000 // counted while no recorder ran: a gap, not traffic
	p.dev(map[string]uint64{iface: cur})
	w = start()
	step(cur+2500, 2500)
	step(1<<64-1000, 0) // set up a wrap: this jump is more than a link carries, a fault...
	step(500, 1500)     // ...and the wrap: 1000 to the top, then 500
	p.dev(map[string]uint64{})
	time.Sleep(300 * time.Millisecond) // the interface is gone
	cur = 0
	step(800, 800) // re-created with the same name, from zero
	settle()
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	w.wait(t, 10*time.Second)

	buckets, total := historyTotals(t, db, "--5min", iface)
	if total != real {
		t.Errorf("the 5-minute buckets hold %d bytes, the counters counted %d", total, real)
	}
	for b, v := range buckets {
		if v > real {
			t.Errorf("bucket %s holds %d bytes, more than all the real traffic (%d)", b, v, real)
		}
	}
	out, _ := exec.Command(wiretopBin, "history", "--db", db, "--json").Output()
	if !strings.Contains(string(out), "gaps") {
		t.Errorf("no gaps list in %s", out)
	}
}

// TestHistoryClockSteps drives the recorder (the sampler over a fake /proc root, the
// monitor, the history stage and a real SQLite file, in this process) through clock steps
// of +1 h and -1 h, 70 minutes apart, with 10 s intervals. A real process sees a step in the wall clock only:
// its intervals keep their monotonic length. So each sample's wall time is shifted as a
// stepped clock shifts time.Now(), and its elapsed time is the real one. The history must
// hold every byte counted, no 5-minute bucket more than any 5 real minutes carried (were
// the intervals after the step back written into the buckets of the hour they repeat,
// those buckets would hold 2000 B/s and 3000 B/s for 5 minutes each), and the hour
// skipped by the step forward as a gap.
func TestHistoryClockSteps(t *testing.T) {
	p := newFakeProc(t)
	db := filepath.Join(t.TempDir(), "h.db")
	const iface = "fk1"
	cfg := Config{DB: db, dbSet: true, ProcRoot: p.root, NoNetlink: true, Interval: 10 * time.Second}
	h, notes, err := openHistoryStage(context.Background(), cfg)
	if err != nil || h == nil {
		t.Fatalf("history stage: %v %v", err, notes)
	}
	cur := uint64(1000)
	p.dev(map[string]uint64{iface: cur})
	smp, err := sampler.New(sampler.Options{ProcRoot: p.root, NoNetlink: true, Interval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer smp.Close()
	st := monitor.New(monitor.Options{})
	// the sampler's clock: six hours ago, on the hour, so that the whole run is inside the
	// report's default window (the last 24 h of 5-minute buckets) whenever the test runs
	start := time.Now().Truncate(time.Hour).Add(-6 * time.Hour).In(time.Local)
	mono := start
	var offset time.Duration // the wall clock's step
	var counted []uint64     // bytes per interval, in real order
	tick := func(add uint64) {
		cur += add
		p.dev(map[string]uint64{iface: cur})
		mono = mono.Add(10 * time.Second)
		s := smp.Tick(mono)
		s.Time = mono.Add(offset) // what time.Now() says; Elapsed stays monotonic
		st.Apply(s)
		h.interval(st)
		if !s.Baseline {
			counted = append(counted, add)
		}
	}
	tick(0)           // the baseline
	const phase = 420 // 70 minutes of 10 s intervals: longer than the steps
	for range phase {
		tick(10000) // 1000 B/s
	}
	offset = time.Hour // +1 h
	for range phase {
		tick(20000)
	}
	offset = 0 // -1 h: back into the last hour recorded
	for range phase {
		tick(30000)
	}
	if err := h.close(); err != nil {
		t.Fatal(err)
	}
	var real, max5 uint64
	for i := range counted {
		real += counted[i]
		if i >= 29 {
			var w uint64
			for _, c := range counted[i-29 : i+1] {
				w += c
			}
			max5 = max(max5, w)
		}
	}
	buckets, total := historyTotals(t, db, "--5min", iface)
	t.Logf("counted %d bytes, at most %d in 5 real minutes, in %d 5-minute buckets", real, max5, len(buckets))
	if total != real {
		t.Errorf("the history holds %d bytes, %d were counted: an interval was lost or doubled", total, real)
	}
	for b, v := range buckets {
		if v > max5 {
			t.Errorf("bucket %s holds %d bytes, more than any 5 real minutes carried (%d)", b, v, max5)
		}
	}
	out, err := exec.Command(wiretopBin, "history", "--db", db, "--json").CombinedOutput()
	if err != nil {
		t.Fatalf("wiretop history: %v\n%s", err, out)
	}
	var rep struct {
		Gaps []struct {
			Start, End string
		} `json:"gaps"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("gaps: %+v", rep.Gaps)
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	from := start.Add(70*time.Minute + 10*time.Second) // the first interval after the step forward
	if len(rep.Gaps) != 1 || !at(rep.Gaps[0].Start).Equal(from) || !at(rep.Gaps[0].End).Equal(from.Add(time.Hour)) {
		t.Errorf("gaps %+v, want the hour skipped by the step forward, %s to %s", rep.Gaps, from, from.Add(time.Hour))
	}
}

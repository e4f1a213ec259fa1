package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

var t0 = time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)

// lab is a monitor.State fed by hand-built samples and batches: nproc processes, each with
// one connected socket and one flow to a host of its own, plus nhost-nproc flows that no
// socket owns, over two interfaces.
type lab struct {
	st     *monitor.State
	socks  []sampler.Socket
	procs  map[int]*sampler.Proc
	flows  []capture.FlowDelta
	tick   int
	errors []error
}

func newLab(nproc, nhost int) *lab {
	l := &lab{st: monitor.New(monitor.Options{Capture: true, TalkerCap: nhost + 1024}), procs: map[int]*sampler.Proc{}}
	local := netip.MustParseAddr("198.18.130.1")
	for i := 0; i < nhost; i++ {
		remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), 443)
		if i >= 65536 {
			remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 443)
		}
		lp := netip.AddrPortFrom(local, uint16(10000+i%50000))
		k := capture.FlowKey{Proto: 6, Local: lp, Remote: remote}
		rx := uint64(1000 + (i*7919)%100000)
		l.flows = append(l.flows, capture.FlowDelta{Key: k, RxBytes: rx, TxBytes: rx / 2, RxPackets: rx/1000 + 1, TxPackets: rx/2000 + 1})
		if i < nproc {
			pid := 1000 + i
			l.socks = append(l.socks, sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateEstablished,
				Local: lp, Remote: remote, PID: pid, Inode: uint64(i + 1)})
			l.procs[pid] = &sampler.Proc{PID: pid, Comm: fmt.Sprintf("proc%d", i), User: "u" + fmt.Sprint(i%3)}
		}
	}
	l.socks = append(l.socks, sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateListen,
		Local: netip.MustParseAddrPort("0.0.0.0:22"), Remote: netip.MustParseAddrPort("0.0.0.0:0"), PID: 1, Inode: 999999999})
	l.st.Apply(&sampler.Sample{Time: t0, Baseline: true, Sockets: l.socks, Procs: l.procs})
	return l
}

// step closes one 1 s interval: every flow moves its bytes again, eth0 sends 1000 bytes and
// lo 10, and the kernel counts one active open.
func (l *lab) step() {
	start := t0.Add(time.Duration(l.tick) * time.Second)
	l.tick++
	l.st.ApplyBatch(&capture.Batch{Start: start, End: start.Add(time.Second), Flows: l.flows,
		Stats: capture.Stats{Received: uint64(l.tick) * 100, Dropped: uint64(l.tick)}})
	l.st.Apply(&sampler.Sample{Time: start.Add(time.Second), Elapsed: time.Second, Sockets: l.socks, Procs: l.procs,
		Interfaces: []sampler.IfaceDelta{
			{Name: "eth0", RxBytes: 2000, TxBytes: 1000, RxPackets: 20, TxPackets: 10, RxErrors: 1, TxDropped: 2},
			{Name: "lo", RxBytes: 10, TxBytes: 10, RxPackets: 1, TxPackets: 1}},
		Kernel: sampler.KernelTCP{ActiveOpens: 1, ListenDrops: 3}, Errors: l.errors})
}

// gather scrapes e's collector alone and indexes the series by name and label pairs.
func gather(t testing.TB, e *Exporter) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			out[seriesName(mf, m)] = value(m)
		}
	}
	return out
}

func seriesName(mf *dto.MetricFamily, m *dto.Metric) string {
	var ls []string
	for _, lp := range m.GetLabel() {
		ls = append(ls, lp.GetName()+"="+lp.GetValue())
	}
	return mf.GetName() + "{" + strings.Join(ls, ",") + "}"
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

func TestCollectorReportsTheSession(t *testing.T) {
	l := newLab(3, 5)
	e := New(Options{Top: 50, Version: "v1.2.3", Capture: true, Interval: time.Second})
	if got := gather(t, e); got["wiretop_source_up{source=netdev}"] != 0 || got["wiretop_network_transmit_bytes_total{device=eth0}"] != 0 {
		t.Errorf("before the first interval: %v", got)
	}
	for range 3 {
		l.step()
		e.Observe(l.st, nil)
	}
	got := gather(t, e)
	want := map[string]float64{
		"wiretop_network_transmit_bytes_total{device=eth0}":                      3000,
		"wiretop_network_receive_bytes_total{device=eth0}":                       6000,
		"wiretop_network_receive_packets_total{device=eth0}":                     60,
		"wiretop_network_transmit_packets_total{device=eth0}":                    30,
		"wiretop_network_receive_errs_total{device=eth0}":                        3,
		"wiretop_network_transmit_drop_total{device=eth0}":                       6,
		"wiretop_network_transmit_bytes_total{device=lo}":                        30,
		"wiretop_tcp_sockets{state=ESTAB}":                                       3,
		"wiretop_tcp_sockets{state=LISTEN}":                                      1,
		"wiretop_netstat_tcp_active_opens_total{}":                               3,
		"wiretop_netstat_tcpext_listen_drops_total{}":                            9,
		"wiretop_capture_received_packets_total{}":                               300,
		"wiretop_capture_dropped_packets_total{}":                                3,
		"wiretop_source_up{source=netdev}":                                       1,
		"wiretop_source_up{source=kernel_tcp}":                                   1,
		"wiretop_source_up{source=sockets}":                                      1,
		"wiretop_source_up{source=capture}":                                      1,
		"wiretop_build_info{goversion=" + runtime.Version() + ",version=v1.2.3}": 1,
	}
	var capRx, capTx, unRx float64
	for i, f := range l.flows {
		capRx += 3 * float64(f.RxBytes)
		capTx += 3 * float64(f.TxBytes)
		remote := f.Key.Remote.Addr().String()
		want["wiretop_remote_receive_bytes_total{remote="+remote+"}"] = 3 * float64(f.RxBytes)
		want["wiretop_remote_transmit_bytes_total{remote="+remote+"}"] = 3 * float64(f.TxBytes)
		if i < 3 {
			p := l.procs[1000+i]
			want["wiretop_process_receive_bytes_total{comm="+p.Comm+",user="+p.User+"}"] = 3 * float64(f.RxBytes)
			want["wiretop_process_transmit_bytes_total{comm="+p.Comm+",user="+p.User+"}"] = 3 * float64(f.TxBytes)
		} else {
			unRx += 3 * float64(f.RxBytes) // no socket owns it
		}
	}
	want["wiretop_port_receive_bytes_total{port=443,proto=tcp}"] = capRx
	want["wiretop_port_transmit_bytes_total{port=443,proto=tcp}"] = capTx
	want["wiretop_captured_receive_bytes_total{}"] = capRx
	want["wiretop_unattributed_receive_bytes_total{}"] = unRx
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s missing", k)
		} else if g != v {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	if t.Failed() {
		t.Logf("scrape: %v", got)
	}
}

func TestFailingSourceKeepsTheRest(t *testing.T) {
	l := newLab(2, 2)
	e := New(Options{Top: 50, Interval: time.Second})
	l.step()
	e.Observe(l.st, nil)
	l.errors = []error{&sampler.SourceError{Source: sampler.SourceSockets, Err: errors.New("open /proc/net/tcp: no such file or directory")}}
	l.step()
	e.Observe(l.st, nil)
	got := gather(t, e)
	if got["wiretop_source_up{source=sockets}"] != 0 || got["wiretop_source_up{source=netdev}"] != 1 || got["wiretop_source_up{source=kernel_tcp}"] != 1 {
		t.Errorf("source_up: sockets %v netdev %v kernel_tcp %v, want 0 1 1", got["wiretop_source_up{source=sockets}"],
			got["wiretop_source_up{source=netdev}"], got["wiretop_source_up{source=kernel_tcp}"])
	}
	if got["wiretop_network_transmit_bytes_total{device=eth0}"] != 2000 {
		t.Errorf("eth0 tx %v, want 2000: the interface series must stay", got["wiretop_network_transmit_bytes_total{device=eth0}"])
	}
	if _, ok := got["wiretop_source_up{source=capture}"]; ok {
		t.Error("source_up{capture} without Options.Capture")
	}
	// a capture that stops delivering batches is down after three intervals
	e = New(Options{Top: 50, Capture: true, Interval: time.Second})
	l.errors = nil
	l.step()
	e.Observe(l.st, nil)
	if got := gather(t, e); got["wiretop_source_up{source=capture}"] != 1 {
		t.Errorf("capture up %v, want 1", got["wiretop_source_up{source=capture}"])
	}
	for i := 0; i < 3; i++ {
		l.tick++
		l.st.Apply(&sampler.Sample{Time: t0.Add(time.Duration(l.tick) * time.Second), Elapsed: time.Second, Sockets: l.socks, Procs: l.procs})
		e.Observe(l.st, nil)
	}
	if got := gather(t, e); got["wiretop_source_up{source=capture}"] != 0 {
		t.Errorf("capture without batches for 3 intervals: up %v, want 0", got["wiretop_source_up{source=capture}"])
	}
}

func TestAlertSeries(t *testing.T) {
	l := newLab(1, 1)
	e := New(Options{Top: 50, Interval: time.Second, MaxAlertKeys: 2})
	l.step()
	alerts := []detect.Alert{
		{Rule: "port_scan", Severity: detect.Warning, Key: "port_scan/198.18.130.2->198.18.130.1", State: detect.Firing},
		{Rule: "port_scan", Severity: detect.Warning, Key: "port_scan/198.18.130.3->198.18.130.1", State: detect.Firing},
		{Rule: "port_scan", Severity: detect.Warning, Key: "port_scan/198.18.130.4->198.18.130.1", State: detect.Firing},
		{Rule: "syn_flood", Severity: detect.Critical, Key: "syn_flood/198.18.130.1:80", State: detect.Pending},
		{Rule: "syn_flood", Severity: detect.Critical, Key: "syn_flood/198.18.130.1:81", State: detect.Resolved},
	}
	e.Observe(l.st, alerts)
	got := gather(t, e)
	want := map[string]float64{
		"wiretop_alerts{rule=port_scan,severity=warning,state=firing}":                  3,
		"wiretop_alerts{rule=syn_flood,severity=critical,state=pending}":                1,
		"wiretop_alerts{rule=syn_flood,severity=critical,state=resolved}":               1,
		"wiretop_alert_firing{key=port_scan/198.18.130.2->198.18.130.1,rule=port_scan}": 1,
		"wiretop_alert_firing{key=port_scan/198.18.130.3->198.18.130.1,rule=port_scan}": 1,
		"wiretop_alert_firing_truncated{}":                                              1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "wiretop_alert_firing{") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d wiretop_alert_firing series, want 2 (MaxAlertKeys)", n)
	}
	// once resolved, the firing series goes
	e.Observe(l.st, alerts[3:])
	if got := gather(t, e); got["wiretop_alert_firing{key=port_scan/198.18.130.2->198.18.130.1,rule=port_scan}"] != 0 {
		t.Error("a resolved alert still has a wiretop_alert_firing series")
	}
}

// TestTopNIsStickyAndMonotonic: a key that stays in the top N never goes backwards, keys at
// the edge do not flap, and a newcomer that clearly outranks joins.
func TestTopNIsStickyAndMonotonic(t *testing.T) {
	tn := newTopN[string](2)
	prev := map[string]uint64{}
	check := func(now int64) {
		t.Helper()
		tn.selectTop(now)
		if len(tn.exported) > 2 {
			t.Fatalf("%d exported, want at most 2", len(tn.exported))
		}
		for _, k := range tn.exported {
			v := tn.keys[k].rx
			if p, ok := prev[k]; ok && v < p {
				t.Errorf("%s went back from %d to %d", k, p, v)
			}
			prev[k] = v
		}
	}
	tn.add("a", 100, 0, 0)
	tn.add("b", 90, 0, 0)
	tn.add("c", 80, 0, 0)
	check(0)
	if got := exported(tn); got != "a,b" {
		t.Fatalf("exported %s, want a,b", got)
	}
	// c edges past b, but not by the 25% stickiness margin: b stays
	tn.add("c", 15, 0, 0)
	check(0)
	if got := exported(tn); got != "a,b" {
		t.Errorf("exported %s, want a,b (b is sticky)", got)
	}
	// c doubles b: it joins, and b leaves
	tn.add("c", 200, 0, 0)
	check(0)
	if got := exported(tn); got != "a,c" {
		t.Errorf("exported %s, want a,c", got)
	}
	// an hour later only what moved in the hour counts: b is back with its whole total
	tn.add("b", 10, 0, 13)
	check(13)
	if got := exported(tn); got != "b" {
		t.Errorf("exported %s, want b", got)
	}
	if tn.keys["b"].rx != 100 {
		t.Errorf("b's counter %d, want 100 (its session total)", tn.keys["b"].rx)
	}
}

func exported(tn *topN[string]) string {
	var ks []string
	for _, k := range tn.exported {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

// TestTopNMemoryIsBounded: a flood of one-off keys does not grow the tracked set past
// twice its capacity.
func TestTopNMemoryIsBounded(t *testing.T) {
	tn := newTopN[int](50)
	for i := 0; i < 100000; i++ {
		tn.add(i, uint64(i%977), 0, 0)
		if i%5000 == 4999 {
			tn.selectTop(0)
		}
	}
	tn.selectTop(0)
	if len(tn.keys) > 2*tn.capacity || len(tn.exported) != 50 {
		t.Errorf("tracked %d keys (cap %d), exported %d", len(tn.keys), 2*tn.capacity, len(tn.exported))
	}
}

// TestScrapeDuringUpdates scrapes over HTTP while the owner goroutine applies intervals and
// observes them (run with -race): every scrape parses, and the counters it reports never go
// back from one scrape to the next.
func TestScrapeDuringUpdates(t *testing.T) {
	l := newLab(50, 500)
	e := New(Options{Top: 20, Capture: true, Interval: time.Second})
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			l.step()
			e.Observe(l.st, []detect.Alert{{Rule: "r", Severity: detect.Info, Key: fmt.Sprint("k", i%7), State: detect.Firing}})
		}
		close(stop)
	}()
	scrapes := 0
	var lastTx float64
	for done := false; !done; {
		select {
		case <-stop:
			done = true
		default:
		}
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("scrape %d: %s\n%s", scrapes, resp.Status, body)
		}
		tx := -1.0
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, `wiretop_network_transmit_bytes_total{device="eth0"} `) {
				fmt.Sscan(strings.Fields(line)[1], &tx)
			}
		}
		if tx >= 0 && tx < lastTx {
			t.Fatalf("scrape %d: eth0 tx went back from %v to %v", scrapes, lastTx, tx)
		}
		lastTx = max(lastTx, tx)
		scrapes++
	}
	wg.Wait()
	if scrapes < 2 || lastTx != 200*1000 {
		t.Errorf("%d scrapes, last eth0 tx %v (want 200000 at the end)", scrapes, lastTx)
	}
}

// TestPromtoolCheckMetrics runs Debian's promtool over a full scrape: it must report nothing.
func TestPromtoolCheckMetrics(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatal("promtool not found: `make test` installs it (scripts/deps.sh)")
	}
	l := newLab(5, 20)
	e := New(Options{Top: 50, Capture: true, Version: "test", Interval: time.Second})
	l.step()
	e.Observe(l.st, []detect.Alert{{Rule: "port_scan", Severity: detect.Warning, Key: "port_scan/a->b", State: detect.Firing}})
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(rec.Body.String())
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

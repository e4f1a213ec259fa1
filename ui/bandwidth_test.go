package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

// feed applies samples from..to of the fixture to st and routes them to the panes, as the
// root model does.
func feed(st *monitor.State, from, to int, panes ...pane) {
	for i := from; i <= to; i++ {
		s := fixtureSample(i)
		st.Apply(s)
		for _, p := range panes {
			p.Update(SampleMsg{s})
		}
	}
}

// checkBlock fails unless lines is exactly w x h cells.
func checkBlock(t *testing.T, lines []string, w, h int) {
	t.Helper()
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if width(l) != w {
			t.Errorf("line %d is %d cells, want %d: %q", i, width(l), w, l)
		}
	}
}

func newTestBandwidth(iface string) (*monitor.State, *bandwidthPane, *Prefs) {
	st := monitor.New(monitor.Options{})
	pr := DefaultPrefs()
	return st, newBandwidthPane(st, NewStyles(DefaultTheme()), &pr, iface, time.Second, false), &pr
}

func TestBandwidthFiguresAndAxes(t *testing.T) {
	st, p, _ := newTestBandwidth("eth0")
	feed(st, 0, 40, p)
	lines := p.View(78, 20)
	checkBlock(t, lines, 78, 20)
	out := strings.Join(lines, "\n")
	// sample 40: eth0 received 1.5 MB x (1 + sin(40/3)) = 2.54 MB in one second, sent 520 kB
	for _, want := range []string{
		"▼ RX received", "▲ TX sent",
		"Cur     2.42 MiB/s", "Max     2.85 MiB/s", "Ttl       58.9 MiB",
		"Cur      508 KiB/s", "Min      127 KiB/s",
		"   3 MiB/s┤", " 1.5 MiB/s┤", "0┤", // rx axis: a nice maximum above 2.85 MiB/s, and its half
		" 600 KiB/s┤",      // tx axis
		"└-1m34s─", "─now", // 47 columns of two one-second intervals
	} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
	if got := p.Title(); got != "Bandwidth · eth0 · bytes" {
		t.Errorf("title %q", got)
	}
}

func TestBandwidthUnits(t *testing.T) {
	st, p, pr := newTestBandwidth("eth0")
	feed(st, 0, 40, p)
	before := strings.Join(p.View(78, 20), "\n")
	pr.Units = UnitsBits
	p.Update(prefsChangedMsg{})
	out := strings.Join(p.View(78, 20), "\n")
	if out == before {
		t.Fatal("the view did not change with the unit")
	}
	for _, want := range []string{"Cur    20.3 Mbit/s", "12.5 Mbit/s┤", "Ttl       58.9 MiB"} { // totals stay in bytes
		if !strings.Contains(out, want) {
			t.Errorf("bits view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "MiB/s") {
		t.Errorf("bits view still shows bytes per second:\n%s", out)
	}
	if got := p.Title(); got != "Bandwidth · eth0 · bits" {
		t.Errorf("title %q", got)
	}
}

func TestBandwidthCyclesInterfaces(t *testing.T) {
	st, p, _ := newTestBandwidth("eth0")
	feed(st, 0, 3, p)
	// State.InterfaceNames: eth0, lo, all
	for _, tc := range []struct{ key, want string }{
		{"i", "lo"}, {"i", "all"}, {"i", "eth0"}, {"I", "all"}, {"I", "lo"},
	} {
		p.Update(keyMsg(tc.key))
		if p.iface != tc.want {
			t.Fatalf("after %q: interface %q, want %q", tc.key, p.iface, tc.want)
		}
		if !strings.Contains(p.Title(), tc.want) {
			t.Errorf("title %q does not name %q", p.Title(), tc.want)
		}
	}
	// lo moves 4096 bytes a second each way
	if out := strings.Join(p.View(78, 20), "\n"); !strings.Contains(out, "Cur     4.00 KiB/s") {
		t.Errorf("lo view:\n%s", out)
	}
}

func TestBandwidthRedrawsOnSample(t *testing.T) {
	st, p, _ := newTestBandwidth("eth0")
	feed(st, 0, 10, p)
	a := strings.Join(p.View(78, 20), "\n")
	if b := strings.Join(p.View(78, 20), "\n"); a != b {
		t.Fatal("two views of the same state differ")
	}
	feed(st, 11, 11, p)
	if b := strings.Join(p.View(78, 20), "\n"); a == b {
		t.Fatal("the view did not change with a new sample")
	}
}

func TestBandwidthWaiting(t *testing.T) {
	st, p, _ := newTestBandwidth("wlan0")
	if out := strings.Join(p.View(60, 10), "\n"); !strings.Contains(out, "waiting for the first sample") {
		t.Errorf("before any sample:\n%s", out)
	}
	feed(st, 0, 2, p)
	out := strings.Join(p.View(60, 10), "\n")
	if !strings.Contains(out, "no counters for wlan0 yet") {
		t.Errorf("unknown interface:\n%s", out)
	}
}

// The chart draws a bounded window however long the session: after ten minutes of samples, a
// chart 40 columns wide shows the last 56 intervals (two per column, less the y axis), and its
// scale follows that window, not the session's peak.
func TestBandwidthChartWindowIsBounded(t *testing.T) {
	st, p, _ := newTestBandwidth("eth0")
	apply := func(i int, rx uint64) {
		s := &sampler.Sample{Time: t0.Add(time.Duration(i) * time.Second), Elapsed: time.Second, Baseline: i == 0,
			Interfaces: []sampler.IfaceDelta{{Name: "eth0", RxBytes: rx, TxBytes: rx}}}
		st.Apply(s)
		p.Update(SampleMsg{s})
	}
	apply(0, 0)
	apply(1, 900<<20) // a 900 MiB/s burst long ago
	for i := 2; i <= 600; i++ {
		apply(i, 100<<10)
	}
	out := strings.Join(p.chart(direction{i: 0}, 40, 6), "\n")
	if !strings.Contains(out, " 100 KiB/s┤") {
		t.Errorf("the axis should follow the visible window (100 KiB/s):\n%s", out)
	}
	if strings.Contains(out, "MiB/s") {
		t.Errorf("the old burst is still scaling the chart:\n%s", out)
	}
}

// rateSample is sample i of an eth0 that moved rx bytes each way in one second.
func rateSample(i int, rx uint64) *sampler.Sample {
	return &sampler.Sample{Time: t0.Add(time.Duration(i) * time.Second), Elapsed: time.Second, Baseline: i == 0,
		Interfaces: []sampler.IfaceDelta{{Name: "eth0", RxBytes: rx, TxBytes: rx}}}
}

// The chart's scale follows a burst up at once, stays while the burst is in sight, then comes
// back down over a few intervals instead of sticking to it forever.
func TestBandwidthPeakDecays(t *testing.T) {
	st, p, _ := newTestBandwidth("eth0")
	step := func(i int, rx uint64) string {
		s := rateSample(i, rx)
		st.Apply(s)
		p.Update(SampleMsg{s})
		top := p.chart(direction{i: 0}, 20, 6)[0] // 8 columns: 16 intervals in sight
		return strings.TrimSpace(top[:strings.Index(top, "┤")])
	}
	step(0, 0)
	for i := 1; i <= 20; i++ {
		step(i, 100<<10)
	}
	if got := step(21, 10<<20); got != "10 MiB/s" {
		t.Fatalf("burst: axis %q, want 10 MiB/s", got)
	}
	for i := 22; i <= 36; i++ { // 15 more: the burst is still in sight
		if got := step(i, 100<<10); got != "10 MiB/s" {
			t.Fatalf("sample %d: axis %q while the burst is in sight", i, got)
		}
	}
	var tops []float64
	for i := 37; i <= 70; i++ {
		got := step(i, 100<<10)
		tops = append(tops, p.peak[0])
		if i == 37 && (got == "10 MiB/s" || got == "100 KiB/s") {
			t.Errorf("right after the burst left, axis %q: want a decaying scale in between", got)
		}
	}
	for i := 1; i < len(tops); i++ {
		if tops[i] > tops[i-1] {
			t.Errorf("the peak grew while calm: %v", tops)
		}
	}
	if got := step(71, 100<<10); got != "100 KiB/s" {
		t.Errorf("after the decay, axis %q, want 100 KiB/s", got)
	}
}

// --ascii draws with block elements, never Braille.
func TestBandwidthASCII(t *testing.T) {
	st := monitor.New(monitor.Options{})
	pr := DefaultPrefs()
	p := newBandwidthPane(st, NewStyles(DefaultTheme()), &pr, "eth0", time.Second, true)
	feed(st, 0, 40, p)
	out := strings.Join(p.View(78, 20), "\n")
	for _, r := range out {
		if r >= 0x2800 && r <= 0x28FF {
			t.Fatalf("Braille %q in the ASCII view:\n%s", r, out)
		}
	}
	if !strings.Contains(out, "█") || !strings.Contains(out, "└-47s─") { // one interval per column
		t.Errorf("ASCII view:\n%s", out)
	}
	// the Braille view has two intervals per column
	sb, pb, _ := newTestBandwidth("eth0")
	feed(sb, 0, 40, pb)
	if out := strings.Join(pb.View(78, 20), "\n"); !strings.ContainsRune(out, '⣿') {
		t.Errorf("Braille view:\n%s", out)
	}
}

// The figures say the same thing as the chart's columns: each column of the Braille chart
// is two intervals, drawn to the height of its rate.
func TestChartLevels(t *testing.T) {
	st := NewStyles(DefaultTheme())
	vals := []float64{0, 50, 100, 25}
	c := chartSpec{values: vals, top: 100, style: st.Plain}
	lines := drawChart(st, c, axisWidth+1+2, 3) // two columns, two rows, and the time axis
	plot := []string{lines[0][strings.Index(lines[0], "┤")+len("┤"):], lines[1][strings.Index(lines[1], "┤")+len("┤"):]}
	// 8 dots high: 0 -> none, 50 -> 4 (the bottom cell), 100 -> 8 (both cells), 25 -> 2
	if want := []string{" ⡇", "⢸⣧"}; plot[0] != want[0] || plot[1] != want[1] {
		t.Errorf("Braille plot %q, want %q", plot, want)
	}
	c.ascii = true
	lines = drawChart(st, c, axisWidth+1+4, 3)
	plot = []string{lines[0][strings.Index(lines[0], "┤")+len("┤"):], lines[1][strings.Index(lines[1], "┤")+len("┤"):]}
	// 16 eighths high: 0, 8 (a full bottom cell), 16 (both), 4 (half the bottom cell)
	if want := []string{"  █ ", " ██▄"}; plot[0] != want[0] || plot[1] != want[1] {
		t.Errorf("block plot %q, want %q", plot, want)
	}
}

// usualBaselines says eth0 usually receives 512 KiB/s and sends nothing at every hour.
type usualBaselines struct{ asked int }

func (u *usualBaselines) Baseline(m monitor.Metric, key string, at time.Time) (monitor.Baseline, bool) {
	u.asked++
	if key != "eth0" {
		return monitor.Baseline{}, false
	}
	b := monitor.Baseline{Metric: m, Key: key, At: at, Weeks: 5}
	if m == monitor.MetricIfaceRx {
		b.Median = 512 << 10
	}
	return b, true
}

// TestBandwidthUsual: with baselines, each direction shows the usual rate for this hour of
// the week and how far the last 10 s are from it; without, neither line.
func TestBandwidthUsual(t *testing.T) {
	st, p, _ := newTestBandwidth("eth0")
	u := &usualBaselines{}
	p.base = u
	feed(st, 0, 40, p)
	out := strings.Join(p.View(78, 24), "\n")
	at := st.Time().Format("Mon 15h")
	if !strings.Contains(out, "Usu      512 KiB/s") {
		t.Errorf("no usual rate:\n%s", out)
	}
	// the fixture's last 10 s of eth0 received 879 KiB/s: +72% over 512 KiB/s
	var pct int
	for _, line := range strings.Split(out, "\n") {
		if i := strings.Index(line, "vs "); i >= 0 && strings.Contains(line, at) {
			if _, err := fmt.Sscanf(strings.TrimSpace(line[i+3:]), "%d%%", &pct); err == nil {
				break
			}
		}
	}
	if pct != 72 {
		t.Errorf("the received direction is %+d%% of the usual, want clearly above (%s):\n%s", pct, at, out)
	}
	if !strings.Contains(out, "new "+at) {
		t.Errorf("sent, usually nothing, is not called new:\n%s", out)
	}
	if u.asked == 0 {
		t.Error("the pane never asked for a baseline")
	}
	st2, q, _ := newTestBandwidth("eth0")
	feed(st2, 0, 40, q)
	if out := strings.Join(q.View(78, 24), "\n"); strings.Contains(out, "Usu") {
		t.Errorf("a usual rate without baselines:\n%s", out)
	}
}

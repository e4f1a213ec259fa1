package ui

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

func newTestStates() (*monitor.State, *statesPane) {
	st := monitor.New(monitor.Options{})
	return st, newStatesPane(st, NewStyles(DefaultTheme()), false)
}

// line returns the first line of lines that contains s.
func line(lines []string, s string) string {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func TestStatesHistogramAndCounters(t *testing.T) {
	st, p := newTestStates()
	feed(st, 0, 40, p)
	lines := p.View(70, 16)
	checkBlock(t, lines, 70, 16)
	// sample 40: 76 SYN-RECV (2 more than sample 39), 2 CLOSE-WAIT, 6 TIME-WAIT (one more)
	for _, tc := range []struct{ key, want string }{
		{"SYN-RECV", "▲ SYN-RECV   "}, // growing: the strong marker
		{"SYN-RECV", "      76     +2"},
		{"CLOSE-WAIT", "! CLOSE-WAIT "}, // present but steady: the warning marker
		{"TIME-WAIT", "       6     +1"},
		{"ESTAB", "  ESTAB      "},
		{"SYN-SENT", "       0"},
		{"Kernel TCP", "Kernel TCP · last 1s"},
		{"ListenOverflows", "ListenOverflows       4"},
		{"RetransSegs", "RetransSegs         120"},
	} {
		if l := line(lines, tc.key); !strings.Contains(l, tc.want) {
			t.Errorf("line of %s is %q, want it to contain %q", tc.key, l, tc.want)
		}
	}
	if got := p.Title(); got != "TCP states · 92 sockets" {
		t.Errorf("title %q", got)
	}
	// the bar of the largest state fills its column
	if l := line(lines, "SYN-RECV"); !strings.Contains(l, strings.Repeat("█", 70-histFixed-counterWidth-3)) {
		t.Errorf("SYN-RECV bar is not full: %q", l)
	}
}

func TestStatesSessionCounters(t *testing.T) {
	st, p := newTestStates()
	feed(st, 0, 40, p)
	p.Update(keyMsg("c"))
	lines := p.View(70, 16)
	// ListenOverflows: 4 a second from sample 5 to 40; RetransSegs: 3 x (1 + ... + 40)
	for _, tc := range []struct{ key, want string }{
		{"Kernel TCP", "Kernel TCP · session"},
		{"ListenOverflows", "ListenOverflows     144"},
		{"RetransSegs", "RetransSegs        2460"},
	} {
		if l := line(lines, tc.key); !strings.Contains(l, tc.want) {
			t.Errorf("line of %s is %q, want it to contain %q", tc.key, l, tc.want)
		}
	}
	p.Update(keyMsg("c"))
	if l := line(p.View(70, 16), "Kernel TCP"); !strings.Contains(l, "last 1s") {
		t.Errorf("c does not toggle back: %q", l)
	}
}

// synRecvSample is a sample with n SYN-RECV request sockets and nothing else.
func synRecvSample(i, n int) *sampler.Sample {
	s := &sampler.Sample{Time: t0.Add(time.Duration(i) * time.Second), Baseline: i == 0}
	if i > 0 {
		s.Elapsed = time.Second
	}
	for k := 0; k < n; k++ {
		s.Sockets = append(s.Sockets, sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateNewSynRecv,
			Local: ap("10.0.0.2:443"), Remote: netip.AddrPortFrom(netip.MustParseAddr("198.18.0.1"), uint16(1000+k))})
	}
	return s
}

func TestStatesWarnings(t *testing.T) {
	st, p := newTestStates()
	step := func(i, n int) string {
		s := synRecvSample(i, n)
		st.Apply(s)
		p.Update(SampleMsg{s})
		return line(p.View(48, 16), "SYN-RECV") // stacked: the line holds the histogram only
	}
	// the baseline has nothing to compare with: no delta, no growth
	if l := step(0, 3); !strings.HasPrefix(l, "! SYN-RECV") || strings.Contains(l, "+") {
		t.Errorf("baseline: %q", l)
	}
	if l := step(1, 3); !strings.HasPrefix(l, "! SYN-RECV") || strings.Contains(l, "+") {
		t.Errorf("steady: %q", l)
	}
	if l := step(2, 5); !strings.HasPrefix(l, "▲ SYN-RECV") || !strings.HasSuffix(strings.TrimSpace(l), "+2") {
		t.Errorf("growing: %q", l)
	}
	if l := step(3, 4); !strings.HasPrefix(l, "! SYN-RECV") || !strings.HasSuffix(strings.TrimSpace(l), "-1") {
		t.Errorf("shrinking: %q", l)
	}
	if l := step(4, 0); !strings.HasPrefix(l, "  SYN-RECV") {
		t.Errorf("gone: %q", l)
	}
}

func TestStatesNarrowStacksCounters(t *testing.T) {
	st, p := newTestStates()
	feed(st, 0, 40, p)
	lines := p.View(48, 16)
	checkBlock(t, lines, 48, 16)
	if !strings.Contains(lines[0], "ESTAB") || !strings.Contains(lines[10], "CLOSING") {
		t.Errorf("all eleven states should come first:\n%s", strings.Join(lines, "\n"))
	}
	if l := line(lines, "ListenOverflows"); !strings.Contains(l, "RetransSegs") {
		t.Errorf("counters should take two columns: %q", l)
	}
	// too short for every state: the ones with sockets and the alarm states stay
	lines = p.View(48, 9)
	out := strings.Join(lines, "\n")
	if strings.Contains(out, "FIN-WAIT-1") || !strings.Contains(out, "CLOSE-WAIT") || !strings.Contains(out, "Kernel TCP") {
		t.Errorf("short view:\n%s", out)
	}
}

func TestStatesWaiting(t *testing.T) {
	_, p := newTestStates()
	if out := strings.Join(p.View(50, 12), "\n"); !strings.Contains(out, "waiting for the first sample") {
		t.Errorf("before any sample:\n%s", out)
	}
}

// timeWaitSample is a sample with n TIME-WAIT sockets and nothing else.
func timeWaitSample(i, n int) *sampler.Sample {
	s := &sampler.Sample{Time: t0.Add(time.Duration(i) * time.Second), Baseline: i == 0}
	if i > 0 {
		s.Elapsed = time.Second
	}
	for k := 0; k < n; k++ {
		s.Sockets = append(s.Sockets, sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateTimeWait,
			Local: ap("10.0.0.2:443"), Remote: netip.AddrPortFrom(netip.MustParseAddr("198.18.0.1"), uint16(1000+k))})
	}
	return s
}

// TIME-WAIT is normal in number; it stands out only when it surges (at least surgeMin more
// sockets, and a quarter more, within an interval).
func TestStatesTimeWaitSurge(t *testing.T) {
	st, p := newTestStates()
	step := func(i, n int) string {
		s := timeWaitSample(i, n)
		st.Apply(s)
		p.Update(SampleMsg{s})
		return line(p.View(48, 16), "TIME-WAIT")
	}
	for i, tc := range []struct {
		n      int
		marker string
	}{
		{400, "  "}, // the baseline
		{405, "  "}, // a few more: churn
		{420, "  "}, // 15 more, but under a quarter of 405
		{600, "▲ "}, // a surge
		{600, "  "}, // steady again, however many
		{550, "  "},
		{4, "  "},
		{20, "▲ "}, // 16 more, five times as many
		{25, "  "}, // under surgeMin
	} {
		if l := step(i, tc.n); !strings.HasPrefix(l, tc.marker+"TIME-WAIT") {
			t.Errorf("sample %d, %d sockets: %q, want the marker %q", i, tc.n, l, tc.marker)
		}
	}
}

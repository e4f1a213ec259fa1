package ui

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// focusedTitle returns the title in the heavy (focused) top border of a screen.
func focusedTitle(t *testing.T, screen string) string {
	t.Helper()
	for _, l := range strings.Split(screen, "\n") {
		if i := strings.Index(l, "┏━ "); i >= 0 {
			rest := l[i+len("┏━ "):]
			if j := strings.Index(rest, " ━"); j >= 0 {
				rest = rest[:j]
			}
			if j := strings.Index(rest, " ┓"); j >= 0 {
				rest = rest[:j]
			}
			return strings.TrimSpace(rest)
		}
	}
	t.Fatalf("no focused pane on screen:\n%s", screen)
	return ""
}

func TestFocusKeys(t *testing.T) {
	m := fixtureModel(5, 120, 40)
	for _, tc := range []struct{ key, want string }{
		{"", "1 Bandwidth"},
		{"tab", "2 TCP states"},
		{"tab", "3 Processes"},
		{"tab", "1 Bandwidth"},
		{"shift+tab", "3 Processes"},
		{"shift+tab", "2 TCP states"},
		{"3", "3 Processes"},
		{"1", "1 Bandwidth"},
		{"2", "2 TCP states"},
	} {
		if tc.key != "" {
			m = update(m, keyMsg(tc.key))
		}
		if got := focusedTitle(t, m.View()); !strings.HasPrefix(got, tc.want) {
			t.Errorf("after %q: focused %q, want %q", tc.key, got, tc.want)
		}
	}
}

// Keys go to the focused pane only: j moves the process cursor when the processes pane has
// focus, and i cycles interfaces only when the bandwidth pane has.
func TestKeysRouteToFocusedPane(t *testing.T) {
	m := fixtureModel(5, 120, 40)
	m = update(m, keyMsg("j"))
	if sel := line(strings.Split(m.View(), "\n"), "›"); !strings.Contains(sel, "4242") {
		t.Errorf("j moved the cursor of an unfocused pane: %q", sel)
	}
	m = update(m, keyMsg("i"))
	if !strings.Contains(m.View(), "1 Bandwidth · lo") {
		t.Error("i did not reach the focused bandwidth pane")
	}
	m = update(m, keyMsg("3"))
	m = update(m, keyMsg("j"))
	if sel := line(strings.Split(m.View(), "\n"), "›"); !strings.Contains(sel, "812") {
		t.Errorf("j in the focused processes pane: %q", sel)
	}
	m = update(m, keyMsg("i"))
	if !strings.Contains(m.View(), "1 Bandwidth · lo") {
		t.Error("i changed the interface while the processes pane had focus")
	}
}

func TestQuitKeys(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		m := fixtureModel(1, 120, 40)
		_, cmd := m.Update(keyMsg(k))
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", k)
		}
	}
}

func TestUnitsKeyIsGlobal(t *testing.T) {
	m := fixtureModel(40, 120, 40)
	m = update(m, keyMsg("3"))
	m = update(m, keyMsg("u"))
	screen := m.View()
	for _, want := range []string{"Bandwidth · eth0 · bits", "Cur    20.3 Mbit/s", "56.9 Mbit/s"} { // curl receives 7.11 MB/s
		if !strings.Contains(screen, want) {
			t.Errorf("after u, the screen lacks %q:\n%s", want, screen)
		}
	}
}

func TestHeaderAndStatus(t *testing.T) {
	m := NewModel(Options{Interface: "eth0", Status: []string{"no capture"}})
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	lines := strings.Split(m.View(), "\n")
	if !strings.Contains(lines[0], "waiting for the first sample") {
		t.Errorf("header before samples: %q", lines[0])
	}
	for i := 0; i <= 40; i++ {
		m = update(m, SampleMsg{fixtureSample(i)})
	}
	lines = strings.Split(m.View(), "\n")
	if !strings.HasPrefix(lines[0], " wiretop  eth0 ") || !strings.HasSuffix(lines[0], "up 40s  09:27:33 ") {
		t.Errorf("header %q", lines[0])
	}
	if want := " no capture · TCP per process from tcp_info · own processes only (not root)"; !strings.HasPrefix(lines[1], want) {
		t.Errorf("status %q, want %q", lines[1], want)
	}

	s := fixtureSample(41)
	s.Errors = []error{errors.New("read /proc/net/netstat: permission denied")}
	s.Status.AllProcesses = true
	m = update(m, SampleMsg{s})
	m = update(m, StatusMsg{Lines: []string{"capture on eth0", "filter: tcp"}})
	m = update(m, SamplerStoppedMsg{})
	m = update(m, tea.WindowSizeMsg{Width: 250, Height: 70}) // room for the whole status line
	status := strings.Split(m.View(), "\n")[1]
	if want := " ⚠ sampler stopped · read /proc/net/netstat: permission denied · capture on eth0 · filter: tcp"; !strings.HasPrefix(status, want) {
		t.Errorf("status %q, want the failures first: %q", status, want)
	}
	for _, want := range []string{"TCP per process from tcp_info", "all processes"} {
		if !strings.Contains(status, want) {
			t.Errorf("status %q lacks %q", status, want)
		}
	}
	if strings.Contains(status, "no capture") {
		t.Errorf("StatusMsg did not replace the notes: %q", status)
	}
}

func TestDescribeStatus(t *testing.T) {
	for _, tc := range []struct {
		in   sampler.Status
		want string
	}{
		{sampler.Status{}, ""},
		{sampler.Status{SocketSource: "sock_diag", DestroyEvents: true, AllProcesses: true}, "TCP per process from tcp_info, all processes"},
		{sampler.Status{SocketSource: "bpf_iter", DestroyEvents: true, AllProcesses: true}, "TCP per process from tcp_info, all processes"},
		{sampler.Status{SocketSource: "sock_diag"}, "TCP per process from tcp_info, no socket-destroy events, own processes only (not root)"},
		{sampler.Status{SocketSource: "proc", Notes: []string{"netns: 2 namespaces"}}, "sockets from /proc: no bytes per process, own processes only (not root), netns: 2 namespaces"},
		{sampler.Status{SocketSource: "sock_diag", DestroyEvents: true, ProcessScope: "all"}, "TCP per process from tcp_info, all processes"},
		{sampler.Status{SocketSource: "sock_diag", DestroyEvents: true, ProcessScope: "partial"}, "TCP per process from tcp_info, some processes hide their sockets"},
		{sampler.Status{SocketSource: "sock_diag", DestroyEvents: true, ProcessScope: "own-uid", AllProcesses: true}, "TCP per process from tcp_info, own processes only (not root)"},
		// The sampler's own notes say the same at more length: they are kept, once.
		{sampler.Status{SocketSource: "sock_diag", DestroyEvents: true, ProcessScope: "partial",
			Notes: []string{"some processes hide their sockets (fd links unreadable even to root); their traffic is unattributed"}},
			"TCP per process from tcp_info, some processes hide their sockets (fd links unreadable even to root); their traffic is unattributed"},
		{sampler.Status{SocketSource: "sock_diag", ProcessScope: "own-uid",
			Notes: []string{"no socket-destroy events (needs CAP_NET_ADMIN): bytes a socket sends between the last sample and its close are not counted", "not root: own processes only (uid 1000); other users' traffic is unattributed"}},
			"TCP per process from tcp_info, no socket-destroy events (needs CAP_NET_ADMIN): bytes a socket sends between the last sample and its close are not counted, not root: own processes only (uid 1000); other users' traffic is unattributed"},
		{sampler.Status{SocketSource: "proc", ProcessScope: "all", Notes: []string{"sock_diag unavailable (permission denied): sockets from /proc/net, no per-process bytes"}},
			"all processes, sock_diag unavailable (permission denied): sockets from /proc/net, no per-process bytes"},
	} {
		if got := strings.Join(describeStatus(tc.in, false), ", "); got != tc.want {
			t.Errorf("describeStatus(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
	pcap := sampler.Status{SocketSource: "sock_diag", ProcessScope: "all"}
	if got := strings.Join(describeStatus(pcap, true), ", "); got != "processes from captured packets, all processes" {
		t.Errorf("with capture: %q", got)
	}
}

// checkScreen fails unless the screen has exactly h lines, none wider than w.
func checkScreen(t *testing.T, screen string, w, h int) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) != h {
		t.Errorf("%dx%d: %d lines", w, h, len(lines))
	}
	for i, l := range lines {
		if width(l) > w {
			t.Errorf("%dx%d: line %d is %d cells wide: %q", w, h, i, width(l), l)
		}
	}
}

// No line of the screen is wider than the terminal, and the screen fills its height exactly,
// at the common sizes, whichever pane has focus, with the full help open or not.
func TestScreenFitsTerminal(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}, {250, 70}, {60, 16}, {110, 30}} {
		for _, keys := range [][]string{{}, {"2"}, {"3"}, {"?"}, {"3", "?", "u"}} {
			t.Run(fmt.Sprintf("%dx%d/%s", size[0], size[1], strings.Join(keys, "")), func(t *testing.T) {
				m := fixtureModel(40, size[0], size[1])
				for _, k := range keys {
					m = update(m, keyMsg(k))
				}
				checkScreen(t, m.View(), size[0], size[1])
			})
		}
	}
	// and before the first sample
	m := NewModel(Options{})
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	checkScreen(t, m.View(), 80, 24)
}

// The model reads Options.Samples itself: each sample re-arms the reader, and a closed
// channel shows in the status line.
func TestSamplesChannel(t *testing.T) {
	ch := make(chan *sampler.Sample, 2)
	m := NewModel(Options{Samples: ch, Interface: "eth0"})
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	cmd := m.Init()
	ch <- fixtureSample(0)
	ch <- fixtureSample(1)
	for i := 0; i < 2; i++ {
		msg := run(cmd)
		if _, ok := msg.(chanSampleMsg); !ok {
			t.Fatalf("read %T, want a sample", msg)
		}
		var next tea.Model
		next, cmd = m.Update(msg)
		m = next.(Model)
		if cmd == nil {
			t.Fatal("no command after a sample: the channel is not read again")
		}
	}
	if !strings.Contains(m.View(), "09:26:54") {
		t.Error("the second sample's clock is not shown")
	}
	close(ch)
	msg := run(cmd)
	if _, ok := msg.(SamplerStoppedMsg); !ok {
		t.Fatalf("closed channel gave %T", msg)
	}
	m = update(m, msg)
	if !strings.Contains(m.View(), "sampler stopped") {
		t.Error("a closed channel is not reported")
	}
}

// run executes cmd as Bubble Tea would and returns the first message that is not nil,
// descending into batches.
func run(cmd tea.Cmd) tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if batch, ok := msg.(tea.BatchMsg); ok {
		for _, c := range batch {
			if m := run(c); m != nil {
				return m
			}
		}
		return nil
	}
	return msg
}

// manyBatch is the capture batch of interval i of manySample's n connections: one flow each,
// moving (k+1) kB a second each way, and 1000 packets.
func manyBatch(i, n int) *capture.Batch {
	b := &capture.Batch{Start: t0.Add(time.Duration(i-1) * time.Second), End: t0.Add(time.Duration(i) * time.Second)}
	b.Flows = make([]capture.FlowDelta, 0, n)
	for k := 0; k < n; k++ {
		key := capture.FlowKey{Proto: 6,
			Local:  netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), uint16(1024+k%60000)),
			Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(k >> 8), byte(k)}), 443)}
		v := uint64((k + 1) * 1000)
		b.Flows = append(b.Flows, capture.FlowDelta{Key: key, RxBytes: v, TxBytes: v, RxPackets: 1, TxPackets: 1, First: t0, Last: b.End})
	}
	for j := 0; j < 1000; j++ {
		f := &b.Flows[j%n]
		b.Packets = append(b.Packets, capture.PacketSummary{Time: b.Start.Add(time.Duration(j) * time.Millisecond), Length: 1514,
			Proto: "tcp", Src: f.Key.Remote.Addr(), Dst: f.Key.Local.Addr(), SrcPort: 443, DstPort: f.Key.Local.Port(), Flags: "[.]",
			Summary: fmt.Sprintf("IP %s.443 > 10.0.0.2.%d: Flags [.], seq %d, ack 1, win 502, length 1448", f.Key.Remote.Addr(), f.Key.Local.Port(), j)})
	}
	b.PacketsMatched = uint64(len(b.Packets))
	return b
}

// BenchmarkView renders the whole screen with 50 or 10,000 processes and, with capture, as
// many talkers and a full packet ring (2000); at 120x40 and 250x70; in plain text and in true
// colour (the escape sequences cost too). Only the rows in sight are formatted, so 10,000 rows
// cost about what 50 do. Target: at most 5 ms a frame.
//
//	go test ./ui -run '^$' -bench BenchmarkView -benchtime 200x
func BenchmarkView(b *testing.B) {
	for _, tc := range []struct {
		n       int
		capture bool
		w, h    int
		color   bool
	}{
		{50, false, 120, 40, false},
		{10_000, false, 120, 40, false},
		{10_000, true, 120, 40, false},
		{10_000, true, 120, 40, true},
		{10_000, true, 250, 70, true},
	} {
		name := fmt.Sprintf("procs=%d/capture=%v/%dx%d/color=%v", tc.n, tc.capture, tc.w, tc.h, tc.color)
		b.Run(name, func(b *testing.B) {
			if tc.color {
				lipgloss.SetColorProfile(termenv.TrueColor)
				defer lipgloss.SetColorProfile(termenv.Ascii)
			}
			opts := Options{Interface: "all", Interval: time.Second, Clock: fixedClock}
			if tc.capture {
				opts.Capture = &fakeCapture{viewing: true}
			}
			m := NewModel(opts)
			m = update(m, tea.WindowSizeMsg{Width: tc.w, Height: tc.h})
			m = press(m, "3")
			m = update(m, SampleMsg{manySample(0, tc.n)})
			for i := 1; i <= 2; i++ {
				if tc.capture {
					m = update(m, BatchMsg{manyBatch(i, tc.n)})
				}
				m = update(m, SampleMsg{manySample(i, tc.n)})
			}
			screen := m.View()
			if !strings.Contains(screen, fmt.Sprintf("Processes · %d ", tc.n)) {
				b.Fatalf("the table does not hold %d processes:\n%s", tc.n, screen)
			}
			if tc.capture && (!strings.Contains(screen, fmt.Sprintf("Talkers · %d host pairs", tc.n)) || !strings.Contains(screen, "Packets · 2000")) {
				b.Fatalf("the talkers or packets are missing:\n%s", screen)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// BenchmarkRefreshView is the work of one interval on the UI goroutine, with the figures of
// BenchmarkView's largest case: every pane takes the latest data from the State (the 10,000
// processes and talkers sorted again) and the whole screen is drawn.
//
//	go test ./ui -run '^$' -bench BenchmarkRefreshView -benchtime 200x
func BenchmarkRefreshView(b *testing.B) {
	for _, size := range [][2]int{{120, 40}, {250, 70}} {
		b.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(b *testing.B) {
			lipgloss.SetColorProfile(termenv.TrueColor)
			defer lipgloss.SetColorProfile(termenv.Ascii)
			m := NewModel(Options{Interface: "all", Interval: time.Second, Clock: fixedClock, Capture: &fakeCapture{viewing: true}})
			m = update(m, tea.WindowSizeMsg{Width: size[0], Height: size[1]})
			m = update(m, SampleMsg{manySample(0, 10_000)})
			for i := 1; i <= 2; i++ {
				m = update(m, BatchMsg{manyBatch(i, 10_000)})
				m = update(m, SampleMsg{manySample(i, 10_000)})
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m = update(m, refreshMsg{})
				_ = m.View()
			}
		})
	}
}

// Keys typed faster than the terminal is read arrive as one message ("5f", as tmux send-keys
// or a loaded machine deliver them): each is handled in turn, and once one opens an input the
// rest are typed into it. A paste is text, never keys.
func TestKeysInOneRead(t *testing.T) {
	m, _ := captureModel(3, 120, 40)
	m = settle(update(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("5fudp")}), nil)
	p := m.slots[slotPackets].(*packetsPane)
	if m.focused() != pane(p) || !p.Editing() || !strings.HasSuffix(p.input.Value(), "udp") {
		t.Errorf("5fudp: focus %q, editing %v, input %q", m.focused().Title(), p.Editing(), p.input.Value())
	}
	m, _ = captureModel(3, 120, 40)
	m = update(m, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("5q"), Paste: true})
	if strings.HasPrefix(focusedTitle(t, m.View()), "5 ") {
		t.Error("a paste was taken for keys")
	}
}

package ui

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/monitor"
)

// settle runs cmd as Bubble Tea would, feeding every message it yields back into the model
// (and running the commands those return) until nothing is left. Quit ends it.
func settle(m Model, cmd tea.Cmd) Model {
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0 && n < 1000; n++ {
		c := queue[0]
		queue = queue[1:]
		for _, msg := range runAll(c) {
			if msg == nil {
				continue
			}
			if _, ok := msg.(tea.QuitMsg); ok {
				return m
			}
			next, more := m.Update(msg)
			m = next.(Model)
			queue = append(queue, more)
		}
	}
	return m
}

// key presses keys one by one and settles the commands each returns.
func keys(m Model, ks ...string) Model {
	for _, k := range ks {
		next, cmd := m.Update(keyMsg(k))
		m = settle(next.(Model), cmd)
	}
	return m
}

// paneLines returns the inside lines of the pane whose title starts with title.
func paneLines(t *testing.T, screen, title string) []string {
	t.Helper()
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		for _, c := range []string{"╭─ ", "┏━ "} {
			j := strings.Index(l, c+title)
			if j < 0 {
				continue
			}
			col := width(l[:j])
			var out []string
			for _, b := range lines[i+1:] {
				cell := []rune(stripToCells(b, col))
				if len(cell) == 0 || cell[0] == '╰' || cell[0] == '┗' {
					return out
				}
				out = append(out, string(cell[1:]))
			}
			return out
		}
	}
	t.Fatalf("no pane %q on screen:\n%s", title, screen)
	return nil
}

// stripToCells returns line from cell col on (the screens are plain text).
func stripToCells(line string, col int) string {
	r := []rune(line)
	if col >= len(r) {
		return ""
	}
	return string(r[col:])
}

func TestCapturePanesPresent(t *testing.T) {
	m, _ := captureModel(40, 120, 40)
	screen := m.View()
	checkScreen(t, screen, 120, 40)
	titles := frameTitles(screen)
	want := []string{"1 Bandwidth", "2 TCP states", "3 Processes", "4 Talkers · 7 host pairs · by 2s", "5 Packets · 120 · filter \"tcp or udp\""}
	for i, w := range want {
		if i >= len(titles) || !strings.HasPrefix(titles[i], w) {
			t.Errorf("pane %d: %q, want %q", i, titles, w)
		}
	}
	if status := strings.Split(screen, "\n")[1]; !strings.Contains(status, "processes from captured packets") {
		t.Errorf("status %q", status)
	}
	// curl's download comes from the packets: 1.2 MB a second
	if !strings.Contains(screen, "curl -sO") || !strings.Contains(screen, "1.14 MiB/s") {
		t.Errorf("processes from packets:\n%s", screen)
	}
	// without capture, the two panes are simply absent
	if n := len(frameTitles(fixtureModel(5, 120, 40).View())); n != 3 {
		t.Errorf("capture off: %d panes", n)
	}
}

func TestTalkersPane(t *testing.T) {
	m, _ := captureModel(40, 250, 70)
	m = keys(m, "4")
	rows := paneLines(t, m.View(), "4 Talkers")
	header := rows[0]
	for _, col := range []string{"LOCAL", "REMOTE", "PROTO", "PROCESS", "2s RX", "2s TX", "2s▼", "10s", "40s", "TOTAL"} {
		if !strings.Contains(header, col) {
			t.Errorf("header %q lacks %q", header, col)
		}
	}
	order := func(rows []string) string {
		var out []string
		for _, r := range rows[1:] {
			if f := strings.Fields(strings.TrimLeft(r, "› ")); len(f) >= 2 {
				out = append(out, f[1])
			}
		}
		return strings.Join(out, " ")
	}
	if got, want := order(rows), "198.51.100.7 203.0.113.12 203.0.113.11 203.0.113.10 127.0.0.1 192.0.2.50 192.0.2.53"; got != want {
		t.Errorf("by 2s: %s, want %s", got, want)
	}
	// curl's pair: 1.2 MB/s received, 120 B/s sent, attributed to pid 4242
	if l := line(rows, "198.51.100.7"); !strings.Contains(l, "4242 curl") || !strings.Contains(l, "1.14 MiB/s") || !strings.Contains(l, "120 B/s") {
		t.Errorf("curl row %q", l)
	}
	m = keys(m, "s", "s", "s")
	if m.prefs.TalkerSort != "total" || !strings.Contains(paneLines(t, m.View(), "4 Talkers")[0], "TOTAL▼") {
		t.Errorf("s s s: sort %q", m.prefs.TalkerSort)
	}
	m = keys(m, "s") // back to 2s
	// ports on: one row per flow, with ports
	m = keys(m, "P")
	rows = paneLines(t, m.View(), "4 Talkers")
	if !strings.Contains(frameTitles(m.View())[3], "7 flows") || line(rows, "10.0.0.2:443") == "" || line(rows, "udp") == "" {
		t.Errorf("flows:\n%s", strings.Join(rows, "\n"))
	}
	// the filter
	m = keys(m, "/", "u", "d", "p", "enter")
	rows = paneLines(t, m.View(), "4 Talkers")
	if got := order(rows); got != "192.0.2.53:53" {
		t.Errorf("filter udp: %q", got)
	}
	m = keys(m, "esc")
	if got := order(paneLines(t, m.View(), "4 Talkers")); strings.Count(got, " ")+1 != 7 {
		t.Errorf("esc did not clear the filter: %q", got)
	}
}

// Host names are looked up in commands, only for the rows in sight, a few at a time, and
// cached; a failed lookup leaves the address.
func TestTalkersReverseDNS(t *testing.T) {
	st, p := newTestTalkers()
	var mu sync.Mutex
	asked := map[string]int{}
	p.lookup = func(ctx context.Context, addr string) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		asked[addr]++
		if addr == "198.51.100.7" {
			return []string{"mirror.example.org."}, nil
		}
		return nil, errors.New("no such host")
	}
	p.SetSize(100, 3) // two rows in sight
	feedCapture(st, 10, p)
	if p.Update(keyMsg("x")) != nil || len(asked) != 0 {
		t.Fatal("lookups before n")
	}
	cmd := p.Update(keyMsg("n"))
	for _, msg := range runAll(cmd) {
		p.Update(msg)
	}
	// the two rows in sight: 10.0.0.2 <-> 198.51.100.7 and 10.0.0.2 <-> 203.0.113.12
	if len(asked) != 3 || asked["198.51.100.7"] != 1 || asked["203.0.113.12"] != 1 || asked["10.0.0.2"] != 1 {
		t.Errorf("asked %v", asked)
	}
	lines := p.View(100, 3)
	if !strings.Contains(lines[1], "mirror.example.org") || !strings.Contains(lines[2], "203.0.113.12") {
		t.Errorf("names:\n%s", strings.Join(lines, "\n"))
	}
	// a new sample does not ask again
	feedCapture(st, 11, p)
	for _, msg := range runAll(p.refresh()) {
		p.Update(msg)
	}
	if asked["198.51.100.7"] != 1 {
		t.Errorf("asked again: %v", asked)
	}
	p.Update(keyMsg("n"))
	if strings.Contains(strings.Join(p.View(100, 3), "\n"), "mirror") {
		t.Error("n did not turn the names off")
	}
}

func TestPacketsPane(t *testing.T) {
	m, fc := captureModel(40, 120, 40)
	m = keys(m, "5", "z")
	rows := paneLines(t, m.View(), "5 Packets")
	if !strings.Contains(rows[0], "TIME") || !strings.HasPrefix(rows[1], "›09:27:32.540000    266 tcp   IP 10.0.0.2.443 > 203.0.113.10.40000") {
		t.Fatalf("newest first:\n%s", strings.Join(rows[:3], "\n"))
	}
	// scrolling holds the list; new packets are counted, not shown
	m = keys(m, "j", "j")
	m = update(m, BatchMsg{fixtureBatch(41)})
	m = update(m, SampleMsg{fixtureSample(41)})
	screen := m.View()
	if !strings.Contains(screen, "held, 3 new") || !strings.Contains(paneLines(t, screen, "5 Packets")[1], "09:27:32.540000") {
		t.Errorf("held list:\n%s", screen)
	}
	m = keys(m, "g")
	if rows := paneLines(t, m.View(), "5 Packets"); !strings.Contains(rows[1], "09:27:33.541000") || strings.Contains(m.View(), "held") {
		t.Errorf("g did not come back to the newest:\n%s", strings.Join(rows[:3], "\n"))
	}
	// enter: the details and a hex dump, not a zoom; esc closes
	m = keys(m, "enter")
	screen = m.View()
	for _, want := range []string{"Frame: 266 bytes on the wire", "Internet Protocol Version 4, Src: 10.0.0.2, Dst: 203.0.113.11",
		"Transmission Control Protocol, Src Port: 443, Dst Port: 40001, Seq: 41000, Ack: 1, Len: 212"} {
		if !strings.Contains(screen, want) {
			t.Errorf("details lack %q:\n%s", want, screen)
		}
	}
	m = keys(m, "G") // the end of the details: the last fields and the bytes
	screen = m.View()
	for _, want := range []string{"Flags: 0x018 (ACK, PSH) [P.]", "Window: 502", "Bytes (266 captured)",
		"0000  00 16 3e 00 00 01 00 16  3e 00 00 02 08 00 45 00  ..>.....>.....E."} {
		if !strings.Contains(screen, want) {
			t.Errorf("details lack %q:\n%s", want, screen)
		}
	}
	m = keys(m, "esc")
	if strings.Contains(m.View(), "bytes on the wire") || !strings.HasPrefix(focusedTitle(t, m.View()), "5 Packets") {
		t.Error("esc did not close the details")
	}
	// c turns the collection off through the capture
	m = keys(m, "c")
	if fc.Viewing() {
		t.Error("c did not turn viewing off")
	}
}

// f edits the packet filter: libpcap's error shows inline and the filter in force stays;
// a valid one is applied, shown, and saved as a preference.
func TestPacketFilterEdit(t *testing.T) {
	m, fc := captureModel(5, 120, 40)
	m.saver.path = filepath.Join(t.TempDir(), "config.toml")
	fc.filterErr = errors.New("capture: bad packet filter: syntax error")
	m = keys(m, "5", "f", "ctrl+w", "ctrl+w", "ctrl+w", "t", "c", "p", "space", "p", "o", "r", "t", "enter")
	screen := m.View()
	if !m.focused().(editor).Editing() || !strings.Contains(screen, "filter tcp port") || !strings.Contains(screen, "bad packet filter: syntax error") {
		t.Errorf("invalid filter:\n%s", screen)
	}
	if fc.PacketFilter() != "tcp or udp" || !strings.Contains(screen, `view "tcp or udp"`) {
		t.Errorf("the old filter is not in force: %q", fc.PacketFilter())
	}
	fc.mu.Lock()
	fc.filterErr = nil
	fc.mu.Unlock()
	m = keys(m, "space", "4", "4", "3", "enter")
	screen = m.View()
	if m.focused().(editor).Editing() || fc.PacketFilter() != "tcp port 443" {
		t.Errorf("valid filter: editing %v, capture %q", m.focused().(editor).Editing(), fc.PacketFilter())
	}
	if !strings.Contains(screen, `Packets · 0 · filter "tcp port 443"`) || !strings.Contains(strings.Split(screen, "\n")[0], `view "tcp port 443"`) {
		t.Errorf("the new filter is not shown, or the list did not restart:\n%s", screen)
	}
	// The list restarts with the packets of the new filter: a batch still labelled with the
	// old one (sent before the change reached the capture) is not shown; the next ones are.
	old := fixtureBatch(6)
	old.PacketFilter = "tcp or udp"
	m = update(m, BatchMsg{old})
	if n := len(m.slots[slotPackets].(*packetsPane).pkts); n != 0 {
		t.Errorf("%d packets of the old filter are shown", n)
	}
	next := fixtureBatch(7)
	next.PacketFilter = "tcp port 443"
	m = update(m, BatchMsg{next})
	if p := m.slots[slotPackets].(*packetsPane); len(p.pkts) != 3 || p.pkts[0].Time != fixtureBatch(7).Packets[0].Time {
		t.Errorf("after the change, %d packets shown, want the 3 of the next batch", len(p.pkts))
	}
	if got, _ := LoadPrefs(m.saver.path); got.PacketFilter != "tcp port 443" {
		t.Errorf("saved packet filter %q", got.PacketFilter)
	}
}

// w asks for a file name (a dated default), starts writing, shows it, and w stops.
func TestPacketsWrite(t *testing.T) {
	m, fc := captureModel(5, 120, 40)
	m = keys(m, "5", "w")
	if v := m.slots[slotPackets].(*packetsPane).input.Value(); v != "wiretop-20250314-092738.pcap" {
		t.Errorf("default name %q", v)
	}
	m = keys(m, "ctrl+u", "o", "u", "t", ".", "p", "c", "a", "p", "enter")
	if fc.writing != "out.pcap" || !strings.Contains(m.View(), "● out.pcap 1234 pkts") {
		t.Errorf("writing %q:\n%s", fc.writing, m.View())
	}
	m = keys(m, "w")
	if fc.writing != "" || strings.Contains(m.View(), "out.pcap") {
		t.Errorf("w did not stop writing: %q", fc.writing)
	}
}

func newTestTalkers() (*monitor.State, *talkersPane) {
	st := monitor.New(monitor.Options{Capture: true})
	pr := DefaultPrefs()
	return st, newTalkersPane(st, NewStyles(DefaultTheme()), &pr, nil)
}

// feedCapture applies the fixture's samples and batches up to n (from 0 the first time) and
// routes them to the pane, as a live run interleaves them.
func feedCapture(st *monitor.State, n int, p pane) {
	from := 0
	if !st.Time().IsZero() {
		from = n
	}
	for i := from; i <= n; i++ {
		if i > 0 {
			b := fixtureBatch(i)
			st.ApplyBatch(b)
			p.Update(BatchMsg{b})
		}
		s := fixtureSample(i)
		st.Apply(s)
		p.Update(SampleMsg{s})
	}
}

// A replay has no sampler: the batches drive the clock, the charts (a pseudo-interface named
// after the file) and the talkers; the header says what is replayed.
func TestReplay(t *testing.T) {
	opts := fixtureOptions()
	opts.Interface = "eth0" // what the command line says; a replay shows the file instead
	opts.Capture = &fakeCapture{replay: "testdata/pcap/demo.pcap", viewing: true}
	m := NewModel(opts)
	m = settle(m, m.Init())
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	for i := 1; i <= 30; i++ {
		m = update(m, BatchMsg{fixtureBatch(i)})
	}
	m = update(m, CaptureStoppedMsg{})
	screen := m.View()
	checkScreen(t, screen, 120, 40)
	header := strings.Split(screen, "\n")[0]
	for _, want := range []string{"demo.pcap │ replay demo.pcap (ended)", "up 30s  09:27:23"} {
		if !strings.Contains(header, want) {
			t.Errorf("header %q lacks %q", header, want)
		}
	}
	// every flow of a batch adds up on the pseudo-interface: 1,209,500 B received a second
	for _, want := range []string{"1 Bandwidth · demo.pcap", "Cur     1.15 MiB/s", "4 Talkers · 7 host pairs", "5 Packets · 90",
		"a replay has no socket table", "a replay cannot tell processes"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(strings.Split(screen, "\n")[1], "capture stopped") {
		t.Error("the end of a replay is reported as a failure")
	}
}

// A flow whose socket is not in the table yet makes the model ask the sampler for a refresh,
// without waiting for it.
func TestRequestRefresh(t *testing.T) {
	asked := 0
	opts := fixtureOptions()
	opts.Capture = &fakeCapture{}
	opts.RequestRefresh = func() { asked++ }
	m := NewModel(opts)
	m = update(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	m = update(m, SampleMsg{fixtureSample(0)})
	m = update(m, BatchMsg{fixtureBatch(1)}) // every flow but the DNS one has its socket
	if asked != 1 {
		t.Errorf("asked %d times, want 1 (a UDP flow with no socket is pending)", asked)
	}
	m = update(m, SampleMsg{fixtureSample(1)})
	b := fixtureBatch(2)
	b.Flows = b.Flows[:4] // only known sockets
	m = update(m, BatchMsg{b})
	_ = m
	if asked != 1 {
		t.Errorf("asked %d times after a batch of known flows", asked)
	}
}

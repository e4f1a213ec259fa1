package ui

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/capture"
)

// press sends keys to the model, one after the other.
func press(m Model, keys ...string) Model {
	for _, k := range keys {
		m = update(m, keyMsg(k))
	}
	return m
}

// frameTitles returns the titles of the panes on screen, in reading order, focused or not.
func frameTitles(screen string) []string {
	var out []string
	for _, l := range strings.Split(screen, "\n") {
		for i := 0; i < len(l); {
			a, b := strings.Index(l[i:], "╭─ "), strings.Index(l[i:], "┏━ ")
			j := a
			if j < 0 || b >= 0 && b < j {
				j = b
			}
			if j < 0 {
				break
			}
			i += j + len("╭─ ")
			t := l[i:]
			for _, end := range []string{" ─", " ━", " ╮", " ┓"} {
				if k := strings.Index(t, end); k >= 0 {
					t = t[:k]
				}
			}
			out = append(out, strings.TrimSpace(t))
		}
	}
	return out
}

// Enter (or z) zooms the focused pane to the whole body and back; focus keys keep the zoom.
func TestZoom(t *testing.T) {
	m := fixtureModel(40, 120, 40)
	if n := len(frameTitles(m.View())); n != 3 {
		t.Fatalf("%d panes before the zoom", n)
	}
	m = press(m, "3", "enter")
	screen := m.View()
	checkScreen(t, screen, 120, 40)
	titles := frameTitles(screen)
	if len(titles) != 1 || !strings.HasPrefix(titles[0], "3 Processes") || !strings.Contains(titles[0], "│ 1 Bandwidth │ 2 TCP states") {
		t.Fatalf("zoomed titles %q", titles)
	}
	// the table now has the body's height: 40 - 3 lines around it - 2 borders - header
	if !strings.Contains(m.View(), "(unattributed)") {
		t.Error("the zoomed table lost its unattributed row")
	}
	m = press(m, "tab")
	if titles := frameTitles(m.View()); len(titles) != 1 || !strings.HasPrefix(titles[0], "1 Bandwidth") {
		t.Errorf("tab while zoomed: %q", titles)
	}
	m = press(m, "z")
	if n := len(frameTitles(m.View())); n != 3 {
		t.Errorf("z did not unzoom: %d panes", n)
	}
}

// p (or space) freezes the panes while samples are still applied: the header's clock moves
// on and says PAUSED; unpausing shows the latest data at once.
func TestPause(t *testing.T) {
	m := fixtureModel(10, 120, 40)
	before := m.View()
	m = press(m, "p")
	for i := 11; i <= 20; i++ {
		m = update(m, SampleMsg{fixtureSample(i)})
	}
	paused := m.View()
	lines := strings.Split(paused, "\n")
	if !strings.Contains(lines[0], "PAUSED 09:27:38") || !strings.Contains(lines[0], "up 20s  09:27:13") {
		t.Errorf("header while paused: %q", lines[0])
	}
	// below the header, nothing moved
	if strip(paused, 2) != strip(before, 2) {
		t.Errorf("the panes changed while paused:\n%s", paused)
	}
	// keys still work while paused
	m = press(m, "3", "j")
	if sel := line(strings.Split(m.View(), "\n"), "›"); !strings.Contains(sel, "812") {
		t.Errorf("j while paused: %q", sel)
	}
	m = press(m, "space")
	resumed := m.View()
	if strings.Contains(resumed, "PAUSED") {
		t.Error("space did not resume")
	}
	want := fixtureModel(20, 120, 40)
	want = press(want, "3", "j")
	if strip(resumed, 1) != strip(want.View(), 1) {
		t.Errorf("after resuming, the screen is not that of sample 20:\n%s\nwant:\n%s", resumed, want.View())
	}
}

// strip drops the first n lines of a screen.
func strip(screen string, n int) string {
	lines := strings.Split(screen, "\n")
	return strings.Join(lines[min(n, len(lines)):], "\n")
}

func TestHelpScreen(t *testing.T) {
	m := fixtureModel(5, 120, 40)
	m = press(m, "?")
	screen := m.View()
	checkScreen(t, screen, 120, 40)
	for _, want := range []string{"Keys", "Everywhere", "1 Bandwidth", "2 TCP states", "3 Processes",
		"next interface", "interval/session", "rate/cumulative", "command line/name", "filter",
		"zoom", "pause", "bits/bytes", "q/ctrl+c", "click/wheel", "Text input"} {
		if !strings.Contains(screen, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	// keys of the panes do not act behind the help; esc closes it
	m = press(m, "i", "esc")
	if !strings.Contains(m.View(), "1 Bandwidth · eth0") {
		t.Error("i reached the bandwidth pane through the help screen")
	}
	if strings.Contains(m.View(), "Everywhere") {
		t.Error("esc did not close the help")
	}
	// on a short terminal the help scrolls
	m = press(fixtureModel(5, 80, 18), "?")
	first := m.View()
	checkScreen(t, first, 80, 18)
	m = press(m, "j", "j")
	if m.View() == first || !strings.Contains(m.View(), "3-") {
		t.Errorf("j does not scroll the help:\n%s", m.View())
	}
	if _, cmd := m.Update(keyMsg("q")); cmd == nil || cmd() != tea.Quit() {
		t.Error("q does not quit from the help")
	}
}

// The processes filter is a text input: while it is open, q, digits and tab are text; esc
// leaves it (restoring the filter there was) and then q quits.
func TestFilterInputTakesEveryKey(t *testing.T) {
	m := fixtureModel(40, 120, 40)
	m = press(m, "3", "/", "q", "1", "tab")
	if got := m.slots[slotProcesses].(*processesPane).filter.Value(); got != "q1" {
		t.Errorf("typed %q, want q1 (tab is not text)", got)
	}
	if !strings.HasPrefix(focusedTitle(t, m.View()), "3 Processes") {
		t.Error("a key in the input moved the focus")
	}
	if footer := lastLine(m.View()); !strings.Contains(footer, "enter apply") || !strings.Contains(footer, "esc cancel") {
		t.Errorf("footer while typing: %q", footer)
	}
	m = press(m, "backspace", "backspace", "n", "g", "i", "n", "z")
	if !strings.Contains(m.View(), `no process matches "nginz"`) {
		t.Errorf("live filter:\n%s", m.View())
	}
	m = press(m, "backspace", "enter")
	screen := m.View()
	if got := pids(tableLines(screen)); !slices.Equal(got, []int{812}) {
		t.Errorf("rows after the filter: %v", got)
	}
	if !strings.Contains(screen, `filter "ngin"`) {
		t.Error("the title does not show the filter")
	}
	// reopen, type, cancel: the filter before stays
	m = press(m, "/", "x", "esc")
	if !strings.Contains(m.View(), `filter "ngin"`) || strings.Contains(m.View(), `"nginx"`) {
		t.Errorf("esc did not restore the filter:\n%s", m.View())
	}
	// ctrl+c in the input leaves it, like esc, and does not quit
	m = press(m, "/", "y")
	next, cmd := m.Update(keyMsg("ctrl+c"))
	m = next.(Model)
	if cmd != nil && cmd() == tea.Quit() {
		t.Error("ctrl+c in the input quit")
	}
	if m.focused().(editor).Editing() || !strings.Contains(m.View(), `filter "ngin"`) {
		t.Error("ctrl+c did not cancel the input")
	}
	// esc outside the input clears the filter; q quits
	m = press(m, "esc")
	if got := pids(tableLines(m.View())); len(got) != 3 {
		t.Errorf("esc did not clear the filter: %v", got)
	}
	if _, cmd := m.Update(keyMsg("q")); cmd == nil || cmd() != tea.Quit() {
		t.Error("q does not quit after the input closed")
	}
}

// tableLines returns the lines of the processes pane's table in a screen, inside the border.
func tableLines(screen string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(screen, "\n") {
		switch {
		case strings.Contains(l, "3 Processes"):
			in = true
		case in && (strings.HasPrefix(l, "╰") || strings.HasPrefix(l, "┗")):
			return out
		case in:
			out = append(out, strings.Trim(l, "│┃"))
		}
	}
	return out
}

func lastLine(screen string) string {
	lines := strings.Split(screen, "\n")
	return lines[len(lines)-1]
}

// A click focuses the pane under the pointer and selects the row clicked; the wheel scrolls
// the pane under the pointer without moving the focus.
func TestMouse(t *testing.T) {
	m := withPlaceholders(NewModel(fixtureOptions()), 500)
	m = fixtureModelWith(m, 40, 120, 40)
	g := m.grid
	click := func(x, y int) tea.MouseMsg {
		return tea.MouseMsg{X: x, Y: y + headerLines, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress}
	}
	wheel := func(x, y int, b tea.MouseButton) tea.MouseMsg {
		return tea.MouseMsg{X: x, Y: y + headerLines, Button: b, Action: tea.MouseActionPress}
	}
	r := g[slotStates]
	m = update(m, click(r.x+5, r.y+3))
	if !strings.HasPrefix(focusedTitle(t, m.View()), "2 TCP states") {
		t.Errorf("click on the states pane focused %q", focusedTitle(t, m.View()))
	}
	// click the second process row: 1 border + 1 header line + row index
	r = g[slotProcesses]
	m = update(m, click(r.x+10, r.y+1+1+1))
	if !strings.HasPrefix(focusedTitle(t, m.View()), "3 Processes") {
		t.Errorf("click on processes focused %q", focusedTitle(t, m.View()))
	}
	if !strings.Contains(m.View(), "›     812 nginx") {
		t.Errorf("clicked row not selected:\n%s", m.View())
	}
	// the wheel over the talkers scrolls them, the focus stays on processes
	r = g[slotTalkers]
	talkers := m.slots[slotTalkers].(*placeholderPane)
	m = update(m, wheel(r.x+10, r.y+5, tea.MouseButtonWheelDown))
	m = update(m, wheel(r.x+10, r.y+5, tea.MouseButtonWheelDown))
	if talkers.rc.offset != 2*wheelRows {
		t.Errorf("talkers scrolled to %d, want %d", talkers.rc.offset, 2*wheelRows)
	}
	if !strings.HasPrefix(focusedTitle(t, m.View()), "3 Processes") {
		t.Error("the wheel moved the focus")
	}
	m = update(m, wheel(r.x+10, r.y+5, tea.MouseButtonWheelUp))
	if talkers.rc.offset != wheelRows {
		t.Errorf("wheel up: offset %d", talkers.rc.offset)
	}
	// clicks on the header or the footer do nothing
	m = update(m, tea.MouseMsg{X: 5, Y: 0, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	m = update(m, tea.MouseMsg{X: 5, Y: 39, Button: tea.MouseButtonLeft, Action: tea.MouseActionPress})
	if !strings.HasPrefix(focusedTitle(t, m.View()), "3 Processes") {
		t.Error("a click outside the panes moved the focus")
	}
	// one pane at a time: a click on another pane's name in the title focuses it
	m = press(m, "z")
	title := strings.Split(m.View(), "\n")[headerLines]
	x := strings.Index(title, "5 Packets")
	if x < 0 {
		t.Fatalf("no tab for the packets pane: %q", title)
	}
	m = update(m, click(width(title[:x])+2, 0))
	if !strings.HasPrefix(focusedTitle(t, m.View()), "5 Packets") {
		t.Errorf("click on the tab focused %q", focusedTitle(t, m.View()))
	}
}

// The header says what the capture does: source and filters, drops, the file being written;
// and the firing alerts and the privileges.
func TestHeaderCapture(t *testing.T) {
	fc := &fakeCapture{packetFilter: "port 53", writing: "/tmp/out.pcap"}
	opts := fixtureOptions()
	opts.Capture = fc
	m := fixtureModelWith(NewModel(opts), 5, 250, 40)
	if h := strings.Split(m.View(), "\n")[0]; !strings.Contains(h, "capture starting") {
		t.Errorf("before the capture is read: %q", h)
	}
	m = update(m, run(m.Init()))
	m = update(m, BatchMsg{&capture.Batch{Stats: capture.Stats{Received: 1000}}})
	h := strings.Split(m.View(), "\n")[0]
	for _, want := range []string{` eth0 │ capture eth0 -f "tcp or udp" · view "port 53" │ ● rec out.pcap 1234 pkts │ drops 0 │ not root │ alerts 0`} {
		if !strings.Contains(h, want) {
			t.Errorf("header %q lacks %q", h, want)
		}
	}
	fc.stats = capture.Stats{Received: 990, Dropped: 10}
	_, cmd := m.Update(BatchMsg{&capture.Batch{Stats: fc.stats, Err: errors.New("write out.pcap: disk full")}})
	m = update(m, BatchMsg{&capture.Batch{Stats: fc.stats, Err: errors.New("write out.pcap: disk full")}})
	m = update(m, run(cmd))
	m = update(m, AlertsMsg{Firing: 2})
	lines := strings.Split(m.View(), "\n")
	if !strings.Contains(lines[0], "drops 10 (1.0%)") || !strings.Contains(lines[0], "⚠ 2 alerts firing") {
		t.Errorf("header %q", lines[0])
	}
	if !strings.Contains(lines[1], "⚠ write out.pcap: disk full") {
		t.Errorf("status %q", lines[1])
	}
	// narrow: the least important items go first, the alerts stay
	m = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	h = strings.Split(m.View(), "\n")[0]
	if !strings.Contains(h, "2 alerts") || strings.Contains(h, "not root") || width(h) != 80 {
		t.Errorf("narrow header %q", h)
	}

	off := fixtureOptions()
	off.CaptureOff = "--no-capture"
	m = fixtureModelWith(NewModel(off), 1, 120, 40)
	if h := strings.Split(m.View(), "\n")[0]; !strings.Contains(h, "capture off: --no-capture") {
		t.Errorf("capture off: %q", h)
	}
}

// Update never calls the capture (or writes a file): that work is in the commands it returns.
func TestUpdateDoesNotBlock(t *testing.T) {
	fc := &fakeCapture{}
	opts := fixtureOptions()
	opts.Capture = fc
	opts.PrefsPath = filepath.Join(t.TempDir(), "config.toml")
	m := NewModel(opts) // it reads the capture once, before the program runs
	fc.mu.Lock()
	fc.calls = nil
	fc.mu.Unlock()
	cmd := m.Init()
	m = fixtureModelWith(m, 3, 120, 40)
	var cmds []tea.Cmd
	for _, msg := range []tea.Msg{
		BatchMsg{&capture.Batch{}}, keyMsg("u"), keyMsg("3"), keyMsg("s"), keyMsg("m"), keyMsg("l"),
		keyMsg("/"), keyMsg("x"), keyMsg("enter"), keyMsg("tab"), keyMsg("i"), keyMsg("p"), keyMsg("?"),
	} {
		next, c := m.Update(msg)
		m = next.(Model)
		cmds = append(cmds, c)
	}
	if calls := fc.called(); len(calls) != 0 {
		t.Errorf("Update called the capture: %v", calls)
	}
	if _, err := os.Stat(opts.PrefsPath); err == nil {
		t.Error("Update wrote the preferences file")
	}
	run(cmd)
	for _, c := range cmds {
		runAll(c)
	}
	if len(fc.called()) == 0 {
		t.Error("the commands did not read the capture")
	}
	got, err := LoadPrefs(opts.PrefsPath)
	if err != nil {
		t.Fatal(err)
	}
	if got.Units != "bits" || got.ProcessSort != "sent" || !got.Cumulative || !got.ProgramOnly {
		t.Errorf("saved preferences %+v", got)
	}
}

// runAll runs cmd and every command of its batches, and returns the messages.
func runAll(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	if batch, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range batch {
			out = append(out, runAll(c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

// The preferences in Options set the starting display; a change is saved, and a failed save
// shows in the status line.
func TestPrefsDriveTheDisplay(t *testing.T) {
	opts := fixtureOptions()
	opts.Prefs = Prefs{Units: "bits", ProcessSort: "sent", Cumulative: true, ProgramOnly: true}
	m := fixtureModelWith(NewModel(opts), 40, 120, 40)
	screen := m.View()
	for _, want := range []string{"Bandwidth · eth0 · bits", "Mbit/s", "by sent (session)", "PROGRAM", "SENT▼"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q", want)
		}
	}
	if strings.Contains(screen, "worker process") {
		t.Error("program_only: the command line shows")
	}
	dir := t.TempDir()
	opts.PrefsPath = filepath.Join(dir, "config.toml")
	writeFile(t, opts.PrefsPath, "units = [broken\n")
	m = fixtureModelWith(NewModel(opts), 2, 120, 40)
	_, cmd := m.Update(keyMsg("u"))
	for _, msg := range runAll(cmd) {
		m = update(m, msg)
	}
	if status := strings.Split(m.View(), "\n")[1]; !strings.Contains(status, "save preferences to "+opts.PrefsPath+": line 1") {
		t.Errorf("status %q", status)
	}
}

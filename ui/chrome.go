package ui

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/sampler"
)

// The lines around the panes: the header and the status line above, the key help below.
const (
	headerLines = 2
	footerLines = 1
)

func (m *Model) bodyHeight() int { return max(m.height-headerLines-footerLines, 0) }

func (m *Model) tooSmall() bool { return m.width < minWidth || m.height < minHeight }

// tooSmallView asks for a larger terminal, in the middle of the one there is.
func (m *Model) tooSmallView() string {
	msg := []string{
		m.styles.Warn.Render(fmt.Sprintf("Terminal too small: %dx%d", m.width, m.height)),
		m.styles.Text.Render(fmt.Sprintf("wiretop needs at least %dx%d.", minWidth, minHeight)),
		m.styles.Muted.Render("Enlarge the window, or press q to quit."),
	}
	if m.width < 40 { // the same, in fewer cells
		msg = []string{
			m.styles.Warn.Render(fmt.Sprintf("too small: %dx%d", m.width, m.height)),
			m.styles.Text.Render(fmt.Sprintf("need %dx%d", minWidth, minHeight)),
			m.styles.Muted.Render("q: quit"),
		}
	}
	lines := make([]string, m.height)
	top := max((m.height-len(msg))/2, 0)
	for i, l := range msg {
		if top+i < len(lines) {
			lines[top+i] = strings.Repeat(" ", max((m.width-width(l))/2, 0)) + l
		}
	}
	return strings.Join(block(lines, m.width, m.height), "\n")
}

// headerSeg is one item of the header; when the line is too narrow, the items of the lowest
// rank go first.
type headerSeg struct {
	text string // styled
	rank int
}

// header is the top line: the app, the interface, the capture and its filters, kernel
// drops, privileges, firing alerts and PAUSED on the left; the session length and the clock
// of the latest sample on the right.
func (m *Model) header() string {
	st := m.styles
	h := st.Header
	segs := []headerSeg{{h.Render(m.opts.Interface), 9}}
	segs = append(segs, m.captureSegs()...)
	if priv := privileges(m.state.Status()); priv != "" {
		segs = append(segs, headerSeg{h.Render(priv), 2})
	}
	if m.alerts > 0 {
		noun := "alerts"
		if m.alerts == 1 {
			noun = "alert"
		}
		segs = append(segs, headerSeg{st.HeaderCrit.Render(fmt.Sprintf("⚠ %d %s firing", m.alerts, noun)), 10})
	} else {
		segs = append(segs, headerSeg{h.Render("alerts 0"), 3})
	}
	if m.paused {
		segs = append(segs, headerSeg{st.Paused.Render(" PAUSED " + m.pausedAt.Format("15:04:05") + " "), 11})
	}
	right := m.opts.Clock().Format("15:04:05") + " waiting for the first sample "
	if t := m.state.Time(); !t.IsZero() {
		right = "up " + formatDuration(m.state.Elapsed()) + "  " + t.Format("15:04:05") + " "
	}
	left := st.AppName.Render(" wiretop ")
	sep := h.Render(" │ ")
	avail := m.width - width(left) - width(right) - 1
	for {
		n := 0
		for _, s := range segs {
			n += width(s.text) + width(sep)
		}
		if n <= avail || len(segs) <= 1 {
			break
		}
		low := 0
		for i, s := range segs {
			if s.rank < segs[low].rank {
				low = i
			}
		}
		segs = append(segs[:low], segs[low+1:]...)
	}
	line := left
	for i, s := range segs {
		if i > 0 {
			line += sep
		} else {
			line += h.Render(" ")
		}
		line += s.text
	}
	line = fit(line, max(m.width-width(right), 0))
	return line + h.Render(right)
}

// captureSegs are the header items of the capture: what it reads with which filters, the pcap
// file being written, and the kernel's drops.
func (m *Model) captureSegs() []headerSeg {
	st := m.styles
	h := st.Header
	if m.opts.Capture == nil {
		off := "capture off"
		if m.opts.CaptureOff != "" {
			off += ": " + m.opts.CaptureOff
		}
		return []headerSeg{{st.HeaderWarn.Render(off), 8}}
	}
	c := &m.capture
	if !c.known {
		return []headerSeg{{h.Render("capture starting…"), 8}}
	}
	what := "capture " + c.source
	if c.replay {
		what = "replay " + filepath.Base(c.source)
	}
	if m.captureStopped {
		what += " (ended)"
	}
	if c.baseFilter != "" {
		what += fmt.Sprintf(" -f %q", c.baseFilter)
	}
	if c.packetFilter != "" {
		what += fmt.Sprintf(" · view %q", c.packetFilter)
	}
	segs := []headerSeg{{h.Render(what), 8}}
	if c.writing != "" {
		segs = append(segs, headerSeg{st.HeaderCrit.Render(fmt.Sprintf("● rec %s %s pkts", filepath.Base(c.writing), formatCount(c.writingPackets))), 7})
	}
	drops := c.stats.Dropped + c.stats.IfDropped
	if drops == 0 {
		segs = append(segs, headerSeg{h.Render("drops 0"), 4})
	} else {
		pct := 100 * float64(drops) / float64(max(c.stats.Received+c.stats.Dropped, 1))
		share := fmt.Sprintf("%.1f%%", pct)
		if pct < 0.05 {
			share = "<0.1%"
		}
		segs = append(segs, headerSeg{st.HeaderWarn.Render(fmt.Sprintf("drops %s (%s)", formatCount(drops), share)), 9})
	}
	return segs
}

// privileges says in a word how much of the system wiretop sees.
func privileges(s sampler.Status) string {
	switch {
	case s.ProcessScope == "all" || s.ProcessScope == "" && s.AllProcesses:
		return "root"
	case s.ProcessScope == "partial":
		return "root, some processes hidden"
	case s.ProcessScope == "own-uid" || s.SocketSource != "":
		return "not root"
	}
	return ""
}

// statusLine says what failed, then what wiretop can and cannot see. Failures come first so
// that a narrow terminal cuts the notes, not them.
func (m *Model) statusLine() string {
	var warns []string
	if m.samplerStopped {
		warns = append(warns, "sampler stopped")
	}
	if m.captureStopped && m.opts.Capture != nil && !m.capture.replay {
		warns = append(warns, "capture stopped")
	}
	if m.batchErr != nil {
		warns = append(warns, m.batchErr.Error())
	}
	if m.saveErr != nil {
		warns = append(warns, m.saveErr.Error())
	}
	for _, err := range m.state.Errors() {
		warns = append(warns, err.Error())
	}
	line := " "
	if len(warns) > 0 {
		line += m.styles.StatusWarn.Render("⚠ "+strings.Join(warns, " · ")) + m.styles.Status.Render(" · ")
	}
	parts := append([]string(nil), m.status...)
	parts = append(parts, describeStatus(m.state.Status(), m.state.CaptureOn())...)
	return fit(line+m.styles.Status.Render(strings.Join(parts, " · ")), m.width)
}

// describeStatus turns the sampler's Status into short phrases for the status line: how
// sockets are joined to processes (socket events or /proc/PID/fd), and pcap says processes
// are counted from captured packets. Where one of the sampler's notes says the
// same at more length (it starts as statusNotes lists), the note is kept and the phrase left
// out, so nothing is said twice.
func describeStatus(s sampler.Status, pcap bool) []string {
	var out []string
	say := func(phrase string) {
		for _, n := range s.Notes {
			if strings.HasPrefix(n, statusNotes[phrase]) {
				return
			}
		}
		out = append(out, phrase)
	}
	switch s.ProcessSource {
	case sampler.ProcessFromSockEvents:
		out = append(out, "owners from socket events")
	case sampler.ProcessFromProcFD:
		out = append(out, "owners from /proc/PID/fd")
	}
	switch {
	case pcap:
		out = append(out, "processes from captured packets")
	case s.ByteCounters():
		out = append(out, "TCP per process from tcp_info")
		if !s.DestroyEvents {
			say("no socket-destroy events")
		}
	case s.SocketSource == "proc":
		say("sockets from /proc: no bytes per process")
	}
	switch {
	case s.ProcessScope == "all" || s.ProcessScope == "" && s.AllProcesses:
		if s.SocketSource != "" {
			out = append(out, "all processes")
		}
	case s.ProcessScope == "partial":
		say("some processes hide their sockets")
	case s.ProcessScope == "own-uid" || s.SocketSource != "":
		say("own processes only (not root)")
	}
	return append(out, s.Notes...)
}

// statusNotes are how the sampler's notes (sampler.Status.Notes) begin that say what a
// phrase of describeStatus says.
var statusNotes = map[string]string{
	"no socket-destroy events":                 "no socket-destroy events",
	"sockets from /proc: no bytes per process": "sock_diag unavailable",
	"some processes hide their sockets":        "some processes hide their sockets",
	"own processes only (not root)":            "not root: own processes only",
}

// footer is the short key help of the focused pane followed by the global keys; while a text
// input is open, only its keys.
func (m *Model) footer() string {
	p := m.focused()
	var keys []key.Binding
	var must []key.Binding // kept when the line is too narrow for the rest
	switch ed, ok := p.(editor); {
	case m.showHelp:
		keys = []key.Binding{helpKeys.Close, helpKeys.Down, m.keys.Quit}
	case ok && ed.Editing():
		keys = p.ShortHelp()
	default:
		keys = append(p.ShortHelp(), m.keys.short()...)
		must = []key.Binding{m.keys.Help, m.keys.Quit}
	}
	// The line changes only with the keys and the width: it is kept from frame to frame.
	var id strings.Builder
	id.WriteString(strconv.Itoa(m.width))
	for _, k := range keys {
		id.WriteString("\x00" + k.Help().Key + "\x01" + k.Help().Desc)
	}
	if c := m.footerCache; c.id == id.String() {
		return c.line
	}
	// Drop keys from the end (the global ones, then the pane's) until the line fits; the way
	// to the help and out stays.
	view := m.help.ShortHelpView(keys)
	for len(keys) > len(must) && width(view) > m.width-1 {
		drop := len(keys) - len(must) - 1
		for drop > 0 && slicesContainsKey(must, keys[drop]) {
			drop--
		}
		keys = append(keys[:drop], keys[drop+1:]...)
		view = m.help.ShortHelpView(keys)
	}
	*m.footerCache = footerLine{id.String(), fit(" "+view, m.width)}
	return m.footerCache.line
}

// footerLine is the footer as last drawn, and what it was drawn for.
type footerLine struct{ id, line string }

// slicesContainsKey reports whether keys holds a binding with the same help as k.
func slicesContainsKey(keys []key.Binding, k key.Binding) bool {
	for _, b := range keys {
		if b.Help() == k.Help() {
			return true
		}
	}
	return false
}

// helpKey handles a key while the help screen is shown: it scrolls, closes, or quits.
func (m Model) helpKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	page := max(m.bodyHeight()-3, 1)
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(msg, helpKeys.Close):
		m.showHelp = false
	case key.Matches(msg, helpKeys.Up):
		m.helpOffset--
	case key.Matches(msg, helpKeys.Down):
		m.helpOffset++
	case key.Matches(msg, helpKeys.PageUp):
		m.helpOffset -= page
	case key.Matches(msg, helpKeys.PageDown):
		m.helpOffset += page
	}
	m.helpOffset = max(m.helpOffset, 0) // the upper bound depends on the size: View clamps
	return m, nil
}

// helpSection is the keys of one pane (or the global ones) on the help screen.
type helpSection struct {
	title string
	keys  []key.Binding
}

func (m *Model) helpSections() []helpSection {
	secs := []helpSection{{"Everywhere", m.keys.full()}}
	for i, p := range m.panes() {
		name, _, _ := strings.Cut(p.Title(), " · ")
		var keys []key.Binding
		for _, group := range p.FullHelp() {
			keys = append(keys, group...)
		}
		secs = append(secs, helpSection{strconv.Itoa(i+1) + " " + name, keys})
	}
	secs = append(secs, helpSection{"Text input (filters, file name)", []key.Binding{inputKeys.Submit, inputKeys.Cancel, inputKeys.Move, inputKeys.Erase}})
	return secs
}

// helpColumn is the width of one column of the help screen.
const helpColumn = 36

// helpView is the help screen: every key of every pane, in as many columns as the width
// holds, framed like a pane, scrolled by helpOffset when it is taller than the body.
func (m *Model) helpView(w, h int) []string {
	st := m.styles
	var secs [][]string
	total := 0
	for _, s := range m.helpSections() {
		lines := []string{st.TitleFocused.Render(s.title)}
		for _, k := range s.keys {
			hk := k.Help()
			lines = append(lines, " "+st.HelpKey.Render(fit(hk.Key, 12))+" "+st.Text.Render(hk.Desc))
		}
		lines = append(lines, "")
		secs = append(secs, lines)
		total += len(lines)
	}
	iw, ih := w-2, h-2
	cols := max(min((iw+2)/(helpColumn+2), len(secs)), 1)
	// Fill the columns in order, each up to an even share of the lines.
	target := (total + cols - 1) / cols
	columns := make([][]string, 1, cols)
	for _, s := range secs {
		c := len(columns) - 1
		if len(columns[c]) > 0 && len(columns[c])+len(s) > target && len(columns) < cols {
			columns = append(columns, nil)
			c++
		}
		columns[c] = append(columns[c], s...)
	}
	for i, c := range columns { // no blank line at the foot of a column
		for len(c) > 0 && c[len(c)-1] == "" {
			c = c[:len(c)-1]
		}
		columns[i] = c
	}
	cw := (iw - 2*(len(columns)-1)) / len(columns)
	content := columns[0]
	used := cw
	for _, c := range columns[1:] {
		content = besides(content, used, 2, c, cw)
		used += 2 + cw
	}
	maxOff := max(len(content)-ih, 0)
	off := min(m.helpOffset, maxOff)
	content = content[off:]
	title := st.TitleFocused.Render("Keys")
	if maxOff > 0 {
		title += st.TitleInactive.Render(fmt.Sprintf(" · %d-%d of %d · ↑/↓ scroll", off+1, min(off+ih, off+len(content)), maxOff+ih))
	}
	return frame(st, content, title, w, h, true)
}

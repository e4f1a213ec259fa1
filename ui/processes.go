package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/wiretop/wiretop/monitor"
)

// Column widths of the process table; PROGRAM takes what is left.
const (
	pidWidth   = 7
	userWidth  = 9
	rateWidth  = 11 // "999 Mbit/s▼"
	totalWidth = 9  // "1023 MiB▼"
	minProgram = 20 // below this, USER and then the totals give way to PROGRAM
)

type processKeys struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	BySent, ByRecv, ByTotal, Cumulative     key.Binding
	Active                                  key.Binding
}

func newProcessKeys() processKeys {
	return processKeys{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:     key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown:   key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Top:        key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "top")),
		Bottom:     key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "bottom")),
		BySent:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort sent")),
		ByRecv:     key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "sort recv")),
		ByTotal:    key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "sort total")),
		Cumulative: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "rate/session order")),
		Active:     key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "active only")),
	}
}

// processesPane is the table of processes by TCP traffic. The sorted rows are computed once
// per sample (or sort change) in Update; View formats only the rows in sight, so ten thousand
// processes cost no more to draw than fifty. The bytes no process was found for are the
// table's last row, never hidden.
type processesPane struct {
	state  *monitor.State
	styles *Styles
	prefs  *prefs
	keys   processKeys
	query  monitor.ProcessQuery

	rows   []monitor.Process
	cursor int // index of the selected row
	offset int // index of the first row in sight
	follow int // PID the cursor follows across samples; 0: the cursor keeps its place

	unattrib, unattribTot monitor.Counts
	share                 float64       // unattributed share of the session's bytes, 0..1
	elapsed               time.Duration // length of the last interval
	sampled               bool
	w, h                  int
}

func newProcessesPane(st *monitor.State, styles *Styles, pr *prefs) *processesPane {
	return &processesPane{state: st, styles: styles, prefs: pr, keys: newProcessKeys()}
}

// Title names the pane, counts its rows and says the order.
func (p *processesPane) Title() string {
	if !p.sampled {
		return "Processes"
	}
	order := map[monitor.ProcessSort]string{
		monitor.SortTotal: "total", monitor.SortSent: "sent", monitor.SortReceived: "received",
	}[p.query.Sort]
	if p.query.Cumulative {
		order += " (session)"
	} else {
		order += "/s"
	}
	t := fmt.Sprintf("Processes · %d · by %s", len(p.rows), order)
	if p.query.ActiveOnly {
		t += " · active only"
	}
	if vis := p.visible(); len(p.rows) > vis && vis > 0 {
		off := p.viewOffset(vis)
		t += fmt.Sprintf(" · %d-%d", off+1, min(off+vis, len(p.rows)))
	}
	return t
}

// ShortHelp returns the pane's main keys for the footer.
func (p *processesPane) ShortHelp() []key.Binding {
	k := p.keys
	return []key.Binding{k.Down, k.BySent, k.ByRecv, k.ByTotal}
}

// FullHelp returns all the pane's keys.
func (p *processesPane) FullHelp() [][]key.Binding {
	k := p.keys
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.BySent, k.ByRecv, k.ByTotal, k.Cumulative, k.Active},
	}
}

// SetSize records the inside size of the pane.
func (p *processesPane) SetSize(w, h int) { p.w, p.h = w, h }

// visible is how many process rows fit under the header and above the unattributed row.
func (p *processesPane) visible() int { return max(p.h-2, 0) }

// Update refreshes the rows on a new sample, moves the cursor and changes the order.
func (p *processesPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case SampleMsg:
		p.sampled = true
		if msg.Sample != nil && msg.Sample.Elapsed > 0 {
			p.elapsed = msg.Sample.Elapsed
		}
		p.refresh()
	case tea.KeyMsg:
		p.key(msg)
	}
	return nil
}

func (p *processesPane) key(msg tea.KeyMsg) {
	k := p.keys
	page := max(p.visible()-1, 1)
	switch {
	case key.Matches(msg, k.Up):
		p.move(-1)
	case key.Matches(msg, k.Down):
		p.move(1)
	case key.Matches(msg, k.PageUp):
		p.move(-page)
	case key.Matches(msg, k.PageDown):
		p.move(page)
	case key.Matches(msg, k.Top):
		p.cursor, p.offset, p.follow = 0, 0, 0
	case key.Matches(msg, k.Bottom):
		p.move(len(p.rows))
	case key.Matches(msg, k.BySent):
		p.resort(monitor.SortSent, p.query.Cumulative, p.query.ActiveOnly)
	case key.Matches(msg, k.ByRecv):
		p.resort(monitor.SortReceived, p.query.Cumulative, p.query.ActiveOnly)
	case key.Matches(msg, k.ByTotal):
		p.resort(monitor.SortTotal, p.query.Cumulative, p.query.ActiveOnly)
	case key.Matches(msg, k.Cumulative):
		p.resort(p.query.Sort, !p.query.Cumulative, p.query.ActiveOnly)
	case key.Matches(msg, k.Active):
		p.resort(p.query.Sort, p.query.Cumulative, !p.query.ActiveOnly)
	}
}

// move shifts the cursor by n rows and makes it follow the process it lands on.
func (p *processesPane) move(n int) {
	if len(p.rows) == 0 {
		return
	}
	p.cursor = min(max(p.cursor+n, 0), len(p.rows)-1)
	p.follow = p.rows[p.cursor].PID
	if p.cursor == 0 {
		p.follow = 0 // at the top, stay at the top
	}
	p.offset = p.viewOffset(p.visible())
}

// resort changes the query and goes back to the top of the table.
func (p *processesPane) resort(by monitor.ProcessSort, cumulative, active bool) {
	p.query.Sort, p.query.Cumulative, p.query.ActiveOnly = by, cumulative, active
	p.cursor, p.offset, p.follow = 0, 0, 0
	if p.sampled {
		p.refresh()
	}
}

// refresh queries the State for the rows, keeps the cursor on the process it follows, and
// works out the unattributed share of the session's bytes.
func (p *processesPane) refresh() {
	p.rows = p.state.Processes(p.query)
	if p.follow != 0 {
		for i := range p.rows {
			if p.rows[i].PID == p.follow {
				p.cursor = i
				break
			}
		}
	}
	p.cursor = min(p.cursor, max(len(p.rows)-1, 0))
	p.offset = p.viewOffset(p.visible())
	p.unattrib, p.unattribTot = p.state.Unattributed()
	all := p.rows
	if p.query.ActiveOnly { // the share is of every process's bytes, not only the active ones
		all = p.state.Processes(monitor.ProcessQuery{})
	}
	var sum uint64
	for i := range all {
		sum += all[i].RxTotal + all[i].TxTotal
	}
	un := p.unattribTot.RxBytes + p.unattribTot.TxBytes
	p.share = 0
	if sum+un > 0 {
		p.share = float64(un) / float64(sum+un)
	}
}

// viewOffset is the first row to show so that the cursor is in sight.
func (p *processesPane) viewOffset(vis int) int {
	off := min(p.offset, max(len(p.rows)-vis, 0))
	if p.cursor < off {
		off = p.cursor
	}
	if vis > 0 && p.cursor >= off+vis {
		off = p.cursor - vis + 1
	}
	return max(off, 0)
}

// columns decides which columns fit in w cells: USER goes first when narrow, then the totals.
type columns struct {
	user, totals bool
	program      int
}

func layoutColumns(w int) columns {
	c := columns{user: true, totals: true}
	fixed := func() int {
		n := 1 + 1 + pidWidth + 1 + 2*(rateWidth+1)
		if c.user {
			n += userWidth + 1
		}
		if c.totals {
			n += 2 * (totalWidth + 1)
		}
		return n
	}
	if w-fixed() < minProgram {
		c.user = false
	}
	if w-fixed() < minProgram {
		c.totals = false
	}
	c.program = max(w-fixed(), 1)
	return c
}

// View renders the header, the rows in sight and the unattributed row, in w x h cells.
func (p *processesPane) View(w, h int) []string {
	if w <= 0 || h <= 0 {
		return nil
	}
	st := p.styles
	if !p.sampled {
		return centred(st.Message.Render("waiting for the first sample…"), w, h)
	}
	c := layoutColumns(w)
	lines := make([]string, 0, h)
	lines = append(lines, p.header(c))
	vis := max(h-2, 0)
	off := p.viewOffset(vis)
	end := min(off+vis, len(p.rows))
	for i := off; i < end; i++ {
		lines = append(lines, p.row(&p.rows[i], c, i == p.cursor, w))
	}
	if len(p.rows) == 0 && vis > 0 {
		lines = append(lines, st.Message.Render("  no process has moved TCP bytes yet"))
	}
	return block(append(lines, p.unattributedRow(c)), w, h)
}

// header titles the columns; the ones that set the order carry a ▼.
func (p *processesPane) header(c columns) string {
	q := p.query
	mark := func(title string, sort monitor.ProcessSort, cumulative bool) string {
		if q.Cumulative == cumulative && (q.Sort == sort || q.Sort == monitor.SortTotal) {
			return title + "▼"
		}
		return title
	}
	cells := []string{" ", fitRight("PID", pidWidth)}
	if c.user {
		cells = append(cells, fit("USER", userWidth))
	}
	cells = append(cells, fit("PROGRAM", c.program),
		fitRight(mark("SENT/s", monitor.SortSent, false), rateWidth),
		fitRight(mark("RECV/s", monitor.SortReceived, false), rateWidth))
	if c.totals {
		cells = append(cells,
			fitRight(mark("SENT", monitor.SortSent, true), totalWidth),
			fitRight(mark("RECV", monitor.SortReceived, true), totalWidth))
	}
	return p.styles.TableHeader.Render(strings.Join(cells, " "))
}

// row formats one process. The selected row is drawn in one style, marked with ›.
func (p *processesPane) row(pr *monitor.Process, c columns, selected bool, w int) string {
	st := p.styles
	sty := func(s lipgloss.Style) lipgloss.Style {
		if selected {
			return st.Plain
		}
		return s
	}
	rate := func(v float64, s lipgloss.Style) string {
		if v == 0 {
			s = st.Muted
		}
		return sty(s).Render(fitRight(formatRate(v, p.prefs.bits), rateWidth))
	}
	marker := " "
	if selected {
		marker = "›"
	}
	name, args := programName(pr)
	program := sty(st.Text).Render(name)
	if args != "" {
		program += " " + sty(st.Muted).Render(args)
	}
	cells := []string{marker, sty(st.Muted).Render(fitRight(strconv.Itoa(pr.PID), pidWidth))}
	if c.user {
		cells = append(cells, sty(st.Muted).Render(fit(pr.User, userWidth)))
	}
	cells = append(cells, fit(program, c.program),
		rate(pr.TxRate, st.TxChart), rate(pr.RxRate, st.RxChart))
	if c.totals {
		cells = append(cells,
			sty(st.Value).Render(fitRight(formatBytes(float64(pr.TxTotal)), totalWidth)),
			sty(st.Value).Render(fitRight(formatBytes(float64(pr.RxTotal)), totalWidth)))
	}
	line := strings.Join(cells, " ")
	if selected {
		return st.RowSelected.Render(fit(line, w))
	}
	return line
}

// programName splits what the PROGRAM column shows into the name and the rest of the
// command line: "curl" and "-sO https://…" for curl's cmdline; "nginx:" and "worker process"
// for a process that rewrote its title; the comm and the whole cmdline otherwise.
func programName(pr *monitor.Process) (name, args string) {
	first, rest, _ := strings.Cut(pr.Cmdline, " ")
	base := first[strings.LastIndexByte(first, '/')+1:]
	switch {
	case pr.Cmdline == "" || pr.Cmdline == pr.Comm:
		return pr.Comm, ""
	case base == pr.Comm || strings.TrimSuffix(base, ":") == pr.Comm:
		return base, rest
	}
	return pr.Comm, pr.Cmdline
}

// unattributedRow is the traffic no process was found for, with its share of the session.
func (p *processesPane) unattributedRow(c columns) string {
	var rx, tx float64
	if s := p.elapsed.Seconds(); s > 0 {
		rx, tx = float64(p.unattrib.RxBytes)/s, float64(p.unattrib.TxBytes)/s
	}
	cells := []string{" ", fitRight("-", pidWidth)}
	if c.user {
		cells = append(cells, fit("-", userWidth))
	}
	label := "(unattributed)"
	if c.program >= 32 {
		label = fmt.Sprintf("(unattributed) %.1f%% of bytes", 100*p.share)
	}
	cells = append(cells, fit(label, c.program),
		fitRight(formatRate(tx, p.prefs.bits), rateWidth),
		fitRight(formatRate(rx, p.prefs.bits), rateWidth))
	if c.totals {
		cells = append(cells,
			fitRight(formatBytes(float64(p.unattribTot.TxBytes)), totalWidth),
			fitRight(formatBytes(float64(p.unattribTot.RxBytes)), totalWidth))
	}
	return p.styles.Unattributed.Render(strings.Join(cells, " "))
}

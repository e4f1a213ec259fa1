package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/monitor"
)

// Column widths of the process table; PROGRAM takes what is left.
const (
	pidWidth   = 7
	userWidth  = 9
	rateWidth  = 11 // "999 Mbit/s▼"
	contWidth  = 19 // "docker:4f0c3d9e8b7a"
	totalWidth = 9  // "1023 MiB▼"
	minProgram = 20 // below this, USER and then the secondary figures give way to PROGRAM
)

type processKeys struct {
	table                          tableKeys
	BySent, ByRecv, ByTotal, Mode  key.Binding
	CmdLine, Filter, Clear, Active key.Binding
	Group                          key.Binding
	sort                           key.Binding // s, r and t in one, for the footer
}

func newProcessKeys() processKeys {
	return processKeys{
		table:   newTableKeys(),
		BySent:  key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort by sent")),
		ByRecv:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "sort by received")),
		ByTotal: key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "sort by total")),
		Mode:    key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "rate/cumulative")),
		CmdLine: key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "command line/name")),
		Filter:  key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Clear:   key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Active:  key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "active only")),
		Group:   key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "group by container")),
		sort:    key.NewBinding(key.WithKeys("s", "r", "t"), key.WithHelp("s/r/t", "sort sent/recv/total")),
	}
}

// Process orders as Prefs.ProcessSort names them.
var processSortNames = map[string]monitor.ProcessSort{
	"total": monitor.SortTotal, "sent": monitor.SortSent, "received": monitor.SortReceived,
}

// processesPane is the table of processes by traffic, like nethogs. The sorted rows are
// computed once per sample (or change of order or filter) in Update; View formats only the
// rows in sight, so ten thousand processes cost no more to draw than fifty. The bytes no
// process was found for are the table's last row, never hidden.
type processesPane struct {
	state  *monitor.State
	styles *Styles
	prefs  *Prefs
	keys   processKeys
	filter *textInput
	replay bool   // there is no sampler: a replayed file, whose flows no process is known for
	active bool   // only the processes that moved bytes in the last interval
	group  bool   // one row per container
	text   string // the filter in force
	cont   bool   // a row has a container: the CONTAINER column is shown

	rows   []monitor.Process
	rc     rowCursor
	follow int // PID the cursor follows across samples; 0: the cursor keeps its place

	unattrib, unattribTot monitor.Counts
	share                 float64       // unattributed share of the session's bytes, 0..1
	elapsed               time.Duration // length of the last interval
	sampled               bool
	w, h                  int
}

func newProcessesPane(st *monitor.State, styles *Styles, pr *Prefs, replay bool) *processesPane {
	return &processesPane{
		state: st, styles: styles, prefs: pr, keys: newProcessKeys(), replay: replay,
		filter: newTextInput(styles, "/", "pid, user or command"),
	}
}

// query is what the table shows, from the preferences and the filter.
func (p *processesPane) query() monitor.ProcessQuery {
	return monitor.ProcessQuery{
		Sort:        processSortNames[p.prefs.ProcessSort],
		Cumulative:  p.prefs.Cumulative,
		Filter:      p.text,
		ActiveOnly:  p.active,
		ByContainer: p.group,
	}
}

// Title names the pane, counts its rows and says the order and the filter.
func (p *processesPane) Title() string {
	if !p.sampled {
		return "Processes"
	}
	order := p.prefs.ProcessSort
	if p.prefs.Cumulative {
		order += " (session)"
	} else {
		order += "/s"
	}
	t := fmt.Sprintf("Processes · %d · by %s", len(p.rows), order)
	if p.state.CaptureOn() {
		t += " · from packets"
	}
	if p.group {
		t += " · by container"
	}
	if p.active {
		t += " · active only"
	}
	if p.text != "" {
		t += fmt.Sprintf(" · filter %q", p.text)
	}
	if vis := p.visible(); len(p.rows) > vis && vis > 0 {
		from, to := p.rc.window(len(p.rows), vis)
		t += fmt.Sprintf(" · %d-%d", from+1, to)
	}
	return t
}

// Editing reports whether the filter is being typed.
func (p *processesPane) Editing() bool { return p.filter.Active() }

// ShortHelp returns the pane's main keys for the footer.
func (p *processesPane) ShortHelp() []key.Binding {
	k := p.keys
	if p.Editing() {
		return []key.Binding{inputKeys.Submit, inputKeys.Cancel}
	}
	return []key.Binding{k.sort, k.Filter, k.Mode, k.CmdLine}
}

// FullHelp returns all the pane's keys.
func (p *processesPane) FullHelp() [][]key.Binding {
	k := p.keys
	return [][]key.Binding{
		{k.BySent, k.ByRecv, k.ByTotal, k.Mode, k.CmdLine, k.Filter, k.Clear, k.Active, k.Group},
		k.table.bindings(),
	}
}

// SetSize records the inside size of the pane.
func (p *processesPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.rc.clamp(len(p.rows), p.visible())
}

// visible is how many process rows fit under the header and above the unattributed row (and
// the filter line while it is open).
func (p *processesPane) visible() int {
	return tableRows(p.h, 2, p.Editing())
}

// Update refreshes the rows on a new sample, moves the cursor, and changes the order and the
// filter.
func (p *processesPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case SampleMsg:
		p.sampled = true
		if msg.Sample != nil && msg.Sample.Elapsed > 0 {
			p.elapsed = msg.Sample.Elapsed
		}
		p.refresh()
	case BatchMsg: // with capture, the bytes of processes come from the batches
		if b := msg.Batch; b != nil {
			p.sampled = true
			if p.replay && b.End.After(b.Start) {
				p.elapsed = b.End.Sub(b.Start)
			}
			p.refresh()
		}
	case refreshMsg:
		p.refresh()
	case tea.KeyMsg:
		if p.Editing() {
			p.edit(msg)
		} else {
			p.key(msg)
		}
	case paneMouseMsg:
		p.mouse(msg)
	}
	return nil
}

func (p *processesPane) key(msg tea.KeyMsg) {
	k := p.keys
	if p.rc.key(k.table, msg, len(p.rows), p.visible()) {
		p.followCursor()
		return
	}
	switch {
	case key.Matches(msg, k.BySent):
		p.prefs.ProcessSort = "sent"
	case key.Matches(msg, k.ByRecv):
		p.prefs.ProcessSort = "received"
	case key.Matches(msg, k.ByTotal):
		p.prefs.ProcessSort = "total"
	case key.Matches(msg, k.Mode):
		p.prefs.Cumulative = !p.prefs.Cumulative
	case key.Matches(msg, k.CmdLine):
		p.prefs.ProgramOnly = !p.prefs.ProgramOnly
		return // the rows stay as they are
	case key.Matches(msg, k.Active):
		p.active = !p.active
	case key.Matches(msg, k.Group):
		p.group = !p.group
	case key.Matches(msg, k.Filter):
		p.filter.Open(p.text)
		p.rc.clamp(len(p.rows), p.visible())
		return
	case key.Matches(msg, k.Clear):
		if p.text == "" {
			return
		}
		p.text = ""
	default:
		return
	}
	p.top()
}

// edit applies a key to the open filter: the rows follow each change; enter keeps the filter,
// esc restores the one before.
func (p *processesPane) edit(msg tea.KeyMsg) {
	switch p.filter.Update(msg) {
	case inputChanged:
		p.text = strings.TrimSpace(p.filter.Value())
		p.top()
	case inputSubmitted:
		p.text = strings.TrimSpace(p.filter.Value())
		p.filter.Close()
		p.top()
	case inputCancelled:
		p.text = p.filter.Before()
		p.filter.Close()
		p.top()
	}
}

// mouse selects the clicked row and scrolls with the wheel.
func (p *processesPane) mouse(msg paneMouseMsg) {
	n, vis := len(p.rows), p.visible()
	switch {
	case msg.wheel != 0:
		p.rc.wheel(msg.wheel*wheelRows, n, vis)
	case msg.click && p.rc.click(msg.y-1, n, vis): // below the header
	default:
		return
	}
	p.followCursor()
}

// followCursor makes the cursor follow the process it is on across samples; at the top of
// the table, it stays at the top.
func (p *processesPane) followCursor() {
	p.follow = 0
	if p.rc.cursor > 0 && p.rc.cursor < len(p.rows) {
		p.follow = p.rows[p.rc.cursor].PID
	}
}

// top goes back to the first row of a new order or filter.
func (p *processesPane) top() {
	p.rc, p.follow = rowCursor{}, 0
	if p.sampled {
		p.refresh()
	}
}

// refresh queries the State for the rows, keeps the cursor on the process it follows, and
// works out the unattributed share of the session's bytes.
func (p *processesPane) refresh() {
	q := p.query()
	p.rows = p.state.Processes(q)
	p.cont = false
	for i := range p.rows {
		if p.rows[i].Container != "" {
			p.cont = true
			break
		}
	}
	if p.follow != 0 {
		for i := range p.rows {
			if p.rows[i].PID == p.follow {
				p.rc.cursor = i
				break
			}
		}
	}
	p.rc.clamp(len(p.rows), p.visible())
	p.unattrib, p.unattribTot = p.state.Unattributed()
	if p.state.CaptureOn() { // a share of the captured bytes
		_, p.share = p.state.UnattributedShare()
		return
	}
	all := p.rows
	if q.ActiveOnly || q.Filter != "" { // the share is of every process's bytes
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

// columns decides which columns fit in w cells: USER gives way first, then the figures the
// table is not ordered by (the totals in rate mode, the rates in cumulative mode).
type columns struct {
	user, rates, totals bool
	container           bool // the CONTAINER column (only when a row has a container)
	program             int
}

func layoutColumns(w int, cumulative, container bool) columns {
	c := columns{user: true, rates: true, totals: true, container: container}
	fixed := func() int {
		n := 1 + 1 + pidWidth + 1
		if c.user {
			n += userWidth + 1
		}
		if c.container {
			n += contWidth + 1
		}
		if c.rates {
			n += 2 * (rateWidth + 1)
		}
		if c.totals {
			n += 2 * (totalWidth + 1)
		}
		return n
	}
	if w-fixed() < minProgram {
		c.container = false
	}
	if w-fixed() < minProgram {
		c.user = false
	}
	if w-fixed() < minProgram {
		if cumulative {
			c.rates = false
		} else {
			c.totals = false
		}
	}
	c.program = max(w-fixed(), 1)
	return c
}

// View renders the header, the rows in sight, the unattributed row and the filter input, in
// w x h cells.
func (p *processesPane) View(w, h int) []string {
	if w <= 0 || h <= 0 {
		return nil
	}
	st := p.styles
	if !p.sampled {
		return centred(st.Message.Render("waiting for the first sample…"), w, h)
	}
	c := layoutColumns(w, p.prefs.Cumulative, p.cont && !p.group)
	lines := make([]string, 0, h)
	lines = append(lines, p.header(c))
	vis := max(h-2, 0)
	if p.Editing() {
		vis = max(vis-1, 0)
	}
	rc := p.rc
	rc.clamp(len(p.rows), vis)
	from, to := rc.window(len(p.rows), vis)
	for i := from; i < to; i++ {
		lines = append(lines, p.row(&p.rows[i], c, i == rc.cursor, w))
	}
	if len(p.rows) == 0 && vis > 0 {
		msg := "  no process has moved bytes yet"
		switch {
		case p.replay:
			msg = "  a replay cannot tell processes: only live sockets name them"
		case p.text != "":
			msg = fmt.Sprintf("  no process matches %q", p.text)
		}
		lines = append(lines, st.Message.Render(msg))
	}
	lines = append(lines, p.unattributedRow(c)) // under the last row, or the last line when they fill the pane
	if !p.Editing() {
		return block(lines, w, h)
	}
	return append(block(lines, w, h-1), p.filter.View(w))
}

// header titles the columns; the ones that set the order carry a ▼.
func (p *processesPane) header(c columns) string {
	q := p.query()
	mark := func(title string, sort monitor.ProcessSort, cumulative bool) string {
		if q.Cumulative == cumulative && (q.Sort == sort || q.Sort == monitor.SortTotal) {
			return title + "▼"
		}
		return title
	}
	program := "COMMAND"
	if p.prefs.ProgramOnly {
		program = "PROGRAM"
	}
	cells := []string{" ", fitRight("PID", pidWidth)}
	if c.user {
		cells = append(cells, fit("USER", userWidth))
	}
	if c.container {
		cells = append(cells, fit("CONTAINER", contWidth))
	}
	cells = append(cells, fit(program, c.program))
	if c.rates {
		cells = append(cells,
			fitRight(mark("SENT/s", monitor.SortSent, false), rateWidth),
			fitRight(mark("RECV/s", monitor.SortReceived, false), rateWidth))
	}
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
	sty := func(s Style) Style {
		if selected {
			return st.Plain
		}
		return s
	}
	rate := func(v float64, s Style) string {
		if v == 0 {
			s = st.Muted
		}
		return sty(s).Render(fitRight(formatRate(v, p.prefs.bits()), rateWidth))
	}
	marker := " "
	if selected {
		marker = "›"
	}
	name, args := programName(pr)
	program := sty(st.Text).Render(fit(strings.TrimSuffix(name, ":"), c.program))
	if !p.prefs.ProgramOnly && args != "" && width(name)+1 < c.program {
		program = sty(st.Text).Render(name) + " " + sty(st.Muted).Render(fit(args, c.program-width(name)-1))
	}
	pid := strconv.Itoa(pr.PID)
	if pr.PID == 0 { // a container's row
		pid = "-"
	}
	cells := []string{marker, sty(st.Muted).Render(fitRight(pid, pidWidth))}
	if c.user {
		cells = append(cells, sty(st.Muted).Render(fit(pr.User, userWidth)))
	}
	if c.container {
		cells = append(cells, sty(st.Muted).Render(fit(pr.Container, contWidth)))
	}
	cells = append(cells, program)
	if c.rates {
		cells = append(cells, rate(pr.TxRate, st.TxChart), rate(pr.RxRate, st.RxChart))
	}
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
	if c.container {
		cells = append(cells, fit("-", contWidth))
	}
	label := "(unattributed)"
	if c.program >= 32 {
		label = fmt.Sprintf("(unattributed) %.1f%% of bytes", 100*p.share)
	}
	cells = append(cells, fit(label, c.program))
	if c.rates {
		cells = append(cells,
			fitRight(formatRate(tx, p.prefs.bits()), rateWidth),
			fitRight(formatRate(rx, p.prefs.bits()), rateWidth))
	}
	if c.totals {
		cells = append(cells,
			fitRight(formatBytes(float64(p.unattribTot.TxBytes)), totalWidth),
			fitRight(formatBytes(float64(p.unattribTot.RxBytes)), totalWidth))
	}
	return p.styles.Unattributed.Render(strings.Join(cells, " "))
}

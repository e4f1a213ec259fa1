package ui

import (
	"slices"
	"strings"
	"time"

	"github.com/NimbleMarkets/ntcharts/sparkline"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/wiretop/wiretop/monitor"
)

// statsWidth is the width of the figures column beside each chart: "Cur" and a rate.
// axisWidth is the width of the y axis labels, the widest being "1.25 Gbit/s", fixed so that
// the two charts line up and keep their place when the unit changes.
const (
	statsWidth = 18
	axisWidth  = 11
)

type bandwidthKeys struct {
	Next, Prev key.Binding
}

// bandwidthPane charts what the selected interface received and sent, like nload: one chart
// per direction with Cur, Avg, Min, Max and Total beside it. The charts draw the bounded
// history of monitor.Series, rebuilt whenever it changes, so ntcharts never accumulates points.
type bandwidthPane struct {
	state    *monitor.State
	styles   *Styles
	prefs    *prefs
	keys     bandwidthKeys
	iface    string
	interval time.Duration // the sampling interval; 0 until known
	fixed    bool          // interval came from Options and is not guessed from samples

	w, h                     int
	gen                      int      // bumped by every change that alters the picture
	cache                    []string // the rendered picture of generation cacheGen at size cacheW x cacheH
	cacheGen, cacheW, cacheH int
	hist                     []float64 // scratch buffer for Series.History
}

func newBandwidthPane(st *monitor.State, styles *Styles, pr *prefs, iface string, interval time.Duration) *bandwidthPane {
	return &bandwidthPane{
		state: st, styles: styles, prefs: pr, iface: iface,
		interval: interval, fixed: interval > 0,
		gen: 1,
		keys: bandwidthKeys{
			Next: key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "next interface")),
			Prev: key.NewBinding(key.WithKeys("I"), key.WithHelp("I", "prev interface")),
		},
	}
}

// Title names the pane and the interface it shows.
func (p *bandwidthPane) Title() string {
	unit := "bytes"
	if p.prefs.bits {
		unit = "bits"
	}
	return "Bandwidth · " + p.iface + " · " + unit
}

// ShortHelp returns the pane's keys for the footer.
func (p *bandwidthPane) ShortHelp() []key.Binding { return []key.Binding{p.keys.Next} }

// FullHelp returns the pane's keys for the full help.
func (p *bandwidthPane) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.keys.Next, p.keys.Prev}}
}

// SetSize records the inside size of the pane.
func (p *bandwidthPane) SetSize(w, h int) { p.w, p.h = w, h }

// Update marks the charts for redrawing on a new sample or a unit change, and cycles
// through the interfaces.
func (p *bandwidthPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case SampleMsg:
		if !p.fixed && msg.Sample != nil && msg.Sample.Elapsed > 0 {
			p.interval = msg.Sample.Elapsed.Round(100 * time.Millisecond)
		}
		p.gen++
	case prefsChangedMsg:
		p.gen++
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, p.keys.Next):
			p.cycle(1)
		case key.Matches(msg, p.keys.Prev):
			p.cycle(-1)
		}
	}
	return nil
}

// cycle selects the next (or previous) interface of State.InterfaceNames.
func (p *bandwidthPane) cycle(step int) {
	names := p.state.InterfaceNames()
	i := slices.Index(names, p.iface) // -1 when not seen yet: start from the first
	if i < 0 && step < 0 {
		i = 0
	}
	p.iface = names[(i+step+len(names))%len(names)]
	p.gen++
}

// View renders the two charts in w x h cells. The picture is cached until the next sample,
// key or resize, so repeated renders cost nothing.
func (p *bandwidthPane) View(w, h int) []string {
	if p.cache != nil && p.cacheGen == p.gen && p.cacheW == w && p.cacheH == h {
		return p.cache
	}
	p.cache, p.cacheGen, p.cacheW, p.cacheH = p.render(w, h), p.gen, w, h
	return p.cache
}

func (p *bandwidthPane) render(w, h int) []string {
	if w <= 0 || h <= 0 {
		return nil
	}
	f := p.state.Interface(p.iface)
	switch {
	case p.state.Time().IsZero():
		return centred(p.styles.Message.Render("waiting for the first sample…"), w, h)
	case f == nil || f.Rx.Len() == 0:
		return centred(p.styles.Message.Render("no counters for "+p.iface+" yet"), w, h)
	}
	rx := direction{"▼ RX", "received", f.Rx, f.RxPackets, f.RxErrors, f.RxDropped, p.styles.RxTitle, p.styles.RxChart}
	tx := direction{"▲ TX", "sent", f.Tx, f.TxPackets, f.TxErrors, f.TxDropped, p.styles.TxTitle, p.styles.TxChart}
	// Stacked like nload when there is height for two charts of a few rows; side by side in
	// a wide, flat pane.
	if h >= 10 || w < 2*(statsWidth+24) {
		top := h / 2
		return append(p.direction(rx, w, top), p.direction(tx, w, h-top)...)
	}
	lw := (w - 1) / 2
	return besides(p.direction(rx, lw, h), lw, 1, p.direction(tx, w-lw-1, h), w-lw-1)
}

// direction is one way of the traffic of an interface.
type direction struct {
	name, verb          string
	s                   *monitor.Series
	packets, errs, drop uint64
	title, chart        lipgloss.Style
}

// direction renders one chart with its figures beside it, in w x h cells.
func (p *bandwidthPane) direction(d direction, w, h int) []string {
	sw := statsWidth
	if w < sw+12 {
		sw = 0 // too narrow for figures: the chart alone
	}
	cw := w - sw
	if sw > 0 {
		cw-- // gap
	}
	chart := p.chart(d.s, cw, h, d.chart)
	if sw == 0 {
		return block(chart, w, h)
	}
	return besides(chart, cw, 1, p.figures(d, h), sw)
}

// figures are nload's Cur/Avg/Min/Max/Ttl, then the windowed averages and the packet
// counters as far as the height allows.
func (p *bandwidthPane) figures(d direction, h int) []string {
	st := p.styles
	bits := p.prefs.bits
	row := func(label, value string, vs lipgloss.Style) string {
		return st.Label.Render(fit(label, 4)) + " " + vs.Render(fitRight(value, statsWidth-5))
	}
	s := d.s
	lines := []string{
		d.title.Render(d.name) + " " + st.Muted.Render(d.verb),
		row("Cur", formatRate(s.Cur, bits), st.Value),
		row("Avg", formatRate(s.Avg, bits), st.Value),
		row("Min", formatRate(s.Min, bits), st.Value),
		row("Max", formatRate(s.Max, bits), st.Value),
		row("Ttl", formatBytes(float64(s.Total)), st.Value),
	}
	for i, win := range monitor.Windows {
		lines = append(lines, row(monitor.WindowNames[i], formatRate(s.Window(win), bits), st.Muted))
	}
	lines = append(lines, row("Pkts", formatCount(d.packets), st.Muted))
	errStyle := st.Muted
	if d.errs+d.drop > 0 {
		errStyle = st.Warn
	}
	lines = append(lines, row("Drop", formatCount(d.drop), errStyle), row("Err", formatCount(d.errs), errStyle))
	if len(lines) > h {
		lines = lines[:h]
	}
	return lines
}

// chart draws the latest rates of s as columns in w x h cells: a y axis labelled in the
// display unit on the left, a time axis at the bottom. Each column is one interval.
func (p *bandwidthPane) chart(s *monitor.Series, w, h int, style lipgloss.Style) []string {
	st := p.styles
	if w <= 0 || h <= 0 {
		return nil
	}
	rows := h - 1 // the last row is the time axis
	if h < 3 {
		rows = h // no room for one
	}
	p.hist = s.History(p.hist, max(w-axisWidth-1, 1))
	factor := 1.0
	if p.prefs.bits {
		factor = 8
	}
	peak := 0.0
	for i, v := range p.hist {
		v *= factor
		p.hist[i] = v
		peak = max(peak, v)
	}
	top := niceCeil(peak, p.prefs.bits)
	labels := make([]string, rows)
	labels[0] = formatAxis(top, p.prefs.bits)
	if rows >= 5 {
		labels[rows/2] = formatAxis(top/2, p.prefs.bits)
	}
	if rows >= 2 {
		labels[rows-1] = "0"
	}
	lw := axisWidth
	dw := w - lw - 1
	if dw < 1 {
		return block(nil, w, h)
	}
	data := p.hist
	if len(data) > dw {
		data = data[len(data)-dw:]
	}
	sl := sparkline.New(dw, rows, sparkline.WithNoAutoMaxValue(), sparkline.WithMaxValue(top), sparkline.WithStyle(style))
	sl.PushAll(data)
	sl.Draw()
	cols := strings.Split(sl.View(), "\n")
	out := make([]string, 0, h)
	for i := 0; i < rows; i++ {
		tick := "│"
		if labels[i] != "" {
			tick = "┤"
		}
		c := ""
		if i < len(cols) {
			c = cols[i]
		}
		out = append(out, st.Axis.Render(fitRight(labels[i], lw)+tick)+c)
	}
	if rows < h {
		out = append(out, st.Axis.Render(strings.Repeat(" ", lw)+"└"+p.timeAxis(dw)))
	}
	return out
}

// timeAxis is the bottom line of a chart dw columns wide: how far back its left edge is, and
// "now" at the right.
func (p *bandwidthPane) timeAxis(dw int) string {
	line := strings.Repeat("─", dw)
	if p.interval <= 0 || dw < 12 {
		return line
	}
	left := "-" + formatDuration(time.Duration(dw)*p.interval)
	right := "now"
	return left + strings.Repeat("─", max(dw-width(left)-width(right), 0)) + right
}

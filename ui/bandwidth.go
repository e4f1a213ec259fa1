package ui

import (
	"fmt"
	"slices"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/monitor"
)

// statsWidth is the width of the figures column beside each chart: "Cur" and a rate.
const statsWidth = 18

// peakDecay is how much of the chart's peak remains after each interval once the traffic that
// set it has calmed down or scrolled out of sight: the scale comes back down over a few
// intervals instead of sticking to a burst (ntcharts' sparkline keeps its highest maximum
// forever).
const peakDecay = 0.8

type bandwidthKeys struct {
	Next, Prev key.Binding
}

// bandwidthPane charts what the selected interface received and sent, like nload: one chart
// per direction with Cur, Avg, Min, Max and Total beside it. Each sample copies the figures
// and a bounded window of rates (monitor.Series keeps the last HistoryLen intervals) into the
// pane, and the charts are redrawn from that copy, so nothing accumulates and a paused
// display keeps its picture.
type bandwidthPane struct {
	state    *monitor.State
	styles   *Styles
	prefs    *Prefs
	keys     bandwidthKeys
	iface    string
	ascii    bool
	interval time.Duration // the sampling interval; 0 until known
	fixed    bool          // interval came from Options and is not guessed from samples

	base monitor.Baselines // what is usual for this hour of the week (nil without history)

	snap      bandwidthSnapshot
	peak      [2]float64     // decaying peak of each direction's chart, bytes per second
	shown     [2]int         // how many intervals each chart showed at its last drawing
	taken     int            // intervals of the interface at the last copy
	takenFrom *monitor.Iface // the interface of the last copy

	w, h                     int
	gen                      int      // bumped by every change that alters the picture
	cache                    []string // the picture of generation cacheGen at size cacheW x cacheH
	cacheGen, cacheW, cacheH int
}

// bandwidthSnapshot is what the pane shows of one interface.
type bandwidthSnapshot struct {
	sampled bool // a sample has been applied
	known   bool // the interface has counters
	dirs    [2]dirFigures
}

// dirFigures are one direction's figures and chart history.
type dirFigures struct {
	cur, avg, min, max   float64 // bytes per second
	total                uint64  // bytes over the session
	windows              [len(monitor.Windows)]float64
	packets, errs, drops uint64
	hist                 []float64 // interval rates, oldest first

	usual   float64   // the same hour of the week's median, bytes per second
	usualOK bool      // a baseline with at least one week
	usualAt time.Time // the hour it describes
}

func newBandwidthPane(st *monitor.State, styles *Styles, pr *Prefs, iface string, interval time.Duration, ascii bool) *bandwidthPane {
	return &bandwidthPane{
		state: st, styles: styles, prefs: pr, iface: iface, ascii: ascii,
		interval: interval, fixed: interval > 0,
		gen: 1,
		keys: bandwidthKeys{
			Next: key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "next interface")),
			Prev: key.NewBinding(key.WithKeys("I"), key.WithHelp("I", "previous interface")),
		},
	}
}

// Title names the pane, the interface and the unit.
func (p *bandwidthPane) Title() string {
	return "Bandwidth · " + p.iface + " · " + p.prefs.Units
}

// ShortHelp returns the pane's keys for the footer.
func (p *bandwidthPane) ShortHelp() []key.Binding { return []key.Binding{p.keys.Next} }

// FullHelp returns the pane's keys for the full help.
func (p *bandwidthPane) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.keys.Next, p.keys.Prev}}
}

// SetSize records the inside size of the pane.
func (p *bandwidthPane) SetSize(w, h int) { p.w, p.h = w, h }

// Update takes a new picture on a sample, redraws on a unit change, and cycles through the
// interfaces.
func (p *bandwidthPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case SampleMsg:
		if !p.fixed && msg.Sample != nil && msg.Sample.Elapsed > 0 {
			p.interval = msg.Sample.Elapsed.Round(100 * time.Millisecond)
		}
		p.take()
	case BatchMsg: // in a replay, batches feed the interfaces
		if !p.fixed && msg.Batch != nil && msg.Batch.End.After(msg.Batch.Start) && p.interval == 0 {
			p.interval = msg.Batch.End.Sub(msg.Batch.Start).Round(100 * time.Millisecond)
		}
		p.take()
	case refreshMsg:
		p.take()
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
	p.peak = [2]float64{}
	p.take()
}

// take copies the figures of the selected interface. For each new interval since the last
// copy, the chart peaks decay towards what is in sight.
func (p *bandwidthPane) take() {
	p.gen++
	s := &p.snap
	s.sampled = !p.state.Time().IsZero()
	f := p.state.Interface(p.iface)
	s.known = f != nil && f.Rx.Len() > 0
	if !s.known {
		return
	}
	decay := f.Rx.Len() != p.taken || f != p.takenFrom
	p.taken, p.takenFrom = f.Rx.Len(), f
	series := [2]*monitor.Series{f.Rx, f.Tx}
	packets := [2]uint64{f.RxPackets, f.TxPackets}
	errs := [2]uint64{f.RxErrors, f.TxErrors}
	drops := [2]uint64{f.RxDropped, f.TxDropped}
	for d, sr := range series {
		fig := &s.dirs[d]
		fig.cur, fig.avg, fig.min, fig.max, fig.total = sr.Cur, sr.Avg, sr.Min, sr.Max, sr.Total
		for i, win := range monitor.Windows {
			fig.windows[i] = sr.Window(win)
		}
		fig.packets, fig.errs, fig.drops = packets[d], errs[d], drops[d]
		fig.usualOK = false
		if p.base != nil && p.iface != monitor.AllInterfaces {
			// non-blocking: a cache that a goroutine of the history fills (history.Baselines)
			m := [2]monitor.Metric{monitor.MetricIfaceRx, monitor.MetricIfaceTx}[d]
			if b, ok := p.base.Baseline(m, p.iface, p.state.Time()); ok && b.Weeks > 0 {
				fig.usual, fig.usualOK, fig.usualAt = b.Median, true, p.state.Time()
			}
		}
		fig.hist = sr.History(fig.hist, 0)
		inSight := recentMax(fig.hist, max(p.shown[d], 1))
		if decay {
			p.peak[d] = max(inSight, p.peak[d]*peakDecay)
		} else {
			p.peak[d] = max(inSight, p.peak[d])
		}
	}
}

// recentMax is the largest of the last n values.
func recentMax(vals []float64, n int) float64 {
	m := 0.0
	for _, v := range vals[max(len(vals)-n, 0):] {
		m = max(m, v)
	}
	return m
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
	switch {
	case !p.snap.sampled:
		return centred(p.styles.Message.Render("waiting for the first sample…"), w, h)
	case !p.snap.known:
		return centred(p.styles.Message.Render("no counters for "+p.iface+" yet"), w, h)
	}
	st := p.styles
	rx := direction{0, "▼ RX", "received", st.RxTitle, st.RxChart}
	tx := direction{1, "▲ TX", "sent", st.TxTitle, st.TxChart}
	// Stacked like nload when there is height for two charts of a few rows; side by side in
	// a wide, flat pane.
	if h >= 10 || w < 2*(statsWidth+24) {
		top := h / 2
		return append(p.direction(rx, w, top), p.direction(tx, w, h-top)...)
	}
	lw := (w - 1) / 2
	return besides(p.direction(rx, lw, h), lw, 1, p.direction(tx, w-lw-1, h), w-lw-1)
}

// direction is how one way of the traffic is labelled and drawn.
type direction struct {
	i            int // 0 rx, 1 tx
	name, verb   string
	title, chart Style
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
	chart := p.chart(d, cw, h)
	if sw == 0 {
		return block(chart, w, h)
	}
	return besides(chart, cw, 1, p.figures(d, h), sw)
}

// chart draws the latest rates of a direction in w x h cells, scaled to a round value above
// both the decaying peak and everything in sight.
func (p *bandwidthPane) chart(d direction, w, h int) []string {
	fig := &p.snap.dirs[d.i]
	factor := 1.0
	if p.prefs.bits() {
		factor = 8
	}
	n := chartSamples(w, p.ascii)
	p.shown[d.i] = n
	src := fig.hist[max(len(fig.hist)-n, 0):]
	vals := make([]float64, len(src))
	for i, v := range src {
		vals[i] = v * factor
	}
	top := niceCeil(max(recentMax(src, n), p.peak[d.i])*factor, p.prefs.bits())
	return drawChart(p.styles, chartSpec{
		values: vals, top: top, bits: p.prefs.bits(), ascii: p.ascii,
		interval: p.interval, style: d.chart,
	}, w, h)
}

// figures are nload's Cur/Avg/Min/Max/Ttl, then the windowed averages and the packet
// counters as far as the height allows.
func (p *bandwidthPane) figures(d direction, h int) []string {
	st := p.styles
	bits := p.prefs.bits()
	row := func(label, value string, vs Style) string {
		return st.Label.Render(fit(label, 4)) + " " + vs.Render(fitRight(value, statsWidth-5))
	}
	f := &p.snap.dirs[d.i]
	lines := []string{
		d.title.Render(d.name) + " " + st.Muted.Render(d.verb),
		row("Cur", formatRate(f.cur, bits), st.Value),
		row("Avg", formatRate(f.avg, bits), st.Value),
		row("Min", formatRate(f.min, bits), st.Value),
		row("Max", formatRate(f.max, bits), st.Value),
		row("Ttl", formatBytes(float64(f.total)), st.Value),
	}
	if f.usualOK {
		// "x% above the usual for Tuesday 14:00": the last 10 s against the same hour of the
		// week's median in the history
		lines = append(lines, row("Usu", formatRate(f.usual, bits), st.Muted), row("vs", usualDelta(f.windows[1], f.usual, f.usualAt), st.Muted))
	}
	for i := range monitor.Windows {
		lines = append(lines, row(monitor.WindowNames[i], formatRate(f.windows[i], bits), st.Muted))
	}
	lines = append(lines, row("Pkts", formatCount(f.packets), st.Muted))
	errStyle := st.Muted
	if f.errs+f.drops > 0 {
		errStyle = st.Warn
	}
	lines = append(lines, row("Drop", formatCount(f.drops), errStyle), row("Err", formatCount(f.errs), errStyle))
	if len(lines) > h {
		lines = lines[:h]
	}
	return lines
}

// usualDelta says how far rate is from the usual for the hour of at: "+35% Tue 14h".
func usualDelta(rate, usual float64, at time.Time) string {
	when := at.Format("Mon 15h")
	if usual <= 0 {
		if rate <= 0 {
			return "= " + when
		}
		return "new " + when
	}
	return fmt.Sprintf("%+.0f%% %s", 100*(rate-usual)/usual, when)
}

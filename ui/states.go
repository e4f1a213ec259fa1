package ui

import (
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

// Widths of the histogram's fixed columns (marker, state name, count, delta, with their
// separating blanks) and of a kernel counter ("ListenOverflows" and its value).
const (
	histFixed    = 1 + 1 + 10 + 1 + 1 + 7 + 1 + 6
	counterWidth = 16 + 1 + 6
)

// alarmStates pile up when something is wrong: SYN-RECV under a SYN flood or a full accept
// queue, CLOSE-WAIT when an application does not close its sockets. They stand out whenever
// they hold sockets, and more when they grow.
var alarmStates = map[string]bool{"SYN-RECV": true, "CLOSE-WAIT": true}

// surgeStates are normal in number but tell of trouble when they jump: TIME-WAIT piles up
// when a client opens and closes connections in a storm (and runs out of ports).
var surgeStates = map[string]bool{"TIME-WAIT": true}

// A surge is growth, within one interval, of at least surgeMin sockets and at least a
// quarter of the previous count.
const surgeMin = 10

// surge reports whether a count grew by a surge since the previous interval.
func surge(count, delta int) bool {
	return delta >= surgeMin && delta*4 >= count-delta
}

// kernelCounter is one line of the kernel TCP counters; alarm ones stand out when non-zero.
type kernelCounter struct {
	name  string
	value func(*sampler.KernelTCP) uint64
	alarm bool
}

// kernelCounters in the order they show: the signs of trouble first.
var kernelCounters = []kernelCounter{
	{"ListenOverflows", func(k *sampler.KernelTCP) uint64 { return k.ListenOverflows }, true},
	{"ListenDrops", func(k *sampler.KernelTCP) uint64 { return k.ListenDrops }, true},
	{"SyncookiesSent", func(k *sampler.KernelTCP) uint64 { return k.SyncookiesSent }, true},
	{"TCPReqQFullDrop", func(k *sampler.KernelTCP) uint64 { return k.TCPReqQFullDrop }, true},
	{"RetransSegs", func(k *sampler.KernelTCP) uint64 { return k.RetransSegs }, false},
	{"EstabResets", func(k *sampler.KernelTCP) uint64 { return k.EstabResets }, false},
	{"AttemptFails", func(k *sampler.KernelTCP) uint64 { return k.AttemptFails }, false},
	{"OutRsts", func(k *sampler.KernelTCP) uint64 { return k.OutRsts }, false},
	{"InErrs", func(k *sampler.KernelTCP) uint64 { return k.InErrs }, true},
	{"ActiveOpens", func(k *sampler.KernelTCP) uint64 { return k.ActiveOpens }, false},
	{"PassiveOpens", func(k *sampler.KernelTCP) uint64 { return k.PassiveOpens }, false},
	{"SyncookiesRecv", func(k *sampler.KernelTCP) uint64 { return k.SyncookiesRecv }, false},
	{"SyncookiesFailed", func(k *sampler.KernelTCP) uint64 { return k.SyncookiesFailed }, true},
}

type statesKeys struct {
	Session key.Binding
}

// statesPane shows the TCP state histogram of the latest sample, with the change since the
// previous one, and beside it the kernel's TCP counters of the interval (or the session). It
// copies what it shows on each sample, so a paused display keeps its picture.
type statesPane struct {
	state   *monitor.State
	styles  *Styles
	keys    statesKeys
	session bool          // counters over the session instead of the last interval
	samples int           // samples applied, the baseline included
	replay  bool          // there is no sampler: a replayed file
	elapsed time.Duration // length of the last interval
	w, h    int

	states        []monitor.StateCount
	kernel, total sampler.KernelTCP
	sockets       int
}

func newStatesPane(st *monitor.State, styles *Styles, replay bool) *statesPane {
	return &statesPane{
		state: st, styles: styles, replay: replay,
		keys: statesKeys{
			Session: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "interval/session")),
		},
	}
}

// Title names the pane and counts the TCP sockets.
func (p *statesPane) Title() string {
	if p.samples == 0 {
		return "TCP states"
	}
	return "TCP states · " + strconv.Itoa(p.sockets) + " sockets"
}

// ShortHelp returns the pane's keys for the footer.
func (p *statesPane) ShortHelp() []key.Binding { return []key.Binding{p.keys.Session} }

// FullHelp returns the pane's keys for the full help.
func (p *statesPane) FullHelp() [][]key.Binding { return [][]key.Binding{{p.keys.Session}} }

// SetSize records the inside size of the pane.
func (p *statesPane) SetSize(w, h int) { p.w, p.h = w, h }

// Update counts samples and toggles between interval and session counters.
func (p *statesPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case SampleMsg:
		p.samples++
		if msg.Sample != nil && msg.Sample.Elapsed > 0 {
			p.elapsed = msg.Sample.Elapsed
		}
		p.take()
	case refreshMsg:
		p.take()
	case tea.KeyMsg:
		if key.Matches(msg, p.keys.Session) {
			p.session = !p.session
		}
	}
	return nil
}

// take copies the histogram and the counters of the latest sample.
func (p *statesPane) take() {
	p.states = p.state.TCPStates()
	p.kernel, p.total = p.state.Kernel()
	p.sockets = p.state.TCPSockets()
}

// View renders the histogram and the counters side by side when the pane is wide enough,
// one above the other otherwise.
func (p *statesPane) View(w, h int) []string {
	if w <= 0 || h <= 0 {
		return nil
	}
	if p.samples == 0 && p.replay {
		return centred(p.styles.Message.Render("a replay has no socket table: TCP states are live only"), w, h)
	}
	if p.samples == 0 {
		return centred(p.styles.Message.Render("waiting for the first sample…"), w, h)
	}
	states := p.states
	if w >= histFixed+12+3+counterWidth {
		hw := w - counterWidth - 3
		return block(besides(p.histogram(states, hw, h), hw, 3, p.counters(1, counterWidth, h), counterWidth), w, h)
	}
	hist := p.histogram(states, w, max(h-2, 1))
	if len(hist) >= h {
		return block(hist[:h], w, h)
	}
	lines := hist
	cols := max((w+2)/(counterWidth+2), 1)
	if h-len(hist) > 1+(len(kernelCounters)+cols-1)/cols {
		lines = append(lines, "") // a blank line when every counter fits anyway
	}
	return block(append(lines, p.counters(cols, (w-2*(cols-1))/cols, h-len(lines))...), w, h)
}

// histogram renders one line per TCP state, w cells wide and at most h lines: all states when
// they fit, otherwise the ones with sockets (and the alarm states) first.
func (p *statesPane) histogram(states []monitor.StateCount, w, h int) []string {
	if len(states) > h {
		keep := states[:0:0]
		for _, s := range states {
			if s.Count != 0 || s.Delta != 0 || alarmStates[s.Name] {
				keep = append(keep, s)
			}
		}
		states = keep
		if len(states) > h {
			states = states[:h]
		}
	}
	peak := 0
	for _, s := range states {
		peak = max(peak, s.Count)
	}
	bw := max(w-histFixed, 1)
	st := p.styles
	lines := make([]string, 0, len(states))
	for _, s := range states {
		name, barStyle, marker := st.Text, st.Bar, " "
		delta := 0
		if p.samples > 1 { // the first sample has nothing to compare with
			delta = s.Delta
		}
		alarm := alarmStates[s.Name] && s.Count > 0
		if alarm {
			name, barStyle, marker = st.Warn, st.BarWarn, st.Warn.Render("!")
		}
		if alarm && delta > 0 || surgeStates[s.Name] && surge(s.Count, delta) {
			name, barStyle, marker = st.Crit, st.BarCrit, st.Crit.Render("▲")
		}
		count := st.Value
		if s.Count == 0 {
			count = st.Muted
		}
		ds := st.Muted
		switch {
		case delta > 0 && (alarmStates[s.Name] || surgeStates[s.Name] && surge(s.Count, delta)):
			ds = st.Crit
		case delta < 0 && alarmStates[s.Name]:
			ds = st.Good
		}
		lines = append(lines, marker+" "+name.Render(fit(s.Name, 10))+" "+
			barStyle.Render(fit(bar(float64(s.Count), float64(peak), bw), bw))+" "+
			count.Render(fitRight(strconv.Itoa(s.Count), 7))+" "+
			ds.Render(fitRight(formatDelta(delta), 6)))
	}
	return lines
}

// eighths are the left-aligned block elements from one to seven eighths of a cell.
var eighths = []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}

// bar returns a horizontal bar of v relative to peak over w cells, in eighths of a cell.
// A non-zero value always shows at least a sliver.
func bar(v, peak float64, w int) string {
	if v <= 0 || peak <= 0 || w <= 0 {
		return ""
	}
	n := int(v / peak * float64(w) * 8)
	s := strings.Repeat("█", n/8) + eighths[n%8]
	if s == "" {
		s = eighths[1]
	}
	return s
}

// counters renders the kernel TCP counters under a heading, in cols columns of cw cells,
// as many as h lines hold.
func (p *statesPane) counters(cols, cw, h int) []string {
	st := p.styles
	src := &p.kernel
	head := "Kernel TCP · last interval"
	if p.elapsed > 0 {
		head = "Kernel TCP · last " + formatDuration(p.elapsed)
	}
	if p.session {
		src, head = &p.total, "Kernel TCP · session"
	}
	if h <= 0 {
		return nil
	}
	lines := []string{st.Title.Render(head)}
	rows := min((len(kernelCounters)+cols-1)/cols, h-1)
	cells := make([]string, 0, cols)
	for r := 0; r < rows; r++ {
		cells = cells[:0]
		for c := 0; c < cols; c++ {
			i := c*rows + r
			if i >= len(kernelCounters) {
				break
			}
			kc := kernelCounters[i]
			v := kc.value(src)
			vs := st.Value
			switch {
			case kc.alarm && v > 0:
				vs = st.Warn
			case v == 0:
				vs = st.Muted
			}
			cells = append(cells, st.Label.Render(fit(kc.name, cw-7))+" "+vs.Render(fitRight(formatCount(v), 6)))
		}
		lines = append(lines, strings.Join(cells, "  "))
	}
	return lines
}

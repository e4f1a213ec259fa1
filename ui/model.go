package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

// Model is the root Bubble Tea model: it owns the monitor.State, applies samples and batches,
// lays the panes out, keeps the focus and routes keys and mouse events. The header, status
// line, footer and help screen are in chrome.go, the geometry in layout.go.
type Model struct {
	opts   Options
	state  *monitor.State
	styles *Styles
	prefs  *Prefs
	saver  *prefsSaver
	keys   globalKeys
	help   help.Model

	bw    *bandwidthPane
	slots [numSlots]pane // nil where a pane is absent
	order []paneID       // the slots with a pane, in screen order: digit i+1 focuses order[i]
	focus int            // index in order

	width, height int
	grid          map[paneID]rect // where each pane is, body coordinates; nil: one pane at a time
	zoom          bool
	showHelp      bool
	helpOffset    int
	paused        bool
	pausedAt      time.Time

	status         []string
	samplerStopped bool
	captureStopped bool
	capture        captureInfo
	alerts         int
	saveErr        error
	batchErr       error
	footerCache    *footerLine
}

// NewModel returns the root model, ready for tea.NewProgram.
func NewModel(opts Options) Model {
	if opts.Interface == "" {
		opts.Interface = monitor.AllInterfaces
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	mo := monitor.Options{HistoryLen: 512} // charts up to 250 columns of Braille
	if c := opts.Capture; c != nil {
		mo.Capture = true
		if c.Replay() { // no sampler: the batches drive the clock and a pseudo-interface
			mo.Replay, mo.ReplayName = true, filepath.Base(c.Source())
			opts.Interface = mo.ReplayName
		}
	}
	st := monitor.New(mo)
	if c := opts.Capture; c != nil {
		st.SetCaptureInfo(c.BaseFilter(), c.PacketFilter())
	}
	styles := NewStyles(DefaultTheme())
	pr := opts.Prefs.withDefaults()
	h := help.New()
	h.Styles = styles.Help
	m := Model{
		opts:   opts,
		state:  st,
		styles: styles,
		prefs:  &pr,
		saver:  &prefsSaver{path: opts.PrefsPath},
		keys:   newGlobalKeys(),
		help:   h,
		status: opts.Status,

		footerCache: &footerLine{},
	}
	m.bw = newBandwidthPane(st, styles, m.prefs, opts.Interface, opts.Interval, opts.ASCII)
	m.bw.base = opts.Baselines
	m.setPane(slotBandwidth, m.bw)
	m.setPane(slotStates, newStatesPane(st, styles, mo.Replay))
	m.setPane(slotProcesses, newProcessesPane(st, styles, m.prefs, mo.Replay))
	if opts.Capture != nil {
		m.setPane(slotTalkers, newTalkersPane(st, styles, m.prefs, nil))
		m.setPane(slotPackets, newPacketsPane(st, styles, m.prefs, opts.Capture, opts.Clock))
	}
	if opts.Alerts != nil {
		m.setPane(slotAlerts, newAlertsPane(st, styles, opts.Alerts, opts.Clock))
	}
	if opts.History != nil {
		m.setPane(slotHistory, newHistoryPane(opts.History, styles, m.prefs, opts.Interface, opts.Clock))
	}
	return m
}

// setPane puts p in a slot (nil empties it) and renumbers the panes.
func (m *Model) setPane(id paneID, p pane) {
	m.slots[id] = p
	m.order = m.order[:0:0]
	for i, q := range m.slots {
		if q != nil {
			m.order = append(m.order, paneID(i))
		}
	}
	m.focus = min(m.focus, len(m.order)-1)
	m.layout()
}

// panes returns the present panes in screen order.
func (m *Model) panes() []pane {
	out := make([]pane, len(m.order))
	for i, id := range m.order {
		out[i] = m.slots[id]
	}
	return out
}

func (m *Model) focused() pane { return m.slots[m.order[m.focus]] }

// Run shows the TUI in the alternate screen, with the mouse, until the user quits or ctx is
// done, and returns the program's error. The terminal is restored in both cases. Colours
// follow the terminal's background and are dropped when NO_COLOR is set (lipgloss reads it).
func Run(ctx context.Context, opts Options) error {
	if isatty.IsTerminal(os.Stdout.Fd()) {
		// termenv takes a set CI variable to mean "not a terminal" and would drop every
		// colour; stdout is a terminal here, so only NO_COLOR, CLICOLOR and TERM decide.
		out := termenv.NewOutput(os.Stdout, termenv.WithTTY(true))
		lipgloss.DefaultRenderer().SetOutput(out)
		lipgloss.SetColorProfile(out.EnvColorProfile())
	}
	// Ask the terminal for its background before Bubble Tea reads the keyboard, so that the
	// answer does not land in the input (lipgloss caches it for the adaptive colours).
	lipgloss.HasDarkBackground()
	p := tea.NewProgram(NewModel(opts), tea.WithAltScreen(), tea.WithMouseCellMotion())
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			p.Quit()
		case <-done:
		}
	}()
	if _, err := p.Run(); err != nil {
		return fmt.Errorf("tui: %w", err)
	}
	return nil
}

// listen waits for the next value of a channel; wrap makes its message, done the one that
// says the channel was closed.
func listen[T any](ch <-chan T, wrap func(T) tea.Msg, done tea.Msg) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		v, ok := <-ch
		if !ok {
			return done
		}
		return wrap(v)
	}
}

func (m *Model) listenSamples() tea.Cmd {
	return listen(m.opts.Samples, func(s *sampler.Sample) tea.Msg { return chanSampleMsg{s} }, SamplerStoppedMsg{})
}

func (m *Model) listenBatches() tea.Cmd {
	return listen(m.opts.Batches, func(b *capture.Batch) tea.Msg { return chanBatchMsg{b} }, CaptureStoppedMsg{})
}

// Init starts reading the channels and asks the capture what it is doing.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.listenSamples(), m.listenBatches(), readCapture(m.opts.Capture))
}

// Update applies samples and batches, handles the global keys and routes the rest to the
// panes.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case chanSampleMsg:
		return m, tea.Batch(m.apply(SampleMsg(msg)), m.listenSamples())
	case SampleMsg:
		return m, m.apply(msg)
	case chanBatchMsg:
		return m, tea.Batch(m.applyBatch(BatchMsg(msg)), m.listenBatches())
	case BatchMsg:
		return m, m.applyBatch(msg)
	case captureInfoMsg:
		batches := m.capture.batches
		m.capture = captureInfo(msg)
		m.capture.batches = batches
		m.state.SetCaptureInfo(m.capture.baseFilter, m.capture.packetFilter)
		return m, m.broadcast(msg)
	case captureChangedMsg: // the packets pane changed the capture: it hears first, then all re-read it
		var cmd tea.Cmd
		if p := m.slots[slotPackets]; p != nil {
			cmd = m.toPane(p, msg)
		}
		return m, tea.Batch(cmd, readCapture(m.opts.Capture))
	case StatusMsg:
		m.status = msg.Lines
		return m, nil
	case AlertsMsg:
		m.alerts = msg.Firing
		return m, nil
	case SamplerStoppedMsg:
		m.samplerStopped = true
		return m, nil
	case CaptureStoppedMsg:
		m.captureStopped = true
		return m, nil
	case prefsSavedMsg:
		m.saveErr = msg.Err
		return m, nil
	case tea.KeyMsg:
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
			return m.keys1by1(msg)
		}
		return m.key(msg)
	case tea.MouseMsg:
		return m, m.mouse(msg)
	}
	return m, m.broadcast(msg)
}

// apply folds a sample into the state; the panes see it unless the display is paused.
func (m *Model) apply(msg SampleMsg) tea.Cmd {
	if msg.Sample == nil {
		return nil
	}
	m.state.Apply(msg.Sample)
	if f := m.opts.OnInterval; f != nil && !msg.Sample.Baseline && !msg.Sample.Refresh {
		f(m.state)
		m.noteAlerts()
	}
	if m.paused {
		return nil
	}
	return m.broadcast(msg)
}

// applyBatch records what the capture reports and passes the batch to the panes.
func (m *Model) applyBatch(msg BatchMsg) tea.Cmd {
	b := msg.Batch
	if b == nil {
		return nil
	}
	m.state.ApplyBatch(b)
	if f := m.opts.OnInterval; f != nil && m.opts.Capture != nil && m.opts.Capture.Replay() {
		f(m.state) // a replay has no sampler: each batch closes an interval
		m.noteAlerts()
	}
	if m.opts.RequestRefresh != nil && m.state.NeedRefresh() {
		m.opts.RequestRefresh() // non-blocking: the sampler answers with an extra sample
	}
	m.capture.stats, m.capture.batches = b.Stats, m.capture.batches+1
	m.batchErr = b.Err
	if p, ok := m.slots[slotPackets].(*packetsPane); ok {
		p.noteBatch(b) // even while paused: it counts what the ring holds
	}
	var cmd tea.Cmd
	if !m.paused {
		cmd = m.broadcast(msg)
	}
	return tea.Batch(cmd, readCapture(m.opts.Capture))
}

func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	cmds := make([]tea.Cmd, 0, len(m.order))
	for _, id := range m.order {
		cmds = append(cmds, m.slots[id].Update(msg))
	}
	return tea.Batch(cmds...)
}

// toPane routes a message to one pane; when it changed a preference, every pane hears of it
// and the preferences are saved.
func (m *Model) toPane(p pane, msg tea.Msg) tea.Cmd {
	before := *m.prefs
	cmd := p.Update(msg)
	m.layout() // an input opening or closing changes what fits
	if *m.prefs == before {
		return cmd
	}
	return tea.Batch(cmd, m.broadcast(prefsChangedMsg{}), m.saver.save(*m.prefs))
}

// togglePause freezes the panes' picture, or brings it up to date. Samples and batches are
// applied to the state all the while.
func (m *Model) togglePause() tea.Cmd {
	m.paused = !m.paused
	if m.paused {
		m.pausedAt = m.opts.Clock()
		return nil
	}
	return m.broadcast(refreshMsg{})
}

// layoutGrid is the grid in force: nil when zoomed, too small for one, or when the focused
// pane is not in it (the alerts pane).
func (m *Model) layoutGrid() map[paneID]rect {
	if m.zoom {
		return nil
	}
	if _, ok := m.grid[m.order[m.focus]]; !ok {
		return nil
	}
	return m.grid
}

// layout places the panes and tells each the inside size of its frame.
func (m *Model) layout() {
	var present [numSlots]bool
	for _, id := range m.order {
		present[id] = true
	}
	m.grid = arrange(present, m.width, m.bodyHeight())
	g := m.layoutGrid()
	for _, id := range m.order {
		r, ok := g[id]
		if !ok { // not in the grid: it fills the body when it has the focus
			r = rect{0, 0, m.width, m.bodyHeight()}
		}
		m.slots[id].SetSize(max(r.w-2, 0), max(r.h-2, 0))
	}
}

// View draws the header, the status line, the panes (or the help) and the key help.
func (m Model) View() string {
	if m.width == 0 || m.height == 0 {
		return ""
	}
	if m.tooSmall() {
		return m.tooSmallView()
	}
	bodyH := m.bodyHeight()
	var body []string
	switch g := m.layoutGrid(); {
	case m.showHelp:
		body = m.helpView(m.width, bodyH)
	case g != nil:
		body = m.gridView(g, bodyH)
	default:
		title, _ := tabStrip(m.styles, m.panes(), m.focus)
		body = frame(m.styles, m.focused().View(m.width-2, bodyH-2), title, m.width, bodyH, true)
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, m.header(), m.statusLine())
	lines = append(lines, body...)
	lines = append(lines, m.footer())
	return strings.Join(lines, "\n")
}

// gridView draws every pane in its box; boxes of a row share their lines.
func (m *Model) gridView(g map[paneID]rect, h int) []string {
	body := make([]string, h)
	for i, id := range m.order {
		r, ok := g[id]
		if !ok {
			continue // the alerts pane shows only when focused
		}
		p := m.slots[id]
		st := m.styles.Title
		if i == m.focus {
			st = m.styles.TitleFocused
		}
		title := st.Render(fmt.Sprintf("%d %s", i+1, p.Title()))
		for j, l := range frame(m.styles, p.View(r.w-2, r.h-2), title, r.w, r.h, i == m.focus) {
			if r.y+j < h {
				body[r.y+j] += l
			}
		}
	}
	return body
}

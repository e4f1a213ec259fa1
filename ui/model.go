package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/wiretop/wiretop/monitor"
	"github.com/wiretop/wiretop/sampler"
)

// Options configure the TUI.
type Options struct {
	// Samples is where the sampler sends one Sample per interval. The model reads it on its
	// own; when it is closed, the status line says the sampler stopped. Nil: samples arrive
	// as SampleMsg only.
	Samples <-chan *sampler.Sample
	// Interface is the interface the bandwidth pane shows first; "all" (monitor.AllInterfaces)
	// is the sum of every interface but loopback. Empty means "all".
	Interface string
	// Status are notes the caller wants in the status line, such as the capture state
	// ("no capture").
	Status []string
	// Interval is the sampling interval, for the time axis of the charts. Zero: taken from
	// the samples.
	Interval time.Duration
}

// SampleMsg carries one sampler Sample into the model, which applies it to its monitor.State.
type SampleMsg struct{ Sample *sampler.Sample }

// StatusMsg replaces the caller's notes in the status line (Options.Status).
type StatusMsg struct{ Lines []string }

// SamplerStoppedMsg tells the model that Options.Samples was closed.
type SamplerStoppedMsg struct{}

// chanSampleMsg is a SampleMsg read from Options.Samples: handling it re-arms the reader.
type chanSampleMsg struct{ Sample *sampler.Sample }

// Smallest terminal the dashboard draws in, and the size from which all panes show at once
// (below it, the focused pane alone fills the screen).
const (
	minWidth, minHeight   = 60, 16
	fullWidth, fullHeight = 110, 30
)

// pane is one box of the screen (pug's ChildModel with its HelpBindings). Panes are pointers
// that share the model's monitor.State; Update reacts to messages routed to the pane (keys
// only when it has focus), View renders w x h cells of what Update computed.
type pane interface {
	Title() string
	Update(msg tea.Msg) tea.Cmd
	SetSize(w, h int)
	View(w, h int) []string
	ShortHelp() []key.Binding
	FullHelp() [][]key.Binding
}

// prefs are the display choices shared by all panes.
type prefs struct {
	bits bool // show rates in bits per second (1000-based) instead of bytes (1024-based)
}

// prefsChangedMsg is routed to every pane when prefs change.
type prefsChangedMsg struct{}

type globalKeys struct {
	Next, Prev, Focus, Units, Help, Quit key.Binding
}

func newGlobalKeys() globalKeys {
	return globalKeys{
		Next:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		Prev:  key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "prev pane")),
		Focus: key.NewBinding(key.WithKeys("1", "2", "3"), key.WithHelp("1-3", "focus pane")),
		Units: key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "bits/bytes")),
		Help:  key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
		Quit:  key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// Model is the root Bubble Tea model: it owns the monitor.State, applies samples, lays the
// panes out, keeps the focus and routes keys to the focused pane.
type Model struct {
	opts   Options
	state  *monitor.State
	styles *Styles
	prefs  *prefs
	keys   globalKeys
	help   help.Model

	bw    *bandwidthPane
	panes []pane
	focus int

	width, height int
	status        []string
	stopped       bool
	fullHelp      bool
}

// NewModel returns the root model, ready for tea.NewProgram.
func NewModel(opts Options) Model {
	if opts.Interface == "" {
		opts.Interface = monitor.AllInterfaces
	}
	st := monitor.New(monitor.Options{})
	styles := NewStyles(DefaultTheme())
	pr := &prefs{}
	h := help.New()
	h.Styles = styles.Help
	bw := newBandwidthPane(st, styles, pr, opts.Interface, opts.Interval)
	return Model{
		opts:   opts,
		state:  st,
		styles: styles,
		prefs:  pr,
		keys:   newGlobalKeys(),
		help:   h,
		bw:     bw,
		panes: []pane{
			bw,
			newStatesPane(st, styles),
			newProcessesPane(st, styles, pr),
		},
		status: opts.Status,
	}
}

// Run shows the TUI in the alternate screen until the user quits or ctx is done, and returns
// the program's error. The terminal is restored in both cases.
func Run(ctx context.Context, opts Options) error {
	// Ask the terminal for its background before Bubble Tea reads the keyboard, so that the
	// answer does not land in the input (lipgloss caches it for the adaptive colours).
	lipgloss.HasDarkBackground()
	p := tea.NewProgram(NewModel(opts), tea.WithAltScreen())
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			p.Quit()
		case <-done:
		}
	}()
	_, err := p.Run()
	if err != nil {
		return fmt.Errorf("tui: %w", err)
	}
	return nil
}

// listen waits for the next sample of Options.Samples.
func listen(ch <-chan *sampler.Sample) tea.Cmd {
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		s, ok := <-ch
		if !ok {
			return SamplerStoppedMsg{}
		}
		return chanSampleMsg{s}
	}
}

// Init starts reading Options.Samples.
func (m Model) Init() tea.Cmd { return listen(m.opts.Samples) }

// Update applies samples, handles the global keys and routes the rest to the panes.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case chanSampleMsg:
		cmd := m.apply(SampleMsg(msg))
		return m, tea.Batch(cmd, listen(m.opts.Samples))
	case SampleMsg:
		return m, m.apply(msg)
	case StatusMsg:
		m.status = msg.Lines
		return m, nil
	case SamplerStoppedMsg:
		m.stopped = true
		return m, nil
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, m.broadcast(msg)
}

func (m *Model) apply(msg SampleMsg) tea.Cmd {
	if msg.Sample == nil {
		return nil
	}
	m.state.Apply(msg.Sample)
	return m.broadcast(msg)
}

func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	cmds := make([]tea.Cmd, 0, len(m.panes))
	for _, p := range m.panes {
		cmds = append(cmds, p.Update(msg))
	}
	return tea.Batch(cmds...)
}

func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(msg, m.keys.Next):
		m.focus = (m.focus + 1) % len(m.panes)
	case key.Matches(msg, m.keys.Prev):
		m.focus = (m.focus + len(m.panes) - 1) % len(m.panes)
	case key.Matches(msg, m.keys.Focus):
		m.focus = int(msg.String()[0]-'1') % len(m.panes)
	case key.Matches(msg, m.keys.Help):
		m.fullHelp = !m.fullHelp
	case key.Matches(msg, m.keys.Units):
		m.prefs.bits = !m.prefs.bits
		return m, m.broadcast(prefsChangedMsg{})
	default:
		return m, m.panes[m.focus].Update(msg)
	}
	m.layout()
	return m, nil
}

// full reports whether the terminal is large enough to show every pane at once.
func (m *Model) full() bool { return m.width >= fullWidth && m.height >= fullHeight }

// geometry is where the panes go: outer sizes, in the order of m.panes; a zero size hides one.
type geometry struct {
	w, h    [3]int
	topH    int // full layout: the height of the top row (bandwidth and states)
	headerH int
	footerH int
}

func (m *Model) geometry() geometry {
	g := geometry{headerH: 2, footerH: len(strings.Split(m.footer(), "\n"))}
	bodyH := max(m.height-g.headerH-g.footerH, 0)
	if !m.full() {
		g.w[m.focus], g.h[m.focus] = m.width, bodyH
		return g
	}
	// top row: bandwidth | TCP states; bottom row: processes across the whole width
	statesW := min(max(m.width*28/100, 50), 72)
	g.topH = min(max(bodyH/2, 18), bodyH-8)
	g.w[0], g.h[0] = m.width-statesW, g.topH
	g.w[1], g.h[1] = statesW, g.topH
	g.w[2], g.h[2] = m.width, bodyH-g.topH
	return g
}

// layout tells each pane the inside size of its frame.
func (m *Model) layout() {
	m.help.Width = max(m.width-1, 0) // the footer starts with a blank
	g := m.geometry()
	for i, p := range m.panes {
		p.SetSize(max(g.w[i]-2, 0), max(g.h[i]-2, 0))
	}
}

// View draws the header, the panes and the key help.
func (m Model) View() string {
	if m.width == 0 || m.height == 0 {
		return ""
	}
	if m.width < minWidth || m.height < minHeight {
		return m.tooSmall()
	}
	g := m.geometry()
	framed := func(i int) string {
		return frame(m.styles, m.panes[i].View(g.w[i]-2, g.h[i]-2), m.title(i), g.w[i], g.h[i], i == m.focus)
	}
	var body string
	if m.full() {
		body = lipgloss.JoinVertical(lipgloss.Left, joinColumns(framed(0), framed(1)), framed(2))
	} else {
		body = framed(m.focus)
	}
	return strings.Join([]string{m.header(), m.statusLine(), body, m.footer()}, "\n")
}

// tooSmall asks for a larger terminal, in the middle of the one there is.
func (m *Model) tooSmall() string {
	msg := []string{
		m.styles.Warn.Render(fmt.Sprintf("Terminal too small: %dx%d", m.width, m.height)),
		m.styles.Text.Render(fmt.Sprintf("wiretop needs at least %dx%d.", minWidth, minHeight)),
		m.styles.Muted.Render("Enlarge the window, or press q to quit."),
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

// title is a pane's frame title: "1 Bandwidth · eth0". When one pane fills the screen, the
// others are named after it so that the digits to reach them stay in sight.
func (m *Model) title(i int) string {
	st := m.styles.Title
	if i == m.focus {
		st = m.styles.TitleFocused
	}
	t := st.Render(fmt.Sprintf("%d %s", i+1, m.panes[i].Title()))
	if m.full() {
		return t
	}
	for j, p := range m.panes {
		if j != i {
			name, _, _ := strings.Cut(p.Title(), " · ")
			t += m.styles.TitleInactive.Render(fmt.Sprintf(" │ %d %s", j+1, name))
		}
	}
	return t
}

// header is the top line: the app, the interface, the session length and the sample clock.
func (m *Model) header() string {
	left := m.styles.AppName.Render(" wiretop ") + m.styles.Header.Render(" "+m.bw.iface+" ")
	right := "waiting for the first sample "
	if t := m.state.Time(); !t.IsZero() {
		right = fmt.Sprintf("up %s  %s ", formatDuration(m.state.Elapsed()), t.Format("15:04:05"))
	}
	gap := max(m.width-width(left)-width(right), 0)
	return fit(left+m.styles.Header.Render(strings.Repeat(" ", gap)+right), m.width)
}

// statusLine says what failed in the latest sample, then what wiretop can and cannot see.
// Failures come first so that a narrow terminal cuts the notes, not them.
func (m *Model) statusLine() string {
	var warns []string
	if m.stopped {
		warns = append(warns, "sampler stopped")
	}
	for _, err := range m.state.Errors() {
		warns = append(warns, err.Error())
	}
	line := " "
	if len(warns) > 0 {
		line += m.styles.StatusWarn.Render("⚠ "+strings.Join(warns, " · ")) + m.styles.Status.Render(" · ")
	}
	parts := append([]string(nil), m.status...)
	parts = append(parts, describeStatus(m.state.Status())...)
	return fit(line+m.styles.Status.Render(strings.Join(parts, " · ")), m.width)
}

// describeStatus turns the sampler's Status into short phrases for the status line.
func describeStatus(s sampler.Status) []string {
	var out []string
	switch s.SocketSource {
	case "sock_diag":
		out = append(out, "TCP per process from tcp_info")
		if !s.DestroyEvents {
			out = append(out, "no socket-destroy events")
		}
	case "proc":
		out = append(out, "sockets from /proc: no bytes per process")
	}
	switch {
	case s.ProcessScope == "all" || s.ProcessScope == "" && s.AllProcesses:
		if s.SocketSource != "" {
			out = append(out, "all processes")
		}
	case s.ProcessScope == "partial":
		out = append(out, "some processes hide their sockets")
	case s.ProcessScope == "own-uid" || s.SocketSource != "":
		out = append(out, "own processes only (not root)")
	}
	return append(out, s.Notes...)
}

// footer is the key help of the focused pane followed by the global keys.
func (m *Model) footer() string {
	p := m.panes[m.focus]
	g := m.keys
	if m.fullHelp {
		groups := append(p.FullHelp(), []key.Binding{g.Next, g.Prev, g.Focus, g.Units, g.Help, g.Quit})
		lines := strings.Split(m.help.FullHelpView(groups), "\n")
		for i, l := range lines {
			lines[i] = fit(" "+l, m.width)
		}
		return strings.Join(lines, "\n")
	}
	return fit(" "+m.help.ShortHelpView(append(p.ShortHelp(), g.Next, g.Units, g.Help, g.Quit)), m.width)
}

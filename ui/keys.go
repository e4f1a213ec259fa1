package ui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// globalKeys work whichever pane has the focus (except in a text input, which takes every
// key until esc or enter).
type globalKeys struct {
	Next, Prev, Focus, Zoom, Pause, Units, Help, Quit key.Binding
	Mouse                                             key.Binding // for the help screen only
}

func newGlobalKeys() globalKeys {
	return globalKeys{
		Next:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		Prev:  key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),
		Focus: key.NewBinding(key.WithKeys("1", "2", "3", "4", "5"), key.WithHelp("1-5", "focus pane")),
		Zoom:  key.NewBinding(key.WithKeys("enter", "z"), key.WithHelp("enter/z", "zoom")),
		Pause: key.NewBinding(key.WithKeys("p", " "), key.WithHelp("p/space", "pause")),
		Units: key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "bits/bytes")),
		Help:  key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:  key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Mouse: key.NewBinding(key.WithKeys("click"), key.WithHelp("click/wheel", "focus/scroll")),
	}
}

// short are the global keys the footer shows after the focused pane's.
func (g globalKeys) short() []key.Binding {
	return []key.Binding{g.Next, g.Zoom, g.Pause, g.Units, g.Help, g.Quit}
}

// full are the global keys of the help screen.
func (g globalKeys) full() []key.Binding {
	quit := key.NewBinding(key.WithKeys("q"), key.WithHelp("q/ctrl+c", "quit"))
	return []key.Binding{g.Next, g.Prev, g.Focus, g.Zoom, g.Pause, g.Units, g.Help, quit, g.Mouse}
}

// helpKeys are the keys of the help screen.
var helpKeys = struct{ Close, Up, Down, PageUp, PageDown key.Binding }{
	Close:    key.NewBinding(key.WithKeys("?", "esc", "enter"), key.WithHelp("?/esc", "close help")),
	Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "scroll up")),
	Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "scroll down")),
	PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u")),
	PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d", " ")),
}

// key handles a key press. A pane with an open text input gets every key; the help screen
// takes its own; then come the global keys, and the rest goes to the focused pane.
func (m Model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	p := m.focused()
	if ed, ok := p.(editor); ok && ed.Editing() {
		return m, m.toPane(p, msg)
	}
	if kc, ok := p.(keyClaimer); ok && !m.showHelp && kc.ClaimsKey(msg) {
		return m, m.toPane(p, msg)
	}
	if m.showHelp {
		return m.helpKey(msg)
	}
	g := m.keys
	switch {
	case key.Matches(msg, g.Quit):
		return m, tea.Quit
	case key.Matches(msg, g.Next):
		m.focus = (m.focus + 1) % len(m.order)
	case key.Matches(msg, g.Prev):
		m.focus = (m.focus + len(m.order) - 1) % len(m.order)
	case key.Matches(msg, g.Focus):
		if i := int(msg.String()[0] - '1'); i < len(m.order) {
			m.focus = i
		}
	case key.Matches(msg, alertsFocusKey) && m.focusAlerts():
	case key.Matches(msg, historyFocusKey) && m.focusHistory():
	case key.Matches(msg, g.Zoom):
		m.zoom = !m.zoom
	case key.Matches(msg, g.Help):
		m.showHelp, m.helpOffset = true, 0
	case key.Matches(msg, g.Pause):
		return m, m.togglePause()
	case key.Matches(msg, g.Units):
		if m.prefs.bits() {
			m.prefs.Units = UnitsBytes
		} else {
			m.prefs.Units = UnitsBits
		}
		return m, tea.Batch(m.broadcast(prefsChangedMsg{}), m.saver.save(*m.prefs))
	default:
		return m, m.toPane(p, msg)
	}
	m.layout()
	return m, nil
}

// keys1by1 handles keys typed faster than the terminal was read, which arrive as one message
// ("5f"), one at a time: the first may focus a pane or open an input that takes the rest.
func (m Model) keys1by1(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	cmds := make([]tea.Cmd, 0, len(msg.Runes))
	for _, r := range msg.Runes {
		next, cmd := m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt})
		m = next.(Model)
		cmds = append(cmds, cmd)
	}
	return m, tea.Batch(cmds...)
}

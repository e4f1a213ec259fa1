package ui

import "github.com/charmbracelet/bubbles/key"

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

package ui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

func TestTextInputEditing(t *testing.T) {
	in := newTextInput(NewStyles(DefaultTheme()), "/", "type here")
	if in.Active() {
		t.Fatal("open before Open")
	}
	in.Open("tcp")
	type step struct {
		key   tea.KeyMsg
		event inputEvent
		value string
		pos   int
	}
	runes := func(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }
	for i, s := range []step{
		{runes(" port 53"), inputChanged, "tcp port 53", 11}, // a paste arrives as one message
		{tea.KeyMsg{Type: tea.KeyCtrlW}, inputChanged, "tcp port ", 9},
		{tea.KeyMsg{Type: tea.KeyBackspace}, inputChanged, "tcp port", 8},
		{tea.KeyMsg{Type: tea.KeyHome}, inputNone, "tcp port", 0},
		{tea.KeyMsg{Type: tea.KeyDelete}, inputChanged, "cp port", 0},
		{runes("u"), inputChanged, "ucp port", 1},
		{runes("d"), inputChanged, "udcp port", 2},
		{tea.KeyMsg{Type: tea.KeyRight}, inputNone, "udcp port", 3},
		{tea.KeyMsg{Type: tea.KeyBackspace}, inputChanged, "udp port", 2},
		{tea.KeyMsg{Type: tea.KeyCtrlK}, inputChanged, "ud", 2},
		{tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}, inputChanged, "ud ", 3},
		{tea.KeyMsg{Type: tea.KeyLeft}, inputNone, "ud ", 2},
		{tea.KeyMsg{Type: tea.KeyCtrlU}, inputChanged, " ", 0},
		{tea.KeyMsg{Type: tea.KeyEnd}, inputNone, " ", 1},
		{runes("a\x07b"), inputChanged, " ab", 3}, // control characters are dropped
		{tea.KeyMsg{Type: tea.KeyTab}, inputNone, " ab", 3},
		{tea.KeyMsg{Type: tea.KeyEnter}, inputSubmitted, " ab", 3},
		{tea.KeyMsg{Type: tea.KeyEsc}, inputCancelled, " ab", 3},
		{tea.KeyMsg{Type: tea.KeyCtrlC}, inputCancelled, " ab", 3},
	} {
		if ev := in.Update(s.key); ev != s.event || in.Value() != s.value || in.pos != s.pos {
			t.Errorf("step %d (%v): event %d, %q at %d; want %d, %q at %d", i, s.key, ev, in.Value(), in.pos, s.event, s.value, s.pos)
		}
	}
	if in.Before() != "tcp" {
		t.Errorf("Before %q", in.Before())
	}
	in.Close()
	if in.Active() {
		t.Error("still open after Close")
	}
}

func TestTextInputView(t *testing.T) {
	in := newTextInput(NewStyles(DefaultTheme()), "f ", "BPF expression")
	in.Open("")
	if v := in.View(30); v != "f  BPF expression"+strings.Repeat(" ", 13) { // prompt, cursor cell, placeholder
		t.Errorf("placeholder view %q", v)
	}
	long := strings.Repeat("host 198.18.0.1 or ", 10) + "end"
	in.Open(long)
	v := in.View(40)
	if width(v) != 40 || !strings.Contains(v, "or end") {
		t.Errorf("the end of a long text is not in sight: %q", v)
	}
	in.SetError("syntax error")
	v = in.View(40)
	if width(v) != 40 || !strings.HasSuffix(strings.TrimRight(v, " "), "syntax error") {
		t.Errorf("error view %q", v)
	}
	in.Update(tea.KeyMsg{Type: tea.KeyBackspace})
	if strings.Contains(in.View(40), "syntax error") {
		t.Error("the error stays after a change")
	}
	// the limit
	in.Open(strings.Repeat("x", inputLimit-1))
	in.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("abc")})
	if n := len([]rune(in.Value())); n != inputLimit {
		t.Errorf("%d runes, limit %d", n, inputLimit)
	}
}

package ui

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// editor is a pane that can hold a text input. While Editing reports true, the root sends
// it every key: q, the digits and tab are text then, and esc leaves the input.
type editor interface {
	Editing() bool
}

// keyClaimer is a pane that takes some keys before the global ones: the packets pane's enter
// opens a packet's details instead of zooming (z still zooms).
type keyClaimer interface {
	ClaimsKey(msg tea.KeyMsg) bool
}

// inputEvent is what a key did to a textInput.
type inputEvent int

const (
	inputNone      inputEvent = iota // the cursor moved, or nothing happened
	inputChanged                     // the text changed
	inputSubmitted                   // enter: the pane takes the text (it may keep the input open with an error)
	inputCancelled                   // esc or ctrl+c: the pane restores what was there before
)

// inputKeys are the keys of a text input, for the footer and the help screen.
var inputKeys = struct {
	Submit, Cancel, Move, Erase key.Binding
}{
	Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply")),
	Cancel: key.NewBinding(key.WithKeys("esc", "ctrl+c"), key.WithHelp("esc", "cancel")),
	Move:   key.NewBinding(key.WithKeys("left", "right", "home", "end", "ctrl+a", "ctrl+e"), key.WithHelp("←/→ ^a/^e", "move")),
	Erase:  key.NewBinding(key.WithKeys("backspace", "delete", "ctrl+w", "ctrl+u", "ctrl+k"), key.WithHelp("^w/^u/^k", "erase word/start/end")),
}

// inputLimit is the longest text an input takes, in runes.
const inputLimit = 512

// textInput is the one-line editor the panes share for what the user types: the processes
// filter now, the packet filter later. It has the usual line-editing keys, no timers (the
// cursor does not blink, so nothing ticks while it is open), an inline error (libpcap's
// message, say), and it remembers the text it opened with, for the pane to restore on cancel.
type textInput struct {
	styles      *Styles
	prompt      string
	placeholder string
	text        []rune
	pos         int // cursor, in runes
	open        bool
	before      string // the text when the input opened
	err         string // shown after the text until the next change
}

func newTextInput(styles *Styles, prompt, placeholder string) *textInput {
	return &textInput{styles: styles, prompt: prompt, placeholder: placeholder}
}

// Active reports whether the input is open.
func (in *textInput) Active() bool { return in.open }

// Open starts editing value, with the cursor at its end.
func (in *textInput) Open(value string) {
	in.before, in.err, in.open = value, "", true
	in.text = []rune(value)
	in.pos = len(in.text)
}

// Close leaves the input.
func (in *textInput) Close() { in.open, in.err = false, "" }

// Value is the text typed so far.
func (in *textInput) Value() string { return string(in.text) }

// Before is the text the input was opened with.
func (in *textInput) Before() string { return in.before }

// SetError shows msg beside the text until the next change; the input stays open.
func (in *textInput) SetError(msg string) { in.err = msg }

// Update applies a key to the input and says what it did.
func (in *textInput) Update(msg tea.KeyMsg) inputEvent {
	switch {
	case key.Matches(msg, inputKeys.Submit):
		return inputSubmitted
	case key.Matches(msg, inputKeys.Cancel):
		return inputCancelled
	}
	old := string(in.text)
	t, p := in.text, in.pos
	switch msg.Type {
	case tea.KeyRunes, tea.KeySpace:
		r := msg.Runes
		if msg.Type == tea.KeySpace {
			r = []rune{' '}
		}
		r = printable(r)
		if len(t)+len(r) > inputLimit {
			r = r[:max(inputLimit-len(t), 0)]
		}
		t = append(t[:p], append(r, t[p:]...)...)
		p += len(r)
	case tea.KeyBackspace:
		if p > 0 {
			t, p = append(t[:p-1], t[p:]...), p-1
		}
	case tea.KeyDelete:
		if p < len(t) {
			t = append(t[:p], t[p+1:]...)
		}
	case tea.KeyLeft:
		p = max(p-1, 0)
	case tea.KeyRight:
		p = min(p+1, len(t))
	case tea.KeyHome, tea.KeyCtrlA:
		p = 0
	case tea.KeyEnd, tea.KeyCtrlE:
		p = len(t)
	case tea.KeyCtrlU:
		t, p = t[p:], 0
	case tea.KeyCtrlK:
		t = t[:p]
	case tea.KeyCtrlW:
		s := p
		for s > 0 && unicode.IsSpace(t[s-1]) {
			s--
		}
		for s > 0 && !unicode.IsSpace(t[s-1]) {
			s--
		}
		t, p = append(t[:s], t[p:]...), s
	}
	in.text, in.pos = t, p
	if string(in.text) != old {
		in.err = ""
		return inputChanged
	}
	return inputNone
}

// printable drops control characters from pasted or typed runes.
func printable(r []rune) []rune {
	out := make([]rune, 0, len(r))
	for _, c := range r {
		if unicode.IsPrint(c) {
			out = append(out, c)
		}
	}
	return out
}

// View renders the input in w cells: the prompt, the text with its cursor (scrolled so the
// cursor stays in sight), and the error.
func (in *textInput) View(w int) string {
	st := in.styles
	errW := 0
	if in.err != "" {
		errW = min(width(in.err)+2, w/2)
	}
	tw := max(w-width(in.prompt)-errW, 2) // room for the text and the cursor cell
	var text string
	if len(in.text) == 0 && in.placeholder != "" {
		text = st.InputCursor.Render(" ") + st.Muted.Render(fit(in.placeholder, tw-1))
	} else {
		// Show a window of the text that holds the cursor, its end preferably.
		from := 0
		for width(string(in.text[from:in.pos]))+1 > tw {
			from++
		}
		under := " "
		after := ""
		if in.pos < len(in.text) {
			under, after = string(in.text[in.pos]), string(in.text[in.pos+1:])
		}
		text = st.Text.Render(string(in.text[from:in.pos])) + st.InputCursor.Render(under) + st.Text.Render(after)
	}
	s := st.InputPrompt.Render(in.prompt) + text
	if in.err != "" {
		return fit(fit(s, w-errW)+"  "+st.Crit.Render(strings.TrimSpace(fit(in.err, errW-2))), w)
	}
	return fit(s, w)
}

package ui

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// width returns the number of cells s takes on screen, ignoring escape sequences. Plain
// ASCII, most of what tables hold, is counted without parsing.
func width(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return ansi.StringWidth(s)
		}
	}
	return len(s)
}

// fit pads or cuts s (which may carry styles) to exactly w cells; a cut ends in "…".
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	n := width(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-n)
}

// fitRight right-aligns s in w cells, cutting it when it is wider.
func fitRight(s string, w int) string {
	n := width(s)
	if n >= w {
		return fit(s, w)
	}
	return strings.Repeat(" ", w-n) + s
}

// block makes lines exactly w cells wide and h lines high, padding with blank lines.
func block(lines []string, w, h int) []string {
	out := make([]string, h)
	blank := strings.Repeat(" ", max(w, 0))
	for i := range out {
		if i < len(lines) {
			out[i] = fit(lines[i], w)
		} else {
			out[i] = blank
		}
	}
	return out
}

// besides joins two columns of lines, the left one fitted to lw cells, with gap blanks
// between them.
func besides(left []string, lw int, gap int, right []string, rw int) []string {
	h := max(len(left), len(right))
	l, r := block(left, lw, h), block(right, rw, h)
	sp := strings.Repeat(" ", gap)
	out := make([]string, h)
	for i := range out {
		out[i] = l[i] + sp + r[i]
	}
	return out
}

// centred returns a w x h block with msg in its middle.
func centred(msg string, w, h int) []string {
	lines := make([]string, h)
	if h == 0 {
		return lines
	}
	pad := max((w-width(msg))/2, 0)
	lines[(h-1)/2] = strings.Repeat(" ", pad) + msg
	return block(lines, w, h)
}

// Box-drawing runes of the pane borders: rounded for a pane, heavy for the focused one, so
// focus shows without colour too.
type borderRunes struct{ tl, tr, bl, br, h, v string }

var (
	plainBorder = borderRunes{"╭", "╮", "╰", "╯", "─", "│"}
	focusBorder = borderRunes{"┏", "┓", "┗", "┛", "━", "┃"}
)

// frame draws a border of w x h cells around content, with title (already styled) in its top
// edge, and returns its h lines. content is fitted to the inside, (w-2) x (h-2).
func frame(st *Styles, content []string, title string, w, h int, focused bool) []string {
	if w < 2 || h < 2 {
		return block(nil, max(w, 0), max(h, 0))
	}
	b, bs := plainBorder, st.Border
	if focused {
		b, bs = focusBorder, st.BorderFocused
	}
	iw := w - 2
	out := make([]string, 0, h)
	// top edge: ╭─ title ───╮
	title = fit(title, max(iw-3, 0))
	tw := width(title)
	top := bs.Render(b.tl+b.h) + " " + title + " "
	top += bs.Render(strings.Repeat(b.h, max(iw-tw-3, 0)) + b.tr)
	out = append(out, fit(top, w))
	v := bs.Render(b.v)
	for _, line := range block(content, iw, h-2) {
		out = append(out, v+line+v)
	}
	return append(out, bs.Render(b.bl+strings.Repeat(b.h, iw)+b.br))
}

package ui

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// tableKeys move through the rows of a table pane.
type tableKeys struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

func newTableKeys() tableKeys {
	return tableKeys{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "first row")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "last row")),
	}
}

func (k tableKeys) bindings() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}
}

// wheelRows is how many rows one notch of the mouse wheel scrolls.
const wheelRows = 3

// tableRows is how many rows of a table fit in a pane h lines high, under fixed lines of
// its own (a header, a totals row) and above the filter line while it is being edited.
func tableRows(h, fixed int, editing bool) int {
	if editing {
		fixed++
	}
	return max(h-fixed, 0)
}

// rowCursor is the selected row and the first row in sight of a table that shows vis of its
// n rows. Tables format only the rows in [offset, offset+vis), so their cost does not grow
// with n.
type rowCursor struct {
	cursor, offset int
}

// clamp keeps the cursor on a row and in sight.
func (c *rowCursor) clamp(n, vis int) {
	c.cursor = min(max(c.cursor, 0), max(n-1, 0))
	c.offset = min(c.offset, max(n-vis, 0))
	if c.cursor < c.offset {
		c.offset = c.cursor
	}
	if vis > 0 && c.cursor >= c.offset+vis {
		c.offset = c.cursor - vis + 1
	}
	c.offset = max(c.offset, 0)
}

// key moves the cursor for a navigation key and reports whether the key was one.
func (c *rowCursor) key(k tableKeys, msg tea.KeyMsg, n, vis int) bool {
	page := max(vis-1, 1)
	switch {
	case key.Matches(msg, k.Up):
		c.cursor--
	case key.Matches(msg, k.Down):
		c.cursor++
	case key.Matches(msg, k.PageUp):
		c.cursor -= page
	case key.Matches(msg, k.PageDown):
		c.cursor += page
	case key.Matches(msg, k.Top):
		c.cursor = 0
	case key.Matches(msg, k.Bottom):
		c.cursor = n - 1
	default:
		return false
	}
	c.clamp(n, vis)
	return true
}

// wheel scrolls the rows in sight by d, taking the cursor along so that it stays in sight.
func (c *rowCursor) wheel(d, n, vis int) {
	c.offset = min(max(c.offset+d, 0), max(n-vis, 0))
	c.cursor = min(max(c.cursor, c.offset), c.offset+max(vis-1, 0))
	c.clamp(n, vis)
}

// click selects the row at line y of the rows in sight; it reports whether there is one.
func (c *rowCursor) click(y, n, vis int) bool {
	if y < 0 || y >= vis || c.offset+y >= n {
		return false
	}
	c.cursor = c.offset + y
	return true
}

// window returns the rows in sight.
func (c *rowCursor) window(n, vis int) (from, to int) {
	return c.offset, min(c.offset+vis, n)
}

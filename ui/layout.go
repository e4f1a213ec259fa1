package ui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

// paneID names the slots of the dashboard. Every slot has a place in the layout; a slot
// without a pane (talkers and packets when capture is off) is simply left out.
type paneID int

const (
	slotBandwidth paneID = iota
	slotStates
	slotProcesses
	slotTalkers
	slotPackets
	slotHistory // not in the grid: it fills the body when focused (ui/history.go)
	slotAlerts  // not in the grid either (ui/alerts.go)
	numSlots
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

// paneMouseMsg is a mouse event over a pane, in the pane's inside coordinates (0, 0 is the
// first cell inside its border): a left click, or a notch of the wheel (wheel < 0 up).
type paneMouseMsg struct {
	x, y  int
	click bool
	wheel int
}

// rect is a box of the screen in cells.
type rect struct{ x, y, w, h int }

func (r rect) contains(x, y int) bool { return x >= r.x && x < r.x+r.w && y >= r.y && y < r.y+r.h }

// Sizes: the smallest terminal the dashboard draws in, and the body size from which every
// pane shows at once (below it, the focused pane fills the body, with the others as tabs).
const (
	minWidth, minHeight   = 60, 16
	gridWidth, gridHeight = 110, 27
	gridHeight3           = 34 // with the packets row
)

// arrange places the panes present in a body of w x h cells. The grid reads like a report:
// how much flows (bandwidth) and in what state the connections are, side by side on top; who
// moves the bytes (processes, talkers) in the middle; the packets themselves across the
// bottom. Rows and columns without their panes close up. It returns nil when the body is too
// small for the grid.
func arrange(present [numSlots]bool, w, h int) map[paneID]rect {
	if w < gridWidth || h < gridHeight || present[slotPackets] && h < gridHeight3 {
		return nil
	}
	var rows [][]paneID
	for _, row := range [][]paneID{{slotBandwidth, slotStates}, {slotProcesses, slotTalkers}, {slotPackets}} {
		var r []paneID
		for _, id := range row {
			if present[id] {
				r = append(r, id)
			}
		}
		if len(r) > 0 {
			rows = append(rows, r)
		}
	}
	heights := rowHeights(rows, h)
	out := make(map[paneID]rect, numSlots)
	y := 0
	for i, row := range rows {
		widths := rowWidths(row, w)
		x := 0
		for j, id := range row {
			out[id] = rect{x, y, widths[j], heights[i]}
			x += widths[j]
		}
		y += heights[i]
	}
	return out
}

// rowHeights shares h lines among the rows: the charts row gets what two charts of a few
// lines need, the packets row at least a handful of packets, and the tables the rest.
func rowHeights(rows [][]paneID, h int) []int {
	out := make([]int, len(rows))
	if len(rows) == 1 {
		out[0] = h
		return out
	}
	first := rows[0][0] == slotBandwidth || rows[0][0] == slotStates
	switch {
	case len(rows) == 2 && first:
		out[0] = min(max(h/2, 16), h-8)
	case len(rows) == 2:
		out[0] = h / 2
	default: // three rows: the tables in the middle take what the charts and packets leave
		out[0] = min(max(h*36/100, 13), 22)
		out[2] = min(max(h*28/100, 8), 20)
		out[1] = h - out[0] - out[2]
		return out
	}
	out[1] = h - out[0]
	return out
}

// rowWidths shares w cells among the panes of a row: TCP states takes a column wide enough
// for its histogram (and its counters when the screen is wide); processes and talkers share
// theirs evenly.
func rowWidths(row []paneID, w int) []int {
	if len(row) == 1 {
		return []int{w}
	}
	if row[1] == slotStates {
		sw := min(max(w*30/100, 50), 76)
		return []int{w - sw, sw}
	}
	half := w / 2
	return []int{half, w - half}
}

// tabStrip is the title of the only pane in sight when the others are hidden (a small
// terminal or a zoom): the pane's own title, then the numbers and names of the others, so
// that the keys to reach them stay in view. It returns the title and, for clicks, where each
// other pane's name lies in it (in cells from the title's start).
func tabStrip(st *Styles, panes []pane, focus int) (string, []span) {
	t := st.TitleFocused.Render(fmt.Sprintf("%d %s", focus+1, panes[focus].Title()))
	var spans []span
	for j, p := range panes {
		if j == focus {
			continue
		}
		name, _, _ := strings.Cut(p.Title(), " · ")
		sep, label := " │ ", fmt.Sprintf("%d %s", j+1, name)
		start := width(t) + width(sep)
		spans = append(spans, span{j, start, start + width(label)})
		t += st.TitleInactive.Render(sep + label)
	}
	return t, spans
}

// span is where pane i's name lies in a line, from cell from to cell to (excluded).
type span struct{ i, from, to int }

// mouse focuses the pane under a click and sends it the click; the wheel goes to the pane
// under the pointer without moving the focus.
func (m *Model) mouse(msg tea.MouseMsg) tea.Cmd {
	if m.showHelp || m.tooSmall() {
		return nil
	}
	ev := tea.MouseEvent(msg)
	wheel := 0
	switch {
	case ev.Button == tea.MouseButtonWheelUp:
		wheel = -1
	case ev.Button == tea.MouseButtonWheelDown:
		wheel = 1
	case ev.Button == tea.MouseButtonLeft && ev.Action == tea.MouseActionPress:
	default:
		return nil
	}
	x, y := ev.X, ev.Y-headerLines
	i, r, ok := m.paneAt(x, y)
	if !ok {
		return nil
	}
	if wheel == 0 {
		if ed, ok := m.focused().(editor); ok && ed.Editing() {
			return nil // the input keeps the focus
		}
		m.focus = i
	}
	return m.toPane(m.slots[m.order[i]], paneMouseMsg{x: x - r.x - 1, y: y - r.y - 1, click: wheel == 0, wheel: wheel})
}

// paneAt finds the pane at body cell (x, y): in the grid, the box that holds it; with one
// pane in sight, that pane, or the one whose name is clicked in its title.
func (m *Model) paneAt(x, y int) (int, rect, bool) {
	body := rect{0, 0, m.width, m.bodyHeight()}
	if !body.contains(x, y) {
		return 0, rect{}, false
	}
	if g := m.layoutGrid(); g != nil {
		for i, id := range m.order {
			if r := g[id]; r.contains(x, y) {
				return i, r, true
			}
		}
		return 0, rect{}, false
	}
	if y == 0 {
		_, tabs := tabStrip(m.styles, m.panes(), m.focus)
		for _, s := range tabs {
			if x-3 >= s.from && x-3 < s.to { // the title starts after "╭─ "
				return s.i, body, true
			}
		}
	}
	return m.focus, body, true
}

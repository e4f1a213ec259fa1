package ui

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/monitor"
)

// alertsFocusKey focuses the alerts pane from anywhere, whatever its number (it is not in
// the grid: it fills the body while it has the focus, and tab leaves it).
var alertsFocusKey = key.NewBinding(key.WithKeys("7", "!"), key.WithHelp("7/!", "alerts pane"))

// alertsPane lists the detectors' alerts (Options.Alerts): firing first, then pending, then
// those resolved in the last minutes, newest first in each, with the selected alert's key
// and evidence below the table. It reads the list on each closed interval, so Update and
// View never wait for the detectors.
type alertsPane struct {
	state  *monitor.State
	styles *Styles
	list   func() []detect.Alert
	clock  func() time.Time
	keys   tableKeys
	rc     rowCursor
	rows   []detect.Alert
	w, h   int
}

func newAlertsPane(st *monitor.State, styles *Styles, list func() []detect.Alert, clock func() time.Time) *alertsPane {
	p := &alertsPane{state: st, styles: styles, list: list, clock: clock, keys: newTableKeys()}
	p.reload()
	return p
}

// stateRank orders the states in the list.
var stateRank = map[detect.AlertState]int{detect.Firing: 0, detect.Pending: 1, detect.Resolved: 2}

// reload takes the alerts held now.
func (p *alertsPane) reload() {
	rows := slices.Clone(p.list())
	sort.SliceStable(rows, func(i, j int) bool {
		if ri, rj := stateRank[rows[i].State], stateRank[rows[j].State]; ri != rj {
			return ri < rj
		}
		return rows[i].Started.After(rows[j].Started)
	})
	p.rows = rows
	p.rc.clamp(len(p.rows), p.visible())
}

// firing counts the firing alerts, for the header.
func firing(alerts []detect.Alert) int {
	n := 0
	for _, a := range alerts {
		if a.State == detect.Firing {
			n++
		}
	}
	return n
}

// Title names the pane and counts what it lists.
func (p *alertsPane) Title() string {
	f := firing(p.rows)
	return fmt.Sprintf("Alerts · %d firing · %d listed", f, len(p.rows))
}

// Update reloads the list when an interval closed (and the display is not paused) and moves
// the cursor.
func (p *alertsPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case SampleMsg, BatchMsg, refreshMsg:
		p.reload()
	case tea.KeyMsg:
		p.rc.key(p.keys, msg, len(p.rows), p.visible())
	case paneMouseMsg:
		if msg.wheel != 0 {
			p.rc.wheel(msg.wheel*wheelRows, len(p.rows), p.visible())
		} else {
			p.rc.click(msg.y-1, len(p.rows), p.visible())
		}
	}
	return nil
}

// detailLines are the lines under the table for the selected alert: its key and evidence.
const detailLines = 3

// visible is how many rows fit under the header and above the detail lines.
func (p *alertsPane) visible() int { return tableRows(p.h, 1+detailLines, false) }

// SetSize records the inside size of the pane.
func (p *alertsPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.rc.clamp(len(p.rows), p.visible())
}

// now is the time the ages count to: the latest sample's (a replay's clock), else the wall.
func (p *alertsPane) now() time.Time {
	if t := p.state.Time(); !t.IsZero() {
		return t
	}
	return p.clock()
}

// Column widths of the table (the summary takes the rest).
const (
	alertStateW = 10
	alertSevW   = 9
	alertRuleW  = 18
	alertAgeW   = 8
)

// View renders the table of alerts and the selected one's key and evidence.
func (p *alertsPane) View(w, h int) []string {
	st := p.styles
	if len(p.rows) == 0 {
		msg := "no alerts: the detectors have raised nothing"
		if p.list == nil {
			msg = "no detectors in this run"
		}
		return centred(st.Muted.Render(msg), w, h)
	}
	sumW := max(w-alertStateW-alertSevW-alertRuleW-alertAgeW-4, 0)
	head := fit("STATE", alertStateW) + " " + fit("SEVERITY", alertSevW) + " " + fit("RULE", alertRuleW) + " " +
		fitRight("AGE", alertAgeW) + " " + fit("SUMMARY", sumW)
	lines := []string{st.TableHeader.Render(fit(head, w))}
	now := p.now()
	vis := p.visible()
	from, to := p.rc.window(len(p.rows), vis)
	for i := from; i < to; i++ {
		a := p.rows[i]
		age := now.Sub(a.Started)
		if a.State == detect.Resolved && !a.Resolved.IsZero() {
			age = now.Sub(a.Resolved)
		}
		marker := "  "
		if a.State == detect.Firing {
			marker = "▲ " // the state reads without colour too
		}
		line := fit(marker+string(a.State), alertStateW) + " " + fit(string(a.Severity), alertSevW) + " " +
			fit(a.Rule, alertRuleW) + " " + fitRight(formatDuration(max(age, 0)), alertAgeW) + " " + fit(a.Summary, sumW)
		line = fit(line, w)
		switch {
		case i == p.rc.cursor:
			line = st.RowSelected.Render(line)
		case a.State == detect.Firing && a.Severity == detect.Critical:
			line = st.Crit.Render(line)
		case a.State == detect.Firing:
			line = st.Warn.Render(line)
		case a.State == detect.Resolved:
			line = st.Muted.Render(line)
		}
		lines = append(lines, line)
	}
	for len(lines) < 1+vis {
		lines = append(lines, "")
	}
	if p.rc.cursor < len(p.rows) {
		lines = append(lines, p.detail(p.rows[p.rc.cursor], w)...)
	}
	return block(lines, w, h)
}

// detail is the selected alert's key, start (and resolution) and evidence, fields sorted.
func (p *alertsPane) detail(a detect.Alert, w int) []string {
	st := p.styles
	when := "since " + a.Started.Format("15:04:05")
	if a.State == detect.Resolved && !a.Resolved.IsZero() {
		when = a.Started.Format("15:04:05") + "–" + a.Resolved.Format("15:04:05")
	}
	names := make([]string, 0, len(a.Evidence))
	for k := range a.Evidence {
		names = append(names, k)
	}
	sort.Strings(names)
	ev := make([]string, 0, len(names))
	for _, k := range names {
		v := a.Evidence[k]
		s, ok := v.(string)
		if !ok {
			b, err := json.Marshal(v)
			if err != nil {
				b = []byte(fmt.Sprint(v))
			}
			s = string(b)
		}
		ev = append(ev, k+"="+s)
	}
	return []string{
		st.Label.Render("key ") + fit(a.Key, max(w-4, 0)),
		st.Label.Render("time ") + when,
		st.Label.Render("evidence ") + fit(strings.Join(ev, " "), max(w-9, 0)),
	}
}

// ShortHelp returns the keys the footer shows.
func (p *alertsPane) ShortHelp() []key.Binding {
	return []key.Binding{p.keys.Up, p.keys.Down}
}

// FullHelp returns all the pane's keys, the one that focuses it first.
func (p *alertsPane) FullHelp() [][]key.Binding {
	return [][]key.Binding{{alertsFocusKey}, p.keys.bindings()}
}

// noteAlerts counts the firing alerts for the header, after an interval closed.
func (m *Model) noteAlerts() {
	if m.opts.Alerts != nil {
		m.alerts = firing(m.opts.Alerts())
	}
}

// focusAlerts gives the focus to the alerts pane; false when there is none.
func (m *Model) focusAlerts() bool {
	for i, id := range m.order {
		if id == slotAlerts {
			m.focus = i
			return true
		}
	}
	return false
}

package ui

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/history"
)

// HistorySource is what the history pane reads (*history.Store satisfies it). The pane
// calls it only from commands, never in Update or View.
type HistorySource interface {
	Traffic(ctx context.Context, q history.Query) ([]history.Row, error)
	Interfaces(ctx context.Context) ([]string, error)
}

// historyFocusKey focuses the history pane from anywhere (it is not in the grid: it fills
// the body while it has the focus, as the alerts pane).
var historyFocusKey = key.NewBinding(key.WithKeys("6", "h"), key.WithHelp("6/h", "history pane"))

// historyKeys are the pane's own keys.
type historyKeys struct {
	Span, View, Iface key.Binding
}

func newHistoryKeys() historyKeys {
	return historyKeys{
		Span:  key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "hours/days/months")),
		View:  key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "interfaces/processes/hosts/ports")),
		Iface: key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "next interface")),
	}
}

var (
	historySpans = []history.Kind{history.Hour, history.Day, history.Month}
	historyCats  = []string{history.CatIface, history.CatProc, history.CatHost, history.CatPort}
)

// historyReloadEvery is how often the pane reads the database again while it is shown.
const historyReloadEvery = 30 * time.Second

// historyMsg carries what a query read.
type historyMsg struct {
	seq    int
	rows   []history.Row
	ifaces []string
	err    error
}

// historyPane draws vnstat-like bars from the history database: per hour, day or month for
// one interface, or the top processes, hosts or ports of the running hour, day or month.
type historyPane struct {
	src    HistorySource
	styles *Styles
	prefs  *Prefs
	clock  func() time.Time
	keys   historyKeys

	span, cat int
	ifaces    []string
	iface     string
	rows      []history.Row
	err       error
	seq       int // of the latest query; older answers are dropped
	pending   bool
	loaded    time.Time // when the latest query was started
	w, h      int
}

func newHistoryPane(src HistorySource, styles *Styles, prefs *Prefs, iface string, clock func() time.Time) *historyPane {
	if iface == "all" {
		iface = ""
	}
	return &historyPane{src: src, styles: styles, prefs: prefs, clock: clock, keys: newHistoryKeys(), span: 1, iface: iface}
}

// query returns the command that reads what the pane shows now.
func (p *historyPane) query() tea.Cmd {
	p.seq++
	p.pending, p.loaded = true, p.clock()
	seq, src, span, cat, iface := p.seq, p.src, historySpans[p.span], historyCats[p.cat], p.iface
	now := p.clock()
	var begin time.Time
	switch span {
	case history.Hour:
		begin = now.Add(-48 * time.Hour)
	case history.Day:
		begin = now.AddDate(0, 0, -31)
	default:
		begin = now.AddDate(-2, 0, 0)
	}
	if cat != history.CatIface {
		begin = span.Start(now, time.Local) // the running hour, day or month
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ifaces, err := src.Interfaces(ctx)
		if err != nil {
			return historyMsg{seq: seq, err: err}
		}
		q := history.Query{Kind: span, Cat: cat, Begin: span.Start(begin, time.Local)}
		if cat == history.CatIface {
			if iface == "" && len(ifaces) > 0 {
				iface = ifaces[0]
				for _, n := range ifaces {
					if n != "lo" {
						iface = n
						break
					}
				}
			}
			q.A = iface
		}
		rows, err := src.Traffic(ctx, q)
		return historyMsg{seq: seq, rows: rows, ifaces: ifaces, err: err}
	}
}

// Title names the pane and what it shows.
func (p *historyPane) Title() string {
	span := map[history.Kind]string{history.Hour: "hourly", history.Day: "daily", history.Month: "monthly"}[historySpans[p.span]]
	switch historyCats[p.cat] {
	case history.CatIface:
		return fmt.Sprintf("History · %s · %s", cmp.Or(p.iface, "…"), span)
	default:
		when := map[history.Kind]string{history.Hour: "this hour", history.Day: "today", history.Month: "this month"}[historySpans[p.span]]
		return fmt.Sprintf("History · %s · %s", catTitle(historyCats[p.cat]), when)
	}
}

func catTitle(cat string) string {
	return map[string]string{history.CatProc: "processes", history.CatHost: "remote hosts", history.CatPort: "ports"}[cat]
}

// Update runs the queries: at the first sample, when a key changes what it shows, and every
// historyReloadEvery of samples after.
func (p *historyPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case historyMsg:
		if msg.seq != p.seq {
			return nil
		}
		p.rows, p.err, p.pending = msg.rows, msg.err, false
		if msg.ifaces != nil {
			p.ifaces = msg.ifaces
			if p.iface == "" && historyCats[p.cat] == history.CatIface && len(msg.rows) > 0 {
				p.iface = msg.rows[0].A
			}
		}
	case SampleMsg, BatchMsg:
		if !p.pending && (p.loaded.IsZero() || p.clock().Sub(p.loaded) >= historyReloadEvery) {
			return p.query()
		}
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, p.keys.Span):
			p.span = (p.span + 1) % len(historySpans)
		case key.Matches(msg, p.keys.View):
			p.cat = (p.cat + 1) % len(historyCats)
		case key.Matches(msg, p.keys.Iface) && len(p.ifaces) > 0:
			i := slices.Index(p.ifaces, p.iface)
			p.iface = p.ifaces[(i+1)%len(p.ifaces)]
		default:
			return nil
		}
		p.rows = nil
		return p.query()
	}
	return nil
}

// SetSize records the inside size of the pane.
func (p *historyPane) SetSize(w, h int) { p.w, p.h = w, h }

// View draws one line per bucket (interfaces) or per key (the others): received and sent
// as two bars scaled to the largest total in sight, and the figures.
func (p *historyPane) View(w, h int) []string {
	st := p.styles
	switch {
	case p.err != nil:
		return centred(st.Warn.Render("history: "+p.err.Error()), w, h)
	case p.rows == nil && (p.pending || p.loaded.IsZero()):
		return centred(st.Muted.Render("reading the history…"), w, h)
	case len(p.rows) == 0:
		return centred(st.Muted.Render("nothing recorded for this yet"), w, h)
	}
	rows := slices.Clone(p.rows)
	iface := historyCats[p.cat] == history.CatIface
	if !iface {
		slices.SortStableFunc(rows, func(a, b history.Row) int { return cmp.Compare(b.RxBytes+b.TxBytes, a.RxBytes+a.TxBytes) })
	}
	vis := max(h-1, 0)
	if len(rows) > vis {
		if iface {
			rows = rows[len(rows)-vis:] // the latest buckets
		} else {
			rows = rows[:vis] // the busiest keys
		}
	}
	labelW := 16
	layout := map[history.Kind]string{history.Hour: "01-02 15:00", history.Day: "2006-01-02 Mon", history.Month: "2006-01"}[historySpans[p.span]]
	if !iface {
		labelW = min(40, max(w/3, 12))
	}
	const figW = 11
	barW := max((w-labelW-2*figW-6)/2, 1)
	var top uint64
	for _, r := range rows {
		top = max(top, r.RxBytes, r.TxBytes)
	}
	head := fit("", labelW) + " " + fit("received", barW+figW+1) + "  " + fit("sent", barW+figW+1)
	lines := []string{st.TableHeader.Render(fit(head, w))}
	for _, r := range rows {
		label := r.Start.Format(layout)
		if !iface {
			label = rowLabel(&r)
		}
		line := fit(label, labelW) + " " + p.bar(r.RxBytes, top, barW, st.RxChart) + " " + fitRight(formatBytes(float64(r.RxBytes)), figW) +
			"  " + p.bar(r.TxBytes, top, barW, st.TxChart) + " " + fitRight(formatBytes(float64(r.TxBytes)), figW)
		lines = append(lines, line)
	}
	return block(lines, w, h)
}

// bar is v of top as a bar of w cells, in eighths.
func (p *historyPane) bar(v, top uint64, w int, style Style) string {
	if top == 0 {
		return strings.Repeat(" ", w)
	}
	eighths := int(math.Round(float64(v) / float64(top) * float64(w*8)))
	full, part := eighths/8, eighths%8
	s := strings.Repeat("█", full)
	if part > 0 {
		s += string([]rune("▏▎▍▌▋▊▉")[part-1])
		full++
	}
	return style.Render(s) + strings.Repeat(" ", max(w-full, 0))
}

// rowLabel names a process, host or port.
func rowLabel(r *history.Row) string {
	switch {
	case r.A == history.Other:
		return r.A
	case r.Cat == history.CatProc:
		return fmt.Sprintf("%s (%s)", r.A, r.C)
	case r.Cat == history.CatPort:
		return r.A + "/" + r.B
	}
	return r.A
}

// ShortHelp returns the keys the footer shows.
func (p *historyPane) ShortHelp() []key.Binding {
	return []key.Binding{p.keys.Span, p.keys.View, p.keys.Iface}
}

// FullHelp returns all the pane's keys, the one that focuses it first.
func (p *historyPane) FullHelp() [][]key.Binding {
	return [][]key.Binding{{historyFocusKey}, {p.keys.Span, p.keys.View, p.keys.Iface}}
}

// focusHistory gives the focus to the history pane; false when there is none.
func (m *Model) focusHistory() bool {
	for i, id := range m.order {
		if id == slotHistory {
			m.focus = i
			return true
		}
	}
	return false
}

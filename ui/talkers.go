package ui

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
)

type talkerKeys struct {
	table                    tableKeys
	Sort, Ports, DNS, Filter key.Binding
	Clear                    key.Binding
}

func newTalkerKeys() talkerKeys {
	return talkerKeys{
		table:  newTableKeys(),
		Sort:   key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort 2s/10s/40s/total")),
		Ports:  key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "ports (flows) on/off")),
		DNS:    key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "host names on/off")),
		Filter: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Clear:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
	}
}

// Reverse lookups: how long one may take, how many run at once, how many names are kept.
const (
	dnsTimeout     = 2 * time.Second
	dnsConcurrency = 8
	dnsCacheSize   = 4096
)

// lookupFunc resolves an address to names, like net.Resolver.LookupAddr.
type lookupFunc func(ctx context.Context, addr string) ([]string, error)

// dnsResultMsg is the answer to one reverse lookup.
type dnsResultMsg struct {
	addr netip.Addr
	name string // "" when the address has no name
}

// dnsEntry is a cached reverse lookup.
type dnsEntry struct {
	name    string
	pending bool
}

// talkersPane is the table of who talks to whom, like iftop: host pairs (or, with ports on,
// flows) with their rates over 2s, 10s and 40s and their session totals. Rows are queried
// from the State on each sample and batch; only the rows in sight are formatted. Host names
// are off by default; turned on, the addresses in sight are looked up in commands, a few at a
// time, and cached.
type talkersPane struct {
	state  *monitor.State
	styles *Styles
	prefs  *Prefs
	keys   talkerKeys
	filter *textInput
	text   string // the filter in force
	ports  bool   // one row per flow instead of per host pair
	dns    bool   // show host names
	lookup lookupFunc
	names  map[netip.Addr]dnsEntry
	asked  int // lookups running

	rows    []monitor.Talker
	rc      rowCursor
	follow  capture.FlowKey // the row the cursor follows across refreshes; zero: it keeps its place
	sampled bool
	w, h    int
}

// newTalkersPane returns the pane; lookup nil means the system resolver.
func newTalkersPane(st *monitor.State, styles *Styles, pr *Prefs, lookup lookupFunc) *talkersPane {
	if lookup == nil {
		lookup = net.DefaultResolver.LookupAddr
	}
	return &talkersPane{
		state: st, styles: styles, prefs: pr, keys: newTalkerKeys(), lookup: lookup,
		filter: newTextInput(styles, "/", "address, port, protocol or process"),
		names:  make(map[netip.Addr]dnsEntry),
	}
}

// talkerSorts maps Prefs.TalkerSort to a query: the index of the window, or -1 for totals.
var talkerWindows = map[string]int{"2s": 0, "10s": 1, "40s": 2, "total": -1}

func (p *talkersPane) window() int { return talkerWindows[p.prefs.TalkerSort] }

func (p *talkersPane) query() monitor.TalkerQuery {
	q := monitor.TalkerQuery{By: monitor.ByHostPair, Filter: p.text}
	if p.ports {
		q.By = monitor.ByFlow
	}
	if w := p.window(); w >= 0 {
		q.Sort, q.Window = monitor.TalkerSortRate, w
	} else {
		q.Sort = monitor.TalkerSortTotal
	}
	return q
}

// Title names the pane, counts its rows and says the order.
func (p *talkersPane) Title() string {
	if !p.sampled {
		return "Talkers"
	}
	what := "host pairs"
	if p.ports {
		what = "flows"
	}
	t := fmt.Sprintf("Talkers · %d %s · by %s", len(p.rows), what, p.prefs.TalkerSort)
	if p.text != "" {
		t += fmt.Sprintf(" · filter %q", p.text)
	}
	if vis := p.visible(); len(p.rows) > vis && vis > 0 {
		from, to := p.rc.window(len(p.rows), vis)
		t += fmt.Sprintf(" · %d-%d", from+1, to)
	}
	return t
}

// Editing reports whether the filter is being typed.
func (p *talkersPane) Editing() bool { return p.filter.Active() }

// ShortHelp returns the pane's main keys for the footer.
func (p *talkersPane) ShortHelp() []key.Binding {
	if p.Editing() {
		return []key.Binding{inputKeys.Submit, inputKeys.Cancel}
	}
	k := p.keys
	return []key.Binding{k.Sort, k.Ports, k.DNS, k.Filter}
}

// FullHelp returns all the pane's keys.
func (p *talkersPane) FullHelp() [][]key.Binding {
	k := p.keys
	return [][]key.Binding{{k.Sort, k.Ports, k.DNS, k.Filter, k.Clear}, k.table.bindings()}
}

// SetSize records the inside size of the pane.
func (p *talkersPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.rc.clamp(len(p.rows), p.visible())
}

// visible is how many rows fit under the header (and above the filter while it is open).
func (p *talkersPane) visible() int {
	return tableRows(p.h, 1, p.Editing())
}

// Update refreshes the rows on new data, handles the keys and the mouse, and takes the
// answers of reverse lookups.
func (p *talkersPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case SampleMsg, BatchMsg, refreshMsg:
		if _, ok := msg.(BatchMsg); ok {
			p.sampled = true
		}
		if p.sampled {
			return p.refresh()
		}
	case dnsResultMsg:
		p.names[msg.addr] = dnsEntry{name: msg.name}
		p.asked--
		return p.resolve()
	case tea.KeyMsg:
		if p.Editing() {
			return p.edit(msg)
		}
		return p.key(msg)
	case paneMouseMsg:
		n, vis := len(p.rows), p.visible()
		switch {
		case msg.wheel != 0:
			p.rc.wheel(msg.wheel*wheelRows, n, vis)
		case msg.click && p.rc.click(msg.y-1, n, vis):
		default:
			return nil
		}
		p.followCursor()
		return p.resolve()
	}
	return nil
}

func (p *talkersPane) key(msg tea.KeyMsg) tea.Cmd {
	k := p.keys
	if p.rc.key(k.table, msg, len(p.rows), p.visible()) {
		p.followCursor()
		return p.resolve()
	}
	switch {
	case key.Matches(msg, k.Sort):
		next := map[string]string{"2s": "10s", "10s": "40s", "40s": "total", "total": "2s"}
		p.prefs.TalkerSort = next[p.prefs.TalkerSort]
	case key.Matches(msg, k.Ports):
		p.ports = !p.ports
	case key.Matches(msg, k.DNS):
		p.dns = !p.dns
		return p.resolve()
	case key.Matches(msg, k.Filter):
		p.filter.Open(p.text)
		p.rc.clamp(len(p.rows), p.visible())
		return nil
	case key.Matches(msg, k.Clear):
		if p.text == "" {
			return nil
		}
		p.text = ""
	default:
		return nil
	}
	return p.top()
}

// edit applies a key to the open filter, as the processes pane does.
func (p *talkersPane) edit(msg tea.KeyMsg) tea.Cmd {
	switch p.filter.Update(msg) {
	case inputChanged:
		p.text = strings.TrimSpace(p.filter.Value())
	case inputSubmitted:
		p.text = strings.TrimSpace(p.filter.Value())
		p.filter.Close()
	case inputCancelled:
		p.text = p.filter.Before()
		p.filter.Close()
	default:
		return nil
	}
	return p.top()
}

// followCursor makes the cursor follow the row it is on; at the top it stays at the top.
func (p *talkersPane) followCursor() {
	p.follow = capture.FlowKey{}
	if p.rc.cursor > 0 && p.rc.cursor < len(p.rows) {
		p.follow = p.rows[p.rc.cursor].Key
	}
}

// top goes back to the first row of a new order or filter.
func (p *talkersPane) top() tea.Cmd {
	p.rc, p.follow = rowCursor{}, capture.FlowKey{}
	if p.sampled {
		return p.refresh()
	}
	return nil
}

// refresh queries the rows, keeps the cursor on the row it follows, and starts the lookups
// of the names in sight.
func (p *talkersPane) refresh() tea.Cmd {
	p.rows = p.state.Talkers(p.query())
	if p.follow != (capture.FlowKey{}) {
		for i := range p.rows {
			if p.rows[i].Key == p.follow {
				p.rc.cursor = i
				break
			}
		}
	}
	p.rc.clamp(len(p.rows), p.visible())
	return p.resolve()
}

// resolve starts reverse lookups for the addresses in sight that have no name yet, a few at
// a time; each answer starts the next.
func (p *talkersPane) resolve() tea.Cmd {
	if !p.dns {
		return nil
	}
	var cmds []tea.Cmd
	from, to := p.rc.window(len(p.rows), p.visible())
	for i := from; i < to && p.asked < dnsConcurrency; i++ {
		for _, a := range []netip.Addr{p.rows[i].Key.Remote.Addr(), p.rows[i].Key.Local.Addr()} {
			if _, ok := p.names[a]; ok || !a.IsValid() || p.asked >= dnsConcurrency {
				continue
			}
			if len(p.names) >= dnsCacheSize {
				clear(p.names) // start over rather than grow without bound
			}
			p.names[a] = dnsEntry{pending: true}
			p.asked++
			cmds = append(cmds, lookupCmd(p.lookup, a))
		}
	}
	return tea.Batch(cmds...)
}

// lookupCmd resolves one address in a command, bounded in time.
func lookupCmd(lookup lookupFunc, a netip.Addr) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
		defer cancel()
		names, err := lookup(ctx, a.String())
		if err != nil || len(names) == 0 {
			return dnsResultMsg{addr: a}
		}
		return dnsResultMsg{addr: a, name: strings.TrimSuffix(names[0], ".")}
	}
}

// talkerColumns are the columns that fit in a width: the two endpoints share what the
// figures leave; the three windows, PROCESS, PROTO and TOTAL give way, in that order, when
// narrow, so that an IPv4 address still shows whole.
type talkerColumns struct {
	proto, process, windows, total bool
	local, remote                  int
}

const (
	talkerRate    = 10 // "999 KiB/s▼"
	talkerProc    = 16
	talkerProto   = 5
	talkerMinAddr = 15
)

func layoutTalkers(w int) talkerColumns {
	c := talkerColumns{proto: true, process: true, windows: true, total: true}
	fixed := func() int {
		n := 2 + 2*(talkerRate+1) // marker, RX, TX
		if c.total {
			n += talkerRate + 1
		}
		if c.proto {
			n += talkerProto + 1
		}
		if c.process {
			n += talkerProc + 1
		}
		if c.windows {
			n += 3 * (talkerRate + 1)
		}
		return n
	}
	for _, drop := range []*bool{&c.windows, &c.process, &c.proto, &c.total} {
		if w-fixed() >= 2*talkerMinAddr+1 {
			break
		}
		*drop = false
	}
	addr := max(w-fixed()-1, 2)
	c.local = addr / 2
	c.remote = addr - c.local
	return c
}

// View renders the header and the rows in sight (and the filter input), in w x h cells.
func (p *talkersPane) View(w, h int) []string {
	if w <= 0 || h <= 0 {
		return nil
	}
	st := p.styles
	if !p.sampled {
		return centred(st.Message.Render("waiting for the first capture interval…"), w, h)
	}
	c := layoutTalkers(w)
	vis := max(h-1, 0)
	if p.Editing() {
		vis = max(vis-1, 0)
	}
	rc := p.rc
	rc.clamp(len(p.rows), vis)
	from, to := rc.window(len(p.rows), vis)
	// The local side is mostly this host's few addresses: give it what they need, and the
	// remote side the rest.
	need := len("LOCAL")
	for i := from; i < to; i++ {
		need = max(need, width(p.endpoint(p.rows[i].Key.Local)))
	}
	if sum := c.local + c.remote; need < c.local {
		c.local, c.remote = need, sum-need
	}
	lines := []string{p.header(c)}
	for i := from; i < to; i++ {
		lines = append(lines, p.row(&p.rows[i], c, i == rc.cursor, w))
	}
	if len(p.rows) == 0 && vis > 0 {
		msg := "  no traffic captured yet"
		if p.text != "" {
			msg = fmt.Sprintf("  nothing matches %q", p.text)
		}
		lines = append(lines, st.Message.Render(msg))
	}
	if !p.Editing() {
		return block(lines, w, h)
	}
	return append(block(lines, w, h-1), p.filter.View(w))
}

func (p *talkersPane) header(c talkerColumns) string {
	win := p.window()
	label := "RX/s"
	if win < 0 {
		label = "RX"
	}
	mark := func(s string, on bool) string {
		if on {
			return s + "▼"
		}
		return s
	}
	cells := []string{" ", fit("LOCAL", c.local), fit("REMOTE", c.remote)}
	if c.proto {
		cells = append(cells, fit("PROTO", talkerProto))
	}
	if c.process {
		cells = append(cells, fit("PROCESS", talkerProc))
	}
	rxName := label
	if win >= 0 {
		rxName = monitor.WindowNames[win] + " RX"
	}
	cells = append(cells, fitRight(rxName, talkerRate), fitRight(strings.Replace(rxName, "RX", "TX", 1), talkerRate))
	if c.windows {
		for i, n := range monitor.WindowNames {
			cells = append(cells, fitRight(mark(n, win == i), talkerRate))
		}
	}
	if c.total {
		cells = append(cells, fitRight(mark("TOTAL", win < 0), talkerRate))
	}
	return p.styles.TableHeader.Render(strings.Join(cells, " "))
}

// endpoint prints an address (or its name) and, with ports, the port.
func (p *talkersPane) endpoint(ap netip.AddrPort) string {
	a := ap.Addr()
	if !a.IsValid() {
		return "-"
	}
	s := a.String()
	if e, ok := p.names[a]; ok && p.dns && e.name != "" {
		s = e.name
	}
	if p.ports && ap.Port() != 0 {
		if a.Is6() && !a.Is4In6() && s == a.String() {
			s = "[" + s + "]"
		}
		s += ":" + strconv.Itoa(int(ap.Port()))
	}
	return s
}

func (p *talkersPane) row(t *monitor.Talker, c talkerColumns, selected bool, w int) string {
	st := p.styles
	sty := func(s Style) Style {
		if selected {
			return st.Plain
		}
		return s
	}
	bits := p.prefs.bits()
	rate := func(v float64, s Style) string {
		if v == 0 {
			s = st.Muted
		}
		return sty(s).Render(fitRight(formatRate(v, bits), talkerRate))
	}
	marker := " "
	if selected {
		marker = "›"
	}
	local, remote := p.endpoint(t.Key.Local), p.endpoint(t.Key.Remote)
	if t.Aggregate {
		remote = "* (" + strconv.FormatUint(t.Flows, 10) + " flows)" // the sources were not kept: iftop's "*"
	}
	if t.Overflow() {
		local, remote = "(overflow)", "flows beyond the table"
	}
	cells := []string{marker, sty(st.Text).Render(fit(local, c.local)), sty(st.Text).Render(fit(remote, c.remote))}
	if c.proto {
		cells = append(cells, sty(st.Muted).Render(fit(t.Proto, talkerProto)))
	}
	if c.process {
		proc := ""
		if t.PID != 0 {
			proc = strconv.Itoa(t.PID) + " " + t.Comm
		}
		cells = append(cells, sty(st.Muted).Render(fit(proc, talkerProc)))
	}
	if win := p.window(); win >= 0 {
		cells = append(cells, rate(t.Rx[win], st.RxChart), rate(t.Tx[win], st.TxChart))
	} else {
		cells = append(cells,
			sty(st.RxChart).Render(fitRight(formatBytes(float64(t.RxTotal)), talkerRate)),
			sty(st.TxChart).Render(fitRight(formatBytes(float64(t.TxTotal)), talkerRate)))
	}
	if c.windows {
		for i := range monitor.Windows {
			cells = append(cells, rate(t.Rx[i]+t.Tx[i], st.Value))
		}
	}
	if c.total {
		cells = append(cells, sty(st.Value).Render(fitRight(formatBytes(float64(t.RxTotal+t.TxTotal)), talkerRate)))
	}
	line := strings.Join(cells, " ")
	if selected {
		return st.RowSelected.Render(fit(line, w))
	}
	return line
}

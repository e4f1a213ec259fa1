package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/monitor"
)

type packetKeys struct {
	table                       tableKeys
	View, Filter, Write, Detail key.Binding
	Close                       key.Binding
}

func newPacketKeys() packetKeys {
	return packetKeys{
		table:  newTableKeys(),
		View:   key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "capture into the view on/off")),
		Filter: key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "packet filter (BPF)")),
		Write:  key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "write pcap on/off")),
		Detail: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "packet details")),
		Close:  key.NewBinding(key.WithKeys("esc", "enter"), key.WithHelp("esc", "close details")),
	}
}

// What the packets pane's text input is for.
const (
	inputFilter = iota // the BPF packet filter
	inputWrite         // the name of the pcap file to write
)

// packetsPane is the packet view, like tcpdump: the ring of packets that matched the packet
// filter, newest first. Scrolling away from the newest holds the list (new packets are
// counted, not shown) until g or home comes back to the top. c turns the collection of
// packets on and off, f edits the BPF filter (libpcap's error shows inline and the filter in
// force stays), w writes the matching packets to a pcap file, enter shows one packet's
// fields and bytes. Every call to the capture runs in a command.
type packetsPane struct {
	state   *monitor.State
	styles  *Styles
	prefs   *Prefs
	keys    packetKeys
	capture CaptureControl
	clock   func() time.Time
	input   *textInput
	purpose int // inputFilter or inputWrite

	pkts    []capture.PacketSummary // the ring as last taken, oldest first
	rc      rowCursor               // row 0 is the newest packet
	held    bool                    // scrolled away from the newest: the list stays as it is
	missed  uint64                  // packets matched while held
	matched uint64                  // packets matched over the session, at the last batch
	detail  bool
	dOffset int          // first line of the details in sight
	decoded packetDetail // the selected packet's layers, decoded when it was selected
	dKey    detailKey    // which packet decoded is of

	// After a change of the packet filter the list is empty until a batch of packets matched
	// by the new one arrives (the state's ring holds only packets of one filter: it starts
	// afresh with that batch). waitFilter is the new filter while waiting.
	waiting    bool
	waitFilter string

	info    captureInfo // what the capture does, as last read
	errText string      // the last failed change (not a filter: that shows in the input)
	w, h    int
}

func newPacketsPane(st *monitor.State, styles *Styles, pr *Prefs, c CaptureControl, clock func() time.Time) *packetsPane {
	if clock == nil {
		clock = time.Now
	}
	return &packetsPane{
		state: st, styles: styles, prefs: pr, keys: newPacketKeys(), capture: c, clock: clock,
		input: newTextInput(styles, "", ""),
	}
}

// Title names the pane, counts the packets and says what is collected and written.
func (p *packetsPane) Title() string {
	t := fmt.Sprintf("Packets · %d", len(p.pkts))
	if f := p.info.packetFilter; f != "" {
		t += fmt.Sprintf(" · filter %q", f)
	} else if !p.info.viewing {
		t += " · off"
	}
	if p.held {
		t += fmt.Sprintf(" · held, %d new", p.missed)
	}
	if p.detail {
		t += " · details"
	}
	if p.info.writing != "" {
		t += fmt.Sprintf(" · ● %s %s pkts", p.info.writing, formatCount(p.info.writingPackets))
	}
	return t
}

// Editing reports whether the filter or a file name is being typed.
func (p *packetsPane) Editing() bool { return p.input.Active() }

// ClaimsKey takes enter (the details) from the root, which would zoom; z still zooms.
func (p *packetsPane) ClaimsKey(msg tea.KeyMsg) bool {
	return key.Matches(msg, p.keys.Detail) || p.detail && key.Matches(msg, p.keys.Close)
}

// ShortHelp returns the pane's main keys for the footer.
func (p *packetsPane) ShortHelp() []key.Binding {
	k := p.keys
	switch {
	case p.Editing():
		return []key.Binding{inputKeys.Submit, inputKeys.Cancel}
	case p.detail:
		return []key.Binding{k.Close, k.table.Down}
	}
	return []key.Binding{k.Filter, k.View, k.Write, k.Detail}
}

// FullHelp returns all the pane's keys.
func (p *packetsPane) FullHelp() [][]key.Binding {
	k := p.keys
	return [][]key.Binding{{k.Filter, k.View, k.Write, k.Detail, k.Close}, k.table.bindings()}
}

// SetSize records the inside size of the pane.
func (p *packetsPane) SetSize(w, h int) {
	p.w, p.h = w, h
	p.rc.clamp(len(p.pkts), p.visible())
}

func (p *packetsPane) visible() int {
	return tableRows(p.h, 1, p.Editing())
}

// Update takes the new packets, the capture's state and the outcome of changes, and
// handles the keys and the mouse.
func (p *packetsPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case BatchMsg, refreshMsg:
		if b, ok := msg.(BatchMsg); ok && b.Batch != nil && p.held {
			p.missed += b.Batch.PacketsMatched
		}
		if !p.held {
			p.take()
		}
	case captureInfoMsg:
		p.info = captureInfo(msg)
	case captureChangedMsg:
		p.changed(msg)
	case tea.KeyMsg:
		if p.Editing() {
			return p.edit(msg)
		}
		return p.key(msg)
	case paneMouseMsg:
		n, vis := len(p.pkts), p.visible()
		switch {
		case p.detail && msg.wheel != 0:
			p.dOffset = max(p.dOffset+msg.wheel*wheelRows, 0)
		case msg.wheel != 0:
			p.rc.wheel(msg.wheel*wheelRows, n, vis)
			p.hold()
		case msg.click && !p.detail && p.rc.click(msg.y-1, n, vis):
			p.hold()
		}
	}
	return nil
}

// changed takes the outcome of a change made to the capture.
func (p *packetsPane) changed(msg captureChangedMsg) {
	switch {
	case msg.what == "filter" && msg.err != nil:
		if p.input.Active() { // libpcap's message beside the expression; the old filter stays
			p.input.SetError(strings.TrimPrefix(msg.err.Error(), "capture: "))
		}
	case msg.what == "filter":
		p.prefs.PacketFilter = msg.arg
		p.input.Close()
		p.errText = ""
		p.waiting, p.waitFilter = p.state.PacketFilter() != msg.arg, msg.arg
		p.take()
	case msg.what == "write" && msg.err != nil:
		p.input.SetError(msg.err.Error())
	case msg.err != nil:
		p.errText = msg.err.Error()
	default:
		p.input.Close()
		p.errText = ""
	}
	p.rc.clamp(len(p.pkts), p.visible())
}

func (p *packetsPane) key(msg tea.KeyMsg) tea.Cmd {
	k := p.keys
	if p.detail {
		switch {
		case key.Matches(msg, k.Close):
			p.detail = false
		case key.Matches(msg, k.table.Down):
			p.dOffset++
		case key.Matches(msg, k.table.Up):
			p.dOffset = max(p.dOffset-1, 0)
		case key.Matches(msg, k.table.PageDown):
			p.dOffset += max(p.h-1, 1)
		case key.Matches(msg, k.table.PageUp):
			p.dOffset = max(p.dOffset-max(p.h-1, 1), 0)
		case key.Matches(msg, k.table.Top):
			p.dOffset = 0
		case key.Matches(msg, k.table.Bottom):
			p.dOffset = 1 << 30 // View clamps it to the last page
		}
		return nil
	}
	if p.rc.key(k.table, msg, len(p.pkts), p.visible()) {
		p.hold()
		return nil
	}
	c := p.capture
	switch {
	case key.Matches(msg, k.Detail):
		if p.rc.cursor < len(p.pkts) {
			p.detail, p.dOffset = true, 0
			p.hold()
			p.decode(p.at(p.rc.cursor))
		}
	case key.Matches(msg, k.View):
		on := !p.info.viewing
		return changeCapture("viewing", "", func() error { c.SetViewing(on); return nil })
	case key.Matches(msg, k.Filter):
		p.purpose = inputFilter
		p.input.prompt, p.input.placeholder = "filter ", "BPF, e.g. tcp port 443 or udp port 53; empty: all packets"
		p.input.Open(p.info.packetFilter)
		p.rc.clamp(len(p.pkts), p.visible())
	case key.Matches(msg, k.Write):
		if p.info.writing != "" {
			return changeCapture("stop", "", c.StopWriting)
		}
		p.purpose = inputWrite
		p.input.prompt, p.input.placeholder = "write to ", "file.pcap"
		p.input.Open(p.clock().Format("wiretop-20060102-150405.pcap"))
		p.rc.clamp(len(p.pkts), p.visible())
	}
	return nil
}

// edit applies a key to the open input; enter asks the capture in a command, and the input
// stays open until the answer comes (with libpcap's message when it is an error).
func (p *packetsPane) edit(msg tea.KeyMsg) tea.Cmd {
	switch p.input.Update(msg) {
	case inputSubmitted:
		v := strings.TrimSpace(p.input.Value())
		c := p.capture
		if p.purpose == inputWrite {
			if v == "" {
				p.input.SetError("a file name, please")
				return nil
			}
			return changeCapture("write", v, func() error { return c.StartWriting(v) })
		}
		return changeCapture("filter", v, func() error { return c.SetPacketFilter(v) })
	case inputCancelled:
		p.input.Close()
		p.rc.clamp(len(p.pkts), p.visible())
	}
	return nil
}

// noteBatch ends the wait after a filter change once the state holds packets of the new
// filter (paused or not).
func (p *packetsPane) noteBatch(b *capture.Batch) {
	if p.waiting && b.PacketFilter == p.waitFilter {
		p.waiting = false
	}
}

// take copies the ring (only the packets since the last filter change, if any) and keeps the
// cursor on a row.
func (p *packetsPane) take() {
	p.pkts = p.state.Packets(p.pkts)
	if p.waiting {
		p.pkts = p.pkts[:0]
	}
	p.rc.clamp(len(p.pkts), p.visible())
}

// hold keeps the list as it is while the cursor is away from the newest packet, and lets it
// follow the ring again at the top.
func (p *packetsPane) hold() {
	held := p.rc.cursor > 0 || p.rc.offset > 0 || p.detail
	if p.held && !held {
		p.missed = 0
		p.take()
	}
	p.held = held
}

// at returns the packet of row i (0: the newest).
func (p *packetsPane) at(i int) *capture.PacketSummary { return &p.pkts[len(p.pkts)-1-i] }

// View renders the list (or one packet's details) in w x h cells.
func (p *packetsPane) View(w, h int) []string {
	if w <= 0 || h <= 0 {
		return nil
	}
	if p.detail && p.rc.cursor < len(p.pkts) {
		return p.detailView(p.at(p.rc.cursor), w, h)
	}
	st := p.styles
	lines := []string{st.TableHeader.Render(fit(fmt.Sprintf(" %-15s %6s %-5s %s", "TIME", "LEN", "PROTO", "SUMMARY"), w))}
	vis := max(h-1, 0)
	if p.Editing() {
		vis = max(vis-1, 0)
	}
	rc := p.rc
	rc.clamp(len(p.pkts), vis)
	from, to := rc.window(len(p.pkts), vis)
	for i := from; i < to; i++ {
		pk := p.at(i)
		marker := " "
		if i == rc.cursor {
			marker = "›"
		}
		line := fmt.Sprintf("%s%-15s %6d %-5s %s", marker, pk.Time.Format("15:04:05.000000"), pk.Length, fit(pk.Proto, 5), pk.Summary)
		if i == rc.cursor {
			lines = append(lines, st.RowSelected.Render(fit(line, w)))
		} else {
			lines = append(lines, st.Text.Render(fit(line, w)))
		}
	}
	if len(p.pkts) == 0 && vis > 0 {
		msg := "  no packet matched the filter yet"
		switch {
		case p.info.packetFilter == "" && !p.info.viewing:
			msg = "  packets are not collected: press c to show them, or f to set a filter"
		case p.info.packetFilter == "":
			msg = "  no packet captured yet"
		}
		lines = append(lines, st.Message.Render(msg))
	}
	if p.errText != "" && len(lines) < vis+1 {
		lines = append(lines, st.Crit.Render("  "+p.errText))
	}
	if !p.Editing() {
		return block(lines, w, h)
	}
	return append(block(lines, w, h-1), p.input.View(w))
}

// decode decodes the selected packet's layers, unless they are decoded already.
func (p *packetsPane) decode(pk *capture.PacketSummary) {
	if k := keyOf(pk); k != p.dKey || p.decoded.layers == nil {
		p.decoded, p.dKey = decodeDetail(pk), k
	}
}

// detailView shows one packet: its tcpdump line, its layers as decodeDetail found them (a
// heading per protocol and its fields) and a hex dump of the bytes captured (link header
// included), scrolled by dOffset.
func (p *packetsPane) detailView(pk *capture.PacketSummary, w, h int) []string {
	st := p.styles
	lines := []string{st.Text.Render(pk.Summary), ""}
	d := &p.decoded
	if keyOf(pk) != p.dKey { // not decoded yet (Update decodes on selection)
		d = &packetDetail{}
	}
	for i := range d.layers {
		l := &d.layers[i]
		lines = append(lines, st.Title.Render(l.heading))
		for _, f := range l.fields {
			lines = append(lines, "  "+st.Label.Render(f.name+":")+" "+st.Value.Render(f.value))
		}
	}
	if d.problem != "" {
		lines = append(lines, st.Warn.Render("! "+d.problem))
	}
	lines = append(lines, "", st.Title.Render(fmt.Sprintf("Bytes (%d captured)", len(pk.Data))))
	lines = append(lines, hexDump(pk.Data, w)...)
	maxOff := max(len(lines)-h, 0)
	p.dOffset = min(p.dOffset, maxOff)
	return block(lines[p.dOffset:], w, h)
}

func endpointText(addr string, port uint16) string {
	if port == 0 {
		return addr
	}
	return fmt.Sprintf("%s port %d", addr, port)
}

// hexDump formats data as offset, hex bytes and printable characters, 16 bytes a line (8
// when the pane is narrow).
func hexDump(data []byte, w int) []string {
	per := 16
	if w < 4+2+16*3+1+2+16 {
		per = 8
	}
	var out []string
	var b strings.Builder
	for off := 0; off < len(data); off += per {
		b.Reset()
		fmt.Fprintf(&b, "%04x  ", off)
		end := min(off+per, len(data))
		for i := off; i < off+per; i++ {
			if i < end {
				fmt.Fprintf(&b, "%02x ", data[i])
			} else {
				b.WriteString("   ")
			}
			if i-off == 7 && per == 16 {
				b.WriteByte(' ')
			}
		}
		b.WriteString(" ")
		for _, c := range data[off:end] {
			if c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			} else {
				b.WriteByte('.')
			}
		}
		out = append(out, b.String())
	}
	return out
}

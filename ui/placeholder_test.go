package ui

import (
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/capture"
)

// placeholderPane stands in for the talkers and packets panes, which come with capture: a
// table of n numbered rows with a cursor, drawn like the real tables (only the rows in sight).
type placeholderPane struct {
	title  string
	styles *Styles
	keys   tableKeys
	n      int
	rc     rowCursor
	h      int
	clicks int
}

func newPlaceholder(title string, n int) *placeholderPane {
	return &placeholderPane{title: title, styles: NewStyles(DefaultTheme()), keys: newTableKeys(), n: n}
}

func (p *placeholderPane) Title() string             { return p.title + " · " + strconv.Itoa(p.n) + " rows" }
func (p *placeholderPane) SetSize(w, h int)          { p.h = h; p.rc.clamp(p.n, p.vis()) }
func (p *placeholderPane) ShortHelp() []key.Binding  { return []key.Binding{p.keys.Down} }
func (p *placeholderPane) FullHelp() [][]key.Binding { return [][]key.Binding{p.keys.bindings()} }
func (p *placeholderPane) vis() int                  { return max(p.h-1, 0) }

func (p *placeholderPane) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.KeyMsg:
		p.rc.key(p.keys, msg, p.n, p.vis())
	case paneMouseMsg:
		if msg.click {
			p.clicks++
			p.rc.click(msg.y-1, p.n, p.vis())
		} else {
			p.rc.wheel(msg.wheel*wheelRows, p.n, p.vis())
		}
	}
	return nil
}

func (p *placeholderPane) View(w, h int) []string {
	lines := []string{p.styles.TableHeader.Render(fmt.Sprintf("%6s %-20s %s", "#", "HOST PAIR", "RATE"))}
	from, to := p.rc.window(p.n, max(h-1, 0))
	for i := from; i < to; i++ {
		marker := " "
		if i == p.rc.cursor {
			marker = "›"
		}
		lines = append(lines, marker+fmt.Sprintf("%5d 198.18.%d.%d", i+1, i/256%256, i%256)+strings.Repeat(" ", 3)+formatRate(float64(i*1000), false))
	}
	return block(lines, w, h)
}

// withPlaceholders adds the talkers and packets slots, with n rows each.
func withPlaceholders(m Model, n int) Model {
	m.setPane(slotTalkers, newPlaceholder("Talkers", n))
	m.setPane(slotPackets, newPlaceholder("Packets", n))
	return m
}

// fakeCapture is a CaptureControl with fixed answers that records the calls made to it, so
// that tests can tell whether the model called it from Update (it must not) or from a command.
type fakeCapture struct {
	mu           sync.Mutex // the model calls it from commands, which run concurrently
	calls        []string
	packetFilter string
	viewing      bool
	writing      string
	filterErr    error  // what SetPacketFilter returns (the filter stays unchanged then)
	replay       string // the file of a replay; "": live on eth0
	stats        capture.Stats
}

func (f *fakeCapture) call(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
}

func (f *fakeCapture) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeCapture) SetPacketFilter(expr string) error {
	f.call("SetPacketFilter")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.filterErr != nil {
		return f.filterErr
	}
	f.packetFilter = expr
	return nil
}
func (f *fakeCapture) PacketFilter() string        { f.call("PacketFilter"); return f.packetFilter }
func (f *fakeCapture) BaseFilter() string          { f.call("BaseFilter"); return "tcp or udp" }
func (f *fakeCapture) SetViewing(on bool)          { f.call("SetViewing"); f.viewing = on }
func (f *fakeCapture) Viewing() bool               { f.call("Viewing"); return f.viewing }
func (f *fakeCapture) StartWriting(p string) error { f.call("StartWriting"); f.writing = p; return nil }
func (f *fakeCapture) StopWriting() error          { f.call("StopWriting"); f.writing = ""; return nil }
func (f *fakeCapture) Writing() (string, uint64) {
	f.call("Writing")
	if f.writing == "" {
		return "", 0
	}
	return f.writing, 1234
}
func (f *fakeCapture) Stats() capture.Stats { f.call("Stats"); return f.stats }
func (f *fakeCapture) Source() string {
	f.call("Source")
	if f.replay != "" {
		return f.replay
	}
	return "eth0"
}
func (f *fakeCapture) Replay() bool { f.call("Replay"); return f.replay != "" }

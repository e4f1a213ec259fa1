package ui

import (
	tea "github.com/charmbracelet/bubbletea"

	"github.com/wiretop/wiretop/capture"
)

// CaptureControl is what the UI asks of a running capture (*capture.Capture satisfies it).
// Its methods are goroutine-safe; the model calls them from commands only, so that a slow
// one never holds up a key press or a frame.
type CaptureControl interface {
	SetPacketFilter(expr string) error
	PacketFilter() string
	BaseFilter() string
	SetViewing(on bool)
	Viewing() bool
	StartWriting(path string) error
	StopWriting() error
	Writing() (path string, packets uint64)
	Stats() capture.Stats
	Source() string
	Replay() bool
}

// captureInfo is what the header shows of the capture: read from the CaptureControl in a
// command (captureInfoMsg), and the statistics of the latest batch.
type captureInfo struct {
	known          bool   // the control has been read
	source         string // interface, or the replay file
	replay         bool
	baseFilter     string
	packetFilter   string
	viewing        bool   // packets are collected for the packets pane
	writing        string // pcap file being written, "" when not writing
	writingPackets uint64
	stats          capture.Stats // totals since the capture opened, from the latest batch
	batches        int           // batches received
}

// captureInfoMsg carries a fresh reading of the capture control.
type captureInfoMsg captureInfo

// readCapture returns a command that reads what the capture is doing, or nil without one.
func readCapture(c CaptureControl) tea.Cmd {
	if c == nil {
		return nil
	}
	return func() tea.Msg {
		path, n := c.Writing()
		return captureInfoMsg{
			known: true, source: c.Source(), replay: c.Replay(),
			baseFilter: c.BaseFilter(), packetFilter: c.PacketFilter(), viewing: c.Viewing(),
			writing: path, writingPackets: n, stats: c.Stats(),
		}
	}
}

// captureChangedMsg reports a change the packets pane asked of the capture (a packet filter,
// viewing, writing), with its error; the model then reads the capture again.
type captureChangedMsg struct {
	what string // "filter", "viewing", "write", "stop"
	arg  string // the filter or the file
	err  error
}

// changeCapture returns a command that runs f on the capture and reports it.
func changeCapture(what, arg string, f func() error) tea.Cmd {
	return func() tea.Msg { return captureChangedMsg{what: what, arg: arg, err: f()} }
}

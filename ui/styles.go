package ui

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
)

// Theme names the colours of the interface. Each colour adapts to light and dark terminal
// backgrounds. Colours are dropped altogether when the terminal has none or NO_COLOR is set
// (lipgloss asks termenv, which honours NO_COLOR), so nothing may carry meaning by colour
// alone: focus, selection and warnings also change a border or a marker.
type Theme struct {
	Text        lipgloss.AdaptiveColor // ordinary text
	Muted       lipgloss.AdaptiveColor // labels, axes, secondary text
	Accent      lipgloss.AdaptiveColor // the app name, focused borders and titles
	Border      lipgloss.AdaptiveColor // unfocused borders
	Rx          lipgloss.AdaptiveColor // received traffic
	Tx          lipgloss.AdaptiveColor // sent traffic
	Bar         lipgloss.AdaptiveColor // ordinary histogram bars
	Warn        lipgloss.AdaptiveColor // something to look at
	Crit        lipgloss.AdaptiveColor // something getting worse
	Good        lipgloss.AdaptiveColor // decreasing counts of a warning state
	SelectedBg  lipgloss.AdaptiveColor // background of the selected table row
	HeaderBg    lipgloss.AdaptiveColor // background of the top line
	HeaderFg    lipgloss.AdaptiveColor // text of the top line
	TableHeader lipgloss.AdaptiveColor // column titles
}

// DefaultTheme returns wiretop's colours.
func DefaultTheme() Theme {
	return Theme{
		Text:        lipgloss.AdaptiveColor{Light: "#1F2328", Dark: "#E6EDF3"},
		Muted:       lipgloss.AdaptiveColor{Light: "#6E7781", Dark: "#8B949E"},
		Accent:      lipgloss.AdaptiveColor{Light: "#0969DA", Dark: "#58A6FF"},
		Border:      lipgloss.AdaptiveColor{Light: "#AFB8C1", Dark: "#484F58"},
		Rx:          lipgloss.AdaptiveColor{Light: "#1A7F37", Dark: "#3FB950"},
		Tx:          lipgloss.AdaptiveColor{Light: "#8250DF", Dark: "#BC8CFF"},
		Bar:         lipgloss.AdaptiveColor{Light: "#0969DA", Dark: "#388BFD"},
		Warn:        lipgloss.AdaptiveColor{Light: "#9A6700", Dark: "#D29922"},
		Crit:        lipgloss.AdaptiveColor{Light: "#CF222E", Dark: "#F85149"},
		Good:        lipgloss.AdaptiveColor{Light: "#1A7F37", Dark: "#3FB950"},
		SelectedBg:  lipgloss.AdaptiveColor{Light: "#DDF4FF", Dark: "#1F3A5F"},
		HeaderBg:    lipgloss.AdaptiveColor{Light: "#EAEEF2", Dark: "#161B22"},
		HeaderFg:    lipgloss.AdaptiveColor{Light: "#1F2328", Dark: "#C9D1D9"},
		TableHeader: lipgloss.AdaptiveColor{Light: "#57606A", Dark: "#A5B1BE"},
	}
}

// Styles are every lipgloss style the interface renders with, built once from a Theme.
// Panes take a *Styles and never build styles of their own.
type Styles struct {
	Header     lipgloss.Style // the top line
	AppName    lipgloss.Style // "wiretop" in the top line
	Status     lipgloss.Style // the line of what wiretop can see
	StatusWarn lipgloss.Style // errors in the status line
	HeaderWarn lipgloss.Style // capture off, kernel drops, in the top line
	HeaderCrit lipgloss.Style // firing alerts, a pcap file being written, in the top line
	Paused     lipgloss.Style // PAUSED in the top line

	Border        lipgloss.Style // pane border
	BorderFocused lipgloss.Style // border of the focused pane
	Title         lipgloss.Style // pane title
	TitleFocused  lipgloss.Style // title of the focused pane
	TitleInactive lipgloss.Style // the other pane names in a compact title

	Plain lipgloss.Style // no styling, for text inside an already styled line
	Text  lipgloss.Style
	Muted lipgloss.Style
	Label lipgloss.Style // labels of figures ("Cur", "Max")
	Value lipgloss.Style // figures
	Warn  lipgloss.Style
	Crit  lipgloss.Style
	Good  lipgloss.Style

	RxTitle lipgloss.Style
	TxTitle lipgloss.Style
	RxChart lipgloss.Style
	TxChart lipgloss.Style
	Axis    lipgloss.Style

	Bar     lipgloss.Style
	BarWarn lipgloss.Style
	BarCrit lipgloss.Style

	TableHeader  lipgloss.Style
	RowSelected  lipgloss.Style
	Unattributed lipgloss.Style

	Message     lipgloss.Style // centred notices ("waiting for the first sample")
	InputPrompt lipgloss.Style // the prompt of a text input ("/")
	InputCursor lipgloss.Style // the cursor of a text input
	HelpKey     lipgloss.Style // keys on the help screen
	Help        help.Styles
}

// NewStyles builds the Styles of a Theme.
func NewStyles(t Theme) *Styles {
	s := lipgloss.NewStyle()
	fg := func(c lipgloss.AdaptiveColor) lipgloss.Style { return s.Foreground(c) }
	return &Styles{
		Header:     s.Foreground(t.HeaderFg).Background(t.HeaderBg),
		AppName:    s.Foreground(t.Accent).Background(t.HeaderBg).Bold(true),
		Status:     fg(t.Muted),
		StatusWarn: fg(t.Warn),
		HeaderWarn: s.Foreground(t.Warn).Background(t.HeaderBg).Bold(true),
		HeaderCrit: s.Foreground(t.Crit).Background(t.HeaderBg).Bold(true),
		Paused:     s.Foreground(t.HeaderBg).Background(t.Warn).Bold(true),

		Border:        fg(t.Border),
		BorderFocused: fg(t.Accent),
		Title:         fg(t.Text).Bold(true),
		TitleFocused:  fg(t.Accent).Bold(true),
		TitleInactive: fg(t.Muted),

		Plain: s,
		Text:  fg(t.Text),
		Muted: fg(t.Muted),
		Label: fg(t.Muted),
		Value: fg(t.Text),
		Warn:  fg(t.Warn).Bold(true),
		Crit:  fg(t.Crit).Bold(true),
		Good:  fg(t.Good),

		RxTitle: fg(t.Rx).Bold(true),
		TxTitle: fg(t.Tx).Bold(true),
		RxChart: fg(t.Rx),
		TxChart: fg(t.Tx),
		Axis:    fg(t.Muted),

		Bar:     fg(t.Bar),
		BarWarn: fg(t.Warn),
		BarCrit: fg(t.Crit),

		TableHeader:  fg(t.TableHeader).Bold(true),
		RowSelected:  s.Background(t.SelectedBg).Bold(true),
		Unattributed: fg(t.Muted).Italic(true),

		Message:     fg(t.Muted).Italic(true),
		InputPrompt: fg(t.Accent).Bold(true),
		InputCursor: s.Reverse(true),
		HelpKey:     fg(t.Accent),
		Help: help.Styles{
			Ellipsis:       fg(t.Muted),
			ShortKey:       fg(t.Accent),
			ShortDesc:      fg(t.Muted),
			ShortSeparator: fg(t.Border),
			FullKey:        fg(t.Accent),
			FullDesc:       fg(t.Muted),
			FullSeparator:  fg(t.Border),
		},
	}
}

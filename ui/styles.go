package ui

import (
	"strings"

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
	Header     Style // the top line
	AppName    Style // "wiretop" in the top line
	Status     Style // the line of what wiretop can see
	StatusWarn Style // errors in the status line
	HeaderWarn Style // capture off, kernel drops, in the top line
	HeaderCrit Style // firing alerts, a pcap file being written, in the top line
	Paused     Style // PAUSED in the top line

	Border        Style // pane border
	BorderFocused Style // border of the focused pane
	Title         Style // pane title
	TitleFocused  Style // title of the focused pane
	TitleInactive Style // the other pane names in a compact title

	Plain Style // no styling, for text inside an already styled line
	Text  Style
	Muted Style
	Label Style // labels of figures ("Cur", "Max")
	Value Style // figures
	Warn  Style
	Crit  Style
	Good  Style

	RxTitle Style
	TxTitle Style
	RxChart Style
	TxChart Style
	Axis    Style

	Bar     Style
	BarWarn Style
	BarCrit Style

	TableHeader  Style
	RowSelected  Style
	Unattributed Style

	Message     Style // centred notices ("waiting for the first sample")
	InputPrompt Style // the prompt of a text input ("/")
	InputCursor Style // the cursor of a text input
	HelpKey     Style // keys on the help screen
	Help        help.Styles
}

// Style is a lipgloss style taken apart once into the escape sequences that open and close
// it, for the current colour profile and background. Rendering a table cell is then two
// concatenations, where lipgloss would parse the colour and build the sequences again for
// every cell of every frame. Text with a newline or a tab goes through lipgloss.
type Style struct {
	style       lipgloss.Style
	open, close string
}

// newStyle takes ls apart: it renders a marker byte and keeps what comes before and after.
func newStyle(ls lipgloss.Style) Style {
	r := ls.Render("\x00")
	i := strings.IndexByte(r, 0)
	if i < 0 { // cannot happen: lipgloss keeps the text
		return Style{style: ls}
	}
	return Style{style: ls, open: r[:i], close: r[i+1:]}
}

// Render returns text in the style.
func (s Style) Render(text string) string {
	switch {
	case strings.ContainsAny(text, "\n\t"):
		return s.style.Render(text)
	case s.open == "" && s.close == "":
		return text
	}
	return s.open + text + s.close
}

// NewStyles builds the Styles of a Theme, for the colour profile and background lipgloss has
// detected (or was told) by then.
func NewStyles(t Theme) *Styles {
	s := lipgloss.NewStyle()
	fg := func(c lipgloss.AdaptiveColor) lipgloss.Style { return s.Foreground(c) }
	return &Styles{
		Header:     newStyle(s.Foreground(t.HeaderFg).Background(t.HeaderBg)),
		AppName:    newStyle(s.Foreground(t.Accent).Background(t.HeaderBg).Bold(true)),
		Status:     newStyle(fg(t.Muted)),
		StatusWarn: newStyle(fg(t.Warn)),
		HeaderWarn: newStyle(s.Foreground(t.Warn).Background(t.HeaderBg).Bold(true)),
		HeaderCrit: newStyle(s.Foreground(t.Crit).Background(t.HeaderBg).Bold(true)),
		Paused:     newStyle(s.Foreground(t.HeaderBg).Background(t.Warn).Bold(true)),

		Border:        newStyle(fg(t.Border)),
		BorderFocused: newStyle(fg(t.Accent)),
		Title:         newStyle(fg(t.Text).Bold(true)),
		TitleFocused:  newStyle(fg(t.Accent).Bold(true)),
		TitleInactive: newStyle(fg(t.Muted)),

		Plain: newStyle(s),
		Text:  newStyle(fg(t.Text)),
		Muted: newStyle(fg(t.Muted)),
		Label: newStyle(fg(t.Muted)),
		Value: newStyle(fg(t.Text)),
		Warn:  newStyle(fg(t.Warn).Bold(true)),
		Crit:  newStyle(fg(t.Crit).Bold(true)),
		Good:  newStyle(fg(t.Good)),

		RxTitle: newStyle(fg(t.Rx).Bold(true)),
		TxTitle: newStyle(fg(t.Tx).Bold(true)),
		RxChart: newStyle(fg(t.Rx)),
		TxChart: newStyle(fg(t.Tx)),
		Axis:    newStyle(fg(t.Muted)),

		Bar:     newStyle(fg(t.Bar)),
		BarWarn: newStyle(fg(t.Warn)),
		BarCrit: newStyle(fg(t.Crit)),

		TableHeader:  newStyle(fg(t.TableHeader).Bold(true)),
		RowSelected:  newStyle(s.Background(t.SelectedBg).Bold(true)),
		Unattributed: newStyle(fg(t.Muted).Italic(true)),

		Message:     newStyle(fg(t.Muted).Italic(true)),
		InputPrompt: newStyle(fg(t.Accent).Bold(true)),
		InputCursor: newStyle(s.Reverse(true)),
		HelpKey:     newStyle(fg(t.Accent)),
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

package ui

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// environ is a fixed environment for termenv, in place of the process's.
type environ map[string]string

func (e environ) Environ() []string {
	var out []string
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

func (e environ) Getenv(k string) string { return e[k] }

// useTerminal makes lipgloss render as it would for a colour terminal with env (TERM,
// COLORTERM, NO_COLOR...) and a dark or light background, until the test ends. Nothing forces
// a colour profile: lipgloss works it out from env, as it does when wiretop runs.
func useTerminal(t *testing.T, env environ, dark bool) {
	t.Helper()
	old := lipgloss.DefaultRenderer()
	r := lipgloss.NewRenderer(io.Discard, termenv.WithTTY(true), termenv.WithEnvironment(env))
	r.SetHasDarkBackground(dark)
	lipgloss.SetDefaultRenderer(r)
	t.Cleanup(func() { lipgloss.SetDefaultRenderer(old) })
}

// colourSGR matches the escape sequences that set a foreground or background colour: the 8
// and 16 colours (30-37, 40-47, 90-97, 100-107) and the 256 and true colours (38;5, 38;2 ...).
var colourSGR = regexp.MustCompile(`\x1b\[(?:[0-9]+;)*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9]+)*m`)

// captureScreen is the whole screen with capture on, 120x40, the packets pane focused so that
// the selected row is drawn too.
func captureScreen() string {
	m, _ := captureModel(40, 120, 40)
	return keys(m, "5").View()
}

// With NO_COLOR set, the screen has no colour at all (bold and reverse may stay: NO_COLOR is
// about colour); the same terminal without it gets colours, so the test can tell.
func TestNoColor(t *testing.T) {
	term := environ{"TERM": "xterm-256color", "COLORTERM": "truecolor"}
	useTerminal(t, term, true)
	if !colourSGR.MatchString(captureScreen()) {
		t.Fatal("no colour on a true-colour terminal: the test proves nothing")
	}
	noColor := environ{"TERM": "xterm-256color", "COLORTERM": "truecolor", "NO_COLOR": "1"}
	useTerminal(t, noColor, true)
	screen := captureScreen()
	if loc := colourSGR.FindStringIndex(screen); loc != nil {
		t.Errorf("NO_COLOR=1, yet a colour: %q", screen[max(loc[0]-20, 0):min(loc[1]+20, len(screen))])
	}
	if !strings.Contains(screen, "┏━ 5 Packets") {
		t.Errorf("the screen is not drawn:\n%s", screen)
	}
}

// trueColour matches a true-colour foreground and captures its red, green and blue.
var trueColour = regexp.MustCompile(`38;2;([0-9]+);([0-9]+);([0-9]+)`)

// hasColour reports whether screen sets the foreground to the colour "#rrggbb" (give or take
// one step per channel: the colour library rounds on its way through floats).
func hasColour(screen, hex string) bool {
	var r, g, b int
	fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &b)
	near := func(s string, v int) bool { n, _ := strconv.Atoi(s); return n >= v-1 && n <= v+1 }
	for _, m := range trueColour.FindAllStringSubmatch(screen, -1) {
		if near(m[1], r) && near(m[2], g) && near(m[3], b) {
			return true
		}
	}
	return false
}

// On a dark background the screen is drawn in the theme's dark colours and none of its light
// ones, and the other way round; each named colour used on screen is checked.
func TestThemeDark(t *testing.T)  { testTheme(t, true) }
func TestThemeLight(t *testing.T) { testTheme(t, false) }

func testTheme(t *testing.T, dark bool) {
	useTerminal(t, environ{"TERM": "xterm-256color", "COLORTERM": "truecolor"}, dark)
	screen := captureScreen()
	th := DefaultTheme()
	for name, c := range map[string]lipgloss.AdaptiveColor{
		"Text": th.Text, "Muted": th.Muted, "Accent": th.Accent, "Border": th.Border, "Rx": th.Rx, "Tx": th.Tx, "Warn": th.Warn,
	} {
		want, other := c.Dark, c.Light
		if !dark {
			want, other = other, want
		}
		if !hasColour(screen, want) {
			t.Errorf("%s: %s not on screen", name, want)
		}
		if want != other && hasColour(screen, other) {
			t.Errorf("%s: the other background's %s is on screen", name, other)
		}
	}
}

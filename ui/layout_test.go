package ui

import (
	"fmt"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// checkTiling fails unless the rects of g cover the w x h body exactly once, each at least
// minW x minH.
func checkTiling(t *testing.T, g map[paneID]rect, w, h, minW, minH int) {
	t.Helper()
	cover := make([]int, w*h)
	for id, r := range g {
		if r.w < minW || r.h < minH {
			t.Errorf("%dx%d: pane %d is %dx%d, smaller than %dx%d", w, h, id, r.w, r.h, minW, minH)
		}
		for y := r.y; y < r.y+r.h; y++ {
			for x := r.x; x < r.x+r.w; x++ {
				if x < 0 || y < 0 || x >= w || y >= h {
					t.Fatalf("%dx%d: pane %d (%+v) leaves the body", w, h, id, r)
				}
				cover[y*w+x]++
			}
		}
	}
	for i, c := range cover {
		if c != 1 {
			t.Fatalf("%dx%d: cell (%d,%d) covered %d times: %v", w, h, i%w, i/w, c, g)
		}
	}
}

func TestArrange(t *testing.T) {
	three := [numSlots]bool{true, true, true, false, false}
	five := [numSlots]bool{true, true, true, true, true}
	for _, size := range [][2]int{{110, 27}, {120, 37}, {160, 45}, {200, 57}, {250, 67}} {
		w, h := size[0], size[1]
		g := arrange(three, w, h)
		if len(g) != 3 {
			t.Fatalf("%dx%d: %d panes, want 3", w, h, len(g))
		}
		checkTiling(t, g, w, h, 50, 8)
		// bandwidth and states side by side on top, processes across the whole width below
		if g[slotBandwidth].y != 0 || g[slotStates].y != 0 || g[slotProcesses].w != w {
			t.Errorf("%dx%d: three panes %v", w, h, g)
		}
		if h >= 34 {
			g = arrange(five, w, h)
			if len(g) != 5 {
				t.Fatalf("%dx%d: %d panes, want 5", w, h, len(g))
			}
			checkTiling(t, g, w, h, 50, 8)
			if g[slotProcesses].y != g[slotTalkers].y || g[slotPackets].w != w || g[slotPackets].y <= g[slotTalkers].y {
				t.Errorf("%dx%d: five panes %v", w, h, g)
			}
			if g[slotBandwidth].h < 13 {
				t.Errorf("%dx%d: bandwidth only %d lines high", w, h, g[slotBandwidth].h)
			}
		}
	}
	// too small for the grid: one pane at a time
	for _, tc := range []struct {
		present [numSlots]bool
		w, h    int
	}{{three, 109, 40}, {three, 120, 26}, {five, 120, 33}, {five, 80, 21}} {
		if g := arrange(tc.present, tc.w, tc.h); g != nil {
			t.Errorf("%dx%d: a grid %v, want none", tc.w, tc.h, g)
		}
	}
}

// The screen is exactly the terminal's size, with no line wider than it, from 80x24 to
// 250x70, as the terminal is resized (the panes reflow): with three panes, five (placeholders,
// and the real talkers and packets), the focus anywhere, zoomed, with the help, a filter, a
// packet's details or a file name being typed.
func TestSizeSweep(t *testing.T) {
	widths := []int{80, 81, 99, 109, 110, 111, 119, 120, 137, 160, 199, 200, 233, 249, 250}
	heights := []int{24, 25, 26, 29, 30, 31, 36, 37, 40, 47, 59, 60, 69, 70}
	for _, setup := range []string{"three", "placeholders", "capture"} {
		for _, keys := range [][]string{{}, {"2"}, {"3", "/", "x"}, {"4", "z"}, {"?"}, {"u", "3", "m", "l"},
			{"4", "P", "/", "u"}, {"5", "f", "t", "c", "p"}, {"5", "j", "enter"}, {"5", "w"}} {
			if setup == "three" && len(keys) > 0 && (keys[0] == "4" || keys[0] == "5") {
				continue
			}
			name := fmt.Sprintf("%s/keys=%s", setup, strings.Join(keys, ""))
			t.Run(name, func(t *testing.T) {
				var m Model
				switch setup {
				case "three":
					m = fixtureModel(40, 120, 40)
				case "placeholders":
					m = fixtureModelWith(withPlaceholders(NewModel(fixtureOptions()), 10_000), 40, 120, 40)
				case "capture":
					m, _ = captureModel(40, 120, 40)
				}
				m = press(m, keys...)
				for _, w := range widths {
					for _, h := range heights {
						m = update(m, tea.WindowSizeMsg{Width: w, Height: h})
						screen := m.View()
						checkScreen(t, screen, w, h)
						if strings.Contains(screen, "too small") {
							t.Errorf("%dx%d: too small", w, h)
						}
					}
				}
			})
		}
	}
}

// Below the minimum, a clear message; from the minimum up, the dashboard.
func TestTooSmall(t *testing.T) {
	for _, size := range [][2]int{{59, 30}, {100, 15}, {20, 5}, {1, 1}} {
		m := fixtureModel(2, size[0], size[1])
		screen := m.View()
		if size[1] >= 3 && (!strings.Contains(screen, "too small") || !strings.Contains(screen, fmt.Sprintf("%dx%d", size[0], size[1]))) {
			t.Errorf("%v:\n%s", size, screen)
		}
		checkScreen(t, screen, size[0], size[1])
		if _, cmd := m.Update(keyMsg("q")); cmd == nil || cmd() != tea.Quit() {
			t.Errorf("%v: q does not quit", size)
		}
	}
	screen := fixtureModel(2, 60, 16).View()
	if strings.Contains(screen, "too small") {
		t.Errorf("60x16 is large enough:\n%s", screen)
	}
	checkScreen(t, screen, 60, 16)
}

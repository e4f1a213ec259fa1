package ui

import (
	"math"
	"strings"
	"time"

	"github.com/NimbleMarkets/ntcharts/canvas/runes"
)

// axisWidth is the width of the y axis labels, the widest being "1.25 Gbit/s", fixed so that
// charts side by side line up and keep their place when the unit changes.
const axisWidth = 11

// Chart resolution: Braille cells hold two samples of four dots each; block elements (the
// --ascii mode, for fonts without Braille) one sample of eight eighths.
const (
	brailleSamples, brailleLevels = 2, 4
	blockSamples, blockLevels     = 1, 8
)

// samplesPerCell is how many intervals one chart column shows.
func samplesPerCell(ascii bool) int {
	if ascii {
		return blockSamples
	}
	return brailleSamples
}

// chartSpec is one area chart: rates in the display unit, oldest first, drawn right-aligned
// so that the newest is at the right edge.
type chartSpec struct {
	values   []float64
	top      float64 // the value of the top of the plot
	bits     bool    // axis labels in bits per second
	ascii    bool    // block elements instead of Braille
	interval time.Duration
	style    Style
}

// chartSamples returns how many values a chart of w cells shows.
func chartSamples(w int, ascii bool) int { return max(w-axisWidth-1, 0) * samplesPerCell(ascii) }

// drawChart renders c in w x h cells: y axis labels on the left, the plot, and a time axis at
// the bottom when h allows. Values beyond the plot's width are not drawn; values above top
// are clipped.
func drawChart(st *Styles, c chartSpec, w, h int) []string {
	if w <= 0 || h <= 0 {
		return nil
	}
	rows := h - 1 // the last row is the time axis
	if h < 3 {
		rows = h // no room for one
	}
	dw := w - axisWidth - 1
	if dw < 1 {
		return block(nil, w, h)
	}
	vals := c.values
	if n := dw * samplesPerCell(c.ascii); len(vals) > n {
		vals = vals[len(vals)-n:]
	}
	var plot [][]rune
	if c.ascii {
		plot = blockPlot(vals, c.top, dw, rows)
	} else {
		plot = braillePlot(vals, c.top, dw, rows)
	}
	labels := make([]string, rows)
	labels[0] = formatAxis(c.top, c.bits)
	if rows >= 5 {
		labels[rows/2] = formatAxis(c.top/2, c.bits)
	}
	if rows >= 2 {
		labels[rows-1] = "0"
	}
	out := make([]string, 0, h)
	for i := 0; i < rows; i++ {
		tick := "│"
		if labels[i] != "" {
			tick = "┤"
		}
		out = append(out, st.Axis.Render(fitRight(labels[i], axisWidth)+tick)+c.style.Render(string(plot[i])))
	}
	if rows < h {
		span := time.Duration(dw*samplesPerCell(c.ascii)) * c.interval
		out = append(out, st.Axis.Render(strings.Repeat(" ", axisWidth)+"└"+timeAxis(dw, span)))
	}
	return out
}

// level scales v to a whole number of steps out of n, with at least one step for any v > 0.
func level(v, top float64, n int) int {
	if v <= 0 || top <= 0 {
		return 0
	}
	l := int(math.Round(v / top * float64(n)))
	return min(max(l, 1), n)
}

// braillePlot fills each of the 2*dw dot columns from the bottom up to its value, with
// ntcharts' Braille dot grid.
func braillePlot(vals []float64, top float64, dw, rows int) [][]rune {
	gw, gh := dw*brailleSamples, rows*brailleLevels
	g := runes.NewPatternDotsGrid(gw, gh)
	start := gw - len(vals)
	for i, v := range vals {
		for k := level(v, top, gh); k > 0; k-- {
			g.Set(start+i, gh-k)
		}
	}
	plot := g.BraillePatterns()
	for _, row := range plot {
		for j, r := range row {
			if r == runes.BrailleBlockOffset {
				row[j] = ' ' // the empty pattern: a blank reads the same and copies better
			}
		}
	}
	return plot
}

// lowerEighths are the block elements from empty to a full cell.
var lowerEighths = []rune(" ▁▂▃▄▅▆▇█")

// blockPlot draws one column of block elements per value.
func blockPlot(vals []float64, top float64, dw, rows int) [][]rune {
	plot := make([][]rune, rows)
	for i := range plot {
		plot[i] = []rune(strings.Repeat(" ", dw))
	}
	start := dw - len(vals)
	for i, v := range vals {
		l := level(v, top, rows*blockLevels)
		for r := 0; r < rows && l > 0; r++ {
			plot[rows-1-r][start+i] = lowerEighths[min(l, blockLevels)]
			l -= blockLevels
		}
	}
	return plot
}

// timeAxis is the bottom line of a chart dw columns wide that spans span: how far back its
// left edge is, and "now" at the right.
func timeAxis(dw int, span time.Duration) string {
	line := strings.Repeat("─", dw)
	if span <= 0 || dw < 12 {
		return line
	}
	left := "-" + formatDuration(span)
	right := "now"
	return left + strings.Repeat("─", max(dw-width(left)-width(right), 0)) + right
}

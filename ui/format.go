package ui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Units of the two scales: bytes count in powers of 1024 (IEC, like ls -h and ss), bits in
// powers of 1000 (SI, like nload and iftop print link speeds).
var (
	byteUnits = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	bitUnits  = []string{"bit", "kbit", "Mbit", "Gbit", "Tbit", "Pbit"}
)

// scale reduces v to a mantissa below 1000 in the given base and returns it with the index of
// its unit.
func scale(v, base float64, units int) (float64, int) {
	i := 0
	for math.Abs(v) >= 999.5 && i < units-1 {
		v /= base
		i++
	}
	return v, i
}

// mantissa prints v with three significant digits ("1.23", "12.3", "123"); whole units
// (i == 0: bytes or bits) print without decimals.
func mantissa(v float64, i int) string {
	switch {
	case i == 0:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	case math.Abs(v) < 9.995:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case math.Abs(v) < 99.95:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// formatBytes prints a byte count in 1024-based units: "0 B", "512 B", "1.50 KiB", "12.3 MiB".
// The result is at most 8 cells wide.
func formatBytes(n float64) string {
	v, i := scale(n, 1024, len(byteUnits))
	return mantissa(v, i) + " " + byteUnits[i]
}

// formatRate prints a rate given in bytes per second: in 1024-based byte units ("1.50 MiB/s")
// or, with bits, in 1000-based bit units ("12.6 Mbit/s"). The result is at most 11 cells wide.
func formatRate(bytesPerSec float64, bits bool) string {
	if bits {
		v, i := scale(bytesPerSec*8, 1000, len(bitUnits))
		return mantissa(v, i) + " " + bitUnits[i] + "/s"
	}
	v, i := scale(bytesPerSec, 1024, len(byteUnits))
	return mantissa(v, i) + " " + byteUnits[i] + "/s"
}

// formatAxis prints an axis value (already in the display unit: bytes or bits per second)
// without trailing zeros: "2 MiB/s", "2.5 kbit/s", "0".
func formatAxis(v float64, bits bool) string {
	if v == 0 {
		return "0"
	}
	base, units := 1024.0, byteUnits
	if bits {
		base, units = 1000, bitUnits
	}
	m, i := scale(v, base, len(units))
	s := strconv.FormatFloat(m, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + " " + units[i] + "/s"
}

// niceCeil returns the smallest "nice" axis maximum (1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a
// power of ten of the display unit) that is at least v, and at least one unit of the smallest
// prefix (1 KiB/s, 1 kbit/s). A maximum that would read 1000 of a unit is one of the next.
func niceCeil(v float64, bits bool) float64 {
	base := 1024.0
	if bits {
		base = 1000
	}
	if v < base {
		v = base
	}
	m, i := scale(v, base, 6)
	mult := math.Pow(base, float64(i))
	exp := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8} {
		if f*exp >= m*(1-1e-9) {
			return f * exp * mult
		}
	}
	if 10*exp >= 1000 {
		return mult * base
	}
	return 10 * exp * mult
}

// formatCount prints a counter compactly: "0", "12345", "123k", "1.2M".
func formatCount(n uint64) string {
	switch {
	case n < 100_000:
		return strconv.FormatUint(n, 10)
	case n < 10_000_000:
		return strconv.FormatUint(n/1000, 10) + "k"
	case n < 1_000_000_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	}
	return strconv.FormatFloat(float64(n)/1e9, 'f', 1, 64) + "G"
}

// formatDelta prints a signed change: "+3", "-12", and "" for no change.
func formatDelta(d int) string {
	switch {
	case d > 0:
		return "+" + strconv.Itoa(d)
	case d < 0:
		return strconv.Itoa(d)
	}
	return ""
}

// formatDuration prints a duration coarsely, two units at most: "45s", "3m12s", "5m", "1h02m",
// "2d03h". Sub-second durations print as "0.5s".
func formatDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	if d < time.Second && d > 0 {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600 && s%60 == 0:
		return fmt.Sprintf("%dm", s/60)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400 && s%3600 == 0:
		return fmt.Sprintf("%dh", s/3600)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

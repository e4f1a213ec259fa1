package ui

import (
	"testing"
	"time"
)

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0 B"},
		{512, "512 B"},
		{999, "999 B"},
		{1000, "0.98 KiB"},
		{1536, "1.50 KiB"},
		{12.3 * 1024 * 1024, "12.3 MiB"},
		{123 * 1024 * 1024 * 1024, "123 GiB"},
		{5 << 50, "5.00 PiB"},
	} {
		if got := formatBytes(tc.in); got != tc.want {
			t.Errorf("formatBytes(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		bits bool
		want string
	}{
		{0, false, "0 B/s"},
		{0, true, "0 bit/s"},
		{100, false, "100 B/s"},
		{100, true, "800 bit/s"},
		{125, true, "1.00 kbit/s"},       // 1000 bits: SI, unlike bytes
		{1024, false, "1.00 KiB/s"},      // 1024 bytes: IEC
		{1_250_000, true, "10.0 Mbit/s"}, // a 10 Mbit/s link
		{125_000_000, true, "1.00 Gbit/s"},
		{2.42 * 1024 * 1024, false, "2.42 MiB/s"},
		{999.4 * 1024, false, "999 KiB/s"},
		{999.6 * 1024, false, "0.98 MiB/s"}, // never four digits
	} {
		if got := formatRate(tc.in, tc.bits); got != tc.want {
			t.Errorf("formatRate(%v, bits=%v) = %q, want %q", tc.in, tc.bits, got, tc.want)
		}
		if w := width(formatRate(tc.in, tc.bits)); w > rateWidth {
			t.Errorf("formatRate(%v) is %d cells, more than the column holds", tc.in, w)
		}
	}
}

func TestNiceCeilAndAxis(t *testing.T) {
	const KiB, MiB = 1024.0, 1024.0 * 1024
	for _, tc := range []struct {
		in   float64
		bits bool
		want float64
		axis string
	}{
		{0, false, KiB, "1 KiB/s"}, // idle: one unit, never a zero range
		{0, true, 1000, "1 kbit/s"},
		{1.3 * MiB, false, 1.5 * MiB, "1.5 MiB/s"},
		{2.85 * MiB, false, 3 * MiB, "3 MiB/s"},
		{508 * KiB, false, 600 * KiB, "600 KiB/s"},
		{900 * KiB, false, MiB, "1 MiB/s"}, // not "1000 KiB/s"
		{3 * MiB, false, 3 * MiB, "3 MiB/s"},
		{23e6, true, 25e6, "25 Mbit/s"},
		{950e6, true, 1e9, "1 Gbit/s"},
	} {
		got := niceCeil(tc.in, tc.bits)
		if got != tc.want {
			t.Errorf("niceCeil(%v, %v) = %v, want %v", tc.in, tc.bits, got, tc.want)
		}
		if a := formatAxis(got, tc.bits); a != tc.axis {
			t.Errorf("formatAxis(%v, %v) = %q, want %q", got, tc.bits, a, tc.axis)
		}
		if width(formatAxis(got, tc.bits)) > axisWidth {
			t.Errorf("axis label %q wider than %d", formatAxis(got, tc.bits), axisWidth)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{500 * time.Millisecond, "0.5s"},
		{45 * time.Second, "45s"},
		{time.Minute, "1m"},
		{3*time.Minute + 12*time.Second, "3m12s"},
		{time.Hour + 2*time.Minute, "1h02m"},
		{2 * time.Hour, "2h"},
		{51 * time.Hour, "2d03h"},
	} {
		if got := formatDuration(tc.in); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatCountAndDelta(t *testing.T) {
	for in, want := range map[uint64]string{0: "0", 99999: "99999", 123456: "123k", 12_345_678: "12.3M", 4e9: "4.0G"} {
		if got := formatCount(in); got != want {
			t.Errorf("formatCount(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int]string{0: "", 3: "+3", -12: "-12"} {
		if got := formatDelta(in); got != want {
			t.Errorf("formatDelta(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestBar(t *testing.T) {
	for _, tc := range []struct {
		v, peak float64
		w       int
		want    string
	}{
		{0, 10, 10, ""},
		{10, 10, 4, "████"},
		{5, 10, 4, "██"},
		{1, 10, 4, "▍"},   // 3.2 eighths
		{1, 1000, 4, "▏"}, // too small to show: a sliver all the same
	} {
		if got := bar(tc.v, tc.peak, tc.w); got != tc.want {
			t.Errorf("bar(%v, %v, %d) = %q, want %q", tc.v, tc.peak, tc.w, got, tc.want)
		}
	}
}

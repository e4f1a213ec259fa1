// Package detect judges the monitor's per-interval view: threshold, baseline, SYN flood, port
// scan, brute force, connection surge, exfiltration, reverse shell, new listener, and errors
// and drops. It is pure: no goroutines, no I/O and no clock reads; the time of an evaluation
// is a parameter, so a test replays an attack interval by interval (DESIGN.md, "Detection and
// alerts"; STYLE.md, "Wave 2").
package detect

package sampler

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// netDevFields is the number of counters per interface line of /proc/net/dev:
// 8 receive and 8 transmit counters (net/core/net-procfs.c, dev_seq_printf_stats).
const netDevFields = 16

// parseNetDev parses the /proc/net/dev format: two header lines, then one line per
// interface, "name: rx_bytes rx_packets rx_errs rx_drop rx_fifo rx_frame rx_compressed
// rx_multicast tx_bytes tx_packets tx_errs tx_drop tx_fifo tx_colls tx_carrier
// tx_compressed". The kernel prints the name right-aligned in 6 columns followed by ':'
// and the first counter in 8 columns, so a long counter is glued to the colon
// ("eth0:123456789"); the name ends at the first ':' because interface names cannot
// contain one (net/core/dev.c, dev_valid_name). Interfaces are returned in file order.
//
// Malformed input (a missing header, a line without ':', an empty name, a counter count
// other than 16, a non-numeric counter) returns an error wrapping ErrMalformed that names
// the line number.
func parseNetDev(r io.Reader) ([]IfaceCounters, error) {
	sc := bufio.NewScanner(r)
	var out []IfaceCounters
	line := 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if line <= 2 {
			// "Inter-|   Receive ...|  Transmit" and " face |bytes    packets ...".
			if bytes.IndexByte(text, '|') < 0 {
				return nil, fmt.Errorf("line %d: missing header (no '|' in %q): %w", line, clipForError(text), ErrMalformed)
			}
			continue
		}
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		c, err := parseNetDevLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, scanError(line+1, err)
	}
	if line < 2 {
		return nil, fmt.Errorf("line %d: missing header (%d of 2 header lines): %w", line+1, line, ErrMalformed)
	}
	return out, nil
}

// parseNetDevLine parses one interface line of /proc/net/dev.
func parseNetDevLine(text []byte) (IfaceCounters, error) {
	colon := bytes.IndexByte(text, ':')
	if colon < 0 {
		return IfaceCounters{}, fmt.Errorf("no ':' after the interface name in %q: %w", clipForError(text), ErrMalformed)
	}
	name := bytes.TrimSpace(text[:colon])
	if len(name) == 0 {
		return IfaceCounters{}, fmt.Errorf("empty interface name in %q: %w", clipForError(text), ErrMalformed)
	}
	if bytes.ContainsAny(name, " \t") {
		return IfaceCounters{}, fmt.Errorf("interface name %q contains a space: %w", clipForError(name), ErrMalformed)
	}
	var v [netDevFields]uint64
	n := 0
	rest := text[colon+1:]
	for {
		var field []byte
		field, rest = cutField(rest)
		if field == nil {
			break
		}
		if n == netDevFields {
			return IfaceCounters{}, fmt.Errorf("interface %q: more than %d counters: %w", name, netDevFields, ErrMalformed)
		}
		u, err := atoCounter(field)
		if err != nil {
			return IfaceCounters{}, fmt.Errorf("interface %q: counter %d: %w", name, n+1, err)
		}
		v[n] = u
		n++
	}
	if n != netDevFields {
		return IfaceCounters{}, fmt.Errorf("interface %q: %d counters, want %d: %w", name, n, netDevFields, ErrMalformed)
	}
	return IfaceCounters{
		Name:    string(name),
		RxBytes: v[0], RxPackets: v[1], RxErrors: v[2], RxDropped: v[3],
		TxBytes: v[8], TxPackets: v[9], TxErrors: v[10], TxDropped: v[11],
	}, nil
}

// readNetDev reads and parses procRoot/net/dev. Errors name the path.
func readNetDev(procRoot string) ([]IfaceCounters, error) {
	path := filepath.Join(procRoot, "net", "dev")
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError already names the path
	}
	defer f.Close()
	c, err := parseNetDev(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// counterDelta returns how much a kernel counter advanced from prev to cur.
//
// When cur < prev the counter either wrapped or was reset:
//   - prev in the top quarter of the 64-bit range: a 64-bit wrap, cur + 2^64 - prev;
//   - prev below 2^32 and in the top quarter of the 32-bit range: a 32-bit counter
//     (a 32-bit kernel or driver) wrapped, cur + 2^32 - prev;
//   - otherwise a reset (reboot, driver reload, interface re-created): the delta is cur,
//     what was counted since the reset.
//
// The result is never a 16 EB spike from unsigned underflow.
func counterDelta(prev, cur uint64) uint64 {
	const (
		top64  = 3 << 62 // 3/4 of 2^64
		top32  = 3 << 30 // 3/4 of 2^32
		wrap32 = 1 << 32
	)
	switch {
	case cur >= prev:
		return cur - prev
	case prev >= top64:
		return cur - prev // modular arithmetic: cur + 2^64 - prev
	case prev < wrap32 && prev >= top32:
		return cur + wrap32 - prev
	default:
		return cur
	}
}

// ifaceDeltas returns one IfaceDelta per interface of cur, sorted by name: the
// counterDelta of every counter against the interface of the same name in prev. An
// interface that is not in prev (new, or renamed) counts zero this interval: its counters
// become the baseline; but one whose name is in gone (seen before, then absent from a
// good read: deleted and created again) counts from zero, as a new device's counters
// start. An interface of prev that is not in cur is omitted.
func ifaceDeltas(prev, cur []IfaceCounters, gone map[string]bool) []IfaceDelta {
	old := make(map[string]*IfaceCounters, len(prev))
	for i := range prev {
		old[prev[i].Name] = &prev[i]
	}
	out := make([]IfaceDelta, 0, len(cur))
	for i := range cur {
		c := &cur[i]
		d := IfaceDelta{Name: c.Name}
		if p, ok := old[c.Name]; ok {
			d.RxBytes = counterDelta(p.RxBytes, c.RxBytes)
			d.RxPackets = counterDelta(p.RxPackets, c.RxPackets)
			d.RxErrors = counterDelta(p.RxErrors, c.RxErrors)
			d.RxDropped = counterDelta(p.RxDropped, c.RxDropped)
			d.TxBytes = counterDelta(p.TxBytes, c.TxBytes)
			d.TxPackets = counterDelta(p.TxPackets, c.TxPackets)
			d.TxErrors = counterDelta(p.TxErrors, c.TxErrors)
			d.TxDropped = counterDelta(p.TxDropped, c.TxDropped)
		} else if gone[c.Name] {
			d.RxBytes, d.RxPackets, d.RxErrors, d.RxDropped = c.RxBytes, c.RxPackets, c.RxErrors, c.RxDropped
			d.TxBytes, d.TxPackets, d.TxErrors, d.TxDropped = c.TxBytes, c.TxPackets, c.TxErrors, c.TxDropped
		}
		out = append(out, d)
	}
	slices.SortStableFunc(out, func(a, b IfaceDelta) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// cutField returns the first space-separated field of b and the rest after it, or a
// nil field when b holds only spaces.
func cutField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	if i == len(b) {
		return nil, nil
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' {
		j++
	}
	return b[i:j], b[j:]
}

// atoCounter parses a decimal counter without allocating; errors wrap ErrMalformed.
func atoCounter(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("empty number: %w", ErrMalformed)
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a number: %q: %w", clipForError(b), ErrMalformed)
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, fmt.Errorf("number out of range: %q: %w", clipForError(b), ErrMalformed)
		}
		v = v*10 + d
	}
	return v, nil
}

// checkSigned checks that b is a decimal integer that may be negative, like the
// Tcp: MaxConn field of /proc/net/snmp, which is -1 (no limit).
func checkSigned(b []byte) error {
	if len(b) > 1 && b[0] == '-' {
		b = b[1:]
	}
	_, err := atoCounter(b)
	return err
}

// scanError reports a read error at line; bufio.ErrTooLong (a line longer than the
// scanner's buffer) is malformed input, other errors come from the reader.
func scanError(line int, err error) error {
	if errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("line %d: %w: %w", line, ErrMalformed, err)
	}
	return fmt.Errorf("line %d: %w", line, err)
}

// clipForError shortens b for an error message, so that a corrupt multi-megabyte line does
// not end up in a log.
func clipForError(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

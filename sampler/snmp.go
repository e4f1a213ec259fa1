package sampler

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// maxKernelLine bounds one line of /proc/net/snmp and /proc/net/netstat. The TcpExt:
// header of a 6.x kernel is about 3 KiB; new counters only make it longer.
const maxKernelLine = 1 << 20

// parseSNMP reads the "Tcp:" header and value line pair of /proc/net/snmp into the Tcp
// fields of k (ActiveOpens, PassiveOpens, AttemptFails, EstabResets, RetransSegs, InErrs,
// OutRsts), leaving the other fields alone. The kernel prints it in net/ipv4/proc.c,
// snmp_seq_show_tcp_udp. A counter that this kernel does not have stays zero.
func parseSNMP(r io.Reader, k *KernelTCP) error {
	return parseCounterPair(r, "Tcp", func(name []byte) *uint64 {
		switch string(name) {
		case "ActiveOpens":
			return &k.ActiveOpens
		case "PassiveOpens":
			return &k.PassiveOpens
		case "AttemptFails":
			return &k.AttemptFails
		case "EstabResets":
			return &k.EstabResets
		case "RetransSegs":
			return &k.RetransSegs
		case "InErrs":
			return &k.InErrs
		case "OutRsts":
			return &k.OutRsts
		}
		return nil
	})
}

// parseNetstat reads the "TcpExt:" header and value line pair of /proc/net/netstat into
// the TcpExt fields of k (ListenOverflows, ListenDrops, SyncookiesSent, SyncookiesRecv,
// SyncookiesFailed, TCPReqQFullDrop), leaving the other fields alone. The kernel prints
// it in net/ipv4/proc.c, netstat_seq_show; the names come from snmp4_net_list. A counter
// that this kernel does not have (TCPReqQFullDrop before Linux 3.10) stays zero.
func parseNetstat(r io.Reader, k *KernelTCP) error {
	return parseCounterPair(r, "TcpExt", func(name []byte) *uint64 {
		switch string(name) {
		case "ListenOverflows":
			return &k.ListenOverflows
		case "ListenDrops":
			return &k.ListenDrops
		case "SyncookiesSent":
			return &k.SyncookiesSent
		case "SyncookiesRecv":
			return &k.SyncookiesRecv
		case "SyncookiesFailed":
			return &k.SyncookiesFailed
		case "TCPReqQFullDrop":
			return &k.TCPReqQFullDrop
		}
		return nil
	})
}

// parseCounterPair finds the first line that starts with "section:" (the header, the
// counter names) and requires the next line to start with the same prefix (the values).
// For each name, field returns where to store its value, or nil for a counter wiretop
// does not keep. Stored values must be unsigned; the others may be negative (Tcp:
// MaxConn is -1) but must be integers. Other sections are not checked. Errors wrap
// ErrMalformed and name the line.
func parseCounterPair(r io.Reader, section string, field func(name []byte) *uint64) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxKernelLine)
	var (
		header     []byte // a copy of the header line after the prefix; nil until found
		headerLine int
		line       int
	)
	for sc.Scan() {
		line++
		text := sc.Bytes()
		name, rest, ok := bytes.Cut(text, []byte{':'})
		isSection := ok && string(name) == section
		if header == nil {
			if isSection {
				header = append([]byte{}, rest...)
				headerLine = line
			}
			continue
		}
		if !isSection {
			return fmt.Errorf("line %d: want the %s: values after the header on line %d, got %q: %w",
				line, section, headerLine, clipForError(text), ErrMalformed)
		}
		return parseCounterValues(line, section, header, rest, field)
	}
	if err := sc.Err(); err != nil {
		return scanError(line+1, err)
	}
	if header != nil {
		return fmt.Errorf("line %d: %s: header on line %d has no value line: %w", line+1, section, headerLine, ErrMalformed)
	}
	return fmt.Errorf("line %d: no %s: header: %w", line+1, section, ErrMalformed)
}

// parseCounterValues matches the names of a header line to the values of the next line
// (numbered line) and stores the values that field asks for.
func parseCounterValues(line int, section string, header, values []byte, field func(name []byte) *uint64) error {
	for i := 1; ; i++ {
		var name, value []byte
		name, header = cutField(header)
		value, values = cutField(values)
		switch {
		case name == nil && value == nil:
			return nil
		case name == nil:
			return fmt.Errorf("line %d: %s: more values than the %d names of the header: %w", line, section, i-1, ErrMalformed)
		case value == nil:
			return fmt.Errorf("line %d: %s: %d values, the header has more (next %q): %w", line, section, i-1, clipForError(name), ErrMalformed)
		}
		if c := name[0]; c == '-' || c >= '0' && c <= '9' {
			return fmt.Errorf("line %d: %s: name %d of the header is a number, %q: %w", line-1, section, i, clipForError(name), ErrMalformed)
		}
		if dst := field(name); dst != nil {
			v, err := atoCounter(value)
			if err != nil {
				return fmt.Errorf("line %d: %s %s: %w", line, section, clipForError(name), err)
			}
			*dst = v
		} else if err := checkSigned(value); err != nil {
			return fmt.Errorf("line %d: %s %s: %w", line, section, clipForError(name), err)
		}
	}
}

// readKernelTCP reads the Tcp: counters of procRoot/net/snmp and the TcpExt: counters of
// procRoot/net/netstat. Errors name the path; on error the counters are zero.
func readKernelTCP(procRoot string) (KernelTCP, error) {
	var k KernelTCP
	for _, src := range []struct {
		name  string
		parse func(io.Reader, *KernelTCP) error
	}{
		{"snmp", parseSNMP},
		{"netstat", parseNetstat},
	} {
		path := filepath.Join(procRoot, "net", src.name)
		f, err := os.Open(path)
		if err != nil {
			return KernelTCP{}, err // *fs.PathError already names the path
		}
		err = src.parse(f, &k)
		f.Close()
		if err != nil {
			return KernelTCP{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	return k, nil
}

// kernelDelta returns what the kernel TCP counters counted from prev to cur, each field
// by counterDelta (so a wrap or a reset never gives a huge value).
func kernelDelta(prev, cur KernelTCP) KernelTCP {
	return KernelTCP{
		ActiveOpens:      counterDelta(prev.ActiveOpens, cur.ActiveOpens),
		PassiveOpens:     counterDelta(prev.PassiveOpens, cur.PassiveOpens),
		AttemptFails:     counterDelta(prev.AttemptFails, cur.AttemptFails),
		EstabResets:      counterDelta(prev.EstabResets, cur.EstabResets),
		RetransSegs:      counterDelta(prev.RetransSegs, cur.RetransSegs),
		InErrs:           counterDelta(prev.InErrs, cur.InErrs),
		OutRsts:          counterDelta(prev.OutRsts, cur.OutRsts),
		ListenOverflows:  counterDelta(prev.ListenOverflows, cur.ListenOverflows),
		ListenDrops:      counterDelta(prev.ListenDrops, cur.ListenDrops),
		SyncookiesSent:   counterDelta(prev.SyncookiesSent, cur.SyncookiesSent),
		SyncookiesRecv:   counterDelta(prev.SyncookiesRecv, cur.SyncookiesRecv),
		SyncookiesFailed: counterDelta(prev.SyncookiesFailed, cur.SyncookiesFailed),
		TCPReqQFullDrop:  counterDelta(prev.TCPReqQFullDrop, cur.TCPReqQFullDrop),
	}
}

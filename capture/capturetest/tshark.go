// Package capturetest compares flow accounting with tshark, a reference
// nobody here wrote. The capture tests use it on Batch.Flows, and the
// end-to-end tests on the talkers of wiretop's JSON summary.
//
// # How tshark is read
//
// `tshark -r FILE -q -z conv,tcp -z conv,udp` lists the conversations with
// exact frame counts, but this tshark (4.0) prints bytes through
// format_size: exact below 10,000 ("9999 bytes"), truncated above ("120 kB"
// means 120,000 to 120,999 bytes). No option turns that off. So the bytes
// come from a second tshark run over the same file:
// `-z io,stat,0,FILTER1,FILTER2,...` with one column per direction of each
// conversation, FILTER being `ip.src==A && ip.dst==B && tcp.srcport==PA &&
// tcp.dstport==PB && !icmp` (ipv6.src/udp.srcport as fits). io,stat prints
// exact frames and bytes for the whole file (interval 0). Both runs must
// agree: the io,stat frames must equal the conv frames, and the io,stat
// bytes must print as conv printed them, or TsharkConversations fails.
//
// Both runs pass `-o ip.defragment:FALSE -o ipv6.defragment:FALSE`: with
// reassembly on, tshark counts a fragmented datagram on the frame that
// completes it, or not at all when the fragments were truncated by the
// snaplen (it does so for IPv6 but not IPv4). Without reassembly it counts
// the first fragment, which carries the ports, in the conversation, as
// wiretop does; later fragments carry no ports and belong to no TCP or UDP
// conversation (wiretop accounts them to the host pair with ports 0).
//
// # Directions
//
// tshark prints each conversation as "A <-> B" with the columns "<-" (frames
// and bytes from B to A) and "->" (from A to B). Which endpoint is A is
// tshark's choice; wiretop's is local/remote (rx towards local). Both are
// turned into a Conv keyed by the lower and the higher endpoint
// (netip.AddrPort.Compare order), with counts from lower to higher and back.
package capturetest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strconv"
	"strings"
)

// ConvKey identifies a conversation independently of direction: Lo is the
// lower endpoint by netip.AddrPort.Compare, Hi the higher.
type ConvKey struct {
	Proto  string // "tcp" or "udp"
	Lo, Hi netip.AddrPort
}

// Counts are a conversation's packets and wire bytes each way.
type Counts struct {
	LoHiPackets, LoHiBytes uint64 // from Lo to Hi
	HiLoPackets, HiLoBytes uint64 // from Hi to Lo
}

// Convs maps conversations to their counts.
type Convs map[ConvKey]Counts

func keyOf(proto string, src, dst netip.AddrPort) ConvKey {
	if src.Compare(dst) > 0 {
		src, dst = dst, src
	}
	return ConvKey{Proto: proto, Lo: src, Hi: dst}
}

// Add accounts packets and bytes sent from src to dst.
func (c Convs) Add(proto string, src, dst netip.AddrPort, packets, bytes uint64) {
	k := keyOf(proto, src, dst)
	n := c[k]
	if k.Lo == src {
		n.LoHiPackets += packets
		n.LoHiBytes += bytes
	} else {
		n.HiLoPackets += packets
		n.HiLoBytes += bytes
	}
	c[k] = n
}

// AddFlow accounts a flow as wiretop orients it: rx is from remote to local,
// tx from local to remote.
func (c Convs) AddFlow(proto string, local, remote netip.AddrPort, rxPackets, rxBytes, txPackets, txBytes uint64) {
	c.Add(proto, remote, local, rxPackets, rxBytes)
	c.Add(proto, local, remote, txPackets, txBytes)
}

// Diff lists the differences between want (tshark) and got, one line each,
// sorted; empty when they agree exactly.
func Diff(want, got Convs) []string {
	var out []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("missing %s: want %+v", k, w))
		case g != w:
			out = append(out, fmt.Sprintf("differs %s: want %+v, got %+v", k, w, g))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("extra %s: got %+v", k, g))
		}
	}
	sort.Strings(out)
	return out
}

// String prints the key as "tcp 198.18.0.1:80 <-> 198.18.0.2:40000".
func (k ConvKey) String() string { return fmt.Sprintf("%s %s <-> %s", k.Proto, k.Lo, k.Hi) }

// tsharkPrefs make tshark count per frame, as wiretop does (see the package
// documentation).
var tsharkPrefs = []string{"-n", "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"}

// convLine is one line of `-z conv,...`.
type convLine struct {
	proto      string
	a, b       netip.AddrPort
	baFrames   uint64 // "<-"
	baBytesFmt string
	abFrames   uint64 // "->"
	abBytesFmt string
}

// TsharkConversations returns tshark's TCP and UDP conversations in file,
// with exact byte counts (see the package documentation for how).
func TsharkConversations(ctx context.Context, file string) (Convs, error) {
	args := append(append([]string{}, tsharkPrefs...), "-r", file, "-q", "-z", "conv,tcp", "-z", "conv,udp")
	out, err := runTshark(ctx, args)
	if err != nil {
		return nil, err
	}
	lines, err := parseConv(out)
	if err != nil {
		return nil, err
	}
	// Merge lines with the same endpoints (tshark splits TCP streams that
	// reuse a 4-tuple), keeping A and B of the first.
	type group struct {
		convLine
		lines []convLine
	}
	groups := map[ConvKey]*group{}
	var order []ConvKey
	for _, l := range lines {
		k := keyOf(l.proto, l.a, l.b)
		g, ok := groups[k]
		if !ok {
			g = &group{convLine: l}
			groups[k] = g
			order = append(order, k)
		} else if g.a == l.a {
			g.baFrames += l.baFrames
			g.abFrames += l.abFrames
		} else {
			g.baFrames += l.abFrames
			g.abFrames += l.baFrames
		}
		g.lines = append(g.lines, l)
	}
	res := Convs{}
	if len(order) == 0 {
		return res, nil
	}
	// Bytes below 10,000 are printed exactly: take them as printed. The others come
	// from io,stat, in chunks so that the command line stays short (a port scan has
	// thousands of conversations).
	var inexact []mergedConv
	for _, k := range order {
		g := groups[k]
		ab, okAB := exactBytes(g.abBytesFmt)
		ba, okBA := exactBytes(g.baBytesFmt)
		if len(g.lines) == 1 && okAB && okBA {
			res.Add(g.proto, g.a, g.b, g.abFrames, ab)
			res.Add(g.proto, g.b, g.a, g.baFrames, ba)
			continue
		}
		inexact = append(inexact, mergedConv{key: k, line: g.convLine, lines: len(g.lines)})
	}
	const chunk = 100
	for len(inexact) > 0 {
		n := min(chunk, len(inexact))
		if err := ioStatBytes(ctx, file, inexact[:n], res); err != nil {
			return nil, err
		}
		inexact = inexact[n:]
	}
	return res, nil
}

// exactBytes reads a byte count that tshark printed exactly ("9999 bytes").
func exactBytes(s string) (uint64, bool) {
	n, ok := strings.CutSuffix(s, " bytes")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(n, 10, 64)
	return v, err == nil
}

// mergedConv is a conversation (maybe merged from several conv lines) to count exactly.
type mergedConv struct {
	key   ConvKey
	line  convLine // A, B, frames summed, byte formats of the first line
	lines int      // conv lines merged into it
}

// ioStatBytes counts the bytes of convs each way with one `-z io,stat` run and adds them
// to res, after checking them against what conv printed.
func ioStatBytes(ctx context.Context, file string, convs []mergedConv, res Convs) error {
	var filters []string
	for _, c := range convs {
		filters = append(filters, dirFilter(c.line.proto, c.line.a, c.line.b), dirFilter(c.line.proto, c.line.b, c.line.a))
	}
	args := append(append([]string{}, tsharkPrefs...), "-r", file, "-q", "-z", "io,stat,0,"+strings.Join(filters, ","))
	out, err := runTshark(ctx, args)
	if err != nil {
		return err
	}
	cols, err := parseIOStat(out, len(filters))
	if err != nil {
		return err
	}
	for i, c := range convs {
		g, k := c.line, c.key
		ab, ba := cols[2*i], cols[2*i+1]
		if ab[0] != g.abFrames || ba[0] != g.baFrames {
			return fmt.Errorf("tshark: %s: io,stat counts %d/%d frames, conv %d/%d", k, ab[0], ba[0], g.abFrames, g.baFrames)
		}
		if c.lines == 1 {
			if s := formatSize(ab[1]); s != g.abBytesFmt {
				return fmt.Errorf("tshark: %s: io,stat counts %d bytes (%s), conv prints %q", k, ab[1], s, g.abBytesFmt)
			}
			if s := formatSize(ba[1]); s != g.baBytesFmt {
				return fmt.Errorf("tshark: %s: io,stat counts %d bytes (%s), conv prints %q", k, ba[1], s, g.baBytesFmt)
			}
		}
		res.Add(g.proto, g.a, g.b, ab[0], ab[1])
		res.Add(g.proto, g.b, g.a, ba[0], ba[1])
	}
	return nil
}

func runTshark(ctx context.Context, args []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tshark %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// parseConv reads the conversation lines of `-z conv,tcp -z conv,udp`.
func parseConv(out []byte) ([]convLine, error) {
	var res []convLine
	proto := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "TCP Conversations"):
			proto = "tcp"
			continue
		case strings.HasPrefix(line, "UDP Conversations"):
			proto = "udp"
			continue
		case !strings.Contains(line, "<->"):
			continue
		}
		// A <-> B  frames bytes unit  frames bytes unit  frames bytes unit  start duration
		f := strings.Fields(line)
		if len(f) < 12 || f[1] != "<->" || proto == "" {
			return nil, fmt.Errorf("tshark: unexpected conversation line %q", line)
		}
		a, err1 := parseEndpoint(f[0])
		b, err2 := parseEndpoint(f[2])
		ba, err3 := strconv.ParseUint(f[3], 10, 64)
		ab, err4 := strconv.ParseUint(f[6], 10, 64)
		for _, err := range []error{err1, err2, err3, err4} {
			if err != nil {
				return nil, fmt.Errorf("tshark: conversation line %q: %w", line, err)
			}
		}
		res = append(res, convLine{proto: proto, a: a, b: b,
			baFrames: ba, baBytesFmt: f[4] + " " + f[5], abFrames: ab, abBytesFmt: f[7] + " " + f[8]})
	}
	return res, sc.Err()
}

// parseEndpoint reads "198.18.0.1:53" or "fd00::1:53" (tshark prints IPv6
// endpoints without brackets).
func parseEndpoint(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("endpoint %q has no port", s)
	}
	a, err := netip.ParseAddr(s[:i])
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("endpoint %q: %w", s, err)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

func dirFilter(proto string, src, dst netip.AddrPort) string {
	ip := "ip"
	if src.Addr().Is6() {
		ip = "ipv6"
	}
	return fmt.Sprintf("%s.src==%s && %s.dst==%s && %s.srcport==%d && %s.dstport==%d && !icmp && !icmpv6",
		ip, src.Addr(), ip, dst.Addr(), proto, src.Port(), proto, dst.Port())
}

// parseIOStat reads the single row of `-z io,stat,0,...` with n columns of
// frames and bytes.
func parseIOStat(out []byte, n int) ([][2]uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<16), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "<>") {
			continue
		}
		f := strings.Split(line, "|")
		// "", " 0.0 <> 11.7 ", frames, bytes, ..., ""
		var nums []uint64
		for _, s := range f[2:] {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("tshark io,stat row %q: %w", line, err)
			}
			nums = append(nums, v)
		}
		if len(nums) != 2*n {
			return nil, fmt.Errorf("tshark io,stat row has %d numbers, want %d: %q", len(nums), 2*n, line)
		}
		cols := make([][2]uint64, n)
		for i := range cols {
			cols[i] = [2]uint64{nums[2*i], nums[2*i+1]}
		}
		return cols, nil
	}
	return nil, fmt.Errorf("tshark io,stat: no data row in %q", out)
}

// formatSize prints bytes as tshark 4.0's conversation table does
// (format_size with SI prefixes: integer division, "bytes" below 10 k).
func formatSize(b uint64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB", "PB"}
	i := 0
	v := b
	for v >= 10000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return fmt.Sprintf("%d %s", v, units[i])
}

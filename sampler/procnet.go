package sampler

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
)

// This file is the fallback socket table, read from /proc/net/{tcp,tcp6,udp,udp6} when
// sock_diag is not available. These files have no byte counters and no socket cookie:
// the sockets have HasInfo false and Cookie 0.
//
// Format (net/ipv4/tcp_ipv4.c get_tcp4_sock, net/ipv6/tcp_ipv6.c get_tcp6_sock,
// net/ipv4/udp.c udp4_format_sock, net/ipv6/datagram.c __ip6_dgram_sock_seq_show), after a
// header line:
//
//	sl  local_address rem_address   st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//	0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0  0 12345 ...
//
// An address is the kernel's __be32 words printed with %08X as host-order integers: an
// IPv4 address is one such word (0100007F is 127.0.0.1 on a little-endian host), an IPv6
// address four. The port is printed in host order. For LISTEN, rx_queue is the accept
// backlog and tx_queue is 0 (sock_diag reports the backlog limit instead).

// procNetFiles are the files readProcNetSockets reads under procRoot/net, in order.
var procNetFiles = [...]struct {
	name     string
	proto    Proto
	optional bool // absent on a host without IPv6
}{
	{"tcp", ProtoTCP, false},
	{"tcp6", ProtoTCP, true},
	{"udp", ProtoUDP, false},
	{"udp6", ProtoUDP, true},
}

// readProcNetSockets appends to dst the sockets of procRoot/net/{tcp,tcp6,udp,udp6}
// (pass "/proc", or /proc/PID to read another network namespace through a process in
// it). A missing tcp6 or udp6 (a host without IPv6) is not an error. On error it returns
// dst as it was given; a malformed line gives an error wrapping ErrMalformed that names
// the file and the line ("testdata/proc-sock-bad/net/tcp:3: ...").
func readProcNetSockets(procRoot string, dst []Socket) ([]Socket, error) {
	n0 := len(dst)
	var br *bufio.Reader
	for _, pf := range procNetFiles {
		path := filepath.Join(procRoot, "net", pf.name)
		f, err := os.Open(path)
		if err != nil {
			if pf.optional && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return dst[:n0], fmt.Errorf("read sockets: %w", err)
		}
		if br == nil {
			br = bufio.NewReaderSize(f, 64<<10)
		} else {
			br.Reset(f)
		}
		dst, err = parseProcNetNamed(br, path, pf.proto, dst)
		f.Close()
		if err != nil {
			return dst[:n0], err
		}
	}
	return dst, nil
}

// parseProcNet parses the contents of /proc/net/tcp, tcp6, udp or udp6 (header line
// first) as sockets of protocol proto, appending them to dst. IPv4 and IPv6 lines are told
// apart by the length of the address, so the same function reads all four files. A
// malformed line gives an error wrapping ErrMalformed and naming the line number.
func parseProcNet(r io.Reader, proto Proto, dst []Socket) ([]Socket, error) {
	return parseProcNetNamed(r, "", proto, dst)
}

// parseProcNetNamed is parseProcNet whose errors name the file as "name:line:" (or
// "line N:" when name is empty).
func parseProcNetNamed(r io.Reader, name string, proto Proto, dst []Socket) ([]Socket, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 64<<10)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue // header
		}
		b := sc.Bytes()
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		s, err := parseProcNetLine(b, proto)
		if err != nil {
			return dst, procNetLineError(name, line, err)
		}
		dst = append(dst, s)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return dst, procNetLineError(name, line+1, fmt.Errorf("line too long: %w", ErrMalformed))
		}
		if name == "" {
			return dst, fmt.Errorf("read: %w", err)
		}
		return dst, fmt.Errorf("read %s: %w", name, err)
	}
	return dst, nil
}

// procNetLineError prefixes err with the file name and line number.
func procNetLineError(name string, line int, err error) error {
	if name == "" {
		return fmt.Errorf("line %d: %w", line, err)
	}
	return fmt.Errorf("%s:%d: %w", name, line, err)
}

// procNetFields is the number of leading fields of a socket line we read: sl,
// local_address, rem_address, st, tx_queue:rx_queue, tr:tm->when, retrnsmt, uid,
// timeout, inode.
const procNetFields = 10

// parseProcNetLine parses one socket line.
func parseProcNetLine(b []byte, proto Proto) (Socket, error) {
	var f [procNetFields][]byte
	n := 0
	for i := 0; i < len(b) && n < procNetFields; {
		for i < len(b) && procNetSpace(b[i]) {
			i++
		}
		j := i
		for j < len(b) && !procNetSpace(b[j]) {
			j++
		}
		if j > i {
			f[n] = b[i:j]
			n++
		}
		i = j
	}
	if n < procNetFields {
		return Socket{}, fmt.Errorf("%d fields, want at least %d: %w", n, procNetFields, ErrMalformed)
	}
	if len(f[0]) < 2 || f[0][len(f[0])-1] != ':' {
		return Socket{}, fmt.Errorf("slot %q: %w", f[0], ErrMalformed)
	}
	s := Socket{Proto: proto}
	var err error
	if s.Local, err = parseProcNetAddrPort(f[1]); err != nil {
		return Socket{}, fmt.Errorf("local address %q: %w", f[1], err)
	}
	if s.Remote, err = parseProcNetAddrPort(f[2]); err != nil {
		return Socket{}, fmt.Errorf("remote address %q: %w", f[2], err)
	}
	if s.Local.Addr().Is4() != s.Remote.Addr().Is4() {
		return Socket{}, fmt.Errorf("local %q and remote %q differ in family: %w", f[1], f[2], ErrMalformed)
	}
	st, ok := procNetHex(f[3], 2)
	if !ok || len(f[3]) != 2 {
		return Socket{}, fmt.Errorf("state %q: %w", f[3], ErrMalformed)
	}
	s.State = TCPState(st)
	tx, rx, ok := bytes.Cut(f[4], []byte{':'})
	sendQ, ok1 := procNetHex(tx, 8)
	recvQ, ok2 := procNetHex(rx, 8)
	if !ok || !ok1 || !ok2 {
		return Socket{}, fmt.Errorf("queues %q: %w", f[4], ErrMalformed)
	}
	s.SendQ, s.RecvQ = uint32(sendQ), uint32(recvQ)
	uid, ok := procNetDec(f[7])
	if !ok || uid > 1<<32-1 {
		return Socket{}, fmt.Errorf("uid %q: %w", f[7], ErrMalformed)
	}
	s.UID = uint32(uid)
	if s.Inode, ok = procNetDec(f[9]); !ok {
		return Socket{}, fmt.Errorf("inode %q: %w", f[9], ErrMalformed)
	}
	return s, nil
}

// parseProcNetAddrPort decodes "0100007F:0050" (IPv4) or 32 hex digits, a colon and four
// (IPv6). Each group of 8 hex digits is a host-order u32 holding the address bytes in
// network order, as the kernel prints its __be32 words.
func parseProcNetAddrPort(b []byte) (netip.AddrPort, error) {
	a, p, ok := bytes.Cut(b, []byte{':'})
	if !ok || len(p) != 4 {
		return netip.AddrPort{}, ErrMalformed
	}
	port, ok := procNetHex(p, 4)
	if !ok {
		return netip.AddrPort{}, ErrMalformed
	}
	ne := binary.NativeEndian
	switch len(a) {
	case 8:
		w, ok := procNetHex(a, 8)
		if !ok {
			return netip.AddrPort{}, ErrMalformed
		}
		var ip [4]byte
		ne.PutUint32(ip[:], uint32(w))
		return netip.AddrPortFrom(netip.AddrFrom4(ip), uint16(port)), nil
	case 32:
		var ip [16]byte
		for i := 0; i < 4; i++ {
			w, ok := procNetHex(a[8*i:8*i+8], 8)
			if !ok {
				return netip.AddrPort{}, ErrMalformed
			}
			ne.PutUint32(ip[4*i:], uint32(w))
		}
		return netip.AddrPortFrom(netip.AddrFrom16(ip), uint16(port)), nil
	}
	return netip.AddrPort{}, ErrMalformed
}

// procNetHex parses 1 to max hex digits (max <= 16).
func procNetHex(b []byte, max int) (uint64, bool) {
	if len(b) == 0 || len(b) > max {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(c)
	}
	return v, true
}

// procNetDec parses an unsigned decimal number of up to 19 digits (no overflow).
func procNetDec(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// procNetSpace reports whether c separates fields of a /proc/net line.
func procNetSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

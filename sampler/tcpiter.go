package sampler

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// tcpIterRecLen is the size of one record of the BPF TCP iterator (struct rec in
// bpf/tcpiter.bpf.c).
const tcpIterRecLen = 88

// Offsets of the fields of a record.
const (
	offRecCookie    = 0
	offRecInode     = 8
	offRecBytesAck  = 16
	offRecBytesRecv = 24
	offRecLaddr     = 32
	offRecRaddr     = 48
	offRecUID       = 64
	offRecRqueue    = 68
	offRecWqueue    = 72
	offRecLport     = 76
	offRecRport     = 78
	offRecState     = 80
	offRecFamily    = 81
	offRecFull      = 82
)

// parseTCPIter appends the sockets of whole records in b to dst. The records are what
// tcpiter.bpf.c writes, in the byte order of this machine; each gives the Socket that
// sock_diag gives for the same socket: request sockets are SYN-RECV, TIME-WAIT and request
// sockets have no inode, uid or tcp_info counters. A length that is not a whole number of
// records, or a family other than IPv4 and IPv6, gives an error wrapping ErrMalformed.
func parseTCPIter(b []byte, dst []Socket) ([]Socket, error) {
	if len(b)%tcpIterRecLen != 0 {
		return dst, fmt.Errorf("tcp iterator: %d bytes is not a whole number of %d-byte records: %w", len(b), tcpIterRecLen, ErrMalformed)
	}
	ne := binary.NativeEndian
	for off := 0; off < len(b); off += tcpIterRecLen {
		r := b[off : off+tcpIterRecLen]
		s := Socket{
			Proto:  ProtoTCP,
			State:  TCPState(r[offRecState]),
			Cookie: ne.Uint64(r[offRecCookie:]),
		}
		lport, rport := ne.Uint16(r[offRecLport:]), ne.Uint16(r[offRecRport:])
		switch r[offRecFamily] {
		case linuxAFInet:
			s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[offRecLaddr:offRecLaddr+4])), lport)
			s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(r[offRecRaddr:offRecRaddr+4])), rport)
		case linuxAFInet6:
			s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[offRecLaddr:offRecLaddr+16])), lport)
			s.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(r[offRecRaddr:offRecRaddr+16])), rport)
		default:
			return dst, fmt.Errorf("tcp iterator: record %d: address family %d: %w", off/tcpIterRecLen, r[offRecFamily], ErrMalformed)
		}
		if r[offRecFull] != 0 {
			s.Inode = ne.Uint64(r[offRecInode:])
			s.UID = ne.Uint32(r[offRecUID:])
			s.RecvQ = ne.Uint32(r[offRecRqueue:])
			s.SendQ = ne.Uint32(r[offRecWqueue:])
			s.HasInfo = true
			s.BytesAcked = ne.Uint64(r[offRecBytesAck:])
			s.BytesReceived = ne.Uint64(r[offRecBytesRecv:])
		}
		dst = append(dst, s)
	}
	return dst, nil
}

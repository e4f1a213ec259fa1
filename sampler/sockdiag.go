package sampler

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"syscall"
)

// This file holds the pure half of the sock_diag (NETLINK_INET_DIAG) socket table: the
// bytes of a dump request and a parser from received netlink messages to []Socket. It
// builds on every platform so that the parser can be tested and fuzzed anywhere; dialing
// lives in sockdiag_linux.go.
//
// Netlink messages are in host byte order; the addresses and ports inside
// inet_diag_sockid are in network byte order.
//
// The constants below are defined here rather than taken from golang.org/x/sys/unix
// because this file builds on every GOOS and the unix package defines them only for
// Linux. sockdiag_linux_test.go checks each one against its unix counterpart.

// Netlink framing, include/uapi/linux/netlink.h
// (https://github.com/torvalds/linux/blob/master/include/uapi/linux/netlink.h).
const (
	nlmsgHdrLen  = 16     // sizeof(struct nlmsghdr)
	nlmsgNoop    = 0x1    // NLMSG_NOOP
	nlmsgError   = 0x2    // NLMSG_ERROR
	nlmsgDone    = 0x3    // NLMSG_DONE
	nlmsgOverrun = 0x4    // NLMSG_OVERRUN
	nlmFRequest  = 0x1    // NLM_F_REQUEST
	nlmFDump     = 0x300  // NLM_F_DUMP (NLM_F_ROOT | NLM_F_MATCH)
	nlaHdrLen    = 4      // sizeof(struct nlattr), the same layout as struct rtattr
	nlaTypeMask  = 0x3fff // NLA_TYPE_MASK: strips NLA_F_NESTED and NLA_F_NET_BYTEORDER
)

// sock_diag message types, include/uapi/linux/sock_diag.h
// (https://github.com/torvalds/linux/blob/master/include/uapi/linux/sock_diag.h).
const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	tcpDiagGetSock   = 18 // TCPDIAG_GETSOCK: the old request, whose dump has both address families
)

// inet_diag structures and attributes, include/uapi/linux/inet_diag.h
// (https://github.com/torvalds/linux/blob/master/include/uapi/linux/inet_diag.h).
const (
	inetDiagReqV2Len = 56 // sizeof(struct inet_diag_req_v2)
	inetDiagMsgLen   = 72 // sizeof(struct inet_diag_msg)

	inetDiagInfo     = 2  // INET_DIAG_INFO: struct tcp_info for TCP
	inetDiagProtocol = 10 // INET_DIAG_PROTOCOL: u8 IPPROTO_*, sent with destroy events

	inetDiagNoCookie = 0xffffffff // INET_DIAG_NOCOOKIE, in both halves of idiag_cookie
)

// Offsets into struct inet_diag_msg: four u8 (family, state, timer, retrans), then
// struct inet_diag_sockid {be16 sport; be16 dport; be32 src[4]; be32 dst[4]; u32 if;
// u32 cookie[2]}, then u32 expires, rqueue, wqueue, uid, inode.
const (
	offMsgFamily = 0
	offMsgState  = 1
	offMsgSport  = 4
	offMsgDport  = 6
	offMsgSrc    = 8
	offMsgDst    = 24
	offMsgCookie = 44
	offMsgRqueue = 56
	offMsgWqueue = 60
	offMsgUID    = 64
	offMsgInode  = 68
)

// Offsets of the byte counters in struct tcp_info, include/uapi/linux/tcp.h
// (https://github.com/torvalds/linux/blob/master/include/uapi/linux/tcp.h): eight u8,
// 24 u32, then u64 tcpi_pacing_rate, tcpi_max_pacing_rate, tcpi_bytes_acked,
// tcpi_bytes_received (the last two since Linux 4.1). A shorter tcp_info (an older
// kernel) leaves HasInfo false.
const (
	offTCPInfoBytesAcked    = 120
	offTCPInfoBytesReceived = 128
	tcpInfoMinLen           = offTCPInfoBytesReceived + 8
)

// Address families as Linux numbers them (include/linux/socket.h); AF_INET6 differs
// between operating systems, so syscall.AF_INET6 cannot be used in portable code.
const (
	linuxAFInet  = 2
	linuxAFInet6 = 10
)

// allStates selects every TCP state in inet_diag_req_v2.idiag_states, including
// TCP_NEW_SYN_RECV (request sockets, reported as SYN-RECV) and TIME-WAIT.
const allStates = 0xffffffff

// appendInetDiagReq appends to b a netlink SOCK_DIAG_BY_FAMILY dump request for every
// socket of the given address family (linuxAFInet or linuxAFInet6) and protocol in any
// state. ext is the idiag_ext bitmask of extensions to include (1 << (INET_DIAG_INFO-1)
// asks for tcp_info); seq is the netlink sequence number.
func appendInetDiagReq(b []byte, seq uint32, family uint8, proto Proto, ext uint8) []byte {
	const total = nlmsgHdrLen + inetDiagReqV2Len
	ne := binary.NativeEndian
	// struct nlmsghdr
	b = ne.AppendUint32(b, total)
	b = ne.AppendUint16(b, sockDiagByFamily)
	b = ne.AppendUint16(b, nlmFRequest|nlmFDump)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0) // nlmsg_pid: the kernel fills in the port id
	// struct inet_diag_req_v2
	b = append(b, family, uint8(proto), ext, 0)
	b = ne.AppendUint32(b, allStates)
	// struct inet_diag_sockid: all zero (no filter), except the cookie, which is
	// INET_DIAG_NOCOOKIE as ss sends it.
	var id [48]byte
	ne.PutUint32(id[40:], inetDiagNoCookie)
	ne.PutUint32(id[44:], inetDiagNoCookie)
	return append(b, id[:]...)
}

// inetDiagReqLen is sizeof(struct inet_diag_req), the request of TCPDIAG_GETSOCK.
const inetDiagReqLen = 60

// appendTCPDiagReq appends to b a TCPDIAG_GETSOCK dump request: the old inet_diag request,
// still served by the kernel (inet_diag_rcv_msg_compat), whose dump has the TCP sockets of
// both address families. It costs one walk of the established hash instead of the two of
// an AF_INET and an AF_INET6 SOCK_DIAG_BY_FAMILY dump: the table is shared, and each walk
// visits every socket (10,000 sockets: 29 ms instead of 37 ms on our test machine). The
// answers are struct inet_diag_msg, as for SOCK_DIAG_BY_FAMILY, with nlmsg_type 18.
func appendTCPDiagReq(b []byte, seq uint32, ext uint8) []byte {
	const total = nlmsgHdrLen + inetDiagReqLen
	ne := binary.NativeEndian
	b = ne.AppendUint32(b, total)
	b = ne.AppendUint16(b, tcpDiagGetSock)
	b = ne.AppendUint16(b, nlmFRequest|nlmFDump)
	b = ne.AppendUint32(b, seq)
	b = ne.AppendUint32(b, 0)
	// struct inet_diag_req: family (ignored: both are dumped), src_len, dst_len, ext
	b = append(b, 0, 0, 0, ext)
	var id [48]byte
	ne.PutUint32(id[40:], inetDiagNoCookie)
	ne.PutUint32(id[44:], inetDiagNoCookie)
	b = append(b, id[:]...)
	b = ne.AppendUint32(b, allStates) // idiag_states
	return ne.AppendUint32(b, 0)      // idiag_dbs
}

// inetDiagInfoExt is the idiag_ext bit that requests INET_DIAG_INFO (struct tcp_info).
const inetDiagInfoExt = 1 << (inetDiagInfo - 1)

// parseInetDiag parses one buffer of netlink messages for protocol proto, appending sockets to dst;
// done reports NLMSG_DONE. NLMSG_ERROR becomes an error.
//
// proto is the protocol of the dump the messages answer, since struct inet_diag_msg does
// not carry one; an INET_DIAG_PROTOCOL attribute (sent with socket-destroy events)
// overrides it, and messages whose protocol is neither TCP nor UDP are skipped. Messages
// after NLMSG_DONE are ignored. A message that does not fit its buffer, or a struct
// inet_diag_msg or attribute that does not fit its message, gives an error wrapping
// ErrMalformed; dst then holds the sockets of the messages before it.
//
// IPv4-mapped IPv6 addresses (a dual-stack socket talking IPv4) are kept as the kernel
// reports them (::ffff:a.b.c.d), as /proc/net/tcp6 shows them too; link-local addresses
// carry no zone.
func parseInetDiag(b []byte, proto Proto, dst []Socket) (out []Socket, done bool, err error) {
	ne := binary.NativeEndian
	for off := 0; off < len(b); {
		m := b[off:]
		if len(m) < nlmsgHdrLen {
			return dst, false, fmt.Errorf("sock_diag: %d trailing bytes at offset %d, shorter than a netlink header: %w",
				len(m), off, ErrMalformed)
		}
		mlen := int(ne.Uint32(m[0:4]))
		typ := ne.Uint16(m[4:6])
		if mlen < nlmsgHdrLen || mlen > len(m) {
			return dst, false, fmt.Errorf("sock_diag: netlink message at offset %d: length %d, %d bytes left: %w",
				off, mlen, len(m), ErrMalformed)
		}
		payload := m[nlmsgHdrLen:mlen]
		switch typ {
		case nlmsgDone:
			// Since Linux 4.x the payload of NLMSG_DONE carries the dump's error
			// (0 on success).
			if len(payload) >= 4 {
				if e := int32(ne.Uint32(payload)); e < 0 {
					return dst, true, errnoError("sock_diag: dump ended with error", e)
				}
			}
			return dst, true, nil
		case nlmsgError:
			if len(payload) < 4 {
				return dst, false, fmt.Errorf("sock_diag: NLMSG_ERROR of %d bytes: %w", len(payload), ErrMalformed)
			}
			if e := int32(ne.Uint32(payload)); e != 0 {
				return dst, false, errnoError("sock_diag: netlink error", e)
			}
			// error 0 is an acknowledgement: nothing to report.
		case nlmsgOverrun:
			return dst, false, fmt.Errorf("sock_diag: netlink overrun: %w", ErrMalformed)
		case sockDiagByFamily, tcpDiagGetSock:
			s, ok, err := parseInetDiagMsg(payload, proto)
			if err != nil {
				return dst, false, fmt.Errorf("sock_diag: message at offset %d: %w", off, err)
			}
			if ok {
				dst = append(dst, s)
			}
		default:
			// NLMSG_NOOP and types we do not know: skip.
		}
		off += align4(mlen)
	}
	return dst, false, nil
}

// parseInetDiagMsg turns the payload of one SOCK_DIAG_BY_FAMILY message (struct
// inet_diag_msg and its attributes) into a Socket. ok is false for a socket to skip: an
// unknown address family, or a protocol other than TCP and UDP.
func parseInetDiagMsg(p []byte, proto Proto) (s Socket, ok bool, err error) {
	if len(p) < inetDiagMsgLen {
		return Socket{}, false, fmt.Errorf("inet_diag_msg of %d bytes, want %d: %w", len(p), inetDiagMsgLen, ErrMalformed)
	}
	ne := binary.NativeEndian
	be := binary.BigEndian
	sport := be.Uint16(p[offMsgSport:])
	dport := be.Uint16(p[offMsgDport:])
	switch p[offMsgFamily] {
	case linuxAFInet:
		s.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[offMsgSrc:offMsgSrc+4])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[offMsgDst:offMsgDst+4])), dport)
	case linuxAFInet6:
		s.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(p[offMsgSrc:offMsgSrc+16])), sport)
		s.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(p[offMsgDst:offMsgDst+16])), dport)
	default:
		return Socket{}, false, nil
	}
	s.Proto = proto
	s.State = TCPState(p[offMsgState])
	c0, c1 := ne.Uint32(p[offMsgCookie:]), ne.Uint32(p[offMsgCookie+4:])
	if c0 != inetDiagNoCookie || c1 != inetDiagNoCookie {
		s.Cookie = uint64(c1)<<32 | uint64(c0)
	}
	s.RecvQ = ne.Uint32(p[offMsgRqueue:])
	s.SendQ = ne.Uint32(p[offMsgWqueue:])
	s.UID = ne.Uint32(p[offMsgUID:])
	s.Inode = uint64(ne.Uint32(p[offMsgInode:]))

	attrs := p[inetDiagMsgLen:]
	for off := 0; len(attrs)-off >= nlaHdrLen; {
		a := attrs[off:]
		alen := int(ne.Uint16(a[0:2]))
		if alen < nlaHdrLen || alen > len(a) {
			return Socket{}, false, fmt.Errorf("attribute at offset %d: length %d, %d bytes left: %w",
				inetDiagMsgLen+off, alen, len(a), ErrMalformed)
		}
		data := a[nlaHdrLen:alen]
		switch ne.Uint16(a[2:4]) & nlaTypeMask {
		case inetDiagInfo:
			if len(data) >= tcpInfoMinLen {
				s.HasInfo = true
				s.BytesAcked = ne.Uint64(data[offTCPInfoBytesAcked:])
				s.BytesReceived = ne.Uint64(data[offTCPInfoBytesReceived:])
			}
		case inetDiagProtocol:
			if len(data) < 1 {
				return Socket{}, false, fmt.Errorf("INET_DIAG_PROTOCOL of %d bytes: %w", len(data), ErrMalformed)
			}
			s.Proto = Proto(data[0])
		}
		off += align4(alen)
	}
	if s.Proto != ProtoTCP && s.Proto != ProtoUDP {
		return Socket{}, false, nil
	}
	if s.Proto != ProtoTCP {
		// Only TCP's tcp_info carries byte counters; ignore an INET_DIAG_INFO of
		// another protocol rather than misread it.
		s.HasInfo, s.BytesAcked, s.BytesReceived = false, 0, 0
	}
	return s, true, nil
}

// errnoError formats a negative errno from a netlink message as an error wrapping the
// syscall.Errno, and ErrPermission as well for EPERM and EACCES.
func errnoError(what string, e int32) error {
	errno := syscall.Errno(-e)
	if errno == syscall.EPERM || errno == syscall.EACCES {
		return fmt.Errorf("%s: %w: %w", what, ErrPermission, errno)
	}
	return fmt.Errorf("%s: %w", what, errno)
}

// align4 rounds n up to the netlink alignment of 4 bytes (NLMSG_ALIGN, NLA_ALIGN).
func align4(n int) int { return (n + 3) &^ 3 }

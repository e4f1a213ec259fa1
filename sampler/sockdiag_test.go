package sampler

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Builders of netlink messages as the kernel sends them, in host byte order.

// nlMsg returns a netlink message of type typ around payload, padded to 4 bytes.
func nlMsg(typ uint16, payload []byte) []byte {
	ne := binary.NativeEndian
	b := ne.AppendUint32(nil, uint32(nlmsgHdrLen+len(payload)))
	b = ne.AppendUint16(b, typ)
	b = ne.AppendUint16(b, 0x2) // NLM_F_MULTI, as in a dump
	b = ne.AppendUint32(b, 1)   // seq
	b = ne.AppendUint32(b, 0)   // pid
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// nlAttr returns an attribute of type typ around data, padded to 4 bytes.
func nlAttr(typ uint16, data []byte) []byte {
	ne := binary.NativeEndian
	b := ne.AppendUint16(nil, uint16(nlaHdrLen+len(data)))
	b = ne.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// tcpInfo returns a struct tcp_info of size bytes with the given byte counters and
// non-zero filler elsewhere, so that a wrong offset shows.
func tcpInfo(size int, acked, received uint64) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 0xa5
	}
	if size >= tcpInfoMinLen {
		binary.NativeEndian.PutUint64(b[offTCPInfoBytesAcked:], acked)
		binary.NativeEndian.PutUint64(b[offTCPInfoBytesReceived:], received)
	}
	return b
}

// diagMsg describes a struct inet_diag_msg.
type diagMsg struct {
	family         uint8
	state          uint8
	src, dst       netip.AddrPort
	cookie         uint64
	rq, wq         uint32
	uid, inode     uint32
	noCookie       bool
	truncateStruct int // if > 0, the struct is cut to this many bytes
}

// bytes encodes m followed by attrs as the payload of a SOCK_DIAG_BY_FAMILY message.
func (m diagMsg) bytes(attrs ...[]byte) []byte {
	ne := binary.NativeEndian
	b := make([]byte, inetDiagMsgLen)
	b[offMsgFamily] = m.family
	b[offMsgState] = m.state
	b[2], b[3] = 1, 2 // timer, retrans: ignored
	binary.BigEndian.PutUint16(b[offMsgSport:], m.src.Port())
	binary.BigEndian.PutUint16(b[offMsgDport:], m.dst.Port())
	put := func(off int, a netip.Addr) {
		if a.Is4() {
			a4 := a.As4()
			copy(b[off:], a4[:])
		} else if a.IsValid() {
			a16 := a.As16()
			copy(b[off:], a16[:])
		}
	}
	put(offMsgSrc, m.src.Addr())
	put(offMsgDst, m.dst.Addr())
	ne.PutUint32(b[40:], 3) // idiag_if: ignored
	if m.noCookie {
		ne.PutUint32(b[offMsgCookie:], inetDiagNoCookie)
		ne.PutUint32(b[offMsgCookie+4:], inetDiagNoCookie)
	} else {
		ne.PutUint32(b[offMsgCookie:], uint32(m.cookie))
		ne.PutUint32(b[offMsgCookie+4:], uint32(m.cookie>>32))
	}
	ne.PutUint32(b[52:], 12345) // idiag_expires: ignored
	ne.PutUint32(b[offMsgRqueue:], m.rq)
	ne.PutUint32(b[offMsgWqueue:], m.wq)
	ne.PutUint32(b[offMsgUID:], m.uid)
	ne.PutUint32(b[offMsgInode:], m.inode)
	if m.truncateStruct > 0 {
		b = b[:m.truncateStruct]
	}
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

// msg returns m as a complete SOCK_DIAG_BY_FAMILY netlink message.
func (m diagMsg) msg(attrs ...[]byte) []byte { return nlMsg(sockDiagByFamily, m.bytes(attrs...)) }

// concat joins byte slices.
func concat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// errMsg returns an NLMSG_ERROR (or NLMSG_DONE) message carrying errno as the kernel
// does (negative), followed for NLMSG_ERROR by the offending request's header.
func errMsg(typ uint16, errno int32) []byte {
	p := binary.NativeEndian.AppendUint32(nil, uint32(errno))
	if typ == nlmsgError {
		p = append(p, make([]byte, nlmsgHdrLen)...)
	}
	return nlMsg(typ, p)
}

var (
	v4Est = diagMsg{
		family: linuxAFInet, state: 1,
		src:    netip.MustParseAddrPort("192.0.2.2:51234"),
		dst:    netip.MustParseAddrPort("203.0.113.80:443"),
		cookie: 0x0000_0001_0000_2a2b, rq: 10, wq: 20, uid: 1000, inode: 4242,
	}
	v4EstSock = Socket{
		Proto: ProtoTCP, State: StateEstablished,
		Local:  netip.MustParseAddrPort("192.0.2.2:51234"),
		Remote: netip.MustParseAddrPort("203.0.113.80:443"),
		Inode:  4242, UID: 1000, RecvQ: 10, SendQ: 20, Cookie: 0x1_0000_2a2b,
		HasInfo: true, BytesAcked: 1 << 40, BytesReceived: 123456,
	}
	v6Listen = diagMsg{
		family: linuxAFInet6, state: 10,
		src:    netip.MustParseAddrPort("[2001:db8::1]:8080"),
		dst:    netip.MustParseAddrPort("[::]:0"),
		cookie: 7, rq: 0, wq: 4096, uid: 0, inode: 99,
	}
	v6ListenSock = Socket{
		Proto: ProtoTCP, State: StateListen,
		Local:  netip.MustParseAddrPort("[2001:db8::1]:8080"),
		Remote: netip.MustParseAddrPort("[::]:0"),
		Inode:  99, SendQ: 4096, Cookie: 7, HasInfo: true,
	}
	mapped = diagMsg{
		family: linuxAFInet6, state: 1,
		src:    netip.MustParseAddrPort("[::ffff:127.0.0.1]:22"),
		dst:    netip.MustParseAddrPort("[::ffff:10.1.2.3]:60000"),
		cookie: 8, uid: 0, inode: 5,
	}
	mappedSock = Socket{
		Proto: ProtoTCP, State: StateEstablished,
		Local:  netip.MustParseAddrPort("[::ffff:127.0.0.1]:22"),
		Remote: netip.MustParseAddrPort("[::ffff:10.1.2.3]:60000"),
		Inode:  5, Cookie: 8, HasInfo: true, BytesAcked: 5, BytesReceived: 6,
	}
	timeWait = diagMsg{
		family: linuxAFInet, state: 6,
		src:    netip.MustParseAddrPort("192.0.2.2:49864"),
		dst:    netip.MustParseAddrPort("203.0.113.80:443"),
		cookie: 0xffff_ffff_0000_0001,
	}
	timeWaitSock = Socket{
		Proto: ProtoTCP, State: StateTimeWait,
		Local:  netip.MustParseAddrPort("192.0.2.2:49864"),
		Remote: netip.MustParseAddrPort("203.0.113.80:443"),
		Cookie: 0xffff_ffff_0000_0001,
	}
	udpUnconn = diagMsg{
		family: linuxAFInet, state: 7,
		src:    netip.MustParseAddrPort("0.0.0.0:53"),
		dst:    netip.MustParseAddrPort("0.0.0.0:0"),
		cookie: 9, rq: 768, uid: 101, inode: 777,
	}
	udpUnconnSock = Socket{
		Proto: ProtoUDP, State: StateClose,
		Local:  netip.MustParseAddrPort("0.0.0.0:53"),
		Remote: netip.MustParseAddrPort("0.0.0.0:0"),
		Inode:  777, UID: 101, RecvQ: 768, Cookie: 9,
	}
	udp6Conn = diagMsg{
		family: linuxAFInet6, state: 1,
		src:    netip.MustParseAddrPort("[fd00::2]:40000"),
		dst:    netip.MustParseAddrPort("[fd00::53]:53"),
		cookie: 10, uid: 1000, inode: 778,
	}
	udp6ConnSock = Socket{
		Proto: ProtoUDP, State: StateEstablished,
		Local:  netip.MustParseAddrPort("[fd00::2]:40000"),
		Remote: netip.MustParseAddrPort("[fd00::53]:53"),
		Inode:  778, UID: 1000, Cookie: 10,
	}
	// tcpInfoLen is the size of struct tcp_info in Linux 6.18.
	tcpInfoLen = 280
)

// sockCmpOpt lets cmp compare netip.AddrPort, whose fields are unexported, and shows
// addresses in diffs.
var sockCmpOpt = cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })

// shutdownAttr is the INET_DIAG_SHUTDOWN attribute (type 8, one byte) that every dump
// message carries; the parser skips it.
var shutdownAttr = nlAttr(8, []byte{0})

func TestParseInetDiag(t *testing.T) {
	prev := Socket{Proto: ProtoUDP, Inode: 1}
	tests := []struct {
		name     string
		in       []byte
		proto    Proto
		dst      []Socket
		want     []Socket
		wantDone bool
		wantErr  []error // errors.Is targets; nil means no error
	}{
		{
			name:  "IPv4 TCP with tcp_info",
			in:    v4Est.msg(shutdownAttr, nlAttr(inetDiagInfo, tcpInfo(tcpInfoLen, 1<<40, 123456))),
			proto: ProtoTCP,
			want:  []Socket{v4EstSock},
		},
		{
			name:  "IPv6 listener, tcp_info of Linux 4.1 (bytes_received is last)",
			in:    v6Listen.msg(nlAttr(inetDiagInfo, tcpInfo(tcpInfoMinLen, 0, 0)), shutdownAttr),
			proto: ProtoTCP,
			want:  []Socket{v6ListenSock},
		},
		{
			name:  "IPv4-mapped IPv6 stays mapped",
			in:    mapped.msg(nlAttr(inetDiagInfo, tcpInfo(tcpInfoLen, 5, 6))),
			proto: ProtoTCP,
			want:  []Socket{mappedSock},
		},
		{
			name:  "TIME-WAIT without tcp_info",
			in:    timeWait.msg(),
			proto: ProtoTCP,
			want:  []Socket{timeWaitSock},
		},
		{
			name:  "tcp_info too short for the byte counters (before Linux 4.1)",
			in:    timeWait.msg(nlAttr(inetDiagInfo, tcpInfo(104, 0, 0))),
			proto: ProtoTCP,
			want:  []Socket{timeWaitSock},
		},
		{
			name:  "no cookie",
			in:    diagMsg{family: linuxAFInet, state: 6, noCookie: true}.msg(),
			proto: ProtoTCP,
			want: []Socket{{Proto: ProtoTCP, State: StateTimeWait,
				Local: netip.MustParseAddrPort("0.0.0.0:0"), Remote: netip.MustParseAddrPort("0.0.0.0:0")}},
		},
		{
			name:  "UDP unconnected and connected; a stray INET_DIAG_INFO is ignored",
			in:    concat(udpUnconn.msg(shutdownAttr), udp6Conn.msg(nlAttr(inetDiagInfo, tcpInfo(tcpInfoLen, 1, 2)))),
			proto: ProtoUDP,
			want:  []Socket{udpUnconnSock, udp6ConnSock},
		},
		{
			name:     "dump with NLMSG_DONE; what follows is ignored",
			in:       concat(v4Est.msg(nlAttr(inetDiagInfo, tcpInfo(tcpInfoLen, 1<<40, 123456))), timeWait.msg(), errMsg(nlmsgDone, 0), mapped.msg()),
			proto:    ProtoTCP,
			want:     []Socket{v4EstSock, timeWaitSock},
			wantDone: true,
		},
		{
			name:     "NLMSG_DONE without payload (older kernels)",
			in:       nlMsg(nlmsgDone, nil),
			proto:    ProtoTCP,
			wantDone: true,
		},
		{
			name:     "NLMSG_DONE carrying an error",
			in:       concat(timeWait.msg(), errMsg(nlmsgDone, -int32(syscall.EINTR))),
			proto:    ProtoTCP,
			want:     []Socket{timeWaitSock},
			wantDone: true,
			wantErr:  []error{syscall.EINTR},
		},
		{
			name:    "NLMSG_ERROR",
			in:      errMsg(nlmsgError, -int32(syscall.ENOENT)),
			proto:   ProtoUDP,
			wantErr: []error{syscall.ENOENT},
		},
		{
			name:    "NLMSG_ERROR EPERM is ErrPermission",
			in:      errMsg(nlmsgError, -int32(syscall.EPERM)),
			proto:   ProtoTCP,
			wantErr: []error{ErrPermission, syscall.EPERM},
		},
		{
			name:  "NLMSG_ERROR 0 is an acknowledgement; NLMSG_NOOP and unknown types are skipped",
			in:    concat(errMsg(nlmsgError, 0), nlMsg(nlmsgNoop, nil), nlMsg(99, []byte{1, 2, 3, 4, 5}), timeWait.msg()),
			proto: ProtoTCP,
			want:  []Socket{timeWaitSock},
		},
		{
			name:    "NLMSG_ERROR without its errno",
			in:      nlMsg(nlmsgError, []byte{1, 2}),
			proto:   ProtoTCP,
			wantErr: []error{ErrMalformed},
		},
		{
			name:    "NLMSG_OVERRUN",
			in:      nlMsg(nlmsgOverrun, nil),
			proto:   ProtoTCP,
			wantErr: []error{ErrMalformed},
		},
		{
			name:  "destroy event: INET_DIAG_PROTOCOL overrides the dump's protocol",
			in:    udpUnconn.msg(nlAttr(inetDiagProtocol, []byte{17})),
			proto: ProtoTCP,
			want:  []Socket{udpUnconnSock},
		},
		{
			name:  "destroy event of TCP with its final tcp_info",
			in:    v4Est.msg(nlAttr(inetDiagProtocol, []byte{6}), nlAttr(inetDiagInfo, tcpInfo(tcpInfoLen, 1<<40, 123456))),
			proto: ProtoUDP,
			want:  []Socket{v4EstSock},
		},
		{
			name:  "another protocol (SCTP) is skipped",
			in:    concat(v4Est.msg(nlAttr(inetDiagProtocol, []byte{132})), timeWait.msg()),
			proto: ProtoTCP,
			want:  []Socket{timeWaitSock},
		},
		{
			name:  "unknown address family is skipped",
			in:    concat(diagMsg{family: 1}.msg(), timeWait.msg()),
			proto: ProtoTCP,
			want:  []Socket{timeWaitSock},
		},
		{
			name:  "appends to dst",
			in:    timeWait.msg(),
			proto: ProtoTCP,
			dst:   []Socket{prev},
			want:  []Socket{prev, timeWaitSock},
		},
		{
			name:  "empty buffer",
			in:    nil,
			proto: ProtoTCP,
		},
		{
			name:    "truncated header",
			in:      concat(timeWait.msg(), timeWait.msg()[:10]),
			proto:   ProtoTCP,
			want:    []Socket{timeWaitSock},
			wantErr: []error{ErrMalformed},
		},
		{
			name:    "message longer than the buffer",
			in:      timeWait.msg()[:nlmsgHdrLen+40],
			proto:   ProtoTCP,
			wantErr: []error{ErrMalformed},
		},
		{
			name: "message length below the header size",
			in: func() []byte {
				b := timeWait.msg()
				binary.NativeEndian.PutUint32(b, 4)
				return b
			}(),
			proto:   ProtoTCP,
			wantErr: []error{ErrMalformed},
		},
		{
			name:    "inet_diag_msg cut short",
			in:      diagMsg{family: linuxAFInet, truncateStruct: 60}.msg(),
			proto:   ProtoTCP,
			wantErr: []error{ErrMalformed},
		},
		{
			name: "attribute longer than the message",
			in: func() []byte {
				a := nlAttr(inetDiagInfo, tcpInfo(tcpInfoLen, 1, 2))
				binary.NativeEndian.PutUint16(a, uint16(len(a)+8))
				return v4Est.msg(a)
			}(),
			proto:   ProtoTCP,
			wantErr: []error{ErrMalformed},
		},
		{
			name: "attribute length below the attribute header",
			in: func() []byte {
				a := nlAttr(inetDiagInfo, nil)
				binary.NativeEndian.PutUint16(a, 2)
				return v4Est.msg(a)
			}(),
			proto:   ProtoTCP,
			wantErr: []error{ErrMalformed},
		},
		{
			name:    "empty INET_DIAG_PROTOCOL",
			in:      v4Est.msg(nlAttr(inetDiagProtocol, nil)),
			proto:   ProtoTCP,
			wantErr: []error{ErrMalformed},
		},
		{
			name:  "trailing bytes of an attribute shorter than its header are padding",
			in:    timeWait.msg([]byte{0, 0}),
			proto: ProtoTCP,
			want:  []Socket{timeWaitSock},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, done, err := parseInetDiag(tt.in, tt.proto, tt.dst)
			if diff := cmp.Diff(tt.want, got, sockCmpOpt); diff != "" {
				t.Errorf("sockets (-want +got):\n%s", diff)
			}
			if done != tt.wantDone {
				t.Errorf("done = %v, want %v", done, tt.wantDone)
			}
			if tt.wantErr == nil && err != nil {
				t.Errorf("error %v, want none", err)
			}
			if tt.wantErr != nil && err == nil {
				t.Errorf("no error, want %v", tt.wantErr)
			}
			for _, target := range tt.wantErr {
				if !errors.Is(err, target) {
					t.Errorf("error %v does not wrap %v", err, target)
				}
			}
		})
	}
}

// TestAppendInetDiagReq checks the request bytes field by field.
func TestAppendInetDiagReq(t *testing.T) {
	ne := binary.NativeEndian
	prefix := []byte{0xee}
	b := appendInetDiagReq(prefix, 42, linuxAFInet6, ProtoTCP, inetDiagInfoExt)
	if len(b) != 1+72 || b[0] != 0xee {
		t.Fatalf("length %d (want 73) or prefix lost: % x", len(b), b)
	}
	b = b[1:]
	want := make([]byte, 72)
	ne.PutUint32(want[0:], 72)                   // nlmsg_len
	ne.PutUint16(want[4:], 20)                   // SOCK_DIAG_BY_FAMILY
	ne.PutUint16(want[6:], 0x1|0x300)            // NLM_F_REQUEST | NLM_F_DUMP
	ne.PutUint32(want[8:], 42)                   // nlmsg_seq
	want[16], want[17], want[18] = 10, 6, 1<<1   // AF_INET6, IPPROTO_TCP, 1 << (INET_DIAG_INFO-1)
	ne.PutUint32(want[20:], 0xffffffff)          // idiag_states: all
	ne.PutUint32(want[24+40:], inetDiagNoCookie) // id.idiag_cookie[0]
	ne.PutUint32(want[24+44:], inetDiagNoCookie) // id.idiag_cookie[1]
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	udp := appendInetDiagReq(nil, 1, linuxAFInet, ProtoUDP, 0)
	if udp[16] != 2 || udp[17] != 17 || udp[18] != 0 {
		t.Errorf("udp request family/protocol/ext = %d/%d/%d, want 2/17/0", udp[16], udp[17], udp[18])
	}
}

// inetDiagSeeds are the fuzz corpus seeds: the messages of TestParseInetDiag.
func inetDiagSeeds() [][]byte {
	info := nlAttr(inetDiagInfo, tcpInfo(tcpInfoLen, 1<<40, 123456))
	return [][]byte{
		v4Est.msg(shutdownAttr, info),
		concat(v6Listen.msg(info), mapped.msg(info), timeWait.msg(), errMsg(nlmsgDone, 0)),
		concat(udpUnconn.msg(shutdownAttr), udp6Conn.msg(), errMsg(nlmsgDone, 0)),
		udpUnconn.msg(nlAttr(inetDiagProtocol, []byte{17})),
		errMsg(nlmsgError, -1),
		nlMsg(nlmsgNoop, nil),
	}
}

// FuzzParseInetDiag feeds arbitrary buffers to parseInetDiag: it must not panic, must
// keep dst, and must only return TCP and UDP sockets, with tcp_info only for TCP.
func FuzzParseInetDiag(f *testing.F) {
	for _, s := range inetDiagSeeds() {
		f.Add(s, uint8(ProtoTCP))
		f.Add(s, uint8(ProtoUDP))
	}
	f.Fuzz(func(t *testing.T, b []byte, proto uint8) {
		prev := []Socket{{Inode: 1}}
		out, done, err := parseInetDiag(b, Proto(proto), prev)
		if len(out) < 1 || out[0] != prev[0] {
			t.Fatalf("dst lost: %+v", out)
		}
		for _, s := range out[1:] {
			if s.Proto != ProtoTCP && s.Proto != ProtoUDP {
				t.Fatalf("socket of protocol %d", s.Proto)
			}
			if s.HasInfo && s.Proto != ProtoTCP {
				t.Fatalf("%v socket with tcp_info", s.Proto)
			}
			if !s.Local.IsValid() || !s.Remote.IsValid() || s.Local.Addr().Is4() != s.Remote.Addr().Is4() {
				t.Fatalf("addresses %v %v", s.Local, s.Remote)
			}
		}
		if err == nil && !done {
			// Without error, every message was consumed: parsing again after
			// appending NLMSG_DONE gives the same sockets and done.
			b2 := concat(b, errMsg(nlmsgDone, 0))
			if len(b)%4 != 0 {
				return // the DONE would not start on a message boundary
			}
			out2, done2, err2 := parseInetDiag(b2, Proto(proto), prev[:1:1])
			if err2 != nil || !done2 || !cmp.Equal(out, out2, sockCmpOpt) {
				t.Fatalf("with NLMSG_DONE appended: %v, done %v, %d sockets; before %d", err2, done2, len(out2), len(out))
			}
		}
	})
}

// benchInetDiagBuf builds a dump buffer of n TCP messages with tcp_info, like those of a
// receive from the kernel, ending with NLMSG_DONE.
func benchInetDiagBuf(n int) []byte {
	var b []byte
	info := nlAttr(inetDiagInfo, tcpInfo(tcpInfoLen, 1000, 2000))
	for i := 0; i < n; i++ {
		m := v4Est
		m.src = netip.AddrPortFrom(m.src.Addr(), uint16(1024+i))
		m.cookie = uint64(i)
		if i%2 == 1 {
			m = v6Listen
			m.src = netip.AddrPortFrom(m.src.Addr(), uint16(1024+i))
		}
		b = append(b, m.msg(shutdownAttr, info)...)
	}
	return append(b, errMsg(nlmsgDone, 0)...)
}

// BenchmarkParseInetDiag parses 10,000 TCP sockets with tcp_info (about 3.6 MB of
// messages) into a reused slice.
func BenchmarkParseInetDiag(b *testing.B) {
	const n = 10_000
	buf := benchInetDiagBuf(n)
	dst := make([]Socket, 0, n)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		out, done, err := parseInetDiag(buf, ProtoTCP, dst[:0])
		if err != nil || !done || len(out) != n {
			b.Fatalf("%d sockets, done %v, %v", len(out), done, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/socket")
}

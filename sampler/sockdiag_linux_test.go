package sampler

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestSockDiagConstants checks the portable constants of sockdiag.go against
// golang.org/x/sys/unix, where it defines them.
func TestSockDiagConstants(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"NLMSG_HDRLEN", nlmsgHdrLen, unix.NLMSG_HDRLEN},
		{"NLMSG_NOOP", nlmsgNoop, unix.NLMSG_NOOP},
		{"NLMSG_ERROR", nlmsgError, unix.NLMSG_ERROR},
		{"NLMSG_DONE", nlmsgDone, unix.NLMSG_DONE},
		{"NLMSG_OVERRUN", nlmsgOverrun, unix.NLMSG_OVERRUN},
		{"NLM_F_REQUEST", nlmFRequest, unix.NLM_F_REQUEST},
		{"NLM_F_DUMP", nlmFDump, unix.NLM_F_DUMP},
		{"sizeof(nlattr)", nlaHdrLen, unix.SizeofNlAttr},
		{"NLA_TYPE_MASK", nlaTypeMask, ^(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER) & 0xffff},
		{"SOCK_DIAG_BY_FAMILY", sockDiagByFamily, unix.SOCK_DIAG_BY_FAMILY},
		{"AF_INET", linuxAFInet, unix.AF_INET},
		{"AF_INET6", linuxAFInet6, unix.AF_INET6},
		{"offsetof(tcp_info, bytes_acked)", offTCPInfoBytesAcked, int(unsafe.Offsetof(unix.TCPInfo{}.Bytes_acked))},
		{"offsetof(tcp_info, bytes_received)", offTCPInfoBytesReceived, int(unsafe.Offsetof(unix.TCPInfo{}.Bytes_received))},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, unix says %d", c.name, c.got, c.want)
		}
	}
}

// fdInode returns the inode of the socket behind c, as fstat sees it.
func fdInode(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatalf("fstat: %v", serr)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		t.Fatalf("fd mode %o is not a socket", st.Mode)
	}
	return st.Ino
}

// addrPort converts a net.Addr of a TCP or UDP socket to a netip.AddrPort.
func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	t.Fatalf("unexpected address %T %v", a, a)
	return netip.AddrPort{}
}

// dump runs one Dump on a fresh socket.
func dump(t *testing.T) []Socket {
	t.Helper()
	d, err := newSockDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	socks, err := d.Dump(nil)
	if err != nil {
		t.Fatal(err)
	}
	return socks
}

// findSocket returns the socket of proto with the given local and remote address.
func findSocket(socks []Socket, proto Proto, local, remote netip.AddrPort) (Socket, bool) {
	for _, s := range socks {
		if s.Proto == proto && s.Local == local && s.Remote == remote {
			return s, true
		}
	}
	return Socket{}, false
}

// unspecified returns the all-zeros address:port of the family of a, as sock_diag reports
// the remote end of a listening or unconnected socket.
func unspecified(a netip.Addr) netip.AddrPort {
	if a.Is4() {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
}

// tcpPair is a listener and a connection over it, with both ends.
type tcpPair struct {
	ln             *net.TCPListener
	client, server *net.TCPConn
}

// newTCPPair listens on addr (such as "127.0.0.1:0") and connects to it from dialAddr's
// family; dial is the address to connect to, or "" for the listener's address.
func newTCPPair(t *testing.T, network, addr, dial string) *tcpPair {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s %s: %v", network, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	if dial == "" {
		dial = ln.Addr().String()
	} else {
		dial = net.JoinHostPort(dial, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
	}
	client, err := net.Dial("tcp", dial)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return &tcpPair{ln: ln.(*net.TCPListener), client: client.(*net.TCPConn), server: server.(*net.TCPConn)}
}

// send writes n bytes from the client and reads them on the server.
func (p *tcpPair) send(t *testing.T, n int) {
	t.Helper()
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(i)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := p.client.Write(buf)
		errc <- err
	}()
	got := make([]byte, n)
	if _, err := io.ReadFull(p.server, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// The kernel's tcp_info byte counters count sequence space, not only payload
// (net/ipv4/tcp_input.c: tcp_snd_una_update adds ack - snd_una to bytes_acked,
// tcp_rcv_nxt_update adds seq - rcv_nxt to bytes_received): the active opener's SYN
// counts as one byte acknowledged, and each FIN as one byte acknowledged by its sender
// and one byte received by its peer. The passive opener's SYN-ACK is not counted (the
// accepted socket starts with snd_una past it).
const (
	synBytes = 1 // bytes_acked of the connecting end after the handshake
	finBytes = 1 // bytes_acked and bytes_received added by a FIN
)

// waitAcked dumps until the client end of p reports want bytes acknowledged (the ACK of
// the last segment may be delayed), for at most a few seconds, and returns the last dump.
func waitAcked(t *testing.T, p *tcpPair, want uint64) []Socket {
	t.Helper()
	local, remote := addrPort(t, p.client.LocalAddr()), addrPort(t, p.client.RemoteAddr())
	var socks []Socket
	for deadline := time.Now().Add(3 * time.Second); ; {
		socks = dump(t)
		if c, ok := findSocket(socks, ProtoTCP, local, remote); ok && c.BytesAcked == want {
			return socks
		}
		if time.Now().After(deadline) {
			return socks // the caller reports what is wrong
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkTCPPair dumps and checks the listener and both ends of p after n bytes went from
// the client to the server.
func checkTCPPair(t *testing.T, p *tcpPair, n int) (client, server Socket) {
	t.Helper()
	uid := uint32(os.Getuid())
	socks := waitAcked(t, p, uint64(n)+synBytes)

	lnAddr := addrPort(t, p.ln.Addr())
	ln, ok := findSocket(socks, ProtoTCP, lnAddr, unspecified(lnAddr.Addr()))
	if !ok {
		t.Fatalf("listener %v not in the dump of %d sockets", lnAddr, len(socks))
	}
	if ln.State != StateListen {
		t.Errorf("listener state %v, want LISTEN", ln.State)
	}
	if want := fdInode(t, p.ln); ln.Inode != want || want == 0 {
		t.Errorf("listener inode %d, fd inode %d", ln.Inode, want)
	}
	if ln.UID != uid {
		t.Errorf("listener uid %d, want %d", ln.UID, uid)
	}
	if !ln.HasInfo {
		t.Errorf("listener has no tcp_info")
	}

	for _, end := range []struct {
		name string
		conn *net.TCPConn
		s    *Socket
	}{{"client", p.client, &client}, {"server", p.server, &server}} {
		local, remote := addrPort(t, end.conn.LocalAddr()), addrPort(t, end.conn.RemoteAddr())
		s, ok := findSocket(socks, ProtoTCP, local, remote)
		if !ok {
			t.Fatalf("%s %v -> %v not in the dump of %d sockets", end.name, local, remote, len(socks))
		}
		*end.s = s
		if s.State != StateEstablished {
			t.Errorf("%s state %v, want ESTAB", end.name, s.State)
		}
		if want := fdInode(t, end.conn); s.Inode != want || want == 0 {
			t.Errorf("%s inode %d, fd inode %d", end.name, s.Inode, want)
		}
		if s.UID != uid {
			t.Errorf("%s uid %d, want %d", end.name, s.UID, uid)
		}
		if s.Cookie == 0 {
			t.Errorf("%s cookie 0", end.name)
		}
		if !s.HasInfo {
			t.Errorf("%s has no tcp_info", end.name)
		}
	}
	if client.BytesAcked != uint64(n)+synBytes {
		t.Errorf("client bytes_acked %d, want %d + %d for the SYN", client.BytesAcked, n, synBytes)
	}
	if client.BytesReceived != 0 {
		t.Errorf("client bytes_received %d, want 0", client.BytesReceived)
	}
	if server.BytesReceived != uint64(n) {
		t.Errorf("server bytes_received %d, want %d", server.BytesReceived, n)
	}
	if server.BytesAcked != 0 {
		t.Errorf("server bytes_acked %d, want 0", server.BytesAcked)
	}
	if client.Cookie == server.Cookie {
		t.Errorf("client and server share cookie %#x", client.Cookie)
	}
	return client, server
}

// TestSockDiagDumpTCP4 finds a listener and both ends of a loopback connection, with
// their inodes, uid and tcp_info byte counters.
func TestSockDiagDumpTCP4(t *testing.T) {
	p := newTCPPair(t, "tcp4", "127.0.0.1:0", "")
	const n = 100_000
	p.send(t, n)
	c1, _ := checkTCPPair(t, p, n)

	// The cookie is stable across dumps.
	socks := dump(t)
	c2, ok := findSocket(socks, ProtoTCP, c1.Local, c1.Remote)
	if !ok || c2.Cookie != c1.Cookie {
		t.Errorf("second dump: client %+v, want cookie %#x", c2, c1.Cookie)
	}
}

// TestSockDiagDumpTCP6 is TestSockDiagDumpTCP4 on ::1.
func TestSockDiagDumpTCP6(t *testing.T) {
	p := newTCPPair(t, "tcp6", "[::1]:0", "") // skips without IPv6
	const n = 77_777
	p.send(t, n)
	c, _ := checkTCPPair(t, p, n)
	if !c.Local.Addr().Is6() || c.Local.Addr().Is4In6() {
		t.Errorf("client local %v, want a plain IPv6 address", c.Local)
	}
}

// TestSockDiagDumpTCPMapped connects over IPv4 to a dual-stack IPv6 listener: the accepted
// socket is an IPv6 socket with IPv4-mapped addresses.
func TestSockDiagDumpTCPMapped(t *testing.T) {
	p := newTCPPair(t, "tcp", "[::]:0", "127.0.0.1")
	const n = 4321
	p.send(t, n)
	socks := waitAcked(t, p, n+synBytes)
	local, remote := addrPort(t, p.server.LocalAddr()), addrPort(t, p.server.RemoteAddr())
	// Go reports the accepted connection's addresses unmapped; the kernel keeps them mapped.
	mlocal := netip.AddrPortFrom(netip.AddrFrom16(local.Addr().As16()), local.Port())
	mremote := netip.AddrPortFrom(netip.AddrFrom16(remote.Addr().As16()), remote.Port())
	s, ok := findSocket(socks, ProtoTCP, mlocal, mremote)
	if !ok {
		t.Fatalf("server %v -> %v not in the dump", mlocal, mremote)
	}
	if !s.Local.Addr().Is4In6() || s.State != StateEstablished || s.BytesReceived != n || s.Inode != fdInode(t, p.server) {
		t.Errorf("server %+v: want ESTAB, IPv4-mapped, %d bytes received, inode of its fd", s, n)
	}
}

// TestSockDiagDumpUDP finds an unconnected (state 7) and a connected (state 1) UDP socket.
func TestSockDiagDumpUDP(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp6", "[::1]:0"}} {
		t.Run(tc.network, func(t *testing.T) {
			bound, err := net.ListenUDP(tc.network, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.addr)))
			if err != nil {
				t.Skipf("cannot bind %s %s: %v", tc.network, tc.addr, err)
			}
			defer bound.Close()
			conn, err := net.DialUDP(tc.network, nil, bound.LocalAddr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			socks := dump(t)

			la := addrPort(t, bound.LocalAddr())
			s, ok := findSocket(socks, ProtoUDP, la, unspecified(la.Addr()))
			if !ok {
				t.Fatalf("bound socket %v not in the dump", la)
			}
			want := Socket{Proto: ProtoUDP, State: StateClose, Local: la, Remote: unspecified(la.Addr()),
				Inode: fdInode(t, bound), UID: uint32(os.Getuid()), Cookie: s.Cookie}
			if s != want || s.Cookie == 0 {
				t.Errorf("bound socket\n got %+v\nwant %+v (and a cookie)", s, want)
			}

			cl, cr := addrPort(t, conn.LocalAddr()), addrPort(t, conn.RemoteAddr())
			c, ok := findSocket(socks, ProtoUDP, cl, cr)
			if !ok {
				t.Fatalf("connected socket %v -> %v not in the dump", cl, cr)
			}
			want = Socket{Proto: ProtoUDP, State: StateEstablished, Local: cl, Remote: cr,
				Inode: fdInode(t, conn), UID: uint32(os.Getuid()), Cookie: c.Cookie}
			if c != want {
				t.Errorf("connected socket\n got %+v\nwant %+v", c, want)
			}
		})
	}
}

// TestSockDiagDumpReuse dumps repeatedly into the same slice on one socket.
func TestSockDiagDumpReuse(t *testing.T) {
	p := newTCPPair(t, "tcp4", "127.0.0.1:0", "")
	d, err := newSockDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	local, remote := addrPort(t, p.client.LocalAddr()), addrPort(t, p.client.RemoteAddr())
	var socks []Socket
	for i := 0; i < 5; i++ {
		if socks, err = d.Dump(socks[:0]); err != nil {
			t.Fatalf("dump %d: %v", i, err)
		}
		if _, ok := findSocket(socks, ProtoTCP, local, remote); !ok {
			t.Fatalf("dump %d: client not found", i)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dump(nil); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Dump after Close: %v, want os.ErrClosed", err)
	}
}

// TestSockDiagTimeWait closes a connection from the client side and finds its TIME-WAIT
// socket: no tcp_info, inode 0.
func TestSockDiagTimeWait(t *testing.T) {
	p := newTCPPair(t, "tcp4", "127.0.0.1:0", "")
	local, remote := addrPort(t, p.client.LocalAddr()), addrPort(t, p.client.RemoteAddr())
	p.client.Close()
	if _, err := p.server.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("server read after client close: %v, want EOF", err)
	}
	p.server.Close()
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s, ok := findSocket(dump(t), ProtoTCP, local, remote)
		if ok && s.State == StateTimeWait {
			if s.HasInfo || s.Inode != 0 || s.Cookie == 0 {
				t.Errorf("TIME-WAIT socket %+v: want no tcp_info, inode 0, a cookie", s)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("client %v -> %v: %+v (found %v), want TIME-WAIT", local, remote, s, ok)
		}
	}
}

// newWatcherOrSkip starts a destroy watcher, or skips the test when the kernel refuses
// the sock_diag destroy groups to a process without CAP_NET_ADMIN. (Linux 6.18 lets any
// process join them; older kernels or security modules may not.)
func newWatcherOrSkip(t *testing.T, limit int) *destroyWatcher {
	t.Helper()
	w, err := newDestroyWatcher(limit)
	if errors.Is(err, ErrPermission) {
		t.Skipf("socket-destroy events need CAP_NET_ADMIN here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// TestDestroyWatcher closes a connection and receives the destroy events of both ends,
// with the cookies of the dump and the final byte counters.
func TestDestroyWatcher(t *testing.T) {
	w := newWatcherOrSkip(t, 1024)

	p := newTCPPair(t, "tcp4", "127.0.0.1:0", "")
	const n = 65_537
	p.send(t, n)
	client, server := checkTCPPair(t, p, n)
	lnAddr := addrPort(t, p.ln.Addr())
	lnSock, _ := findSocket(dump(t), ProtoTCP, lnAddr, unspecified(lnAddr.Addr()))

	p.client.Close()
	p.server.Close()
	p.ln.Close()

	got := map[uint64]Socket{}
	var all []Socket
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var dropped int
		all, dropped = w.Drain(all[:0])
		if dropped != 0 {
			t.Errorf("%d events dropped", dropped)
		}
		for _, s := range all {
			got[s.Cookie] = s
		}
		_, c := got[client.Cookie]
		_, s := got[server.Cookie]
		_, l := got[lnSock.Cookie]
		if c && s && l {
			break
		}
	}
	if err := w.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		name            string
		s               Socket
		acked, received uint64
	}{
		// Both FINs are acknowledged before the sockets are freed.
		{"client", client, synBytes + n + finBytes, finBytes},
		{"server", server, finBytes, n + finBytes},
		{"listener", lnSock, 0, 0},
	} {
		ev, ok := got[want.s.Cookie]
		if !ok {
			t.Errorf("no destroy event for the %s (cookie %#x); got %d events", want.name, want.s.Cookie, len(got))
			continue
		}
		t.Logf("%s destroyed: %+v", want.name, ev)
		if ev.Proto != ProtoTCP || ev.Local != want.s.Local || ev.Remote != want.s.Remote {
			t.Errorf("%s event %+v: want tcp %v -> %v", want.name, ev, want.s.Local, want.s.Remote)
		}
		if !ev.HasInfo || ev.BytesAcked != want.acked || ev.BytesReceived != want.received {
			t.Errorf("%s event: has info %v, bytes acked %d received %d; want %d and %d",
				want.name, ev.HasInfo, ev.BytesAcked, ev.BytesReceived, want.acked, want.received)
		}
	}
}

// TestDestroyWatcherUDP receives the destroy event of a UDP socket.
func TestDestroyWatcherUDP(t *testing.T) {
	w := newWatcherOrSkip(t, 0)
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	la := addrPort(t, c.LocalAddr())
	s, ok := findSocket(dump(t), ProtoUDP, la, unspecified(la.Addr()))
	if !ok {
		t.Fatalf("udp socket %v not in the dump", la)
	}
	c.Close()
	var evs []Socket
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		evs, _ = w.Drain(evs)
		for _, e := range evs {
			if e.Cookie == s.Cookie {
				if e.Proto != ProtoUDP || e.Local != la || e.HasInfo {
					t.Errorf("udp destroy event %+v: want udp %v without tcp_info", e, la)
				}
				return
			}
		}
	}
	t.Fatalf("no destroy event for udp socket %v (cookie %#x) among %d events", la, s.Cookie, len(evs))
}

// TestDestroyWatcherLimit makes more events than the limit and checks that the overflow
// is counted.
func TestDestroyWatcherLimit(t *testing.T) {
	const limit, n = 3, 10
	w := newWatcherOrSkip(t, limit)
	for i := 0; i < n; i++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// Other processes may destroy sockets too, so expect at least n events in all.
	var total int
	for deadline := time.Now().Add(3 * time.Second); total < n && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		evs, dropped := w.Drain(nil)
		if len(evs) > limit {
			t.Fatalf("Drain returned %d events, limit %d", len(evs), limit)
		}
		total += len(evs) + dropped
	}
	if total < n {
		t.Errorf("%d events kept or dropped, want at least %d", total, n)
	}
}

// TestDestroyWatcherClose checks that Close returns while the goroutine waits for events,
// and that a second Close is harmless.
func TestDestroyWatcherClose(t *testing.T) {
	w := newWatcherOrSkip(t, 10)
	time.Sleep(20 * time.Millisecond) // let the goroutine block in receive
	done := make(chan error, 1)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Err(); err != nil {
		t.Errorf("Err after Close: %v", err)
	}
}

// TestWrapPerm checks that EPERM and EACCES wrap ErrPermission and keep the errno.
func TestWrapPerm(t *testing.T) {
	for _, errno := range []error{unix.EPERM, unix.EACCES} {
		err := wrapPerm(errno)
		if !errors.Is(err, ErrPermission) || !errors.Is(err, errno) {
			t.Errorf("wrapPerm(%v) = %v, want ErrPermission and the errno", errno, err)
		}
	}
	if err := wrapPerm(unix.ENOMEM); errors.Is(err, ErrPermission) {
		t.Errorf("wrapPerm(ENOMEM) = %v, wraps ErrPermission", err)
	}
}

// TestDestroyWatcherWithoutNetAdmin drops CAP_NET_ADMIN from the effective set of one
// thread (capabilities are per thread on Linux) and joins the destroy groups from it.
// Kernels differ: one that refuses must say so with ErrPermission; one that accepts (Linux
// 6.18 does) must then deliver events.
func TestDestroyWatcherWithoutNetAdmin(t *testing.T) {
	type result struct {
		w   *destroyWatcher
		err error
	}
	resc := make(chan result, 1)
	go func() {
		// The thread is unlocked only once CAP_NET_ADMIN is back in its effective set
		// (it stays in the permitted set); if that fails it stays locked and ends with
		// the goroutine, or, being the main thread, Go parks it for good.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			resc <- result{err: fmt.Errorf("capget: %w", err)}
			return
		}
		data[unix.CAP_NET_ADMIN/32].Effective &^= 1 << (unix.CAP_NET_ADMIN % 32)
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			resc <- result{err: fmt.Errorf("capset: %w", err)}
			return
		}
		w, err := newDestroyWatcher(10)
		data[unix.CAP_NET_ADMIN/32].Effective |= 1 << (unix.CAP_NET_ADMIN % 32)
		if unix.Capset(&hdr, &data[0]) == nil {
			runtime.UnlockOSThread()
		}
		resc <- result{w: w, err: err}
	}()
	res := <-resc
	if res.err != nil {
		if !errors.Is(res.err, ErrPermission) {
			t.Fatalf("without CAP_NET_ADMIN: %v, want an error wrapping ErrPermission", res.err)
		}
		t.Logf("this kernel refuses destroy events without CAP_NET_ADMIN: %v", res.err)
		return
	}
	w := res.w
	defer w.Close()
	t.Log("this kernel lets a process without CAP_NET_ADMIN join the destroy groups")
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	la := addrPort(t, c.LocalAddr())
	c.Close()
	var evs []Socket
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		evs, _ = w.Drain(evs[:0])
		for _, e := range evs {
			if e.Proto == ProtoUDP && e.Local == la {
				return
			}
		}
	}
	t.Fatalf("joined without CAP_NET_ADMIN but no destroy event for udp %v", la)
}

// BenchmarkSockDiagDump dumps the socket table with 10,000 extra TCP sockets open: 5,000
// loopback connections, both ends (closed with a reset afterwards, so that they leave no
// TIME-WAIT sockets to the next run). It needs about 10,000 file descriptors and skips
// without them.
func BenchmarkSockDiagDump(b *testing.B) {
	openLoopbackConns(b, 5000)
	d, err := newSockDiag()
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var socks []Socket
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if socks, err = d.Dump(socks[:0]); err != nil {
			b.Fatal(err)
		}
	}
	if len(socks) < 10000 {
		b.Fatalf("dump found %d sockets, want at least 10000", len(socks))
	}
	b.ReportMetric(float64(len(socks)), "sockets")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(socks)), "ns/socket")
}

// TestProcNetMatchesSockDiag reads the live /proc/net files and a sock_diag dump with a
// known connection open: both must show its ends and the listener with the same state,
// inode and uid, which checks the /proc address decoding against the kernel.
func TestProcNetMatchesSockDiag(t *testing.T) {
	p := newTCPPair(t, "tcp4", "127.0.0.1:0", "")
	p6 := newTCPPair(t, "tcp6", "[::1]:0", "") // skips without IPv6
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	proc, err := readProcNetSockets("/proc", nil)
	if err != nil {
		t.Fatal(err)
	}
	diag := dump(t)
	type key struct {
		proto         Proto
		local, remote netip.AddrPort
	}
	var keys []key
	for _, pp := range []*tcpPair{p, p6} {
		la := addrPort(t, pp.ln.Addr())
		keys = append(keys,
			key{ProtoTCP, la, unspecified(la.Addr())},
			key{ProtoTCP, addrPort(t, pp.client.LocalAddr()), addrPort(t, pp.client.RemoteAddr())},
			key{ProtoTCP, addrPort(t, pp.server.LocalAddr()), addrPort(t, pp.server.RemoteAddr())})
	}
	ua := addrPort(t, udp.LocalAddr())
	keys = append(keys, key{ProtoUDP, ua, unspecified(ua.Addr())})
	for _, k := range keys {
		ps, ok1 := findSocket(proc, k.proto, k.local, k.remote)
		ds, ok2 := findSocket(diag, k.proto, k.local, k.remote)
		if !ok1 || !ok2 {
			t.Errorf("%v %v -> %v: in /proc %v, in sock_diag %v", k.proto, k.local, k.remote, ok1, ok2)
			continue
		}
		if ps.State != ds.State || ps.Inode != ds.Inode || ps.UID != ds.UID || ps.Inode == 0 {
			t.Errorf("%v %v -> %v:\n/proc     %+v\nsock_diag %+v", k.proto, k.local, k.remote, ps, ds)
		}
		if ps.Cookie != 0 || ps.HasInfo {
			t.Errorf("/proc socket %+v has a cookie or tcp_info", ps)
		}
	}
}

// TestSockDiagSynRecv finds a request socket: with TCP_DEFER_ACCEPT the listener keeps a
// connection whose client sent no data as a request socket (TCP_NEW_SYN_RECV), which
// sock_diag reports in state SYN-RECV without inode or tcp_info.
func TestSockDiagSynRecv(t *testing.T) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 30)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(t.Context(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local, remote := addrPort(t, ln.Addr()), addrPort(t, c.LocalAddr())
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s, ok := findSocket(dump(t), ProtoTCP, local, remote)
		if ok {
			want := Socket{Proto: ProtoTCP, State: StateSynRecv, Local: local, Remote: remote, Cookie: s.Cookie}
			if diff := cmp.Diff(want, s, sockCmpOpt); diff != "" || s.Cookie == 0 {
				t.Errorf("request socket (-want +got), and want a cookie:\n%s", diff)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no request socket %v -> %v in the dump", local, remote)
		}
	}
}

// TestSockDiagDumpPaths: the single TCPDIAG_GETSOCK walk and the per-family
// SOCK_DIAG_BY_FAMILY dumps (the fallback for kernels without it) see the same TCP
// sockets, IPv4, IPv6 and IPv4-mapped, with the same states, inodes and counters.
func TestSockDiagDumpPaths(t *testing.T) {
	pairs := []*tcpPair{newTCPPair(t, "tcp4", "127.0.0.1:0", ""), newTCPPair(t, "tcp", "[::]:0", "127.0.0.1")}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil { // IPv6 on this host
		ln.Close()
		pairs = append(pairs, newTCPPair(t, "tcp6", "[::1]:0", ""))
	}
	for _, p := range pairs {
		p.send(t, 5000)
	}
	table := func(noCompat bool) map[uint64]Socket {
		d, err := newSockDiag()
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		d.noCompat = noCompat
		socks, err := d.Dump(nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.noCompat != noCompat {
			t.Logf("this kernel refuses TCPDIAG_GETSOCK: the fallback served both")
		}
		m := map[uint64]Socket{}
		for _, s := range socks {
			if s.Proto == ProtoTCP && s.State != StateTimeWait {
				m[s.Cookie] = s
			}
		}
		return m
	}
	// The test's own sockets are idle: both walks must report them whole, counters and all.
	// Other processes' sockets (go test runs packages in parallel) move between the two dumps:
	// their counters and states change and some come and go, so of those only what a socket
	// keeps for its life is compared: its addresses, inode and owner.
	own := map[uint16]bool{}
	for _, p := range pairs {
		own[uint16(p.ln.Addr().(*net.TCPAddr).Port)] = true
	}
	isOwn := func(s Socket) bool { return own[s.Local.Port()] || own[s.Remote.Port()] }
	identity := func(s Socket) Socket {
		return Socket{Proto: s.Proto, Local: s.Local, Remote: s.Remote, Inode: s.Inode, UID: s.UID}
	}
	one, per := table(false), table(true)
	n := 0
	for c, s := range one {
		p, ok := per[c]
		switch {
		case isOwn(s) && !ok:
			t.Errorf("the test's socket %v -> %v only in the single walk", s.Local, s.Remote)
		case isOwn(s) && p != s:
			t.Errorf("single walk %+v, per family %+v", s, p)
		case ok && identity(p) != identity(s):
			t.Errorf("cookie %d: single walk %+v, per family %+v", c, identity(s), identity(p))
		}
		if isOwn(s) {
			n++
		}
	}
	for c, p := range per {
		if _, ok := one[c]; !ok && isOwn(p) {
			t.Errorf("the test's socket %v -> %v only in the per-family walks", p.Local, p.Remote)
		}
	}
	if want := 3 * len(pairs); n < want {
		t.Fatalf("%d of the test's sockets in the table, want the %d of its listeners and pairs", n, want)
	}
}

// openLoopbackConns opens conns loopback connections (both ends: 2*conns sockets) until the
// benchmark ends, then closes them with a reset, so that they leave no TIME-WAIT sockets to
// the next run. It skips without enough file descriptors.
func openLoopbackConns(b *testing.B, conns int) {
	b.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < uint64(2*conns+100) {
		b.Skipf("needs %d open files, RLIMIT_NOFILE is %d", 2*conns+100, lim.Cur)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, conns)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var open []net.Conn
	b.Cleanup(func() {
		for _, c := range open {
			c.(*net.TCPConn).SetLinger(0) // reset: leave no TIME-WAIT behind
			c.Close()
		}
	})
	for i := 0; i < conns; i++ {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			b.Fatalf("connection %d: %v", i, err)
		}
		open = append(open, c, <-accepted)
	}
}

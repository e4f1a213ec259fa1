package sampler

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadSockEventsOrSkip loads the socket-event programs, or skips when the process may not
// (not root). As root a failure is one: CI runs as root on a kernel with BTF.
func loadSockEventsOrSkip(t *testing.T, ring int) (*sockEvents, *OwnerIndex) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading BPF programs needs root (CAP_BPF and CAP_PERFMON)")
	}
	idx := NewOwnerIndex(0, 0)
	e, err := loadSockEvents(idx, ring)
	if err != nil {
		t.Fatalf("as root: %v", err)
	}
	e.procRoot = "/proc"
	t.Cleanup(func() { e.Close() })
	return e, idx
}

func selfNetNS(t *testing.T) uint32 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat("/proc/self/ns/net", &st); err != nil {
		t.Fatal(err)
	}
	return uint32(st.Ino)
}

func selfComm(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// waitOwner polls the index until the flow's owner, reported by a hook of this kind, is
// there (a lookup may find another socket first: the listener before the connect is read).
func waitOwner(t *testing.T, idx *OwnerIndex, proto Proto, local, remote netip.AddrPort, kind EventKind) SockOwner {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if o, ok := idx.Lookup(uint8(proto), local, remote); ok && o.Kind == kind {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("no socket event for %v %v -> %v", proto, local, remote)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func tcpAP(a net.Addr) netip.AddrPort { return a.(*net.TCPAddr).AddrPort() }
func udpAP(a net.Addr) netip.AddrPort { return a.(*net.UDPAddr).AddrPort() }

// TestSockEventsReportOwners: connects over IPv4, IPv6 and IPv4-mapped IPv6, a listener,
// connected and unconnected UDP sends and a receive-only UDP socket each come out of the ring
// buffer with this process as the owner (pid, comm, uid, netns, the socket's cookie as
// sock_diag reports it).
func TestSockEventsReportOwners(t *testing.T) {
	e, idx := loadSockEventsOrSkip(t, sockEvRing)
	e.start()
	pid, comm, ns := os.Getpid(), selfComm(t), selfNetNS(t)
	check := func(what string, o SockOwner, kind EventKind) {
		t.Helper()
		if o.PID != pid || o.Comm != comm || o.UID != 0 || o.NetNS != ns || o.Kind != kind || o.Cookie == 0 || o.TID == 0 {
			t.Errorf("%s: owner %+v, want pid %d comm %q uid 0 netns %d kind %v", what, o, pid, comm, ns, kind)
		}
	}

	var conns []*tcpPair
	for _, c := range []struct{ network, addr, dial string }{
		{"tcp4", "127.0.0.1:0", ""}, {"tcp6", "[::1]:0", ""}, {"tcp", "[::]:0", "127.0.0.1"},
	} {
		p := newTCPPair(t, c.network, c.addr, c.dial)
		conns = append(conns, p)
		check("connect "+c.network+" "+c.dial, waitOwner(t, idx, ProtoTCP, tcpAP(p.client.LocalAddr()), tcpAP(p.client.RemoteAddr()), EventConnect), EventConnect)
		// the listener: accepted connections are its owner's
		lo := waitOwner(t, idx, ProtoTCP, tcpAP(p.server.LocalAddr()), netip.MustParseAddrPort("192.0.2.1:1"), EventListen)
		check("listen "+c.network, lo, EventListen)
	}
	// the cookie is the one sock_diag reports for the client's socket
	d, err := newSockDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	socks, err := d.Dump(nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := tcpAP(conns[0].client.LocalAddr())
	o := waitOwner(t, idx, ProtoTCP, cl, tcpAP(conns[0].client.RemoteAddr()), EventConnect)
	found := false
	for _, s := range socks {
		if s.Proto == ProtoTCP && s.Local == cl && s.State == StateEstablished {
			found = true
			if s.Cookie != o.Cookie {
				t.Errorf("cookie %d from the event, %d from sock_diag", o.Cookie, s.Cookie)
			}
			if lo, ok := idx.LookupCookie(s.Cookie); !ok || lo.PID != pid {
				t.Errorf("LookupCookie(%d) = %+v, %v", s.Cookie, lo, ok)
			}
		}
	}
	if !found {
		t.Errorf("client socket %v not in the sock_diag dump", cl)
	}

	// UDP: a receiver that only receives, an unconnected sender, a connected one
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if _, err := tx.WriteTo([]byte("x"), rx.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rx.ReadFrom(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	check("udp unconnected send", waitOwner(t, idx, ProtoUDP, udpAP(tx.LocalAddr()), udpAP(rx.LocalAddr()), EventUDPSend), EventUDPSend)
	check("udp receive", waitOwner(t, idx, ProtoUDP, udpAP(rx.LocalAddr()), udpAP(tx.LocalAddr()), EventUDPRecv), EventUDPRecv)
	cu, err := net.Dial("udp6", udpAP(func() net.Addr {
		r6, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
		if err != nil {
			t.Skipf("no IPv6: %v", err)
		}
		t.Cleanup(func() { r6.Close() })
		return r6.LocalAddr()
	}()).String())
	if err != nil {
		t.Fatal(err)
	}
	defer cu.Close()
	if _, err := cu.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	uo := waitOwner(t, idx, ProtoUDP, udpAP(cu.LocalAddr()), udpAP(cu.RemoteAddr()), EventUDPSend)
	check("udp6 connected send", uo, EventUDPSend)
	// more sends of the same socket report nothing new: one record of its cookie in all
	for range 10 {
		_, _ = cu.Write([]byte("z"))
	}
	time.Sleep(50 * time.Millisecond)
	idx.mu.Lock()
	recs := 0
	for i := range idx.slots {
		if idx.slots[i].used && idx.slots[i].owner.Cookie == uo.Cookie {
			recs++
		}
	}
	idx.mu.Unlock()
	if recs != 1 {
		t.Errorf("11 sends of one UDP socket gave %d records, want 1", recs)
	}
	rcv, lost, err := e.Stats()
	if rcv == 0 || lost != 0 || err != nil {
		t.Errorf("Stats: received %d lost %d err %v", rcv, lost, err)
	}
}

// TestSockEventsOtherNetNS: a process in another network namespace is reported with that
// namespace's inode.
func TestSockEventsOtherNetNS(t *testing.T) {
	e, idx := loadSockEventsOrSkip(t, sockEvRing)
	e.start()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not found")
	}
	// the child prints its namespace's inode after sending one UDP datagram on its loopback
	out, err := exec.Command("unshare", "--net", "bash", "-c",
		`ip link set lo up && stat -L -c %i /proc/self/ns/net && exec 3<>/dev/udp/127.0.0.1/9 && echo x >&3`).CombinedOutput()
	if err != nil {
		t.Fatalf("unshare --net: %v: %s", err, out)
	}
	var ns uint64
	for _, f := range strings.Fields(string(out)) {
		if n, err := parseUint(f); err == nil {
			ns = n
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		idx.mu.Lock()
		for i := range idx.slots {
			s := &idx.slots[i]
			if s.used && uint64(s.owner.NetNS) == ns && s.owner.Kind == EventUDPSend {
				idx.mu.Unlock()
				if s.owner.NetNS == selfNetNS(t) {
					t.Fatal("the child's namespace is ours")
				}
				return
			}
		}
		idx.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("no UDP event from network namespace %d (output %q)", ns, out)
}

func parseUint(s string) (uint64, error) {
	var n uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, syscall.EINVAL
		}
		n = n*10 + uint64(c-'0')
	}
	return n, nil
}

// TestSockEventsCountLosses: with a one-page ring buffer and no reader, the records that do
// not fit are counted as lost, and the reader started afterwards reads the ones that did.
func TestSockEventsCountLosses(t *testing.T) {
	e, idx := loadSockEventsOrSkip(t, os.Getpagesize())
	dst, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	const n = 200 // 200 records of 96 bytes with their headers: far more than 4 KB
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.WriteTo([]byte("x"), dst.LocalAddr())
		c.Close()
	}
	_, lost, _ := e.Stats()
	if lost < n/2 {
		t.Errorf("lost %d of %d records in a 4 KB ring, want most", lost, n)
	}
	e.start()
	deadline := time.Now().Add(5 * time.Second)
	for e.received.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := e.received.Load(); got == 0 || got > n {
		t.Errorf("read %d records after the losses, want some, at most %d", got, n)
	}
	if idx.Len() == 0 {
		t.Error("nothing indexed")
	}
}

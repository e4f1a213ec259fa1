package sampler

import (
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// newTCPIterOrSkip loads the BPF iterator, or skips when the process may not (not root).
// As root a failure is one: CI runs as root on a kernel with BTF.
func newTCPIterOrSkip(tb testing.TB) *tcpIter {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("loading a BPF iterator needs root (CAP_BPF and CAP_PERFMON)")
	}
	it, err := newTCPIter()
	if err != nil {
		tb.Fatalf("as root: %v", err)
	}
	tb.Cleanup(func() { it.Close() })
	return it
}

// TestTCPIterMatchesSockDiag builds TCP sockets in every state it can (LISTEN with a
// connection waiting in its backlog, ESTAB over IPv4, IPv6 and IPv4-mapped IPv6 with bytes
// each way and bytes left unread, CLOSE-WAIT and FIN-WAIT-2, TIME-WAIT, and a request socket
// in SYN-RECV) and checks that the BPF iterator reports each of them exactly as sock_diag
// does: the same sockets by cookie, with the same state, addresses, inode, uid, queues and
// tcp_info byte counters.
func TestTCPIterMatchesSockDiag(t *testing.T) {
	it := newTCPIterOrSkip(t)
	ports := map[uint16]bool{}
	port := func(a net.Addr) { ports[a.(*net.TCPAddr).AddrPort().Port()] = true }

	p4 := newTCPPair(t, "tcp4", "127.0.0.1:0", "")
	p6 := newTCPPair(t, "tcp6", "[::1]:0", "")
	pm := newTCPPair(t, "tcp", "[::]:0", "127.0.0.1") // IPv4-mapped on a dual-stack listener
	for _, p := range []*tcpPair{p4, p6, pm} {
		port(p.ln.Addr())
		p.send(t, 100_000)
		if _, err := p.server.Write(make([]byte, 777)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(p.client, make([]byte, 777)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p4.client.Write(make([]byte, 5000)); err != nil { // left unread: a receive queue
		t.Fatal(err)
	}
	backlog, err := net.Dial("tcp4", p4.ln.Addr().String()) // never accepted: the listener's backlog
	if err != nil {
		t.Fatal(err)
	}
	defer backlog.Close()

	cw := newTCPPair(t, "tcp4", "127.0.0.1:0", "") // client closes, server does not: CLOSE-WAIT
	port(cw.ln.Addr())
	cw.client.Close()
	tw := newTCPPair(t, "tcp4", "127.0.0.1:0", "") // both close, client first: TIME-WAIT
	port(tw.ln.Addr())
	tw.client.Close()
	if _, err := tw.server.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("server read after client close: %v, want EOF", err)
	}
	tw.server.Close()

	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT, 30)
		}); err != nil {
			return err
		}
		return serr
	}}
	sr, err := lc.Listen(t.Context(), "tcp4", "127.0.0.1:0") // a request socket waits in SYN-RECV
	if err != nil {
		t.Fatal(err)
	}
	defer sr.Close()
	port(sr.Addr())
	src, err := net.Dial("tcp4", sr.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	mine := func(socks []Socket) map[uint64]Socket {
		m := map[uint64]Socket{}
		for _, s := range socks {
			if s.Proto == ProtoTCP && (ports[s.Local.Port()] || ports[s.Remote.Port()]) {
				m[s.Cookie] = s
			}
		}
		return m
	}
	wantStates := map[TCPState]bool{StateListen: true, StateEstablished: true, StateCloseWait: true,
		StateFinWait2: true, StateTimeWait: true, StateSynRecv: true}
	// The kernel may still be acknowledging or closing: compare until two sock_diag dumps
	// around the iterator's agree, for at most a few seconds.
	var diff string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		before := mine(dump(t))
		got, err := it.Dump(nil)
		if err != nil {
			t.Fatal(err)
		}
		after := mine(dump(t))
		if cmp.Diff(before, after, sockCmpOpt) != "" {
			continue
		}
		seen := map[TCPState]bool{}
		for _, s := range after {
			seen[s.State] = true
		}
		if d := cmp.Diff(wantStates, seen); d != "" {
			diff = "states (-want +got):\n" + d
			continue
		}
		if diff = cmp.Diff(after, mine(got), sockCmpOpt); diff == "" {
			t.Logf("%d sockets in %d states agree", len(after), len(seen))
			return
		}
	}
	t.Errorf("the iterator differs from sock_diag (-sock_diag +iterator):\n%s", diff)
}

// TestTCPIterFallsBack: when the iterator fails, Dump reads TCP with sock_diag, drops the
// iterator, and says why once.
func TestTCPIterFallsBack(t *testing.T) {
	it := newTCPIterOrSkip(t)
	p := newTCPPair(t, "tcp4", "127.0.0.1:0", "")
	d, err := newSockDiag()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.useIter(it)
	it.it.Close() // the next Open fails
	socks, err := d.Dump(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findSocket(socks, ProtoTCP, addrPort(t, p.client.LocalAddr()), addrPort(t, p.client.RemoteAddr())); !ok {
		t.Error("the fallback dump misses the test's connection")
	}
	if err := d.iterFailure(); err == nil {
		t.Error("no iterator failure reported")
	}
	if err := d.iterFailure(); err != nil || d.iter != nil {
		t.Errorf("after the report: failure %v, iterator %v; want both nil", err, d.iter)
	}
}

// BenchmarkTCPIterDump reads the TCP table through the BPF iterator with 10,000 extra
// sockets open, as BenchmarkSockDiagDump does with sock_diag (root only).
func BenchmarkTCPIterDump(b *testing.B) {
	it := newTCPIterOrSkip(b)
	openLoopbackConns(b, 5000)
	var socks []Socket
	var err error
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if socks, err = it.Dump(socks[:0]); err != nil {
			b.Fatal(err)
		}
	}
	if len(socks) < 10000 {
		b.Fatalf("dump found %d sockets, want at least 10000", len(socks))
	}
	b.ReportMetric(float64(len(socks)), "sockets")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(socks)), "ns/socket")
}

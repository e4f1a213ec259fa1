//go:build linux

package capture

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: live capture and network namespaces (CI runs as root)")
	}
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// lab is a network namespace joined to the test's namespace by a veth pair:
// host (here) and peer (in ns), addresses from 198.18.50-59.x.
type lab struct {
	ns, host, peer string
	hostIP, peerIP string
	procs          []*exec.Cmd
	t              *testing.T
}

func newLab(t *testing.T) *lab {
	t.Helper()
	needRoot(t)
	needTool(t, "ip")
	var b [3]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	n, _ := rand.Int(rand.Reader, big.NewInt(10*64))
	third, fourth := 50+int(n.Int64())/64, int(n.Int64())%64*4
	l := &lab{
		ns: "wtcap-" + id, host: "wtc" + id + "h", peer: "wtc" + id + "p",
		hostIP: fmt.Sprintf("198.18.%d.%d", third, fourth+1), peerIP: fmt.Sprintf("198.18.%d.%d", third, fourth+2),
		t: t,
	}
	t.Cleanup(l.cleanup)
	sh(t, "ip", "netns", "add", l.ns)
	sh(t, "ip", "link", "add", l.host, "type", "veth", "peer", "name", l.peer, "netns", l.ns)
	// No IPv6 on the pair: no router solicitations or neighbour discovery
	// chatter in the counts.
	sh(t, "sysctl", "-qw", "net.ipv6.conf."+l.host+".disable_ipv6=1")
	sh(t, "ip", "netns", "exec", l.ns, "sysctl", "-qw", "net.ipv6.conf."+l.peer+".disable_ipv6=1")
	sh(t, "ip", "addr", "add", l.hostIP+"/30", "dev", l.host)
	sh(t, "ip", "link", "set", l.host, "up")
	sh(t, "ip", "-n", l.ns, "addr", "add", l.peerIP+"/30", "dev", l.peer)
	sh(t, "ip", "-n", l.ns, "link", "set", l.peer, "up")
	sh(t, "ip", "-n", l.ns, "link", "set", "lo", "up")
	return l
}

func (l *lab) cleanup() {
	for _, p := range l.procs {
		_ = p.Process.Kill()
		_ = p.Wait()
	}
	_ = exec.Command("ip", "link", "del", l.host).Run()
	_ = exec.Command("ip", "netns", "del", l.ns).Run()
}

// start runs a command in the namespace until the test ends.
func (l *lab) start(args ...string) {
	l.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.ns}, args...)...)
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.procs = append(l.procs, cmd)
}

// waitListen waits until something listens on the TCP port in the namespace.
func (l *lab) waitListen(port int) {
	l.t.Helper()
	for i := 0; i < 100; i++ {
		out, _ := exec.Command("ip", "netns", "exec", l.ns, "ss", "-Hltn", fmt.Sprintf("sport = :%d", port)).Output()
		if len(strings.TrimSpace(string(out))) > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	l.t.Fatalf("nothing listens on port %d in %s", port, l.ns)
}

// devBytes reads rx+tx bytes of an interface from /proc/net/dev.
func devBytes(t *testing.T, iface string) uint64 {
	t.Helper()
	f, err := os.Open("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) != iface {
			continue
		}
		f := strings.Fields(rest)
		rx, err1 := strconv.ParseUint(f[0], 10, 64)
		tx, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("/proc/net/dev line %q", sc.Text())
		}
		return rx + tx
	}
	t.Fatalf("%s not in /proc/net/dev", iface)
	return 0
}

// liveRun is a live capture running in the background.
type liveRun struct {
	c      *Capture
	cancel context.CancelFunc
	out    chan *Batch
	done   chan error
}

func startLive(t *testing.T, opts Options) *liveRun {
	t.Helper()
	c, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(%+v): %v", opts, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &liveRun{c: c, cancel: cancel, out: make(chan *Batch, 1024), done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx, r.out) }()
	t.Cleanup(func() { cancel(); c.Close() })
	// The first batch says the loop runs.
	select {
	case b := <-r.out:
		r.out <- b
	case err := <-r.done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no batch from the live capture after 10s")
	}
	return r
}

// stop cancels the run and sums everything it sent.
func (r *liveRun) stop(t *testing.T) *runResult {
	t.Helper()
	r.cancel()
	res := collect(r.out, r.done)
	if err := r.c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	return res
}

// TestLiveVethMatchesProcNetDev: a 50 MB TCP transfer at 200 Mbit/s and a
// UDP sender over a veth pair: the captured bytes are within 1% of the
// kernel's counters for the veth, no packet is dropped, and flows are
// oriented by the host's addresses.
func TestLiveVethMatchesProcNetDev(t *testing.T) {
	l := newLab(t)
	needTool(t, "iperf3")
	l.start("iperf3", "-s", "-B", l.peerIP, "-p", "5201")
	l.waitListen(5201)

	r := startLive(t, Options{Interface: l.host, Interval: 200 * time.Millisecond})
	before := devBytes(t, l.host)
	sh(t, "timeout", "60", "iperf3", "-c", l.peerIP, "-p", "5201", "-n", "50M", "-b", "200M")
	sh(t, "timeout", "60", "iperf3", "-c", l.peerIP, "-p", "5201", "-u", "-b", "50M", "-n", "10M", "-l", "1400")
	time.Sleep(300 * time.Millisecond) // the last packets through the capture
	after := devBytes(t, l.host)
	res := r.stop(t)
	if res.err != nil {
		t.Fatalf("Run: %v", res.err)
	}

	var captured uint64
	var tcpTx, udpTx uint64
	host := netip.MustParseAddr(l.hostIP)
	for k, f := range res.flows {
		captured += f.Bytes()
		if k.Local.Addr() != host {
			t.Errorf("flow %v: the host's address %v is not the local side", k, host)
		}
		switch k.Proto {
		case protoTCP:
			tcpTx = max(tcpTx, f.TxBytes)
		case protoUDP:
			udpTx = max(udpTx, f.TxBytes)
		}
	}
	captured += res.other.Bytes + res.over.Bytes()
	kernel := after - before
	diff := float64(captured) - float64(kernel)
	t.Logf("captured %d bytes, /proc/net/dev %d (%+.3f%%); TCP data flow tx %d, UDP tx %d; stats %+v",
		captured, kernel, 100*diff/float64(kernel), tcpTx, udpTx, res.batches[len(res.batches)-1].Stats)
	if diff < -0.01*float64(kernel) || diff > 0.01*float64(kernel) {
		t.Errorf("captured %d bytes, the kernel counted %d: more than 1%% apart", captured, kernel)
	}
	if tcpTx < 50<<20 {
		t.Errorf("the TCP transfer's flow sent %d bytes, want at least 50 MiB", tcpTx)
	}
	if udpTx < 10<<20 {
		t.Errorf("the UDP flow sent %d bytes, want at least 10 MiB", udpTx)
	}
	st := res.batches[len(res.batches)-1].Stats
	if st.Dropped != 0 {
		t.Errorf("the kernel dropped %d packets", st.Dropped)
	}
	if st.Received == 0 {
		t.Errorf("Stats.Received = 0")
	}
}

// TestLiveLoopbackOnce: on lo, and on "any", each packet is counted once
// although pcap sees it going out and coming in.
func TestLiveLoopbackOnce(t *testing.T) {
	needRoot(t)
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() { _, _ = io.Copy(io.Discard, readerOf(conn)) }()
	port := conn.LocalAddr().(*net.UDPAddr).Port
	lo := startLive(t, Options{Interface: "lo", Interval: 200 * time.Millisecond, BaseFilter: fmt.Sprintf("udp port %d", port)})
	anyc := startLive(t, Options{Interface: "any", Interval: 200 * time.Millisecond, BaseFilter: fmt.Sprintf("udp port %d", port)})
	snd, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	const n = 25
	for i := 0; i < n; i++ {
		if _, err := snd.Write(make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(400 * time.Millisecond)
	for name, r := range map[string]*liveRun{"lo": lo, "any": anyc} {
		res := r.stop(t)
		var pk, by uint64
		for k, f := range res.flows {
			if k.Local.Port() == uint16(port) || k.Remote.Port() == uint16(port) {
				pk += f.Packets()
				by += f.Bytes()
			}
		}
		// Each is 100 bytes of payload + 8 UDP + 20 IPv4 + the link header
		// as libpcap reports it (and tcpdump and tshark count it): 14 for
		// Ethernet on lo, 16 for the cooked header of "any".
		if pk != n {
			t.Errorf("%s: %d packets for %d sent (%d bytes)", name, pk, n, by)
		}
		t.Logf("%s: %d packets, %d bytes", name, pk, by)
	}
}

func readerOf(c *net.UDPConn) io.Reader {
	return readerFunc(func(p []byte) (int, error) { n, _, err := c.ReadFromUDP(p); return n, err })
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestLiveCloseIdle: on an interface where nothing happens, batches still
// come once per interval, and Close makes Run return promptly.
func TestLiveCloseIdle(t *testing.T) {
	l := newLab(t)
	c, err := Open(Options{Interface: l.host, Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *Batch, 16)
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background(), out) }()
	for i := 0; i < 3; i++ {
		select {
		case <-out:
		case <-time.After(10 * time.Second):
			t.Fatal("no batch from an idle interface")
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	// A hang detector, not a timing measurement: Close waits at most one
	// read timeout (100 ms).
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs on an idle interface")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run does not return after Close")
	}
}

// TestLiveWriteFullPackets: writing started on a live capture (snaplen 256)
// gets full packets: the loop reopens the handle with snaplen 262144, and
// back to 256 when writing stops.
func TestLiveWriteFullPackets(t *testing.T) {
	l := newLab(t)
	needTool(t, "iperf3")
	needTool(t, "tcpdump")
	l.start("iperf3", "-s", "-B", l.peerIP, "-p", "5202")
	l.waitListen(5202)
	r := startLive(t, Options{Interface: l.host, Interval: 100 * time.Millisecond})
	out := t.TempDir() + "/live.pcap"
	if err := r.c.StartWriting(out); err != nil {
		t.Fatal(err)
	}
	// Wait for the loop to take the writer (and reopen the handle).
	waitFor(t, func() bool { r.c.hmu.Lock(); defer r.c.hmu.Unlock(); return r.c.h.snapLen() == LiveWriteSnaplen })
	sh(t, "timeout", "60", "iperf3", "-c", l.peerIP, "-p", "5202", "-n", "5M", "-b", "100M")
	time.Sleep(300 * time.Millisecond)
	_, written := r.c.Writing()
	if err := r.c.StopWriting(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { r.c.hmu.Lock(); defer r.c.hmu.Unlock(); return r.c.h.snapLen() == DefaultSnaplen })
	res := r.stop(t)
	for _, b := range res.batches {
		if b.Err != nil {
			t.Errorf("batch error: %v", b.Err)
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var n, big, cut uint64
	for {
		data, ci, err := rd.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if ci.Length > DefaultSnaplen {
			big++
		}
		if len(data) != ci.Length {
			cut++
		}
	}
	if got := tcpdumpCount(t, out, ""); got != n || n < written || n == 0 {
		t.Errorf("tcpdump reads %d packets, pcapgo %d, Writing() said %d before stopping", got, n, written)
	}
	if cut != 0 || big == 0 {
		t.Errorf("%d of %d packets cut, %d longer than 256 bytes: want full packets", cut, n, big)
	}
	t.Logf("%d packets written, %d longer than 256 bytes, all complete", n, big)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("condition not met after 5s")
}

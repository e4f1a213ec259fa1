package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lab is a network namespace joined to the test's namespace by a veth pair, with addresses
// from the benchmarking range 198.18.0.0/15. IPv6 is off and neighbours are static, so the
// link carries only the test's own traffic.
type lab struct {
	ns           string // namespace name
	hostIf, nsIf string // veth ends: in the test's namespace, in ns
	hostIP, nsIP string
	subnet       int // third octet of 198.18.N.0/24
}

func newLab(t *testing.T, subnet int) *lab {
	t.Helper()
	requireRoot(t)
	requireTool(t, "ip")
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	l := &lab{ns: "wt-" + id, hostIf: "wt" + id + "h", nsIf: "wt" + id + "n", subnet: subnet,
		hostIP: fmt.Sprintf("198.18.%d.1", subnet), nsIP: fmt.Sprintf("198.18.%d.2", subnet)}
	unlock := lockSubnet(t, subnet)
	home, _ := os.Readlink("/proc/self/ns/net")
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", l.hostIf).Run()
		_ = exec.Command("ip", "netns", "del", l.ns).Run()
		unlock()
		// /proc/self/net is the main thread's namespace: a test that moved a thread into
		// the lab and let it go back to the pool (or ended it on the main thread, which Go
		// parks instead) changes what every later test reads in /proc/net.
		if now, _ := os.Readlink("/proc/self/ns/net"); now != home {
			t.Errorf("this test left the test process in network namespace %s (it was in %s)", now, home)
		}
	})
	must(t, "ip", "netns", "add", l.ns)
	must(t, "ip", "link", "add", l.hostIf, "type", "veth", "peer", "name", l.nsIf)
	must(t, "ip", "link", "set", l.nsIf, "netns", l.ns)
	// no IPv6 (no router solicitations, DAD or MLD on the link)
	must(t, "sysctl", "-qw", "net.ipv6.conf."+l.hostIf+".disable_ipv6=1")
	l.exec(t, "sysctl", "-qw", "net.ipv6.conf."+l.nsIf+".disable_ipv6=1")
	l.exec(t, "sysctl", "-qw", "net.ipv6.conf.lo.disable_ipv6=1")
	must(t, "ip", "addr", "add", l.hostIP+"/24", "dev", l.hostIf)
	l.exec(t, "ip", "addr", "add", l.nsIP+"/24", "dev", l.nsIf)
	must(t, "ip", "link", "set", l.hostIf, "up")
	l.exec(t, "ip", "link", "set", l.nsIf, "up")
	l.exec(t, "ip", "link", "set", "lo", "up")
	// static neighbours: no ARP on the link during a measurement
	hostMAC := mac(t, must(t, "cat", "/sys/class/net/"+l.hostIf+"/address"))
	nsMAC := mac(t, l.exec(t, "cat", "/sys/class/net/"+l.nsIf+"/address"))
	must(t, "ip", "neigh", "replace", l.nsIP, "lladdr", nsMAC, "dev", l.hostIf, "nud", "permanent")
	l.exec(t, "ip", "neigh", "replace", l.hostIP, "lladdr", hostMAC, "dev", l.nsIf, "nud", "permanent")
	return l
}

// lockSubnet holds an exclusive lock on the subnet for the machine until the lab is gone: two
// runs of the suite at once (a clean-clone run beside a development run) would otherwise put
// the same /24 on two veths, and each run's traffic would take the other's route. The second
// run waits for the first's lab instead. That makes a development run beside another safe for
// the labs, not the suite: what the host-wide detectors see still includes the other run
// (TestLabQuietBulk's new_listener failed on the other run's listeners when a clean-clone CI
// run and a `make test` loop ran at once), so `.ci/run` and scripts/test-loop.sh run alone.
func lockSubnet(t *testing.T, subnet int) (unlock func()) {
	t.Helper()
	dir := "/run/wiretop-lab"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("lab lock: %v", err)
	}
	f, err := os.OpenFile(fmt.Sprintf("%s/198.18.%d.lock", dir, subnet), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("lab lock: %v", err)
	}
	t0 := time.Now()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("lab lock of 198.18.%d.0/24: %v", subnet, err)
	}
	if d := time.Since(t0); d > time.Second {
		t.Logf("waited %v for another run's lab on 198.18.%d.0/24", d.Round(time.Second), subnet)
	}
	return func() { f.Close() }
}

func mac(t *testing.T, s string) string {
	t.Helper()
	s = strings.TrimSpace(s)
	if _, err := net.ParseMAC(s); err != nil {
		t.Fatalf("bad MAC %q", s)
	}
	return s
}

// exec runs a command inside the namespace and returns its output.
func (l *lab) exec(t *testing.T, args ...string) string {
	t.Helper()
	return must(t, "ip", append([]string{"netns", "exec", l.ns}, args...)...)
}

// cmd returns a command that runs inside the namespace.
func (l *lab) cmd(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", l.ns}, args...)...)
}

// prefix is the argv prefix that runs a program inside the namespace.
func (l *lab) prefix() []string { return []string{"ip", "netns", "exec", l.ns} }

// devCounters reads an interface's rx/tx bytes from /proc/net/dev (of the caller's namespace).
func devCounters(t *testing.T, iface string) (rx, tx uint64) {
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
		fs := strings.Fields(rest)
		rx, _ = strconv.ParseUint(fs[0], 10, 64)
		tx, _ = strconv.ParseUint(fs[8], 10, 64)
		return rx, tx
	}
	t.Fatalf("interface %s not in /proc/net/dev", iface)
	return 0, 0
}

// waitListening polls ss in the namespace until port listens.
func (l *lab) waitListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := l.cmd("ss", "-Htln", fmt.Sprintf("sport = :%d", port)).Output()
		if strings.Contains(string(out), "LISTEN") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d in %s", port, l.ns)
}

// serve runs a server in the lab's namespace until the test ends and waits for it to
// listen on port.
func (l *lab) serve(t *testing.T, port int, args ...string) {
	t.Helper()
	srv := l.cmd(args...)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	l.waitListening(t, port)
}

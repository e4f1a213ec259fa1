package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Lab tests of the port_scan rule with nmap's connect (-sT), SYN (-sS) and UDP (-sU) scans,
// inbound (the scanned host is the monitored one) and outbound (a process of the monitored
// host scans): each fires within 5 s of the scan's start with the scanner and the target in
// its key and evidence, and resolves once after the scan (a 3 s window instead of 60 s).
// Outbound, the evidence names the scanning process when its sockets outlive a socket table:
// nmap -sT against filtered ports, a bash script holding UDP sockets; not nmap's raw sockets
// (-sS, -sU), nor -sT's sockets to closed ports on a link with a round trip of microseconds.
// The quiet twins are ordinary UDP (DNS-like queries, an iperf3 stream, a few unreachable
// ports) and many completed connections to 25 open ports. Lab subnets 147-150.
//
// UDP scans: a closed UDP port answers ICMP port unreachable, which the kernel rate-limits
// per destination (net.ipv4.icmp_ratelimit, 1000 ms: a burst of 6, then one a second), so
// with the defaults a single scanner gets at most about 11 unreachables in 5 s, below the
// firing level of 20 ports whatever nmap's rate. The UDP victims are therefore the test's
// own namespaces, with icmp_ratelimit = 0 set inside them only (the namespace and its
// setting go when the test ends); the root namespace's sysctls are never changed.

// scanlabRules is a --rules file with a 3 s port_scan window (the default, 60 s, would keep
// an alert firing a minute after the scan), plus extra lines for [port_scan].
func scanlabRules(t *testing.T, extra string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.toml")
	doc := "[port_scan]\nwindow = \"3s\"\n" + extra
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// scanlabStart runs wiretop headless on iface (under prefix: nil for the test's namespace,
// l.prefix() for a lab's) with the rules file, and waits for its first interval.
func scanlabStart(t *testing.T, prefix []string, iface, rules string) *wtRun {
	t.Helper()
	w := startWiretop(t, prefix, "--headless", "-i", iface, "--interval", "500ms", "--db", "", "--top", "0",
		"--rules", rules)
	w.waitFirst(t, 10*time.Second)
	return w
}

// scanlabFired waits for the firing port_scan alert key until 5 s after start, and checks
// its evidence names the direction, the source and the target.
func scanlabFired(t *testing.T, w *wtRun, start time.Time, dir, src, dst string) (record, map[string]any) {
	t.Helper()
	key := "port_scan/" + dir + "/" + src + "->" + dst
	a := w.waitAlert(t, "port_scan", "firing", key, 5*time.Second-time.Since(start))
	ev, _ := a["evidence"].(map[string]any)
	t.Logf("fired %v after the scan's start: %v; evidence ports=%v tcp_attempts=%v udp_attempts=%v sample=%v processes=%v",
		time.Since(start).Round(10*time.Millisecond), a["summary"], ev["ports"], ev["tcp_attempts"], ev["udp_attempts"],
		ev["sample_ports"], ev["processes"])
	if ev["direction"] != dir || ev["source"] != src || ev["target"] != dst {
		t.Errorf("evidence direction %v source %v target %v, want %s %s %s", ev["direction"], ev["source"], ev["target"], dir, src, dst)
	}
	if n, _ := ev["ports"].(float64); n < 20 {
		t.Errorf("evidence ports %v, below the firing level 20", ev["ports"])
	}
	return a, ev
}

// scanlabResolvedOnce waits until every port_scan key w has fired resolves, stops w, and
// checks that each key has exactly one firing line followed by one resolved line, with the
// resolution after the firing. It returns the keys.
func scanlabResolvedOnce(t *testing.T, w *wtRun) []string {
	t.Helper()
	var keys []string
	for _, a := range w.alertLines(t) {
		if a["rule"] == "port_scan" && a["state"] == "firing" {
			keys = append(keys, fmt.Sprint(a["key"]))
		}
	}
	for _, k := range keys {
		w.waitAlert(t, "port_scan", "resolved", k, 10*time.Second)
	}
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	recs := byType(w.wait(t, 10*time.Second), "alert")
	for _, k := range keys {
		var lines []record
		for _, a := range alertsOf(recs, "port_scan", "") {
			if a["key"] == k {
				lines = append(lines, a)
			}
		}
		if len(lines) != 2 || lines[0]["state"] != "firing" || lines[1]["state"] != "resolved" {
			var states []any
			for _, a := range lines {
				states = append(states, a["state"])
			}
			t.Errorf("alert lines for %s: %v, want firing then resolved, once each", k, states)
			continue
		}
		fired, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(lines[0]["time"]))
		resolved, err := time.Parse(time.RFC3339Nano, fmt.Sprint(lines[1]["resolved"]))
		if err != nil || !resolved.After(fired) || lines[1]["started"] != lines[0]["started"] {
			t.Errorf("%s: fired %v (started %v), resolved %v (started %v): want the same start and resolved after firing",
				k, lines[0]["time"], lines[0]["started"], lines[1]["resolved"], lines[1]["started"])
		}
		t.Logf("%s: firing at %v, resolved at %v", k, lines[0]["time"], lines[1]["resolved"])
	}
	return keys
}

// scanlabInNS runs fn on an OS thread moved into the lab's network namespace, so that the
// sockets fn opens live there (a socket keeps its namespace whichever thread uses it later).
// The thread goes back to the test's own namespace before it is unlocked. Leaving it in the
// lab's namespace and letting it end with the goroutine is not enough: if the goroutine ran
// on the main thread, which Go never ends, /proc/self/net (the thread group leader's
// namespace) would show the lab's, or after the lab is gone an empty one with only lo, to
// every test that follows.
func scanlabInNS(t *testing.T, l *lab, fn func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer home.Close()
		f, err := os.Open("/run/netns/" + l.ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", l.ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			// Still locked: the thread ends with this goroutine.
			errc <- fmt.Errorf("setns back from %s: %w", l.ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// scanlabICMP reads the lab's namespace's ICMP output counters (the Icmp lines of its
// /proc/net/snmp): OutDestUnreachs (unreachables sent; rate-limited ones are neither sent
// nor counted there), OutRateLimitGlobal and OutRateLimitHost (ICMP messages the rate
// limits suppressed: icmp_msgs_per_sec, icmp_ratelimit).
func scanlabICMP(t *testing.T, l *lab) (unreach, limitedGlobal, limitedHost int) {
	t.Helper()
	var names []string
	for _, ln := range strings.Split(l.exec(t, "cat", "/proc/net/snmp"), "\n") {
		f := strings.Fields(ln)
		if len(f) == 0 || f[0] != "Icmp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		unreach = -1
		for i, n := range names {
			if i >= len(f) {
				break
			}
			v, _ := strconv.Atoi(f[i])
			switch n {
			case "OutDestUnreachs":
				unreach = v
			case "OutRateLimitGlobal":
				limitedGlobal = v
			case "OutRateLimitHost":
				limitedHost = v
			}
		}
		if unreach >= 0 {
			return unreach, limitedGlobal, limitedHost
		}
	}
	t.Fatalf("no Icmp OutDestUnreachs in %s's /proc/net/snmp", l.ns)
	return 0, 0, 0
}

// scanlabNoRateLimit turns the ICMP rate limit per destination off in the lab's namespace
// (only there: see the comment at the top) and logs the settings that apply.
func scanlabNoRateLimit(t *testing.T, l *lab) {
	t.Helper()
	l.exec(t, "sysctl", "-qw", "net.ipv4.icmp_ratelimit=0")
	keys := []string{"net.ipv4.icmp_ratelimit", "net.ipv4.icmp_msgs_per_sec", "net.ipv4.icmp_msgs_burst"}
	t.Logf("sysctls in %s: %s; in the test's namespace (unchanged): %s", l.ns,
		strings.Join(strings.Fields(l.exec(t, append([]string{"sysctl"}, keys...)...)), " "),
		strings.Join(strings.Fields(must(t, "sysctl", keys...)), " "))
}

var scanlabOpenPort = regexp.MustCompile(`(?m)^(\d+)/tcp\s+open\s`)

// scanlabInboundTCP: nmap scans ports 1-200 of the host side from the lab's namespace with
// scan type typ (-sS or -sT); five of the ports are open (accepted and closed), the rest
// answer RST. port_scan fires naming the scanner and the target, counts no open port, and
// resolves once after the scan.
func scanlabInboundTCP(t *testing.T, subnet int, typ string) {
	l := newLab(t, subnet)
	requireTool(t, "nmap")
	open := map[int]bool{}
	for p := 1; p <= 5; p++ {
		acceptAndClose(t, fmt.Sprintf("%s:%d", l.hostIP, p))
		open[p] = true
	}
	w := scanlabStart(t, nil, l.hostIf, scanlabRules(t, ""))
	start := time.Now()
	out := nsRun(t, l, 25*time.Second, "nmap", typ, "-Pn", "-n", "-p", "1-200", "--max-retries", "0", l.hostIP)
	t.Logf("nmap %s took %v: %s", typ, time.Since(start).Round(time.Millisecond), lastLine([]byte(out)))
	nmapOpen := map[int]bool{}
	for _, m := range scanlabOpenPort.FindAllStringSubmatch(out, -1) {
		p, _ := strconv.Atoi(m[1])
		nmapOpen[p] = true
	}
	for p := range open {
		if !nmapOpen[p] {
			t.Errorf("nmap did not find port %d open:\n%s", p, out)
		}
	}
	_, ev := scanlabFired(t, w, start, "in", l.nsIP, l.hostIP)
	if n, _ := ev["ports"].(float64); int(n) > 200-len(nmapOpen) {
		t.Errorf("evidence ports %v, but only %d of the 200 ports were closed (nmap found %d open): open ports counted",
			n, 200-len(nmapOpen), len(nmapOpen))
	}
	samples, _ := ev["sample_ports"].([]any)
	for _, p := range samples {
		if f, _ := p.(float64); nmapOpen[int(f)] {
			t.Errorf("open port %v among the sample of failed ports %v", p, samples)
		}
	}
	if ev["udp_attempts"] != 0.0 {
		t.Errorf("udp_attempts %v in a TCP scan", ev["udp_attempts"])
	}
	if keys := scanlabResolvedOnce(t, w); len(keys) != 1 {
		t.Errorf("port_scan keys %v, want only the scanner's", keys)
	}
}

// TestLabPortScanConnect: nmap -sT (full connect scan: connect(2) per port, the open ones
// completed and then reset by nmap) from the namespace fires port_scan/in/SCANNER->TARGET
// within 5 s, and resolves once.
func TestLabPortScanConnect(t *testing.T) { scanlabInboundTCP(t, 147, "-sT") }

// TestLabPortScanSYNResolves: nmap -sS (half-open SYN scan from raw sockets) from the
// namespace fires within 5 s and resolves once after the scan (TestLabPortScanFires checks
// the firing with the default window).
func TestLabPortScanSYNResolves(t *testing.T) { scanlabInboundTCP(t, 148, "-sS") }

// TestLabPortScanUDP: nmap -sU of 150 closed UDP ports of the lab's namespace, from the
// test's namespace: wiretop inside the namespace (the victim) fires port_scan/in for the
// scanner, and wiretop in the test's namespace (the scanner's host) fires port_scan/out,
// with no process (nmap sends UDP probes from a raw socket); both within 5 s, both resolve once.
func TestLabPortScanUDP(t *testing.T) {
	l := newLab(t, 149)
	requireTool(t, "nmap")
	scanlabNoRateLimit(t, l)
	rules := scanlabRules(t, "")
	victim := scanlabStart(t, l.prefix(), l.nsIf, rules)
	scanner := scanlabStart(t, nil, l.hostIf, rules)
	sent0, global0, host0 := scanlabICMP(t, l)
	start := time.Now()
	out, err := exec.Command("nmap", "-sU", "-Pn", "-n", "-p", "1-150", "--max-retries", "0", l.nsIP).CombinedOutput()
	if err != nil {
		t.Fatalf("nmap -sU: %v\n%s", err, out)
	}
	sent, global, host := scanlabICMP(t, l)
	sent -= sent0
	t.Logf("nmap -sU took %v: %s; the namespace sent %d port unreachables (suppressed by icmp_msgs_per_sec: %d, by icmp_ratelimit: %d)",
		time.Since(start).Round(time.Millisecond), lastLine(out), sent, global-global0, host-host0)
	if sent < 20 {
		t.Fatalf("the namespace sent %d ICMP unreachables, fewer than the firing level: the scan cannot be detected", sent)
	}
	_, ev := scanlabFired(t, victim, start, "in", l.hostIP, l.nsIP)
	if ev["tcp_attempts"] != 0.0 {
		t.Errorf("inbound tcp_attempts %v in a UDP scan", ev["tcp_attempts"])
	}
	_, ev = scanlabFired(t, scanner, start, "out", l.hostIP, l.nsIP)
	if procs, _ := ev["processes"].([]any); len(procs) != 0 {
		t.Logf("outbound processes %v: nmap -sU's probes were attributed", procs)
	}
	for _, w := range []*wtRun{victim, scanner} {
		if keys := scanlabResolvedOnce(t, w); len(keys) != 1 {
			t.Errorf("port_scan keys %v, want only the scan's", keys)
		}
	}
}

// TestLabPortScanOutbound: processes of the monitored host (the test's namespace) scan the
// lab's namespace; wiretop names them in port_scan/out's evidence.
func TestLabPortScanOutbound(t *testing.T) {
	// nmap -sT against a host whose answers never come back (a blackhole route in the
	// namespace: every port filtered): each connect(2) socket lives until nmap's 300 ms
	// timeout, long enough for a socket table to see it. Against closed ports on the veth
	// the RST comes back within microseconds and the socket is gone before any socket
	// table: the alert fires the same but names no process (see the notes of scanlab).
	t.Run("nmap-sT-filtered", func(t *testing.T) {
		l := newLab(t, 150)
		requireTool(t, "nmap")
		l.exec(t, "ip", "route", "add", "blackhole", l.hostIP+"/32")
		w := scanlabStart(t, nil, l.hostIf, scanlabRules(t, ""))
		start := time.Now()
		nmap := exec.Command("nmap", "-sT", "-Pn", "-n", "-p", "1-100", "--max-retries", "0", "--min-rate", "200",
			"--initial-rtt-timeout", "300ms", "--max-rtt-timeout", "300ms", l.nsIP)
		var out bytes.Buffer
		nmap.Stdout, nmap.Stderr = &out, &out
		if err := nmap.Start(); err != nil {
			t.Fatal(err)
		}
		pid := nmap.Process.Pid
		if err := nmap.Wait(); err != nil {
			t.Fatalf("nmap: %v\n%s", err, out.String())
		}
		t.Logf("nmap -sT (pid %d) took %v: %s", pid, time.Since(start).Round(time.Millisecond), lastLine(out.Bytes()))
		a, ev := scanlabFired(t, w, start, "out", l.hostIP, l.nsIP)
		scanlabNamed(t, a, ev, "nmap", pid)
		scanlabResolvedOnce(t, w)
	})
	// nmap -sS (raw sockets) and -sT against 200 closed ports, which answer RST: the alert
	// fires with the key and evidence of the pair; no process is named, as the rule's
	// documentation says for raw sockets (-sS) and for sockets already gone (-sT: the whole
	// scan takes about 30 ms, each socket lives one round trip on the veth, microseconds,
	// and the first socket table after its packets comes a capture batch, up to 100 ms, later).
	for _, typ := range []string{"-sS", "-sT"} {
		t.Run("nmap"+typ+"-closed", func(t *testing.T) {
			l := newLab(t, 150)
			requireTool(t, "nmap")
			w := scanlabStart(t, nil, l.hostIf, scanlabRules(t, ""))
			start := time.Now()
			out, err := exec.Command("nmap", typ, "-Pn", "-n", "-p", "1-200", "--max-retries", "0", l.nsIP).CombinedOutput()
			if err != nil {
				t.Fatalf("nmap %s: %v\n%s", typ, err, out)
			}
			t.Logf("nmap %s took %v: %s", typ, time.Since(start).Round(time.Millisecond), lastLine(out))
			_, ev := scanlabFired(t, w, start, "out", l.hostIP, l.nsIP)
			if ev["tcp_attempts"] == 0.0 || ev["udp_attempts"] != 0.0 {
				t.Errorf("tcp_attempts %v udp_attempts %v in a TCP scan", ev["tcp_attempts"], ev["udp_attempts"])
			}
			scanlabResolvedOnce(t, w)
		})
	}
	// bash opens a connected UDP socket to each of 30 closed ports of the namespace, sends
	// one datagram on each and holds them 3 s (a scanner with ordinary sockets, as a script
	// would be): the namespace answers each with a port unreachable.
	t.Run("bash-udp", func(t *testing.T) {
		l := newLab(t, 150)
		scanlabNoRateLimit(t, l)
		fifo := filepath.Join(t.TempDir(), "hold")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		w := scanlabStart(t, nil, l.hostIf, scanlabRules(t, ""))
		start := time.Now()
		bash := exec.Command("bash", "-c", fmt.Sprintf(
			"for p in $(seq 7001 7030); do exec {fd}>/dev/udp/%s/$p || exit 1; echo probe >&$fd; done; "+
				"exec {h}<>%s; read -t 3 -u $h; exit 0", l.nsIP, fifo))
		var out bytes.Buffer
		bash.Stdout, bash.Stderr = &out, &out
		if err := bash.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bash.Process.Kill(); _ = bash.Wait() })
		a, ev := scanlabFired(t, w, start, "out", l.hostIP, l.nsIP) // while bash holds its sockets
		scanlabNamed(t, a, ev, "bash", bash.Process.Pid)
		if err := bash.Wait(); err != nil {
			t.Fatalf("bash: %v\n%s", err, out.String())
		}
		if ev["tcp_attempts"] != 0.0 {
			t.Errorf("tcp_attempts %v in a UDP scan", ev["tcp_attempts"])
		}
		scanlabResolvedOnce(t, w)
	})
}

// scanlabNamed checks that an outbound alert's evidence and summary name the process.
func scanlabNamed(t *testing.T, a record, ev map[string]any, comm string, pid int) {
	t.Helper()
	procs, _ := ev["processes"].([]any)
	found := false
	for _, p := range procs {
		m, _ := p.(map[string]any)
		if m["comm"] == comm && m["pid"] == float64(pid) {
			found = true
		}
	}
	if !found {
		t.Errorf("evidence processes %v, want %s with pid %d", ev["processes"], comm, pid)
	}
	if s := fmt.Sprint(a["summary"]); !strings.Contains(s, fmt.Sprintf("(process %s, pid %d)", comm, pid)) {
		t.Errorf("summary %q does not name %s (pid %d)", s, comm, pid)
	}
}

// TestLabPortScanQuietUDP: ordinary UDP to the lab's namespace, whose ICMP rate limit is off
// as in TestLabPortScanUDP: 60 DNS-like queries from as many source ports, answered by a
// UDP server in the namespace; an iperf3 UDP stream at 2 Mbit/s to one port; and 3
// datagrams to each of 3 closed ports, answered by 9 port unreachables. No port_scan alert,
// on either side.
func TestLabPortScanQuietUDP(t *testing.T) {
	l := newLab(t, 147)
	requireTool(t, "iperf3")
	scanlabNoRateLimit(t, l)
	var answered atomic.Int64
	scanlabInNS(t, l, func() error {
		pc, err := net.ListenPacket("udp4", l.nsIP+":53")
		if err != nil {
			return err
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 1500)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				if _, err := pc.WriteTo(append(buf[:n:n], " answer"...), from); err == nil {
					answered.Add(1)
				}
			}
		}()
		return nil
	})
	l.serve(t, 5399, "iperf3", "-s", "-1", "-p", "5399", "-B", l.nsIP)
	rules := scanlabRules(t, "")
	victim := scanlabStart(t, l.prefix(), l.nsIf, rules)
	client := scanlabStart(t, nil, l.hostIf, rules)
	sent0, _, _ := scanlabICMP(t, l)
	var replies int
	for i := range 60 {
		c, err := net.Dial("udp4", l.nsIP+":53")
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 64)
		if _, err := fmt.Fprintf(c, "query %d", i); err == nil {
			if n, err := c.Read(buf); err == nil && strings.HasSuffix(string(buf[:n]), " answer") {
				replies++
			}
		}
		c.Close()
	}
	out, err := exec.Command("iperf3", "-c", l.nsIP, "-p", "5399", "-u", "-b", "2M", "-t", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("iperf3 -u: %v\n%s", err, out)
	}
	t.Logf("iperf3 -u: %s", senderLine(string(out)))
	if o, err := exec.Command("bash", "-c", fmt.Sprintf(
		"for r in 1 2 3; do for p in 7001 7002 7003; do echo x >/dev/udp/%s/$p; done; sleep 0.2; done", l.nsIP)).CombinedOutput(); err != nil {
		t.Fatalf("bash: %v\n%s", err, o)
	}
	sent, _, _ := scanlabICMP(t, l)
	sent -= sent0
	time.Sleep(1500 * time.Millisecond) // two more intervals close
	t.Logf("DNS-like queries answered: %d of 60 (server answered %d); port unreachables sent: %d", replies, answered.Load(), sent)
	if replies != 60 {
		t.Errorf("%d of 60 queries answered", replies)
	}
	if sent < 9 {
		t.Errorf("the namespace sent %d port unreachables, want at least the 9 of the closed ports", sent)
	}
	for name, w := range map[string]*wtRun{"namespace": victim, "test's namespace": client} {
		_ = w.cmd.Process.Signal(syscall.SIGINT)
		alerts := byType(w.wait(t, 10*time.Second), "alert")
		for _, a := range alerts {
			t.Logf("alert in the %s: rule=%v state=%v key=%v summary=%v", name, a["rule"], a["state"], a["key"], a["summary"])
		}
		if got := alertsOf(alerts, "port_scan", ""); len(got) != 0 {
			t.Errorf("%d port_scan alerts in the %s on ordinary UDP, first: %v", len(got), name, got[0])
		}
	}
}

// TestLabPortScanQuietOutbound: curl fetches from 25 HTTP servers of the lab's namespace
// (two requests each) and bash opens 100 connections over the same 25 ports: many
// connections from a local process to 25 distinct ports, above the firing level, but all
// accepted: no port_scan alert.
func TestLabPortScanQuietOutbound(t *testing.T) {
	l := newLab(t, 148)
	requireTool(t, "curl")
	var served atomic.Int64
	scanlabInNS(t, l, func() error {
		for p := 8001; p <= 8025; p++ {
			ln, err := net.Listen("tcp4", fmt.Sprintf("%s:%d", l.nsIP, p))
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				fmt.Fprintln(w, "ok")
			})}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { srv.Close() })
		}
		return nil
	})
	w := scanlabStart(t, nil, l.hostIf, scanlabRules(t, ""))
	out, err := exec.Command("bash", "-c", fmt.Sprintf(
		"for r in 1 2; do for p in $(seq 8001 8025); do curl -sS --max-time 5 http://%s:$p/ || exit 1; done; done | grep -c ok",
		l.nsIP)).CombinedOutput()
	if err != nil {
		t.Fatalf("curl loop: %v\n%s", err, out)
	}
	if o, err := exec.Command("bash", "-c", fmt.Sprintf(
		"for i in $(seq 0 99); do exec 3<>/dev/tcp/%s/$((8001 + i %% 25)) || exit 1; exec 3<&- 3>&-; done", l.nsIP)).CombinedOutput(); err != nil {
		t.Fatalf("bash connections: %v\n%s", err, o)
	}
	time.Sleep(1500 * time.Millisecond) // two more intervals close
	t.Logf("curl got %s answers; the servers answered %d requests", strings.TrimSpace(string(out)), served.Load())
	if strings.TrimSpace(string(out)) != "50" || served.Load() != 50 {
		t.Errorf("curl got %s answers, the servers served %d, want 50", strings.TrimSpace(string(out)), served.Load())
	}
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	alerts := byType(w.wait(t, 10*time.Second), "alert")
	for _, a := range alerts {
		t.Logf("alert: rule=%v state=%v key=%v summary=%v", a["rule"], a["state"], a["key"], a["summary"])
	}
	if got := alertsOf(alerts, "port_scan", ""); len(got) != 0 {
		t.Fatalf("%d port_scan alerts on completed connections, first: %v", len(got), got[0])
	}
}

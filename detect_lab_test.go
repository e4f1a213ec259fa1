package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Real-attack lab tests of the port_scan and syn_flood detectors: the attack runs from
// inside a lab namespace against the host side of its veth, where wiretop captures; each
// attack has a quiet twin, ordinary traffic of the same shape that must raise nothing.
// Lab subnets 115-119.

// detectLabRun starts wiretop headless on the lab's host interface (capture on, no
// history), runs traffic once the first interval is out, lets two more intervals close,
// stops wiretop and returns its alert lines.
func detectLabRun(t *testing.T, l *lab, traffic func()) []record {
	t.Helper()
	w := startWiretop(t, nil, "--headless", "-i", l.hostIf, "--interval", "500ms", "--db", "", "--top", "0")
	w.waitFirst(t, 10*time.Second)
	traffic()
	time.Sleep(1500 * time.Millisecond)
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	alerts := byType(w.wait(t, 10*time.Second), "alert")
	for _, a := range alerts {
		t.Logf("alert: rule=%v state=%v key=%v summary=%v", a["rule"], a["state"], a["key"], a["summary"])
	}
	return alerts
}

// nsRun runs a command in the lab's namespace, killed after timeout; it returns the
// combined output and fails the test on an error.
func nsRun(t *testing.T, l *lab, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v (after %v)\n%s", strings.Join(args, " "), err, timeout, out)
	}
	return string(out)
}

// acceptAndClose listens on addr in the test's namespace and closes every connection it
// accepts, until the test ends.
func acceptAndClose(t *testing.T, addr string) *atomic.Int64 {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	n := new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return n
}

// rootListening polls ss in the test's namespace until addr:port listens.
func rootListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := exec.Command("ss", "-Htln", fmt.Sprintf("sport = :%d", port)).Output()
		if strings.Contains(string(out), "LISTEN") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d", port)
}

func alertsOf(alerts []record, rule, state string) []record {
	var out []record
	for _, a := range alerts {
		if a["rule"] == rule && (state == "" || a["state"] == state) {
			out = append(out, a)
		}
	}
	return out
}

// TestLabPortScanFires: nmap's SYN scan of 200 ports of the lab's host side, whose closed
// ports answer RST, from inside the namespace: a port_scan alert fires naming the scanner.
func TestLabPortScanFires(t *testing.T) {
	l := newLab(t, 115)
	requireTool(t, "nmap")
	var out string
	start := time.Now()
	alerts := detectLabRun(t, l, func() {
		out = nsRun(t, l, 25*time.Second, "nmap", "-sS", "-Pn", "-n", "-p", "1-200", "--max-retries", "0", l.hostIP)
	})
	t.Logf("nmap took %v; its summary: %s", time.Since(start).Round(time.Millisecond), lastLine([]byte(out)))
	var hit record
	for _, a := range alertsOf(alerts, "port_scan", "firing") {
		ev, _ := a["evidence"].(map[string]any)
		if strings.Contains(fmt.Sprint(a["key"]), l.nsIP) || (ev != nil && ev["source"] == l.nsIP) {
			hit = a
			break
		}
	}
	if hit == nil {
		t.Fatalf("no firing port_scan alert naming the scanner %s among %d alerts", l.nsIP, len(alerts))
	}
	ev := hit["evidence"].(map[string]any)
	t.Logf("port_scan fired: key=%v ports=%v tcp_attempts=%v sample=%v", hit["key"], ev["ports"], ev["tcp_attempts"], ev["sample_ports"])
	if want := "port_scan/in/" + l.nsIP + "->" + l.hostIP; hit["key"] != want {
		t.Errorf("key %v, want %s", hit["key"], want)
	}
}

// TestLabPortScanQuietOnBulk: a 50 MB iperf3 transfer and 100 short connections to one open
// port raise no port_scan alert: only failed attempts count.
func TestLabPortScanQuietOnBulk(t *testing.T) {
	l := newLab(t, 116)
	requireTool(t, "iperf3")
	srv := exec.Command("iperf3", "-s", "-1", "-p", "5299", "-B", l.hostIP)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	rootListening(t, 5299)
	// 25 open ports, 4 connections each: if completed connections counted as attempts,
	// 25 distinct ports would be above the firing level (20)
	var accepted []*atomic.Int64
	for p := 5300; p < 5325; p++ {
		accepted = append(accepted, acceptAndClose(t, fmt.Sprintf("%s:%d", l.hostIP, p)))
	}
	alerts := detectLabRun(t, l, func() {
		out := nsRun(t, l, 20*time.Second, "iperf3", "-c", l.hostIP, "-p", "5299", "-n", "50M")
		t.Logf("iperf3 sender: %s", senderLine(out))
		nsRun(t, l, 15*time.Second, "bash", "-c", fmt.Sprintf(
			"for i in $(seq 0 99); do exec 3<>/dev/tcp/%s/$((5300 + i %% 25)) || exit 1; exec 3<&- 3>&-; done", l.hostIP))
	})
	var n int64
	for _, a := range accepted {
		n += a.Load()
	}
	t.Logf("short connections accepted: %d over %d ports", n, len(accepted))
	if n != 100 {
		t.Errorf("accepted %d short connections, want 100", n)
	}
	if got := alertsOf(alerts, "port_scan", ""); len(got) != 0 {
		t.Fatalf("%d port_scan alerts on ordinary traffic, first: %v", len(got), got[0])
	}
}

// TestLabSynFloodFires: hping3 sends 20000 SYNs (one source address, a new source port
// each) to a listening port of the host side; the namespace's kernel answers each SYN+ACK
// with a RST, so none completes: a syn_flood alert fires.
func TestLabSynFloodFires(t *testing.T) {
	l := newLab(t, 117)
	requireTool(t, "hping3")
	acceptAndClose(t, l.hostIP+":8099")
	start := time.Now()
	var out string
	alerts := detectLabRun(t, l, func() {
		out = nsRun(t, l, 30*time.Second, "hping3", "-q", "-S", "-p", "8099", "-c", "20000", "-i", "u100", l.hostIP)
	})
	t.Logf("hping3 took %v: %s", time.Since(start).Round(time.Millisecond), strings.Join(strings.Fields(out), " "))
	fired := alertsOf(alerts, "syn_flood", "firing")
	if len(fired) == 0 {
		t.Fatalf("no firing syn_flood alert among %d alerts", len(alerts))
	}
	var port record
	for _, a := range fired {
		ev, _ := a["evidence"].(map[string]any)
		t.Logf("syn_flood fired: key=%v evidence=%v", a["key"], ev)
		if a["key"] == "syn_flood/"+l.hostIP+":8099" {
			port = a
		}
	}
	if port == nil {
		t.Errorf("no syn_flood alert for the victim port %s:8099 (only host-wide ones)", l.hostIP)
	} else if ev := port["evidence"].(map[string]any); ev["top_source"] != l.nsIP {
		t.Errorf("top_source %v, want %s", ev["top_source"], l.nsIP)
	}
}

// TestLabSynFloodQuietOnConnects: 300 complete connections (connect, close) to the same
// port over about 10 s raise no syn_flood alert. They come in 3 bursts of 100, so that
// an interval holds far more SYNs than the firing level (50 in an interval, 100/s): were
// completed handshakes counted as half-open, this would fire.
func TestLabSynFloodQuietOnConnects(t *testing.T) {
	l := newLab(t, 118)
	accepted := acceptAndClose(t, l.hostIP+":8099")
	start := time.Now()
	alerts := detectLabRun(t, l, func() {
		nsRun(t, l, 25*time.Second, "bash", "-c", fmt.Sprintf(
			"for b in 1 2 3; do for i in $(seq 1 100); do exec 3<>/dev/tcp/%s/8099 || exit 1; exec 3<&- 3>&-; done; "+
				"[ $b = 3 ] || sleep 4; done", l.hostIP))
	})
	t.Logf("300 connections in %v, accepted %d", time.Since(start).Round(time.Millisecond), accepted.Load())
	if accepted.Load() != 300 {
		t.Errorf("accepted %d connections, want 300", accepted.Load())
	}
	if got := alertsOf(alerts, "syn_flood", ""); len(got) != 0 {
		t.Fatalf("%d syn_flood alerts on complete connections, first: %v", len(got), got[0])
	}
}

// senderLine is iperf3's summary line of the sender.
func senderLine(out string) string {
	for _, ln := range strings.Split(out, "\n") {
		if strings.HasSuffix(strings.TrimSpace(ln), "sender") {
			return strings.Join(strings.Fields(ln), " ")
		}
	}
	return lastLine([]byte(out))
}

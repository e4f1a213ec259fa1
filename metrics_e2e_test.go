package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// scrape fetches http://addr/metrics.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("scrape: %s: %s", resp.Status, body)
	}
	return string(body)
}

// TestPrometheusScrapesLab runs `wiretop daemon --metrics` capturing on a lab veth, a real
// Prometheus scraping it every second, and one iperf3 transfer over the veth. What
// Prometheus answers for the interface, the iperf3 process, the remote host and the port
// must agree with what iperf3 sent (2%) and the interface with /proc/net/dev (0.5%).
func TestPrometheusScrapesLab(t *testing.T) {
	l := newLab(t, 130)
	requireTool(t, "iperf3")
	requireTool(t, "promtool")
	l.serve(t, 5201, "iperf3", "-s", "-1", "-p", "5201")

	addr := freeAddr(t)
	w := startWiretop(t, nil, "daemon", "--json", "--metrics", addr, "-i", l.hostIf, "--interval", "1s")
	w.waitFirst(t, 10*time.Second)
	prom := startPrometheus(t, addr, "")
	dev := fmt.Sprintf(`wiretop_network_transmit_bytes_total{device=%q}`, l.hostIf)
	prom.waitQuery(t, dev, 20*time.Second)

	time.Sleep(2500 * time.Millisecond) // a quiet link, seen by a scrape
	tStart := time.Now()
	_, tx0 := devCounters(t, l.hostIf)
	out, err := exec.Command("iperf3", "-c", l.nsIP, "-p", "5201", "-n", "40M", "-b", "200M", "-l", "64K", "--json").Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("iperf3: %v", err)
	}
	sent := iperfSent(t, out)
	time.Sleep(3500 * time.Millisecond) // the last interval closed and scraped
	tEnd := time.Now()
	_, tx1 := devCounters(t, l.hostIf)
	d := int(math.Ceil(tEnd.Sub(tStart).Seconds()))

	// the increase of each counter over the transfer, without rate()'s extrapolation
	inc := func(series string) float64 {
		return prom.one(t, fmt.Sprintf(`sum(%s) - (sum(%s offset %ds) or vector(0))`, series, series, d), tEnd)
	}
	near := func(what string, got, want, tol float64) {
		t.Helper()
		off := math.Abs(got-want) / want
		if off > tol {
			t.Errorf("%s: %.0f, want %.0f (%.2f%% off, limit %.1f%%)", what, got, want, off*100, tol*100)
		} else {
			t.Logf("%s: %.0f vs %.0f (%.3f%%)", what, got, want, off*100)
		}
	}
	devInc := inc(dev)
	near("interface tx increase vs /proc/net/dev", devInc, float64(tx1-tx0), 0.005)
	near("interface tx increase vs iperf3 sent", devInc, float64(sent), 0.02)
	near("iperf3 process tx increase vs iperf3 sent", inc(`wiretop_process_transmit_bytes_total{comm="iperf3"}`), float64(sent), 0.02)
	near("remote host tx increase vs iperf3 sent", inc(fmt.Sprintf(`wiretop_remote_transmit_bytes_total{remote=%q}`, l.nsIP)), float64(sent), 0.02)
	near("port 5201 tx increase vs iperf3 sent", inc(`wiretop_port_transmit_bytes_total{proto="tcp",port="5201"}`), float64(sent), 0.02)

	// rate() over the transfer: at least the increase, at most Prometheus's extrapolation of
	// it to the window (by up to one scrape interval and a tenth at each end)
	rate := prom.one(t, fmt.Sprintf(`rate(%s[%ds])`, dev, d), tEnd) * float64(d)
	if lo, hi := devInc, devInc*float64(d)/(float64(d)-2.2); rate < lo*0.999 || rate > hi {
		t.Errorf("rate(...[%ds]) * %d = %.0f, want within [%.0f, %.0f]", d, d, rate, lo, hi)
	}
	peak := prom.one(t, fmt.Sprintf(`max_over_time(rate(%s[2s])[%ds:1s])`, dev, d), tEnd)
	if peak < float64(sent)/float64(d) {
		t.Errorf("peak rate %.0f B/s is below the transfer's mean %.0f B/s", peak, float64(sent)/float64(d))
	}
	if up := prom.query(t, `wiretop_source_up == 0`, tEnd); len(up) != 0 {
		t.Errorf("sources down during the transfer: %v", up)
	}

	// promtool check metrics on a scrape of the live binary reports nothing
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape(t, addr))
	if msg, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(msg)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, msg)
	}
}

// TestMetricsSourceDown: the /proc root vanishes under a running wiretop: the sources that
// read it report wiretop_source_up 0, every other series stays in the scrape, and when the
// root comes back they are up again.
func TestMetricsSourceDown(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "proc")
	if err := os.Symlink("/proc", root); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	w := startWiretop(t, nil, "--headless", "--no-capture", "--interval", "200ms", "--proc-root", root, "--metrics", addr)
	w.waitFirst(t, 10*time.Second)
	up := func(body, source string) string {
		for _, line := range strings.Split(body, "\n") {
			if rest, ok := strings.CutPrefix(line, `wiretop_source_up{source="`+source+`"} `); ok {
				return rest
			}
		}
		return "missing"
	}
	waitFor := func(what string, ok func(body string) bool) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		var body string
		for time.Now().Before(deadline) {
			if body = scrape(t, addr); ok(body) {
				return body
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: not within 10s; last scrape:\n%s\nstderr: %s", what, body, w.stderr.String())
		return ""
	}
	waitFor("netdev up", func(b string) bool { return up(b, "netdev") == "1" && up(b, "kernel_tcp") == "1" })

	if err := os.Rename(root, root+".gone"); err != nil {
		t.Fatal(err)
	}
	body := waitFor("netdev and kernel_tcp down", func(b string) bool { return up(b, "netdev") == "0" && up(b, "kernel_tcp") == "0" })
	for _, want := range []string{`wiretop_network_transmit_bytes_total{device="lo"} `, "wiretop_tcp_sockets{", "wiretop_build_info{",
		"wiretop_netstat_tcp_active_opens_total ", `wiretop_source_up{source="sockets"} `} {
		if !strings.Contains(body, want) {
			t.Errorf("with the /proc root gone the scrape lacks %s", want)
		}
	}
	if err := os.Rename(root+".gone", root); err != nil {
		t.Fatal(err)
	}
	waitFor("netdev up again", func(b string) bool { return up(b, "netdev") == "1" && up(b, "kernel_tcp") == "1" })
}

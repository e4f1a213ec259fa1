package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The no-false-positive half of issue 7's acceptance: with every rule that can fire in a
// short run made able to, wiretop raises no alert at all during a minute of iperf3 --bidir,
// 10,000 short connections to a real server with a curl loop beside them, or the replay
// of a test capture that holds no attack. Each test fails on any alert line, of any rule,
// and carries a positive control (a second run, or a rule set a user could choose, that
// must fire on the same traffic), so that "quiet" cannot mean "saw nothing".
// Lab subnets 151-154.
//
// QUIETLAB_RULES_EXTRA, when set, is appended to the rules file of the quiet runs: it is
// how a detector made too eager (a lowered level) is shown to make these tests fail.

// quietlabLearn is the learning period of new_listener and exfiltration in the quiet runs
// (the defaults, 5 minutes, would leave them unable to fire in a one-minute test).
const quietlabLearn = 5 * time.Second

// quietlabRules writes a rules file: no warm-up (conn_surge, errors_drops, new_listener and
// exfiltration judge from the first interval), a 5 s learning period for the two rules that
// learn, every other setting at its default (threshold stays off: its limit is the
// operator's), then extra.
func quietlabRules(t *testing.T, extra string) string {
	t.Helper()
	learn := quietlabLearn.String()
	doc := "warm_up = \"0s\"\n" +
		"[new_listener]\nlearn = \"" + learn + "\"\n" +
		"[exfiltration]\nlearn = \"" + learn + "\"\n" + extra
	p := filepath.Join(t.TempDir(), "rules.toml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// quietlabExtra is QUIETLAB_RULES_EXTRA, with \n written as two characters allowed.
func quietlabExtra(t *testing.T) string {
	extra := strings.ReplaceAll(os.Getenv("QUIETLAB_RULES_EXTRA"), `\n`, "\n")
	if extra != "" {
		t.Logf("QUIETLAB_RULES_EXTRA appended to the rules:\n%s", extra)
	}
	return "\n" + extra + "\n"
}

// quietlabNoConfig is a config file that does not exist: the runs see the defaults, not
// whatever ~/.config/wiretop/config.toml says.
func quietlabNoConfig(t *testing.T) string {
	return filepath.Join(t.TempDir(), "no-config.toml")
}

// quietlabStart runs wiretop headless on the lab's host side, capture on, no history, with
// the rules file, and waits for its first line. Start servers before it: what listens during
// the learning period is known.
func quietlabStart(t *testing.T, l *lab, rules string, more ...string) *wtRun {
	t.Helper()
	args := append([]string{"--headless", "-i", l.hostIf, "--interval", "1s", "--db", "", "--top", "0",
		"--config", quietlabNoConfig(t), "--rules", rules}, more...)
	w := startWiretop(t, nil, args...)
	w.waitFirst(t, 10*time.Second)
	return w
}

// quietlabStop stops a run with SIGINT and returns its records, each alert line logged.
func quietlabStop(t *testing.T, w *wtRun, name string) []record {
	t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	recs := w.wait(t, 20*time.Second)
	for _, a := range byType(recs, "alert") {
		b, _ := json.Marshal(a)
		t.Logf("%s: alert: %s", name, b)
	}
	return recs
}

// quietlabNoAlerts fails the test on any alert line, except those about another package's
// test binary: `go test ./...` runs the packages' binaries side by side, and the rules that
// read the root namespace's socket table (new_listener, reverse_shell) see their listeners
// too (monitor.test listening on an ephemeral port raised new_listener in one CI run). Those
// are logged, not counted; an alert about this binary, its helpers or any other program counts.
func quietlabNoAlerts(t *testing.T, recs []record, what string) {
	t.Helper()
	var keys []string
	for _, a := range byType(recs, "alert") {
		if otherTestBinary(a) {
			t.Logf("%s: about another package's test binary, not counted: %v %v", what, a["state"], a["key"])
			continue
		}
		keys = append(keys, fmt.Sprintf("%v %v", a["state"], a["key"]))
	}
	if len(keys) > 0 {
		t.Errorf("%s: %d alert lines, want none: %s", what, len(keys), strings.Join(keys, "; "))
	}
}

// otherTestBinary: the alert's evidence names a process whose comm is a Go test binary's
// (NAME.test) other than this one.
func otherTestBinary(a record) bool {
	ev, _ := a["evidence"].(map[string]any)
	comm, _ := ev["comm"].(string)
	self := filepath.Base(os.Args[0])
	if len(self) > 15 { // TASK_COMM_LEN - 1
		self = self[:15]
	}
	return strings.HasSuffix(comm, ".test") && comm != self
}

// quietlabCapture logs the summary's capture statistics and the lab interface's bytes, and
// returns those bytes (rx + tx).
func quietlabCapture(t *testing.T, recs []record, l *lab) uint64 {
	t.Helper()
	s := summaryOf(t, recs)
	c, _ := s["capture"].(map[string]any)
	var bytes uint64
	for _, f := range list(t, s, "interfaces") {
		if f["name"] == l.hostIf {
			bytes = num(t, f, "rx_bytes") + num(t, f, "tx_bytes")
		}
	}
	t.Logf("wiretop: %s carried %d bytes; capture received %v packets, dropped %v, if_dropped %v",
		l.hostIf, bytes, c["received"], c["dropped"], c["if_dropped"])
	// where the capture lost packets, interval by interval (the counts are since the start)
	var prev, prevRecv float64
	var lost []string
	for i, smp := range byType(recs, "sample") {
		sc, _ := smp["capture"].(map[string]any)
		d, _ := sc["dropped"].(float64)
		r, _ := sc["received"].(float64)
		if d > prev {
			lost = append(lost, fmt.Sprintf("#%d: %.0f of %.0f", i+1, d-prev, d-prev+r-prevRecv))
		}
		prev, prevRecv = d, r
	}
	if len(lost) > 0 {
		t.Logf("capture drops by interval: %s", strings.Join(lost, ", "))
	}
	return bytes
}

// quietlabLearnt sleeps until the learning period of a run whose first line just came is
// over (it began at the first interval), with an interval to spare.
func quietlabLearnt() { time.Sleep(quietlabLearn + time.Second) }

// TestLabQuietBulk: iperf3 --bidir for 60 s between the namespace and the host side, at
// whatever the veth does: no alert line of any rule. The control, a second run without
// capture whose rules differ only by `[threshold] enabled = true` (its default limit,
// 1 Gbit/s), fires on the same minute.
func TestLabQuietBulk(t *testing.T) {
	l := newLab(t, 151)
	requireTool(t, "iperf3")
	srv := exec.Command("iperf3", "-s", "-1", "-B", l.hostIP, "-p", "5251")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	rootListening(t, 5251)

	// -B 32768: with the default 8 MiB kernel buffer the capture loses 1.5-2% of the packets
	// every second of this minute on a 2-core machine, whose cores the two iperf3 processes
	// and the veth's softirqs keep busy (tcpdump -s 256 -B 8192 loses none there; 32 MiB
	// loses none either), and errors_drops rightly fires on those real losses. The README's
	// remedy for kernel drops is this flag; see the notes of the quietlab task.
	w := quietlabStart(t, l, quietlabRules(t, quietlabExtra(t)), "-B", "32768")
	ctl := quietlabStart(t, l, quietlabRules(t, "[threshold]\nenabled = true\n"), "--no-capture")
	quietlabLearnt()

	start := time.Now()
	out := nsRun(t, l, 90*time.Second, "iperf3", "-c", l.hostIP, "-p", "5251", "--bidir", "-t", "60", "--json")
	took := time.Since(start)
	type sum struct {
		Bytes       float64 `json:"bytes"`
		BitsPerSec  float64 `json:"bits_per_second"`
		Retransmits float64 `json:"retransmits"`
	}
	var rep struct {
		End struct {
			Up   sum `json:"sum_sent"`
			Down sum `json:"sum_sent_bidir_reverse"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Error != "" {
		t.Fatalf("iperf3: %v %s\n%s", err, rep.Error, lastLine([]byte(out)))
	}
	up, down := rep.End.Up, rep.End.Down
	t.Logf("iperf3 --bidir took %v: namespace->host %.2f GB (%.2f Gbit/s, %v retransmits), host->namespace %.2f GB (%.2f Gbit/s, %v retransmits)",
		took.Round(time.Millisecond), up.Bytes/1e9, up.BitsPerSec/1e9, up.Retransmits,
		down.Bytes/1e9, down.BitsPerSec/1e9, down.Retransmits)
	time.Sleep(2 * time.Second) // two more intervals close

	recs := quietlabStop(t, w, "quiet")
	ctlRecs := quietlabStop(t, ctl, "control")
	// the quiet result means something only if the traffic flowed and wiretop saw it
	const atLeast = 1 << 30 // 1 GiB each way in a minute is 143 Mbit/s: any machine's veth does more
	if up.Bytes < atLeast || down.Bytes < atLeast {
		t.Errorf("iperf3 moved %.0f and %.0f bytes, want at least %d each way: the bulk did not run", up.Bytes, down.Bytes, atLeast)
	}
	if seen := quietlabCapture(t, recs, l); float64(seen) < up.Bytes+down.Bytes {
		t.Errorf("wiretop counted %d bytes on %s, iperf3 moved %.0f", seen, l.hostIf, up.Bytes+down.Bytes)
	}
	quietlabNoAlerts(t, recs, "iperf3 --bidir")
	fired := false
	for _, a := range alertsOf(byType(ctlRecs, "alert"), "threshold", "firing") {
		fired = fired || strings.HasPrefix(fmt.Sprint(a["key"]), "threshold/"+l.hostIf+"/")
	}
	if !fired {
		t.Errorf("control: no threshold alert for %s with the threshold rule on: the runs would be quiet whatever the traffic", l.hostIf)
	}
}

// quietlabCountingListener counts the connections it accepts.
type quietlabCountingListener struct {
	net.Listener
	n atomic.Int64
}

func (c *quietlabCountingListener) Accept() (net.Conn, error) {
	conn, err := c.Listener.Accept()
	if err == nil {
		c.n.Add(1)
	}
	return conn, err
}

// quietlabHTTP serves a small body to every request on addr in the test's namespace, one
// request per connection, until the test ends, and counts the connections it accepts.
func quietlabHTTP(t *testing.T, addr string) *quietlabCountingListener {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	cl := &quietlabCountingListener{Listener: ln}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	}), ReadHeaderTimeout: 5 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	go func() { _ = srv.Serve(cl) }()
	t.Cleanup(func() { srv.Close() })
	return cl
}

// TestLabQuietChurn: from the namespace, 10,000 TCP connections to a Go HTTP server on the
// host side over about a minute (170 a second, one GET each, then closed), and beside them
// 200 curl processes, one after the other, each fetching 100 KB from a server in the
// namespace: no alert line of any rule. The control, a second run whose rules differ only
// by brute_force watching the HTTP port, fires on the same connections: they are seen.
func TestLabQuietChurn(t *testing.T) {
	l := newLab(t, 152)
	requireTool(t, "curl")
	const (
		port, filePort = 8152, 8153
		conns, rate    = 10000, 170
		curls, size    = 200, 100 << 10
	)
	srv := quietlabHTTP(t, fmt.Sprintf("%s:%d", l.hostIP, port))
	rootListening(t, port)
	l.serve(t, filePort, "env", "WIRETOP_TEST_HELPER=http", "WIRETOP_TEST_ADDR="+fmt.Sprintf("%s:%d", l.nsIP, filePort),
		"WIRETOP_TEST_SIZE="+strconv.Itoa(size), os.Args[0])

	w := quietlabStart(t, l, quietlabRules(t, quietlabExtra(t)))
	ctl := quietlabStart(t, l, quietlabRules(t, fmt.Sprintf("[brute_force]\nports = [%d]\n", port)))
	quietlabLearnt()

	// the curl loop, beside the churn
	var curlErrs []string
	var curlWG sync.WaitGroup
	curlWG.Add(1)
	go func() {
		defer curlWG.Done()
		url := fmt.Sprintf("http://%s:%d/file", l.nsIP, filePort)
		for i := 0; i < curls; i++ {
			out, err := exec.Command("curl", "-s", "-o", "/dev/null", "--max-time", "10", "-w", "%{http_code} %{size_download}", url).Output()
			if want := fmt.Sprintf("200 %d", size); err != nil || string(out) != want {
				curlErrs = append(curlErrs, fmt.Sprintf("curl %d: %v %q, want %q", i, err, out, want))
			}
		}
	}()

	start := time.Now()
	client := l.cmd(os.Args[0])
	client.Env = append(os.Environ(), "WIRETOP_QUIETLAB_ROLE=churn",
		fmt.Sprintf("WIRETOP_QUIETLAB_ADDR=%s:%d", l.hostIP, port),
		fmt.Sprintf("WIRETOP_QUIETLAB_N=%d", conns), fmt.Sprintf("WIRETOP_QUIETLAB_RATE=%d", rate))
	out, err := client.CombinedOutput()
	t.Logf("churn client (%v): %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(out)))
	if err != nil {
		t.Errorf("churn client: %v", err)
	}
	curlWG.Wait()
	t.Logf("%d curl runs of %d bytes done %v after the churn began, %d failed", curls, size,
		time.Since(start).Round(time.Millisecond), len(curlErrs))
	for _, e := range curlErrs {
		t.Error(e)
	}
	time.Sleep(2 * time.Second)

	recs := quietlabStop(t, w, "quiet")
	ctlRecs := quietlabStop(t, ctl, "control")
	if n := srv.n.Load(); n < conns-conns/1000 {
		t.Errorf("the server accepted %d connections, want %d (at least %d)", n, conns, conns-conns/1000)
	}
	quietlabCapture(t, recs, l)
	quietlabNoAlerts(t, recs, "connection churn and curl loop")
	key := fmt.Sprintf("brute_force/%s->%s:%d", l.nsIP, l.hostIP, port)
	if len(alertsOf(byType(ctlRecs, "alert"), "brute_force", "firing")) == 0 {
		t.Errorf("control: no brute_force alert %s with the HTTP port watched: the churn was not seen", key)
	}
}

func init() {
	// a helper role of the test binary, run in a lab namespace (before TestMain)
	if os.Getenv("WIRETOP_QUIETLAB_ROLE") == "churn" {
		os.Exit(quietlabChurn(os.Getenv("WIRETOP_QUIETLAB_ADDR"), os.Getenv("WIRETOP_QUIETLAB_N"), os.Getenv("WIRETOP_QUIETLAB_RATE")))
	}
}

// quietlabChurn opens n TCP connections to the HTTP server at addr, rate a second, each
// sending one GET and reading the whole answer until the server closes, then closing. It
// prints how many succeeded and exits 1 if more than one in a thousand failed: the server
// closes first, so its side holds each connection in TIME-WAIT for a minute, and a new
// connection that the kernel gives a port still in TIME-WAIT there can be reset (one of
// 10,000 was, in one run); that is the network's, not the detector's.
func quietlabChurn(addr, nStr, rateStr string) int {
	n, err1 := strconv.Atoi(nStr)
	rate, err2 := strconv.Atoi(rateStr)
	if err1 != nil || err2 != nil || rate <= 0 {
		fmt.Println("churn: bad N or RATE:", nStr, rateStr)
		return 2
	}
	req := "GET /churn HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n"
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	start := time.Now()
	every := time.Second / time.Duration(rate)
	for i := 0; i < n; i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := func() error {
				c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
				if err != nil {
					return err
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, req); err != nil {
					return err
				}
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					return err
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil || resp.StatusCode != 200 || string(body) != "ok\n" {
					return fmt.Errorf("status %d body %q err %v", resp.StatusCode, body, err)
				}
				return nil
			}()
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			ok.Add(1)
		}()
	}
	wg.Wait()
	fmt.Printf("%d connections ok, %d failed, in %v (first error: %v)\n", ok.Load(), failed.Load(),
		time.Since(start).Round(time.Millisecond), firstErr.Load())
	if failed.Load() > int64(n/1000) {
		return 1
	}
	return 0
}

// quietlabAttacks are the test captures that hold an attack on purpose, with the one alert
// key each must raise (checked with tshark; see the notes of TestReplayTestdataQuiet).
var quietlabAttacks = map[string]string{
	// scripts/mkdemo.sh: nmap -sS -p 1-1024 from 198.18.75.66 at the server 198.18.70.10;
	// tshark: 1106 SYNs without ACK, 1025 RSTs, 84 SYN-ACKs in the file
	"demo.pcap": "port_scan/in/198.18.75.66->198.18.70.10",
}

// TestReplayTestdataQuiet: `wiretop -r FILE --headless --speed max --db ”` raises no alert
// on the test captures that hold ordinary traffic, and on the ones that hold an attack
// raises the attack's alert and nothing else; each file is replayed with the default rules,
// and again with no warm-up and no learning period (every file is shorter than the 60 s
// warm-up, in which only the attack rules fire). The control: one capture replayed with the
// threshold rule on at a limit of 1 bit a second fires, so a replay does write alert lines
// when a rule's condition holds.
func TestReplayTestdataQuiet(t *testing.T) {
	eager := filepath.Join(t.TempDir(), "eager.toml")
	doc := "warm_up = \"0s\"\n[new_listener]\nlearn = \"0s\"\n[exfiltration]\nlearn = \"0s\"\n"
	if err := os.WriteFile(eager, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range testPcaps(t) {
		for _, rules := range []struct{ name, file string }{{"defaults", ""}, {"no-warm-up", eager}} {
			t.Run(filepath.Base(file)+"/"+rules.name, func(t *testing.T) {
				args := []string{"-r", file, "--db", "", "--top", "0", "--config", quietlabNoConfig(t)}
				if rules.file != "" {
					args = append(args, "--rules", rules.file)
				}
				recs := runReplay(t, args...)
				alerts := byType(recs, "alert")
				for _, a := range alerts {
					t.Logf("alert: %v %v %v: %v", a["rule"], a["state"], a["key"], a["summary"])
				}
				want, attack := quietlabAttacks[filepath.Base(file)]
				if !attack {
					quietlabNoAlerts(t, recs, file)
					return
				}
				fired := false
				for _, a := range alerts {
					if a["key"] != want {
						t.Errorf("alert %v %v beside the expected %s", a["state"], a["key"], want)
					}
					fired = fired || (a["key"] == want && a["state"] == "firing")
				}
				if !fired {
					t.Errorf("no firing %s: the attack in %s went unseen", want, file)
				}
			})
		}
	}
	t.Run("control", func(t *testing.T) {
		rules := filepath.Join(t.TempDir(), "rules.toml")
		doc := "warm_up = \"0s\"\n[threshold]\nenabled = true\nlimit = 1\nfor = \"0s\"\n"
		if err := os.WriteFile(rules, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		recs := runReplay(t, "-r", "testdata/pcap/mixed-vlan.pcap", "--db", "", "--top", "0",
			"--config", quietlabNoConfig(t), "--rules", rules)
		fired := alertsOf(byType(recs, "alert"), "threshold", "firing")
		if len(fired) == 0 {
			t.Fatal("no threshold alert from a replay with the threshold at 1 bit/s: replays write no alerts")
		}
		t.Logf("control: %d threshold alerts fired, first %v", len(fired), fired[0]["key"])
	})
}

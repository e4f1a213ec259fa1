package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// runHelper runs a helper role in a child process (TestMain dispatches on WIRETOP_TEST_HELPER).
func runHelper(role string, args []string) int {
	switch role {
	case "states":
		return helperStates(os.Getenv("WIRETOP_TEST_ADDR"))
	case "http":
		return helperHTTP(os.Getenv("WIRETOP_TEST_ADDR"), os.Getenv("WIRETOP_TEST_SIZE"))
	}
	if code, ok := runAttribHelper(role); ok {
		return code
	}
	fmt.Fprintln(os.Stderr, "unknown helper", role)
	return 2
}

// helperStates builds known TCP states on addr (host part of ip): a listener on 7000 with one
// established pair and two connections whose client closed (CLOSE-WAIT on the server side,
// FIN-WAIT-2 on the client side), and a second listener on 7001 that never accepts (the target
// of SYNs that never complete). It prints "ready" and holds everything until stdin closes.
func helperStates(ip string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "helper:", err); return 1 }
	ln, err := net.Listen("tcp4", ip+":7000")
	if err != nil {
		return fail(err)
	}
	ln2, err := net.Listen("tcp4", ip+":7001")
	if err != nil {
		return fail(err)
	}
	var keep []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp4", ip+":7000")
		if err != nil {
			return fail(err)
		}
		s, err := ln.Accept()
		if err != nil {
			return fail(err)
		}
		keep = append(keep, s)
		if i < 2 {
			c.Close() // the server side never closes: CLOSE-WAIT; the client: FIN-WAIT-2
		} else {
			keep = append(keep, c)
		}
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = ln2
	return 0
}

// helperHTTP serves a body of size bytes on addr (host:port) to every GET, until killed.
func helperHTTP(addr, size string) int {
	n, err := strconv.Atoi(size)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: size:", err)
		return 2
	}
	body := bytes.Repeat([]byte("w"), n)
	err = http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, "helper:", err)
	return 1
}

// ssStates counts the first column of `ss -tan` (run by prefix), as
// `ss -ant | awk '{print $1}' | sort | uniq -c` does; UNCONN is the CLOSE state.
func ssStates(t *testing.T, prefix []string) map[string]int {
	t.Helper()
	args := append(append([]string{}, prefix...), "ss", "-Htan")
	out, err := exec.Command(args[0], args[1:]...).Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	m := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			if f[0] == "UNCONN" {
				f[0] = "CLOSE"
			}
			m[f[0]]++
		}
	}
	return m
}

func nonZero(m map[string]any) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if n := int(v.(float64)); n != 0 {
			out[k] = n
		}
	}
	return out
}

func TestLabTCPStatesMatchSS(t *testing.T) {
	l := newLab(t, 40)
	requireTool(t, "hping3")
	requireTool(t, "ss")
	helper := l.cmd(os.Args[0])
	helper.Env = append(os.Environ(), "WIRETOP_TEST_HELPER=states", "WIRETOP_TEST_ADDR="+l.nsIP)
	stdin, _ := helper.StdinPipe()
	stdout, _ := helper.StdoutPipe()
	helper.Stderr = os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); _ = helper.Wait() })
	buf := make([]byte, 6)
	if _, err := io.ReadFull(stdout, buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("helper not ready: %q %v", buf, err)
	}
	// SYN-RECV: SYNs from a spoofed source that does not exist, so the SYN-ACKs go nowhere and
	// the handshakes never complete (the kernel keeps them for about a minute)
	// (hping3 exits 1 when no reply came back, which is the point here)
	out, _ := exec.Command("hping3", "-q", "-S", "-p", "7001", "-a", fmt.Sprintf("198.18.%d.77", l.subnet),
		"-c", "5", "-i", "u20000", l.nsIP).CombinedOutput()
	if !strings.Contains(string(out), "5 packets transmitted") {
		t.Fatalf("hping3 did not send its 5 SYNs:\n%s", out)
	}

	want := map[string]int{"LISTEN": 2, "ESTAB": 2, "CLOSE-WAIT": 2, "FIN-WAIT-2": 2, "SYN-RECV": 5}
	for attempt := 0; attempt < 5; attempt++ {
		before := ssStates(t, l.prefix())
		// the BPF iterator (root), and the sock_diag dump that unprivileged runs use
		var samples []record
		for _, args := range [][]string{nil, {"--no-bpf"}} {
			r := startWiretop(t, l.prefix(), append([]string{"--headless", "--no-capture", "--interval", "100ms", "--count", "1"}, args...)...)
			samples = append(samples, byType(r.wait(t, 20*time.Second), "sample")[0])
		}
		after := ssStates(t, l.prefix())
		if !cmp.Equal(before, after) {
			t.Logf("attempt %d: states moved during the sample (%v -> %v), again", attempt, before, after)
			continue
		}
		if d := cmp.Diff(want, before); d != "" {
			t.Fatalf("the lab did not build the states it meant to (-want +ss):\n%s", d)
		}
		for i, source := range []string{"bpf_iter", "sock_diag"} {
			if got := samples[i]["status"].(map[string]any)["socket_source"]; got != source {
				t.Errorf("status.socket_source %v, want %s", got, source)
			}
			got := nonZero(samples[i]["tcp_states"].(map[string]any))
			if d := cmp.Diff(before, got); d != "" {
				t.Fatalf("%s: tcp_states differ from ss -tan (-ss +wiretop):\n%s", source, d)
			}
		}
		return
	}
	t.Fatal("ss never showed the same states twice in a row")
}

// iperfSent reads the bytes an iperf3 client sent from its --json report.
func iperfSent(t *testing.T, out []byte) uint64 {
	t.Helper()
	var rep struct {
		End struct {
			SumSent struct {
				Bytes float64 `json:"bytes"`
			} `json:"sum_sent"`
		} `json:"end"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("iperf3 json: %v: %s", err, out)
	}
	if rep.Error != "" {
		t.Fatalf("iperf3: %s", rep.Error)
	}
	return uint64(rep.End.SumSent.Bytes)
}

func TestLabBandwidthPerProcess(t *testing.T) {
	// As root the sampler reads TCP sockets with the BPF iterator; --no-bpf keeps the
	// sock_diag dump that unprivileged runs use: both must count the same.
	for _, tc := range []struct {
		name, source string
		args         []string
	}{{"bpf_iter", "bpf_iter", nil}, {"sock_diag", "sock_diag", []string{"--no-bpf"}}} {
		t.Run(tc.name, func(t *testing.T) { labBandwidthPerProcess(t, tc.source, tc.args) })
	}
}

func labBandwidthPerProcess(t *testing.T, source string, args []string) {
	l := newLab(t, 41)
	requireTool(t, "iperf3")
	sizes := []string{"40M", "30M", "10M"}
	for i := range sizes {
		port := fmt.Sprint(5201 + i)
		srv := l.cmd("iperf3", "-s", "-1", "-p", port)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
		l.waitListening(t, 5201+i)
	}

	rx0, tx0 := devCounters(t, l.hostIf)
	w := startWiretop(t, nil, append([]string{"--headless", "--no-capture", "--interval", "500ms", "-i", l.hostIf, "--top", "0"}, args...)...)
	w.waitFirst(t, 10*time.Second)

	type client struct {
		pid  int
		sent uint64
		out  []byte
		err  error
	}
	clients := make([]*client, len(sizes))
	done := make(chan int, len(sizes))
	for i, size := range sizes {
		// about 80 Mbit/s each; iperf3 closes the data socket right after its last byte
		cmd := exec.Command("iperf3", "-c", l.nsIP, "-p", fmt.Sprint(5201+i), "-n", size, "-b", "80M", "-l", "64K", "--json")
		c := &client{}
		clients[i] = c
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c.pid = cmd.Process.Pid
		go func() {
			c.err = cmd.Wait()
			c.out = out.Bytes()
			done <- i
		}()
	}
	for range sizes {
		<-done
	}
	for i, c := range clients {
		if c.err != nil && len(c.out) == 0 {
			t.Fatalf("iperf3 client %d: %v", i, c.err)
		}
		c.sent = iperfSent(t, c.out)
	}
	time.Sleep(1500 * time.Millisecond) // the last acks, FINs and destroy events
	if err := w.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	recs := w.wait(t, 20*time.Second)
	rx1, tx1 := devCounters(t, l.hostIf)

	var sumRx, sumTx uint64
	for _, s := range byType(recs, "sample") {
		for _, f := range list(t, s, "interfaces") {
			if f["name"] == l.hostIf {
				sumRx += num(t, f, "rx_bytes")
				sumTx += num(t, f, "tx_bytes")
			}
		}
	}
	if sumTx != tx1-tx0 || sumRx != rx1-rx0 {
		t.Errorf("%s: samples sum to tx %d rx %d, /proc/net/dev delta is tx %d rx %d", l.hostIf, sumTx, sumRx, tx1-tx0, rx1-rx0)
	}
	if tx1-tx0 < 80<<20 {
		t.Errorf("the veth sent only %d bytes: the transfer did not run", tx1-tx0)
	}
	sum := byType(recs, "summary")
	if len(sum) != 1 {
		t.Fatalf("want one summary, got %d", len(sum))
	}
	if got := sum[0]["status"].(map[string]any)["socket_source"]; got != source {
		t.Errorf("status.socket_source %v, want %s", got, source)
	}
	procs := map[int]map[string]any{}
	var pids []int
	for _, p := range list(t, sum[0], "processes") {
		procs[int(p["pid"].(float64))] = p
		pids = append(pids, int(p["pid"].(float64)))
	}
	sort.Ints(pids)
	for i, c := range clients {
		p := procs[c.pid]
		if p == nil {
			t.Errorf("client %d (pid %d, sent %d) missing from the summary's processes %v; unattributed %v",
				i, c.pid, c.sent, pids, sum[0]["unattributed"])
			continue
		}
		tx := num(t, p, "tx_bytes")
		if dev := math.Abs(float64(tx)-float64(c.sent)) / float64(c.sent); dev > 0.02 {
			t.Errorf("client %d (pid %d, %s): summary tx_bytes %d, iperf3 sent %d (%.2f%% off, limit 2%%)", i, c.pid, p["comm"], tx, c.sent, dev*100)
		} else {
			t.Logf("client %d pid %d: wiretop %d, iperf3 %d (%.3f%%)", i, c.pid, tx, c.sent, dev*100)
		}
		if p["source"] != "tcp_info" {
			t.Errorf("client %d: source %v, want tcp_info", i, p["source"])
		}
	}
}

func TestUnprivilegedHeadless(t *testing.T) {
	requireRoot(t) // to drop to nobody
	requireTool(t, "setpriv")
	// a root-owned connection that moves bytes during the run: nobody sees the socket and its
	// bytes, but not its process
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		buf := make([]byte, 64<<10)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				_, _ = c.Write(buf)
			}
		}
	}()
	r := startWiretop(t, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"},
		"--headless", "--no-capture", "--interval", "300ms", "--count", "4")
	recs := r.wait(t, 30*time.Second)
	samples := byType(recs, "sample")
	if len(samples) != 4 {
		t.Fatalf("want 4 samples, got %d", len(samples))
	}
	var unattrTx uint64
	for _, s := range samples {
		st := s["status"].(map[string]any)
		if st["process_scope"] != "own-uid" {
			t.Errorf("status.process_scope = %v, want own-uid", st["process_scope"])
		}
		// kernels differ on destroy events without CAP_NET_ADMIN (6.x lets anyone join the
		// groups); when they are off, the notes must say why
		if st["destroy_events"] == false && !strings.Contains(fmt.Sprint(st["notes"]), "CAP_NET_ADMIN") {
			t.Errorf("destroy events off but status.notes do not say why: %v", st["notes"])
		}
		if !strings.Contains(fmt.Sprint(st["notes"]), "own processes only") {
			t.Errorf("status.notes do not say that only own processes are resolved: %v", st["notes"])
		}
		if d := cmp.Diff(procNetDevNames(t), sampleIfaceNames(t, s)); d != "" {
			t.Errorf("interfaces (-want +got):\n%s", d)
		}
		states := nonZero(s["tcp_states"].(map[string]any))
		if states["LISTEN"] < 1 || states["ESTAB"] < 2 {
			t.Errorf("tcp_states as nobody miss root's sockets: %v", states)
		}
		for _, p := range list(t, s, "processes") {
			if p["user"] != "nobody" {
				t.Errorf("process of another user visible to nobody: %v", p)
			}
		}
		unattrTx += num(t, s["unattributed"].(map[string]any), "tx_bytes")
	}
	if unattrTx == 0 {
		t.Errorf("root's connection moved bytes but nothing was unattributed")
	}
}

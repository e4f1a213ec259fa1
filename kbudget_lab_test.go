package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// vethPackets reads an interface's packet counters from sysfs (of the caller's namespace).
func vethPackets(t *testing.T, iface string) (rx, tx uint64) {
	t.Helper()
	get := func(name string) uint64 {
		b, err := os.ReadFile("/sys/class/net/" + iface + "/statistics/" + name)
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return get("rx_packets"), get("tx_packets")
}

// budgetRun is what one run of budgetLab saw: the summary's talkers and the alerts.
type budgetRun struct {
	sent, recv   uint64 // packets the host's end of the veth sent into the lab and received from it
	talkers      []map[string]any
	pkts         uint64 // packets of every talker, the overflow row and the aggregates included
	aggregates   []map[string]any
	samples      int
	alerts       []record
	captureStats map[string]any
}

// budgetLab runs wiretop --flows ebpf in the lab's namespace on its end of the veth while
// traffic runs (from the test's namespace), stops it, and reads what it counted against
// the packets the peer (the host's end of the veth) counted. extra are more flags for wiretop.
func budgetLab(t *testing.T, l *lab, traffic func(), extra ...string) budgetRun {
	t.Helper()
	rx0, tx0 := vethPackets(t, l.hostIf)
	args := append([]string{"--headless", "-i", l.nsIf, "--flows", "ebpf", "--interval", "500ms", "--db", "", "--top", "0"}, extra...)
	w := startWiretop(t, l.prefix(), args...)
	w.waitFirst(t, 10*time.Second)
	traffic()
	time.Sleep(1200 * time.Millisecond) // the last packets reach a batch
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	recs := w.wait(t, 30*time.Second)
	rx1, tx1 := vethPackets(t, l.hostIf)
	sum := summaryOf(t, recs)
	if src := statusOf(t, sum)["capture_source"]; src != "ebpf" {
		t.Fatalf("capture_source %v, want ebpf", src)
	}
	r := budgetRun{sent: tx1 - tx0, recv: rx1 - rx0, talkers: list(t, sum, "talkers"), samples: len(byType(recs, "sample")),
		alerts: byType(recs, "alert")}
	r.captureStats, _ = sum["capture"].(map[string]any)
	for _, tk := range r.talkers {
		r.pkts += num(t, tk, "rx_packets") + num(t, tk, "tx_packets")
		if tk["remote_addr"] == "*" {
			r.aggregates = append(r.aggregates, tk)
		}
	}
	return r
}

// TestLabSynBudget: hping3 floods a listening port in the lab with 200,000 spoofed SYNs
// (bounded, from the test's namespace; the lab has no route back to the sources, so no
// SYN-ACK leaves it). wiretop counts flows in the kernel with its budget of new flows: the
// SYNs beyond it are one aggregate row for the victim (remote "*", "flows" the SYNs it
// stands for), the flows with a row of their own are at most the budget per interval, every
// packet the peer sent is counted (rows, aggregate and overflow), and syn_flood fires for
// the victim with the aggregated SYNs in its evidence. The quiet twin is
// TestLabSynBudgetQuiet. Lab subnet 206.
func TestLabSynBudget(t *testing.T) {
	l := newLab(t, 206)
	requireTool(t, "hping3")
	if out := l.exec(t, "ip", "-4", "route", "show"); strings.Contains(out, "default") {
		t.Fatalf("the lab namespace has a default route: %s", out)
	}
	const port, count = 8099, 200000
	l.serve(t, port, "nc", "-lk", l.nsIP, fmt.Sprint(port))
	r := budgetLab(t, l, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		flood := exec.CommandContext(ctx, "hping3", "-q", "-S", "-p", fmt.Sprint(port), "-c", fmt.Sprint(count), "--faster", "--rand-source", l.nsIP)
		flood.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test
		out, _ := flood.CombinedOutput()
		t.Logf("hping3: %s", strings.Join(strings.Fields(string(out)), " "))
	})
	t.Logf("peer sent %d packets into the lab, received %d; wiretop: %d talkers, %d packets, %d samples, capture %v",
		r.sent, r.recv, len(r.talkers), r.pkts, r.samples, r.captureStats)
	if r.sent < count {
		t.Fatalf("the peer sent %d packets, hping3 was to send %d", r.sent, count)
	}
	if r.pkts != r.sent+r.recv {
		t.Errorf("wiretop counted %d packets, the peer %d (sent %d, received %d)", r.pkts, r.sent+r.recv, r.sent, r.recv)
	}
	victim := fmt.Sprintf("%s:%d", l.nsIP, port)
	var aggFlows, aggPkts uint64
	for _, a := range r.aggregates {
		if fmt.Sprintf("%v:%d", a["local_addr"], num(t, a, "local_port")) != victim || num(t, a, "remote_port") != 0 {
			t.Errorf("an aggregate row not for the victim %s: %v", victim, a)
		}
		aggFlows += num(t, a, "flows")
		aggPkts += num(t, a, "rx_packets")
	}
	if len(r.aggregates) != 1 || aggFlows != aggPkts {
		t.Errorf("%d aggregate rows with %d flows, %d SYNs: want one for the victim, a flow per SYN", len(r.aggregates), aggFlows, aggPkts)
	}
	// The flows with a row of their own: at most the budget (flow cap / 8, over the CPUs)
	// for each interval, counting the one still open at the start and the end.
	var rows, overflow uint64
	for _, tk := range r.talkers {
		switch {
		case tk["proto"] == "overflow":
			overflow += num(t, tk, "rx_packets")
		case tk["remote_addr"] != "*" && num(t, tk, "local_port") == port:
			rows++
		}
	}
	if limit := uint64(r.samples+2) * 65536 / 8; rows > limit {
		t.Errorf("%d flows to the victim have a row: more than the budget of 8,192 in each of %d intervals", rows, r.samples+2)
	}
	if rows+aggFlows+overflow < count {
		t.Errorf("rows %d + aggregated %d + overflow %d < %d SYNs sent", rows, aggFlows, overflow, count)
	}
	if aggFlows < count/4 {
		t.Errorf("only %d of %d SYNs aggregated: the budget did not hold", aggFlows, count)
	}
	t.Logf("victim %s: %d flows with a row, %d SYNs aggregated, overflow %d packets", victim, rows, aggFlows, overflow)
	var fired record
	for _, a := range r.alerts {
		if a["rule"] == "syn_flood" && a["state"] == "firing" && a["key"] == "syn_flood/"+victim {
			fired = a
			break
		}
	}
	if fired == nil {
		t.Fatalf("no syn_flood firing for %s: %v", victim, r.alerts)
	}
	ev := fired["evidence"].(map[string]any)
	t.Logf("syn_flood: %v; evidence %v", fired["summary"], ev)
	if ev["target"] != victim {
		t.Errorf("syn_flood target %v, want %s", ev["target"], victim)
	}
	// The aggregated SYNs count as half-open ones, without a source each.
	agg, ok := ev["aggregated"].(float64)
	if ho, _ := ev["half_open"].(float64); !ok || ho < agg+1 {
		t.Errorf("syn_flood evidence half_open %v, aggregated %v: want the aggregated among the half-open", ev["half_open"], ev["aggregated"])
	}
	for _, a := range r.alerts {
		if a["state"] == "firing" && (a["rule"] == "port_scan" || a["rule"] == "brute_force" || a["rule"] == "exfiltration") {
			t.Errorf("the aggregate taken for something else: %v", a)
		}
	}
}

// TestLabSynBudgetQuiet: ordinary traffic under the budget (an iperf3 TCP transfer and a
// loop of 100 curl requests, each a new connection) gives no aggregate row, every packet the
// peer counted is in the flows, each curl connection is a flow of its own, and syn_flood
// stays quiet. Lab subnet 207.
func TestLabSynBudgetQuiet(t *testing.T) {
	l := newLab(t, 207)
	requireTool(t, "iperf3")
	requireTool(t, "curl")
	requireTool(t, "python3")
	l.serve(t, 5401, "iperf3", "-s", "-p", "5401")
	l.serve(t, 8080, "python3", "-m", "http.server", "--bind", l.nsIP, "8080")
	const requests = 100
	r := budgetLab(t, l, func() {
		must(t, "timeout", "60", "iperf3", "-c", l.nsIP, "-p", "5401", "-n", "10M", "-b", "100M")
		for range requests {
			must(t, "curl", "-s", "-o", "/dev/null", "--max-time", "5", "http://"+l.nsIP+":8080/")
		}
	})
	t.Logf("peer sent %d packets, received %d; wiretop: %d talkers, %d packets", r.sent, r.recv, len(r.talkers), r.pkts)
	if len(r.aggregates) != 0 {
		t.Errorf("aggregate rows under the budget: %v", r.aggregates)
	}
	if r.pkts != r.sent+r.recv {
		t.Errorf("wiretop counted %d packets, the peer %d (sent %d, received %d)", r.pkts, r.sent+r.recv, r.sent, r.recv)
	}
	web := 0
	for _, tk := range r.talkers {
		if tk["proto"] == "overflow" && num(t, tk, "rx_packets")+num(t, tk, "tx_packets") > 0 {
			t.Errorf("overflow under the budget: %v", tk)
		}
		if num(t, tk, "local_port") == 8080 {
			web++
		}
	}
	if web != requests {
		t.Errorf("%d flows to the web server, %d requests", web, requests)
	}
	for _, a := range r.alerts {
		if a["rule"] == "syn_flood" {
			t.Errorf("syn_flood under ordinary traffic: %v", a)
		}
	}
}

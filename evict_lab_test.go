package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLabSynFleetingEvicted: hping3 floods a listening port in the lab with 50,000 spoofed
// SYNs (5,000 a second: 10 s, 20 intervals), then 50 curl connections go to a web server in
// the lab. wiretop counts flows in the kernel with a table of 16,384 flows (--max-flows) and
// its full budget of 2,048 new flows an interval, kept under the flood (--kernel-full-budget:
// a flood's own budget, FlowCap/256, 64 an interval here, would never fill the table in
// 10 s; a busy server under a flood has the full one): the flows with a row fill it past
// 3/4, and the crowded table evicts the SYN flows once a read found none of their packets, so more SYN
// flows than the table holds get rows, the flood leaves (almost) nothing in overflow
// (without the eviction: 14,931 packets, the curl connections among them), each curl
// connection is a flow of its own, and every packet the peer counted is in the rows, the
// aggregate and the overflow. The smaller table and the 50,000 SYNs keep
// the rows under the monitor's cap of talkers (65,536), whose evictions also go to the
// overflow row. Its twin for flows that must stay is
// capture.TestKernelKeepsRealFlows; TestLabSynBudgetQuiet is the quiet run. Lab subnet 214.
func TestLabSynFleetingEvicted(t *testing.T) {
	l := newLab(t, 214)
	requireTool(t, "hping3")
	requireTool(t, "curl")
	requireTool(t, "python3")
	if out := l.exec(t, "ip", "-4", "route", "show"); strings.Contains(out, "default") {
		t.Fatalf("the lab namespace has a default route: %s", out)
	}
	const port, count, requests, flowCap = 8099, 50000, 50, 16384
	l.serve(t, port, "nc", "-lk", l.nsIP, fmt.Sprint(port))
	l.serve(t, 8080, "python3", "-m", "http.server", "--bind", l.nsIP, "8080")
	r := budgetLab(t, l, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		flood := exec.CommandContext(ctx, "hping3", "-q", "-S", "-p", fmt.Sprint(port), "-c", fmt.Sprint(count), "-i", "u200", "--rand-source", l.nsIP)
		flood.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test
		out, _ := flood.CombinedOutput()
		t.Logf("hping3: %s", strings.Join(strings.Fields(string(out)), " "))
		for range requests {
			must(t, "curl", "-s", "-o", "/dev/null", "--max-time", "5", "http://"+l.nsIP+":8080/")
		}
	}, "--max-flows", fmt.Sprint(flowCap), "--kernel-full-budget")
	t.Logf("peer sent %d packets into the lab, received %d; wiretop: %d talkers, %d packets, %d samples, capture %v",
		r.sent, r.recv, len(r.talkers), r.pkts, r.samples, r.captureStats)
	if r.sent < count {
		t.Fatalf("the peer sent %d packets, hping3 was to send %d", r.sent, count)
	}
	if r.pkts != r.sent+r.recv {
		t.Errorf("wiretop counted %d packets, the peer %d (sent %d, received %d)", r.pkts, r.sent+r.recv, r.sent, r.recv)
	}
	var rows, aggFlows, overflow uint64
	web := 0
	for _, tk := range r.talkers {
		switch {
		case tk["proto"] == "overflow":
			overflow += num(t, tk, "rx_packets") + num(t, tk, "tx_packets")
		case tk["remote_addr"] == "*":
			aggFlows += num(t, tk, "flows")
		case num(t, tk, "local_port") == port:
			rows++
		case num(t, tk, "local_port") == 8080:
			web++
		}
	}
	t.Logf("%d SYN flows with a row, %d aggregated, overflow %d packets, %d web flows", rows, aggFlows, overflow, web)
	if overflow > count/100 {
		t.Errorf("%d packets in overflow: the SYN flows kept the table full", overflow)
	}
	if rows < flowCap+flowCap/2 {
		t.Errorf("only %d SYN flows had a row: no more than the table holds: its flows were not evicted early", rows)
	}
	if web != requests {
		t.Errorf("%d flows to the web server, %d requests", web, requests)
	}
}

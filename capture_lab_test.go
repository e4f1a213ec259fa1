package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestLabCaptureLive captures on the host end of a veth pair while iperf3 sends a 50 MB TCP
// transfer at about 200 Mbit/s and a UDP stream into a namespace, and checks the summary
// against the kernel and the senders: talker bytes within 1% of the veth's /proc/net/dev
// delta, each sending pid credited with at least 99% of its flows' bytes, no kernel drops.
func TestLabCaptureLive(t *testing.T) {
	l := newLab(t, 42)
	requireTool(t, "iperf3")
	type sender struct {
		port int
		args []string
		pid  int
		out  bytes.Buffer
		cmd  *exec.Cmd
	}
	senders := []*sender{
		{port: 5301, args: []string{"-n", "50M", "-b", "200M", "-l", "64K"}},
		{port: 5302, args: []string{"-u", "-n", "8M", "-b", "40M", "-l", "1400"}},
	}
	for _, s := range senders {
		srv := l.cmd("iperf3", "-s", "-1", "-p", fmt.Sprint(s.port))
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
		l.waitListening(t, s.port)
	}

	rx0, tx0 := devCounters(t, l.hostIf)
	w := startWiretop(t, nil, "--headless", "-i", l.hostIf, "--interval", "500ms", "--top", "0")
	w.waitFirst(t, 10*time.Second)
	for _, s := range senders {
		s.cmd = exec.Command("iperf3", append([]string{"-c", l.nsIP, "-p", fmt.Sprint(s.port), "--json"}, s.args...)...)
		s.cmd.Stdout = &s.out
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		s.pid = s.cmd.Process.Pid
	}
	for _, s := range senders {
		if err := s.cmd.Wait(); err != nil {
			t.Fatalf("iperf3 %v: %v\n%s", s.args, err, s.out.String())
		}
	}
	time.Sleep(1200 * time.Millisecond) // the last packets reach a batch
	if err := w.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	recs := w.wait(t, 20*time.Second)
	rx1, tx1 := devCounters(t, l.hostIf)
	sum := summaryOf(t, recs)

	capRec := sum["capture"].(map[string]any)
	if d := num(t, capRec, "dropped"); d != 0 {
		t.Errorf("the kernel dropped %d packets", d)
	}
	var talkerBytes uint64
	flowBytes := map[int]uint64{} // by server port
	for _, tk := range list(t, sum, "talkers") {
		b := num(t, tk, "rx_bytes") + num(t, tk, "tx_bytes")
		talkerBytes += b
		flowBytes[int(num(t, tk, "remote_port"))] += b
	}
	dev := (rx1 - rx0) + (tx1 - tx0)
	if dev < 55<<20 {
		t.Fatalf("the veth moved only %d bytes: the transfers did not run", dev)
	}
	if off := math.Abs(float64(talkerBytes)-float64(dev)) / float64(dev); off > 0.01 {
		t.Errorf("talkers sum to %d bytes, /proc/net/dev delta is %d (%.3f%% off, limit 1%%)", talkerBytes, dev, off*100)
	} else {
		t.Logf("talkers %d bytes, /proc/net/dev %d (%.4f%% off)", talkerBytes, dev, off*100)
	}
	procs := map[int]map[string]any{}
	for _, p := range list(t, sum, "processes") {
		procs[int(num(t, p, "pid"))] = p
	}
	for _, s := range senders {
		want := flowBytes[s.port]
		p := procs[s.pid]
		if p == nil {
			t.Errorf("iperf3 %v (pid %d, %d bytes in its flows) missing from the processes; unattributed %v", s.args, s.pid, want, sum["unattributed"])
			continue
		}
		got := num(t, p, "rx_bytes") + num(t, p, "tx_bytes")
		if p["source"] != "pcap" {
			t.Errorf("pid %d: source %v, want pcap", s.pid, p["source"])
		}
		if float64(got) < 0.99*float64(want) || got > want {
			t.Errorf("pid %d (%v): credited %d bytes of its flows' %d (%.2f%%, want >= 99%%)", s.pid, s.args, got, want, 100*float64(got)/float64(want))
		} else {
			t.Logf("pid %d: %d of %d bytes (%.3f%%)", s.pid, got, want, 100*float64(got)/float64(want))
		}
	}
}

// TestWriteSurvivesSIGTERM captures on lo with a packet filter and -w while a loopback
// connection moves data, stops wiretop with SIGTERM, and checks that the pcap file was
// flushed and closed: tcpdump reads exactly the packets that the "packet" lines reported.
func TestWriteSurvivesSIGTERM(t *testing.T) {
	requireRoot(t)
	requireTool(t, "tcpdump")
	addr := loopbackSink(t)
	out := filepath.Join(t.TempDir(), "lo.pcap")
	w := startWiretop(t, nil, "--headless", "-i", "lo", "--interval", "200ms",
		"--packet-filter", fmt.Sprintf("tcp port %d", addr.Port), "-w", out)
	w.waitFirst(t, 10*time.Second)
	dialBurst(t, addr, 20)
	time.Sleep(600 * time.Millisecond)
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	recs := w.wait(t, 20*time.Second)
	summaryOf(t, recs)
	pkts := len(byType(recs, "packet"))
	if pkts < 20*5 {
		t.Fatalf("only %d packet lines for 20 connections; capture %v; stderr %s", pkts, summaryOf(t, recs)["capture"], w.stderr.String())
	}
	if got := tcpdumpCount(t, out, ""); got != pkts {
		t.Errorf("tcpdump reads %d packets from %s after SIGTERM, wiretop reported %d", got, out, pkts)
	}
}

// TestWriteBurstLosesNothing writes a burst of 200 short loopback connections (about 3,400
// packets on lo, out and in, in a fraction of a second) to a file: the kernel drops none,
// and the file holds every connection's SYN and FIN. With libpcap's immediate mode (a
// TPACKET_V2 ring of 127 slots of 65 KiB at the writing snaplen) 13-28% were dropped.
func TestWriteBurstLosesNothing(t *testing.T) {
	requireRoot(t)
	requireTool(t, "tcpdump")
	addr := loopbackSink(t)
	out := filepath.Join(t.TempDir(), "burst.pcap")
	w := startWiretop(t, nil, "--headless", "-i", "lo", "--interval", "200ms",
		"--packet-filter", fmt.Sprintf("tcp port %d", addr.Port), "-w", out)
	w.waitFirst(t, 10*time.Second)
	const conns = 200
	dialBurst(t, addr, conns)
	time.Sleep(600 * time.Millisecond)
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	capStats, _ := summaryOf(t, w.wait(t, 20*time.Second))["capture"].(map[string]any)
	if capStats == nil || capStats["dropped"] != float64(0) {
		t.Errorf("capture %v: want 0 dropped", capStats)
	}
	client := fmt.Sprintf("dst port %d", addr.Port)
	for _, c := range []struct{ what, expr string }{
		{"SYN", "tcp[tcpflags] == tcp-syn and " + client},
		{"client FIN", "tcp[tcpflags] & tcp-fin != 0 and " + client},
	} {
		if got := tcpdumpCount(t, out, c.expr); got != conns {
			t.Errorf("%s packets in the file: %d, want %d (one per connection)", c.what, got, conns)
		}
	}
	inFile := tcpdumpCount(t, out, "")
	if capStats != nil && capStats["packets_matched"] != float64(inFile) {
		t.Errorf("capture.packets_matched %v, the file holds %d packets", capStats["packets_matched"], inFile)
	}
	t.Logf("capture %v; %d packets in the file", capStats, inFile)
}

// loopbackSink listens on 127.0.0.1 and reads every connection to its end, until the test ends.
func loopbackSink(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}

// dialBurst opens n connections to addr one after the other, writes 4 KiB on each and
// closes it: a bounded burst on loopback.
func dialBurst(t *testing.T, addr *net.TCPAddr, n int) {
	t.Helper()
	for range n {
		c, err := net.DialTCP("tcp", nil, addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(make([]byte, 4096))
		c.Close()
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Lab tests of the exfiltration rule: a real 200 MB upload with nc from the monitored host
// to a namespace host it never talked to fires within 5 s, naming nc, and resolves once
// after it; a 200 MB download from a new host and a 200 MB upload to a host that was in use
// during the learning period raise nothing. Lab subnets 161-163.

// exfilRules is a rules file for a short run: no warm-up, a 3 s learning period, a 3 s
// hold (the defaults, 60 s, 5 min and 30 s, would make the test minutes long).
func exfilRules(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.toml")
	doc := "warm_up = \"0s\"\n[exfiltration]\nlearn = \"3s\"\nhold = \"3s\"\n"
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// exfilStart runs wiretop headless on the lab's host side with the short rules, and waits
// until the learning period is over.
func exfilStart(t *testing.T, l *lab, during func()) *wtRun {
	t.Helper()
	w := startWiretop(t, nil, "--headless", "-i", l.hostIf, "--interval", "500ms", "--db", "", "--top", "0",
		"--rules", exfilRules(t))
	w.waitFirst(t, 10*time.Second)
	if during != nil {
		during()
	}
	time.Sleep(3500 * time.Millisecond) // learning (3 s from the first interval) is over
	return w
}

// alertLines returns the alert lines wiretop has printed so far.
func (r *wtRun) alertLines(t *testing.T) []record {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []record
	for _, l := range r.lines {
		var rec record
		if err := json.Unmarshal([]byte(l), &rec); err == nil && rec["type"] == "alert" {
			out = append(out, rec)
		}
	}
	return out
}

// waitAlert polls the alert lines until one of rule, state and key is there.
func (r *wtRun) waitAlert(t *testing.T, rule, state, key string, timeout time.Duration) record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, a := range r.alertLines(t) {
			if a["rule"] == rule && a["state"] == state && a["key"] == key {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s %s alert %s within %v; alerts: %v\nstderr: %s", state, rule, key, timeout, r.alertLines(t), r.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exfilTransfer sends n bytes with nc over TCP from the sender to the receiver (one of them
// in the lab's namespace), in 20 chunks 100 ms apart (at the veth's full speed 200 MB take
// a third of a second, and a connection that short is not attributed to its process yet:
// issue 11), and returns what the receiver counted.
func exfilTransfer(t *testing.T, l *lab, upload bool, n int) int {
	t.Helper()
	port := 9000 + l.subnet
	recvPrefix, sendPrefix, addr := l.prefix(), []string(nil), l.nsIP
	if !upload {
		recvPrefix, sendPrefix, addr = nil, l.prefix(), l.hostIP
	}
	recvArgs := append(append([]string{}, recvPrefix...), "bash", "-c", fmt.Sprintf("nc -l %s %d | wc -c", addr, port))
	recv := exec.Command(recvArgs[0], recvArgs[1:]...)
	var out strings.Builder
	recv.Stdout = &out
	if err := recv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = recv.Process.Kill(); _ = recv.Wait() })
	if upload {
		l.waitListening(t, port)
	} else {
		rootListening(t, port)
	}
	sendArgs := append(append([]string{}, sendPrefix...), "bash", "-c",
		fmt.Sprintf("for i in $(seq 20); do head -c %d /dev/zero; sleep 0.1; done | nc -N %s %d", n/20, addr, port))
	if o, err := exec.Command(sendArgs[0], sendArgs[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", sendArgs, err, o)
	}
	if err := recv.Wait(); err != nil {
		t.Fatalf("receiver: %v", err)
	}
	var got int
	fmt.Sscan(out.String(), &got)
	return got
}

// TestLabExfiltrationFires: nc uploads 200 MB to a host first seen after the learning
// period: exfiltration fires within 5 s of the upload's start with the host, the process
// and the bytes in the evidence, and resolves once, with the same key, after the upload.
func TestLabExfiltrationFires(t *testing.T) {
	l := newLab(t, 161)
	w := exfilStart(t, l, nil)
	start := time.Now()
	got := exfilTransfer(t, l, true, 200_000_000)
	took := time.Since(start)
	key := "exfiltration/" + l.nsIP
	a := w.waitAlert(t, "exfiltration", "firing", key, 5*time.Second-took)
	t.Logf("uploaded %d bytes in %v; alert after %v: %v", got, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), a["summary"])
	if got != 200_000_000 {
		t.Errorf("the receiver counted %d bytes, want 200000000", got)
	}
	ev := a["evidence"].(map[string]any)
	if ev["remote"] != l.nsIP || ev["novelty"] != "new" {
		t.Errorf("evidence remote %v novelty %v, want %s new", ev["remote"], ev["novelty"], l.nsIP)
	}
	if ev["comm"] != "nc" {
		t.Errorf("evidence comm %q, want nc (pid %v)", ev["comm"], ev["pid"])
	}
	if tx, _ := ev["tx_bytes"].(float64); tx < 100<<20 {
		t.Errorf("tx_bytes %v, below the level", ev["tx_bytes"])
	}
	w.waitAlert(t, "exfiltration", "resolved", key, 10*time.Second)
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	var states []string
	for _, a := range byType(w.wait(t, 10*time.Second), "alert") {
		if a["key"] == key {
			states = append(states, fmt.Sprint(a["state"]))
		}
	}
	if strings.Join(states, ",") != "firing,resolved" {
		t.Errorf("alert lines for %s: %v, want firing then resolved, once each", key, states)
	}
}

// TestLabExfiltrationQuiet: 200 MB downloaded from a new host, and 200 MB uploaded to a host
// that exchanged bytes with this one during the learning period (its level is ten times a
// new host's), raise no alert of any rule.
func TestLabExfiltrationQuiet(t *testing.T) {
	t.Run("download from a new host", func(t *testing.T) {
		l := newLab(t, 162)
		w := exfilStart(t, l, nil)
		got := exfilTransfer(t, l, false, 200_000_000)
		time.Sleep(1500 * time.Millisecond)
		exfilQuiet(t, w, got)
	})
	t.Run("upload to a host in use during learning", func(t *testing.T) {
		l := newLab(t, 163)
		w := exfilStart(t, l, func() { exfilTransfer(t, l, true, 1_000_000) })
		got := exfilTransfer(t, l, true, 200_000_000)
		time.Sleep(1500 * time.Millisecond)
		exfilQuiet(t, w, got)
	})
}

func exfilQuiet(t *testing.T, w *wtRun, got int) {
	t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	alerts := byType(w.wait(t, 10*time.Second), "alert")
	t.Logf("transferred %d bytes", got)
	if got != 200_000_000 {
		t.Errorf("the receiver counted %d bytes, want 200000000", got)
	}
	for _, a := range alerts {
		t.Errorf("alert on innocent traffic: %v %v %v", a["rule"], a["key"], a["summary"])
	}
}

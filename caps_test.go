package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Capability bits (linux/capability.h).
const (
	capDACOverride   = 1
	capDACReadSearch = 2
	capSysPtrace     = 19
)

// capSets reads the CapEff, CapPrm and CapBnd masks of a process.
func capSets(t *testing.T, pid int) map[string]uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]uint64{}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok && (k == "CapEff" || k == "CapPrm" || k == "CapBnd") {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			m[k] = n
		}
	}
	return m
}

// TestCapabilitiesAfterStart: a root-started wiretop keeps only the documented capabilities
// once its sources are open (README, "Permissions"), in its effective, permitted and bounding
// sets, and still captures, reads sockets with the BPF iterator and maps them to processes.
func TestCapabilitiesAfterStart(t *testing.T) {
	requireRoot(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				b := make([]byte, 64<<10)
				for {
					if _, err := c.Read(b); err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	r := startWiretop(t, nil, "--headless", "-i", "lo", "--interval", "300ms", "--count", "8", "--top", "0", "--db", "")
	r.waitFirst(t, 10*time.Second)
	got := capSets(t, r.cmd.Process.Pid)
	// traffic of this process after the drop: capture must see it and attribute it to us
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32<<10)
	for i := 0; i < 20; i++ {
		if _, err := c.Write(buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recs := r.wait(t, 20*time.Second)
	c.Close()

	want := uint64(1<<capDACReadSearch | 1<<capSysPtrace)
	for _, set := range []string{"CapEff", "CapPrm", "CapBnd"} {
		if got[set] != want {
			t.Errorf("%s %016x, want %016x (cap_dac_read_search,cap_sys_ptrace)", set, got[set], want)
		}
	}
	sum := byType(recs, "summary")
	if len(sum) != 1 {
		t.Fatalf("%d summary lines", len(sum))
	}
	st, _ := sum[0]["status"].(map[string]any)
	if st["socket_source"] != "bpf_iter" || st["capture"] != true {
		t.Errorf("status after the drop: %v (want capture on and the BPF iterator still reading sockets)", st)
	}
	var mine uint64
	for _, p := range list(t, sum[0], "processes") {
		if int(p["pid"].(float64)) == os.Getpid() {
			// both ends are this process: on lo each segment is seen once and is counted
			// on whichever socket it matches first, the dialer's tx or the listener's rx
			mine += num(t, p, "tx_bytes") + num(t, p, "rx_bytes")
		}
	}
	if mine < 20*32<<10 {
		t.Errorf("this test's process moved %d bytes by the summary, want at least %d: attribution after the drop fails\n%v\nstderr %s", mine, 20*32<<10, sum[0], r.stderr.String())
	}
}

// TestCapabilitiesTUI: the TUI keeps CAP_DAC_OVERRIDE besides, to write a pcap (key w)
// where the operator asks.
func TestCapabilitiesTUI(t *testing.T) {
	requireRoot(t)
	s := startTUI(t, 120, 40, nil, "-i", "lo", "--interval", "300ms", "--db", "", "--config", t.TempDir()+"/config.toml")
	s.waitText(15*time.Second, "1 Bandwidth", "5 Packets")
	sh, err := strconv.Atoi(s.display("#{pane_pid}"))
	if err != nil {
		t.Fatal(err)
	}
	kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", sh, sh))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(kids))
	if len(f) != 1 {
		t.Fatalf("the tmux shell has children %q, want wiretop alone", kids)
	}
	pid, _ := strconv.Atoi(f[0])
	got := capSets(t, pid)
	want := uint64(1<<capDACOverride | 1<<capDACReadSearch | 1<<capSysPtrace)
	if got["CapEff"] != want || got["CapBnd"] != want {
		t.Errorf("TUI CapEff %016x CapBnd %016x, want %016x", got["CapEff"], got["CapBnd"], want)
	}
	s.keys("q")
}

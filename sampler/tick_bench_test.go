//go:build linux

package sampler

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startSockload builds scripts/sockload and runs it: procs child processes holding conns
// loopback connections each, accepted by the parent (2*procs*conns+1 sockets in all).
func startSockload(b *testing.B, procs, conns int) {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "sockload")
	if out, err := exec.Command("go", "build", "-o", bin, "../scripts/sockload").CombinedOutput(); err != nil {
		b.Fatalf("build sockload: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-procs", strconv.Itoa(procs), "-conns", strconv.Itoa(conns))
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		b.Fatalf("sockload: %q %v", line, err)
	}
}

// BenchmarkSamplerTick measures one steady-state sampler tick (net/dev, snmp, netstat, the
// sock_diag dump with tcp_info, destroy-event drain and inode resolution) with 10,000 TCP
// sockets held by 201 processes. The first tick, which walks /proc/*/fd once, is not timed.
func BenchmarkSamplerTick(b *testing.B) {
	startSockload(b, 200, 25)
	s, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	first := s.Tick(time.Now())
	if n := len(first.Sockets); n < 10000 {
		b.Fatalf("only %d sockets in the table", n)
	}
	resolved := 0
	for _, sk := range first.Sockets {
		if sk.PID != 0 {
			resolved++
		}
	}
	b.ReportMetric(float64(len(first.Procs)), "procs")
	b.ReportMetric(float64(resolved), "resolved")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Tick(time.Now())
	}
}

// BenchmarkSamplerFirstTick measures the first tick on the same host: it resolves every
// socket inode with one full /proc/*/fd walk.
func BenchmarkSamplerFirstTick(b *testing.B) {
	startSockload(b, 200, 25)
	for i := 0; i < b.N; i++ {
		s, err := New(Options{})
		if err != nil {
			b.Fatal(err)
		}
		s.Tick(time.Now())
		s.Close()
	}
}

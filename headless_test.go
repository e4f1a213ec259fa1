package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sampleFields are the fields DESIGN.md fixes for a "sample" line.
var sampleFields = []string{"type", "time", "interval_s", "interfaces", "tcp_states", "processes", "talkers", "unattributed"}

var ifaceFields = []string{"name", "rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_errors", "tx_errors",
	"rx_dropped", "tx_dropped", "rx_bytes_per_sec", "tx_bytes_per_sec"}

var processFields = []string{"pid", "comm", "user", "rx_bytes", "tx_bytes", "rx_bytes_per_sec", "tx_bytes_per_sec", "source"}

func hasFields(t *testing.T, what string, m map[string]any, fields []string) {
	t.Helper()
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			t.Errorf("%s: field %q missing in %v", what, f, m)
		}
	}
}

// procNetDevNames returns the interface names of /proc/net/dev, sorted, without the veths
// that the namespace labs of this and other packages (run in parallel by go test ./...)
// add and remove at any moment: their names begin with "wt".
func procNetDevNames(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range strings.Split(string(data), "\n")[2:] {
		n, _, ok := strings.Cut(l, ":")
		if n = strings.TrimSpace(n); ok && !isLabIf(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// isLabIf reports whether an interface is one end of a test lab's veth pair.
func isLabIf(name string) bool { return strings.HasPrefix(name, "wt") }

// sampleIfaceNames returns the interface names of a sample, without the labs' veths, in
// its order (sorted by name), and checks each interface's fields.
func sampleIfaceNames(t *testing.T, s record) []string {
	t.Helper()
	var names []string
	for _, f := range list(t, s, "interfaces") {
		hasFields(t, "interface", f, ifaceFields)
		if n := f["name"].(string); !isLabIf(n) {
			names = append(names, n)
		}
	}
	return names
}

func TestHeadlessContract(t *testing.T) {
	r := startWiretop(t, nil, "--headless", "--no-capture", "--interval", "300ms", "--count", "5")
	recs := r.wait(t, 30*time.Second)
	var types []string
	for _, rec := range recs {
		types = append(types, rec["type"].(string))
	}
	if d := cmp.Diff([]string{"sample", "sample", "sample", "sample", "sample", "summary"}, types); d != "" {
		t.Fatalf("line types (-want +got):\n%s", d)
	}
	for i, s := range byType(recs, "sample") {
		hasFields(t, "sample", s, sampleFields)
		if _, err := time.Parse(time.RFC3339Nano, s["time"].(string)); err != nil || !strings.Contains(s["time"].(string), ".") {
			t.Errorf("sample %d: time %q is not RFC 3339 with fractional seconds", i, s["time"])
		}
		if iv := s["interval_s"].(float64); iv < 0.2 || iv > 1.5 {
			t.Errorf("sample %d: interval_s = %v, want about 0.3", i, iv)
		}
		if d := cmp.Diff(procNetDevNames(t), sampleIfaceNames(t, s)); d != "" {
			t.Errorf("sample %d: interfaces are not those of /proc/net/dev (-want +got):\n%s", i, d)
		}
		states := s["tcp_states"].(map[string]any)
		for _, n := range []string{"ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
			"CLOSE", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING"} {
			if _, ok := states[n]; !ok {
				t.Errorf("sample %d: tcp_states lacks %s", i, n)
			}
		}
		for _, p := range list(t, s, "processes") {
			hasFields(t, "process", p, processFields)
		}
		hasFields(t, "unattributed", s["unattributed"].(map[string]any), []string{"rx_bytes", "tx_bytes"})
		if _, ok := s["capture"]; ok {
			t.Errorf("sample %d: capture must be absent with --no-capture", i)
		}
	}
	sum := byType(recs, "summary")[0]
	hasFields(t, "summary", sum, []string{"interfaces", "processes", "talkers"})
	for _, f := range list(t, sum, "interfaces") {
		hasFields(t, "summary interface", f, ifaceFields)
	}

	// jq, a reader nobody here wrote, reads every line
	requireTool(t, "jq")
	r.mu.Lock()
	input := strings.Join(r.lines, "\n") + "\n"
	r.mu.Unlock()
	jq := exec.Command("jq", "-r", ".type")
	jq.Stdin = strings.NewReader(input)
	out, err := jq.Output()
	if err != nil {
		t.Fatalf("jq: %v", err)
	}
	if got := strings.Fields(string(out)); len(got) != 6 || got[5] != "summary" {
		t.Errorf("jq read types %v", got)
	}
}

func TestHeadlessSIGINTPrintsSummary(t *testing.T) {
	r := startWiretop(t, nil, "--headless", "--no-capture", "--interval", "200ms")
	r.waitFirst(t, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	recs := r.wait(t, 10*time.Second)
	if len(recs) < 3 || recs[len(recs)-1]["type"] != "summary" {
		t.Fatalf("want samples then a summary last, got %d lines", len(recs))
	}
	samples := byType(recs, "sample")
	if got := num(t, recs[len(recs)-1], "samples"); got != uint64(len(samples)) {
		t.Errorf("summary counts %d samples, %d were printed", got, len(samples))
	}
	// the summary's interface totals are the sums of the samples (nothing lost at the end)
	tot := map[string]uint64{}
	for _, s := range samples {
		for _, f := range list(t, s, "interfaces") {
			tot[f["name"].(string)] += num(t, f, "rx_bytes")
		}
	}
	for _, f := range list(t, recs[len(recs)-1], "interfaces") {
		if n := f["name"].(string); num(t, f, "rx_bytes") != tot[n] {
			t.Errorf("%s: summary rx_bytes %d != sum of samples %d", n, num(t, f, "rx_bytes"), tot[n])
		}
	}
}

func TestBadInputIsOneClearLine(t *testing.T) {
	dir := t.TempDir()
	orig, err := os.ReadFile("testdata/pcap/mixed-vlan.pcap")
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.pcap")
	if err := os.WriteFile(truncated, orig[:50000], 0o644); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0") // --metrics on an address already in use
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().String()
	garbage := filepath.Join(dir, "garbage.pcap")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a capture "), 300), 0o644); err != nil {
		t.Fatal(err)
	}
	nobody := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
	tests := []struct {
		name    string
		prefix  []string // run through this (setpriv); the test needs root then
		args    []string
		code    int
		stderr  string
		summary bool // stdout still ends with a summary of what was read
	}{
		{"missing interface", nil, []string{"--headless", "--no-capture", "-i", "nosuch0", "--count", "1"}, 1, `wiretop: interface "nosuch0": no such interface`, false},
		{"missing interface, capture", nil, []string{"--headless", "-i", "nosuch0", "--count", "1"}, 1, `wiretop: interface "nosuch0": no such interface`, false},
		{"unknown flag", nil, []string{"--frobnicate"}, 2, "unknown flag: --frobnicate", false},
		{"interval too small", nil, []string{"--headless", "--interval", "1ms"}, 2, "--interval 1ms: must be at least 10ms", false},
		{"stray argument", nil, []string{"--headless", "eth0"}, 2, `unexpected argument "eth0"`, false},
		{"bad proc root", nil, []string{"--headless", "--no-capture", "--proc-root", "/nonexistent", "--count", "1"}, 1, "/nonexistent/net/dev", false},
		{"invalid base filter, replay", nil, []string{"--headless", "-r", "testdata/pcap/mixed-vlan.pcap", "-f", "tcp port x"}, 1, `wiretop: invalid filter "tcp port x": unknown port 'x'`, false},
		{"invalid packet filter", nil, []string{"--headless", "-r", "testdata/pcap/mixed-vlan.pcap", "--packet-filter", "tcp port"}, 1, `wiretop: invalid filter "tcp port": `, false},
		{"invalid base filter, live", nil, []string{"--headless", "-i", "lo", "-f", "port 99999", "--count", "1"}, 1, `wiretop: invalid filter "port 99999": `, false},
		{"no permission", nobody, []string{"--headless", "-i", "lo", "-f", "tcp", "--count", "1"}, 1, "wiretop: capture on lo: permission denied: needs CAP_NET_RAW", false},
		{"truncated capture", nil, []string{"--headless", "--speed", "max", "-r", truncated}, 1, "wiretop: bad capture file: " + truncated + ": truncated dump file", true},
		{"not a capture", nil, []string{"--headless", "-r", garbage}, 1, "wiretop: bad capture file: " + garbage + ": unknown file format", false},
		{"missing capture", nil, []string{"--headless", "-r", "/nonexistent.pcap"}, 1, "wiretop: replay: open /nonexistent.pcap: no such file or directory", false},
		{"unwritable pcap", nil, []string{"--headless", "-i", "lo", "-w", "/nonexistent/x.pcap", "--count", "1"}, 1, "/nonexistent/x.pcap: no such file or directory", false},
		{"bad speed", nil, []string{"--headless", "-r", "testdata/pcap/mixed-vlan.pcap", "--speed", "fast"}, 2, `--speed "fast": want max or a number > 0`, false},
		{"metrics address in use", nil, []string{"--headless", "--no-capture", "--metrics", busy, "--count", "1"}, 1, "wiretop: --metrics " + busy + ": listen tcp " + busy + ": bind: address already in use", false},
		{"metrics address invalid", nil, []string{"--headless", "--no-capture", "--metrics", "127.0.0.1:http-alt-x", "--count", "1"}, 1, "wiretop: --metrics 127.0.0.1:http-alt-x: listen tcp: lookup tcp/http-alt-x", false},
		{"buffer size zero", nil, []string{"--headless", "-i", "lo", "-B", "0"}, 2, "--buffer-size 0: want 1 to 1048576 KiB (1 GiB)", false},
		{"buffer size on a replay", nil, []string{"--headless", "-r", "testdata/pcap/mixed-vlan.pcap", "-B", "1024"}, 2, "--buffer-size (-B) sizes the kernel buffer of a live capture: it cannot go with -r", false},
		{"flow table without capture", nil, []string{"--headless", "--no-capture", "--max-flows", "100"}, 2, "--max-flows sizes packet capture: it cannot go with --no-capture", false},
		{"flow table too large", nil, []string{"--headless", "-r", "testdata/pcap/mixed-vlan.pcap", "--max-flows", "99999999"}, 2, "--max-flows 99999999: want 1 to 4194304", false},
		{"replay without capture", nil, []string{"--headless", "-r", "testdata/pcap/mixed-vlan.pcap", "--no-capture"}, 2, "-r replays packets: it cannot go with --no-capture", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.prefix != nil {
				requireRoot(t)
			}
			argv := append(append(append([]string{}, tt.prefix...), wiretopBin), tt.args...)
			cmd := exec.Command(argv[0], argv[1:]...)
			var stderr, stdout bytes.Buffer
			cmd.Stderr, cmd.Stdout = &stderr, &stdout
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tt.stderr)
			}
			if n := strings.Count(strings.TrimSpace(stderr.String()), "\n"); n != 0 {
				t.Errorf("stderr has %d lines, want one: %q", n+1, stderr.String())
			}
			if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("stderr shows a panic: %s", stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if tt.summary && !strings.Contains(lines[len(lines)-1], `"type":"summary"`) {
				t.Errorf("stdout does not end with a summary of what was read: %q", lines[len(lines)-1])
			}
		})
	}
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(wiretopBin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "wiretop ") {
		t.Fatalf("version: %q, %v", out, err)
	}
}

package main

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wiretop/wiretop/capture/capturetest"
)

// testPcaps are the captures under testdata/pcap, made from real traffic (scripts/mkpcaps.sh,
// scripts/mkdemo.sh).
func testPcaps(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/pcap/*.pcap*")
	if err != nil || len(files) < 4 {
		t.Fatalf("test captures missing: %v %v", files, err)
	}
	return files
}

// runReplay runs wiretop on a file, headless, as fast as it can, and returns its records.
func runReplay(t *testing.T, args ...string) []record {
	t.Helper()
	r := startWiretop(t, nil, append([]string{"--headless", "--speed", "max"}, args...)...)
	return r.wait(t, 60*time.Second)
}

func summaryOf(t *testing.T, recs []record) record {
	t.Helper()
	s := byType(recs, "summary")
	if len(s) != 1 || recs[len(recs)-1]["type"] != "summary" {
		t.Fatalf("want exactly one summary, last; got %d", len(s))
	}
	return s[0]
}

// talkerConvs turns the TCP and UDP talkers of a summary into tshark-comparable
// conversations (flows of non-first fragments, with no ports, are not conversations).
func talkerConvs(t *testing.T, sum record) capturetest.Convs {
	t.Helper()
	c := capturetest.Convs{}
	for _, tk := range list(t, sum, "talkers") {
		proto := tk["proto"].(string)
		lp, rp := uint16(num(t, tk, "local_port")), uint16(num(t, tk, "remote_port"))
		if (proto != "tcp" && proto != "udp") || (lp == 0 && rp == 0) {
			continue
		}
		local := netip.AddrPortFrom(netip.MustParseAddr(tk["local_addr"].(string)), lp)
		remote := netip.AddrPortFrom(netip.MustParseAddr(tk["remote_addr"].(string)), rp)
		c.AddFlow(proto, local, remote, num(t, tk, "rx_packets"), num(t, tk, "rx_bytes"),
			num(t, tk, "tx_packets"), num(t, tk, "tx_bytes"))
	}
	return c
}

// TestReplayAgreesWithTshark: the summary talkers of `wiretop -r FILE --headless --speed max
// --top 0` equal tshark's TCP and UDP conversations, packets and bytes each way, exactly.
func TestReplayAgreesWithTshark(t *testing.T) {
	requireTool(t, "tshark")
	for _, file := range testPcaps(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			want, err := capturetest.TsharkConversations(ctx, file)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) == 0 {
				t.Fatalf("tshark sees no TCP or UDP conversation in %s: the test proves nothing", file)
			}
			got := talkerConvs(t, summaryOf(t, runReplay(t, "-r", file, "--top", "0")))
			if d := capturetest.Diff(want, got); len(d) > 0 {
				t.Errorf("wiretop and tshark disagree on %d of %d conversations:\n%s", len(d), len(want), strings.Join(d, "\n"))
			}
		})
	}
}

// tcpdumpCount counts the packets tcpdump prints for file and expr.
func tcpdumpCount(t *testing.T, file, expr string) int {
	t.Helper()
	args := []string{"-nn", "-r", file}
	if expr != "" {
		args = append(args, expr)
	}
	out, err := exec.Command("tcpdump", args...).Output()
	if err != nil {
		t.Fatalf("tcpdump %v: %v", args, err)
	}
	return bytes.Count(out, []byte("\n"))
}

// filterExprs are base and packet filters checked against tcpdump on every test capture.
var filterExprs = []string{
	"tcp",
	"udp port 53",
	"ip6",
	"tcp[tcpflags] & tcp-syn != 0",
	"icmp or icmp6",
	"vlan",
	"host 198.18.0.2 and not port 80",
	"greater 1000",
}

// TestBaseFilterCountsLikeTcpdump: `wiretop -r FILE -f EXPR` counts exactly the packets
// `tcpdump -r FILE EXPR` prints, in its capture stats and in the replay's interface packets.
func TestBaseFilterCountsLikeTcpdump(t *testing.T) {
	requireTool(t, "tcpdump")
	selective := 0
	for _, file := range testPcaps(t) {
		all := tcpdumpCount(t, file, "")
		for _, expr := range filterExprs {
			if strings.HasPrefix(expr, "vlan") && !strings.Contains(file, "vlan") && !strings.Contains(file, "qinq") {
				continue // libpcap rejects vlan on cooked captures
			}
			want := tcpdumpCount(t, file, expr)
			if want > 0 && want < all {
				selective++
			}
			sum := summaryOf(t, runReplay(t, "-r", file, "-f", expr, "--top", "0"))
			capRec := sum["capture"].(map[string]any)
			if got := num(t, capRec, "received"); got != uint64(want) {
				t.Errorf("%s -f %q: capture.received %d, tcpdump prints %d", filepath.Base(file), expr, got, want)
			}
			var pkts uint64
			for _, f := range list(t, sum, "interfaces") {
				pkts += num(t, f, "rx_packets") + num(t, f, "tx_packets")
			}
			if pkts != uint64(want) {
				t.Errorf("%s -f %q: interfaces count %d packets, tcpdump prints %d", filepath.Base(file), expr, pkts, want)
			}
			if capRec["filter"] != expr {
				t.Errorf("capture.filter = %v, want %q", capRec["filter"], expr)
			}
		}
	}
	if selective < 5 {
		t.Errorf("only %d (file, filter) pairs selected some but not all packets: the test proves little", selective)
	}
}

// TestPacketFilterAndWrite: with --packet-filter and -w, the "packet" lines and the written
// file hold exactly the packets tcpdump selects with the same expression; tcpdump reads the
// file, and replaying it gives the same talkers as replaying the original with -f.
func TestPacketFilterAndWrite(t *testing.T) {
	requireTool(t, "tcpdump")
	file := "testdata/pcap/mixed-vlan.pcap"
	for _, expr := range []string{"vlan and tcp port 8080", "vlan and udp", "vlan and ip6 and tcp"} {
		t.Run(expr, func(t *testing.T) {
			want := tcpdumpCount(t, file, expr)
			if want == 0 || want > 1000 {
				t.Fatalf("tcpdump selects %d packets: pick another expression", want)
			}
			out := filepath.Join(t.TempDir(), "out.pcap")
			recs := runReplay(t, "-r", file, "--packet-filter", expr, "-w", out, "--top", "0")
			if got := len(byType(recs, "packet")); got != want {
				t.Errorf("%d packet lines, tcpdump selects %d", got, want)
			}
			for _, p := range byType(recs, "packet") {
				hasFields(t, "packet", p, []string{"time", "length", "proto", "src", "dst", "src_port", "dst_port", "flags", "summary"})
			}
			sum := summaryOf(t, recs)
			if got := sum["capture"].(map[string]any)["packet_filter"]; got != expr {
				t.Errorf("capture.packet_filter = %v", got)
			}
			if got := num(t, sum["capture"].(map[string]any), "packets_matched"); got != uint64(want) {
				t.Errorf("capture.packets_matched = %d, tcpdump selects %d", got, want)
			}
			// the dashboards keep counting everything
			if got, all := num(t, sum["capture"].(map[string]any), "received"), tcpdumpCount(t, file, ""); got != uint64(all) {
				t.Errorf("capture.received %d with a packet filter, want every packet (%d)", got, all)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", out, fi.Mode().Perm())
			}
			if got := tcpdumpCount(t, out, ""); got != want {
				t.Errorf("tcpdump reads %d packets from the written file, want %d", got, want)
			}
			a := talkerConvs(t, summaryOf(t, runReplay(t, "-r", out, "--top", "0")))
			b := talkerConvs(t, summaryOf(t, runReplay(t, "-r", file, "-f", expr, "--top", "0")))
			if d := capturetest.Diff(b, a); len(d) > 0 {
				t.Errorf("replaying the written file differs from filtering the original:\n%s", strings.Join(d, "\n"))
			}
		})
	}
}

// TestReplayCountAndIntervals: --count stops a replay early, and intervals follow the file's
// clock (interval_s of every line but the last is the --interval).
func TestReplayCountAndIntervals(t *testing.T) {
	recs := runReplay(t, "-r", "testdata/pcap/mixed-vlan.pcap", "--interval", "2s")
	samples := byType(recs, "sample")
	if len(samples) < 3 {
		t.Fatalf("only %d samples", len(samples))
	}
	for i, s := range samples[:len(samples)-1] {
		if iv := s["interval_s"].(float64); iv != 2 {
			t.Errorf("sample %d: interval_s %v on the file's clock, want 2", i, iv)
		}
	}
	n := len(samples) - 1
	recs = runReplay(t, "-r", "testdata/pcap/mixed-vlan.pcap", "--interval", "2s", "--count", strconv.Itoa(n))
	if got := len(byType(recs, "sample")); got != n {
		t.Errorf("--count %d printed %d samples", n, got)
	}
	summaryOf(t, recs)
}

// TestMaxFlows replays demo.pcap (1,106 TCP conversations) with a flow table of 10: the
// flows that find it full land in the overflow row, and the talkers still account every
// packet and byte that an unbounded run accounts.
func TestMaxFlows(t *testing.T) {
	totals := func(sum record) (pkts, bytes, overflow uint64) {
		for _, tk := range list(t, sum, "talkers") {
			p := num(t, tk, "rx_packets") + num(t, tk, "tx_packets")
			pkts += p
			bytes += num(t, tk, "rx_bytes") + num(t, tk, "tx_bytes")
			if tk["proto"] == "overflow" {
				overflow += p
			}
		}
		return
	}
	const file = "testdata/pcap/demo.pcap"
	wantPkts, wantBytes, wantOverflow := totals(summaryOf(t, runReplay(t, "-r", file, "--top", "0")))
	gotPkts, gotBytes, overflow := totals(summaryOf(t, runReplay(t, "-r", file, "--top", "0", "--max-flows", "10")))
	if wantOverflow != 0 {
		t.Errorf("the default table overflowed on demo.pcap: %d packets", wantOverflow)
	}
	if overflow == 0 {
		t.Errorf("--max-flows 10: no packets in the overflow row")
	}
	if gotPkts != wantPkts || gotBytes != wantBytes {
		t.Errorf("--max-flows 10: talkers hold %d packets, %d bytes; unbounded %d, %d", gotPkts, gotBytes, wantPkts, wantBytes)
	}
	t.Logf("%d packets, %d bytes; %d of them in the overflow row with --max-flows 10", gotPkts, gotBytes, overflow)
}

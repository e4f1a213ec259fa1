//go:build linux

package capture

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// filterExprs are tried on every test pcap. Some do not compile for some
// link types ("vlan" on a Linux cooked capture): then tcpdump and wiretop
// must both refuse them.
var filterExprs = []string{
	"tcp",
	"udp port 53",
	"vlan and ip6",
	"tcp[tcpflags] & tcp-syn != 0",
	"vlan and tcp[tcpflags] & tcp-syn != 0",
	"host 198.18.0.2 and not port 80",
	"ip6 and udp",
	"vlan and (ip6 and udp)",
	"vlan and vlan and udp",
	"greater 1000", // the wire length, not the captured 256 bytes
	"icmp or icmp6",
	"ip6 and ip6[6] == 44",
	"vlan and ip and tcp port 8080",
}

// tcpdumpFilter counts with tcpdump; ok is false when tcpdump refuses the
// expression for that file, with its message.
func tcpdumpFilter(t *testing.T, file, expr string) (n uint64, ok bool, msg string) {
	t.Helper()
	cmd := exec.Command("tcpdump", "--count", "-r", file, expr)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, false, stderr.String()
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[1] != "packets" {
		t.Fatalf("tcpdump --count printed %q", out)
	}
	n, err = strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n, true, ""
}

// TestBaseFilterMatchesTcpdump: with -f EXPR a replay accounts exactly the
// packets tcpdump selects with EXPR.
func TestBaseFilterMatchesTcpdump(t *testing.T) {
	needTool(t, "tcpdump")
	nonzero := map[string]bool{}
	for _, file := range testPcaps(t) {
		for _, expr := range filterExprs {
			want, ok, msg := tcpdumpFilter(t, file, expr)
			c, err := Open(Options{ReplayFile: file, BaseFilter: expr})
			if !ok {
				if !errors.Is(err, ErrBadFilter) {
					t.Errorf("%s %q: tcpdump refuses it (%s), Open says %v", filepath.Base(file), expr, strings.TrimSpace(msg), err)
				}
				if c != nil {
					c.Close()
				}
				continue
			}
			if err != nil {
				t.Errorf("%s %q: %v", filepath.Base(file), expr, err)
				continue
			}
			res := drive(t, c)
			c.Close()
			if res.err != nil {
				t.Errorf("%s %q: Run: %v", filepath.Base(file), expr, res.err)
			}
			if got := res.packets(); got != want {
				t.Errorf("%s -f %q: accounted %d packets, tcpdump %d", filepath.Base(file), expr, got, want)
			}
			if got := res.batches[len(res.batches)-1].Stats.Received; got != want {
				t.Errorf("%s -f %q: Stats.Received %d, tcpdump %d", filepath.Base(file), expr, got, want)
			}
			if want > 0 {
				nonzero[expr] = true
			}
		}
	}
	if len(nonzero) < 8 {
		t.Errorf("only %d expressions selected any packet: the test proves little", len(nonzero))
	}
}

// TestPacketFilterMatchesTcpdump: the packet filter selects exactly what
// tcpdump selects (Batch.PacketsMatched), while the flows keep counting every
// packet of the file.
func TestPacketFilterMatchesTcpdump(t *testing.T) {
	needTool(t, "tcpdump")
	nonzero := 0
	for _, file := range testPcaps(t) {
		total := tcpdumpCount(t, file, "")
		for _, expr := range filterExprs {
			want, ok, _ := tcpdumpFilter(t, file, expr)
			if !ok {
				continue
			}
			res := replay(t, Options{ReplayFile: file, PacketFilter: expr}, nil)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if res.matched != want {
				t.Errorf("%s packet filter %q: matched %d, tcpdump %d", filepath.Base(file), expr, res.matched, want)
			}
			if got := res.packets(); got != total {
				t.Errorf("%s packet filter %q: flows counted %d packets, the file has %d", filepath.Base(file), expr, got, total)
			}
			for _, b := range res.batches {
				if uint64(len(b.Packets)) != min(b.PacketsMatched, DefaultRingSize) {
					t.Errorf("%s %q: batch with %d matched has %d packets", filepath.Base(file), expr, b.PacketsMatched, len(b.Packets))
				}
			}
			if want > 0 {
				nonzero++
			}
		}
	}
	if nonzero < 8 {
		t.Errorf("only %d file/expression pairs matched any packet", nonzero)
	}
}

// TestPacketRing: Batch.Packets holds the newest matched packets, oldest
// first, at most RingSize; none without a packet filter unless Viewing.
func TestPacketRing(t *testing.T) {
	needTool(t, "tcpdump")
	file := filepath.Join(pcapDir, "mixed-vlan.pcap")
	expr := "vlan and tcp port 5201"
	res := replay(t, Options{ReplayFile: file, PacketFilter: expr, RingSize: 5, Interval: time.Hour}, nil)
	if len(res.batches) != 1 {
		t.Fatalf("%d batches for a one-hour interval", len(res.batches))
	}
	b := res.batches[0]
	if len(b.Packets) != 5 || b.PacketsMatched <= 5 {
		t.Fatalf("%d packets kept, %d matched; want 5 of more", len(b.Packets), b.PacketsMatched)
	}
	for i := 1; i < len(b.Packets); i++ {
		if b.Packets[i].Time.Before(b.Packets[i-1].Time) {
			t.Errorf("packets not oldest first: %v after %v", b.Packets[i].Time, b.Packets[i-1].Time)
		}
	}
	// The newest: tcpdump's last matching packet.
	out, err := exec.Command("tcpdump", "-r", file, "-nn", "-tt", expr).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	lastTS := strings.Fields(lines[len(lines)-1])[0]
	sec, _ := strconv.ParseFloat(lastTS, 64)
	if d := b.Packets[4].Time.Sub(time.Unix(0, int64(sec*1e9))); d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("newest packet at %v, tcpdump's last at %s", b.Packets[4].Time, lastTS)
	}
	if s := b.Packets[4].Summary; !strings.Contains(s, "5201") {
		t.Errorf("summary %q does not mention port 5201", s)
	}

	none := replay(t, Options{ReplayFile: file}, nil)
	for _, b := range none.batches {
		if len(b.Packets) > 0 {
			t.Fatalf("no packet filter, not viewing: batch has %d packets", len(b.Packets))
		}
	}
	viewing := replay(t, Options{ReplayFile: file}, func(c *Capture) { c.SetViewing(true) })
	var n uint64
	for _, b := range viewing.batches {
		n += uint64(len(b.Packets))
	}
	if n != viewing.packets() {
		t.Errorf("viewing without a filter: %d packets kept, %d in the file", n, viewing.packets())
	}
}

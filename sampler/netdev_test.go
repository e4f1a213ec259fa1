package sampler

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// netDevHeader is the two header lines of /proc/net/dev.
const netDevHeader = "Inter-|   Receive                                                |  Transmit\n" +
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"

func TestReadNetDev(t *testing.T) {
	tests := []struct {
		root string
		want []IfaceCounters
	}{
		{
			// A copy of this machine's /proc/net/dev.
			root: "testdata/proc-dev-basic",
			want: []IfaceCounters{
				{Name: "lo", RxBytes: 2153972, RxPackets: 35083, TxBytes: 2153972, TxPackets: 35083},
				{Name: "ifb0"},
				{Name: "ifb1"},
				{Name: "eth0", RxBytes: 99497682, RxPackets: 6298, TxBytes: 591573, TxPackets: 5845},
			},
		},
		{
			// Names with '.', '-', '@', '_', a 15-character name, counters glued to the
			// colon, every counter distinct, and the largest counters.
			root: "testdata/proc-dev-names",
			want: []IfaceCounters{
				{Name: "lo", RxBytes: 3193, RxPackets: 29, TxBytes: 3193, TxPackets: 29},
				{
					Name:    "eth0.100",
					RxBytes: 123456789012, RxPackets: 98765432, RxErrors: 1, RxDropped: 2,
					TxBytes: math.MaxUint64, TxPackets: math.MaxUint32, TxErrors: 3, TxDropped: 4,
				},
				{Name: "br-1a2b3c4d5e6f"},
				{Name: "wg@home", RxBytes: 100, RxPackets: 1, TxBytes: 200, TxPackets: 2},
				{Name: "veth-a.b_c", RxBytes: 1e18, RxPackets: 1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.root), func(t *testing.T) {
			got, err := readNetDev(tt.root)
			if err != nil {
				t.Fatalf("readNetDev(%q): %v", tt.root, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("readNetDev(%q) mismatch (-want +got):\n%s", tt.root, diff)
			}
		})
	}
}

func TestReadNetDevMalformed(t *testing.T) {
	tests := []struct {
		root string
		want string // the error message starts with the path, then this
	}{
		{"testdata/proc-dev-short", ": line 4: interface \"eth0\": 15 counters, want 16: malformed input"},
		{"testdata/proc-dev-nonnumeric", ": line 3: interface \"lo\": counter 1: not a number: \"31x3\": malformed input"},
		{"testdata/proc-dev-noheader", ": line 1: missing header"},
		{"testdata/proc-dev-nocolon", ": line 4: no ':' after the interface name"},
		{"testdata/proc-dev-overflow", ": line 3: interface \"eth0\": counter 1: number out of range"},
		{"testdata/proc-dev-empty", ": line 1: missing header (0 of 2 header lines)"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.root), func(t *testing.T) {
			got, err := readNetDev(tt.root)
			if err == nil {
				t.Fatalf("readNetDev(%q) = %v, want an error", tt.root, got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("readNetDev(%q) error %q does not wrap ErrMalformed", tt.root, err)
			}
			prefix := filepath.Join(tt.root, "net", "dev") + tt.want
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("readNetDev(%q) error\n%q\ndoes not start with\n%q", tt.root, err, prefix)
			}
		})
	}
}

func TestReadNetDevMissing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "proc")
	_, err := readNetDev(root)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("readNetDev(%q) error = %v, want fs.ErrNotExist", root, err)
	}
	if path := filepath.Join(root, "net", "dev"); !strings.Contains(err.Error(), path) {
		t.Errorf("readNetDev(%q) error %q does not name %s", root, err, path)
	}
}

func TestParseNetDev(t *testing.T) {
	zeros := " 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
	tests := []struct {
		name    string
		in      string
		want    []IfaceCounters
		wantErr string // substring of the error; "" for none
	}{
		{name: "headers only", in: netDevHeader, want: nil},
		{name: "no trailing newline", in: netDevHeader + "  eth0:" + strings.TrimSuffix(zeros, "\n"), want: []IfaceCounters{{Name: "eth0"}}},
		{name: "tabs and blank line", in: netDevHeader + "\n\teth0:\t1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n", want: []IfaceCounters{{Name: "eth0", RxBytes: 1, TxBytes: 2}}},
		{name: "field order", in: netDevHeader + "x: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", want: []IfaceCounters{{
			Name: "x", RxBytes: 1, RxPackets: 2, RxErrors: 3, RxDropped: 4, TxBytes: 9, TxPackets: 10, TxErrors: 11, TxDropped: 12,
		}}},
		{name: "one header line", in: "Inter-|   Receive |  Transmit\n", wantErr: "line 2: missing header (1 of 2"},
		{name: "second header without bar", in: "Inter-|\n face bytes\n", wantErr: "line 2: missing header"},
		{name: "empty name", in: netDevHeader + "   :" + zeros, wantErr: "line 3: empty interface name"},
		{name: "17 counters", in: netDevHeader + "eth0:" + strings.TrimSuffix(zeros, "\n") + " 0\n", wantErr: "line 3: interface \"eth0\": more than 16 counters"},
		{name: "negative", in: netDevHeader + "eth0: -1" + zeros[2:], wantErr: "line 3: interface \"eth0\": counter 1: not a number: \"-1\""},
		{name: "line too long", in: netDevHeader + "eth0:" + strings.Repeat("1", 70000) + "\n", wantErr: "line 3: malformed input: bufio.Scanner: token too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseNetDev(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("parseNetDev() = %v, %v; want an ErrMalformed error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseNetDev(): %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseNetDev() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCounterDelta(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur uint64
		want      uint64
	}{
		{"equal", 42, 42, 0},
		{"zero", 0, 0, 0},
		{"increase", 100, 250, 150},
		{"from zero", 0, math.MaxUint64, math.MaxUint64},
		{"64-bit wrap", math.MaxUint64 - 9, 5, 15},
		{"64-bit wrap at the top quarter", 3 << 62, 0, 1 << 62},
		{"64-bit wrap to the same value", math.MaxUint64, math.MaxUint64 - 1, math.MaxUint64},
		{"32-bit wrap", math.MaxUint32 - 9, 5, 15},
		{"32-bit wrap at the top quarter", 3 << 30, 0, 1 << 30},
		{"reset below the 32-bit top quarter", 3<<30 - 1, 7, 7},
		{"reset of a 64-bit counter", 1 << 40, 1000, 1000},
		{"reset just below the 64-bit top quarter", 3<<62 - 1, 1000, 1000},
		{"reset to zero", 123456789, 0, 0},
		{"reset above 2^32", 1<<32 + 5, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := counterDelta(tt.prev, tt.cur); got != tt.want {
				t.Errorf("counterDelta(%d, %d) = %d, want %d", tt.prev, tt.cur, got, tt.want)
			}
		})
	}
}

func TestIfaceDeltas(t *testing.T) {
	c := func(name string, rxBytes, txBytes uint64) IfaceCounters {
		return IfaceCounters{Name: name, RxBytes: rxBytes, TxBytes: txBytes}
	}
	d := func(name string, rxBytes, txBytes uint64) IfaceDelta {
		return IfaceDelta{Name: name, RxBytes: rxBytes, TxBytes: txBytes}
	}
	tests := []struct {
		name      string
		prev, cur []IfaceCounters
		gone      map[string]bool
		want      []IfaceDelta
	}{
		{
			name: "every counter, sorted by name",
			prev: []IfaceCounters{{Name: "wlan0"}, {Name: "eth0", RxBytes: 1, RxPackets: 2, RxErrors: 3, RxDropped: 4, TxBytes: 5, TxPackets: 6, TxErrors: 7, TxDropped: 8}},
			cur:  []IfaceCounters{{Name: "wlan0", RxBytes: 9}, {Name: "eth0", RxBytes: 11, RxPackets: 22, RxErrors: 33, RxDropped: 44, TxBytes: 55, TxPackets: 66, TxErrors: 77, TxDropped: 88}},
			want: []IfaceDelta{{Name: "eth0", RxBytes: 10, RxPackets: 20, RxErrors: 30, RxDropped: 40, TxBytes: 50, TxPackets: 60, TxErrors: 70, TxDropped: 80}, {Name: "wlan0", RxBytes: 9}},
		},
		{
			name: "first sample: everything is a baseline",
			prev: nil,
			cur:  []IfaceCounters{c("lo", 500, 500), c("eth0", 1000, 2000)},
			want: []IfaceDelta{d("eth0", 0, 0), d("lo", 0, 0)},
		},
		{
			name: "new interface counts zero",
			prev: []IfaceCounters{c("eth0", 100, 100)},
			cur:  []IfaceCounters{c("eth0", 150, 120), c("veth1", 9000, 9000)},
			want: []IfaceDelta{d("eth0", 50, 20), d("veth1", 0, 0)},
		},
		{
			name: "vanished interface is omitted",
			prev: []IfaceCounters{c("eth0", 100, 100), c("tun0", 5, 5)},
			cur:  []IfaceCounters{c("eth0", 110, 100)},
			want: []IfaceDelta{d("eth0", 10, 0)},
		},
		{
			name: "renamed: the new name is a baseline, the old one is omitted",
			prev: []IfaceCounters{c("eth0", 1000, 1000)},
			cur:  []IfaceCounters{c("ens3", 1100, 1050)},
			want: []IfaceDelta{d("ens3", 0, 0)},
		},
		{
			name: "two interfaces swap names: the lower counter is a reset, the higher an increase",
			prev: []IfaceCounters{c("eth0", 1000, 1000), c("eth1", 5000, 5000)},
			cur:  []IfaceCounters{c("eth0", 5010, 5010), c("eth1", 1010, 1010)},
			want: []IfaceDelta{d("eth0", 4010, 4010), d("eth1", 1010, 1010)},
		},
		{
			name: "re-created with the same name: a reset",
			prev: []IfaceCounters{c("veth0", 1<<40, 1<<40)},
			cur:  []IfaceCounters{c("veth0", 300, 200)},
			want: []IfaceDelta{d("veth0", 300, 200)},
		},
		{
			name: "deleted, absent from a read, and created again: counts from zero",
			prev: []IfaceCounters{c("eth0", 100, 100)},
			cur:  []IfaceCounters{c("eth0", 100, 100), c("veth0", 300, 200)},
			gone: map[string]bool{"veth0": true},
			want: []IfaceDelta{d("eth0", 0, 0), d("veth0", 300, 200)},
		},
		{
			name: "wrap",
			prev: []IfaceCounters{c("eth0", math.MaxUint64-4, math.MaxUint32-4)},
			cur:  []IfaceCounters{c("eth0", 5, 5)},
			want: []IfaceDelta{d("eth0", 10, 10)},
		},
		{
			name: "nothing now",
			prev: []IfaceCounters{c("eth0", 1, 1)},
			cur:  nil,
			want: []IfaceDelta{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ifaceDeltas(tt.prev, tt.cur, tt.gone)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ifaceDeltas() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseNetDev checks that parseNetDev never panics, that an error always wraps
// ErrMalformed and names a line, and that what parses has names without ':' or spaces.
func FuzzParseNetDev(f *testing.F) {
	for _, root := range []string{"testdata/proc-dev-basic", "testdata/proc-dev-names", "testdata/proc-dev-short", "testdata/proc-dev-nonnumeric"} {
		b, err := os.ReadFile(filepath.Join(root, "net", "dev"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(netDevHeader + "eth0:1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseNetDev(strings.NewReader(string(b)))
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("parseNetDev error %q: want ErrMalformed and a line number", err)
			}
			return
		}
		for _, c := range got {
			if c.Name == "" || strings.ContainsAny(c.Name, ": \t\n") {
				t.Fatalf("parseNetDev returned interface name %q", c.Name)
			}
		}
	})
}

// BenchmarkParseNetDev parses a /proc/net/dev of 64 interfaces.
func BenchmarkParseNetDev(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(netDevHeader)
	for i := range 64 {
		sb.WriteString("  veth" + strings.Repeat("x", i%8) + ": 98742073    6056    0    0    0     0          0         0   559302    5606    0    0    0     0       0          0\n")
	}
	in := sb.String()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseNetDev(strings.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

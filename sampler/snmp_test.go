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

func TestReadKernelTCP(t *testing.T) {
	tests := []struct {
		root string
		want KernelTCP
	}{
		{
			// Copies of this machine's /proc/net/snmp and /proc/net/netstat.
			root: "testdata/proc-snmp-basic",
			want: KernelTCP{ActiveOpens: 5055, PassiveOpens: 5008, OutRsts: 2},
		},
		{
			// The same files with every value of the Tcp: and TcpExt: lines replaced by
			// 1000 (Tcp:) or 2000 (TcpExt:) plus its position, so that an off-by-one
			// column is seen. MaxConn stays -1.
			root: "testdata/proc-snmp-indexed",
			want: KernelTCP{
				ActiveOpens: 1005, PassiveOpens: 1006, AttemptFails: 1007, EstabResets: 1008,
				RetransSegs: 1012, InErrs: 1013, OutRsts: 1014,
				SyncookiesSent: 2001, SyncookiesRecv: 2002, SyncookiesFailed: 2003,
				ListenOverflows: 2023, ListenDrops: 2024, TCPReqQFullDrop: 2080,
			},
		},
		{
			// An older kernel without TCPReqQFullDrop: it stays zero.
			root: "testdata/proc-snmp-old",
			want: KernelTCP{
				ActiveOpens: 5055, PassiveOpens: 5008, OutRsts: 2,
				SyncookiesSent: 2001, SyncookiesRecv: 2002, SyncookiesFailed: 2003,
				ListenOverflows: 2023, ListenDrops: 2024,
			},
		},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.root), func(t *testing.T) {
			got, err := readKernelTCP(tt.root)
			if err != nil {
				t.Fatalf("readKernelTCP(%q): %v", tt.root, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("readKernelTCP(%q) mismatch (-want +got):\n%s", tt.root, diff)
			}
		})
	}
}

func TestReadKernelTCPMalformed(t *testing.T) {
	tests := []struct {
		root string
		file string // the file the error must name
		want string // what follows the path in the error
	}{
		{"testdata/proc-snmp-nonnumeric", "snmp", ": line 8: Tcp ActiveOpens: not a number: \"5x55\": malformed input"},
		{"testdata/proc-snmp-negative", "snmp", ": line 8: Tcp OutRsts: not a number: \"-2\": malformed input"},
		{"testdata/proc-snmp-short", "snmp", ": line 8: Tcp: 14 values, the header has more (next \"InCsumErrors\"): malformed input"},
		{"testdata/proc-snmp-noheader", "snmp", ": line 11: no Tcp: header: malformed input"},
		{"testdata/proc-snmp-novalues", "snmp", ": line 8: want the Tcp: values after the header on line 7, got \"Udp: InDatagrams"},
		{"testdata/proc-snmp-netstat-extra", "netstat", ": line 2: TcpExt: more values than the "},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.root), func(t *testing.T) {
			got, err := readKernelTCP(tt.root)
			if err == nil {
				t.Fatalf("readKernelTCP(%q) = %+v, want an error", tt.root, got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("readKernelTCP(%q) error %q does not wrap ErrMalformed", tt.root, err)
			}
			prefix := filepath.Join(tt.root, "net", tt.file) + tt.want
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("readKernelTCP(%q) error\n%q\ndoes not start with\n%q", tt.root, err, prefix)
			}
			if got != (KernelTCP{}) {
				t.Errorf("readKernelTCP(%q) = %+v with an error, want zero counters", tt.root, got)
			}
		})
	}
}

func TestReadKernelTCPMissing(t *testing.T) {
	tests := []struct {
		root string
		file string
	}{
		{filepath.Join(t.TempDir(), "proc"), "snmp"},
		{"testdata/proc-snmp-netstat-missing", "netstat"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := readKernelTCP(tt.root)
			if !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("readKernelTCP(%q) error = %v, want fs.ErrNotExist", tt.root, err)
			}
			if path := filepath.Join(tt.root, "net", tt.file); !strings.Contains(err.Error(), path) {
				t.Errorf("readKernelTCP(%q) error %q does not name %s", tt.root, err, path)
			}
		})
	}
}

func TestParseSNMP(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    KernelTCP
		wantErr string // substring of the error; "" for none
	}{
		{
			name: "only the Tcp pair, fields in another order, extra fields",
			in:   "Tcp: OutRsts New ActiveOpens\nTcp: 3 -7 9\n",
			want: KernelTCP{OutRsts: 3, ActiveOpens: 9},
		},
		{
			name: "the first pair wins and later lines are not read",
			in:   "Ip: a\nIp: 1\nTcp: InErrs\nTcp: 4\nTcp: InErrs\nTcp: x\n",
			want: KernelTCP{InErrs: 4},
		},
		{
			name: "the largest counter",
			in:   "Tcp: RetransSegs\nTcp: 18446744073709551615\n",
			want: KernelTCP{RetransSegs: math.MaxUint64},
		},
		{name: "empty", in: "", wantErr: "line 1: no Tcp: header"},
		{name: "TcpExt is not Tcp", in: "TcpExt: InErrs\nTcpExt: 1\n", wantErr: "line 3: no Tcp: header"},
		{name: "header at the end", in: "Ip: a\nIp: 1\nTcp: InErrs", wantErr: "line 4: Tcp: header on line 3 has no value line"},
		{name: "value line is not Tcp", in: "Tcp: InErrs\nUdp: 1\n", wantErr: "line 2: want the Tcp: values after the header on line 1"},
		{name: "values as the header", in: "Tcp: 1 2\nTcp: 1 2\n", wantErr: "line 1: Tcp: name 1 of the header is a number"},
		{name: "more values", in: "Tcp: InErrs\nTcp: 1 2\n", wantErr: "line 2: Tcp: more values than the 1 names of the header"},
		{name: "fewer values", in: "Tcp: InErrs OutRsts\nTcp: 1\n", wantErr: "line 2: Tcp: 1 values, the header has more (next \"OutRsts\")"},
		{name: "other field not a number", in: "Tcp: MaxConn\nTcp: -\n", wantErr: "line 2: Tcp MaxConn: not a number: \"-\""},
		{name: "kept field too large", in: "Tcp: InErrs\nTcp: 18446744073709551616\n", wantErr: "line 2: Tcp InErrs: number out of range"},
		{name: "line too long", in: "Tcp: " + strings.Repeat("x", maxKernelLine+1) + "\n", wantErr: "line 1: malformed input: bufio.Scanner: token too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got KernelTCP
			err := parseSNMP(strings.NewReader(tt.in), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("parseSNMP() error = %v; want an ErrMalformed error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseSNMP(): %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseSNMP() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseLeavesOtherFields checks that parseSNMP and parseNetstat fill only their own
// fields, so that readKernelTCP can run both on one KernelTCP.
func TestParseLeavesOtherFields(t *testing.T) {
	k := KernelTCP{ListenDrops: 7}
	if err := parseSNMP(strings.NewReader("Tcp: InErrs\nTcp: 4\n"), &k); err != nil {
		t.Fatal(err)
	}
	if err := parseNetstat(strings.NewReader("TcpExt: ListenOverflows\nTcpExt: 5\n"), &k); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(KernelTCP{InErrs: 4, ListenOverflows: 5, ListenDrops: 7}, k); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestParseNetstat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    KernelTCP
		wantErr string
	}{
		{
			name: "all kept fields",
			in: "TcpExt: SyncookiesSent SyncookiesRecv SyncookiesFailed ListenOverflows ListenDrops TCPReqQFullDrop TW\n" +
				"TcpExt: 1 2 3 4 5 6 7\nIpExt: InNoRoutes\nIpExt: 0\n",
			want: KernelTCP{SyncookiesSent: 1, SyncookiesRecv: 2, SyncookiesFailed: 3, ListenOverflows: 4, ListenDrops: 5, TCPReqQFullDrop: 6},
		},
		{name: "Tcp is not TcpExt", in: "Tcp: ListenDrops\nTcp: 1\n", wantErr: "line 3: no TcpExt: header"},
		{name: "values without header", in: "TcpExt: 1 2\nTcpExt: 1 2\n", wantErr: "line 1: TcpExt: name 1 of the header is a number"},
		{name: "not a number", in: "TcpExt: ListenDrops\nTcpExt: 0x10\n", wantErr: "line 2: TcpExt ListenDrops: not a number: \"0x10\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got KernelTCP
			err := parseNetstat(strings.NewReader(tt.in), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("parseNetstat() error = %v; want an ErrMalformed error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseNetstat(): %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseNetstat() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKernelDelta(t *testing.T) {
	all := func(v uint64) KernelTCP {
		return KernelTCP{v, v, v, v, v, v, v, v, v, v, v, v, v}
	}
	tests := []struct {
		name      string
		prev, cur KernelTCP
		want      KernelTCP
	}{
		{"equal", all(9), all(9), all(0)},
		{"every field", all(10), all(15), all(5)},
		{"distinct fields", KernelTCP{ActiveOpens: 1, TCPReqQFullDrop: 2}, KernelTCP{ActiveOpens: 4, ListenDrops: 3, TCPReqQFullDrop: 9}, KernelTCP{ActiveOpens: 3, ListenDrops: 3, TCPReqQFullDrop: 7}},
		{"reset after a reboot", all(5000), all(20), all(20)},
		{"32-bit wrap", all(math.MaxUint32), all(1), all(2)},
		{"64-bit wrap", all(math.MaxUint64), all(1), all(2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, kernelDelta(tt.prev, tt.cur)); diff != "" {
				t.Errorf("kernelDelta() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// fuzzCounterPair checks the invariants of parseSNMP and parseNetstat: no panic, an
// error always wraps ErrMalformed and names a line.
func fuzzCounterPair(f *testing.F, file string, parse func(*strings.Reader, *KernelTCP) error) {
	for _, root := range []string{"testdata/proc-snmp-basic", "testdata/proc-snmp-indexed", "testdata/proc-snmp-old", "testdata/proc-snmp-short"} {
		b, err := os.ReadFile(filepath.Join(root, "net", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("Tcp: A B\nTcp: 1 -2\nTcpExt: A\nTcpExt: 3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var k KernelTCP
		if err := parse(strings.NewReader(string(b)), &k); err != nil {
			if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("error %q: want ErrMalformed and a line number", err)
			}
		}
	})
}

// FuzzParseSNMP fuzzes parseSNMP, seeded with the snmp fixtures.
func FuzzParseSNMP(f *testing.F) {
	fuzzCounterPair(f, "snmp", func(r *strings.Reader, k *KernelTCP) error { return parseSNMP(r, k) })
}

// FuzzParseNetstat fuzzes parseNetstat, seeded with the netstat fixtures.
func FuzzParseNetstat(f *testing.F) {
	fuzzCounterPair(f, "netstat", func(r *strings.Reader, k *KernelTCP) error { return parseNetstat(r, k) })
}

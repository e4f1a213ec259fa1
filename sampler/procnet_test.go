package sampler

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The sockets of the fixture files under testdata/proc-sock-basic/net.
var (
	procTCP = []Socket{
		{Proto: ProtoTCP, State: StateListen, Local: netip.MustParseAddrPort("127.0.0.1:631"),
			Remote: netip.MustParseAddrPort("0.0.0.0:0"), Inode: 23456, RecvQ: 2},
		{Proto: ProtoTCP, State: StateEstablished, Local: netip.MustParseAddrPort("192.0.2.2:49864"),
			Remote: netip.MustParseAddrPort("203.0.113.80:443"), Inode: 34567, UID: 1000, SendQ: 16, RecvQ: 32},
		{Proto: ProtoTCP, State: StateTimeWait, Local: netip.MustParseAddrPort("192.0.2.2:49874"),
			Remote: netip.MustParseAddrPort("203.0.113.80:443")},
	}
	procTCP6 = []Socket{
		{Proto: ProtoTCP, State: StateListen, Local: netip.MustParseAddrPort("[::]:22"),
			Remote: netip.MustParseAddrPort("[::]:0"), Inode: 11111},
		{Proto: ProtoTCP, State: StateEstablished, Local: netip.MustParseAddrPort("[::ffff:127.0.0.1]:22"),
			Remote: netip.MustParseAddrPort("[::ffff:10.1.2.3]:60000"), Inode: 22222},
		{Proto: ProtoTCP, State: StateCloseWait, Local: netip.MustParseAddrPort("[2001:db8::1]:8080"),
			Remote: netip.MustParseAddrPort("[2001:db8::2]:54321"), Inode: 33333, UID: 1000, RecvQ: 1},
	}
	procUDP = []Socket{
		{Proto: ProtoUDP, State: StateClose, Local: netip.MustParseAddrPort("0.0.0.0:53"),
			Remote: netip.MustParseAddrPort("0.0.0.0:0"), Inode: 777, UID: 101, RecvQ: 768},
		{Proto: ProtoUDP, State: StateEstablished, Local: netip.MustParseAddrPort("10.0.2.2:40000"),
			Remote: netip.MustParseAddrPort("10.0.2.8:53"), Inode: 778, UID: 1000},
	}
	procUDP6 = []Socket{
		{Proto: ProtoUDP, State: StateClose, Local: netip.MustParseAddrPort("[fe80::fc:ff:fe00:1]:546"),
			Remote: netip.MustParseAddrPort("[::]:0"), Inode: 888},
	}
)

// cat joins socket lists.
func cat(ss ...[]Socket) []Socket {
	var out []Socket
	for _, s := range ss {
		out = append(out, s...)
	}
	return out
}

func TestReadProcNetSockets(t *testing.T) {
	prev := Socket{Proto: ProtoTCP, Inode: 1}
	tests := []struct {
		root    string
		want    []Socket
		wantErr []error
		errText string
	}{
		{root: "testdata/proc-sock-basic", want: cat(procTCP, procTCP6, procUDP, procUDP6)},
		// No tcp6 and udp6: a host without IPv6.
		{root: "testdata/proc-sock-noipv6", want: cat(procTCP, procUDP)},
		{root: "testdata/proc-sock-bad", wantErr: []error{ErrMalformed}, errText: "testdata/proc-sock-bad/net/tcp:3: "},
		{root: "testdata/proc-sock-notcp", wantErr: []error{fs.ErrNotExist}, errText: "testdata/proc-sock-notcp/net/tcp"},
		{root: "testdata/proc-sock-missing", wantErr: []error{fs.ErrNotExist}},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			got, err := readProcNetSockets(tt.root, []Socket{prev})
			if diff := cmp.Diff(append([]Socket{prev}, tt.want...), got, sockCmpOpt); diff != "" {
				t.Errorf("sockets (-want +got):\n%s", diff)
			}
			if tt.wantErr == nil && err != nil {
				t.Errorf("error %v, want none", err)
			}
			for _, target := range tt.wantErr {
				if !errors.Is(err, target) {
					t.Errorf("error %v, want one wrapping %v", err, target)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q does not contain %q", err, tt.errText)
			}
		})
	}
}

func TestParseProcNet(t *testing.T) {
	const hdr = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	const good = "   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23456 1 0000000000000000 100 0 0 10 0\n"
	const good6 = "   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5 1 0000000000000000 100 0 0 10 0\n"
	listen := Socket{Proto: ProtoTCP, State: StateListen, Local: netip.MustParseAddrPort("127.0.0.1:631"),
		Remote: netip.MustParseAddrPort("0.0.0.0:0"), Inode: 23456}
	tests := []struct {
		name    string
		in      string
		proto   Proto
		want    []Socket
		errLine string // the "line N:" the error must start with; "" means no error
	}{
		{name: "empty file", in: ""},
		{name: "header only", in: hdr},
		{name: "one socket", in: hdr + good, proto: ProtoTCP, want: []Socket{listen}},
		{name: "lowercase hex, tabs, CRLF, blank line", proto: ProtoTCP,
			in:   hdr + "\t0:\t0100007f:0277\t00000000:0000 0a 00000000:00000000 00:00000000 00000000 0 0 23456\r\n\n",
			want: []Socket{listen}},
		{name: "IPv6 ::1 and IPv4 in one file", in: hdr + good6 + good, proto: ProtoTCP, want: []Socket{
			{Proto: ProtoTCP, State: StateListen, Local: netip.MustParseAddrPort("[::1]:22"),
				Remote: netip.MustParseAddrPort("[::]:0"), Inode: 5},
			listen,
		}},
		{name: "no trailing newline", in: hdr + strings.TrimSuffix(good, "\n"), proto: ProtoTCP, want: []Socket{listen}},
		{name: "large inode and uid", proto: ProtoUDP,
			in: hdr + "   0: 0100007F:0277 00000000:0000 07 FFFFFFFF:FFFFFFFF 00:00000000 00000000 4294967295 0 18446744073709551 2\n",
			want: []Socket{{Proto: ProtoUDP, State: StateClose, Local: netip.MustParseAddrPort("127.0.0.1:631"),
				Remote: netip.MustParseAddrPort("0.0.0.0:0"), Inode: 18446744073709551, UID: 4294967295,
				RecvQ: 0xffffffff, SendQ: 0xffffffff}}},
		{name: "too few fields", in: hdr + good + "   1: 0100007F:0277 00000000:0000 0A\n", proto: ProtoTCP,
			want: []Socket{listen}, errLine: "line 3: "},
		{name: "bad hex in address", in: hdr + strings.Replace(good, "0100007F", "0100007G", 1), errLine: "line 2: "},
		{name: "short IPv4 address", in: hdr + strings.Replace(good, "0100007F", "100007F", 1), errLine: "line 2: "},
		{name: "odd IPv6 address", in: hdr + strings.Replace(good6, "01000000:0016", "0100000:0016", 1), errLine: "line 2: "},
		{name: "no port", in: hdr + strings.Replace(good, "0100007F:0277", "0100007F", 1), errLine: "line 2: "},
		{name: "short port", in: hdr + strings.Replace(good, ":0277", ":277", 1), errLine: "line 2: "},
		{name: "families differ", in: hdr + strings.Replace(good6, "00000000000000000000000000000000:0000", "00000000:0000", 1), errLine: "line 2: "},
		{name: "bad state", in: hdr + strings.Replace(good, " 0A ", " 0X ", 1), errLine: "line 2: "},
		{name: "long state", in: hdr + strings.Replace(good, " 0A ", " 00A ", 1), errLine: "line 2: "},
		{name: "bad queues", in: hdr + strings.Replace(good, "00000000:00000000 00:", "0000000000000000 00:", 1), errLine: "line 2: "},
		{name: "queue too long", in: hdr + strings.Replace(good, "00000000:00000000 00:", "000000000:00000000 00:", 1), errLine: "line 2: "},
		{name: "negative uid", in: hdr + strings.Replace(good, "     0        0 23456", "    -1        0 23456", 1), errLine: "line 2: "},
		{name: "uid over 32 bits", in: hdr + strings.Replace(good, "     0        0 23456", " 4294967296 0 23456", 1), errLine: "line 2: "},
		{name: "bad inode", in: hdr + strings.Replace(good, " 23456 ", " 2345x ", 1), errLine: "line 2: "},
		{name: "inode overflows", in: hdr + strings.Replace(good, " 23456 ", " 99999999999999999999 ", 1), errLine: "line 2: "},
		{name: "slot without colon", in: hdr + strings.Replace(good, "0: ", "0 ", 1), errLine: "line 2: "},
		{name: "line too long", in: hdr + good + strings.Repeat("0", 70<<10) + "\n", proto: ProtoTCP,
			want: []Socket{listen}, errLine: "line 3: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcNet(strings.NewReader(tt.in), tt.proto, nil)
			if diff := cmp.Diff(tt.want, got, sockCmpOpt); diff != "" {
				t.Errorf("sockets (-want +got):\n%s", diff)
			}
			switch {
			case tt.errLine == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.errLine != "" && (!errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), tt.errLine)):
				t.Errorf("error %v, want one starting %q wrapping ErrMalformed", err, tt.errLine)
			}
		})
	}
}

// FuzzParseProcNet feeds arbitrary files to parseProcNet: no panic, errors wrap
// ErrMalformed and name a line, sockets have valid addresses of one family.
func FuzzParseProcNet(f *testing.F) {
	for _, p := range []string{"tcp", "tcp6", "udp", "udp6"} {
		b, err := os.ReadFile("testdata/proc-sock-basic/net/" + p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	bad, err := os.ReadFile("testdata/proc-sock-bad/net/tcp")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(bad)
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := parseProcNet(strings.NewReader(string(b)), ProtoTCP, nil)
		if err != nil && (!errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "line ")) {
			t.Fatalf("error %v: want ErrMalformed and a line number", err)
		}
		for _, s := range out {
			if s.Proto != ProtoTCP || !s.Local.IsValid() || !s.Remote.IsValid() || s.Local.Addr().Is4() != s.Remote.Addr().Is4() {
				t.Fatalf("bad socket %+v", s)
			}
		}
	})
}

// BenchmarkParseProcNet parses a /proc/net/tcp of 10,000 sockets.
func BenchmarkParseProcNet(b *testing.B) {
	const line = "   1: 020200C0:C2C8 507100CB:01BB 01 00000010:00000020 02:000000F3 00000000  1000        0 34567 2 0000000000000000 20 4 30 10 -1                    \n"
	in := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		strings.Repeat(line, 10_000)
	dst := make([]Socket, 0, 10_000)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		out, err := parseProcNet(strings.NewReader(in), ProtoTCP, dst[:0])
		if err != nil || len(out) != 10_000 {
			b.Fatalf("%d sockets, %v", len(out), err)
		}
	}
}

package sampler

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// evRec builds a record as bpf/sockev.bpf.c writes it.
func evRec(family, proto, kind uint8, laddr, raddr []byte, lport, rport uint16, comm string) []byte {
	b := make([]byte, sockEvRecLen)
	ne := binary.NativeEndian
	ne.PutUint64(b[offEvCookie:], 4242)
	ne.PutUint64(b[offEvCgroup:], 77)
	copy(b[offEvSaddr:], laddr)
	copy(b[offEvDaddr:], raddr)
	ne.PutUint32(b[offEvTgid:], 1000)
	ne.PutUint32(b[offEvPid:], 1001)
	ne.PutUint32(b[offEvUID:], 33)
	ne.PutUint32(b[offEvNetNS:], 4026531840)
	ne.PutUint16(b[offEvSport:], lport)
	ne.PutUint16(b[offEvDport:], rport)
	b[offEvFamily], b[offEvProto], b[offEvKind] = family, proto, kind
	copy(b[offEvComm:], comm)
	return b
}

func ip(s string) []byte {
	a := netip.MustParseAddr(s)
	if a.Is4() {
		b := a.As4()
		return b[:]
	}
	b := a.As16()
	return b[:]
}

func TestParseSockEvent(t *testing.T) {
	owner := SockOwner{PID: 1000, TID: 1001, UID: 33, Cgroup: 77, NetNS: 4026531840, Cookie: 4242}
	withKind := func(k EventKind) SockOwner { o := owner; o.Kind = k; return o }
	tests := []struct {
		name string
		rec  []byte
		want SockEvent
		comm string
	}{
		{"tcp connect ipv4", evRec(linuxAFInet, 6, 1, ip("198.18.173.1"), ip("198.18.173.2"), 40000, 80, "curl"),
			SockEvent{Proto: ProtoTCP, Local: netip.MustParseAddrPort("198.18.173.1:40000"),
				Remote: netip.MustParseAddrPort("198.18.173.2:80"), Owner: withKind(EventConnect)}, "curl"},
		{"tcp connect ipv6", evRec(linuxAFInet6, 6, 1, ip("fd00::1"), ip("fd00::2"), 40000, 443, "wget"),
			SockEvent{Proto: ProtoTCP, Local: netip.MustParseAddrPort("[fd00::1]:40000"),
				Remote: netip.MustParseAddrPort("[fd00::2]:443"), Owner: withKind(EventConnect)}, "wget"},
		{"v4-mapped addresses are unmapped", evRec(linuxAFInet6, 6, 1, ip("::ffff:10.0.0.1"), ip("::ffff:10.0.0.2"), 1, 2, ""),
			SockEvent{Proto: ProtoTCP, Local: netip.MustParseAddrPort("10.0.0.1:1"),
				Remote: netip.MustParseAddrPort("10.0.0.2:2"), Owner: withKind(EventConnect)}, ""},
		{"unconnected udp: no remote", evRec(linuxAFInet, 17, 3, ip("0.0.0.0"), ip("0.0.0.0"), 5353, 0, "avahi-daemon"),
			SockEvent{Proto: ProtoUDP, Local: netip.MustParseAddrPort("0.0.0.0:5353"), Owner: withKind(EventUDPSend)}, "avahi-daemon"},
		{"listener", evRec(linuxAFInet6, 6, 2, ip("::"), ip("::"), 8080, 0, "a-sixteen-chars!"),
			SockEvent{Proto: ProtoTCP, Local: netip.MustParseAddrPort("[::]:8080"), Owner: withKind(EventListen)}, "a-sixteen-chars!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ev SockEvent
			comm, err := parseSockEvent(tt.rec, &ev)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, ev, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			ix := NewOwnerIndex(4, 0)
			if got := ix.intern(comm); got != tt.comm {
				t.Errorf("comm %q, want %q", got, tt.comm)
			}
		})
	}
	for _, bad := range [][]byte{
		evRec(linuxAFInet, 6, 1, nil, nil, 1, 2, "")[:sockEvRecLen-1],
		evRec(1, 6, 1, nil, nil, 1, 2, ""),           // AF_UNIX
		evRec(linuxAFInet, 1, 1, nil, nil, 1, 2, ""), // ICMP
	} {
		var ev SockEvent
		if _, err := parseSockEvent(bad, &ev); !errors.Is(err, ErrMalformed) {
			t.Errorf("record %x: error %v, want ErrMalformed", bad, err)
		}
	}
}

func ev(proto Proto, local, remote string, pid int, comm string, cookie uint64) *SockEvent {
	e := &SockEvent{Proto: proto, Local: netip.MustParseAddrPort(local), Owner: SockOwner{PID: pid, Comm: comm, Cookie: cookie}}
	if remote != "" {
		e.Remote = netip.MustParseAddrPort(remote)
	}
	return e
}

func TestOwnerIndexLookup(t *testing.T) {
	ix := NewOwnerIndex(64, 0)
	ix.Add(ev(ProtoTCP, "198.18.173.1:40000", "198.18.173.2:80", 10, "curl", 1))
	ix.Add(ev(ProtoTCP, "[fd00::1]:40001", "[fd00::2]:443", 11, "wget", 2))
	ix.Add(ev(ProtoTCP, "[::ffff:198.18.173.1]:40002", "[::ffff:198.18.173.3]:22", 12, "ssh", 3))
	ix.Add(ev(ProtoTCP, "0.0.0.0:8080", "", 20, "httpd", 4))
	ix.Add(ev(ProtoTCP, "[::]:9090", "", 21, "prom", 5))
	ix.Add(ev(ProtoUDP, "0.0.0.0:5353", "", 30, "mdns", 6))
	ix.Add(ev(ProtoUDP, "198.18.173.1:33000", "198.18.173.53:53", 31, "dig", 7))
	ix.Add(ev(ProtoUDP, "198.18.173.1:33001", "", 32, "bound", 8))
	tests := []struct {
		name          string
		proto         Proto
		local, remote string
		pid           int
	}{
		{"tcp 4-tuple", ProtoTCP, "198.18.173.1:40000", "198.18.173.2:80", 10},
		{"tcp swapped", ProtoTCP, "198.18.173.2:80", "198.18.173.1:40000", 10},
		{"tcp ipv6", ProtoTCP, "[fd00::1]:40001", "[fd00::2]:443", 11},
		{"v4-mapped socket, ipv4 flow", ProtoTCP, "198.18.173.1:40002", "198.18.173.3:22", 12},
		{"ipv4 flow given mapped", ProtoTCP, "[::ffff:198.18.173.1]:40000", "[::ffff:198.18.173.2]:80", 10},
		{"accepted by a listener on 0.0.0.0", ProtoTCP, "198.18.173.1:8080", "198.18.173.9:50000", 20},
		{"dual-stack listener takes ipv4", ProtoTCP, "198.18.173.1:9090", "198.18.173.9:50000", 21},
		{"listener on the remote side (orientation guessed)", ProtoTCP, "198.18.173.9:50000", "0.0.0.0:8080", 20},
		{"unconnected udp by local port", ProtoUDP, "198.18.173.1:5353", "224.0.0.251:5353", 30},
		{"connected udp", ProtoUDP, "198.18.173.1:33000", "198.18.173.53:53", 31},
		{"udp bound to the address", ProtoUDP, "198.18.173.1:33001", "198.18.173.53:53", 32},
		{"udp bound to another address", ProtoUDP, "198.18.173.7:33001", "198.18.173.53:53", 0},
		{"protocols do not mix", ProtoTCP, "198.18.173.1:5353", "224.0.0.251:5353", 0},
		{"listener on 0.0.0.0 does not take ipv6", ProtoTCP, "[fd00::1]:8080", "[fd00::9]:50000", 0},
		{"other port", ProtoTCP, "198.18.173.1:40009", "198.18.173.2:80", 0},
	}
	for _, tt := range tests {
		o, ok := ix.Lookup(uint8(tt.proto), netip.MustParseAddrPort(tt.local), netip.MustParseAddrPort(tt.remote))
		if ok != (tt.pid != 0) || o.PID != tt.pid {
			t.Errorf("%s: pid %d found %v, want %d", tt.name, o.PID, ok, tt.pid)
		}
	}
	if o, ok := ix.LookupCookie(7); !ok || o.PID != 31 {
		t.Errorf("cookie 7: %+v %v", o, ok)
	}
	if _, ok := ix.LookupCookie(0); ok {
		t.Error("cookie 0 found")
	}
	l, r := netip.MustParseAddrPort("198.18.173.1:5353"), netip.MustParseAddrPort("224.0.0.251:5353")
	if n := testing.AllocsPerRun(100, func() { ix.Lookup(17, l, r) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}

// TestOwnerIndexBounded: the index keeps the last Capacity owners, each for TTL; a tuple
// reported again lives in its new slot when the old one is reused.
func TestOwnerIndexBounded(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	ix := NewOwnerIndex(4, time.Minute)
	ix.now = func() time.Time { return now }
	conn := func(port uint16, pid int) *SockEvent {
		return &SockEvent{Proto: ProtoTCP, Local: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port),
			Remote: netip.MustParseAddrPort("10.0.0.2:80"), Owner: SockOwner{PID: pid, Cookie: uint64(pid)}}
	}
	find := func(port uint16) int {
		o, _ := ix.Lookup(6, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port), netip.MustParseAddrPort("10.0.0.2:80"))
		return o.PID
	}
	for i := 1; i <= 4; i++ {
		ix.Add(conn(uint16(1000+i), i))
	}
	ix.Add(conn(1001, 11)) // the same tuple again (a new socket): takes slot 0, the oldest
	if got := find(1001); got != 11 {
		t.Errorf("re-reported tuple: pid %d, want 11", got)
	}
	ix.Add(conn(1005, 5)) // takes the slot of 1002
	ix.Add(conn(1006, 6)) // of 1003
	if got := find(1002); got != 0 {
		t.Errorf("evicted tuple still found: pid %d", got)
	}
	if _, ok := ix.LookupCookie(2); ok {
		t.Error("evicted cookie still found")
	}
	if got := find(1001); got != 11 {
		t.Errorf("after eviction of its old slot's neighbours: pid %d, want 11", got)
	}
	if ix.Len() != 4 || ix.conn.n != 4 || ix.cookies.n != 4 {
		t.Errorf("Len %d, conn table %d, cookie table %d: want 4 each", ix.Len(), ix.conn.n, ix.cookies.n)
	}
	now = now.Add(2 * time.Minute)
	if got := find(1006); got != 0 {
		t.Errorf("owner older than the TTL found: pid %d", got)
	}
}

func TestOwnerIndexInternsComms(t *testing.T) {
	ix := NewOwnerIndex(8, 0)
	var c [16]byte
	copy(c[:], "curl")
	a, b := &SockEvent{Proto: ProtoTCP}, &SockEvent{Proto: ProtoTCP}
	ix.addRaw(a, c, map[uint32]string{})
	ix.addRaw(b, c, map[uint32]string{})
	if a.Owner.Comm != "curl" || unsafe.StringData(a.Owner.Comm) != unsafe.StringData(b.Owner.Comm) {
		t.Errorf("comms %q and %q are not one interned string", a.Owner.Comm, b.Owner.Comm)
	}
	if a.Owner.User != "root" && a.Owner.User != "0" {
		t.Errorf("user of uid 0: %q", a.Owner.User)
	}
}

// BenchmarkOwnerIndexAdd is the user-space cost of one socket event: parse the record and
// add it to a full index (the oldest owner is forgotten).
func BenchmarkOwnerIndexAdd(b *testing.B) {
	ix := NewOwnerIndex(0, 0)
	users := map[uint32]string{}
	rec := evRec(linuxAFInet, 6, 1, ip("198.18.173.1"), ip("198.18.173.2"), 0, 80, "curl")
	b.ReportAllocs()
	var ev SockEvent
	for i := 0; b.Loop(); i++ {
		binary.NativeEndian.PutUint16(rec[offEvSport:], uint16(i))
		binary.NativeEndian.PutUint64(rec[offEvCookie:], uint64(i+1))
		binary.NativeEndian.PutUint32(rec[offEvSaddr:], uint32(i>>16))
		comm, err := parseSockEvent(rec, &ev)
		if err != nil {
			b.Fatal(err)
		}
		ix.addRaw(&ev, comm, users)
	}
}

// BenchmarkOwnerIndexLookup is the cost of looking a new flow up in a full index.
func BenchmarkOwnerIndexLookup(b *testing.B) {
	ix := NewOwnerIndex(0, 0)
	for i := 0; i < DefaultOwnerCapacity; i++ {
		ix.Add(&SockEvent{Proto: ProtoTCP, Local: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 16), 1}), uint16(i)),
			Remote: netip.MustParseAddrPort("198.18.173.2:80"), Owner: SockOwner{PID: i + 1, Cookie: uint64(i + 1)}})
	}
	l, r := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, 1}), 777), netip.MustParseAddrPort("198.18.173.2:80")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := ix.Lookup(6, l, r); !ok {
			b.Fatal("not found")
		}
	}
}

package sampler

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// iterRec builds one record as tcpiter.bpf.c writes it.
func iterRec(s Socket, family uint8, full bool) []byte {
	r := make([]byte, tcpIterRecLen)
	ne := binary.NativeEndian
	ne.PutUint64(r[offRecCookie:], s.Cookie)
	ne.PutUint64(r[offRecInode:], s.Inode)
	ne.PutUint64(r[offRecBytesAck:], s.BytesAcked)
	ne.PutUint64(r[offRecBytesRecv:], s.BytesReceived)
	la, ra := s.Local.Addr().As16(), s.Remote.Addr().As16()
	if family == linuxAFInet {
		l4, r4 := s.Local.Addr().As4(), s.Remote.Addr().As4()
		copy(la[:], l4[:])
		copy(ra[:], r4[:])
		clear(la[4:])
		clear(ra[4:])
	}
	copy(r[offRecLaddr:], la[:])
	copy(r[offRecRaddr:], ra[:])
	ne.PutUint32(r[offRecUID:], s.UID)
	ne.PutUint32(r[offRecRqueue:], s.RecvQ)
	ne.PutUint32(r[offRecWqueue:], s.SendQ)
	ne.PutUint16(r[offRecLport:], s.Local.Port())
	ne.PutUint16(r[offRecRport:], s.Remote.Port())
	r[offRecState], r[offRecFamily] = byte(s.State), family
	if full {
		r[offRecFull] = 1
	}
	return r
}

func TestParseTCPIter(t *testing.T) {
	estab4 := Socket{Proto: ProtoTCP, State: StateEstablished, Cookie: 7,
		Local: netip.MustParseAddrPort("198.18.0.1:443"), Remote: netip.MustParseAddrPort("198.18.0.2:50000"),
		Inode: 123456, UID: 33, RecvQ: 10, SendQ: 20, HasInfo: true, BytesAcked: 1 << 40, BytesReceived: 99}
	listen6 := Socket{Proto: ProtoTCP, State: StateListen, Cookie: 8,
		Local: netip.MustParseAddrPort("[2001:db8::1]:22"), Remote: netip.MustParseAddrPort("[::]:0"),
		Inode: 5, RecvQ: 1, SendQ: 4096, HasInfo: true}
	tw := Socket{Proto: ProtoTCP, State: StateTimeWait, Cookie: 9,
		Local: netip.MustParseAddrPort("198.18.0.1:80"), Remote: netip.MustParseAddrPort("198.18.0.3:40000")}
	// a time-wait record carries no socket fields even if the bytes hold some
	twRec := iterRec(Socket{State: StateTimeWait, Cookie: 9, Local: tw.Local, Remote: tw.Remote, Inode: 77, UID: 5}, linuxAFInet, false)

	var b []byte
	b = append(b, iterRec(estab4, linuxAFInet, true)...)
	b = append(b, iterRec(listen6, linuxAFInet6, true)...)
	b = append(b, twRec...)
	prev := Socket{Proto: ProtoUDP, Cookie: 1}
	got, err := parseTCPIter(b, []Socket{prev})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Socket{prev, estab4, listen6, tw}, got, sockCmpOpt); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}

	for name, bad := range map[string][]byte{
		"partial record": b[:tcpIterRecLen+3],
		"bad family":     iterRec(estab4, 7, true),
	} {
		got, err := parseTCPIter(bad, nil)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error %v, want ErrMalformed", name, err)
		}
		if name == "partial record" && len(got) != 0 {
			t.Errorf("%s: %d sockets from a table that is not whole", name, len(got))
		}
	}
}

// FuzzParseTCPIter: any bytes parse without a panic, into one socket per record or an
// error wrapping ErrMalformed.
func FuzzParseTCPIter(f *testing.F) {
	f.Add(iterRec(Socket{State: StateEstablished, Local: netip.MustParseAddrPort("198.18.0.1:1"),
		Remote: netip.MustParseAddrPort("198.18.0.2:2")}, linuxAFInet, true))
	f.Add(make([]byte, 2*tcpIterRecLen))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseTCPIter(b, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(got) != len(b)/tcpIterRecLen {
			t.Fatalf("%d sockets from %d bytes", len(got), len(b))
		}
		for _, s := range got {
			if s.Proto != ProtoTCP || !s.Local.IsValid() || !s.Remote.IsValid() {
				t.Fatalf("socket %+v", s)
			}
		}
	})
}

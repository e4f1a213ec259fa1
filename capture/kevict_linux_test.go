//go:build linux

package capture

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/cilium/ebpf"
)

// udpFrame builds a 60-byte Ethernet, IPv4 and UDP frame (18 bytes of payload).
func udpFrame(src, dst netip.Addr, sport, dport uint16) []byte {
	f := make([]byte, 60)
	f[12], f[13] = 0x08, 0x00
	ip := f[14:]
	ip[0], ip[3], ip[8], ip[9] = 0x45, 46, 64, 17
	s, d := src.As4(), dst.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	udp := ip[20:]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], 26)
	return f
}

// kernelEvict runs fill (n flows towards 198.18.215.2) through the tc program
// (BPF_PROG_TEST_RUN, no budget of new entries) into a user-space table of flowCap flows,
// reads twice (the idle timeout an hour away), then runs a UDP packet for each of fresh new
// flows and reads again. It returns that read's rows and overflow, the flows the table held
// after the second read, and checks that flows plus overflow hold every packet run.
func kernelEvict(t *testing.T, flowCap, fresh int, fill func(run func([]byte)) int) (rows int, over uint64, kept int) {
	t.Helper()
	needRoot(t)
	k, err := loadKacct(flowCap)
	if err != nil {
		t.Fatal(err)
	}
	defer k.close()
	k.budget = 0 // written with the next read: every new flow gets its entry
	victim := netip.MustParseAddr("198.18.215.2")
	client := netip.MustParseAddr("198.18.215.1")
	ls := newLocalSet([]netip.Addr{victim})
	var sent, counted uint64
	run := func(f []byte) {
		t.Helper()
		if _, err := k.prog.Run(&ebpf.RunOptions{Data: f}); err != nil {
			t.Fatal(err)
		}
		sent++
	}
	read := func() []FlowDelta {
		t.Helper()
		flows, o, _, err := k.read(ls, time.Hour, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range flows {
			counted += d.Packets()
		}
		counted += o.Packets()
		over = o.Packets()
		return flows
	}
	read() // the budget off
	if n := fill(run); len(read()) != n {
		t.Fatalf("the first read has not one row per flow (%d)", n)
	}
	read()
	kept = len(k.agg)
	for i := range fresh {
		run(udpFrame(client, victim, uint16(20000+i), 53))
	}
	rows = len(read())
	if counted != sent {
		t.Errorf("flows and overflow hold %d packets, %d run", counted, sent)
	}
	return rows, over, kept
}

// TestKernelEvictsFleeting: a crowded user-space table of spoofed SYNs, each answered by a
// SYN-ACK or a RST, evicts them (here and in the kernel's map) once a read found none of
// their packets, before the idle timeout: the flows that start next all get rows. The twin
// is TestKernelKeepsRealFlows.
func TestKernelEvictsFleeting(t *testing.T) {
	const flowCap, n, fresh = 512, 400, 200 // 400 > 3/4 of 512: crowded
	rows, over, kept := kernelEvict(t, flowCap, fresh, func(run func([]byte)) int {
		victim := netip.MustParseAddr("198.18.215.2")
		for i := range n {
			s, sp := spoofed(i)
			run(tcpFrame(s, victim, sp, 80, tcpSYN))
			if i%2 == 0 {
				run(tcpFrame(victim, s, 80, sp, tcpSYN|tcpACK))
			} else {
				run(tcpFrame(victim, s, 80, sp, tcpRST|tcpACK))
			}
		}
		return n
	})
	if kept != 0 || rows != fresh || over != 0 {
		t.Errorf("after the flood: %d flows kept; then %d new flows: %d rows, %d packets in overflow; want 0, %d rows, 0", kept, fresh, rows, over, fresh)
	}
}

// TestKernelKeepsRealFlows: a crowded table of connections (SYN, ACK and data) and of
// three-packet handshakes keeps them until the idle timeout: of the flows that start next,
// those beyond the table's room go to overflow.
func TestKernelKeepsRealFlows(t *testing.T) {
	const flowCap, n, fresh = 512, 400, 200
	rows, over, kept := kernelEvict(t, flowCap, fresh, func(run func([]byte)) int {
		victim := netip.MustParseAddr("198.18.215.2")
		for i := range n {
			s, sp := spoofed(i)
			run(tcpFrame(s, victim, sp, 80, tcpSYN))
			if i%2 == 0 { // established: one direction only, one kernel entry
				run(tcpFrame(s, victim, sp, 80, tcpACK))
				run(tcpFrame(s, victim, sp, 80, tcpACK|0x08))
			} else { // a SYN retransmitted twice
				run(tcpFrame(s, victim, sp, 80, tcpSYN))
				run(tcpFrame(s, victim, sp, 80, tcpSYN))
			}
		}
		return n
	})
	if room := flowCap - n; kept != n || rows != room || over != uint64(fresh-room) {
		t.Errorf("after the flows: %d kept; then %d new flows: %d rows, %d packets in overflow; want %d, %d rows, %d", kept, fresh, rows, over, n, room, fresh-room)
	}
}

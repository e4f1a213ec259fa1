package monitor

import (
	"net/netip"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

const (
	pTCP = 6
	pUDP = 17
)

// fk builds a flow key from "addr:port" strings.
func fk(proto uint8, local, remote string) capture.FlowKey {
	return capture.FlowKey{Proto: proto, Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote)}
}

// fd is a flow delta of rx/tx bytes, one packet per 100 bytes (at least one when bytes move).
func fd(k capture.FlowKey, rx, tx uint64) capture.FlowDelta {
	pk := func(b uint64) uint64 {
		if b == 0 {
			return 0
		}
		return (b + 99) / 100
	}
	return capture.FlowDelta{Key: k, RxBytes: rx, TxBytes: tx, RxPackets: pk(rx), TxPackets: pk(tx)}
}

// batchAt is a one-second batch starting i seconds after t0, its flows seen mid-interval.
func batchAt(i int, flows ...capture.FlowDelta) *capture.Batch {
	start := t0.Add(time.Duration(i) * time.Second)
	b := &capture.Batch{Start: start, End: start.Add(time.Second), Flows: flows}
	for j := range b.Flows {
		b.Flows[j].First = start.Add(time.Duration(j) * time.Millisecond)
		b.Flows[j].Last = start.Add(500 * time.Millisecond)
	}
	return b
}

// sockOf returns a socket of the table.
func sockOf(proto sampler.Proto, state sampler.TCPState, local, remote string, pid int) sampler.Socket {
	return sampler.Socket{Proto: proto, State: state, Local: netip.MustParseAddrPort(local),
		Remote: netip.MustParseAddrPort(remote), PID: pid, Inode: uint64(pid) + 100}
}

func estab(local, remote string, pid int) sampler.Socket {
	return sockOf(sampler.ProtoTCP, sampler.StateEstablished, local, remote, pid)
}

func listen(local string, pid int) sampler.Socket {
	remote := "0.0.0.0:0"
	if netip.MustParseAddrPort(local).Addr().Is6() {
		remote = "[::]:0"
	}
	return sockOf(sampler.ProtoTCP, sampler.StateListen, local, remote, pid)
}

func udpBound(local string, pid int) sampler.Socket {
	remote := "0.0.0.0:0"
	if netip.MustParseAddrPort(local).Addr().Is6() {
		remote = "[::]:0"
	}
	return sockOf(sampler.ProtoUDP, sampler.StateClose, local, remote, pid)
}

// refreshOf is a refresh sample with this socket table.
func refreshOf(i int, socks []sampler.Socket, pids ...int) *sampler.Sample {
	s := sample(i, false, socks, nil, pids...)
	s.Refresh, s.Elapsed = true, 0
	return s
}

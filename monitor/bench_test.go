package monitor

import (
	"net/netip"
	"testing"
	"time"

	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

// benchFlows returns n distinct TCP flows from 198.18.60.1:443 to n clients, with sizes
// that differ so sorting has work to do.
func benchFlows(n int) []capture.FlowDelta {
	local := netip.MustParseAddrPort("198.18.60.1:443")
	out := make([]capture.FlowDelta, n)
	for i := range out {
		remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 19, byte(i >> 8), byte(i)}), uint16(1024+i%60000))
		rx := uint64(1 + (i*7919)%100000)
		out[i] = capture.FlowDelta{Key: capture.FlowKey{Proto: pTCP, Local: local, Remote: remote},
			RxBytes: rx, TxBytes: rx / 3, RxPackets: rx/1000 + 1, TxPackets: rx/3000 + 1}
	}
	return out
}

// benchSockets returns a socket table that attributes the flows of benchFlows: a listener
// and one connected socket per flow, spread over 200 processes.
func benchSockets(flows []capture.FlowDelta) ([]sampler.Socket, map[int]*sampler.Proc) {
	socks := []sampler.Socket{{Proto: sampler.ProtoTCP, State: sampler.StateListen,
		Local: netip.MustParseAddrPort("[::]:443"), Remote: netip.MustParseAddrPort("[::]:0"), PID: 1000}}
	procs := map[int]*sampler.Proc{1000: {PID: 1000, Comm: "server"}}
	for i, f := range flows {
		pid := 1001 + i%200
		socks = append(socks, sampler.Socket{Proto: sampler.ProtoTCP, State: sampler.StateEstablished,
			Local: f.Key.Local, Remote: f.Key.Remote, PID: pid, Inode: uint64(i + 1)})
		procs[pid] = &sampler.Proc{PID: pid, Comm: "worker"}
	}
	return socks, procs
}

// benchState returns a live State with capture on that knows the flows, after intervals
// closed intervals.
func benchState(b *testing.B, flows []capture.FlowDelta, intervals int) (*State, *sampler.Sample) {
	b.Helper()
	socks, procs := benchSockets(flows)
	st := New(Options{Capture: true})
	st.Apply(&sampler.Sample{Time: t0, Baseline: true, Sockets: socks, Procs: procs})
	s := &sampler.Sample{Elapsed: time.Second, Sockets: socks, Procs: procs}
	for i := 0; i < intervals; i++ {
		st.ApplyBatch(&capture.Batch{Start: t0, End: t0.Add(time.Second), Flows: flows})
		s.Time = t0.Add(time.Duration(i+1) * time.Second)
		st.Apply(s)
	}
	if st.TalkerCount() != len(flows) || st.Pending() != 0 {
		b.Fatalf("%d talkers, %d pending", st.TalkerCount(), st.Pending())
	}
	return st, s
}

// BenchmarkApplyBatch measures the capture side of one interval with 10,000 active flows:
// "known" is ApplyBatch alone on flows already in the table (the steady state); "interval"
// adds the close by a regular sample (windows, processes, rates) with its 10,001-socket
// index rebuild; "replay-churn" feeds 10,000 new flows per batch in replay mode, so the
// table fills to its cap and evicts.
func BenchmarkApplyBatch(b *testing.B) {
	flows := benchFlows(10000)
	b.Run("known", func(b *testing.B) {
		st, _ := benchState(b, flows, 3)
		batch := &capture.Batch{Start: t0, End: t0.Add(time.Second), Flows: flows}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			st.ApplyBatch(batch)
		}
	})
	b.Run("interval", func(b *testing.B) {
		st, s := benchState(b, flows, 3)
		batch := &capture.Batch{Start: t0, End: t0.Add(time.Second), Flows: flows}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			st.ApplyBatch(batch)
			s.Time = s.Time.Add(time.Second)
			st.Apply(s)
		}
	})
	b.Run("replay-churn", func(b *testing.B) {
		st := New(Options{Replay: true})
		batch := &capture.Batch{Flows: make([]capture.FlowDelta, len(flows))}
		copy(batch.Flows, flows)
		gen := 0
		next := func() {
			gen++
			for i := range batch.Flows {
				k := &batch.Flows[i].Key
				k.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(gen), byte(i >> 8), byte(i)}), uint16(gen))
			}
			batch.Start = t0.Add(time.Duration(gen) * time.Second)
			batch.End = batch.Start.Add(time.Second)
		}
		for range 8 { // fill the table
			next()
			st.ApplyBatch(batch)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			next()
			st.ApplyBatch(batch)
		}
		b.StopTimer()
		if st.TalkerCount() > 65536 {
			b.Fatalf("%d talkers over the cap", st.TalkerCount())
		}
	})
}

// BenchmarkTalkers measures the queries the UI makes once per interval on 10,000 talkers:
// the visible rows (Limit 50) by a window, every row by total, host pairs, and a filter.
func BenchmarkTalkers(b *testing.B) {
	st, _ := benchState(b, benchFlows(10000), 3)
	for _, bc := range []struct {
		name string
		q    TalkerQuery
	}{
		{"top50-2s", TalkerQuery{Sort: TalkerSortRate, Limit: 50}},
		{"all-total", TalkerQuery{Sort: TalkerSortTotal}},
		{"pairs-top50-40s", TalkerQuery{By: ByHostPair, Sort: TalkerSortRate, Window: 2, Limit: 50}},
		{"filter-top50", TalkerQuery{Sort: TalkerSortRate, Limit: 50, Filter: "198.19.1"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if bc.q.By == ByHostPair {
					st.version++ // a new interval: the pairs are rebuilt
				}
				if len(st.Talkers(bc.q)) == 0 {
					b.Fatal("no talkers")
				}
			}
		})
	}
}

// BenchmarkApplySample measures one regular sample without capture (tcp_info accounting,
// the socket index, the state histogram) with a table of 10,000 established sockets held by
// 200 processes, and SampleRecord for a headless line: the steady state of
// `wiretop --headless --no-capture` on a busy host, beside the sampler's tick.
func BenchmarkApplySample(b *testing.B) {
	socks, procs := benchSockets(benchFlows(10_000))
	for i := range socks {
		socks[i].HasInfo, socks[i].Cookie = true, uint64(i+1)
	}
	st := New(Options{})
	st.Apply(&sampler.Sample{Time: t0, Baseline: true, Sockets: socks, Procs: procs})
	s := &sampler.Sample{Elapsed: time.Second, Sockets: socks, Procs: procs}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		for j := range socks {
			socks[j].BytesAcked += uint64(j % 7)
		}
		s.Time = t0.Add(time.Duration(i) * time.Second)
		st.Apply(s)
		_ = st.SampleRecord(20, st.StatusRecord(false))
	}
}

// BenchmarkReplayInterval measures one replayed interval of a flood as `wiretop -r FILE
// --headless` runs it (scripts/bench-capture.sh's flood file): a batch of 35,000 new
// one-packet SYN flows (spoofed sources) and 15,000 known flows, with a full talker table
// (the default cap, 65,536) that evicts, then the detectors' view and the sample line. The
// State's storage is reused from interval to interval: allocs/op stays small and does not
// grow with the flows.
func BenchmarkReplayInterval(b *testing.B) {
	const fresh, known = 35000, 15000
	st := New(Options{Replay: true})
	batch := &capture.Batch{Flows: make([]capture.FlowDelta, fresh+known)}
	copy(batch.Flows[fresh:], benchFlows(known))
	gen := 0
	next := func() {
		gen++
		for i := range fresh {
			n := gen*fresh + i
			batch.Flows[i] = capture.FlowDelta{Key: capture.FlowKey{Proto: pTCP,
				Local:  netip.MustParseAddrPort("198.18.60.2:80"),
				Remote: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), uint16(1024+n%60000))},
				RxBytes: 60, RxPackets: 1, Flags: 0x02, Handshake: capture.HsSynIn}
		}
		batch.Start = t0.Add(time.Duration(gen) * time.Second)
		batch.End = batch.Start.Add(time.Second)
		for i := range batch.Flows {
			batch.Flows[i].First, batch.Flows[i].Last = batch.Start, batch.Start.Add(time.Second/2)
		}
	}
	var v DetectView
	interval := func() {
		next()
		st.ApplyBatch(batch)
		st.DetectView(&v)
		_ = st.SampleRecord(20, StatusRecord{})
	}
	for range 4 { // fill the table: the steady state evicts every interval
		interval()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		interval()
	}
	b.StopTimer()
	if n := st.TalkerCount(); n > 65536 {
		b.Fatalf("%d talkers over the cap", n)
	}
	b.ReportMetric(float64(fresh+known), "flows/op")
}

package monitor

import (
	"encoding/json"
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretop/wiretop/capture"
	"github.com/wiretop/wiretop/sampler"
)

func TestReplayClockAndInterface(t *testing.T) {
	a := fk(pTCP, "198.18.60.1:80", "198.18.60.2:40000")
	b := fk(pUDP, "198.18.60.1:53", "198.18.60.3:40000")
	st := New(Options{Replay: true, ReplayName: "demo.pcap"})
	st.SetCaptureInfo("tcp or udp", "port 80")

	b1 := batchAt(0, fd(a, 1000, 500))
	b1.Other = capture.Counter{Packets: 2, Bytes: 120}
	b1.Stats = capture.Stats{Received: 17}
	st.ApplyBatch(b1)
	if st.Time() != t0.Add(time.Second) || st.Elapsed() != time.Second {
		t.Errorf("after batch 1: time %v elapsed %v", st.Time(), st.Elapsed())
	}

	b2 := batchAt(1, fd(a, 2000, 0), fd(b, 0, 400))
	b2.End = b2.Start.Add(2 * time.Second)
	b2.Overflow = capture.FlowDelta{RxBytes: 100, RxPackets: 1}
	b2.Stats = capture.Stats{Received: 40, Dropped: 1}
	st.ApplyBatch(b2)
	rec := st.SampleRecord(0, st.StatusRecord(false))
	wantIf := []IfaceRecord{{Name: "demo.pcap", RxBytes: 2100, TxBytes: 400, RxPackets: 21, TxPackets: 4,
		RxBytesPerSec: 1050, TxBytesPerSec: 200}}
	if d := cmp.Diff(wantIf, rec.Interfaces); d != "" {
		t.Errorf("pseudo-interface (-want +got):\n%s", d)
	}
	if rec.IntervalS != 2 || rec.Time != "2026-11-23T12:00:03.000000Z" {
		t.Errorf("interval %v time %s", rec.IntervalS, rec.Time)
	}
	wantCap := &CaptureRecord{Received: 40, Dropped: 1, Filter: "tcp or udp", PacketFilter: "port 80"}
	if d := cmp.Diff(wantCap, rec.Capture); d != "" {
		t.Errorf("capture (-want +got):\n%s", d)
	}
	if rec.Status.ProcessSource != "none" || !rec.Status.Capture {
		t.Errorf("status = %+v", rec.Status)
	}
	if rec.Unattributed != (CountsRecord{RxBytes: 2100, TxBytes: 400}) {
		t.Errorf("unattributed = %+v (a replay attributes nothing)", rec.Unattributed)
	}
	if st.NeedRefresh() || st.Pending() != 0 || len(rec.Processes) != 0 {
		t.Errorf("replay: NeedRefresh %v, pending %d, processes %v", st.NeedRefresh(), st.Pending(), rec.Processes)
	}
	// the 2s window of a covers the 2 s batch only; 10s both batches (3 s)
	ta := rec.Talkers[0]
	if ta.LocalPort != 80 || ta.Rates["2s"].Rx != 1000 || ta.Rates["10s"].Rx != 1000 || ta.Rates["10s"].Tx != 500.0/3 {
		t.Errorf("talker a = %+v", ta)
	}

	b3 := batchAt(3, fd(a, 50, 0)) // the last, partial interval
	b3.End = b3.Start.Add(500 * time.Millisecond)
	st.ApplyBatch(b3)
	if st.Time() != t0.Add(3500*time.Millisecond) || st.Elapsed() != 3500*time.Millisecond {
		t.Errorf("after batch 3: time %v elapsed %v", st.Time(), st.Elapsed())
	}
	f := st.Interface("demo.pcap")
	if f.Rx.Total != 1120+2100+50 || f.Tx.Total != 900 || f.Rx.Cur != 100 || f.RxPackets != 12+21+1 {
		t.Errorf("pseudo-interface: rx %d tx %d cur %v packets %d", f.Rx.Total, f.Tx.Total, f.Rx.Cur, f.RxPackets)
	}
	if st.Interface(AllInterfaces).Rx.Total != f.Rx.Total {
		t.Errorf("all = %d, want %d", st.Interface(AllInterfaces).Rx.Total, f.Rx.Total)
	}
	sum := st.SummaryRecord(st.StatusRecord(false))
	if sum.Samples != 3 || sum.DurationS != 3.5 || sum.Capture == nil || len(sum.Talkers) != 3 {
		t.Errorf("summary: %d samples, %v s, capture %v, %d talkers", sum.Samples, sum.DurationS, sum.Capture, len(sum.Talkers))
	}
	wantA := TalkerRecord{Proto: "tcp", LocalAddr: "198.18.60.1", LocalPort: 80, RemoteAddr: "198.18.60.2", RemotePort: 40000,
		RxBytes: 3050, TxBytes: 500, RxPackets: 10 + 20 + 1, TxPackets: 5}
	if d := cmp.Diff(wantA, sum.Talkers[0]); d != "" {
		t.Errorf("summary talker (-want +got):\n%s", d)
	}
	if o := sum.Talkers[2]; o.Proto != OverflowProto || o.RxBytes != 100 || o.LocalAddr != "" {
		t.Errorf("overflow row = %+v", o)
	}
}

// roundTrip marshals v and decodes it into a new value of the same type, as a reader would.
func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkSumsMatch checks that the summary's counts equal the sums of the sample lines, for
// interfaces, processes, talkers and unattributed bytes.
func checkSumsMatch(t *testing.T, samples []SampleRecord, sum SummaryRecord) {
	t.Helper()
	type c4 [4]uint64
	ifs, procs, talkers := map[string]c4{}, map[int]c4{}, map[string]c4{}
	var un CountsRecord
	tkey := func(r TalkerRecord) string {
		return r.Proto + " " + netip.AddrPortFrom(parseAddr(r.LocalAddr), r.LocalPort).String() + " " +
			netip.AddrPortFrom(parseAddr(r.RemoteAddr), r.RemotePort).String()
	}
	for _, s := range samples {
		for _, r := range s.Interfaces {
			c := ifs[r.Name]
			ifs[r.Name] = c4{c[0] + r.RxBytes, c[1] + r.TxBytes, c[2] + r.RxPackets, c[3] + r.TxPackets}
		}
		for _, r := range s.Processes {
			c := procs[r.PID]
			procs[r.PID] = c4{c[0] + r.RxBytes, c[1] + r.TxBytes}
		}
		for _, r := range s.Talkers {
			c := talkers[tkey(r)]
			talkers[tkey(r)] = c4{c[0] + r.RxBytes, c[1] + r.TxBytes, c[2] + r.RxPackets, c[3] + r.TxPackets}
		}
		un.RxBytes += s.Unattributed.RxBytes
		un.TxBytes += s.Unattributed.TxBytes
	}
	gifs, gprocs, gtalkers := map[string]c4{}, map[int]c4{}, map[string]c4{}
	for _, r := range sum.Interfaces {
		gifs[r.Name] = c4{r.RxBytes, r.TxBytes, r.RxPackets, r.TxPackets}
	}
	for _, r := range sum.Processes {
		gprocs[r.PID] = c4{r.RxBytes, r.TxBytes}
	}
	for _, r := range sum.Talkers {
		gtalkers[tkey(r)] = c4{r.RxBytes, r.TxBytes, r.RxPackets, r.TxPackets}
	}
	if d := cmp.Diff(ifs, gifs); d != "" {
		t.Errorf("interfaces: samples vs summary (-samples +summary):\n%s", d)
	}
	if d := cmp.Diff(procs, gprocs); d != "" {
		t.Errorf("processes: samples vs summary (-samples +summary):\n%s", d)
	}
	if d := cmp.Diff(talkers, gtalkers); d != "" {
		t.Errorf("talkers: samples vs summary (-samples +summary):\n%s", d)
	}
	if un != sum.Unattributed {
		t.Errorf("unattributed: samples %+v, summary %+v", un, sum.Unattributed)
	}
	if len(samples) != sum.Samples {
		t.Errorf("summary says %d samples, %d were written", sum.Samples, len(samples))
	}
}

func parseAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

func TestSummaryEqualsSumOfSamples(t *testing.T) {
	web := fk(pTCP, "198.18.60.1:443", "198.18.60.2:50000")
	dns := fk(pUDP, "198.18.60.1:33000", "198.18.60.8:53")
	stray := fk(pTCP, "198.18.60.1:9", "198.18.60.66:1")
	v6 := fk(pTCP, "[fd00:198:18:60::1]:22", "[fd00:198:18:60::2]:61000")
	socks := []sampler.Socket{listen("[::]:443", 10), listen("[::]:22", 11),
		sockOf(sampler.ProtoUDP, sampler.StateEstablished, "198.18.60.1:33000", "198.18.60.8:53", 12)}
	ifaces := func(i int) []sampler.IfaceDelta {
		return []sampler.IfaceDelta{{Name: "eth0", RxBytes: uint64(1000 * i), TxBytes: 77, RxPackets: uint64(i), TxPackets: 1}}
	}

	t.Run("live", func(t *testing.T) {
		st := New(Options{Capture: true})
		st.SetCaptureInfo("", "")
		st.Apply(sample(0, true, socks, nil, 10, 11, 12))
		var recs []SampleRecord
		for i := 1; i <= 6; i++ {
			flows := []capture.FlowDelta{fd(web, uint64(100*i), 10)}
			if i%2 == 0 {
				flows = append(flows, fd(dns, 60, 60), fd(stray, 0, 40))
			}
			if i > 3 {
				flows = append(flows, fd(v6, 5000, 5000))
			}
			b := batchAt(i-1, flows...)
			if i == 5 {
				b.Overflow = capture.FlowDelta{RxBytes: 300, RxPackets: 3}
			}
			st.ApplyBatch(b)
			s := sample(i, false, socks, nil, 10, 11, 12)
			s.Interfaces = ifaces(i)
			st.Apply(s)
			recs = append(recs, roundTrip(t, st.SampleRecord(0, st.StatusRecord(true))))
		}
		sum := roundTrip(t, st.SummaryRecord(st.StatusRecord(true)))
		checkSumsMatch(t, recs, sum)
		if len(sum.Talkers) != 5 || len(sum.Processes) != 3 || sum.Unattributed.TxBytes != 120 || sum.Unattributed.RxBytes != 300 {
			t.Errorf("summary: %d talkers, %d processes, unattributed %+v", len(sum.Talkers), len(sum.Processes), sum.Unattributed)
		}
	})
	t.Run("replay", func(t *testing.T) {
		st := New(Options{Replay: true})
		var recs []SampleRecord
		for i := 1; i <= 5; i++ {
			b := batchAt(i-1, fd(web, uint64(10*i), 1), fd(dns, 1, uint64(i)))
			b.Other = capture.Counter{Packets: 1, Bytes: 60}
			st.ApplyBatch(b)
			recs = append(recs, roundTrip(t, st.SampleRecord(0, st.StatusRecord(false))))
		}
		checkSumsMatch(t, recs, roundTrip(t, st.SummaryRecord(st.StatusRecord(false))))
	})
}

// keysOf returns the sorted keys of a JSON object.
func keysOf(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %v", v)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRecordFieldNames(t *testing.T) {
	k := fk(pTCP, "198.18.60.1:443", "198.18.60.2:50000")
	anon := fk(pUDP, "198.18.60.1:1", "198.18.60.2:2")
	st := New(Options{Capture: true})
	st.Apply(sample(0, true, []sampler.Socket{listen("0.0.0.0:443", 10)}, nil, 10))
	b := batchAt(0, fd(k, 10, 10), fd(anon, 1, 0))
	b.Packets = []capture.PacketSummary{{Time: t0, Length: 60, Proto: "tcp", Src: netip.MustParseAddr("198.18.60.2"),
		Dst: netip.MustParseAddr("198.18.60.1"), SrcPort: 50000, DstPort: 443, Flags: "[S]", Summary: "IP ..."}}
	st.ApplyBatch(b)
	st.Apply(sample(1, false, nil, nil, 10))

	want := map[string][]string{
		"sample": {"capture", "interfaces", "interval_s", "kernel_tcp", "processes", "status", "talkers", "tcp_states",
			"time", "type", "unattributed"},
		"summary": {"capture", "duration_s", "interfaces", "kernel_tcp", "processes", "samples", "status", "talkers",
			"time", "type", "unattributed"},
		"talker": {"comm", "local_addr", "local_port", "pid", "proto", "rates", "remote_addr", "remote_port",
			"rx_bytes", "rx_packets", "tx_bytes", "tx_packets"},
		"talker without process": {"local_addr", "local_port", "proto", "rates", "remote_addr", "remote_port",
			"rx_bytes", "rx_packets", "tx_bytes", "tx_packets"},
		"summary talker": {"comm", "local_addr", "local_port", "pid", "proto", "remote_addr", "remote_port",
			"rx_bytes", "rx_packets", "tx_bytes", "tx_packets"},
		"rates":        {"10s", "2s", "40s"},
		"rate":         {"rx", "tx"},
		"capture":      {"dropped", "filter", "if_dropped", "packet_filter", "packets_matched", "received"},
		"unattributed": {"rx_bytes", "tx_bytes"},
		"process": {"comm", "pid", "rx_bytes", "rx_bytes_per_sec", "source", "tx_bytes", "tx_bytes_per_sec",
			"user"},
		"packet": {"dst", "dst_port", "flags", "length", "proto", "src", "src_port", "summary", "time", "type"},
	}
	smp := asJSON(t, st.SampleRecord(0, st.StatusRecord(true)))
	sum := asJSON(t, st.SummaryRecord(st.StatusRecord(true)))
	talkers := smp["talkers"].([]any)
	got := map[string][]string{
		"sample":                 keysOf(t, smp),
		"summary":                keysOf(t, sum),
		"talker":                 keysOf(t, talkers[0]),
		"talker without process": keysOf(t, talkers[1]),
		"summary talker":         keysOf(t, sum["talkers"].([]any)[0]),
		"rates":                  keysOf(t, talkers[0].(map[string]any)["rates"]),
		"rate":                   keysOf(t, talkers[0].(map[string]any)["rates"].(map[string]any)["2s"]),
		"capture":                keysOf(t, smp["capture"]),
		"unattributed":           keysOf(t, smp["unattributed"]),
		"process":                keysOf(t, smp["processes"].([]any)[0]),
		"packet":                 keysOf(t, asJSON(t, st.PacketRecords()[0])),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("field names (-want +got):\n%s", d)
	}
	if smp["processes"].([]any)[0].(map[string]any)["source"] != "pcap" {
		t.Errorf("process source = %v", smp["processes"])
	}
	if p := asJSON(t, st.PacketRecords()[0]); p["type"] != "packet" || p["src"] != "198.18.60.2" || p["time"] != "2026-11-23T12:00:00.000000Z" {
		t.Errorf("packet = %v", p)
	}

	// without capture, the sample has no "capture" object
	plain := New(Options{})
	plain.Apply(sample(0, true, nil, nil))
	plain.Apply(sample(1, false, nil, nil))
	keys := keysOf(t, asJSON(t, plain.SampleRecord(0, plain.StatusRecord(false))))
	if slices.Contains(keys, "capture") {
		t.Errorf("sample without capture has a capture object: %v", keys)
	}
}

package history

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkRecord is the per-interval write of the recorder at the load: four
// interfaces, 200 processes, 200 hosts and 200 ports, the TCP states and kernel counters,
// one interval a second (the rollup and pruning of each closed 5-minute bucket included,
// amortized over its 300 intervals).
func BenchmarkRecord(b *testing.B) {
	s := openBench(b, Options{Location: time.UTC})
	iv := benchInterval()
	end := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		end = end.Add(time.Second)
		iv.End = end
		if _, err := s.Record(iv); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBaseline is one baseline query (five weeks of an hour and yesterday) on the
// loader's goroutine.
func BenchmarkBaseline(b *testing.B) {
	s := openBench(b, Options{Location: time.UTC})
	end := t0
	for i := 0; i < 36*24*12; i++ { // 36 days, one interval per 5 minutes
		end = end.Add(5 * time.Minute)
		if _, err := s.Record(&Interval{End: end, Elapsed: time.Minute, Ifaces: []IfaceDelta{{Name: "eth0", RxBytes: 1e6}}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := s.Baseline(context.Background(), "iface_rx_bytes_per_sec", "eth0", end); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordBucketClose is the write of an interval that closes a 5-minute bucket:
// the rollup into hour, day, month and year, the trim to the top N and the pruning.
func BenchmarkRecordBucketClose(b *testing.B) {
	s := openBench(b, Options{Location: time.UTC, GapAfter: time.Hour})
	iv := benchInterval()
	end := t0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		end = end.Add(5 * time.Minute)
		iv.End, iv.Elapsed = end, 5*time.Minute
		if _, err := s.Record(iv); err != nil {
			b.Fatal(err)
		}
	}
}

// benchInterval is an interval at the load: four interfaces, 200 processes, 200
// hosts, 200 ports, the TCP states and kernel counters.
func benchInterval() *Interval {
	mk := func(n int, f func(i int) Usage) []Usage {
		u := make([]Usage, n)
		for i := range u {
			u[i] = f(i)
			u[i].Rx, u[i].Tx = uint64(1000+i), uint64(500+i)
		}
		return u
	}
	procs := mk(200, func(i int) Usage {
		return Usage{A: fmt.Sprint("proc", i), B: fmt.Sprint("/usr/bin/proc", i), C: "root"}
	})
	hosts := mk(200, func(i int) Usage { return Usage{A: fmt.Sprintf("198.18.0.%d", i)} })
	ports := mk(200, func(i int) Usage { return Usage{A: "tcp", B: fmt.Sprint(1000 + i)} })
	return &Interval{Elapsed: time.Second, Procs: procs, Hosts: hosts, Ports: ports,
		Ifaces: []IfaceDelta{{Name: "eth0", RxBytes: 1e6}, {Name: "eth1", RxBytes: 1e5}, {Name: "lo", RxBytes: 1e3}, {Name: "docker0"}},
		TCP:    []StateCount{{"ESTAB", 100}, {"LISTEN", 10}, {"TIME-WAIT", 50}, {"CLOSE-WAIT", 2}},
		Kernel: []Counter{{"ActiveOpens", 10}, {"PassiveOpens", 20}, {"RetransSegs", 3}},
	}
}

// openBench opens a fresh store for a benchmark, closed when it ends.
func openBench(b *testing.B, opts Options) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "h.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

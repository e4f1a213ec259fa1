package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// floodExporter is an exporter that has observed two intervals of the spoofed flood: 10,000
// processes and 100,000 remote hosts in the state.
func floodExporter(b *testing.B) (*lab, *Exporter) {
	b.Helper()
	l := newLab(10000, 100000)
	e := New(Options{Top: 50, Capture: true, Interval: time.Second})
	for range 2 {
		l.step()
		e.Observe(l.st, nil)
	}
	return l, e
}

// maxSeries is the documented bound of a scrape (docs/metrics.md): 8 per interface, 11 TCP
// states, 13 kernel counters, 2 per exported process, host and port (3 x Top), 7 capture and
// attribution counters, 3 per alert rule and state, MaxAlertKeys firing keys, build info,
// 4 source_up, the interval timestamp and the truncation gauge; plus the Go and process
// collectors' own.
func maxSeries(ifaces, top, alertKeys int) int {
	return 8*ifaces + 11 + 13 + 2*3*top + 7 + alertKeys + 1 + 4 + 2
}

// BenchmarkScrape measures one /metrics scrape of the flood (the HTTP handler, Go and
// process collectors included) and reports the series it holds.
func BenchmarkScrape(b *testing.B) {
	_, e := floodExporter(b)
	h := e.Handler()
	series := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
		series = 0
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if strings.HasPrefix(line, "wiretop_") {
				series++
			}
		}
	}
	b.ReportMetric(float64(series), "wiretop-series")
	if limit := maxSeries(2, 50, 0); series > limit {
		b.Fatalf("%d wiretop series, documented bound %d", series, limit)
	}
}

// BenchmarkObserve measures the exporter's work on the state's owner after each interval of
// the flood: ranking 10,000 processes, 100,000 hosts and their ports, and building the
// snapshot.
func BenchmarkObserve(b *testing.B) {
	l, e := floodExporter(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.Observe(l.st, nil)
	}
}

package history

import (
	"context"
	"database/sql"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wiretop/wiretop/monitor"
)

// BaselineWeeks is how many weeks of the same hour of the week a baseline looks back.
const BaselineWeeks = 5

// minCoverage is the part of an hour that must have been recorded for it to count.
const minCoverage = 0.5

// ProcessKey is the key of a process identity in a baseline query: comm, executable path
// and user, separated by tabs.
func ProcessKey(comm, exe, user string) string { return comm + "\t" + exe + "\t" + user }

// Baseline computes what is normal for metric m and key at the time at: the median and
// the median absolute deviation of the same hour of the week over the last BaselineWeeks
// weeks (hours with less than half of them recorded are left out), and the values 24 h
// and 7 days before. Rates are per second over the recorded part of the hour; the ESTAB
// count is the hour's mean.
//
// The median and MAD, not the mean and sigma: five values are few, and one week with an
// outage or a backup run in that hour would move a mean and inflate a sigma enough to hide
// the next anomaly; the median and MAD ignore one such week (a breakdown point of 50%).
func (s *Store) Baseline(ctx context.Context, m monitor.Metric, key string, at time.Time) (monitor.Baseline, bool, error) {
	b := monitor.Baseline{Metric: m, Key: key, At: at}
	hour := Hour.Start(at, s.loc)
	var hours []time.Time
	for w := 1; w <= BaselineWeeks; w++ {
		hours = append(hours, hour.AddDate(0, 0, -7*w))
	}
	hours = append(hours, hour.AddDate(0, 0, -1))
	vals := make([]float64, len(hours))
	have := make([]bool, len(hours))
	for i, h := range hours {
		v, ok, err := s.hourValue(ctx, m, key, h.Unix())
		if err != nil {
			return b, false, err
		}
		vals[i], have[i] = v, ok
	}
	var weeks []float64
	for i := 0; i < BaselineWeeks; i++ {
		if have[i] {
			weeks = append(weeks, vals[i])
		}
	}
	b.LastWeek, b.HaveLastWeek = vals[0], have[0]
	b.Yesterday, b.HaveYesterday = vals[BaselineWeeks], have[BaselineWeeks]
	b.Weeks = len(weeks)
	if b.Weeks == 0 {
		return b, b.HaveYesterday, nil
	}
	b.Median = median(weeks)
	dev := make([]float64, len(weeks))
	for i, v := range weeks {
		dev[i] = math.Abs(v - b.Median)
	}
	b.MAD = median(dev)
	return b, true, nil
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// hourValue is the metric's value in the hour bucket ts; ok is false when less than half
// of that hour was recorded.
func (s *Store) hourValue(ctx context.Context, m monitor.Metric, key string, ts int64) (float64, bool, error) {
	var cover float64 // seconds recorded in the hour: the most any interface has
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(t.secs), 0) FROM traffic t CROSS JOIN keys k ON k.id = t.key
		WHERE t.kind = 2 AND t.ts = ? AND k.cat = 'iface'`, ts).Scan(&cover); err != nil {
		return 0, false, s.classify(err)
	}
	if cover < minCoverage*3600 {
		return 0, false, nil
	}
	var v float64
	var err error
	switch m {
	case monitor.MetricIfaceRx, monitor.MetricIfaceTx:
		col := "rx_bytes"
		if m == monitor.MetricIfaceTx {
			col = "tx_bytes"
		}
		var bytes, secs float64
		err = s.db.QueryRowContext(ctx, `SELECT coalesce(sum(t.`+col+`), 0), coalesce(max(t.secs), 0) FROM traffic t CROSS JOIN keys k ON k.id = t.key
			WHERE t.kind = 2 AND t.ts = ? AND k.cat = 'iface' AND k.a = ?`, ts, key).Scan(&bytes, &secs)
		if err == nil {
			if secs < minCoverage*3600 {
				return 0, false, nil // the interface was not there for most of the hour
			}
			v = bytes / secs
		}
	case monitor.MetricHostRx, monitor.MetricHostTx, monitor.MetricProcRx, monitor.MetricProcTx:
		col, cat, a, b, c := "rx_bytes", CatHost, key, "", ""
		if m == monitor.MetricHostTx || m == monitor.MetricProcTx {
			col = "tx_bytes"
		}
		if m == monitor.MetricProcRx || m == monitor.MetricProcTx {
			cat = CatProc
			parts := strings.SplitN(key, "\t", 3)
			for len(parts) < 3 {
				parts = append(parts, "")
			}
			a, b, c = parts[0], parts[1], parts[2]
		}
		var bytes float64
		err = s.db.QueryRowContext(ctx, `SELECT coalesce(sum(t.`+col+`), 0) FROM traffic t CROSS JOIN keys k ON k.id = t.key
			WHERE t.kind = 2 AND t.ts = ? AND k.cat = ? AND k.a = ? AND k.b = ? AND k.c = ?`, ts, cat, a, b, c).Scan(&bytes)
		v = bytes / cover
	case monitor.MetricEstab:
		var sum, n float64
		err = s.db.QueryRowContext(ctx, `SELECT coalesce(sum(sum), 0), coalesce(sum(n), 0) FROM tcp WHERE kind = 2 AND ts = ? AND state = 'ESTAB'`, ts).Scan(&sum, &n)
		if n > 0 {
			v = sum / n
		}
	case monitor.MetricNewConns:
		var opens float64
		err = s.db.QueryRowContext(ctx, `SELECT coalesce(sum(value), 0) FROM kernel WHERE kind = 2 AND ts = ? AND name IN ('ActiveOpens', 'PassiveOpens')`, ts).Scan(&opens)
		v = opens / cover
	default:
		return 0, false, nil
	}
	if err != nil && err != sql.ErrNoRows {
		return 0, false, s.classify(err)
	}
	return v, true, nil
}

// Baselines is a monitor.Baselines over a Store for the goroutine that owns the monitor
// state: Baseline never touches the database. It answers from a cache of the running
// hour, and a miss queues the query for a goroutine of its own (the answer is there from
// the next interval on).
type Baselines struct {
	s    *Store
	reqs chan bkey
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	cache map[bkey]bentry
}

type bkey struct {
	m    monitor.Metric
	key  string
	hour int64
}

type bentry struct {
	b       monitor.Baseline
	ok, got bool
}

// maxBaselines bounds the cache; it is cleared when full.
const maxBaselines = 20_000

// NewBaselines starts the goroutine that answers the queries; Close stops it.
func NewBaselines(s *Store) *Baselines {
	b := &Baselines{s: s, reqs: make(chan bkey, 1024), stop: make(chan struct{}), done: make(chan struct{}), cache: map[bkey]bentry{}}
	go b.run()
	return b
}

// Baseline implements monitor.Baselines.
func (b *Baselines) Baseline(m monitor.Metric, key string, at time.Time) (monitor.Baseline, bool) {
	k := bkey{m, key, Hour.Start(at, b.s.loc).Unix()}
	b.mu.Lock()
	e, seen := b.cache[k]
	if !seen {
		if len(b.cache) >= maxBaselines {
			clear(b.cache)
		}
		b.cache[k] = bentry{}
	}
	b.mu.Unlock()
	if !seen {
		select {
		case b.reqs <- k:
		default: // the loader is behind: ask again later
			b.mu.Lock()
			delete(b.cache, k)
			b.mu.Unlock()
		}
	}
	if !e.got {
		return monitor.Baseline{}, false
	}
	e.b.At = at
	return e.b, e.ok
}

func (b *Baselines) run() {
	defer close(b.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-b.stop
		cancel()
	}()
	for {
		select {
		case <-b.stop:
			return
		case k := <-b.reqs:
			bl, ok, err := b.s.Baseline(ctx, k.m, k.key, time.Unix(k.hour, 0))
			b.mu.Lock()
			if err != nil {
				delete(b.cache, k) // retried on a later ask
			} else {
				b.cache[k] = bentry{b: bl, ok: ok, got: true}
			}
			b.mu.Unlock()
		}
	}
}

// Close stops the loader.
func (b *Baselines) Close() {
	close(b.stop)
	<-b.done
}

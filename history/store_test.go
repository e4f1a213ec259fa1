package history

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 30, 22, 0, 0, 0, time.UTC) // a Monday, two days before a month ends

func openTest(t *testing.T, opts Options) *Store {
	t.Helper()
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	s, err := Open(filepath.Join(t.TempDir(), "h.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// feed records n intervals of step from start with random traffic and returns the bytes
// fed per (kind, bucket start, cat) for the interfaces and the keyed categories.
type fed map[[3]any]uint64 // {kind, start unix, cat} -> rx+tx

func feed(t *testing.T, s *Store, start time.Time, step time.Duration, n int, rng *rand.Rand, want fed) time.Time {
	t.Helper()
	end := start
	for i := 0; i < n; i++ {
		end = end.Add(step)
		iv := &Interval{End: end, Elapsed: step}
		iv.Ifaces = []IfaceDelta{
			{Name: "eth0", RxBytes: rng.Uint64N(1e7), TxBytes: rng.Uint64N(1e6), RxPackets: 10, TxPackets: 5},
			{Name: "wlan0", RxBytes: rng.Uint64N(1e5), TxBytes: rng.Uint64N(1e5)},
		}
		for p := 0; p < 12; p++ {
			if rng.IntN(3) == 0 {
				continue
			}
			iv.Procs = append(iv.Procs, Usage{A: fmt.Sprint("proc", p), B: "/usr/bin/x", C: "root", Rx: rng.Uint64N(1e5), Tx: rng.Uint64N(1e5)})
		}
		for h := 0; h < 6; h++ {
			iv.Hosts = append(iv.Hosts, Usage{A: fmt.Sprintf("198.18.0.%d", rng.IntN(40)), Rx: rng.Uint64N(1e4), Tx: rng.Uint64N(1e4)})
		}
		iv.TCP = []StateCount{{"ESTAB", rng.IntN(50)}, {"LISTEN", 3}}
		iv.Kernel = []Counter{{"ActiveOpens", rng.Uint64N(10)}}
		at := end.Add(-time.Nanosecond)
		for _, k := range Kinds {
			b := k.Start(at, time.UTC).Unix()
			for _, d := range iv.Ifaces {
				want[[3]any{k, b, CatIface}] += d.RxBytes + d.TxBytes
			}
			for _, u := range iv.Procs {
				want[[3]any{k, b, CatProc}] += u.Rx + u.Tx
			}
			for _, u := range iv.Hosts {
				want[[3]any{k, b, CatHost}] += u.Rx + u.Tx
			}
		}
		if _, err := s.Record(iv); err != nil {
			t.Fatal(err)
		}
	}
	return end
}

func sums(t *testing.T, s *Store, k Kind, cat string) (map[int64]uint64, map[int64]int) {
	t.Helper()
	rows, err := s.Traffic(context.Background(), Query{Kind: k, Cat: cat})
	if err != nil {
		t.Fatal(err)
	}
	tot, keys := map[int64]uint64{}, map[int64]int{}
	for _, r := range rows {
		tot[r.Start.Unix()] += r.RxBytes + r.TxBytes
		keys[r.Start.Unix()]++
	}
	return tot, keys
}

// TestRollupsExact: every bucket of every kind holds exactly the traffic fed into it, the
// 5-minute buckets add up to the hour, the hours to the day and so on, and the top N keeps
// totals while bounding the keys per bucket.
func TestRollupsExact(t *testing.T) {
	s := openTest(t, Options{TopN: 5, Retention: Retention{FiveMin: 400 * 24 * time.Hour, FiveMinKeyed: 400 * 24 * time.Hour, Hour: 400 * 24 * time.Hour}})
	want := fed{}
	rng := rand.New(rand.NewPCG(1, 2))
	feed(t, s, t0, 37*time.Second, 3*24*3600/37, rng, want) // three days, across a month and an odd step

	for _, cat := range []string{CatIface, CatProc, CatHost} {
		var prev map[int64]uint64
		for _, k := range Kinds {
			got, keys := sums(t, s, k, cat)
			n := 0
			for key, v := range want {
				if key[0] != k || key[2] != cat {
					continue
				}
				n++
				if got[key[1].(int64)] != v {
					t.Errorf("%s %s bucket %s: stored %d bytes, fed %d", cat, k, time.Unix(key[1].(int64), 0).UTC(), got[key[1].(int64)], v)
				}
			}
			if n != len(got) {
				t.Errorf("%s %s: %d buckets stored, %d fed", cat, k, len(got), n)
			}
			if cat != CatIface {
				for b, c := range keys {
					// a closed bucket holds at most the top 5 and (other); the running one
					// may hold more until it closes
					if _, running := runningBucket(s, k, b); c > 5+1 && !running {
						t.Errorf("%s %s bucket %s: %d keys, want at most 6", cat, k, time.Unix(b, 0).UTC(), c)
					}
				}
			}
			// the smaller kind adds up to the larger one
			if prev != nil {
				up := map[int64]uint64{}
				for b, v := range prev {
					up[k.Start(time.Unix(b, 0), time.UTC).Unix()] += v
				}
				for b, v := range up {
					if got[b] != v {
						t.Errorf("%s: the %s buckets of %s add up to %d, the %s holds %d", cat, Kinds[k-2], time.Unix(b, 0).UTC(), v, k, got[b])
					}
				}
			}
			prev = got
		}
	}
}

// runningBucket reports whether bucket b of kind k is the one still being written.
func runningBucket(s *Store, k Kind, b int64) (int64, bool) {
	cur := k.Start(s.w.lastEnd.Add(-time.Nanosecond), s.loc).Unix()
	return cur, cur == b
}

// TestRetentionPrunes: after a run longer than every setting, each kind keeps exactly the
// buckets the retention says, and the rest is gone.
func TestRetentionPrunes(t *testing.T) {
	ret := Retention{FiveMin: 2 * time.Hour, FiveMinKeyed: 30 * time.Minute, Hour: 5 * time.Hour, Days: 2, Months: 1, Years: 1}
	s := openTest(t, Options{Retention: ret})
	rng := rand.New(rand.NewPCG(3, 4))
	end := feed(t, s, t0, time.Minute, 3*24*60+7, rng, fed{})
	c, keyed5 := ret.withDefaults().cutoffs(end, time.UTC)
	// pruning happens when a 5-minute bucket closes: the last close was at the running bucket's start
	for _, tc := range []struct {
		k   Kind
		cat string
		cut int64
	}{
		{FiveMin, CatIface, c[FiveMin]}, {FiveMin, CatProc, keyed5}, {FiveMin, CatHost, keyed5},
		{Hour, CatIface, c[Hour]}, {Hour, CatHost, c[Hour]}, {Day, CatIface, c[Day]}, {Month, CatIface, c[Month]}, {Year, CatIface, c[Year]},
	} {
		got, _ := sums(t, s, tc.k, tc.cat)
		oldest := int64(1 << 62)
		for b := range got {
			oldest = min(oldest, b)
		}
		if oldest != tc.cut {
			t.Errorf("%s %s: the oldest bucket kept starts %s, the retention keeps from %s", tc.k, tc.cat,
				time.Unix(oldest, 0).UTC(), time.Unix(tc.cut, 0).UTC())
		}
		// everything from the cutoff on is there: one bucket per step of the kind
		n := 0
		for b := time.Unix(tc.cut, 0).UTC(); !b.After(end); b = tc.k.Next(b) {
			n++
		}
		if len(got) != n {
			t.Errorf("%s %s: %d buckets kept, want %d", tc.k, tc.cat, len(got), n)
		}
	}
}

// TestGapsNotTraffic: a long interval, a stopped recorder, a clock step back and a counter
// that jumps by more than a link carries never become traffic.
func TestGapsNotTraffic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.db")
	s, err := Open(path, Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(s *Store, end time.Time, el time.Duration, rx uint64) []string {
		t.Helper()
		n, err := s.Record(&Interval{End: end, Elapsed: el, Ifaces: []IfaceDelta{{Name: "eth0", RxBytes: rx}}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	rec(s, t0.Add(time.Second), time.Second, 100)
	rec(s, t0.Add(11*time.Minute), 10*time.Minute, 1e9) // a suspend: a gap
	rec(s, t0.Add(12*time.Minute), time.Second, 1e15)   // 1 PB in a second: a fault
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, Options{Location: time.UTC}) // restarted an hour later
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec(s, t0.Add(72*time.Minute), time.Second, 200)
	notes := rec(s, t0.Add(12*time.Minute), time.Second, 300) // the clock stepped back an hour
	if len(notes) == 0 {
		t.Error("a clock step back gave no note")
	}
	rows, err := s.Traffic(context.Background(), Query{Kind: Day, Cat: CatIface})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].RxBytes != 600 {
		t.Fatalf("day rows %+v, want one with the 600 bytes really counted", rows)
	}
	five, _ := sums(t, s, FiveMin, CatIface)
	if v := five[t0.Add(70*time.Minute).Unix()]; v != 500 {
		t.Errorf("the 5-minute bucket after the restart holds %d bytes, want 500 (the step back recorded after the last interval)", v)
	}
	gaps, err := s.Gaps(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 3 {
		t.Errorf("gaps %+v, want the suspend, the counter fault and the stop", gaps)
	}
}

// TestOpenErrors: each bad file gives its sentinel and nothing is changed.
func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text.db")
	os.WriteFile(text, []byte("hello, this is not a database at all\n"), 0o600)

	good := filepath.Join(dir, "good.db")
	s, err := Open(good, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(good, Options{}); !errors.Is(err, ErrWriterActive) {
		t.Errorf("second writer: %v, want ErrWriterActive", err)
	}
	r, err := OpenReadOnly(good, Options{})
	if err != nil {
		t.Errorf("reader beside the writer: %v", err)
	} else {
		r.Close()
	}
	s.Close()
	data, _ := os.ReadFile(good)

	trunc := filepath.Join(dir, "trunc.db")
	os.WriteFile(trunc, data[:50], 0o600)

	newer := filepath.Join(dir, "newer.db")
	os.WriteFile(newer, data, 0o600)
	if out, err := exec.Command("sqlite3", newer, "PRAGMA user_version = 99").CombinedOutput(); err != nil {
		t.Skipf("sqlite3: %v %s", err, out)
	}
	other := filepath.Join(dir, "other.db")
	if out, err := exec.Command("sqlite3", other, "CREATE TABLE t (x)").CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{text, ErrNotDatabase}, {trunc, ErrNotDatabase}, {newer, ErrNewerSchema}, {other, ErrNotDatabase},
		{filepath.Join(dir, "missing.db"), ErrNoDatabase}, {dir, ErrNotDatabase},
	} {
		before, _ := os.ReadFile(tc.path)
		_, err := OpenReadOnly(tc.path, Options{})
		if !errors.Is(err, tc.want) {
			t.Errorf("OpenReadOnly(%s): %v, want %v", filepath.Base(tc.path), err, tc.want)
		}
		if tc.path != dir {
			if _, err := Open(tc.path, Options{}); tc.want != ErrNoDatabase && !errors.Is(err, tc.want) {
				t.Errorf("Open(%s): %v, want %v", filepath.Base(tc.path), err, tc.want)
			}
		}
		after, _ := os.ReadFile(tc.path)
		if tc.want != ErrNoDatabase && string(before) != string(after) {
			t.Errorf("%s was changed by a failed open", filepath.Base(tc.path))
		}
	}
	if _, err := Open("/dev/null/h.db", Options{}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Open on a path that cannot be created: %v, want ErrReadOnly", err)
	}
}

package history

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// writer is the writer's state: its prepared statements, the key cache, and where the
// rollup stands.
type writer struct {
	s  *Store
	db *sql.DB

	keyIDs      map[keyT]int64
	lastEnd     time.Time // the bucket time of the last recorded interval (monotone)
	rolled      int64     // start of the oldest 5-minute bucket not yet rolled into the hours; 0: none written
	pendingKeys []keyT    // keys added by the open transaction (dropped from the cache if it fails)
}

type keyT struct{ cat, a, b, c string }

const maxKeyCache = 100_000

func newWriter(s *Store) (*writer, error) {
	w := &writer{s: s, db: s.db, keyIDs: map[keyT]int64{}}
	if v, ok, err := w.meta("last_end"); err != nil {
		return nil, err
	} else if ok {
		n, _ := strconv.ParseInt(v, 10, 64)
		w.lastEnd = time.Unix(0, n)
	}
	if v, ok, err := w.meta("rolled"); err != nil {
		return nil, err
	} else if ok {
		w.rolled, _ = strconv.ParseInt(v, 10, 64)
	}
	return w, nil
}

func (w *writer) meta(key string) (string, bool, error) {
	var v string
	err := w.db.QueryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, w.s.classify(err)
	}
	return v, true, nil
}

func (w *writer) close() error { return nil }

// Record writes one interval in one transaction. It returns what it noticed (a gap, a
// clock step, a counter fault) for the status line; an error leaves the database as it
// was before the call.
func (s *Store) Record(iv *Interval) (notes []string, err error) {
	if s.w == nil {
		return nil, fmt.Errorf("history %s: %w (opened read-only)", s.path, ErrReadOnly)
	}
	return s.w.record(iv)
}

func (w *writer) record(iv *Interval) (notes []string, err error) {
	o := &w.s.opts
	t := iv.End
	var gaps [][3]any
	if !w.lastEnd.IsZero() {
		if t.Before(w.lastEnd) {
			// the clock stepped back (now, or before a restart): time in the file only moves
			// forward, so the interval goes after the last one instead of into buckets that
			// already hold their own traffic
			t = w.lastEnd.Add(iv.Elapsed)
			notes = append(notes, fmt.Sprintf("history: the clock is behind the last recorded interval (%s): recording after it", w.lastEnd.Format(time.RFC3339)))
		} else if from := t.Add(-iv.Elapsed); from.Sub(w.lastEnd) > o.GapAfter {
			gaps = append(gaps, [3]any{w.lastEnd.Unix(), from.Unix(), "not recording (recorder stopped, host asleep, or the clock stepped)"})
		}
	}
	skipTraffic := false
	if iv.Elapsed > o.GapAfter {
		gaps = append(gaps, [3]any{t.Add(-iv.Elapsed).Unix(), t.Unix(), fmt.Sprintf("an interval of %s is a pause, not traffic", iv.Elapsed.Round(time.Second))})
		skipTraffic = true
	}
	at := t.Add(-time.Nanosecond) // an interval ending on a bucket edge belongs to the bucket it closes
	b5 := FiveMin.Start(at, w.s.loc).Unix()

	tx, err := w.db.Begin()
	if err != nil {
		return nil, w.s.classify(err)
	}
	w.pendingKeys = w.pendingKeys[:0]
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			for _, k := range w.pendingKeys {
				delete(w.keyIDs, k)
			}
		}
	}()
	if !w.lastEnd.IsZero() {
		if prev := FiveMin.Start(w.lastEnd.Add(-time.Nanosecond), w.s.loc).Unix(); b5 > prev {
			// the 5-minute bucket of the last interval closed: trim it, prune what the
			// retention no longer keeps
			if err := w.compact(tx, FiveMin, prev); err != nil {
				return nil, err
			}
			if err := w.prune(tx, t); err != nil {
				return nil, err
			}
		}
	}
	rolled, hour := w.rolled, Hour.Start(at, w.s.loc).Unix()
	if rolled != 0 && hour > rolled {
		if err := w.rollUp(tx, rolled, hour); err != nil {
			return nil, err
		}
	}
	if rolled == 0 || hour > rolled {
		rolled = hour // the running hour's 5-minute rows are not in the hours yet
	}
	for _, g := range gaps {
		if _, err := tx.Exec(`INSERT INTO gaps (start, end, reason) VALUES (?, ?, ?)`, g[0], g[1], g[2]); err != nil {
			return nil, w.s.classify(err)
		}
	}
	if !skipTraffic {
		n, err := w.writeTraffic(tx, iv, b5)
		if err != nil {
			return nil, err
		}
		notes = append(notes, n...)
	}
	if _, err := tx.Exec(`INSERT INTO meta (key, value) VALUES ('last_end', ?), ('rolled', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		strconv.FormatInt(t.UnixNano(), 10), strconv.FormatInt(rolled, 10)); err != nil {
		return nil, w.s.classify(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, w.s.classify(err)
	}
	w.lastEnd, w.rolled = t, rolled
	return notes, nil
}

const upsertTraffic = `INSERT INTO traffic (kind, ts, key, rx_bytes, tx_bytes, rx_packets, tx_packets,
	rx_errors, tx_errors, rx_drops, tx_drops, secs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (kind, ts, key) DO UPDATE SET
	rx_bytes = rx_bytes + excluded.rx_bytes, tx_bytes = tx_bytes + excluded.tx_bytes,
	rx_packets = rx_packets + excluded.rx_packets, tx_packets = tx_packets + excluded.tx_packets,
	rx_errors = rx_errors + excluded.rx_errors, tx_errors = tx_errors + excluded.tx_errors,
	rx_drops = rx_drops + excluded.rx_drops, tx_drops = tx_drops + excluded.tx_drops,
	secs = secs + excluded.secs`

const upsertTCP = `INSERT INTO tcp (kind, ts, state, max, sum, n) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (kind, ts, state) DO UPDATE SET
	max = max(max, excluded.max), sum = sum + excluded.sum, n = n + excluded.n`

const upsertKernel = `INSERT INTO kernel (kind, ts, name, value) VALUES (?, ?, ?, ?)
	ON CONFLICT (kind, ts, name) DO UPDATE SET value = value + excluded.value`

func i64(v uint64) int64 {
	if v > 1<<62 {
		return 1 << 62
	}
	return int64(v)
}

// writeTraffic adds the interval to its 5-minute rows.
func (w *writer) writeTraffic(tx *sql.Tx, iv *Interval, b5 int64) (notes []string, err error) {
	secs := iv.Elapsed.Seconds()
	st, err := tx.Prepare(upsertTraffic)
	if err != nil {
		return nil, w.s.classify(err)
	}
	defer st.Close()
	for i := range iv.Ifaces {
		d := &iv.Ifaces[i]
		if secs > 0 && float64(d.RxBytes+d.TxBytes)/secs > w.s.opts.MaxRate {
			notes = append(notes, fmt.Sprintf("history: %s counted %d bytes in %s, more than a link carries: a counter fault, not recorded", d.Name, d.RxBytes+d.TxBytes, iv.Elapsed))
			if _, err := tx.Exec(`INSERT INTO gaps (start, end, reason) VALUES (?, ?, ?)`,
				iv.End.Add(-iv.Elapsed).Unix(), iv.End.Unix(), "counter fault on "+d.Name); err != nil {
				return nil, w.s.classify(err)
			}
			continue
		}
		id, err := w.key(tx, keyT{CatIface, d.Name, "", ""})
		if err != nil {
			return nil, err
		}
		if _, err := st.Exec(FiveMin, b5, id, i64(d.RxBytes), i64(d.TxBytes), i64(d.RxPackets), i64(d.TxPackets),
			i64(d.RxErrors), i64(d.TxErrors), i64(d.RxDrops), i64(d.TxDrops), secs); err != nil {
			return nil, w.s.classify(err)
		}
	}
	for _, c := range []struct {
		cat string
		u   []Usage
	}{{CatProc, iv.Procs}, {CatHost, iv.Hosts}, {CatPort, iv.Ports}} {
		if err := w.writeUsage(tx, st, c.cat, c.u, b5); err != nil {
			return nil, err
		}
	}
	if len(iv.TCP) > 0 {
		st, err := tx.Prepare(upsertTCP)
		if err != nil {
			return nil, w.s.classify(err)
		}
		defer st.Close()
		for _, c := range iv.TCP {
			if _, err := st.Exec(FiveMin, b5, c.State, c.Count, c.Count, 1); err != nil {
				return nil, w.s.classify(err)
			}
		}
	}
	if len(iv.Kernel) > 0 {
		st, err := tx.Prepare(upsertKernel)
		if err != nil {
			return nil, w.s.classify(err)
		}
		defer st.Close()
		for _, c := range iv.Kernel {
			if c.Value == 0 {
				continue
			}
			if _, err := st.Exec(FiveMin, b5, c.Name, i64(c.Value)); err != nil {
				return nil, w.s.classify(err)
			}
		}
	}
	return notes, nil
}

// writeUsage adds the top N of u (sorted in place, by bytes) and one (other) row for the rest.
func (w *writer) writeUsage(tx *sql.Tx, st *sql.Stmt, cat string, u []Usage, b5 int64) error {
	if len(u) == 0 {
		return nil
	}
	slices.SortFunc(u, func(x, y Usage) int { return cmp.Compare(y.Rx+y.Tx, x.Rx+x.Tx) })
	var other Usage
	for i := range u {
		if i >= w.s.opts.TopN || u[i].A == Other {
			other.Rx += u[i].Rx
			other.Tx += u[i].Tx
			continue
		}
		if u[i].Rx+u[i].Tx == 0 {
			continue
		}
		if err := w.addUsage(tx, st, keyT{cat, u[i].A, u[i].B, u[i].C}, u[i].Rx, u[i].Tx, b5); err != nil {
			return err
		}
	}
	if other.Rx+other.Tx > 0 {
		return w.addUsage(tx, st, keyT{cat, Other, "", ""}, other.Rx, other.Tx, b5)
	}
	return nil
}

func (w *writer) addUsage(tx *sql.Tx, st *sql.Stmt, k keyT, rx, tx2 uint64, b5 int64) error {
	id, err := w.key(tx, k)
	if err != nil {
		return err
	}
	if _, err := st.Exec(FiveMin, b5, id, i64(rx), i64(tx2), 0, 0, 0, 0, 0, 0, 0); err != nil {
		return w.s.classify(err)
	}
	return nil
}

// key returns the id of k, adding it to the keys table the first time.
func (w *writer) key(tx *sql.Tx, k keyT) (int64, error) {
	if id, ok := w.keyIDs[k]; ok {
		return id, nil
	}
	var id int64
	err := tx.QueryRow(`SELECT id FROM keys WHERE cat = ? AND a = ? AND b = ? AND c = ?`, k.cat, k.a, k.b, k.c).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		res, err := tx.Exec(`INSERT INTO keys (cat, a, b, c) VALUES (?, ?, ?, ?)`, k.cat, k.a, k.b, k.c)
		if err != nil {
			return 0, w.s.classify(err)
		}
		id, err = res.LastInsertId()
		if err != nil {
			return 0, w.s.classify(err)
		}
		// an id learnt inside a transaction that rolls back must not stay cached
		w.pendingKeys = append(w.pendingKeys, k)
	} else if err != nil {
		return 0, w.s.classify(err)
	}
	if len(w.keyIDs) >= maxKeyCache {
		clear(w.keyIDs)
	}
	w.keyIDs[k] = id
	return id, nil
}

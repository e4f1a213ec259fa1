package history

import (
	"database/sql"
	"time"
)

// rollUp rolls the 5-minute rows in [from, to) (whole hours: to is the start of the
// running hour) into the hour, day, month and year rows, trims each bucket that closes to
// the top N keys, and keeps the top days.
func (w *writer) rollUp(tx *sql.Tx, from, to int64) error {
	var hours []int64
	rows, err := tx.Query(`SELECT ts FROM traffic WHERE kind = 1 AND ts >= ?1 AND ts < ?2
		UNION SELECT ts FROM tcp WHERE kind = 1 AND ts >= ?1 AND ts < ?2
		UNION SELECT ts FROM kernel WHERE kind = 1 AND ts >= ?1 AND ts < ?2 ORDER BY 1`, from, to)
	if err != nil {
		return w.s.classify(err)
	}
	for rows.Next() {
		var ts int64
		if err := rows.Scan(&ts); err != nil {
			rows.Close()
			return w.s.classify(err)
		}
		h := Hour.Start(time.Unix(ts, 0), w.s.loc).Unix()
		if len(hours) == 0 || hours[len(hours)-1] != h {
			hours = append(hours, h)
		}
	}
	if err := rows.Close(); err != nil {
		return w.s.classify(err)
	}
	for i, h := range hours {
		next := to
		if i+1 < len(hours) {
			next = hours[i+1]
		}
		if err := w.rollHour(tx, h, next); err != nil {
			return err
		}
	}
	return nil
}

// rollHour adds the closed hour h's 5-minute rows to the hour, day, month and year rows;
// next is the start of the next hour with data (or the running one), which tells which
// days, months and years closed with h.
func (w *writer) rollHour(tx *sql.Tx, h, next int64) error {
	ht, nt := time.Unix(h, 0), time.Unix(next, 0)
	end := Hour.Next(ht.In(w.s.loc)).Unix()
	for _, k := range Kinds[1:] {
		start := k.Start(ht, w.s.loc).Unix()
		if _, err := tx.Exec(`INSERT INTO traffic (kind, ts, key, rx_bytes, tx_bytes, rx_packets, tx_packets,
			rx_errors, tx_errors, rx_drops, tx_drops, secs)
			SELECT ?1, ?2, key, sum(rx_bytes), sum(tx_bytes), sum(rx_packets), sum(tx_packets), sum(rx_errors),
			sum(tx_errors), sum(rx_drops), sum(tx_drops), sum(secs)
			FROM traffic WHERE kind = 1 AND ts >= ?3 AND ts < ?4 GROUP BY key
			ON CONFLICT (kind, ts, key) DO UPDATE SET
			rx_bytes = rx_bytes + excluded.rx_bytes, tx_bytes = tx_bytes + excluded.tx_bytes,
			rx_packets = rx_packets + excluded.rx_packets, tx_packets = tx_packets + excluded.tx_packets,
			rx_errors = rx_errors + excluded.rx_errors, tx_errors = tx_errors + excluded.tx_errors,
			rx_drops = rx_drops + excluded.rx_drops, tx_drops = tx_drops + excluded.tx_drops,
			secs = secs + excluded.secs`, k, start, h, end); err != nil {
			return w.s.classify(err)
		}
		if _, err := tx.Exec(`INSERT INTO tcp (kind, ts, state, max, sum, n)
			SELECT ?1, ?2, state, max(max), sum(sum), sum(n) FROM tcp WHERE kind = 1 AND ts >= ?3 AND ts < ?4 GROUP BY state
			ON CONFLICT (kind, ts, state) DO UPDATE SET
			max = max(max, excluded.max), sum = sum + excluded.sum, n = n + excluded.n`, k, start, h, end); err != nil {
			return w.s.classify(err)
		}
		if _, err := tx.Exec(`INSERT INTO kernel (kind, ts, name, value)
			SELECT ?1, ?2, name, sum(value) FROM kernel WHERE kind = 1 AND ts >= ?3 AND ts < ?4 GROUP BY name
			ON CONFLICT (kind, ts, name) DO UPDATE SET value = value + excluded.value`, k, start, h, end); err != nil {
			return w.s.classify(err)
		}
		if k == Hour || k.Start(nt, w.s.loc).Unix() != start { // the bucket of kind k closed with h
			if err := w.compact(tx, k, start); err != nil {
				return err
			}
			if k == Day {
				if err := w.keepTopDays(tx, start); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// compact trims the bucket (k, ts) to the top N processes, hosts and ports by bytes and
// adds the rest to each category's (other) row, so that the bucket's totals do not change.
func (w *writer) compact(tx *sql.Tx, k Kind, ts int64) error {
	for _, cat := range []string{CatProc, CatHost, CatPort} {
		rows, err := tx.Query(`SELECT t.key, t.rx_bytes, t.tx_bytes FROM traffic t CROSS JOIN keys k ON k.id = t.key
			WHERE t.kind = ? AND t.ts = ? AND k.cat = ? AND k.a != ?
			ORDER BY t.rx_bytes + t.tx_bytes DESC, t.key LIMIT -1 OFFSET ?`, k, ts, cat, Other, w.s.opts.TopN)
		if err != nil {
			return w.s.classify(err)
		}
		var ids []int64
		var rx, txb int64
		for rows.Next() {
			var id, r, t int64
			if err := rows.Scan(&id, &r, &t); err != nil {
				rows.Close()
				return w.s.classify(err)
			}
			ids, rx, txb = append(ids, id), rx+r, txb+t
		}
		if err := rows.Close(); err != nil {
			return w.s.classify(err)
		}
		if len(ids) == 0 {
			continue
		}
		for _, id := range ids {
			if _, err := tx.Exec(`DELETE FROM traffic WHERE kind = ? AND ts = ? AND key = ?`, k, ts, id); err != nil {
				return w.s.classify(err)
			}
		}
		other, err := w.key(tx, keyT{cat, Other, "", ""})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(upsertTraffic, k, ts, other, rx, txb, 0, 0, 0, 0, 0, 0, 0); err != nil {
			return w.s.classify(err)
		}
	}
	return nil
}

// keepTopDays adds the closed day's interface rows to the top days and keeps the busiest
// TopDays per interface.
func (w *writer) keepTopDays(tx *sql.Tx, day int64) error {
	if _, err := tx.Exec(`INSERT OR REPLACE INTO top_days (key, ts, rx_bytes, tx_bytes)
		SELECT t.key, t.ts, t.rx_bytes, t.tx_bytes FROM traffic t CROSS JOIN keys k ON k.id = t.key
		WHERE t.kind = 3 AND t.ts = ? AND k.cat = 'iface'`, day); err != nil {
		return w.s.classify(err)
	}
	_, err := tx.Exec(`DELETE FROM top_days WHERE (key, ts) IN (
		SELECT key, ts FROM (SELECT key, ts, row_number() OVER (PARTITION BY key ORDER BY rx_bytes + tx_bytes DESC, ts DESC) AS r FROM top_days)
		WHERE r > ?)`, w.s.opts.Retention.TopDays)
	return w.s.classify(err)
}

// cutoffs returns, for the time now, the start of the oldest bucket that the retention
// keeps for each kind (0 for kinds kept forever), and the one for keyed 5-minute rows.
func (r Retention) cutoffs(now time.Time, loc *time.Location) (c [Year + 1]int64, keyed5 int64) {
	b5 := FiveMin.Start(now, loc)
	c[FiveMin] = b5.Add(-r.FiveMin).Unix()
	keyed5 = b5.Add(-r.FiveMinKeyed).Unix()
	c[Hour] = Hour.Start(now, loc).Add(-r.Hour).Unix()
	c[Day] = Day.Start(now, loc).AddDate(0, 0, -(r.Days - 1)).Unix()
	c[Month] = Month.Start(now, loc).AddDate(0, -(r.Months - 1), 0).Unix()
	if r.Years > 0 {
		c[Year] = Year.Start(now, loc).AddDate(-(r.Years - 1), 0, 0).Unix()
	}
	return c, keyed5
}

// prune deletes the rows older than the retention keeps (never a 5-minute row not rolled
// up yet: FiveMin and FiveMinKeyed are at least an hour, see withDefaults).
func (w *writer) prune(tx *sql.Tx, now time.Time) error {
	c, keyed5 := w.s.opts.Retention.cutoffs(now, w.s.loc)
	for _, k := range Kinds {
		if c[k] == 0 {
			continue
		}
		for _, q := range []string{
			`DELETE FROM traffic WHERE kind = ? AND ts < ? AND key IN (SELECT id FROM keys WHERE cat = 'iface')`,
			`DELETE FROM tcp WHERE kind = ? AND ts < ?`,
			`DELETE FROM kernel WHERE kind = ? AND ts < ?`,
		} {
			if _, err := tx.Exec(q, k, c[k]); err != nil {
				return w.s.classify(err)
			}
		}
		cut := c[k]
		if k == FiveMin {
			cut = keyed5
		}
		if _, err := tx.Exec(`DELETE FROM traffic WHERE kind = ? AND ts < ? AND key IN (SELECT id FROM keys WHERE cat != 'iface')`, k, cut); err != nil {
			return w.s.classify(err)
		}
	}
	// gaps and resolved alerts are kept as long as the daily rows
	if _, err := tx.Exec(`DELETE FROM gaps WHERE end < ?`, c[Day]); err != nil {
		return w.s.classify(err)
	}
	_, err := tx.Exec(`DELETE FROM alerts WHERE resolved IS NOT NULL AND resolved < ?`, c[Day])
	return w.s.classify(err)
}

package history

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"time"
)

// Row is one bucket of one key.
type Row struct {
	Kind  Kind
	Start time.Time // the bucket's start, in the store's location
	Cat   string    // CatIface, CatProc, CatHost, CatPort
	A     string    // interface name, comm, remote address, protocol (Other for the rest)
	B, C  string    // exe path and user of a process; the port of a port

	RxBytes, TxBytes     uint64
	RxPackets, TxPackets uint64
	RxErrors, TxErrors   uint64
	RxDrops, TxDrops     uint64
	Secs                 float64 // seconds of recording the bucket holds (interfaces)
}

// Query selects rows.
type Query struct {
	Kind       Kind
	Cat        string
	A          string    // only this key's A (an interface name); "" for all
	Begin, End time.Time // buckets that start in [Begin, End); zero for no bound
}

func (r *Row) add(o *Row) {
	r.RxBytes += o.RxBytes
	r.TxBytes += o.TxBytes
	r.RxPackets += o.RxPackets
	r.TxPackets += o.TxPackets
	r.RxErrors += o.RxErrors
	r.TxErrors += o.TxErrors
	r.RxDrops += o.RxDrops
	r.TxDrops += o.TxDrops
	r.Secs += o.Secs
}

// Traffic returns the rows of q ordered by start, then key. For kinds above 5 minutes it
// adds the 5-minute rows not rolled up yet (the running bucket), so totals are current.
func (s *Store) Traffic(ctx context.Context, q Query) ([]Row, error) {
	rolled, err := s.rolled(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.rows(ctx, q.Kind, q, 0)
	if err != nil {
		return nil, err
	}
	if q.Kind > FiveMin && rolled > 0 {
		fresh, err := s.rows(ctx, FiveMin, Query{Cat: q.Cat, A: q.A}, rolled)
		if err != nil {
			return nil, err
		}
		type id struct {
			start   int64
			a, b, c string
		}
		at := map[id]int{}
		for i := range rows {
			at[id{rows[i].Start.Unix(), rows[i].A, rows[i].B, rows[i].C}] = i
		}
		for _, f := range fresh {
			f.Kind, f.Start = q.Kind, q.Kind.Start(f.Start, s.loc)
			if !q.Begin.IsZero() && f.Start.Before(q.Begin) || !q.End.IsZero() && !f.Start.Before(q.End) {
				continue
			}
			k := id{f.Start.Unix(), f.A, f.B, f.C}
			if i, ok := at[k]; ok {
				rows[i].add(&f)
				continue
			}
			at[k] = len(rows)
			rows = append(rows, f)
		}
		slices.SortStableFunc(rows, func(x, y Row) int {
			return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B), cmp.Compare(x.C, y.C))
		})
	}
	return rows, nil
}

// rows reads the stored rows of kind k (with ts >= since when since > 0).
func (s *Store) rows(ctx context.Context, k Kind, q Query, since int64) ([]Row, error) {
	sqlq := `SELECT t.ts, k.a, k.b, k.c, t.rx_bytes, t.tx_bytes, t.rx_packets, t.tx_packets,
		t.rx_errors, t.tx_errors, t.rx_drops, t.tx_drops, t.secs
		FROM traffic t CROSS JOIN keys k ON k.id = t.key
		WHERE t.kind = ? AND k.cat = ? AND (? = '' OR k.a = ?) AND t.ts >= ? AND t.ts < ?
		ORDER BY t.ts, k.a, k.b, k.c` // the buckets' range first (the primary key), then their keys
	begin, end := int64(-1<<62), int64(1<<62)
	if !q.Begin.IsZero() {
		begin = q.Begin.Unix()
	}
	if !q.End.IsZero() {
		end = q.End.Unix()
	}
	if since > 0 {
		begin = max(begin, since)
	}
	rs, err := s.db.QueryContext(ctx, sqlq, k, q.Cat, q.A, q.A, begin, end)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rs.Close()
	var out []Row
	for rs.Next() {
		r := Row{Kind: k, Cat: q.Cat}
		var ts int64
		var v [8]int64
		if err := rs.Scan(&ts, &r.A, &r.B, &r.C, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &r.Secs); err != nil {
			return nil, s.classify(err)
		}
		r.Start = time.Unix(ts, 0).In(s.loc)
		r.RxBytes, r.TxBytes, r.RxPackets, r.TxPackets = uint64(v[0]), uint64(v[1]), uint64(v[2]), uint64(v[3])
		r.RxErrors, r.TxErrors, r.RxDrops, r.TxDrops = uint64(v[4]), uint64(v[5]), uint64(v[6]), uint64(v[7])
		out = append(out, r)
	}
	return out, s.classify(rs.Err())
}

// rolled returns the start of the oldest 5-minute bucket not rolled up (0: nothing recorded).
func (s *Store) rolled(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'rolled'`).Scan(&v)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	return v, s.classify(err)
}

// Interfaces returns the names of the interfaces with history, sorted.
func (s *Store) Interfaces(ctx context.Context) ([]string, error) {
	// the year rows hold every interface ever rolled up; the 5-minute rows of the running
	// hour the others
	rs, err := s.db.QueryContext(ctx, `SELECT DISTINCT k.a FROM traffic t CROSS JOIN keys k ON k.id = t.key
		WHERE k.cat = 'iface' AND (t.kind = 5 OR t.kind = 1 AND t.ts >= coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'rolled'), 0))
		ORDER BY k.a`)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var n string
		if err := rs.Scan(&n); err != nil {
			return nil, s.classify(err)
		}
		out = append(out, n)
	}
	return out, s.classify(rs.Err())
}

// TopDays returns the busiest days of interface iface (the running day among them when it
// qualifies), busiest first.
func (s *Store) TopDays(ctx context.Context, iface string, n int) ([]Row, error) {
	days, err := s.Traffic(ctx, Query{Kind: Day, Cat: CatIface, A: iface})
	if err != nil {
		return nil, err
	}
	rs, err := s.db.QueryContext(ctx, `SELECT d.ts, k.a, d.rx_bytes, d.tx_bytes FROM top_days d JOIN keys k ON k.id = d.key
		WHERE k.cat = 'iface' AND (? = '' OR k.a = ?)`, iface, iface)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rs.Close()
	seen := map[[2]any]bool{}
	for _, d := range days {
		seen[[2]any{d.Start.Unix(), d.A}] = true
	}
	for rs.Next() {
		var ts, rx, tx int64
		var a string
		if err := rs.Scan(&ts, &a, &rx, &tx); err != nil {
			return nil, s.classify(err)
		}
		if seen[[2]any{ts, a}] {
			continue
		}
		days = append(days, Row{Kind: Day, Start: time.Unix(ts, 0).In(s.loc), Cat: CatIface, A: a, RxBytes: uint64(rx), TxBytes: uint64(tx)})
	}
	if err := rs.Err(); err != nil {
		return nil, s.classify(err)
	}
	slices.SortStableFunc(days, func(x, y Row) int {
		return cmp.Or(cmp.Compare(y.RxBytes+y.TxBytes, x.RxBytes+x.TxBytes), y.Start.Compare(x.Start))
	})
	if n > 0 && len(days) > n {
		days = days[:n]
	}
	return days, nil
}

// Gap is a time when nothing was recorded.
type Gap struct {
	Start, End time.Time
	Reason     string
}

// Gaps returns the gaps that overlap [begin, end) (zero for no bound), oldest first.
func (s *Store) Gaps(ctx context.Context, begin, end time.Time) ([]Gap, error) {
	b, e := int64(-1<<62), int64(1<<62)
	if !begin.IsZero() {
		b = begin.Unix()
	}
	if !end.IsZero() {
		e = end.Unix()
	}
	rs, err := s.db.QueryContext(ctx, `SELECT start, end, reason FROM gaps WHERE end > ? AND start < ? ORDER BY start`, b, e)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rs.Close()
	var out []Gap
	for rs.Next() {
		var g Gap
		var st, en int64
		if err := rs.Scan(&st, &en, &g.Reason); err != nil {
			return nil, s.classify(err)
		}
		g.Start, g.End = time.Unix(st, 0).In(s.loc), time.Unix(en, 0).In(s.loc)
		out = append(out, g)
	}
	return out, s.classify(rs.Err())
}

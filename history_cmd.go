package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/wiretop/wiretop/history"
)

// HistoryConfig is what `wiretop history` is asked for.
type HistoryConfig struct {
	DB, ConfigPath string // --db, --config
	dbSet          bool
	Kind           history.Kind // --5min, --hours, --days (default), --months, --years
	Top            bool         // --top: the busiest days
	Cat            string       // history.CatIface (default), CatProc, CatHost, CatPort
	Interface      string       // -i: one interface ("" all)
	Begin, End     time.Time    // --begin, --end
	P95            bool         // --95th
	JSON           bool
	Limit          int // --limit: rows per table (0: all)
}

const historyUsage = `Usage: wiretop history [flags]

Reports from the history database, as vnstat's: traffic per interface (default), or per
process, remote host or local service port, in 5-minute, hourly, daily, monthly or yearly
buckets; the busiest days; the 95th percentile of the 5-minute rates.

`

// parseHistoryArgs reads the flags of `wiretop history`.
func parseHistoryArgs(args []string, stderr io.Writer) (HistoryConfig, error) {
	var h HistoryConfig
	fs := pflag.NewFlagSet("wiretop history", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, historyUsage)
		fmt.Fprint(stderr, fs.FlagUsages())
	}
	var five, hours, days, months, years, procs, hosts, ports bool
	var begin, end string
	fs.BoolVar(&five, "5min", false, "5-minute buckets")
	fs.BoolVar(&hours, "hours", false, "hourly buckets")
	fs.BoolVar(&days, "days", false, "daily buckets (the default)")
	fs.BoolVar(&months, "months", false, "monthly buckets")
	fs.BoolVar(&years, "years", false, "yearly buckets")
	fs.BoolVar(&h.Top, "top", false, "the busiest days of each interface")
	fs.BoolVar(&procs, "processes", false, "per process (program, executable and user)")
	fs.BoolVar(&hosts, "hosts", false, "per remote host (needs capture)")
	fs.BoolVar(&ports, "ports", false, "per local service port (needs capture)")
	fs.StringVarP(&h.Interface, "interface", "i", "", "only this interface")
	fs.StringVar(&begin, "begin", "", "from this date: YYYY-MM-DD or \"YYYY-MM-DD HH:MM\" (local time; default: the last 24 h of 5-minute, 48 h of hourly, 30 days of daily, 12 months of monthly buckets)")
	fs.StringVar(&end, "end", "", "up to this date (exclusive), same format")
	fs.BoolVar(&h.P95, "95th", false, "the 95th percentile of the 5-minute rates (default range: this month)")
	fs.BoolVar(&h.JSON, "json", false, "JSON instead of text tables")
	fs.IntVar(&h.Limit, "limit", 0, "at most this many rows per table, the latest (0: all)")
	fs.StringVar(&h.DB, "db", "", "the history database (default: the recorder's, see wiretop --help)")
	fs.StringVar(&h.ConfigPath, "config", "", "preferences file (default ~/.config/wiretop/config.toml)")
	if err := fs.Parse(args); err != nil {
		return h, err
	}
	h.dbSet = fs.Changed("db")
	if fs.NArg() > 0 {
		return h, fmt.Errorf("history: unexpected argument %q (see wiretop history --help)", fs.Arg(0))
	}
	h.Kind = history.Day
	n := 0
	for _, k := range []struct {
		on   bool
		kind history.Kind
	}{{five, history.FiveMin}, {hours, history.Hour}, {days, history.Day}, {months, history.Month}, {years, history.Year}} {
		if k.on {
			h.Kind = k.kind
			n++
		}
	}
	if h.Top {
		n++
	}
	if h.P95 {
		n++
	}
	if n > 1 {
		return h, errors.New("history: choose one of --5min, --hours, --days, --months, --years, --top, --95th")
	}
	h.Cat = history.CatIface
	n = 0
	for _, c := range []struct {
		on  bool
		cat string
	}{{procs, history.CatProc}, {hosts, history.CatHost}, {ports, history.CatPort}} {
		if c.on {
			h.Cat = c.cat
			n++
		}
	}
	if n > 1 {
		return h, errors.New("history: choose one of --processes, --hosts, --ports")
	}
	if h.Cat != history.CatIface && (h.Top || h.P95) {
		return h, errors.New("history: --top and --95th are per interface")
	}
	if h.Limit < 0 {
		return h, errors.New("history: --limit takes a number >= 0")
	}
	var err error
	if h.Begin, err = parseHistoryDate("--begin", begin); err != nil {
		return h, err
	}
	if h.End, err = parseHistoryDate("--end", end); err != nil {
		return h, err
	}
	if !h.Begin.IsZero() && !h.End.IsZero() && !h.Begin.Before(h.End) {
		return h, errors.New("history: --begin must be before --end")
	}
	return h, nil
}

func parseHistoryDate(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("history: %s %q: want YYYY-MM-DD or \"YYYY-MM-DD HH:MM\"", flag, s)
}

// runHistory prints the report cfg.History asks for.
func runHistory(ctx context.Context, cfg Config, stdout io.Writer) error {
	h := cfg.History
	cfg.ConfigPath, cfg.DB, cfg.dbSet = h.ConfigPath, h.DB, h.dbSet
	file, opts, _, err := historyOptions(cfg)
	if err != nil {
		return err
	}
	path := dbPath(cfg, file)
	if path == "" {
		return errors.New("history: no database (--db '')")
	}
	s, err := history.OpenReadOnly(path, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now()
	if h.Begin.IsZero() && !h.Top && !h.P95 {
		// as vnstat's reports: the latest entries unless --begin asks for more
		switch h.Kind {
		case history.FiveMin:
			h.Begin = now.Add(-24 * time.Hour)
		case history.Hour:
			h.Begin = now.Add(-48 * time.Hour)
		case history.Day:
			h.Begin = now.AddDate(0, 0, -30)
		case history.Month:
			h.Begin = now.AddDate(-1, 0, 0)
		}
		if h.Kind != history.Year {
			h.Begin = h.Kind.Start(h.Begin, time.Local)
		}
	}
	rep := historyReport{Type: "history", Database: path, Generated: now, Category: h.Cat, Interface: h.Interface}
	switch {
	case h.P95:
		err = rep.p95(ctx, s, h, now)
	case h.Top:
		rep.Kind = "top"
		err = rep.top(ctx, s, h)
	default:
		err = rep.buckets(ctx, s, h, now)
	}
	if err != nil {
		return err
	}
	if rep.Gaps, err = s.Gaps(ctx, h.Begin, h.End); err != nil {
		return err
	}
	if h.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep.json())
	}
	return rep.text(stdout)
}

// historyReport is what `wiretop history` prints.
type historyReport struct {
	Type      string
	Database  string
	Generated time.Time
	Kind      string // "5min", "hour", "day", "month", "year", "top", "95th"
	Category  string
	Interface string
	Rows      []history.Row
	Estimates []estimate
	P95       []p95
	Gaps      []history.Gap
}

type estimate struct {
	Key              string // the interface
	Kind             string // "day" or "month"
	RxBytes, TxBytes uint64 // expected by the end of the running bucket
}

type p95 struct {
	Interface     string
	Begin, End    time.Time
	Samples       int     // 5-minute buckets with data
	Rx, Tx, Total float64 // bytes per second
	RxMax, TxMax  float64
	CoveredPct    float64
}

func (r *historyReport) buckets(ctx context.Context, s *history.Store, h HistoryConfig, now time.Time) error {
	r.Kind = h.Kind.String()
	rows, err := s.Traffic(ctx, history.Query{Kind: h.Kind, Cat: h.Cat, A: h.Interface, Begin: h.Begin, End: h.End})
	if err != nil {
		return err
	}
	if h.Cat != history.CatIface {
		// busiest first within each bucket, as nethogs and iftop sort
		slices.SortStableFunc(rows, func(a, b history.Row) int {
			return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(b.RxBytes+b.TxBytes, a.RxBytes+a.TxBytes))
		})
	}
	if h.Limit > 0 && h.Cat == history.CatIface && len(rows) > h.Limit*max(1, countKeys(rows)) {
		rows = rows[len(rows)-h.Limit*countKeys(rows):]
	}
	r.Rows = rows
	if h.Cat == history.CatIface && (h.Kind == history.Day || h.Kind == history.Month) {
		start := h.Kind.Start(now, s.Location())
		frac := now.Sub(start).Seconds() / h.Kind.Next(start).Sub(start).Seconds()
		for _, row := range rows {
			if row.Start.Equal(start) && frac > 0 {
				r.Estimates = append(r.Estimates, estimate{Key: row.A, Kind: r.Kind,
					RxBytes: uint64(float64(row.RxBytes) / frac), TxBytes: uint64(float64(row.TxBytes) / frac)})
			}
		}
	}
	return nil
}

func countKeys(rows []history.Row) int {
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.A] = true
	}
	return len(seen)
}

func (r *historyReport) top(ctx context.Context, s *history.Store, h HistoryConfig) error {
	names := []string{h.Interface}
	if h.Interface == "" {
		var err error
		if names, err = s.Interfaces(ctx); err != nil {
			return err
		}
	}
	n := 10
	if h.Limit > 0 {
		n = h.Limit
	}
	for _, name := range names {
		rows, err := s.TopDays(ctx, name, n)
		if err != nil {
			return err
		}
		r.Rows = append(r.Rows, rows...)
	}
	return nil
}

// p95 computes the 95th percentile of the 5-minute rates as vnstat 2.12 does: each
// 5-minute bucket's bytes over 300 s, sorted, the top 5% discarded. Buckets without data
// are not samples (a recorder that was stopped does not lower the figure).
func (r *historyReport) p95(ctx context.Context, s *history.Store, h HistoryConfig, now time.Time) error {
	r.Kind = "95th"
	begin, end := h.Begin, h.End
	if begin.IsZero() {
		begin = history.Month.Start(now, s.Location())
	}
	if end.IsZero() {
		end = now
	}
	rows, err := s.Traffic(ctx, history.Query{Kind: history.FiveMin, Cat: history.CatIface, A: h.Interface, Begin: begin, End: end})
	if err != nil {
		return err
	}
	by := map[string][]history.Row{}
	var names []string
	for _, row := range rows {
		if by[row.A] == nil {
			names = append(names, row.A)
		}
		by[row.A] = append(by[row.A], row)
	}
	slices.Sort(names)
	for _, name := range names {
		rs := by[name]
		var rx, tx, tot []float64
		p := p95{Interface: name, Begin: begin, End: end, Samples: len(rs)}
		for _, row := range rs {
			rx = append(rx, float64(row.RxBytes)/300)
			tx = append(tx, float64(row.TxBytes)/300)
			tot = append(tot, float64(row.RxBytes+row.TxBytes)/300)
		}
		p.Rx, p.RxMax = percentile95(rx)
		p.Tx, p.TxMax = percentile95(tx)
		p.Total, _ = percentile95(tot)
		if want := end.Sub(begin).Minutes() / 5; want > 0 {
			p.CoveredPct = math.Min(100, 100*float64(len(rs))/math.Ceil(want))
		}
		r.P95 = append(r.P95, p)
	}
	return nil
}

// percentile95 returns the 95th percentile (nearest rank: the value below which 95% of
// the samples lie, the top 5% discarded) and the maximum.
func percentile95(v []float64) (p, maxv float64) {
	if len(v) == 0 {
		return 0, 0
	}
	slices.Sort(v)
	i := int(math.Ceil(0.95*float64(len(v)))) - 1
	return v[max(i, 0)], v[len(v)-1]
}

// keyJSON is the key of a row as JSON: the fields of its category.
func keyJSON(cat string, r *history.Row) map[string]any {
	switch cat {
	case history.CatProc:
		return map[string]any{"comm": r.A, "exe": r.B, "user": r.C}
	case history.CatHost:
		return map[string]any{"address": r.A}
	case history.CatPort:
		port, _ := strconv.Atoi(r.B)
		return map[string]any{"proto": r.A, "port": port}
	}
	return map[string]any{"interface": r.A}
}

func (r *historyReport) json() map[string]any {
	out := map[string]any{
		"type": r.Type, "database": r.Database, "generated": r.Generated.Format(time.RFC3339),
		"kind": r.Kind, "category": r.Category,
	}
	if r.Interface != "" {
		out["interface"] = r.Interface
	}
	if r.Kind == "95th" {
		var ps []map[string]any
		for _, p := range r.P95 {
			ps = append(ps, map[string]any{"interface": p.Interface, "begin": p.Begin.Format(time.RFC3339), "end": p.End.Format(time.RFC3339),
				"samples": p.Samples, "covered_pct": round2(p.CoveredPct),
				"rx_bytes_per_sec": round2(p.Rx), "tx_bytes_per_sec": round2(p.Tx), "total_bytes_per_sec": round2(p.Total),
				"rx_max_bytes_per_sec": round2(p.RxMax), "tx_max_bytes_per_sec": round2(p.TxMax)})
		}
		out["p95"] = emptyIfNil(ps)
	} else {
		var bs []map[string]any
		for i := range r.Rows {
			row := &r.Rows[i]
			k := history.Kind(row.Kind)
			b := map[string]any{"start": row.Start.Format(time.RFC3339), "end": k.Next(row.Start).Format(time.RFC3339),
				"key": keyJSON(r.Category, row), "rx_bytes": row.RxBytes, "tx_bytes": row.TxBytes}
			if r.Category == history.CatIface {
				b["rx_packets"], b["tx_packets"] = row.RxPackets, row.TxPackets
				b["rx_errors"], b["tx_errors"] = row.RxErrors, row.TxErrors
				b["rx_drops"], b["tx_drops"] = row.RxDrops, row.TxDrops
				b["seconds"] = round2(row.Secs)
			}
			if row.A == history.Other {
				b["other"] = true
			}
			bs = append(bs, b)
		}
		out["buckets"] = emptyIfNil(bs)
		var es []map[string]any
		for _, e := range r.Estimates {
			es = append(es, map[string]any{"interface": e.Key, "kind": e.Kind, "rx_bytes": e.RxBytes, "tx_bytes": e.TxBytes})
		}
		out["estimates"] = emptyIfNil(es)
	}
	var gs []map[string]any
	for _, g := range r.Gaps {
		gs = append(gs, map[string]any{"start": g.Start.Format(time.RFC3339), "end": g.End.Format(time.RFC3339), "reason": g.Reason})
	}
	out["gaps"] = emptyIfNil(gs)
	return out
}

func emptyIfNil(v []map[string]any) []map[string]any {
	if v == nil {
		return []map[string]any{}
	}
	return v
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// text prints vnstat-like tables: one per interface for interfaces, one per bucket
// otherwise.
func (r *historyReport) text(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	defer tw.Flush()
	if r.Kind == "95th" {
		if len(r.P95) == 0 {
			fmt.Fprintln(tw, "no 5-minute data in the range")
		}
		for _, p := range r.P95 {
			fmt.Fprintf(tw, " %s  /  95th percentile  (%s to %s, %d of 5 min, %.0f%% covered)\n", p.Interface,
				p.Begin.Format("2006-01-02 15:04"), p.End.Format("2006-01-02 15:04"), p.Samples, p.CoveredPct)
			fmt.Fprintf(tw, "\trx\ttx\ttotal\t\n")
			fmt.Fprintf(tw, " 95th\t%s\t%s\t%s\t\n", bitRate(p.Rx), bitRate(p.Tx), bitRate(p.Total))
			fmt.Fprintf(tw, " max\t%s\t%s\t\t\n\n", bitRate(p.RxMax), bitRate(p.TxMax))
		}
		return nil
	}
	if len(r.Rows) == 0 {
		fmt.Fprintf(tw, "no %s data for %s yet\n", r.Kind, catName(r.Category))
		return nil
	}
	layout := map[string]string{"5min": "2006-01-02 15:04", "hour": "2006-01-02 15:00", "day": "2006-01-02",
		"month": "2006-01", "year": "2006", "top": "2006-01-02"}[r.Kind]
	if r.Category == history.CatIface {
		var names []string
		for _, row := range r.Rows {
			if !slices.Contains(names, row.A) {
				names = append(names, row.A)
			}
		}
		for _, name := range names {
			fmt.Fprintf(tw, " %s  /  %s\n", name, map[string]string{"5min": "5 minute", "hour": "hourly", "day": "daily",
				"month": "monthly", "year": "yearly", "top": "top days"}[r.Kind])
			fmt.Fprintf(tw, " %s\trx\ttx\ttotal\tavg. rate\t\n", r.Kind)
			var rx, tx uint64
			for _, row := range r.Rows {
				if row.A != name {
					continue
				}
				rx, tx = rx+row.RxBytes, tx+row.TxBytes
				secs := row.Secs
				if r.Kind == "top" || secs == 0 {
					secs = history.Kind(row.Kind).Next(row.Start).Sub(row.Start).Seconds()
				}
				fmt.Fprintf(tw, " %s\t%s\t%s\t%s\t%s\t\n", row.Start.Format(layout), iecBytes(row.RxBytes), iecBytes(row.TxBytes),
					iecBytes(row.RxBytes+row.TxBytes), bitRate(float64(row.RxBytes+row.TxBytes)/secs))
			}
			for _, e := range r.Estimates {
				if e.Key == name {
					fmt.Fprintf(tw, " estimated\t%s\t%s\t%s\t\t\n", iecBytes(e.RxBytes), iecBytes(e.TxBytes), iecBytes(e.RxBytes+e.TxBytes))
				}
			}
			fmt.Fprintf(tw, " sum\t%s\t%s\t%s\t\t\n\n", iecBytes(rx), iecBytes(tx), iecBytes(rx+tx))
		}
		return nil
	}
	var cur time.Time
	for i, row := range r.Rows {
		if i == 0 || !row.Start.Equal(cur) {
			cur = row.Start
			fmt.Fprintf(tw, "\n %s  /  %s %s\n", catName(r.Category), r.Kind, row.Start.Format(layout))
			fmt.Fprintf(tw, " %s\trx\ttx\ttotal\t\n", catHeader(r.Category))
		}
		fmt.Fprintf(tw, " %s\t%s\t%s\t%s\t\n", catLabel(r.Category, &row), iecBytes(row.RxBytes), iecBytes(row.TxBytes), iecBytes(row.RxBytes+row.TxBytes))
	}
	return nil
}

func catName(cat string) string {
	return map[string]string{history.CatIface: "interfaces", history.CatProc: "processes", history.CatHost: "remote hosts", history.CatPort: "ports"}[cat]
}

func catHeader(cat string) string {
	return map[string]string{history.CatProc: "process (user, executable)", history.CatHost: "host", history.CatPort: "port"}[cat]
}

func catLabel(cat string, r *history.Row) string {
	switch cat {
	case history.CatProc:
		if r.A == history.Other {
			return r.A
		}
		return fmt.Sprintf("%s (%s, %s)", r.A, r.C, cmp.Or(r.B, "?"))
	case history.CatPort:
		if r.A == history.Other {
			return r.A
		}
		return r.A + "/" + r.B
	}
	return r.A
}

// iecBytes formats a byte count as vnstat does by default: KiB, MiB, GiB, TiB.
func iecBytes(b uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(b), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", b)
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}

// bitRate formats bytes per second as bits per second, as vnstat's rate column.
func bitRate(bps float64) string {
	units := []string{"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"}
	v, i := bps*8, 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return strings.TrimSpace(fmt.Sprintf("%.2f %s", v, units[i]))
}

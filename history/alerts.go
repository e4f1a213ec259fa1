package history

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AlertRow is one alert of the detectors as the history keeps it.
type AlertRow struct {
	Rule, Key         string
	Severity, State   string
	Summary           string
	Evidence          string // JSON
	Started, Resolved time.Time
}

// RecordAlerts writes the alerts' latest states in one transaction (one row per rule, key
// and start).
func (s *Store) RecordAlerts(rows []AlertRow) error {
	if s.w == nil {
		return fmt.Errorf("history %s: %w (opened read-only)", s.path, ErrReadOnly)
	}
	if len(rows) == 0 {
		return nil
	}
	tx, err := s.db.Begin()
	if err != nil {
		return s.classify(err)
	}
	defer tx.Rollback()
	for _, a := range rows {
		var resolved sql.NullInt64
		if !a.Resolved.IsZero() {
			resolved = sql.NullInt64{Int64: a.Resolved.Unix(), Valid: true}
		}
		if _, err := tx.Exec(`INSERT INTO alerts (rule, key, started, severity, state, resolved, summary, evidence)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule, key, started) DO UPDATE SET
			severity = excluded.severity, state = excluded.state, resolved = excluded.resolved,
			summary = excluded.summary, evidence = excluded.evidence`,
			a.Rule, a.Key, a.Started.Unix(), a.Severity, a.State, resolved, a.Summary, a.Evidence); err != nil {
			return s.classify(err)
		}
	}
	return s.classify(tx.Commit())
}

// Alerts returns the alerts that started in [begin, end) (zero for no bound), newest first.
func (s *Store) Alerts(ctx context.Context, begin, end time.Time) ([]AlertRow, error) {
	b, e := int64(-1<<62), int64(1<<62)
	if !begin.IsZero() {
		b = begin.Unix()
	}
	if !end.IsZero() {
		e = end.Unix()
	}
	rs, err := s.db.QueryContext(ctx, `SELECT rule, key, started, severity, state, resolved, summary, evidence
		FROM alerts WHERE started >= ? AND started < ? ORDER BY started DESC, rule, key`, b, e)
	if err != nil {
		return nil, s.classify(err)
	}
	defer rs.Close()
	var out []AlertRow
	for rs.Next() {
		var a AlertRow
		var st int64
		var res sql.NullInt64
		if err := rs.Scan(&a.Rule, &a.Key, &st, &a.Severity, &a.State, &res, &a.Summary, &a.Evidence); err != nil {
			return nil, s.classify(err)
		}
		a.Started = time.Unix(st, 0).In(s.loc)
		if res.Valid {
			a.Resolved = time.Unix(res.Int64, 0).In(s.loc)
		}
		out = append(out, a)
	}
	return out, s.classify(rs.Err())
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/wiretop/wiretop/detect"
	"github.com/wiretop/wiretop/history"
	"github.com/wiretop/wiretop/monitor"
)

// HistoryFileConfig is the [history] table of the config file.
type HistoryFileConfig struct {
	DB           string   `toml:"db"`              // the database path (--db wins)
	TopN         int      `toml:"top_n"`           // processes, hosts and ports kept per bucket
	FiveMin      duration `toml:"keep_5min"`       // 5-minute rows of interfaces, TCP states, kernel counters
	FiveMinKeyed duration `toml:"keep_5min_keyed"` // 5-minute rows of processes, hosts, ports
	Hour         duration `toml:"keep_hours"`
	Days         int      `toml:"keep_days"`
	Months       int      `toml:"keep_months"`
	Years        int      `toml:"keep_years"` // 0: forever
	TopDays      int      `toml:"top_days"`
}

// duration is a time.Duration that TOML reads from "36d", "48h" or "90m".
type duration struct{ time.Duration }

func (d *duration) UnmarshalText(b []byte) error {
	s := string(b)
	if n, ok := cutSuffixInt(s, "d"); ok {
		d.Duration = time.Duration(n) * 24 * time.Hour
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("%q: want a duration such as 36d, 48h or 90m", s)
	}
	d.Duration = v
	return nil
}

func cutSuffixInt(s, suffix string) (int, bool) {
	if len(s) <= len(suffix) || s[len(s)-len(suffix):] != suffix {
		return 0, false
	}
	var n int
	if _, err := fmt.Sscanf(s[:len(s)-len(suffix)], "%d", &n); err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// historyOptions reads [history] from the config file.
func historyOptions(cfg Config) (HistoryFileConfig, history.Options, []string, error) {
	data, path, note, err := cfg.readConfigFile()
	var notes []string
	if note != "" {
		notes = append(notes, note)
	}
	var file struct {
		History HistoryFileConfig `toml:"history"`
	}
	if err != nil {
		return file.History, history.Options{}, nil, err
	}
	if data != nil {
		md, err := toml.Decode(string(data), &file)
		if err != nil {
			return file.History, history.Options{}, nil, fmt.Errorf("%s: [history]: %w", path, err)
		}
		for _, k := range md.Undecoded() {
			if len(k) == 2 && k[0] == "history" {
				return file.History, history.Options{}, nil, fmt.Errorf("%s: [history] %s: unknown key (want db, top_n, keep_5min, keep_5min_keyed, keep_hours, keep_days, keep_months, keep_years, top_days)", path, k[1])
			}
		}
	}
	h := file.History
	if h.TopN < 0 || h.Days < 0 || h.Months < 0 || h.Years < 0 || h.TopDays < 0 {
		return h, history.Options{}, nil, fmt.Errorf("%s: [history]: counts must be >= 0", path)
	}
	opts := history.Options{TopN: h.TopN, Retention: history.Retention{
		FiveMin: h.FiveMin.Duration, FiveMinKeyed: h.FiveMinKeyed.Duration, Hour: h.Hour.Duration,
		Days: h.Days, Months: h.Months, Years: h.Years, TopDays: h.TopDays,
	}}
	return h, opts, notes, nil
}

// defaultDBPath is where the history lives without --db: $STATE_DIRECTORY (set by
// systemd's StateDirectory=) or /var/lib/wiretop as root, $XDG_STATE_HOME/wiretop or
// ~/.local/state/wiretop otherwise.
func defaultDBPath() string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		return filepath.Join(filepath.SplitList(d)[0], "wiretop.db")
	}
	if os.Geteuid() == 0 {
		return "/var/lib/wiretop/wiretop.db"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "wiretop", "wiretop.db")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "state", "wiretop", "wiretop.db")
}

// dbPath is the database cfg names: --db, the config file's [history] db, or the default.
func dbPath(cfg Config, file HistoryFileConfig) string {
	switch {
	case cfg.dbSet:
		return cfg.DB
	case file.DB != "":
		return file.DB
	}
	return defaultDBPath()
}

// historyStage records each interval into the history database (the writer), or reads a
// database that another wiretop records into (a reader: it records nothing, so nothing is
// counted twice). The monitor's goroutine builds the interval and queues it; a goroutine
// of the stage writes, so the monitor never waits for the disk.
type historyStage struct {
	store *history.Store
	base  *history.Baselines
	path  string

	mu      sync.Mutex
	queue   []*history.Interval
	alertsQ []history.AlertRow
	dropped int
	lastErr error
	notes   []string // what the writer noticed, for the status line (bounded)
	wake    chan struct{}
	done    chan struct{}
	stopped bool

	hosts map[string]*history.Usage // reused per interval
	ports map[portUsageKey]*history.Usage
}

type portUsageKey struct {
	proto string
	port  uint16
}

// maxQueued bounds the intervals waiting for the disk (an hour at one per second).
const maxQueued = 3600

// openHistoryStage opens the database cfg names as the writer, or as a reader when another
// process holds the writer role. Nil when recording is off (--db ”), or for a replay
// without --db. A database that cannot be used is a note, never a failed start: the
// monitor runs without history and nothing is deleted; one that is damaged is moved aside
// and a fresh one started.
func openHistoryStage(ctx context.Context, cfg Config) (*historyStage, []string, error) {
	file, opts, notes, err := historyOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	if cfg.ReplayFile != "" && !cfg.dbSet {
		return nil, notes, nil // a replay is not this host's traffic
	}
	path := dbPath(cfg, file)
	if path == "" {
		return nil, append(notes, "history off: --db ''"), nil
	}
	if cfg.Command == "daemon" {
		opts.Mode = 0o640 // the group of a system recorder may read it
	}
	h := &historyStage{path: path, wake: make(chan struct{}, 1), done: make(chan struct{}),
		hosts: map[string]*history.Usage{}, ports: map[portUsageKey]*history.Usage{}}
	s, err := history.Open(path, opts)
	if errors.Is(err, history.ErrCorrupt) {
		moved, merr := history.MoveAside(path, time.Now())
		if merr != nil {
			return nil, append(notes, fmt.Sprintf("history off: %v; and %v", err, merr)), nil
		}
		notes = append(notes, fmt.Sprintf("history: %s was damaged: moved to %s, a fresh one started", path, moved))
		s, err = history.Open(path, opts)
	}
	_, serr := os.Stat(path)
	switch {
	case errors.Is(err, history.ErrWriterActive), errors.Is(err, history.ErrReadOnly) && serr == nil:
		why := "another wiretop records into"
		if !errors.Is(err, history.ErrWriterActive) {
			why = "this user cannot write" // a member of a system recorder's group
		}
		s, rerr := history.OpenReadOnly(path, opts)
		if rerr != nil {
			return nil, append(notes, fmt.Sprintf("history off: %v", rerr)), nil
		}
		h.store = s
		h.base = history.NewBaselines(s)
		close(h.done)
		return h, append(notes, fmt.Sprintf("history: reading only (%s %s)", why, path)), nil
	case err != nil:
		return nil, append(notes, fmt.Sprintf("history off: %v", err)), nil
	}
	h.store = s
	h.base = history.NewBaselines(s)
	go h.run()
	return h, append(notes, "history: recording into "+path), nil
}

// reading reports whether the stage reads a database that another process records into.
func (h *historyStage) reading() bool { return h != nil && h.store.ReadOnly() }

// interval queues what st's last closed interval adds to the history.
func (h *historyStage) interval(st *monitor.State) {
	if h == nil || h.reading() {
		return
	}
	el := st.IntervalElapsed()
	if el <= 0 {
		return // the baseline sample, or a refresh: no interval closed
	}
	iv := &history.Interval{End: st.Time(), Elapsed: el}
	st.EachInterfaceAll(func(f *monitor.Iface) {
		if !f.Present {
			return
		}
		d := f.Last
		iv.Ifaces = append(iv.Ifaces, history.IfaceDelta{Name: f.Name, RxBytes: d.RxBytes, TxBytes: d.TxBytes,
			RxPackets: d.RxPackets, TxPackets: d.TxPackets, RxErrors: d.RxErrors, TxErrors: d.TxErrors,
			RxDrops: d.RxDropped, TxDrops: d.TxDropped})
	})
	st.EachIntervalProcess(func(p *monitor.Process) {
		iv.Procs = append(iv.Procs, history.Usage{A: p.Comm, B: p.Exe, C: p.User, Rx: p.RxBytes, Tx: p.TxBytes})
	})
	clear(h.hosts)
	clear(h.ports)
	st.EachIntervalTalker(func(t *monitor.Talker) {
		addr := t.Key.Remote.Addr().String()
		u := h.hosts[addr]
		if u == nil {
			u = &history.Usage{A: addr}
			h.hosts[addr] = u
		}
		u.Rx += t.RxBytes
		u.Tx += t.TxBytes
		if port := t.Key.ServicePort(); port != 0 {
			k := portUsageKey{t.Proto, port}
			u := h.ports[k]
			if u == nil {
				u = &history.Usage{A: t.Proto, B: fmt.Sprint(port)}
				h.ports[k] = u
			}
			u.Rx += t.RxBytes
			u.Tx += t.TxBytes
		}
	})
	for _, u := range h.hosts {
		iv.Hosts = append(iv.Hosts, *u)
	}
	for _, u := range h.ports {
		iv.Ports = append(iv.Ports, *u)
	}
	for _, c := range st.TCPStates() {
		iv.TCP = append(iv.TCP, history.StateCount{State: c.Name, Count: c.Count})
	}
	k, _ := st.Kernel()
	c := func(name string, v uint64) history.Counter { return history.Counter{Name: name, Value: v} }
	iv.Kernel = []history.Counter{
		c("ActiveOpens", k.ActiveOpens),
		c("PassiveOpens", k.PassiveOpens),
		c("AttemptFails", k.AttemptFails),
		c("EstabResets", k.EstabResets),
		c("RetransSegs", k.RetransSegs),
		c("InErrs", k.InErrs),
		c("OutRsts", k.OutRsts),
		c("ListenOverflows", k.ListenOverflows),
		c("ListenDrops", k.ListenDrops),
		c("SyncookiesSent", k.SyncookiesSent),
		c("SyncookiesRecv", k.SyncookiesRecv),
		c("SyncookiesFailed", k.SyncookiesFailed),
		c("TCPReqQFullDrop", k.TCPReqQFullDrop),
	}
	h.mu.Lock()
	if len(h.queue) >= maxQueued {
		h.queue = h.queue[1:]
		h.dropped++
	}
	h.queue = append(h.queue, iv)
	h.mu.Unlock()
	h.signal()
}

func (h *historyStage) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// alerts records the alert transitions of the interval.
func (h *historyStage) alerts(changed []detect.Alert) {
	if h == nil || h.reading() || len(changed) == 0 {
		return
	}
	rows := make([]history.AlertRow, 0, len(changed))
	for _, a := range changed {
		ev, _ := json.Marshal(a.Evidence)
		rows = append(rows, history.AlertRow{Rule: a.Rule, Key: a.Key, Severity: string(a.Severity), State: string(a.State),
			Summary: a.Summary, Evidence: string(ev), Started: a.Started, Resolved: a.Resolved})
	}
	h.mu.Lock()
	if len(h.alertsQ) < 10_000 {
		h.alertsQ = append(h.alertsQ, rows...)
	}
	h.mu.Unlock()
	h.signal()
}

// run writes what is queued, one transaction per interval, until close.
func (h *historyStage) run() {
	defer close(h.done)
	for {
		h.mu.Lock()
		q, a, stopped := h.queue, h.alertsQ, h.stopped
		h.queue, h.alertsQ = nil, nil
		h.mu.Unlock()
		for _, iv := range q {
			notes, err := h.store.Record(iv)
			h.report(notes, err)
		}
		if len(a) > 0 {
			h.report(nil, h.store.RecordAlerts(a))
		}
		if stopped {
			return
		}
		if len(q) == 0 && len(a) == 0 {
			<-h.wake
		}
	}
}

func (h *historyStage) report(notes []string, err error) {
	if len(notes) == 0 && err == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.lastErr = err
	}
	h.notes = append(h.notes, notes...)
	if len(h.notes) > 20 {
		h.notes = h.notes[len(h.notes)-20:]
	}
}

// status returns what the recorder has to say: the latest write error and notes, and
// intervals dropped because the disk was too slow.
func (h *historyStage) status() []string {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	if h.lastErr != nil {
		out = append(out, "history: "+h.lastErr.Error())
	}
	if h.dropped > 0 {
		out = append(out, fmt.Sprintf("history: %d intervals dropped (the disk is too slow)", h.dropped))
	}
	return append(out, h.notes...)
}

// baselines answers what is normal now, for the detectors and the TUI (nil without history).
func (h *historyStage) baselines() monitor.Baselines {
	if h == nil {
		return nil
	}
	return h.base
}

// close writes what is queued and closes the database.
func (h *historyStage) close() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.signal()
	<-h.done
	h.base.Close()
	return h.store.Close()
}

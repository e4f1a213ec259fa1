package history

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed schema.sql
var schemaSQL string

// SchemaVersion is the version of schema.sql, kept in PRAGMA user_version.
const SchemaVersion = 1

// migrations[v] upgrades a file of version v to v+1 (none yet: version 1 is the first).
var migrations = map[int]string{}

// Sentinel errors of Open and OpenReadOnly; the error returned wraps one of them and names
// the file.
var (
	ErrWriterActive = errors.New("another wiretop records into this file")
	ErrLocked       = errors.New("the database is locked by another process")
	ErrNotDatabase  = errors.New("not a wiretop history database")
	ErrCorrupt      = errors.New("the database is damaged")
	ErrNewerSchema  = errors.New("the database was written by a newer wiretop")
	ErrReadOnly     = errors.New("the database cannot be written here")
	ErrNoDatabase   = errors.New("no history database")
)

// Retention says how long each bucket kind is kept; zero values take the defaults.
type Retention struct {
	FiveMin      time.Duration // 5-minute rows of interfaces, TCP states and kernel counters
	FiveMinKeyed time.Duration // 5-minute rows of processes, hosts and ports
	Hour         time.Duration // hourly rows (a same-hour-of-week baseline needs five weeks)
	Days         int           // daily rows, in days
	Months       int           // monthly rows, counting the running month
	Years        int           // yearly rows; 0 keeps them forever
	TopDays      int           // the busiest days kept per interface
}

// DefaultRetention starts from vnstat's defaults (5-minute 48 h, hours 4 days, days 62,
// months 25, years forever, top 20) and keeps longer what wiretop computes from: hours for
// 36 days (five weeks of the same hour of the week, and the running day), 5-minute
// interface rows for 31 days (a monthly 95th percentile), and 5-minute rows of processes,
// hosts and ports for 12 hours (they are most of the file: see docs/history.md).
var DefaultRetention = Retention{
	FiveMin:      31 * 24 * time.Hour,
	FiveMinKeyed: 12 * time.Hour,
	Hour:         36 * 24 * time.Hour,
	Days:         62,
	Months:       25,
	Years:        0,
	TopDays:      20,
}

func (r Retention) withDefaults() Retention {
	d := DefaultRetention
	// 5-minute rows are rolled into the hours when an hour closes: they are kept an hour
	// at least
	if r.FiveMin > 0 {
		d.FiveMin = max(r.FiveMin, time.Hour)
	}
	if r.FiveMinKeyed > 0 {
		d.FiveMinKeyed = max(r.FiveMinKeyed, time.Hour)
	}
	if r.Hour > 0 {
		d.Hour = r.Hour
	}
	if r.Days > 0 {
		d.Days = r.Days
	}
	if r.Months > 0 {
		d.Months = r.Months
	}
	if r.Years > 0 {
		d.Years = r.Years
	}
	if r.TopDays > 0 {
		d.TopDays = r.TopDays
	}
	return d
}

// DefaultTopN is how many processes, hosts and ports a bucket keeps; the rest is one
// "(other)" row.
const DefaultTopN = 200

// Options configure a Store.
type Options struct {
	Retention Retention
	TopN      int            // keys kept per category and bucket (DefaultTopN when 0)
	Location  *time.Location // the zone of days, months and years (time.Local when nil)
	// Mode is the file mode of a new database (0600 when 0; 0640 for a system recorder
	// whose group may read it).
	Mode os.FileMode
	// GapAfter is the longest interval recorded as traffic; a longer one (a suspend, a
	// stopped sampler) is a gap. Default 2 minutes.
	GapAfter time.Duration
	// MaxRate is the largest interface rate taken as traffic, in bytes per second; a delta
	// above it is a counter fault recorded as a gap. Default 100 GB/s (above a 400G link).
	MaxRate float64
}

// Store is an open history database, as its writer or as a reader.
type Store struct {
	db        *sql.DB
	path      string
	readOnly  bool
	immutable bool     // read as immutable: no writer had it open (see OpenReadOnly)
	lock      *os.File // the writer's flock; nil for a reader
	opts      Options
	loc       *time.Location

	w *writer // the writer's state; nil for a reader
}

// Path returns the database file.
func (s *Store) Path() string { return s.path }

// ReadOnly reports whether s was opened as a reader.
func (s *Store) ReadOnly() bool { return s.readOnly }

// Location returns the zone of day, month and year buckets.
func (s *Store) Location() *time.Location { return s.loc }

// Size returns the bytes the database takes on disk (the file, its -wal and -shm).
func (s *Store) Size() int64 {
	var n int64
	for _, suf := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(s.path + suf); err == nil {
			n += fi.Size()
		}
	}
	return n
}

func (o Options) withDefaults() Options {
	o.Retention = o.Retention.withDefaults()
	if o.TopN <= 0 {
		o.TopN = DefaultTopN
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Mode == 0 {
		o.Mode = 0o600
	}
	if o.GapAfter <= 0 {
		o.GapAfter = 2 * time.Minute
	}
	if o.MaxRate <= 0 {
		o.MaxRate = 100e9
	}
	return o
}

func dsn(path string, readOnly, immutable bool) string {
	q := "?_pragma=busy_timeout(2000)&_pragma=foreign_keys(0)"
	if immutable {
		q += "&immutable=1"
	}
	if readOnly {
		q += "&mode=ro&_pragma=query_only(1)"
	} else {
		q += "&_pragma=synchronous(NORMAL)" // WAL is set once the file is known to be ours
	}
	return "file:" + path + q
}

// Open opens (or creates) the database at path as its writer. A file that another
// process records into gives ErrWriterActive (open it with OpenReadOnly instead).
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("history %s: %w: %v", path, ErrReadOnly, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, opts.Mode)
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return nil, fmt.Errorf("history %s: %w: %v", path, ErrReadOnly, err)
		}
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("history %s: %w", path, ErrWriterActive)
		}
		return nil, fmt.Errorf("history %s: lock: %w", path, err)
	}
	s := &Store{path: path, lock: f, opts: opts, loc: opts.Location}
	if err := s.open(false); err != nil {
		s.Close()
		return nil, err
	}
	w, err := newWriter(s)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.w = w
	return s, nil
}

// OpenReadOnly opens an existing database to read it; it never writes, creates or moves
// anything.
func OpenReadOnly(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("history %s: %w", path, ErrNoDatabase)
		}
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("history %s: %w (a directory)", path, ErrNotDatabase)
	}
	s := &Store{path: path, readOnly: true, opts: opts, loc: opts.Location}
	err = s.open(true)
	if _, werr := os.Stat(path + "-wal"); errors.Is(err, ErrReadOnly) && errors.Is(werr, os.ErrNotExist) {
		// A reader that may not create the -shm file (the group of a system recorder's
		// directory): with no -wal file no writer has the database open, so it reads the
		// file as immutable.
		s.db.Close()
		s = &Store{path: path, readOnly: true, immutable: true, opts: opts, loc: opts.Location}
		err = s.open(true)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// open connects and checks the file: its header, PRAGMA quick_check, its schema version.
func (s *Store) open(readOnly bool) error {
	if err := checkHeader(s.path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(s.path, readOnly, s.immutable))
	if err != nil {
		return fmt.Errorf("history %s: %w", s.path, err)
	}
	db.SetMaxOpenConns(1) // one connection: statements and transactions stay on it
	s.db = db
	ctx := context.Background()
	if !readOnly {
		// the recorder checks the whole file before it writes into it (it reads every page:
		// 0.1 s for a year's 45 MB); a reader finds a damaged page when a query reads it
		var check string
		if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&check); err != nil {
			return s.classify(err)
		}
		if check != "ok" {
			return fmt.Errorf("history %s: %w (quick_check: %s)", s.path, ErrCorrupt, firstLine(check))
		}
	}
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return s.classify(err)
	}
	var tables int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&tables); err != nil {
		return s.classify(err)
	}
	switch {
	case version > SchemaVersion:
		return fmt.Errorf("history %s: %w (schema %d, this wiretop knows %d)", s.path, ErrNewerSchema, version, SchemaVersion)
	case version == 0 && tables > 0:
		return fmt.Errorf("history %s: %w (an SQLite file with other tables)", s.path, ErrNotDatabase)
	case version == 0 && readOnly:
		return fmt.Errorf("history %s: %w (empty)", s.path, ErrNoDatabase)
	case version == 0:
		if err := s.create(); err != nil {
			return err
		}
	case version < SchemaVersion && readOnly:
		return nil // read what is there; the writer migrates
	case version < SchemaVersion:
		if err := s.migrate(version); err != nil {
			return err
		}
	}
	if !readOnly {
		if _, err := db.ExecContext(ctx, "PRAGMA journal_mode = WAL"); err != nil {
			return s.classify(err)
		}
	}
	return nil
}

func (s *Store) create() error {
	tx, err := s.db.Begin()
	if err != nil {
		return s.classify(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(schemaSQL); err != nil {
		return s.classify(err)
	}
	if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
		return s.classify(err)
	}
	if _, err := tx.Exec(`INSERT INTO meta (key, value) VALUES ('created', ?), ('location', ?)`,
		strconv.FormatInt(time.Now().Unix(), 10), s.loc.String()); err != nil {
		return s.classify(err)
	}
	return s.classify(tx.Commit())
}

func (s *Store) migrate(from int) error {
	for v := from; v < SchemaVersion; v++ {
		tx, err := s.db.Begin()
		if err != nil {
			return s.classify(err)
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return s.classify(err)
		}
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return s.classify(err)
		}
		if err := tx.Commit(); err != nil {
			return s.classify(err)
		}
	}
	return nil
}

// checkHeader tells a file that is not SQLite (or is cut short) from an empty one.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("history %s: %w", path, err)
		}
		return nil // created by sqlite, or reported by it
	}
	defer f.Close()
	hdr := make([]byte, 100)
	n, _ := f.Read(hdr)
	switch {
	case n == 0:
		return nil
	case n < 100 || string(hdr[:16]) != "SQLite format 3\x00":
		return fmt.Errorf("history %s: %w (not an SQLite file)", path, ErrNotDatabase)
	}
	return nil
}

// classify wraps a driver error in the sentinel a caller can branch on.
func (s *Store) classify(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("history %s: %w", s.path, ErrLocked)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("history %s: %w (%v)", s.path, ErrCorrupt, err)
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("history %s: %w", s.path, ErrNotDatabase)
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
			return fmt.Errorf("history %s: %w (%v)", s.path, ErrReadOnly, err)
		}
	}
	return fmt.Errorf("history %s: %w", s.path, err)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Close flushes and closes the database and releases the writer's lock.
func (s *Store) Close() error {
	var err error
	if s.w != nil {
		err = s.w.close()
	}
	if s.db != nil {
		err = errors.Join(err, s.db.Close())
	}
	if s.lock != nil {
		err = errors.Join(err, s.lock.Close())
	}
	return err
}

// MoveAside renames a damaged database and its -wal and -shm files to path.corrupt-TIME
// (never while it is open) and returns the new name of the main file.
func MoveAside(path string, now time.Time) (string, error) {
	dst := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405Z"))
	for _, suf := range []string{"-wal", "-shm", ""} {
		if err := os.Rename(path+suf, dst+suf); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("move %s aside: %w", path+suf, err)
		}
	}
	return dst, nil
}

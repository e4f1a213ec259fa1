package ui

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	tea "github.com/charmbracelet/bubbletea"
)

// Prefs are the display choices that outlive a session. They are top-level keys of the
// config file (~/.config/wiretop/config.toml, or --config); SavePrefs rewrites only these
// keys and keeps the rest of the file, comments included. The model saves them whenever the
// user changes one (Options.PrefsPath).
type Prefs struct {
	// Units is how rates are shown: "bytes" (B/s, KiB/s, ... in powers of 1024) or "bits"
	// (bit/s, kbit/s, ... in powers of 1000, like link speeds). TOML key units; default
	// "bytes". Key u.
	Units string `toml:"units"`
	// ProcessSort is the order of the processes pane: "total", "sent" or "received". TOML key
	// process_sort; default "total". Keys t, s, r.
	ProcessSort string `toml:"process_sort"`
	// Cumulative orders the processes pane by the bytes of the whole session instead of the
	// rate of the last interval, like nethogs' m. TOML key cumulative; default false. Key m.
	Cumulative bool `toml:"cumulative"`
	// ProgramOnly shows each process's program name instead of its full command line. TOML
	// key program_only; default false. Key l.
	ProgramOnly bool `toml:"program_only"`
	// TalkerSort is the column the talkers pane sorts by: "2s", "10s", "40s" (the averaging
	// windows) or "total". TOML key talker_sort; default "2s".
	TalkerSort string `toml:"talker_sort"`
	// Interval is the sampling interval used when --interval is not given, written as a Go
	// duration ("1s", "500ms"), at least 10ms. TOML key interval; default "1s".
	Interval Duration `toml:"interval"`
	// PacketFilter is the last packet filter (a BPF expression) typed in the packets pane, used
	// at start-up when --packet-filter is not given. TOML key packet_filter; default "" (all
	// packets).
	PacketFilter string `toml:"packet_filter"`
}

// Duration is a time.Duration written in TOML as a Go duration string ("1s", "250ms").
type Duration struct{ time.Duration }

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"1s\" or \"500ms\"", b)
	}
	d.Duration = v
	return nil
}

// Values the Prefs fields accept.
const (
	UnitsBytes = "bytes"
	UnitsBits  = "bits"
)

var (
	processSorts = []string{"total", "sent", "received"}
	talkerSorts  = []string{"2s", "10s", "40s", "total"}
	minInterval  = 10 * time.Millisecond
)

// DefaultPrefs returns the preferences of a first run.
func DefaultPrefs() Prefs {
	return Prefs{Units: UnitsBytes, ProcessSort: "total", TalkerSort: "2s", Interval: Duration{time.Second}}
}

// withDefaults fills the empty fields of p with the defaults.
func (p Prefs) withDefaults() Prefs {
	d := DefaultPrefs()
	if p.Units == "" {
		p.Units = d.Units
	}
	if p.ProcessSort == "" {
		p.ProcessSort = d.ProcessSort
	}
	if p.TalkerSort == "" {
		p.TalkerSort = d.TalkerSort
	}
	if p.Interval.Duration == 0 {
		p.Interval = d.Interval
	}
	return p
}

// bits reports whether rates show in bits per second.
func (p *Prefs) bits() bool { return p.Units == UnitsBits }

// check returns the TOML key and the problem of the first invalid field, or "" when p is valid.
func (p *Prefs) check() (key, problem string) {
	oneOf := func(v string, allowed ...string) bool {
		for _, a := range allowed {
			if v == a {
				return true
			}
		}
		return false
	}
	quote := func(vs []string) string { return `"` + strings.Join(vs, `", "`) + `"` }
	switch {
	case !oneOf(p.Units, UnitsBytes, UnitsBits):
		return "units", fmt.Sprintf("%q: want %s", p.Units, quote([]string{UnitsBytes, UnitsBits}))
	case !oneOf(p.ProcessSort, processSorts...):
		return "process_sort", fmt.Sprintf("%q: want %s", p.ProcessSort, quote(processSorts))
	case !oneOf(p.TalkerSort, talkerSorts...):
		return "talker_sort", fmt.Sprintf("%q: want %s", p.TalkerSort, quote(talkerSorts))
	case p.Interval.Duration < minInterval:
		return "interval", fmt.Sprintf("%v: must be at least %v", p.Interval.Duration, minInterval)
	}
	return "", ""
}

// LoadPrefs reads the preferences from the TOML file at path. A missing file gives the
// defaults and no error; keys the file lacks keep their defaults, and keys that are not
// preferences are ignored (they belong to the rest of the config). A damaged file, or a
// value out of range, gives the defaults and an error that names the file and the line.
func LoadPrefs(path string) (Prefs, error) {
	p := DefaultPrefs()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("read preferences: %w", err)
	}
	got := p
	if _, err := toml.Decode(string(data), &got); err != nil {
		line, msg := tomlError(err)
		return p, fmt.Errorf("%s:%d: %s", path, line, msg)
	}
	if key, problem := got.check(); key != "" {
		return p, fmt.Errorf("%s:%d: %s = %s", path, keyLine(data, key), key, problem)
	}
	return got, nil
}

// typeError matches the errors of BurntSushi/toml that are not a ParseError (a value of the
// wrong type): "toml: line 3 (last key \"units\"): incompatible types: ...".
var typeError = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// tomlError returns the line and the message of a toml decoding error (line 0 if unknown).
func tomlError(err error) (int, string) {
	var perr toml.ParseError
	if errors.As(err, &perr) {
		msg := perr.Message
		if perr.LastKey != "" && !strings.Contains(msg, perr.LastKey) {
			msg = perr.LastKey + ": " + msg
		}
		return perr.Position.Line, msg
	}
	if m := typeError.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, m[2] + ": " + m[3]
	}
	return 0, err.Error()
}

// keyLine returns the line (from 1) of the top-level key in a TOML text, 0 if not found.
func keyLine(data []byte, key string) int {
	re := keyRegexp(key)
	for i, l := range strings.Split(string(data), "\n") {
		if isTable(l) {
			break
		}
		if re.MatchString(l) {
			return i + 1
		}
	}
	return 0
}

func keyRegexp(key string) *regexp.Regexp {
	return regexp.MustCompile(`^\s*("` + key + `"|'` + key + `'|` + key + `)\s*=`)
}

func isTable(line string) bool { return strings.HasPrefix(strings.TrimSpace(line), "[") }

// prefsKeys are the TOML keys of Prefs, in the order a new file lists them, with the comment
// written above each.
var prefsKeys = []struct{ key, comment string }{
	{"units", `rates in "bytes" (KiB/s, powers of 1024) or "bits" (kbit/s, powers of 1000)`},
	{"process_sort", `processes pane order: "total", "sent" or "received"`},
	{"cumulative", `processes pane by session totals instead of rates`},
	{"program_only", `processes pane shows program names, not command lines`},
	{"talker_sort", `talkers pane order: "2s", "10s", "40s" or "total"`},
	{"interval", `sampling interval when --interval is not given`},
	{"packet_filter", `packet filter (BPF) at start-up when --packet-filter is not given`},
}

// SavePrefs writes p to the TOML file at path: atomically (a temporary file renamed over it),
// mode 0600, creating the directory (0700) when missing. Only the preference keys change; the
// file's other keys, tables and comments stay. A file that does not parse is not overwritten.
func SavePrefs(path string, p Prefs) error {
	if key, problem := p.check(); key != "" {
		return fmt.Errorf("save preferences: %s = %s", key, problem)
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("save preferences: %w", err)
	}
	text, err := mergePrefs(old, p)
	if err != nil {
		return fmt.Errorf("save preferences to %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save preferences: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("save preferences: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(text)
	if werr == nil {
		werr = f.Chmod(0o600)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("save preferences: %w", werr)
	}
	return nil
}

// encodeKey returns the TOML line "key = value" for one preference.
func encodeKey(key string, v any) (string, error) {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(map[string]any{key: v}); err != nil {
		return "", err
	}
	return strings.TrimRight(b.String(), "\n"), nil
}

// prefsValues maps each TOML key of p to its value.
func prefsValues(p Prefs) map[string]any {
	return map[string]any{
		"units": p.Units, "process_sort": p.ProcessSort, "cumulative": p.Cumulative,
		"program_only": p.ProgramOnly, "talker_sort": p.TalkerSort, "interval": p.Interval,
		"packet_filter": p.PacketFilter,
	}
}

// mergePrefs returns the text of the config file old with the preference keys set to p. It
// edits the lines of those keys in place (or adds them above the first table) and checks the
// result: it must decode to p and leave every other key as it was. When an edit in place
// cannot do that (a multi-line value, say), the file is re-encoded from its decoded keys,
// which keeps the keys but not the comments.
func mergePrefs(old []byte, p Prefs) ([]byte, error) {
	vals := prefsValues(p)
	var before map[string]any
	if _, err := toml.Decode(string(old), &before); err != nil {
		line, msg := tomlError(err)
		return nil, fmt.Errorf("line %d: %s (not overwriting a file that does not parse)", line, msg)
	}
	lines := []string{}
	if len(old) > 0 {
		lines = strings.Split(strings.TrimSuffix(string(old), "\n"), "\n")
	} else {
		lines = append(lines, "# wiretop configuration. The terminal UI saves the preferences below when they change.")
	}
	top := len(lines) // the end of the top-level keys: the first table header
	for i, l := range lines {
		if isTable(l) {
			top = i
			break
		}
	}
	var add []string
	for _, k := range prefsKeys {
		line, err := encodeKey(k.key, vals[k.key])
		if err != nil {
			return nil, err
		}
		re, found := keyRegexp(k.key), false
		for i := 0; i < top; i++ {
			if re.MatchString(lines[i]) {
				lines[i], found = line, true
				break
			}
		}
		if !found {
			if len(old) == 0 {
				add = append(add, "", "# "+k.comment)
			}
			add = append(add, line)
		}
	}
	if len(add) > 0 {
		// after the last top-level line that is not blank, keeping the blank lines (or adding
		// one) before the first table
		at := top
		for at > 0 && strings.TrimSpace(lines[at-1]) == "" {
			at--
		}
		if at == top && top < len(lines) {
			add = append(add, "")
		}
		lines = append(lines[:at], append(add, lines[at:]...)...)
	}
	text := []byte(strings.Join(lines, "\n") + "\n")
	if prefsKept(text, p, before) {
		return text, nil
	}
	// Re-encode from the decoded keys.
	merged := make(map[string]any, len(before)+len(vals))
	for k, v := range before {
		merged[k] = v
	}
	for k, v := range vals {
		merged[k] = v
	}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(merged); err != nil {
		return nil, err
	}
	if !prefsKept(b.Bytes(), p, before) {
		return nil, errors.New("cannot write the preferences without changing other keys")
	}
	return b.Bytes(), nil
}

// prefsKept reports whether text decodes to p and keeps the keys of before that are not
// preferences.
func prefsKept(text []byte, p Prefs, before map[string]any) bool {
	var got Prefs
	var after map[string]any
	if _, err := toml.Decode(string(text), &got); err != nil || got != p {
		return false
	}
	if _, err := toml.Decode(string(text), &after); err != nil {
		return false
	}
	pk := prefsValues(p)
	for k := range pk {
		delete(after, k)
	}
	others := make(map[string]any, len(before))
	for k, v := range before {
		if _, ok := pk[k]; !ok {
			others[k] = v
		}
	}
	if len(others) == 0 && len(after) == 0 {
		return true
	}
	return reflect.DeepEqual(others, after)
}

// prefsSaver writes preferences in the order they were changed, whatever the order in which
// the commands that carry them run: a save older than the last one written is skipped.
type prefsSaver struct {
	path string
	mu   sync.Mutex
	seq  uint64 // taken by the model (UI goroutine only)
	done uint64 // guarded by mu
}

// prefsSavedMsg reports the outcome of a save.
type prefsSavedMsg struct{ Err error }

// save returns a command that writes p, or nil when there is no file to write.
func (s *prefsSaver) save(p Prefs) tea.Cmd {
	if s == nil || s.path == "" {
		return nil
	}
	s.seq++
	seq := s.seq
	return func() tea.Msg {
		s.mu.Lock()
		defer s.mu.Unlock()
		if seq <= s.done {
			return nil
		}
		s.done = seq
		return prefsSavedMsg{Err: SavePrefs(s.path, p)}
	}
}

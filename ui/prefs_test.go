package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadPrefsMissingFileGivesDefaults(t *testing.T) {
	p, err := LoadPrefs(filepath.Join(t.TempDir(), "nope", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultPrefs(), p); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadPrefs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, path, `# my settings
interface = "eth1"          # not a preference: ignored here
units = "bits"
process_sort = "received"
cumulative = true
program_only = true
talker_sort = "40s"
interval = "500ms"
packet_filter = "tcp port 443"

[history]
db = "/var/lib/wiretop.db"
`)
	p, err := LoadPrefs(path)
	if err != nil {
		t.Fatal(err)
	}
	want := Prefs{Units: "bits", ProcessSort: "received", Cumulative: true, ProgramOnly: true,
		TalkerSort: "40s", Interval: Duration{500 * time.Millisecond}, PacketFilter: "tcp port 443"}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// keys the file lacks keep their defaults
	writeFile(t, path, "units = \"bits\"\n")
	p, err = LoadPrefs(path)
	if err != nil {
		t.Fatal(err)
	}
	want = DefaultPrefs()
	want.Units = "bits"
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("partial file (-want +got):\n%s", diff)
	}
}

// A damaged file or a bad value gives an error that names the file and the line, and the
// defaults, so that the caller can warn and carry on.
func TestLoadPrefsErrorsNameFileAndLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	for _, tc := range []struct{ text, want string }{
		{"units = \"bits\"\nprocess_sort = \"sent\n", path + ":2: "},                      // unterminated string
		{"# a\nunits = \"bits\"\n\ncumulative = yes\n", path + ":4: "},                    // not a value
		{"units = \"furlongs\"\n", path + `:1: units = "furlongs": want "bytes", "bits"`}, // out of range
		{"\n\nprocess_sort = \"pid\"\n", path + `:3: process_sort = "pid": want "total", "sent", "received"`},
		{"talker_sort = \"1m\"\n", path + `:1: talker_sort = "1m": want "2s", "10s", "40s", "total"`},
		{"units = 5\n", path + ":1: "},           // wrong type
		{"interval = \"soon\"\n", path + ":1: "}, // not a duration
		{"x = 1\ninterval = \"1ms\"\n", path + ":2: interval = 1ms: must be at least 10ms"},
	} {
		writeFile(t, path, tc.text)
		p, err := LoadPrefs(path)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to start with %q", tc.text, err, tc.want)
		}
		if diff := cmp.Diff(DefaultPrefs(), p); diff != "" {
			t.Errorf("%q: not the defaults on error (-want +got):\n%s", tc.text, diff)
		}
	}
}

func TestSavePrefsNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wiretop", "config.toml") // the directory does not exist yet
	p := DefaultPrefs()
	p.Units, p.PacketFilter = "bits", `host 198.18.0.1 and port "53"`
	if err := SavePrefs(path, p); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", di.Mode().Perm())
	}
	got, err := LoadPrefs(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	text, _ := os.ReadFile(path)
	for _, k := range prefsKeys { // a new file documents its keys
		if !strings.Contains(string(text), "# "+k.comment+"\n"+k.key+" = ") {
			t.Errorf("new file lacks the comment of %s:\n%s", k.key, text)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(m) != 0 {
		t.Errorf("temporary files left behind: %v", m)
	}
}

// Saving changes the preference lines only: other keys, tables and comments stay as they were.
func TestSavePrefsKeepsTheRestOfTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	orig := `# wiretop config, written by hand
interface = "eth1"   # the uplink
units = "bytes"      # will change

[metrics]
# where Prometheus scrapes
listen = "127.0.0.1:9813"
`
	writeFile(t, path, orig)
	p := DefaultPrefs()
	p.Units, p.Cumulative = "bits", true
	if err := SavePrefs(path, p); err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(path)
	want := `# wiretop config, written by hand
interface = "eth1"   # the uplink
units = "bits"
process_sort = "total"
cumulative = true
program_only = false
talker_sort = "2s"
interval = "1s"
packet_filter = ""

[metrics]
# where Prometheus scrapes
listen = "127.0.0.1:9813"
`
	if diff := cmp.Diff(want, string(text)); diff != "" {
		t.Errorf("saved file (-want +got):\n%s", diff)
	}
	// saving again changes the lines in place
	p.Units = "bytes"
	if err := SavePrefs(path, p); err != nil {
		t.Fatal(err)
	}
	text, _ = os.ReadFile(path)
	if got := strings.Replace(string(text), `units = "bytes"`, `units = "bits"`, 1); got != want {
		t.Errorf("second save:\n%s", text)
	}
}

// A preference written in a form that a line edit cannot replace (a multi-line string) is
// still saved, by re-encoding the file with all its keys.
func TestSavePrefsMultilineValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	writeFile(t, path, "packet_filter = \"\"\"\ntcp\n\"\"\"\ninterface = \"eth1\"\n[metrics]\nlisten = \"x\"\n")
	p := DefaultPrefs()
	p.PacketFilter = "udp"
	if err := SavePrefs(path, p); err != nil {
		t.Fatal(err)
	}
	got, err := LoadPrefs(path)
	if err != nil || got != p {
		t.Fatalf("got %+v, %v", got, err)
	}
	text, _ := os.ReadFile(path)
	for _, want := range []string{`interface = "eth1"`, "[metrics]", `listen = "x"`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("lost %q:\n%s", want, text)
		}
	}
}

func TestSavePrefsRefusesDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	damaged := "units = \"bits\"\ncumulative = = true\n[metrics]\n"
	writeFile(t, path, damaged)
	err := SavePrefs(path, DefaultPrefs())
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v, want one naming the file and line 2", err)
	}
	if text, _ := os.ReadFile(path); string(text) != damaged {
		t.Errorf("the damaged file was overwritten:\n%s", text)
	}
	bad := DefaultPrefs()
	bad.Units = "nibbles"
	if err := SavePrefs(filepath.Join(t.TempDir(), "c.toml"), bad); err == nil {
		t.Error("invalid preferences were saved")
	}
}

// Saves run in commands, which Bubble Tea may run in any order: an older save that runs
// after a newer one does not overwrite it.
func TestPrefsSaverKeepsTheNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	s := &prefsSaver{path: path}
	p1, p2 := DefaultPrefs(), DefaultPrefs()
	p1.Units, p2.Units = "bits", "bytes"
	c1, c2 := s.save(p1), s.save(p2)
	if msg, ok := c2().(prefsSavedMsg); !ok || msg.Err != nil {
		t.Fatalf("second save: %v", msg)
	}
	if msg := c1(); msg != nil {
		t.Errorf("the older save ran after the newer one: %v", msg)
	}
	if got, _ := LoadPrefs(path); got.Units != "bytes" {
		t.Errorf("units %q, want the newest, bytes", got.Units)
	}
	if (&prefsSaver{}).save(p1) != nil {
		t.Error("a saver without a path returned a command")
	}
}

package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recordSome makes a real history database at path with a few intervals of lo.
func recordSome(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command(wiretopBin, "--headless", "--no-capture", "-i", "lo", "--interval", "50ms", "--count", "5", "--db", path).CombinedOutput()
	if err != nil {
		t.Fatalf("record %s: %v\n%s", path, err, out)
	}
}

// holdLock keeps an exclusive lock on the database with sqlite3 until the test ends.
func holdLock(t *testing.T, path string) {
	t.Helper()
	requireTool(t, "sqlite3")
	cmd := exec.Command("sqlite3", path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	io.WriteString(in, "PRAGMA locking_mode = EXCLUSIVE;\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "locked") {
		if time.Now().After(deadline) {
			t.Fatalf("sqlite3 did not take the lock: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHistoryBadDatabases: wiretop history on a missing, locked, foreign, truncated,
// damaged or newer database prints one clear line and exits 1; a monitor given the same
// file runs on with a status note and leaves the file as it was (a damaged one is moved
// aside with its -wal and -shm, and a fresh one started).
func TestHistoryBadDatabases(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	recordSome(t, good)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notDB := write("text.db", []byte(strings.Repeat("not a database\n", 100)))
	truncated := write("truncated.db", data[:len(data)/2])
	damaged := write("damaged.db", append([]byte{}, data...))
	// garbage over every page after the first: the header reads, the b-trees do not
	f, _ := os.OpenFile(damaged, os.O_WRONLY, 0)
	f.WriteAt(bytes.Repeat([]byte{0xa5}, len(data)-4096), 4096)
	f.Close()
	newer := write("newer.db", data)
	requireTool(t, "sqlite3")
	if out, err := exec.Command("sqlite3", newer, "PRAGMA user_version = 99").CombinedOutput(); err != nil {
		t.Fatalf("sqlite3: %v %s", err, out)
	}
	locked := write("locked.db", data)
	holdLock(t, locked)

	for _, tc := range []struct {
		name, path, history, monitor string
		movedAside                   bool
	}{
		{"missing", filepath.Join(dir, "missing.db"), "no history database", "", false},
		{"not a database", notDB, "not a wiretop history database (not an SQLite file)", "history off: history " + notDB + ": not a wiretop history database", false},
		{"truncated", truncated, "the database is damaged", "was damaged: moved to " + truncated + ".corrupt-", true},
		{"damaged", damaged, "the database is damaged", "was damaged: moved to " + damaged + ".corrupt-", true},
		{"newer schema", newer, "written by a newer wiretop (schema 99, this wiretop knows 1)", "history off: history " + newer + ": the database was written by a newer wiretop", false},
		{"locked", locked, "the database is locked by another process", "history off: history " + locked + ": the database is locked by another process", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(tc.path)
			cmd := exec.Command(wiretopBin, "history", "--db", tc.path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("wiretop history: %v, want exit status 1", err)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "wiretop: history "+tc.path+": ") || !strings.Contains(lines[0], tc.history) {
				t.Errorf("stderr %q: want one line naming the file with %q", stderr.String(), tc.history)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
			if after, _ := os.ReadFile(tc.path); !bytes.Equal(before, after) {
				t.Errorf("wiretop history changed %s", tc.path)
			}
			if tc.monitor == "" {
				return
			}
			out, err := exec.Command(wiretopBin, "--headless", "--no-capture", "-i", "lo", "--interval", "50ms", "--count", "3", "--db", tc.path).Output()
			if err != nil {
				t.Fatalf("the monitor did not run on: %v", err)
			}
			if !strings.Contains(string(out), tc.monitor) {
				t.Errorf("the monitor's status does not say %q:\n%s", tc.monitor, lastLine(out))
			}
			if tc.movedAside {
				moved, _ := filepath.Glob(tc.path + ".corrupt-*")
				if len(moved) != 1 {
					t.Fatalf("moved aside: %v", moved)
				}
				if got, _ := os.ReadFile(moved[0]); !bytes.Equal(got, before) {
					t.Errorf("the file moved aside is not the damaged file")
				}
				if out, err := exec.Command(wiretopBin, "history", "--db", tc.path, "--json").CombinedOutput(); err != nil {
					t.Errorf("the fresh database does not read: %v %s", err, out)
				}
			} else if after, _ := os.ReadFile(tc.path); !bytes.Equal(before, after) {
				t.Errorf("the monitor changed %s", tc.path)
			}
		})
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

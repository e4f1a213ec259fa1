package main

import (
	"bytes"
	"encoding/json"
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

// TestHistoryGroupReader reads the database of a recorder that runs as the shipped unit
// runs it (a group of its own, 0750 state directory, 0640 files) as an ordinary user in
// that group, while it records and after it stopped; a user outside the group is refused
// with one clear line. The sysusers file of the unit creates its user and group.
func TestHistoryGroupReader(t *testing.T) {
	requireRoot(t)
	requireTool(t, "setpriv")
	const gid = "4242"
	base, err := os.MkdirTemp("/tmp", "wtgrp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	state := filepath.Join(base, "state") // what StateDirectory=wiretop with StateDirectoryMode=0750 makes
	if err := os.Mkdir(state, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, 0, 4242); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(state, "wiretop.db")
	d := startWiretop(t, []string{"setpriv", "--regid=" + gid, "--clear-groups", "--"}, "daemon", "--db", db, "--no-capture", "-i", "lo", "--interval", "100ms")
	time.Sleep(time.Second)
	for _, f := range []string{"", "-wal", "-shm"} {
		fi, err := os.Stat(db + f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", filepath.Base(db+f), fi.Mode().Perm())
		}
	}
	member := []string{"setpriv", "--reuid=65534", "--regid=65534", "--groups=" + gid, "--"}
	read := func(when string) {
		t.Helper()
		out, err := exec.Command(member[0], append(member[1:], wiretopBin, "history", "--db", db, "--5min", "--json", "-i", "lo")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"interface": "lo"`) {
			t.Errorf("%s: a member of the group cannot read the history: %v\n%s", when, err, out)
		}
	}
	read("while the daemon records")
	out, err := exec.Command(member[0], append(member[1:], wiretopBin, "--headless", "--no-capture", "-i", "lo", "--count", "2", "--interval", "50ms", "--db", db)...).Output()
	if err != nil || !strings.Contains(lastLine(out), "history: reading only") {
		t.Errorf("a member's monitor does not read the daemon's history: %v\n%s", err, lastLine(out))
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	d.wait(t, 10*time.Second)
	read("after the daemon stopped")
	outsider := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", wiretopBin, "history", "--db", db)
	msg, err := outsider.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "permission denied") || strings.Count(strings.TrimSpace(string(msg)), "\n") != 0 {
		t.Errorf("a user outside the group: %v %q, want one line saying permission denied", err, msg)
	}

	requireTool(t, "systemd-sysusers")
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "etc"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/lib/sysusers.d"), 0o755)
	conf, err := os.ReadFile("deploy/systemd/wiretop.sysusers.conf")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "usr/lib/sysusers.d/wiretop.conf"), conf, 0o644)
	if out, err := exec.Command("systemd-sysusers", "--root="+root).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	for _, f := range []string{"passwd", "group"} {
		if data, _ := os.ReadFile(filepath.Join(root, "etc", f)); !strings.Contains(string(data), "wiretop:x:") {
			t.Errorf("systemd-sysusers made no wiretop entry in /etc/%s", f)
		}
	}
}

// withoutClock is a `wiretop history --json` report without what depends on the moment it
// ran: "generated", and "estimates" (today's bytes over the part of the day gone by, which
// moves between two runs whenever an interface moved bytes while the recorder ran).
func withoutClock(t *testing.T, report []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(report, &m); err != nil {
		return report // the comparison shows it
	}
	delete(m, "generated")
	delete(m, "estimates")
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHistoryReadOnlyFS: a history on a read-only file system (a tmpfs mounted read-only)
// is read by `wiretop history`, and a monitor given it keeps monitoring and says it only
// reads; a monitor given a path there with no database says in one status note that
// history is off and why. Nothing on the mount changes.
func TestHistoryReadOnlyFS(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "ro")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	must(t, "mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt)
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	db := filepath.Join(mnt, "h.db")
	recordSome(t, db)
	want, err := exec.Command(wiretopBin, "history", "--db", db, "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	must(t, "mount", "-o", "remount,ro", mnt)
	if err := os.WriteFile(filepath.Join(mnt, "probe"), nil, 0o600); err == nil {
		t.Fatal("the mount is writable")
	}
	before, _ := exec.Command("ls", "-l", "--time-style=full-iso", mnt).Output()

	got, err := exec.Command(wiretopBin, "history", "--db", db, "--json").CombinedOutput()
	if err != nil || !bytes.Equal(withoutClock(t, got), withoutClock(t, want)) {
		t.Errorf("wiretop history on the read-only mount: %v\n%s\nwant\n%s", err, got, want)
	}
	for _, c := range []struct{ path, note string }{
		{db, "history: reading only (this user cannot write " + db + ")"},
		{filepath.Join(mnt, "none.db"), "history off: history " + filepath.Join(mnt, "none.db") + ": "},
	} {
		out, err := exec.Command(wiretopBin, "--headless", "--no-capture", "-i", "lo", "--interval", "50ms", "--count", "3", "--db", c.path).Output()
		if err != nil {
			t.Fatalf("the monitor did not run with --db %s: %v", c.path, err)
		}
		if !strings.Contains(string(out), c.note) {
			t.Errorf("the monitor's status does not say %q:\n%s", c.note, lastLine(out))
		}
		if i := strings.Index(string(out), c.note); i >= 0 {
			note, _, _ := strings.Cut(string(out[i:]), `"`)
			t.Logf("--db %s: %s", c.path, note)
		}
	}
	out, _ := exec.Command(wiretopBin, "history", "--db", filepath.Join(mnt, "none.db")).CombinedOutput()
	t.Logf("wiretop history --db %s: %s", filepath.Join(mnt, "none.db"), strings.TrimSpace(string(out)))
	if after, _ := exec.Command("ls", "-l", "--time-style=full-iso", mnt).Output(); !bytes.Equal(before, after) {
		t.Errorf("the read-only mount changed:\n%s\n%s", before, after)
	}
}

